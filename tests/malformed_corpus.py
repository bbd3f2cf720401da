"""Ingest the malformed corpus (tests/malformed.py), one folder per case, and write what happened as JSON.

    python -m tests.malformed_corpus <workdir> <out.json>

Each folder holds good bundled records of three kinds beside one bad record and is ingested, every
kind, into a fresh raw store under a time limit. It runs as a process of its own so that the test
reads the peak memory of ingest alone, and so that a crash or a hang cannot take the test runner
down with it: the JSON is written again after every folder, so what ran before a crash is kept.
"""

from __future__ import annotations

import json
import resource
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from feature_store.config import IngestConfig
from feature_store.ingest import ingest_kind
from feature_store.raw_store import RawStore
from feature_store.sources.registry import KINDS, discover
from tests.malformed import CINC2017, CORPUS, Case
from tests.records import CINC, MITDB, copy_record

LIMIT_S = 30  # per folder: its good records ingest in well under 1 s; a blocked read never returns
# beside every bad record, a good one of each kind: a 30 min beat-annotated MIT-BIH record, a 30 s CinC
# 2017 rhythm record (labelled in REFERENCE.csv) and a 10 s twelve-lead Challenge record (a second MIT-BIH
# record, 208, went: it took half of the corpus run, 57 -> 31 s, and no bad record is checked against it)
GOOD = {"100": MITDB / "100", "A00001": CINC2017 / "A00001", "HR06000": CINC / "HR06000"}


class Hang(Exception):
    """The folder's ingest ran past LIMIT_S."""


def _expire(*_) -> None:
    raise Hang(f"ingest of the folder ran past {LIMIT_S} s")


def build(case: Case, data: Path) -> None:
    """The good records first, then the bad one: a maker may add its line to REFERENCE.csv."""
    for name, src in GOOD.items():
        copy_record(src, data, name)
    (data / "REFERENCE.csv").write_text("A00001,N\n")
    case.make(data)


def ingest_folder(data: Path, store: RawStore, cfg: IngestConfig) -> dict:
    """Every kind found in the folder, as the Dagster ingest assets read it; quarantined records are
    named by their path inside the folder (a duplicate's id is a good record's)."""
    refs = discover([data], cfg)
    reports = [ingest_kind(kind, refs[kind], store, cfg) for kind in KINDS]
    bad = [(str(Path(q.path).relative_to(data)), q, report.kind) for report in reports for q in report.quarantined]
    return {
        "landed": sorted(r for report in reports for r in report.landed),
        "quarantined": {name: q.code for name, q, _ in bad},
        "kinds": {name: kind for name, _, kind in bad},
        "reasons": {name: q.reason for name, q, _ in bad},
    }


def run_case(case: Case, folder: Path, cfg: IngestConfig) -> dict:
    """What ingest made of one folder; `error` holds the traceback of anything that escaped it."""
    data = folder / "data"
    outcome: dict[str, Any] = {
        "landed": [],
        "quarantined": {},
        "kinds": {},
        "reasons": {},
        "error": None,
        "seconds": 0.0,
    }
    try:
        build(case, data)
    except Exception:  # noqa: BLE001 - a maker that fails is a broken test, reported as such
        return outcome | {"error": "building the folder failed:\n" + traceback.format_exc()}
    old = signal.signal(signal.SIGALRM, _expire)
    start = time.perf_counter()
    signal.alarm(LIMIT_S)
    try:
        outcome |= ingest_folder(data, RawStore(folder / "store"), cfg)
    except Exception:  # noqa: BLE001 - a traceback or a hang is the finding, recorded for the test
        outcome["error"] = traceback.format_exc()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    outcome["seconds"] = round(time.perf_counter() - start, 3)
    return outcome


def run(workdir: Path, out: Path, cases: dict[str, Case]) -> dict:
    cfg = IngestConfig()
    results: dict[str, dict] = {}
    summary = {"limit_s": LIMIT_S, "good": sorted(GOOD), "cases": results, "peak_rss_kb": 0}
    for name, case in cases.items():
        results[name] = run_case(case, workdir / name, cfg)
        if results[name]["error"] is None:
            shutil.rmtree(workdir / name, ignore_errors=True)  # a failing folder is kept to look at
        # kB on Linux: the most this process ever held, every folder's ingest included
        summary["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out.write_text(json.dumps(summary, indent=1))
    return summary


def main(argv: list[str]) -> None:
    workdir, out = Path(argv[0]), Path(argv[1])
    workdir.mkdir(parents=True, exist_ok=True)
    run(workdir, out, CORPUS)


if __name__ == "__main__":
    main(sys.argv[1:])
