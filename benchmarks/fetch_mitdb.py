"""The full MIT-BIH Arrhythmia Database for `make bench-mitdb`, checked and, where files are missing,
downloaded from PhysioNet with wfdb.

The bench needs every record of the inter-patient protocol (de Chazal et al. 2004: 22 DS1 and 22 DS2
records; the four paced ones are fetched too, as the database has them): its signal (.dat), header
(.hea) and reference beat annotations (.atr). A folder missing any of them would quietly change the
protocol, so the check lists what is missing and the bench refuses to start without it.

    python -m benchmarks.fetch_mitdb FOLDER        (about 100 MB; PhysioNet's ODC-By licence)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from feature_store.sources.splits import mitdb_table

SUFFIXES = (".hea", ".dat", ".atr")
PHYSIONET_DB = "mitdb"


def missing(folder: Path) -> dict[str, list[str]]:
    """record -> its missing files (by suffix), for every MIT-BIH record in the split table."""
    gaps = {r: [s for s in SUFFIXES if not (folder / f"{r}{s}").is_file()] for r in sorted(mitdb_table())}
    return {r: s for r, s in gaps.items() if s}


def fetch(folder: Path, records: list[str]) -> None:
    import wfdb  # only a download needs it here

    folder.mkdir(parents=True, exist_ok=True)
    wfdb.dl_database(PHYSIONET_DB, str(folder), records=records, annotators=["atr"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--check", action="store_true", help="only check; download nothing")
    args = parser.parse_args()
    gaps = missing(args.folder)
    if gaps and not args.check:
        print(f"downloading {len(gaps)} MIT-BIH records from PhysioNet into {args.folder} ...", flush=True)
        try:
            fetch(args.folder, list(gaps))
        except OSError as e:  # network, proxy, PhysioNet down (requests errors are OSErrors): say what to do
            sys.exit(
                f"download failed ({type(e).__name__}: {e}); fetch https://physionet.org/content/mitdb/ "
                f"by hand into {args.folder}, or point MITDB= at a copy"
            )
        gaps = missing(args.folder)
    if gaps:
        listed = ", ".join(f"{r} ({'/'.join(s)})" for r, s in list(gaps.items())[:8])
        more = f" and {len(gaps) - 8} more" if len(gaps) > 8 else ""
        sys.exit(
            f"MIT-BIH at {args.folder} lacks {len(gaps)} records' files: {listed}{more}; "
            "run `make mitdb` to download them, or point MITDB= at a complete copy"
        )
    print(f"MIT-BIH at {args.folder}: all {len(mitdb_table())} records complete")


if __name__ == "__main__":
    main()
