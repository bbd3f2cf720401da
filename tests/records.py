"""Helpers that build test folders from the real bundled records (copies, renames, breakages)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import wfdb

from benchmarks.tiles import copy_record, write_edf  # noqa: F401 (tests import it from here)
from feature_store.workspace import SAMPLE_DATA

MITDB = SAMPLE_DATA / "mitdb"
CINC = SAMPLE_DATA / "cinc2021"
PTB = SAMPLE_DATA / "ptb-diagnostic" / "patient001"  # PhysioNet's layout: a folder a patient
PTBXL_META = SAMPLE_DATA / "ptbxl-meta"
CPSC2021 = SAMPLE_DATA / "cpsc2021"
CINC2017 = SAMPLE_DATA / "cinc2017"
TEST_DATA = Path(__file__).parent / "data"  # files tests need beyond the bundled sample


def edit_header(record: Path, old: str, new: str) -> None:
    hea = record.with_name(record.name + ".hea")
    text = hea.read_text()
    assert old in text, f"{old!r} not in {hea}"
    hea.write_text(text.replace(old, new, 1))


def rewrite_signal(src: Path, dst_dir: Path, name: str, change, leads: list[int] | None = None) -> Path:
    """Write a real record again (format 16) after `change(p_signal)` edits its samples in place,
    keeping the signals at positions `leads` in that order (all, unchanged, by default)."""
    record = wfdb.rdrecord(str(src))
    signal = record.p_signal.copy()
    change(signal)
    leads = list(range(signal.shape[1])) if leads is None else leads
    signal = np.ascontiguousarray(signal[:, leads])
    dst_dir.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(
        name,
        fs=record.fs,
        units=[record.units[i] for i in leads],
        sig_name=[record.sig_name[i] for i in leads],
        p_signal=signal,
        fmt=["16"] * signal.shape[1],
        adc_gain=[1000.0] * signal.shape[1],
        baseline=[0] * signal.shape[1],
        comments=record.comments,
        write_dir=str(dst_dir),
    )
    atr = src.with_name(src.name + ".atr")
    if atr.is_file():  # keep the beat annotations with the re-written signal
        shutil.copyfile(atr, dst_dir / f"{name}.atr")
    return dst_dir / name


def ptbxl_folder(root: Path, ecg_ids: range = range(6000, 6010)) -> Path:
    """A PTB-XL-layout folder: the real PTB-XL table rows of the Challenge's HR records.

    records500/ holds the HR records as released (500 Hz); records100/ holds them resampled
    to 100 Hz, as PTB-XL's own records100 are.
    """
    from scipy.signal import resample_poly

    root.mkdir(parents=True, exist_ok=True)
    rows = (PTBXL_META / "ptbxl_database_06000-06009.csv").read_text().splitlines()
    kept = [r for r in rows[1:] if int(r.split(",")[0]) in ecg_ids]
    (root / "ptbxl_database.csv").write_text("\n".join(rows[:1] + kept) + "\n")
    shutil.copyfile(PTBXL_META / "scp_statements.csv", root / "scp_statements.csv")
    for ecg_id in ecg_ids:
        src = CINC / f"HR{ecg_id:05d}"
        copy_record(src, root / "records500" / "06000", f"{ecg_id:05d}_hr")
        rec = wfdb.rdrecord(str(src))
        low = resample_poly(rec.p_signal, 1, 5, axis=0)
        out = root / "records100" / "06000"
        out.mkdir(parents=True, exist_ok=True)
        wfdb.wrsamp(
            f"{ecg_id:05d}_lr",
            fs=100,
            units=rec.units,
            sig_name=rec.sig_name,
            p_signal=low,
            fmt=["16"] * low.shape[1],
            adc_gain=[1000.0] * low.shape[1],
            baseline=[0] * low.shape[1],
            write_dir=str(out),
        )
    return root


def annotation_beats(record: Path) -> list[str]:
    """AAMI classes of every beat annotation in the record's .atr, straight from wfdb."""
    from feature_store.sources.annotated import AAMI

    ann = wfdb.rdann(str(record), "atr")
    return [AAMI[s] for s in ann.symbol if s in AAMI]


def afdb_layout(src: Path, dst_dir: Path, name: str, notes: dict[str, str] | None = None) -> Path:
    """A real beat- and rhythm-annotated record (CPSC 2021) in the MIT-BIH AF Database's layout: its
    `.atr` holds the rhythm changes only (AFDB's beats are in an unlabelled `.qrs`) and its header no
    rhythm statement. `notes` renames rhythm codes (`{"(AFIB": "(SBR"}`)."""
    record = copy_record(src, dst_dir, name)
    hea = record.with_name(name + ".hea")
    hea.write_text("".join(line for line in hea.read_text().splitlines(keepends=True) if not line.startswith("#")))
    ann = wfdb.rdann(str(src), "atr")
    rhythm = [i for i, s in enumerate(ann.symbol) if s == "+"]
    record.with_name(name + ".atr").unlink()
    wfdb.wrann(
        name,
        "atr",
        ann.sample[rhythm],
        symbol=["+"] * len(rhythm),
        aux_note=[(notes or {}).get(ann.aux_note[i], ann.aux_note[i]) for i in rhythm],
        fs=ann.fs,
        write_dir=str(dst_dir),
    )
    return record
