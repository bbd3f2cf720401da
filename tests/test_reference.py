"""A scored record against its reference (`predict --reference`): beats as EC57's beat-by-beat comparison
reads them, on MIT-BIH 209's own annotations (3,005 beats, 383 of them S); a rhythm task's windows against
CPSC 2021's annotated AF episodes."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb

from ecgnet.__main__ import main as ecgnet_main
from ecgnet.evaluate import aami
from ecgnet.reference import compare_beats, compare_windows
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


def test_a_reference_for_a_task_of_one_row_a_record_is_refused_before_scoring(tmp_path, capsys):
    home = tmp_path / "home"
    home.mkdir()
    argv = ["predict", str(SAMPLE_DATA / "mitdb" / "100"), "--home", str(home), "--task", "records", "--reference"]
    assert ecgnet_main(argv) == 2
    said = capsys.readouterr().err
    assert "--reference: the records task has one row a record, nothing in time" in said and "champion" not in said
