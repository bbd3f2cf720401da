"""Copies of real WFDB records under new names, for scaling benchmarks and tests: the header rewritten
with the new name, every other file hard-linked (copied where links cannot be made)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def renamed_header(text: str, old: str, new: str) -> str:
    """Rename the record on the header's first line and in each signal line's file name."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        fields = line.split(" ")
        if line.startswith("#") or not fields[0]:
            continue
        if i == 0:
            fields[0] = new
        elif fields[0].startswith(old + "."):
            fields[0] = new + fields[0][len(old) :]
        lines[i] = " ".join(fields)
    return "\n".join(lines) + "\n"


def copy_record(src: Path, dst_dir: Path, name: str | None = None, *, link: bool = False) -> Path:
    """Copy a WFDB record (all its files) into `dst_dir`, renamed to `name` in file names and header;
    `link`: hard-link the files other than the header instead of copying them."""
    name = name or src.name
    dst_dir.mkdir(parents=True, exist_ok=True)
    for file in src.parent.glob(src.name + ".*"):
        target = dst_dir / (name + file.suffix)
        if file.suffix == ".hea":
            target.write_text(renamed_header(file.read_text(), src.name, name))
        elif link:
            try:
                os.link(file, target)
            except OSError:  # another file system
                shutil.copyfile(file, target)
        else:
            shutil.copyfile(file, target)
        target.chmod(0o644)
    return dst_dir / name


def tile(folder: Path, factor: int, dst: Path, skip: tuple[str, ...] = ()) -> int:
    """Every beat-annotated record of `folder` but `skip` `factor` times into `dst`: the originals, then
    copies named <record>c<k>; returns the records written."""
    records = sorted(
        h.with_suffix("") for h in folder.glob("*.hea") if h.with_suffix(".atr").is_file() and h.stem not in skip
    )
    for record in records:
        for k in range(factor):
            copy_record(record, dst, record.name if k == 0 else f"{record.name}c{k}", link=True)
    return len(records) * factor
