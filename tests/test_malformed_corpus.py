"""Acceptance: a corpus of malformed folders, each built from bundled records, never crashes, hangs or
bloats ingest; every good record beside a bad one lands and the bad one is quarantined with its code.

The corpus runs in a process of its own (tests/malformed_corpus.py): its peak memory is ingest's
alone, and a crash or a hang fails this test instead of the test run.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.malformed import CORPUS

pytestmark = pytest.mark.heavy

ROOT = Path(__file__).parents[1]
MIN_CASES = 60
PEAK_RSS_KB = 2 * 1024 * 1024  # 2 GB: a header must not make ingest allocate what the record is not
REASON_CODES = {
    *("not_a_file", "outside_folder", "header_unreadable", "no_signals", "unknown_format", "bad_gain"),
    *("unknown_fs", "zero_samples", "too_long", "missing_signal_file", "length_mismatch", "signal_unreadable"),
    *("unknown_lead", "duplicate_lead", "flat_lead", "implausible_amplitude", "too_short"),
    *("unmappable_labels", "annotation_unreadable", "no_beats", "bad_table_row", "duplicate_id"),
    "format_mismatch",
}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    """The runner's JSON for the whole corpus (about a minute on two busy cores)."""
    work = tmp_path_factory.mktemp("malformed")
    out = work / "outcome.json"
    done = subprocess.run(
        [sys.executable, "-m", "tests.malformed_corpus", str(work / "folders"), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.is_file(), f"the corpus run wrote nothing (exit {done.returncode}):\n{done.stderr[-4000:]}"
    result = json.loads(out.read_text())
    assert done.returncode == 0 and len(result["cases"]) == len(CORPUS), (
        f"the corpus run died after {len(result['cases'])} of {len(CORPUS)} folders "
        f"(exit {done.returncode}):\n{done.stderr[-4000:]}"
    )
    return result


def test_the_corpus_holds_at_least_60_malformed_records_of_every_failure():
    assert len(CORPUS) >= MIN_CASES
    # every reason_code of README's table but the fallback `unreadable` (a reason no breakage should
    # need) and the AAMI policy `excluded_paced` (not a malformed record)
    assert {case.code for case in CORPUS.values()} == REASON_CODES


def test_no_folder_crashes_or_hangs_ingest(outcome):
    failed = {name: case["error"] for name, case in outcome["cases"].items() if case["error"]}
    assert not failed, "\n\n".join(f"{name}:\n{error}" for name, error in failed.items())
    slow = {name: case["seconds"] for name, case in outcome["cases"].items() if case["seconds"] >= outcome["limit_s"]}
    assert not slow


def test_every_good_record_lands_beside_every_bad_one(outcome):
    for name, case in outcome["cases"].items():
        expected = sorted([*outcome["good"], *CORPUS[name].lands])
        assert case["landed"] == expected, (name, case["landed"], case["reasons"])


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_the_bad_record_is_quarantined_with_its_reason(outcome, name):
    bad, case = CORPUS[name], outcome["cases"][name]
    assert case["quarantined"] == {bad.record: bad.code}, (case["quarantined"], case["reasons"])
    assert case["kinds"][bad.record] == bad.kind
    assert "fix:" in case["reasons"][bad.record]  # the reason says what to do about it


def test_peak_memory_stays_under_2_gb(outcome):
    assert outcome["peak_rss_kb"] < PEAK_RSS_KB, f"peak RSS {outcome['peak_rss_kb'] / 1024:.0f} MB"
