"""The full MIT-BIH Arrhythmia Database for `make bench-mitdb`, checked and, where files are missing,
downloaded from PhysioNet with wfdb.

The bench needs every record of the inter-patient protocol (de Chazal et al. 2004: 22 DS1 and 22 DS2
records; the four paced ones are fetched too, as the database has them): its signal (.dat), header
(.hea) and reference beat annotations (.atr). A folder missing any of them would quietly change the
protocol, so the check lists what is missing and the bench refuses to start without it.

    python -m benchmarks.fetch_mitdb FOLDER        (about 100 MB; PhysioNet's ODC-By licence)
    python -m benchmarks.fetch_mitdb FOLDER --physionet https://mirror.example/   (a PhysioNet mirror)

Files arrive in a staging folder inside FOLDER and are moved into place only once wfdb has fetched them
all: an interrupted download leaves no truncated signal behind that the check would take for complete.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from feature_store.sources.splits import mitdb_table

SUFFIXES = (".hea", ".dat", ".atr")
PHYSIONET_DB = "mitdb"
PHYSIONET = "https://physionet.org/"  # its content/ pages name the version, files/ holds the records
STAGING = ".partial"


def missing(folder: Path) -> dict[str, list[str]]:
    """record -> its missing files (by suffix), for every MIT-BIH record in the split table."""
    gaps = {r: [s for s in SUFFIXES if not (folder / f"{r}{s}").is_file()] for r in sorted(mitdb_table())}
    return {r: s for r, s in gaps.items() if s}


def fetch(folder: Path, records: list[str], physionet: str = PHYSIONET) -> None:
    """Download `records` (signal, header, annotations) from the PhysioNet at `physionet` into `folder`."""
    import wfdb  # only a download needs it here

    staging = folder / STAGING
    shutil.rmtree(staging, ignore_errors=True)  # what an interrupted download left
    staging.mkdir(parents=True)
    with _physionet_at(physionet):
        wfdb.dl_database(PHYSIONET_DB, str(staging), records=records, annotators=["atr"])
    for file in staging.iterdir():
        file.replace(folder / file.name)
    staging.rmdir()


@contextmanager
def _physionet_at(url: str) -> Iterator[None]:
    """wfdb's PhysioNet addresses pointed at `url` for a while: `dl_database` reads the version from the
    module's content URL and the files from its configured index, and takes no address of its own."""
    from wfdb.io import download

    base = url.rstrip("/") + "/"
    before = download.PN_CONTENT_URL, download.config.db_index_url
    download.PN_CONTENT_URL, download.config.db_index_url = f"{base}content/", f"{base}files/"
    try:
        yield
    finally:
        download.PN_CONTENT_URL, download.config.db_index_url = before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--check", action="store_true", help="only check; download nothing")
    parser.add_argument("--physionet", default=PHYSIONET, help="PhysioNet or a mirror of its layout (content/, files/)")
    args = parser.parse_args()
    gaps = missing(args.folder)
    if gaps and not args.check:
        print(f"downloading {len(gaps)} MIT-BIH records from PhysioNet into {args.folder} ...", flush=True)
        try:
            fetch(args.folder, list(gaps), args.physionet)
        # network, proxy, PhysioNet down (requests errors are OSErrors); a server without the database's
        # annotation list (wfdb raises ValueError): say what to do
        except (OSError, ValueError) as e:
            sys.exit(
                f"download from {args.physionet} failed ({type(e).__name__}: {e}); fetch "
                f"https://physionet.org/content/mitdb/ by hand into {args.folder}, name a mirror with "
                "PHYSIONET=, or point MITDB= at a copy"
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
