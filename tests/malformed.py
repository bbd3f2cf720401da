"""Malformed records, each built from a real bundled record by a `maker(folder)`, with the reason code
ingest must quarantine it with: the broken records of tests/test_quarantine.py, the hostile files of
tests/test_hostile_files.py and the wider corpus of tests/malformed_corpus.py.

No binary fixture and no synthetic ECG: every bad record is a real one with its header, signal file,
annotations or table row damaged the way careless copies, editors and tools damage them.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wfdb
from scipy.io import loadmat, savemat

from feature_store.sources.annotated import AAMI
from tests.records import CINC, MITDB, PTBXL_META, SAMPLE_DATA, copy_record, edit_header, rewrite_signal

CINC2017 = SAMPLE_DATA / "cinc2017"
Maker = Callable[[Path], object]


# --- tests/test_quarantine.py: broken copies of MIT-BIH 100 ---


def truncate(record: Path, keep: float = 0.5) -> None:
    """Cut the record's .dat to `keep` of its bytes, as an interrupted download leaves it."""
    dat = record.with_name(record.name + ".dat")
    data = dat.read_bytes()
    dat.write_bytes(data[: int(len(data) * keep)])


def _missing_dat(folder):
    copy_record(MITDB / "100", folder, "nodat").with_name("nodat.dat").unlink()


def _garbage_header(folder):
    copy_record(MITDB / "100", folder, "junk").with_name("junk.hea").write_text("junk two\nnot a line\n")


def _header_edit(name: str, old: str, new: str):
    return lambda folder: edit_header(copy_record(MITDB / "100", folder, name), old, new)


def _signal_edit(name: str, change):
    return lambda folder: rewrite_signal(MITDB / "100", folder, name, change)


def _rename_leads(record):
    edit_header(record, " MLII", " FOO")
    edit_header(record, " V5", " BAR")


def _set_nan(s):
    # both leads drop out for 0.2 s every 1.5 s, the whole record: no 2 s beat window is clear of them in
    # any lead (where another lead is clear, the beats land marked: tests/test_dropouts.py)
    for start in range(0, len(s), 540):
        s[start : start + 72, :] = np.nan


def _set_flat(s):
    # every lead: one flat lead is left out and the record lands (tests/test_quarantine.py)
    s[:, :] = 0.2


# breakage -> (record name, expected reason code, how to make it from real record 100)
BREAKAGES = {
    "truncated_dat": ("trunc", "length_mismatch", lambda f: truncate(copy_record(MITDB / "100", f, "trunc"))),
    "header_longer": ("long", "length_mismatch", _header_edit("long", "360 650000", "360 700000")),
    "missing_dat": ("nodat", "missing_signal_file", _missing_dat),
    "bad_gain": ("gain", "bad_gain", _header_edit("gain", "986.3720073664825(631)/mV", "abc/mV")),
    "nan": ("nan", "no_beats", _signal_edit("nan", _set_nan)),
    "flat": ("flat", "flat_lead", _signal_edit("flat", _set_flat)),
    "unknown_fs": ("fs", "unknown_fs", _header_edit("fs", "2 360 650000", "2 123 650000")),
    "zero_samples": ("zero", "zero_samples", _header_edit("zero", "360 650000", "360 0")),
    "unknown_lead": ("lead", "unknown_lead", lambda f: _rename_leads(copy_record(MITDB / "100", f, "lead"))),
    "duplicate_lead": ("twice", "duplicate_lead", _header_edit("twice", " V5", " MLII")),
    "gain_zero": ("zero_gain", "bad_gain", _header_edit("zero_gain", "986.3720073664825(631)/mV", "0(631)/mV")),
    "baseline": ("base", "implausible_amplitude", _header_edit("base", "(631)/mV", "(2147483647)/mV")),
    "units": ("micro", "implausible_amplitude", _header_edit("micro", "(631)/mV 12 0 488", "(631)/V 12 0 488")),
    "too_short": ("short", "too_short", _header_edit("short", "360 650000", "360 10")),
    # a beat record over the size limit is read in windows (tests/test_long_records.py): the first
    # window finds the signal file far shorter than the header says, before anything is allocated
    "too_long": ("huge", "length_mismatch", _header_edit("huge", "360 650000", "360 65000000000")),
    "garbage_header": ("junk", "header_unreadable", _garbage_header),
}


# --- tests/test_hostile_files.py: files no careful reader opens ---


def _header(folder, name: str, text: str) -> None:
    (folder / f"{name}.hea").write_text(text)


def _emptied(record, suffix: str) -> None:
    record.with_name(record.name + suffix).write_bytes(b"")


def _linked_signal(folder, name: str, target: str) -> None:
    rec = copy_record(MITDB / "100", folder, name)
    dat = rec.with_name(f"{name}.dat")
    dat.unlink()
    dat.symlink_to(target)


# name -> (expected code, how to make it beside the good records)
HOSTILE = {
    "dir": ("not_a_file", lambda f: (f / "dir.hea").mkdir()),
    "loop": ("not_a_file", lambda f: (f / "loop.hea").symlink_to(f / "loop.hea")),
    "dangling": ("not_a_file", lambda f: (f / "dangling.hea").symlink_to(f / "nowhere.hea")),
    "fifo": ("not_a_file", lambda f: os.mkfifo(f / "fifo.hea")),
    "zero": ("not_a_file", lambda f: _linked_signal(f, "zero", "/dev/zero")),
    "passwd": ("outside_folder", lambda f: _linked_signal(f, "passwd", "/etc/passwd")),
    "fmt999": ("unknown_format", lambda f: edit_header(copy_record(MITDB / "100", f, "fmt999"), " 212 ", " 999 ")),
    "nosig": ("no_signals", lambda f: _header(f, "nosig", "nosig 0 360 650000\n")),
    "emptyatr": ("no_beats", lambda f: _emptied(copy_record(MITDB / "100", f, "emptyatr"), ".atr")),
}
# the kind each hostile file is discovered as: a header that is no regular file reads as plain WFDB
HOSTILE_KINDS = {"zero": "annotated", "passwd": "annotated", "fmt999": "annotated", "emptyatr": "annotated"}


# --- the corpus: tests/malformed_corpus.py ---


@dataclass(frozen=True)
class Case:
    """One malformed record: where ingest finds it, the kind that reads it and the code it must get."""

    record: str  # the bad record's path relative to the data folder, as quarantine names it
    code: str  # expected reason_code (README, "Validation and quarantine")
    kind: str  # source kind that reads and quarantines it
    make: Maker  # writes the bad record into the data folder, beside the good ones
    lands: tuple[str, ...] = ()  # good records the maker adds beside it (the first of two with one id)


def _header_text(record: Path, change: Callable[[str], str]) -> None:
    hea = record.with_name(record.name + ".hea")
    hea.write_text(change(hea.read_text()))


def _everywhere(old: str, new: str) -> Callable[[str], str]:
    """Replace on every line: a field each signal line repeats (format, units, file name)."""

    def change(text: str) -> str:
        assert old in text, f"{old!r} not in the header"
        return text.replace(old, new)

    return change


def _edited(src: Path, name: str, *pairs: tuple[str, str], every: bool = False) -> Maker:
    """A copy of `src` named `name` with its header text replaced, once per pair or (`every`) on every line."""

    def make(folder: Path) -> None:
        record = copy_record(src, folder, name)
        for old, new in pairs:
            if every:
                _header_text(record, _everywhere(old, new))
            else:
                edit_header(record, old, new)

    return make


def _mit(name: str, *pairs: tuple[str, str], every: bool = False) -> Maker:
    return _edited(MITDB / "100", name, *pairs, every=every)


def _damaged(name: str, suffix: str, damage: Callable[[Path], object], src: Path = MITDB / "100") -> Maker:
    """A copy of `src` whose file `suffix` (.hea, .dat, .atr, .mat) is then damaged in place."""

    def make(folder: Path) -> None:
        record = copy_record(src, folder, name)
        damage(record.with_name(name + suffix))

    return make


def _cut_to(size: int) -> Callable[[Path], None]:
    """An interrupted copy: the file's first `size` bytes."""

    def cut(file: Path) -> None:
        file.write_bytes(file.read_bytes()[:size])

    return cut


def _as_doubles(file: Path) -> None:
    """The record's matrix saved as MATLAB saves by default: doubles (what `save -v4` writes)."""
    values = loadmat(file)["val"]
    savemat(file, {"val": values.astype(np.float64)}, format="4")


def _transposed(file: Path) -> None:
    """The record's matrix saved as samples x leads (one row per sample), same type and size."""
    values = loadmat(file)["val"]
    savemat(file, {"val": np.ascontiguousarray(values.T).astype(np.int16)}, format="4")


def _halved(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


def _overwritten(data: Callable[[Path], bytes]) -> Callable[[Path], None]:
    def overwrite(file: Path) -> None:
        file.write_bytes(data(file))

    return overwrite


def _noise(size: int, seed: int = 0) -> bytes:
    """Fixed random bytes: a file overwritten by something that is no WFDB at all."""
    return np.random.default_rng(seed).bytes(size)


def _as_dir(file: Path) -> None:
    file.unlink()
    file.mkdir()


def _socket_at(file: Path) -> None:
    """A Unix socket where a record file should be: `stat` finds it, `open` fails."""
    file.unlink(missing_ok=True)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(file))


def _fifo_at(file: Path) -> None:
    file.unlink()
    os.mkfifo(file)


def _linked_to(target: str | Path) -> Callable[[Path], None]:
    def link(file: Path) -> None:
        file.unlink(missing_ok=True)
        file.symlink_to(target)

    return link


def _zeroed(file: Path) -> None:
    """A signal file of the right size and nothing but zeros (a disk image with a hole)."""
    file.write_bytes(bytes(file.stat().st_size))


def _all_invalid(file: Path) -> None:
    """Every format-212 sample the WFDB invalid value -2048 (0x800): a recorder that wrote only gaps."""
    file.write_bytes(bytes([0x00, 0x88, 0x00]) * (file.stat().st_size // 3))


def _beats(name: str, change: Callable[[wfdb.Annotation], tuple[np.ndarray, list[str]]]) -> Maker:
    """A copy of MIT-BIH 100 whose .atr is written again by wfdb.wrann from the real one after `change`."""

    def make(folder: Path) -> None:
        record = copy_record(MITDB / "100", folder, name)
        sample, symbol = change(wfdb.rdann(str(MITDB / "100"), "atr"))
        record.with_name(name + ".atr").unlink()
        wfdb.wrann(name, "atr", np.asarray(sample, dtype=np.int64), symbol=symbol, write_dir=str(folder))

    return make


def _after_the_signal(ann: wfdb.Annotation) -> tuple[np.ndarray, list[str]]:
    """The beats shifted past the record's 650000 samples: annotations of another, longer record."""
    return ann.sample + 650_000, ann.symbol


def _rhythm_only(ann: wfdb.Annotation) -> tuple[np.ndarray, list[str]]:
    """Only the non-beat annotations (rhythm changes, comments): no R peak to centre a window on."""
    keep = [i for i, s in enumerate(ann.symbol) if s not in AAMI]
    return ann.sample[keep], [ann.symbol[i] for i in keep]


def _ten_seconds(folder: Path, name: str) -> None:
    """A real 10 s piece of MIT-BIH 100, written as a record of its own (a segment)."""
    rec = wfdb.rdrecord(str(MITDB / "100"), sampto=3600, physical=False)
    wfdb.wrsamp(
        name,
        fs=rec.fs,
        units=rec.units,
        sig_name=rec.sig_name,
        d_signal=rec.d_signal,
        fmt=rec.fmt,
        adc_gain=rec.adc_gain,
        baseline=rec.baseline,
        write_dir=str(folder),
    )


def _multi_segment(name: str, segments: list[str], written: list[str]) -> Maker:
    """A multi-segment record of 10 s segments `segments` of which only `written` exist (real pieces of
    MIT-BIH 100, written by wfdb.wrsamp), its header as the WFDB spec writes one."""

    def make(folder: Path) -> None:
        for seg in written:
            _ten_seconds(folder, seg)
        lines = [f"{name}/{len(segments)} 2 360 {3600 * len(segments)}", *(f"{seg} 3600" for seg in segments)]
        (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")

    return make


def _twelve_lead(name: str, lead: str | None = None, unit: str | None = None) -> Maker:
    """A copy of Challenge record HR06001 with every one of its 12 signals named `lead` or in `unit`."""

    def make(folder: Path) -> None:
        record = copy_record(CINC / "HR06001", folder, name)
        _header_text(record, lambda text: _signal_lines(text, lead, unit))

    return make


def _signal_lines(text: str, lead: str | None, unit: str | None) -> str:
    lines = text.splitlines()
    for i in range(1, 13):
        fields = lines[i].split(" ")
        fields[-1] = lead or fields[-1]
        fields[2] = fields[2].replace("/mv", f"/{unit}") if unit else fields[2]
        lines[i] = " ".join(fields)
    return "\n".join(lines) + "\n"


def _cinc2017(name: str, label: str, *pairs: tuple[str, str], damage: Callable[[Path], None] | None = None) -> Maker:
    """A copy of CinC 2017 record A00003 labelled `label` in the folder's REFERENCE.csv, with header
    edits and its .mat damaged."""

    def make(folder: Path) -> None:
        record = copy_record(CINC2017 / "A00003", folder, name)
        for old, new in pairs:
            edit_header(record, old, new)
        if damage:
            damage(record.with_name(name + ".mat"))
        with (folder / "REFERENCE.csv").open("a") as reference:  # the good record's line is there already
            reference.write(f"{name},{label}\n")

    return make


def _ptbxl(rows: Callable[[list[str]], list[str]], records: tuple[int, ...] = ()) -> Maker:
    """A PTB-XL folder `ptbxl/` whose table holds `rows(the real rows of ecg_id 6000-6009)`, with the
    Challenge's copies of `records` (500 Hz; ingest resamples) at their records100 paths."""

    def make(folder: Path) -> None:
        root = folder / "ptbxl"
        root.mkdir(parents=True)
        header, *real = (PTBXL_META / "ptbxl_database_06000-06009.csv").read_text().splitlines()
        (root / "ptbxl_database.csv").write_text("\n".join([header, *rows(real)]) + "\n")
        shutil.copyfile(PTBXL_META / "scp_statements.csv", root / "scp_statements.csv")
        for ecg_id in records:
            copy_record(CINC / f"HR{ecg_id:05d}", root / "records100" / "06000", f"{ecg_id:05d}_lr")

    return make


def _in_subfolder(src: Path, sub: str) -> Maker:
    """The good record again, in a subfolder: one id from a second path."""
    return lambda folder: copy_record(src, folder / sub)


def _saved_as(src: Path, name: str) -> Maker:
    """A copy of `src` saved under the file name `name` whose record line still names `src`."""

    def make(folder: Path) -> None:
        record = copy_record(src, folder, name)
        _header_text(record, lambda text: text.replace(name, src.name, 1))

    return make


def _header_at(name: str, make_file: Callable[[Path], None]) -> Maker:
    """A header `name.hea` that is no regular file of the folder (a link, a socket)."""
    return lambda folder: make_file(folder / f"{name}.hea")


HEA, DAT, ATR, MAT = ".hea", ".dat", ".atr", ".mat"
LINE_100 = "2 360 650000"  # MIT-BIH 100's record line after its name: signals, fs, length
GAIN_100 = "986.3720073664825(631)/mV"  # the MLII signal line's gain(baseline)/units
HR06001 = CINC / "HR06001"
DX_06001 = "# Dx: 426783006,55930002"
PTBXL_LINE2 = "ptbxl/ptbxl_database.csv-line2"  # the bad table row, named by its line

HEADERS = {
    "fs_zero": Case("fs0", "unknown_fs", "annotated", _mit("fs0", (LINE_100, "2 0 650000"))),
    "signals_negative": Case("nsig", "header_unreadable", "annotated", _mit("nsig", (LINE_100, "-2 360 650000"))),
    "header_empty": Case("hempty", "header_unreadable", "annotated", _damaged("hempty", HEA, _cut_to(0))),
    "header_random_bytes": Case(
        "hnoise", "header_unreadable", "annotated", _damaged("hnoise", HEA, _overwritten(lambda f: _noise(400)))
    ),
    "header_nul_bytes": Case(
        "hnul", "header_unreadable", "annotated", _damaged("hnul", HEA, _overwritten(lambda f: bytes(400)))
    ),
    # the signal file saved under the header's name
    "header_is_signal": Case(
        "hdat",
        "header_unreadable",
        "annotated",
        _damaged("hdat", HEA, _overwritten(lambda f: f.with_suffix(".dat").read_bytes()[:2048])),
    ),
    "header_utf16": Case(
        "h16",
        "header_unreadable",
        "annotated",
        _damaged("h16", HEA, _overwritten(lambda f: f.read_bytes().decode().encode("utf-16"))),
    ),
    # saved as alias.hea, its record line still says 100: the id of the good 100 beside it
    "header_names_another_record": Case("alias", "duplicate_id", "annotated", _saved_as(MITDB / "100", "alias")),
    "units_not_voltage": Case("mmhg", "unknown_lead", "annotated", _mit("mmhg", ("/mV", "/mmHg"), every=True)),
    "gain_1e-36": Case("gtiny", "implausible_amplitude", "annotated", _mit("gtiny", (GAIN_100, "1e-36(631)/mV"))),
    "gain_1e36": Case("ghuge", "flat_lead", "annotated", _mit("ghuge", (GAIN_100, "1e36(631)/mV"))),
    "gain_inf": Case("ginf", "bad_gain", "annotated", _mit("ginf", (GAIN_100, "inf(631)/mV"))),
    "baseline_int32_min": Case(
        "bmin", "implausible_amplitude", "annotated", _mit("bmin", ("(631)/mV", "(-2147483648)/mV"))
    ),
    "baseline_beyond_int64": Case(
        "bover", "implausible_amplitude", "annotated", _mit("bover", ("(631)/mV", "(99999999999999999999999)/mV"))
    ),
    "byte_offset_beyond_file": Case(
        "offset", "length_mismatch", "annotated", _mit("offset", (" 212 ", " 212+99999999 "), every=True)
    ),
    # FLAC (format 508) declared over an uncompressed file: what wfdb cannot decode
    "flac_over_212_file": Case("flac", "signal_unreadable", "annotated", _mit("flac", (" 212 ", " 508 "), every=True)),
    "fmt16_over_212_file": Case("fmt16", "length_mismatch", "annotated", _mit("fmt16", (" 212 ", " 16 "), every=True)),
    "signal_file_misnamed": Case(
        "misnamed", "missing_signal_file", "annotated", _mit("misnamed", ("misnamed.dat", "gone.dat"), every=True)
    ),
    "signal_file_stdin": Case(
        "stdin", "missing_signal_file", "annotated", _mit("stdin", ("stdin.dat", "-"), every=True)
    ),
    "signal_file_absolute_path": Case(
        "abs", "outside_folder", "annotated", _mit("abs", ("abs.dat", "/etc/passwd"), every=True)
    ),
}

SIGNALS = {
    "dat_empty": Case("datempty", "length_mismatch", "annotated", _damaged("datempty", DAT, _cut_to(0))),
    "dat_three_bytes": Case("dat3", "length_mismatch", "annotated", _damaged("dat3", DAT, _cut_to(3))),
    "dat_directory": Case("datdir", "not_a_file", "annotated", _damaged("datdir", DAT, _as_dir)),
    "dat_socket": Case("datsock", "not_a_file", "annotated", _damaged("datsock", DAT, _socket_at)),
    "dat_dev_null": Case("datnull", "not_a_file", "annotated", _damaged("datnull", DAT, _linked_to("/dev/null"))),
    "dat_link_loop": Case("datloop", "not_a_file", "annotated", _damaged("datloop", DAT, _linked_to("datloop.dat"))),
    "dat_links_to_header": Case(
        "dathea", "length_mismatch", "annotated", _damaged("dathea", DAT, _linked_to("dathea.hea"))
    ),
    "dat_zeroed": Case("datzero", "flat_lead", "annotated", _damaged("datzero", DAT, _zeroed)),
    # every sample a gap: no sample of any lead, as a multi-segment record of gaps only
    "dat_all_invalid": Case("datgap", "zero_samples", "annotated", _damaged("datgap", DAT, _all_invalid)),
    # a dropout (invalid samples longer than ingest interpolates) quarantines no record since 2026-12-07: an
    # annotated record lands without the beats it reaches, a record-level one with its row cut past it, and
    # `predict` scores around it (tests/test_dropouts.py)
}

ANNOTATIONS = {
    "atr_truncated": Case("atrcut", "annotation_unreadable", "annotated", _damaged("atrcut", ATR, _halved)),
    "atr_three_bytes": Case("atr3", "annotation_unreadable", "annotated", _damaged("atr3", ATR, _cut_to(3))),
    # beats outside the signal are another record's annotations (2026-12-01: once `no_beats`)
    "atr_after_the_signal": Case("atrlate", "annotation_unreadable", "annotated", _beats("atrlate", _after_the_signal)),
    "atr_rhythm_only": Case("atrrhythm", "no_beats", "annotated", _beats("atrrhythm", _rhythm_only)),
    # an .atr that is no regular file is not opened: the record reads as plain WFDB, quarantined by name
    "atr_directory": Case("atrdir", "not_a_file", "wfdb", _damaged("atrdir", ATR, _as_dir)),
    "atr_fifo": Case("atrfifo", "not_a_file", "wfdb", _damaged("atrfifo", ATR, _fifo_at)),
}

MULTI_SEGMENT = {
    "multi_segment_missing": Case(
        "multi", "missing_signal_file", "wfdb", _multi_segment("multi", ["multi_1", "multi_2"], ["multi_1"])
    ),
}

CHALLENGE = {
    "twelve_leads_all_II": Case("allii", "duplicate_lead", "challenge", _twelve_lead("allii", lead="II")),
    "twelve_leads_in_mmHg": Case("mmhg12", "unknown_lead", "challenge", _twelve_lead("mmhg12", unit="mmHg")),
    "dx_empty": Case("dxempty", "unmappable_labels", "challenge", _edited(HR06001, "dxempty", (DX_06001, "# Dx:"))),
    "dx_words": Case(
        "dxwords", "unmappable_labels", "challenge", _edited(HR06001, "dxwords", (DX_06001, "# Dx: sinus rhythm"))
    ),
    "mat_truncated": Case("matcut", "length_mismatch", "challenge", _damaged("matcut", MAT, _cut_to(5000), HR06001)),
    "mat_empty": Case("matempty", "length_mismatch", "challenge", _damaged("matempty", MAT, _cut_to(0), HR06001)),
    # wfdb reads a .mat raw, as its header says: a header that disagrees with the MATLAB matrix lands garbage
    "mat_int16_declared_212": Case(
        "mat212", "format_mismatch", "challenge", _edited(HR06001, "mat212", (" 16x1+24 ", " 212x1+24 "), every=True)
    ),
    "mat_offset_wrong": Case(
        "matoff", "format_mismatch", "challenge", _edited(HR06001, "matoff", (" 16x1+24 ", " 16x1+0 "), every=True)
    ),
    "mat_saved_as_doubles": Case("matf8", "format_mismatch", "challenge", _damaged("matf8", MAT, _as_doubles, HR06001)),
    "mat_transposed": Case("matT", "format_mismatch", "challenge", _damaged("matT", MAT, _transposed, HR06001)),
    "challenge_id_in_subfolder": Case(
        "sub/HR06000", "duplicate_id", "challenge", _in_subfolder(CINC / "HR06000", "sub")
    ),
    "challenge_names_another_record": Case("other", "duplicate_id", "challenge", _saved_as(CINC / "HR06000", "other")),
}

CINC2017_CASES = {
    "reference_unknown_label": Case("A90001", "unmappable_labels", "wfdb", _cinc2017("A90001", "X")),
    "reference_empty_label": Case("A90002", "unmappable_labels", "wfdb", _cinc2017("A90002", "")),
    "cinc2017_mat_truncated": Case("A90003", "length_mismatch", "wfdb", _cinc2017("A90003", "N", damage=_cut_to(100))),
    "cinc2017_lead_pleth": Case("A90004", "unknown_lead", "wfdb", _cinc2017("A90004", "N", (" ECG", " PLETH"))),
    "cinc2017_one_second": Case("A90005", "too_short", "wfdb", _cinc2017("A90005", "N", (" 18000 ", " 300 "))),
    # a plain record is read whole: refused from its header before anything is allocated
    "cinc2017_too_long": Case("A90006", "too_long", "wfdb", _cinc2017("A90006", "N", (" 18000 ", " 200000000 "))),
}

PTBXL = {
    "ptbxl_short_row": Case(PTBXL_LINE2, "bad_table_row", "ptbxl", _ptbxl(lambda rows: ["6009,17"])),
    "ptbxl_id_not_integer": Case(
        PTBXL_LINE2, "bad_table_row", "ptbxl", _ptbxl(lambda rows: [rows[0].replace("6000,", "x6000,", 1)])
    ),
    "ptbxl_fold_not_integer": Case(
        PTBXL_LINE2, "bad_table_row", "ptbxl", _ptbxl(lambda rows: [rows[0].replace(",10,", ",ten,", 1)])
    ),
    "ptbxl_extra_cell": Case(PTBXL_LINE2, "bad_table_row", "ptbxl", _ptbxl(lambda rows: [rows[0] + ",extra"])),
    "ptbxl_row_without_its_file": Case(
        "ptbxl/records100/06000/06001_lr", "header_unreadable", "ptbxl", _ptbxl(lambda rows: [rows[1]])
    ),
    "ptbxl_scp_codes_not_a_dict": Case(
        "ptbxl/records100/06000/06000_lr",
        "unmappable_labels",
        "ptbxl",
        _ptbxl(lambda rows: [rows[0].replace("\"{'NORM'", "\"['NORM'", 1).replace('0.0}"', '0.0]"', 1)], (6000,)),
    ),
    "ptbxl_scp_code_unknown": Case(
        "ptbxl/records100/06000/06000_lr",
        "unmappable_labels",
        "ptbxl",
        _ptbxl(lambda rows: [rows[0].replace("'NORM'", "'NORMAL'", 1)], (6000,)),
    ),
    # two rows with ecg_id 6000, the second naming 6001's file
    "ptbxl_id_twice": Case(
        "ptbxl/records100/06000/06001_lr",
        "duplicate_id",
        "ptbxl",
        _ptbxl(lambda rows: [rows[0], rows[0].replace("06000_lr", "06001_lr")], (6000, 6001)),
        lands=("6000",),
    ),
}

FILES = {
    "beat_record_id_in_subfolder": Case("sub/100", "duplicate_id", "annotated", _in_subfolder(MITDB / "100", "sub")),
    "header_links_outside": Case("away", "outside_folder", "wfdb", _header_at("away", _linked_to(MITDB / "100.hea"))),
    "header_dev_null": Case("hnull", "not_a_file", "wfdb", _header_at("hnull", _linked_to("/dev/null"))),
    "header_socket": Case("hsock", "not_a_file", "wfdb", _header_at("hsock", _socket_at)),
}

CORPUS: dict[str, Case] = {
    **{f"quarantine_{n}": Case(rec, code, "annotated", make) for n, (rec, code, make) in BREAKAGES.items()},
    **{f"hostile_{n}": Case(n, code, HOSTILE_KINDS.get(n, "wfdb"), make) for n, (code, make) in HOSTILE.items()},
    **HEADERS,
    **SIGNALS,
    **ANNOTATIONS,
    **MULTI_SEGMENT,
    **CHALLENGE,
    **CINC2017_CASES,
    **PTBXL,
    **FILES,
}


# --- fixed 2026-12-01: tables, annotations, lead names ---

PTBXL_TABLE = "ptbxl/ptbxl_database.csv"  # a table that names no record at all, quarantined by its own path
PTBXL_LINE3 = "ptbxl/ptbxl_database.csv-line3"
_END_MARK = bytes(2)  # the two zero bytes that end every WFDB annotation file


def _table_damaged(damage: Callable[[Path], object]) -> Maker:
    """The PTB-XL folder of `_ptbxl` (rows 6000-6009, the record of 6000) with its table then damaged in
    place: nothing under ptbxl/ lands, and nothing outside it is kept from landing."""

    def make(folder: Path) -> None:
        _ptbxl(lambda rows: rows, (6000,))(folder)
        damage(folder / "ptbxl" / "ptbxl_database.csv")

    return make


def _header_as_annotations(file: Path) -> bytes:
    """The record's header text saved as its .atr, padded to an even length: wfdb reads any even number of
    bytes as annotations (this one as 71, 47 of them beats in time order inside the record)."""
    text = file.with_suffix(".hea").read_bytes()
    return text + b"\n" * (len(text) % 2)


def _noise_of(size: int) -> Callable[[Path], bytes]:
    return lambda file: _noise(size)


def _twice_the_rate(ann: wfdb.Annotation) -> tuple[np.ndarray, list[str]]:
    """The beats at twice their samples: annotations of the record at twice its rate, before it was
    resampled. Half of them lie past the signal's end, the others on no beat."""
    return ann.sample * 2, ann.symbol


FIXED_2026_12_01 = {
    # an empty table, or one without a column, once failed discovery: nothing of the folder landed
    "ptbxl_table_empty": Case(PTBXL_TABLE, "bad_table_row", "ptbxl", _table_damaged(_cut_to(0))),
    "ptbxl_table_column_missing": Case(
        PTBXL_TABLE,
        "bad_table_row",
        "ptbxl",
        _table_damaged(_overwritten(lambda f: f.read_bytes().replace(b",strat_fold,", b",fold,", 1))),
    ),
    "ptbxl_table_random_bytes": Case(
        PTBXL_TABLE, "bad_table_row", "ptbxl", _table_damaged(_overwritten(lambda f: _noise(4000)))
    ),
    "ptbxl_table_directory": Case(PTBXL_TABLE, "bad_table_row", "ptbxl", _table_damaged(_as_dir)),
    # a FIFO would block discovery's read forever
    "ptbxl_table_fifo": Case(PTBXL_TABLE, "bad_table_row", "ptbxl", _table_damaged(_fifo_at)),
    # a row pasted twice once passed as unchanged; one naming another row's file replaced its record
    "ptbxl_row_twice": Case(
        PTBXL_LINE3, "bad_table_row", "ptbxl", _ptbxl(lambda rows: [rows[0], rows[0]], (6000,)), lands=("6000",)
    ),
    "ptbxl_two_ids_one_file": Case(
        PTBXL_LINE3,
        "bad_table_row",
        "ptbxl",
        _ptbxl(lambda rows: [rows[0], rows[1].replace("06001_lr", "06000_lr")], (6000,)),
        lands=("6000",),
    ),
    # a fold of 'nan' parses as a float, then failed the record as `unreadable`
    "ptbxl_fold_nan": Case(
        PTBXL_LINE2, "bad_table_row", "ptbxl", _ptbxl(lambda rows: [rows[0].replace(",10,", ",nan,", 1)], (6000,))
    ),
    # annotations that wfdb reads as beats and that once landed as such
    "atr_random_bytes": Case(
        "atrnoise", "annotation_unreadable", "annotated", _damaged("atrnoise", ATR, _overwritten(_noise_of(4096)))
    ),
    "atr_is_header_text": Case(
        "atrhea", "annotation_unreadable", "annotated", _damaged("atrhea", ATR, _overwritten(_header_as_annotations))
    ),
    # noise that happens to end as an annotation file does: it reads as beats out of time order
    "atr_noise_with_end_mark": Case(
        "atrnoisez",
        "annotation_unreadable",
        "annotated",
        _damaged("atrnoisez", ATR, _overwritten(lambda f: _noise(4096) + _END_MARK)),
    ),
    "atr_twice_the_rate": Case("atr2x", "annotation_unreadable", "annotated", _beats("atr2x", _twice_the_rate)),
    # signal lines without a lead name once failed with AttributeError
    "lead_names_missing": Case(
        "noname", "unknown_lead", "annotated", _mit("noname", (" 0 MLII", " 0"), (" 0 V5", " 0"))
    ),
}
CORPUS |= FIXED_2026_12_01


# --- fixed 2026-12-01: record lines and frame layouts wfdb reads without a word ---


def _padded_header(size: int) -> Callable[[Path], None]:
    """Comments appended until the header is `size` bytes (wfdb reads all of it)."""

    def pad(file: Path) -> None:
        text = file.read_text()
        file.write_text(text + "# " + "x" * (size - len(text) - 3) + "\n")

    return pad


def _multi_segment_header(name: str, rate: int, seg_samples: int) -> Maker:
    """Two real 10 s pieces of MIT-BIH 100 as a multi-segment record whose header says `rate` Hz and gives
    each segment `seg_samples` samples."""

    def make(folder: Path) -> None:
        segments = [f"{name}_1", f"{name}_2"]
        for seg in segments:
            _ten_seconds(folder, seg)
        lines = [f"{name}/2 2 {rate} {2 * seg_samples}", *(f"{seg} {seg_samples}" for seg in segments)]
        (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")

    return make


FIXED_RECORD_LINES = {
    # wfdb's record-line pattern matches a prefix: these once landed at its default 250 Hz, or with the
    # file's length, and beats landed on the wrong time scale
    "fs_not_a_number": Case("fsabc", "unknown_fs", "annotated", _mit("fsabc", (LINE_100, "2 abc 650000"))),
    "fs_negative": Case("fsneg", "unknown_fs", "annotated", _mit("fsneg", (LINE_100, "2 -360 650000"))),
    "fs_exponent": Case("fsexp", "unknown_fs", "annotated", _mit("fsexp", (LINE_100, "2 1e300 650000"))),
    "length_not_a_number": Case("lenabc", "header_unreadable", "annotated", _mit("lenabc", (LINE_100, "2 360 many"))),
    "length_negative": Case("lenneg", "header_unreadable", "annotated", _mit("lenneg", (LINE_100, "2 360 -650000"))),
    # more or fewer signal lines than declared failed deep inside wfdb (signal_unreadable, unreadable)
    "signals_more_than_lines": Case(
        "nsig3", "header_unreadable", "annotated", _mit("nsig3", (LINE_100, "3 360 650000"))
    ),
    "signals_fewer_than_lines": Case(
        "nsig1", "header_unreadable", "annotated", _mit("nsig1", (LINE_100, "1 360 650000"))
    ),
    "twelve_lead_says_13": Case(
        "hr13", "header_unreadable", "challenge", _edited(CINC / "HR06001", "hr13", ("12 500", "13 500"))
    ),
    # a header padded past 1 MiB once landed (wfdb reads it whole; discovery only its first MiB)
    "header_padded": Case("hpad", "header_unreadable", "annotated", _damaged("hpad", HEA, _padded_header(1 << 21))),
    # samples per frame and skew once escaped the size checks: 212x1000 allocated 650 M samples (now
    # refused from the header: 1.3 G samples declared)
    "samples_per_frame_zero": Case(
        "spf0", "header_unreadable", "annotated", _mit("spf0", (" 212 ", " 212x0 "), every=True)
    ),
    # 1.3 G samples declared: a long record read in windows (sized by samples a frame, since 2026-12-07), whose
    # first window finds the 1.9 MB file short of the header's 1.95 GB before anything is allocated
    "samples_per_frame_huge": Case(
        "spf1000", "length_mismatch", "annotated", _mit("spf1000", (" 212 ", " 212x1000 "), every=True)
    ),
    "skew_huge": Case("skew", "header_unreadable", "annotated", _mit("skew", (" 212 ", " 212:99999999 "))),
    # segments once read at the record line's rate, or failed inside wfdb when given too many samples
    "multi_segment_rate": Case("multirate", "header_unreadable", "wfdb", _multi_segment_header("multirate", 250, 3600)),
    "multi_segment_longer": Case(
        "multilong", "length_mismatch", "wfdb", _multi_segment_header("multilong", 360, 36000)
    ),
}
CORPUS |= FIXED_RECORD_LINES


def _names_itself(name: str) -> Maker:
    """A multi-segment record whose second segment line names the record itself."""

    def make(folder: Path) -> None:
        _ten_seconds(folder, f"{name}_1")
        lines = [f"{name}/2 2 360 7200", f"{name}_1 3600", f"{name} 3600"]
        (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")

    return make


# once neither landed nor quarantined: discovery took it for a segment of itself
CORPUS["multi_segment_names_itself"] = Case("selfseg", "header_unreadable", "wfdb", _names_itself("selfseg"))
