"""The full MIT-BIH Arrhythmia Database for `make bench-mitdb`, checked and, where files are missing,
downloaded from PhysioNet with wfdb.

The bench needs every record of the inter-patient protocol (de Chazal et al. 2004: 22 DS1 and 22 DS2
records; the four paced ones are fetched too, as the database has them): its signal (.dat), header
(.hea) and reference beat annotations (.atr). A folder missing any of them would quietly change the
protocol, so the check lists what is missing and the bench refuses to start without it.

    python -m benchmarks.fetch_mitdb FOLDER        (about 100 MB; PhysioNet's ODC-By licence)
    python -m benchmarks.fetch_mitdb FOLDER --physionet https://mirror.example/   (a PhysioNet mirror)

Files arrive in a staging folder inside FOLDER and are moved into place only once wfdb has fetched them
all and every signal file has the size its header implies: an interrupted download leaves no truncated
signal behind that the check would take for complete.

wfdb's `dl_database` is not used: it lists a signal file once per signal stored in it (209.dat twice for
MIT-BIH's two leads) and its two download threads then race on the same file; when one finds the file
the other is still writing, it "resumes" it by appending, and the signal doubles (seen on this
machine: 2 of 80 downloads of 209 and 220 from a local mirror came out at 3,900,000 bytes).
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
        from wfdb.io import download

        db_dir = f"{PHYSIONET_DB}/{download.get_version(PHYSIONET_DB)}"
        download.get_annotators(db_dir, ["atr"])  # raises ValueError where the server lists none
        files: list[str] = []
        for record in records:
            header = wfdb.rdheader(record, pn_dir=db_dir)
            files += [f"{record}.hea", *dict.fromkeys(header.file_name or []), f"{record}.atr"]
        wfdb.dl_files(PHYSIONET_DB, str(staging), files)
    for record in records:
        _check_signal_sizes(staging, record)
    for file in staging.iterdir():
        file.replace(folder / file.name)
    staging.rmdir()


def _check_signal_sizes(folder: Path, record: str) -> None:
    """Each signal file of `record` under `folder` holds exactly the frames its header names; raises
    OSError naming the file where not (a truncated or doubled download). Ingest takes a longer file (it
    reads the header's length); a download must match it."""
    import wfdb

    from feature_store.sources.wfdb_record import expected_bytes, signal_files

    header = wfdb.rdheader(str(folder / record))
    if not header.sig_len or not header.file_name:
        return  # the length comes from the file itself: nothing to hold it against
    for name, fmt, count, offset in signal_files(header):
        expected = expected_bytes(fmt, count * header.sig_len, offset)
        got = (folder / name).stat().st_size
        if expected is not None and got != expected:
            raise OSError(f"{name}: downloaded {got:,} bytes where its header names {expected:,}; download it again")


@contextmanager
def _physionet_at(url: str) -> Iterator[None]:
    """wfdb's PhysioNet addresses pointed at `url` for a while: wfdb reads the version from the
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
