"""Predictions as WFDB annotation files (`predict --annotations`): what WFDB's viewers and EC57 tools read,
checked by reading them back with wfdb and with the ingest's own readers of a reference `.atr`."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import wfdb

from ecgnet.__main__ import main as ecgnet_main
from ecgnet.annotations import ANNOTATOR, Events, beat_events, rhythm_events, write_annotations
from feature_store.sources.annotated import AAMI, read_beats
from feature_store.sources.rhythm_labels import rhythm_spans
from feature_store.tasks import AF, BEATS, RECORDS
from feature_store.workspace import SAMPLE_DATA

MITDB = SAMPLE_DATA / "mitdb"


def _read(path):
    return wfdb.rdann(str(path), ANNOTATOR)


def test_a_records_beat_classes_written_as_annotations_read_back_as_its_reference_does(tmp_path):
    """MIT-BIH 209's own AAMI classes (383 of them S) written as ecgnet annotations: the ingest's reader of a
    reference .atr finds the same beats at the same samples, each of the same class."""
    ref = wfdb.rdann(str(MITDB / "209"), "atr")
    samples, symbols = read_beats(ref)
    classes = np.array([BEATS.classes.index(AAMI[s]) for s in symbols])
    write_annotations(tmp_path / f"209.{ANNOTATOR}", beat_events(classes, samples, BEATS.class_codes), 360.0)
    back = _read(tmp_path / "209")
    got_samples, got_symbols = read_beats(back, 360.0)
    assert got_samples.tolist() == samples.tolist()
    assert [AAMI[s] for s in got_symbols] == [AAMI[s] for s in symbols] and got_symbols.count("S") == 383
    assert back.fs == 360 and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing left aside


def test_beats_not_scored_between_two_scored_ones_are_marked_unreadable_not_left_for_missed():
    samples = np.array([100, 400, 1900, 2200])
    events = beat_events(np.array([0, 2, 1, 0]), samples, BEATS.class_codes, numbers=np.array([7, 8, 13, 14]))
    assert list(zip(events.sample.tolist(), events.symbol, events.subtype.tolist(), events.aux_note)) == [
        (100, "N", 0, ""),
        (400, "V", 0, ""),
        (401, "~", -1, "4 beat(s) not scored"),
        (1899, "~", 0, ""),
        (1900, "S", 0, ""),
        (2200, "N", 0, ""),
    ]


def test_rhythm_windows_become_changes_of_rhythm_noise_and_unscored_stretches():
    """Windows of 100 samples: N N AF noisy AF, a window's gap, AF O. A rhythm holds across noise (MIT-BIH's
    way), a stretch not scored is unreadable, and the ingest's reader of AF databases reads the rhythm back."""
    starts = np.array([0, 100, 200, 300, 400, 600, 700])
    predicted = np.array([AF.classes.index(c) for c in ("N", "N", "AF", "noisy", "AF", "AF", "O")])
    events = rhythm_events(predicted, starts, AF.class_codes, window=100)
    assert list(zip(events.sample.tolist(), events.symbol, events.subtype.tolist(), events.aux_note)) == [
        (0, "+", 0, "(N"),
        (200, "+", 0, "(AFIB"),
        (300, "~", -1, "too noisy to classify"),
        (400, "~", 0, ""),
        (500, "~", -1, "not scored"),
        (600, "~", 0, ""),
        (700, "+", 0, "(O"),
    ]
    assert rhythm_spans(events.sample, events.aux_note, 800, start_rhythm=None) == [(0, 200, "N"), (200, 700, "AF")]
    later = rhythm_events(predicted[1:], starts[1:], AF.class_codes, window=100)  # the first window not scored
    assert list(zip(later.sample.tolist()[:3], later.symbol, later.aux_note)) == [
        (0, "~", "not scored"),
        (100, "~", ""),
        (100, "+", "(N"),
    ]


def test_a_multi_frequency_records_annotations_state_their_time_resolution(tmp_path):
    """Samples at the ECG's 249.89 Hz in a record whose frames are a quarter of that: the file says its
    resolution, so a reader does not count them in frames."""
    events = Events(np.array([10, 5000]), ["N", "V"], np.zeros(2, dtype=np.int64), ["", ""])
    write_annotations(tmp_path / "night 1" / f"odd.name.{ANNOTATOR}", events, 249.89)  # names wfdb would refuse
    back = _read(tmp_path / "night 1" / "odd.name")
    assert back.fs == pytest.approx(249.89) and back.sample.tolist() == [10, 5000] and back.symbol == ["N", "V"]


def test_each_task_annotates_its_classes_or_says_it_has_nothing_in_time(tmp_path, capsys):
    assert BEATS.class_codes == ("N", "S", "V", "F", "Q") and not RECORDS.class_codes
    assert replace(BEATS, classes=("N", "S", "V", "F")).class_codes == ("N", "S", "V", "F")  # a task of fewer classes
    with pytest.raises(ValueError, match="do not annotate classes"):
        replace(AF, annotation_codes={"N": "(N", "AF": "(AFIB", "O": "(O"})  # noisy has none
    with pytest.raises(ValueError, match="do not annotate classes"):
        replace(AF, annotation_codes={**AF.annotation_codes, "noisy": "noisy"})  # no WFDB code
    home = tmp_path / "home"
    home.mkdir()
    argv = ["predict", str(MITDB / "100"), "--home", str(home), "--annotations"]
    assert ecgnet_main([*argv, str(tmp_path / "ann"), "--task", "records"]) == 2
    said = capsys.readouterr().err
    assert "the records task has one row a record, nothing in time; fix: use --out" in said and "champion" not in said
    (tmp_path / "file").write_text("")
    assert ecgnet_main([*argv, str(tmp_path / "file")]) == 2
    assert "a file, not a folder" in capsys.readouterr().err
