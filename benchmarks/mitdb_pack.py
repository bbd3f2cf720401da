"""A lossless, compact copy of a WFDB database, to take the full MIT-BIH to a machine without it.

The lent GPU machines accept at most 64 MiB of files per call, the repository included; the
MIT-BIH signal files are 90 MB. Packing stores each record's samples as bz2-compressed first
differences (ECG changes slowly, so differences are small and compress ~2.5x), beside its own
`.hea` and `.atr` files. Unpacking writes the signal file again with `wfdb.wrsamp` in the record's
own format and checks it byte for byte (SHA-256) against the original, so the benchmark there reads
exactly the published database through the same ingest code.

    python3 -m benchmarks.mitdb_pack pack   SRC_FOLDER PACK_FOLDER [--skip 102,104,107,217]
    python3 -m benchmarks.mitdb_pack unpack PACK_FOLDER OUT_FOLDER
"""

from __future__ import annotations

import argparse
import bz2
import hashlib
import json
import shutil
from collections.abc import Set as AbstractSet
from pathlib import Path

import numpy as np
import wfdb

MANIFEST = "manifest.json"
COPIED = (".hea", ".atr")  # small files travel as they are


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pack_record(record: Path, dest: Path) -> dict:
    """Write `<name>.diff.bz2` and copies of the header and annotations; returns its manifest entry."""
    rec = wfdb.rdrecord(str(record), physical=False)
    files = sorted(set(rec.file_name))
    if len(files) != 1:
        raise ValueError(
            f"{record}: signals in {len(files)} files ({files}); fix: pack only single-file records (MIT-BIH style)"
        )
    digital = rec.d_signal.astype(np.int64)
    diffs = np.diff(digital, axis=0, prepend=0)
    # 12-bit formats (212, MIT-BIH) step by at most 4095: int16 halves what bz2 has to squeeze
    dtype = next(t for t in ("int16", "int32", "int64") if np.abs(diffs).max() <= np.iinfo(t).max)
    (dest / f"{record.name}.diff.bz2").write_bytes(bz2.compress(diffs.astype(dtype).T.tobytes(), 9))
    for suffix in COPIED:
        src = record.with_name(record.name + suffix)
        if src.is_file():
            shutil.copyfile(src, dest / src.name)
    return {
        "signal_file": files[0],
        "sha256": _sha256(record.parent / files[0]),
        "dtype": dtype,
        "samples": int(digital.shape[0]),
        "leads": int(digital.shape[1]),
        "fmt": list(rec.fmt),
        "fs": float(rec.fs),
        "units": list(rec.units),
        "sig_name": list(rec.sig_name),
        "adc_gain": [float(g) for g in rec.adc_gain],
        "baseline": [int(b) for b in rec.baseline],
    }


def unpack_record(name: str, entry: dict, pack: Path, out: Path) -> None:
    """Write the record's signal file again and check it against the original's SHA-256."""
    raw = bz2.decompress((pack / f"{name}.diff.bz2").read_bytes())
    diffs = np.frombuffer(raw, dtype=entry["dtype"]).reshape(entry["leads"], entry["samples"]).T
    digital = np.cumsum(diffs, axis=0, dtype=np.int64)
    stem = Path(entry["signal_file"]).stem
    wfdb.wrsamp(
        stem,
        fs=entry["fs"],
        units=entry["units"],
        sig_name=entry["sig_name"],
        d_signal=digital,
        fmt=entry["fmt"],
        adc_gain=entry["adc_gain"],
        baseline=entry["baseline"],
        write_dir=str(out),
    )
    for suffix in COPIED:  # the original header (comments, checksums) replaces wrsamp's
        src = pack / f"{name}{suffix}"
        if src.is_file():
            shutil.copyfile(src, out / src.name)
    written = out / entry["signal_file"]
    if _sha256(written) != entry["sha256"]:
        raise ValueError(
            f"{written}: unpacked signal differs from the packed original; fix: pack "
            f"{name} again from the source database"
        )


def pack(src: Path, dest: Path, skip: AbstractSet[str] = frozenset()) -> dict:
    dest.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for hea in sorted(src.glob("*.hea")):
        if hea.stem not in skip:
            manifest[hea.stem] = pack_record(hea.with_suffix(""), dest)
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def unpack(pack_dir: Path, out: Path) -> list[str]:
    manifest = json.loads((pack_dir / MANIFEST).read_text())
    out.mkdir(parents=True, exist_ok=True)
    for name, entry in manifest.items():
        unpack_record(name, entry, pack_dir, out)
    return list(manifest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("pack")
    p.add_argument("src", type=Path)
    p.add_argument("dest", type=Path)
    p.add_argument("--skip", default="", help="comma-separated record names to leave out")
    u = sub.add_parser("unpack")
    u.add_argument("pack", type=Path)
    u.add_argument("out", type=Path)
    args = parser.parse_args()
    if args.verb == "pack":
        manifest = pack(args.src, args.dest, {s for s in args.skip.split(",") if s})
        size = sum(f.stat().st_size for f in args.dest.iterdir())
        print(f"packed {len(manifest)} records from {args.src} into {args.dest} ({size / 1e6:.1f} MB)")
    else:
        names = unpack(args.pack, args.out)
        print(f"unpacked {len(names)} records into {args.out}; every signal file matches its SHA-256")


if __name__ == "__main__":
    main()
