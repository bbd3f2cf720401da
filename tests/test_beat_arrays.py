"""The GPU training check's polars-free beats path gives exactly the store's training data."""

import numpy as np

from benchmarks.beat_arrays import beat_task_data, beat_views, read_beats
from ecgnet.data import load_task_data
from feature_store.backend import numpy_backend
from feature_store.tasks import BEATS


def test_beat_arrays_equal_the_store_path(beat_world):
    stored = load_task_data(beat_world["features"], BEATS, seed=3)
    beats = read_beats(beat_world["src"])
    views, seconds = beat_views(beats, numpy_backend())
    direct = beat_task_data(beats, views, seed=3)
    assert set(seconds) == {"time", "spectral", "spectrogram"}
    for name in ("train", "val", "test"):
        a, b = direct.split(name), stored.split(name)
        assert len(a) > 0
        np.testing.assert_array_equal(a.ids, b.ids, err_msg=name)
        np.testing.assert_array_equal(a.groups, b.groups, err_msg=name)
        np.testing.assert_array_equal(a.y, b.y, err_msg=name)
        assert a.x.keys() == b.x.keys()
        for m, inputs in b.x.items():
            for key, expected in inputs.items():
                np.testing.assert_allclose(a.x[m][key], expected, rtol=1e-5, atol=1e-5, err_msg=f"{name} {m}.{key}")


def test_named_records_only(beat_world):
    beats = read_beats(beat_world["src"], records={"209"})
    assert set(beats.record_id.tolist()) == {"209"} and len(beats.ids) > 1000
