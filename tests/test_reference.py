"""A scored record against its reference (`predict --reference`): beats as EC57's beat-by-beat comparison
reads them, on MIT-BIH 209's own annotations (3,005 beats, 383 of them S); a rhythm task's windows against
CPSC 2021's annotated AF episodes, and its AF episode by episode as EC57 (WFDB's epicmp) reads them; runs of
ventricular ectopic beats run by run (WFDB's rxr)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import wfdb

from ecgnet.__main__ import main as ecgnet_main
from ecgnet.ectopic_runs import runs_of
from ecgnet.episodes import compare_episodes, intersect, spans_of, subtract, window_episodes
from ecgnet.evaluate import aami
from ecgnet.reference import compare_beats, compare_windows, reference_rhythm, rhythm_windows
from ecgnet.reference_report import comparison_from_json, report
from feature_store.sources.annotated import AAMI, read_beats, read_rhythm
from feature_store.sources.rhythm_labels import cpsc_statement
from feature_store.tasks import AF, BEATS
from feature_store.workspace import SAMPLE_DATA

FS = 360.0


@pytest.fixture(scope="module")
def reference():
    samples, symbols = read_beats(wfdb.rdann(str(SAMPLE_DATA / "mitdb" / "209"), "atr"))
    return samples, np.array([BEATS.classes.index(AAMI[s]) for s in symbols])


def test_the_reference_against_itself_agrees_everywhere(reference):
    samples, classes = reference
    got = compare_beats(samples, classes, samples, classes, BEATS.classes, FS)
    figures = got.figures(BEATS)
    assert (got.matched, got.missed, got.extra, got.unscored) == (len(samples), 0, 0, 0)
    assert figures["accuracy"] == figures["se_S"] == figures["pp_S"] == figures["qrs_se"] == 1.0
    assert got.reference_column() == [BEATS.classes[c] for c in classes]


def test_beats_match_within_150_ms_and_not_beyond(reference):
    samples, classes = reference
    near = compare_beats(samples, classes, samples + 50, classes, BEATS.classes, FS)  # 139 ms late
    assert near.matched == len(samples)
    far = compare_beats(samples[1:], classes[1:], samples + 60, classes, BEATS.classes, FS)  # 167 ms late
    assert (far.matched, far.missed, far.extra, far.unscored) == (0, len(samples) - 1, len(samples), 0)
    assert far.figures(BEATS)["qrs_se"] == 0.0 and set(far.reference_column()) == {None}


def test_classes_called_wrong_read_as_the_comparisons_figures_read_them(reference):
    """Every third S beat called N: with every beat found, the figures are `aami`'s, which the comparison
    table reports (one definition of Se and +P); a missed S beat counts against S Se, an extra one against +P."""
    samples, classes = reference
    called = classes.copy()
    s_rows = np.flatnonzero(classes == BEATS.classes.index("S"))
    called[s_rows[::3]] = BEATS.classes.index("N")
    got = compare_beats(samples, classes, samples, called, BEATS.classes, FS).figures(BEATS)
    expected = aami(np.eye(len(BEATS.classes))[called], classes, BEATS.classes, BEATS.focus_classes)
    assert {k: got[k] for k in expected} == pytest.approx(expected) and got["se_S"] == pytest.approx(255 / 383)
    drop = np.ones(len(samples), dtype=bool)
    drop[s_rows[:10]] = False  # ten S beats the detector never found
    missed = compare_beats(samples, classes, samples[drop], classes[drop], BEATS.classes, FS, np.arange(drop.sum()))
    assert missed.missed == 10 and missed.figures(BEATS)["se_S"] == pytest.approx(373 / 383)
    assert missed.figures(BEATS)["accuracy"] == 1.0  # of the beats matched


def test_the_report_gives_each_record_then_the_gross_sum_and_the_average_as_ec57_reports_them(reference):
    samples, classes = reference
    called = classes.copy()
    called[classes == BEATS.classes.index("S")] = BEATS.classes.index("N")  # every S beat missed
    records = [
        ("209", compare_beats(samples, classes, samples, classes, BEATS.classes, FS, None, BEATS.ectopic_runs)),
        (
            "209 read as N",
            compare_beats(samples, classes, samples, called, BEATS.classes, FS, None, BEATS.ectopic_runs),
        ),
    ]
    table = report(records, BEATS)
    assert table["record"].to_list() == ["209", "209 read as N", "gross", "average"]
    assert table["se_S"].to_list() == [1.0, 0.0, 0.5, 0.5] and np.isnan(table["pp_S"][1])  # none called S
    assert table["reference_beats"].to_list() == [len(samples), len(samples), 2 * len(samples), None]
    assert table["pp_S"][3] == 1.0  # averaged over the records where it is defined


def test_beats_a_dropout_left_unscored_are_left_out_not_missed(reference):
    samples, classes = reference
    keep = np.ones(len(samples), dtype=bool)
    keep[1000:1040] = False  # forty beats in a dropout: the scored beats' numbers jump over them
    got = compare_beats(samples, classes, samples[keep], classes[keep], BEATS.classes, FS, np.flatnonzero(keep))
    assert (got.unscored, got.missed, got.matched) == (40, 0, len(samples) - 40)
    gross = got + got
    assert gross.records == 2 and gross.matched == 2 * got.matched and gross.unscored == 80


def test_windows_read_the_rhythm_annotated_over_all_of_them_as_training_windows_are_labelled():
    """CPSC 2021's data_101_6 (paroxysmal AF: N, then AF from sample 3132, N from 5639, ...) in windows of
    1,000 samples: a window wholly inside one episode has its rhythm; one across a change has none."""
    record = str(SAMPLE_DATA / "cpsc2021" / "data_101_6")
    statement = cpsc_statement(wfdb.rdheader(record).comments)
    spans = read_rhythm(wfdb.rdann(record, "atr"), 22000, statement, True, 200.0)
    assert spans[:3] == [(0, 3132, "N"), (3132, 5639, "AF"), (5639, 8468, "N")]
    starts = np.arange(0, 22000, 1000)
    truth = compare_windows(starts, np.zeros(len(starts), dtype=np.int64), 1000, spans, AF.classes).row_reference
    assert truth is not None and truth[:6].tolist() == [0, 0, 0, -1, 1, -1]  # 3000-4000 and 5000-6000 straddle
    known = truth >= 0
    called = np.where(known, truth, 0)
    called[4] = AF.classes.index("O")  # one AF window called another rhythm
    got = compare_windows(starts, called, 1000, spans, AF.classes)
    assert (got.matched, got.unscored, got.missed, got.extra) == (int(known.sum()), int((~known).sum()), 0, 0)
    figures = got.figures(AF)
    assert figures["pp_AF"] == 1.0 and figures["se_AF"] == pytest.approx(1 - 1 / int((truth == 1).sum()))
    assert "qrs_se" not in figures and "window(s) of one reference rhythm" in got.line(AF, "data_101_6.atr")


def test_a_reference_the_task_cannot_read_is_refused_before_scoring(tmp_path, capsys):
    home = tmp_path / "home"
    home.mkdir()
    argv = ["predict", str(SAMPLE_DATA / "mitdb" / "100"), "--home", str(home), "--task", "records", "--reference"]
    assert ecgnet_main([*argv, "ref"]) == 2  # the records task reads each record's stated diagnosis
    said = capsys.readouterr().err
    assert "--reference ref: the records task reads each record's stated diagnosis" in said and "champion" not in said
    assert ecgnet_main([*argv[:-3], "--report", str(tmp_path / "r.csv")]) == 2  # a report of no comparison
    assert "--report holds the comparison with the references; fix: add --reference" in capsys.readouterr().err
    assert ecgnet_main([*argv[:-3], "--reference", "--report", str(tmp_path / "r.txt")]) == 2
    assert "--report writes .csv or .parquet" in capsys.readouterr().err


def test_af_episodes_are_found_called_and_timed_as_epicmp_counts_them():
    """Four reference AF episodes, the last wholly in a stretch left out (not counted); three called, one of
    them wholly inside the reference's atrial flutter (no false alarm: left out of +P)."""
    reference = spans_of([(1000, 3000), (5000, 6000), (8000, 9000), (12000, 12500)])
    called = spans_of([(2500, 4000), (7000, 7600), (8800, 11000)])
    compared = spans_of([(0, 12000), (13000, 20000)])
    got = compare_episodes(reference, called, compared, 100.0, "AF", excluded=spans_of([(7000, 8000)]))
    assert (got.found, got.reference, got.true, got.called) == (2, 3, 2, 2)
    assert (got.overlap_s, got.reference_s, got.called_s) == (7.0, 40.0, 37.0)
    assert got.figures() == pytest.approx(
        {"episode_se": 2 / 3, "episode_pp": 1.0, "duration_se": 7 / 40, "duration_pp": 7 / 37}
    )
    flutter_counted = compare_episodes(reference, called, compared, 100.0, "AF")
    assert (flutter_counted.true, flutter_counted.called, flutter_counted.called_s) == (2, 3, 43.0)
    assert got.line().startswith("AF episodes: 2 of 3 found (Se 0.667), 2 of 2 called true (+P 1.000); duration Se")
    gross = got + flutter_counted
    assert (gross.found, gross.called, gross.reference_s) == (4, 5, 80.0)
    none = compare_episodes(spans_of([]), spans_of([]), compared, 100.0, "AF")
    assert none.line() == "AF episodes: none in the reference, none called" and np.isnan(none.figures()["episode_se"])


def _mask(spans: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    for a, b in spans.tolist():
        out[a:b] = True
    return out


def _episodes_by_mask(episodes: np.ndarray, other: np.ndarray, compared: np.ndarray, n: int) -> tuple[int, ...]:
    """The same counts sample by sample: each episode's samples in `compared`, and how many of them `other` has."""
    hit = count = total = shared = 0
    for a, b in episodes.tolist():
        part = np.zeros(n, dtype=bool)
        part[a:b] = True
        part &= _mask(compared, n)
        if part.any():
            common = int((part & _mask(other, n)).sum())
            hit, count, total, shared = hit + (common > 0), count + 1, total + int(part.sum()), shared + common
    return hit, count, total, shared


def _random_spans(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    edges = np.unique(rng.integers(0, n, 2 * k))
    return spans_of(edges[: len(edges) // 2 * 2].reshape(-1, 2))


def test_episode_arithmetic_agrees_with_counting_sample_by_sample():
    rng = np.random.default_rng(7)
    n = 3000
    for _ in range(200):
        reference, called = _random_spans(rng, n, 6), _random_spans(rng, n, 8)
        compared, flutter = _random_spans(rng, n, 5), _random_spans(rng, n, 2)
        for a, b in ((reference, called), (compared, flutter)):
            assert (_mask(intersect(a, b), n) == (_mask(a, n) & _mask(b, n))).all()
            assert (_mask(subtract(a, b), n) == (_mask(a, n) & ~_mask(b, n))).all()
        got = compare_episodes(reference, called, compared, 1.0, "AF", excluded=flutter)
        found, n_ref, ref_len, overlap = _episodes_by_mask(reference, called, compared, n)
        true, n_called, called_len, _ = _episodes_by_mask(called, reference, subtract(compared, flutter), n)
        assert (got.found, got.reference, got.reference_s, got.overlap_s) == (found, n_ref, ref_len, overlap)
        assert (got.true, got.called, got.called_s) == (true, n_called, called_len)
    overlapping = spans_of([(5, 9), (0, 3), (2, 4), (9, 12), (20, 20)])
    assert overlapping.tolist() == [[0, 4], [5, 12]]  # sorted, joined where they overlap or touch, empty dropped


def test_called_af_holds_across_noise_and_a_dropout_as_the_annotation_file_does():
    """Windows of 1,000 samples, the one from 4,000 not scored: AF, AF, noisy, AF reads one episode (the
    file's rhythm holds across noise), N, then AF again; the noisy window is left out of the comparison."""
    starts = np.array([0, 1000, 2000, 3000, 5000, 6000])
    af, noisy, n = (AF.classes.index(c) for c in ("AF", "noisy", "N"))
    called = np.array([af, af, noisy, af, n, af])
    episodes, classified = window_episodes(starts, called, 1000, af, (noisy,))
    assert episodes.tolist() == [[0, 4000], [6000, 7000]]
    assert classified.tolist() == [[0, 2000], [3000, 4000], [5000, 7000]]


def test_reference_flutter_is_no_false_af_but_is_no_af_either():
    """A reference of N, atrial flutter, AF, N (rhythm changes at 0, 30, 60 and 90 s, 100 Hz) against windows
    of 10 s all called AF: the AF episode is found and all its time, and the AF called over the flutter is
    left out of +P, as epicmp leaves it, while the AF called over N counts against it."""
    ann = wfdb.Annotation(
        "x", "atr", np.array([0, 3000, 6000, 9000]), symbol=["+"] * 4, aux_note=["(N", "(AFL", "(AFIB", "(N"], fs=100
    )
    spans, flutter = reference_rhythm(ann, 12000, None, 100.0)
    assert spans == [(0, 3000, "N"), (3000, 6000, "O"), (6000, 9000, "AF"), (9000, 12000, "N")]
    assert flutter == [(3000, 6000)]
    starts = np.arange(0, 12000, 1000)
    got = rhythm_windows(starts, np.full(12, AF.classes.index("AF")), 1000, spans, AF, 100.0, flutter)
    (episodes,) = got.episodes
    kept = comparison_from_json(json.loads(json.dumps(got.to_json())))
    assert kept.line(AF, "x.atr") == got.line(AF, "x.atr")
    assert (episodes.found, episodes.reference, episodes.true, episodes.called) == (1, 1, 1, 1)
    assert (episodes.overlap_s, episodes.reference_s, episodes.called_s) == (30.0, 30.0, 90.0)
    assert "AF episodes: 1 of 1 found (Se 1.000), 1 of 1 called true (+P 1.000); duration Se 1.000, +P 0.333" in (
        got.line(AF, "x.atr")
    )


def test_runs_of_ventricular_beats_are_found_and_called_true_as_rxr_counts_them():
    """Beats a second apart: a couplet called as one PVC (missed), a triplet with a fusion beat (found), a run
    of seven called as four and two (a long run missed, its four a true short run, its two a true couplet),
    an isolated PVC and the normal beat after it called a couplet (a false one)."""
    reference = "NVVNVFVNVVVVVVVNVN"
    predicted = "NNVNVVVNVVVVNVVNVV"
    samples = np.arange(len(reference)) * 100

    def classes(text: str) -> np.ndarray:
        return np.array([BEATS.classes.index(c) for c in text])

    got = compare_beats(
        samples, classes(reference), samples + 5, classes(predicted), BEATS.classes, 100.0, None, {"V": ("V", "F")}
    )
    (runs,) = got.runs
    assert runs.counts() == {"couplet": (0, 1, 1, 2), "short": (1, 1, 2, 2), "long": (0, 1, 0, 0)}
    assert runs.sensitivity[6, 4] == 1 and runs.sensitivity[1, 1] == 1  # the long run found as four; the lone PVC
    figures = runs.figures()
    assert (figures["couplet_se"], figures["couplet_pp"], figures["short_pp"]) == (0.0, 0.5, 1.0)
    assert np.isnan(figures["long_pp"])  # nothing called long
    assert "; V runs: couplet 0 of 1 (0.000) found, 1 of 2 (0.500) called true; short 1 of 1 (1.000) found" in got.line(
        BEATS, "x.atr"
    )
    assert (got + got).runs[0].counts()["short"] == (2, 2, 4, 4)
    kept = comparison_from_json(json.loads(json.dumps(got.to_json())))  # as the inbox keeps it beside the rows
    assert kept.line(BEATS, "x.atr") == got.line(BEATS, "x.atr")
    assert repr(kept.report_row(BEATS)) == repr(got.report_row(BEATS))  # NaN where undefined, on both sides
    first, last = runs_of(np.ones(5, dtype=bool), np.array([False, True, False, True, True]))
    assert (first.tolist(), last.tolist()) == ([0, 2], [1, 4])  # a stretch not scored ends a run
    wrongs: list[dict[str, tuple[str, ...]]] = [{"AF": ("AF",)}, {"V": ("V", "E")}]
    for wrong in wrongs:  # windows are no beats; E is no class of the task
        with pytest.raises(ValueError, match="ectopic runs"):
            replace(AF if "AF" in wrong else BEATS, ectopic_runs=wrong)


def test_mitbih_223s_own_runs_read_against_themselves_are_all_found_and_all_true():
    samples, symbols = read_beats(wfdb.rdann(str(SAMPLE_DATA / "mitdb" / "223"), "atr"))
    classes = np.array([BEATS.classes.index(AAMI[s]) for s in symbols])
    (runs,) = compare_beats(samples, classes, samples, classes, BEATS.classes, FS, None, BEATS.ectopic_runs).runs
    assert runs.counts() == {"couplet": (27, 27, 27, 27), "short": (5, 5, 5, 5), "long": (2, 2, 2, 2)}
    assert (np.diag(np.diag(runs.sensitivity)) == runs.sensitivity).all()
