"""Training copies under S-dominant references (also the rows the DS1 instrument scores): only the
references move, never from test rows, and trained on only where their patient trains."""

from dataclasses import replace

import numpy as np
import pytest

from ecgnet.crossval import folds, scored_on_development
from ecgnet.data import TaskData, training_rows
from ecgnet.stress import copies_per_beat, reference_copies
from feature_store.tasks import BEATS, ReferenceStress
from feature_store.transforms.rhythm import BEAT_RR_NAMES
from feature_store.transforms.template import TEMPLATE_NAMES
from tests.records import MITDB


def test_copies_move_only_their_records_references():
    from benchmarks.ablations import _task_data
    from benchmarks.beat_arrays import beat_references, read_beats

    beats = read_beats(MITDB, records={"209", "100"})  # 209: 383 S beats; 100: 33, too few for a copy
    plain = _task_data(beats, copies=False).val
    copies = reference_copies(plain, BEATS.classes, beat_references(beats), ReferenceStress())
    assert {r.split(":")[0] for r in copies.ids.tolist()} == {"209"}
    same = np.flatnonzero(np.isin(plain.ids, copies.ids))
    assert np.array_equal(plain.ids[same], copies.ids) and np.array_equal(plain.y[same], copies.y)
    # every input of a copy is the beat's own (its waveform, its intervals, the rhythm around it) ...
    np.testing.assert_array_equal(copies.x["spectrogram"]["image"], plain.x["spectrogram"]["image"][same])
    np.testing.assert_array_equal(copies.x["time"]["waveform"], plain.x["time"]["waveform"][same])
    before, after = plain.x["time"]["scalars"][same], copies.x["time"]["scalars"]
    rr, context = len(BEAT_RR_NAMES), 2 * BEATS.view_params["time"].rr_context_beats + 2
    own = [BEAT_RR_NAMES.index(n) for n in ("rr_prev_s", "rr_next_s", "rr_local_s")]
    np.testing.assert_array_equal(after[:, own], before[:, own])
    np.testing.assert_array_equal(after[:, rr : rr + context], before[:, rr : rr + context])
    # ... but what it is read against: the record's RR references and its median beat (the last scalars)
    mean, template = BEAT_RR_NAMES.index("rr_record_s"), slice(-len(TEMPLATE_NAMES) * beats.windows.shape[1], None)
    assert not np.allclose(after[:, mean], before[:, mean])
    assert not np.allclose(after[:, template], before[:, template])
    # S is three quarters of the references: the record mean is now about the S beats' own intervals
    s = copies.y == BEATS.classes.index("S")
    assert abs(np.median(after[s, BEAT_RR_NAMES.index("rr_prev_norm")]) - 1) < abs(
        np.median(before[s, BEAT_RR_NAMES.index("rr_prev_norm")]) - 1
    )


def test_the_copy_count_makes_the_class_its_share():
    k = copies_per_beat(1000, 100, 0.75)
    assert 100 * (1 + k) / (1000 + 100 * k) >= 0.75 > 100 * k / (1000 + 100 * (k - 1))
    assert copies_per_beat(100, 90, 0.75) == 0  # already the majority


def test_copies_come_from_development_rows_and_train_only_their_own_patients(beat_task_sample):
    data = beat_task_sample(400)
    extra = data.extra
    assert extra is not None and len(extra) > 0
    development = set(data.train.groups.tolist()) | set(data.val.groups.tolist())
    # DS2's 232 is S-rich too (1,382 S beats) and gets no copy: test rows are never copied
    assert set(extra.groups.tolist()) <= development and not set(extra.groups.tolist()) & set(data.test.groups.tolist())
    joined = training_rows(data)
    assert len(joined.train) == len(data.train) + int(np.isin(extra.groups, data.train.groups).sum())
    assert not set(joined.train.groups.tolist()) & set(data.val.groups.tolist())
    for fold in folds(scored_on_development(data), 2, seed=0):
        fitted = training_rows(fold.data).train
        assert not set(fitted.groups.tolist()) & set(fold.data.val.groups.tolist())
        assert len(fitted) > len(fold.data.train)  # 209 and 220 both hold 50 S beats or more


def test_task_data_keeps_its_copies_when_saved(beat_task_sample, tmp_path):
    data = beat_task_sample(50)
    data.save(tmp_path)
    back = TaskData.load(tmp_path, BEATS)
    assert back.extra is not None and data.extra is not None
    assert np.array_equal(back.extra.ids, data.extra.ids)
    np.testing.assert_array_equal(back.extra.x["time"]["scalars"], data.extra.x["time"]["scalars"])


def test_a_spec_without_the_class_cannot_stress_it():
    with pytest.raises(ValueError, match="reference stress needs single-label beats with class 'S'"):
        replace(BEATS, classes=("N", "V"), focus_classes=(), metric_classes=())
    with pytest.raises(ValueError, match="share"):
        ReferenceStress(share=1.0)
