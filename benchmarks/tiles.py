"""Copies of real WFDB records under new names, for scaling benchmarks and tests: the header rewritten
with the new name, every other file hard-linked (copied where links cannot be made); and copies written
as EDF, as a recorder exports them."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import numpy as np


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


def write_edf(
    src: Path,
    dst_dir: Path,
    name: str,
    *,
    atr: bool = False,
    units: str = "mV",
    labels: list[str] | None = None,
    fs: float | None = None,
    start: dt.datetime | None = None,
) -> Path:
    """A real record written again as EDF, as a recorder's export would be: the same digital values, each
    signal's physical range from its header's gain and baseline (EDF writes it in 8 characters, so values
    agree to about 1e-4 mV), cut to whole seconds (one-second data records). `atr`: its beat annotations
    beside it; `labels`: the signals named so (the header's names by default); `fs`: the rate the file
    declares, where a test needs a wrong one; `start`: when the recording began. Returns the record path
    (without extension)."""
    import edfio
    import wfdb

    record = wfdb.rdrecord(str(src), physical=False)
    rate, scale = int(fs or record.fs), {"mV": 1.0, "uV": 1000.0}[units]
    frames = len(record.d_signal) // rate * rate
    signals = [
        edfio.EdfSignal.from_digital(
            record.d_signal[:frames, i].astype(np.int16),
            rate,
            label=name_,
            physical_dimension=units,
            physical_range=tuple(scale * (d - record.baseline[i]) / record.adc_gain[i] for d in (-32768, 32767)),
            digital_range=(-32768, 32767),
        )
        for i, name_ in enumerate(labels or record.sig_name)
    ]
    dst_dir.mkdir(parents=True, exist_ok=True)
    # when the recording began, as a recorder writes it (EDF+ may leave the date anonymous, as here by default)
    recording = None if start is None else edfio.Recording(startdate=start.date())
    starttime = None if start is None else start.time()
    edf = edfio.Edf(signals, data_record_duration=1.0, recording=recording, starttime=starttime)
    edf.write(dst_dir / f"{name}.edf")
    if atr:  # the annotations of the stretch written, as an export of it would hold
        ann = wfdb.rdann(str(src), "atr")
        kept = ann.sample < frames
        wfdb.wrann(
            name,
            "atr",
            ann.sample[kept],
            symbol=[s for s, k in zip(ann.symbol, kept) if k],
            subtype=ann.subtype[kept],
            chan=ann.chan[kept],
            num=ann.num[kept],
            aux_note=[a for a, k in zip(ann.aux_note, kept) if k],
            fs=record.fs,
            write_dir=str(dst_dir),
        )
    return dst_dir / name
