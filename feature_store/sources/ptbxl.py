"""PTB-XL layout: `ptbxl_database.csv` + `scp_statements.csv` + `records100/` or `records500/`.

Labels follow the PTB-XL benchmark code (Strodthoff et al. 2021, `compute_label_aggregations`):
every statement in `scp_codes` counts whatever its likelihood (0 included) when it is a diagnostic
statement, and the record's labels are the set of those statements' `diagnostic_class`.
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path

from ..config import IngestConfig
from .base import Landed, RecordRef
from .canonical import base_row, parse_age
from .errors import RecordError
from .files import is_regular
from .splits import fold_split
from .wfdb_record import read_wfdb

DATABASE = "ptbxl_database.csv"
PACKAGED_STATEMENTS = Path(__file__).with_name("scp_statements.csv")
_COLUMNS = {"ecg_id", "patient_id", "scp_codes", "strat_fold", "filename_lr", "filename_hr"}
_PUBLISHED_TABLE = "use the PTB-XL database table as published (wfdb.dl_database('ptb-xl', ...))"


def read_statements(root: Path) -> dict[str, str]:
    """SCP statement -> diagnostic class ('' for rhythm/form statements)."""
    path = root / "scp_statements.csv"
    path = path if path.is_file() else PACKAGED_STATEMENTS
    with path.open() as f:
        return {
            row[""]: (row["diagnostic_class"] if row["diagnostic"] in ("1", "1.0") else "") for row in csv.DictReader(f)
        }


def discover_ptbxl(root: Path, cfg: IngestConfig) -> list[RecordRef]:
    """One ref per table row. Discovery never fails for the table: a row that names no record, or a
    table that cannot be read at all, becomes a ref that quarantines itself (`bad_table_row`), so the
    other rows and the other records of the data folder are still ingested."""
    table = root / DATABASE
    if not is_regular(table):  # a FIFO would block the read, a directory fail it
        return [_table_ref(root, f"{table}: not a regular file; fix: {_PUBLISHED_TABLE}")]
    refs: list[RecordRef] = []
    try:
        with table.open() as f:
            for ref in _row_refs(root, csv.DictReader(f), cfg):
                refs.append(ref)
    except (OSError, UnicodeError, csv.Error) as err:  # a binary or damaged file: the rows before it stand
        refs.append(_table_ref(root, f"{table}: unreadable after {len(refs)} rows ({err}); fix: {_PUBLISHED_TABLE}"))
    return refs


def _row_refs(root: Path, reader: csv.DictReader, cfg: IngestConfig) -> Iterator[RecordRef]:
    """A ref per row; a short, malformed or repeated row becomes a ref that quarantines itself, by line."""
    table = root / DATABASE
    missing = _COLUMNS - set(reader.fieldnames or [])
    if missing:
        what = f"columns {sorted(missing)} missing" if reader.fieldnames else "empty"
        yield _table_ref(root, f"{table}: {what}; fix: {_PUBLISHED_TABLE}")
        return
    column, _ = _rate_columns(cfg)
    first: dict[Path, tuple[int, str]] = {}  # record path -> (line, ecg_id) of the row that named it first
    for row in reader:
        line = reader.line_num
        problem = _row_problem(row, column) or _repeat_problem(row, column, line, root, first)
        if problem:
            meta = {"ecg_id": row.get("ecg_id") or f"line{line}", "row_problem": f"{table} line {line}: {problem}"}
            yield RecordRef("ptbxl", root / f"{DATABASE}-line{line}", root, meta=meta)
        else:
            yield RecordRef("ptbxl", root / row[column], root, meta=row)


def _table_ref(root: Path, problem: str) -> RecordRef:
    """The whole table as one ref that quarantines itself, named by the table's path."""
    return RecordRef("ptbxl", root / DATABASE, root, meta={"row_problem": problem})


def _repeat_problem(row: dict, column: str, line: int, root: Path, first: dict[Path, tuple[int, str]]) -> str:
    """A second row naming a file an earlier row named: refs are keyed by the record's path, so it would
    overwrite the first row's record (another ecg_id) or pass as unchanged (the same one, a row pasted
    twice). Another file under an ecg_id already seen is left to ingest's `duplicate_id`."""
    ecg_id = str(int(float(row["ecg_id"])))
    seen = first.setdefault(root / row[column], (line, ecg_id))
    if seen == (line, ecg_id):
        return ""
    if seen[1] == ecg_id:
        return f"duplicate ecg_id {ecg_id} (line {seen[0]} names {row[column]} too); fix: remove one of the two rows"
    return (
        f"ecg_id {ecg_id} names {row[column]}, the file of ecg_id {seen[1]} at line {seen[0]}; fix: correct "
        f"{column} or remove one of the two rows"
    )


def _row_problem(row: dict, column: str) -> str:
    """What keeps a table row from naming a record: missing cells, or ids and folds that are not numbers."""
    empty = sorted(c for c in _COLUMNS if not row.get(c))
    if empty or None in row:
        return f"cells {empty or 'beyond the header'} are missing or extra; fix: restore the row as published"
    for c in ("ecg_id", "patient_id", "strat_fold"):
        try:
            number = float(row[c])
        except ValueError:
            number = math.nan
        if not math.isfinite(number):  # 'nan' and 'inf' parse as floats, but int() refuses them
            return f"{c} {row[c]!r} is not a number; fix: restore the row as published"
    return ""


class PtbxlSource:
    kind = "ptbxl"
    revision = 1  # 1: a record with a lead flat the whole record lands without it (it was quarantined, flat_lead)

    def load(self, ref: RecordRef, cfg: IngestConfig) -> Landed:
        meta = ref.meta
        if ref.problem:
            raise RecordError(ref.problem_code, ref.problem)
        _other_rate_only(ref, cfg)
        sig = read_wfdb(ref.path, cfg, keep_dropouts=True)  # rows are cut clear of them (inputs)
        row = base_row(
            sig,
            source=self.kind,
            folder=ref.folder,
            target_fs=cfg.record_fs,
            split=fold_split(int(float(meta["strat_fold"]))),
            patient_id=str(int(float(meta["patient_id"]))),
            record_id=str(int(float(meta["ecg_id"]))),
        )
        row.labels, row.unmapped_codes, row.label_codes = row_labels(ref)
        row.recorded_at = _parse_date(meta.get("recording_date")) or row.recorded_at
        row.age = parse_age(meta.get("age"))
        row.sex = {"0": "M", "1": "F", "0.0": "M", "1.0": "F"}.get(meta.get("sex", ""))
        return Landed(row)


def row_labels(ref: RecordRef) -> tuple[list[str], list[str], list[str]]:
    """(diagnostic classes, statements that gave none, the statements) of a table row's `scp_codes`;
    RecordError naming the row where a statement is not in scp_statements.csv."""
    codes = _scp_codes(ref.meta["scp_codes"], ref)
    statements = read_statements(ref.folder)
    unknown = [c for c in codes if c not in statements]
    if unknown:
        raise RecordError(
            "unmappable_labels",
            f"{ref.folder / DATABASE} ecg_id {ref.meta['ecg_id']}: "
            f"SCP codes {unknown} are not in scp_statements.csv; fix: use the "
            "scp_statements.csv released with this PTB-XL version",
        )
    return sorted({statements[c] for c in codes if statements[c]}), [c for c in codes if not statements[c]], list(codes)


def _rate_columns(cfg: IngestConfig) -> tuple[str, str]:
    """The table column naming a row's record at the task rate (records100 up to 100 Hz, else records500),
    and the other rate's."""
    return ("filename_lr", "filename_hr") if cfg.record_fs <= 100 else ("filename_hr", "filename_lr")


def _other_rate_only(ref: RecordRef, cfg: IngestConfig) -> None:
    """Refuse, saying what is there, a row whose record is missing at the task rate's folder but present
    at the other's (a folder holding records100 or records500 alone). Not read from the other: the choice
    would flip, and every record turn `duplicate_id`, once the missing folder arrives."""
    if ref.path.with_name(f"{ref.path.name}.hea").exists():
        return
    mine, other = _rate_columns(cfg)
    there = ref.folder / f"{ref.meta.get(other, '')}.hea"
    if ref.meta.get(other) and there.is_file():
        folder, rate = ("records100", 500) if mine == "filename_lr" else ("records500", 100)
        raise RecordError(
            "missing_signal_file",
            f"{ref.path}.hea: not found at the task rate ({cfg.record_fs:g} Hz); the other rate's copy {there} is "
            f"there; fix: add PTB-XL's {folder} as published (it ships both), or set record_fs to {rate} to read "
            "the copy at hand",
        )


def _scp_codes(text: str, ref: RecordRef) -> dict[str, float]:
    try:
        codes = ast.literal_eval(text)
    except (ValueError, SyntaxError) as err:
        raise RecordError(
            "unmappable_labels",
            f"{ref.folder / DATABASE} ecg_id "
            f"{ref.meta['ecg_id']}: scp_codes {text!r} is not a dict literal; fix: "
            "restore the column as published",
        ) from err
    if not isinstance(codes, dict):
        raise RecordError(
            "unmappable_labels",
            f"{ref.folder / DATABASE} ecg_id {ref.meta['ecg_id']}: "
            f"scp_codes {text!r} is not a dict; fix: restore the column as published",
        )
    return codes


def _parse_date(value: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
