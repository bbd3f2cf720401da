"""Feature transforms: the batched path matches a per-record SciPy loop (CuPy parity: test_gpu.py)."""

import numpy as np
import pytest

from feature_store.backend import numpy_backend
from feature_store.config import IngestConfig
from feature_store.ingest import ingest_kind
from feature_store.raw_store import RawSnapshot, RawStore
from feature_store.sources.registry import discover
from feature_store.sources.wfdb_record import read_wfdb
from feature_store.tasks import TASKS
from feature_store.transforms.reference import preprocess_one, reference_features
from feature_store.views.compute import compute_features, fit_stats
from feature_store.views.families import FAMILIES, SpectrogramParams
from feature_store.views.inputs import load_beats, load_records
from tests.records import CINC, MITDB, copy_record

RTOL, ATOL = 1e-5, 1e-5


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Real beats of MIT-BIH 208 (DS1) and 232 (DS2), and ten Challenge records, as task inputs."""
    src = tmp_path_factory.mktemp("src")
    for name in ("208", "232"):
        copy_record(MITDB / name, src / "mitdb")
    for name in (
        "HR06000",
        "HR06001",
        "HR06002",
        "HR06003",
        "HR06004",
        "E07500",
        "E07501",
        "JS20000",
        "JS20001",
        "JS20002",
    ):
        copy_record(CINC / name, src / "cinc")
    store, cfg = RawStore(tmp_path_factory.mktemp("home") / "store"), IngestConfig()
    snaps = {}
    for kind, refs in discover([src], cfg).items():
        report = ingest_kind(kind, refs, store, cfg)
        snaps[kind] = RawSnapshot(kind, str(store.root), report.snapshot, report.record_ids)
    beats = load_beats(TASKS["beats"], [snaps["annotated"]])
    return {"beats": _subset(beats, 600), "records": load_records(TASKS["records"], [snaps["challenge"]])}


def _subset(inp, n):
    """Every k-th beat, so both records and all classes are in the sample."""
    idx = np.linspace(0, len(inp.signal) - 1, n).astype(int)
    inp.signal, inp.keys, inp.beats = inp.signal[idx], inp.keys[idx], inp.beats[idx]
    return inp


def _stats(inp):
    return fit_stats(inp, TASKS[inp.task].view_params["time"].preprocess, numpy_backend())


CASES = [(task, family) for task in ("beats", "records") for family in FAMILIES]


@pytest.mark.parametrize("task,family", CASES)
def test_batched_numpy_matches_the_per_record_scipy_loop(inputs, task, family):
    inp, params = inputs[task], TASKS[task].view_params[family]
    stats = _stats(inp)
    batched = compute_features(FAMILIES[family], inp, params, stats, numpy_backend())
    reference = reference_features(family, inp.signal, fs=inp.fs, params=params, stats_=stats, crop=inp.crop)
    assert reference.keys() <= batched.keys()
    for column, expected in reference.items():
        np.testing.assert_allclose(batched[column], expected, rtol=RTOL, atol=ATOL, err_msg=column)
        assert np.isfinite(batched[column]).all()


def test_small_chunks_give_the_same_numbers(inputs):
    inp, params = inputs["beats"], TASKS["beats"].view_params["spectrogram"]
    stats = _stats(inp)
    whole = compute_features(FAMILIES["spectrogram"], inp, params, stats, numpy_backend())
    chunked_backend = numpy_backend().__class__("numpy", np, np.asarray, 7)
    chunked = compute_features(FAMILIES["spectrogram"], inp, params, stats, chunked_backend)
    np.testing.assert_array_equal(whole["spectrogram"], chunked["spectrogram"])


def test_train_statistics_come_from_the_train_split_only(inputs):
    inp = inputs["beats"]
    params = TASKS["beats"].view_params["time"]
    stats = _stats(inp)
    assert stats["train_rows"] == int((inp.keys["split"] == "DS1").sum()) < len(inp.signal)

    def preprocessed(rows):
        return np.stack([preprocess_one(x, fs=inp.fs, params=params, mean=[0, 0], std=[1, 1])[0] for x in rows])

    train = preprocessed(inp.signal[inp.train_mask])
    np.testing.assert_allclose(stats["mean"], train.mean(axis=(0, 2)), rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(stats["std"], train.std(axis=(0, 2)), rtol=1e-4)
    everything = preprocessed(inp.signal)
    assert not np.allclose(stats["std"], everything.std(axis=(0, 2)), rtol=1e-3)


def test_spectrogram_grid_is_fixed_and_configurable(inputs):
    inp = inputs["beats"]
    stats = _stats(inp)
    out = compute_features(
        FAMILIES["spectrogram"], inp, SpectrogramParams(window_s=0.5, hop_s=0.25), stats, numpy_backend()
    )
    # 2 s context at 360 Hz: 180-sample windows every 90 samples -> 7 frames; 2 Hz bins to 50 Hz
    assert out["spectrogram"].shape[1:] == (2, 26, 7)


def test_rhythm_features_of_beats_are_rr_intervals(inputs):
    inp = inputs["beats"]
    rhythm = compute_features(FAMILIES["time"], inp, TASKS["beats"].view_params["time"], _stats(inp), numpy_backend())[
        "rhythm"
    ]
    rr_prev = inp.beats["rr_prev_s"].to_numpy()
    known = ~np.isnan(rr_prev)
    np.testing.assert_allclose(rhythm[known, 0], rr_prev[known], rtol=1e-6)
    assert np.isfinite(rhythm).all() and 0.3 < np.median(rhythm[:, 4]) / np.median(rhythm[:, 5]) < 3


def test_record_hrv_from_detected_r_peaks(inputs):
    inp = inputs["records"]
    params = TASKS["records"].view_params["time"]
    out = compute_features(FAMILIES["time"], inp, params, _stats(inp), numpy_backend())
    hr = out["rhythm"][:, 0]
    assert ((hr > 30) & (hr < 200)).mean() >= 0.9  # resting 12-lead ECGs
    assert out["qrs_energy"].shape == (len(inp.signal), 12) and (out["qrs_energy"] > 0).all()


def test_a_ventricular_beat_is_far_from_its_records_typical_beat(inputs):
    """208's ventricular beats against its median beat, and any row order giving the same numbers."""
    inp = inputs["beats"]
    params = TASKS["beats"].view_params["time"]
    template = compute_features(FAMILIES["time"], inp, params, _stats(inp), numpy_backend())["template"]
    assert template.shape == (len(inp.signal), 2, 4) and np.isfinite(template).all()
    label = np.array([lab[0] for lab in inp.keys["labels"].to_list()])
    in_208 = inp.keys["record_id"].to_numpy() == "208"
    normal, ventricular = template[in_208 & (label == "N"), 0], template[in_208 & (label == "V"), 0]
    assert len(ventricular) >= 20
    # MLII: QRS correlation with the record's median beat, and the log QRS energy against it
    assert np.median(normal[:, 1]) > 0.9 > np.median(ventricular[:, 1]) + 0.2
    assert np.median(ventricular[:, 3]) > np.median(normal[:, 3]) + 0.5

    from feature_store.transforms.template import record_templates

    waveform = compute_features(FAMILIES["time"], inp, params, _stats(inp), numpy_backend())["waveform"]
    records, peaks = inp.keys["record_id"].to_numpy(), inp.beats["r_peak"].to_numpy()
    order = np.random.default_rng(0).permutation(len(records))
    # a template from 100 beats spread over each record's time: the same whatever the rows' order
    shuffled = record_templates(waveform[order], records[order], peaks[order], centre=90, half=36, max_beats=100)
    in_order = record_templates(waveform, records, peaks, centre=90, half=36, max_beats=100)
    np.testing.assert_allclose(shuffled, in_order[order], atol=1e-6)


def test_templates_and_beat_windows_made_in_blocks_are_those_made_at_once(inputs, monkeypatch):
    """`record_templates` and `beat_windows` work through a day's beats a block at a time (their float64 and
    index temporaries were GBs at once): blocks of 7 give exactly the values of one block."""
    from feature_store.sources import annotated
    from feature_store.sources.annotated import beat_windows
    from feature_store.transforms import template
    from tests.records import MITDB

    inp = inputs["beats"]
    params = TASKS["beats"].view_params["time"]
    waveform = compute_features(FAMILIES["time"], inp, params, _stats(inp), numpy_backend())["waveform"]
    records, peaks, rr = (inp.beats[c].to_numpy() for c in ("record_id", "r_peak", "rr_prev_s"))
    kw = dict(centre=90, half=36, rr_prev=rr, sinus_quantile=0.75, pre_qrs=True)
    signal = read_wfdb(MITDB / "100", IngestConfig()).signal
    r_peak = np.sort(np.random.default_rng(0).choice(signal.shape[1], 500, replace=False))
    r_peak[[0, -1]] = 100, signal.shape[1] - 100  # two beats too near an edge for a window
    once = template.record_templates(waveform, records, peaks, **kw), beat_windows(signal, r_peak, 720)
    monkeypatch.setattr(template, "BLOCK_BEATS", 7)
    monkeypatch.setattr(annotated, "WINDOW_BLOCK", 7)
    blocks = template.record_templates(waveform, records, peaks, **kw), beat_windows(signal, r_peak, 720)
    np.testing.assert_array_equal(blocks[0], once[0])
    np.testing.assert_array_equal(blocks[1][1], once[1][1])
    assert once[1][1].sum() == 498 and blocks[1][0].shape == once[1][0].shape == (once[1][1].sum(), 2, 720)
    np.testing.assert_array_equal(blocks[1][0], once[1][0])
    start = r_peak[once[1][1]] - 360
    np.testing.assert_array_equal(once[1][0][:, 0, :], signal[0, start[:, None] + np.arange(720)])


def test_the_template_of_unhurried_beats_leaves_premature_beats_out(inputs):
    """232 (DS2) is 78 % S beats: its median beat is an S beat, unless the template is taken from the
    beats after the longest intervals, which are its sinus (RBBB) beats."""
    from feature_store.transforms.template import _unhurried

    inp = inputs["beats"]
    label = np.array([lab[0] for lab in inp.keys["labels"].to_list()])
    rows = np.flatnonzero(inp.keys["record_id"].to_numpy() == "232")
    rr_prev = inp.beats["rr_prev_s"].to_numpy()
    assert (label[rows] == "S").mean() > 0.7
    assert np.array_equal(_unhurried(rows, rr_prev, 0.0), rows)
    chosen = _unhurried(rows, rr_prev, 0.75)
    assert 0.2 * len(rows) < len(chosen) < 0.3 * len(rows) and (label[chosen] == "S").mean() < 0.3
    assert np.array_equal(_unhurried(rows[:5], rr_prev, 0.75), rows[:5])  # too few to choose from: all


def test_pre_qrs_template_features_see_the_p_wave_and_leave_the_others_as_they_were(inputs):
    from feature_store.transforms.template import record_templates, template_names

    inp = inputs["beats"]
    params = TASKS["beats"].view_params["time"]
    waveform = compute_features(FAMILIES["time"], inp, params, _stats(inp), numpy_backend())["waveform"]
    records, peaks = inp.keys["record_id"].to_numpy(), inp.beats["r_peak"].to_numpy()
    rr = inp.beats["rr_prev_s"].to_numpy()
    kw = dict(centre=90, half=36, rr_prev=rr, sinus_quantile=0.75)
    plain, both = (
        record_templates(waveform, records, peaks, **kw),
        record_templates(waveform, records, peaks, **kw, pre_qrs=True),
    )
    names = template_names(0.75, pre_qrs=True)
    assert both.shape[-1] == len(names) == 12 and np.isfinite(both).all()
    assert names[4:6] == ("template_pre_corr", "template_pre_log1p_rms") and names[-2:] == (
        "sinus_pre_corr",
        "sinus_pre_log1p_rms",
    )
    np.testing.assert_allclose(both[..., [i for i, n in enumerate(names) if "_pre_" not in n]], plain, atol=1e-6)
    # ten copies of one real beat, the last with its P wave flattened: only the pre-QRS features move
    beat = waveform[np.flatnonzero(records == "208")[5]]
    copies = np.repeat(beat[None], 10, axis=0)
    copies[-1, :, :40] = copies[-1, :, :40].mean(-1, keepdims=True)
    out = record_templates(copies, np.full(10, "x"), np.arange(10) * 300, centre=90, half=36, pre_qrs=True)
    same, flat = out[0, 0], out[-1, 0]
    np.testing.assert_allclose(same, [1, 1, 0, 0, 1, 0], atol=1e-6)
    np.testing.assert_allclose(flat[1], 1, atol=1e-6)  # the QRS is untouched
    assert flat[4] < 0.9 and flat[5] > 0.1


def test_rr_context_reads_each_beat_against_the_rhythm_around_it():
    from feature_store.transforms.rhythm import rr_context, rr_context_names

    assert rr_context_names(2) == ("rr_m2", "rr_m1", "rr_m0", "rr_p0", "rr_p1", "rr_p2")
    # one record at a steady 0.8 s with one premature beat (0.5 s, then a 1.1 s pause), rows shuffled
    prev = np.full(12, 0.8)
    prev[6], prev[7] = 0.5, 1.1
    prev[0] = np.nan  # the first beat's preceding interval is unknown
    nxt = np.append(prev[1:], np.nan)
    peaks = np.round(np.nancumsum(np.nan_to_num(prev, nan=0.0)) * 360).astype(int)
    order = np.random.default_rng(0).permutation(12)
    out = np.empty((12, 6), np.float32)
    out[order] = rr_context(np.zeros(12, int)[order], peaks[order], prev[order], nxt[order], beats=2)
    np.testing.assert_allclose(out[2], 0, atol=1e-6)  # steady all around
    np.testing.assert_allclose(out[6, 2:4], np.log2([0.5 / 0.8, 1.1 / 0.8]), atol=1e-6)  # short, then a pause
    np.testing.assert_allclose(out[8, :2], np.log2([0.5 / 0.8, 1.1 / 0.8]), atol=1e-6)  # seen two beats later
    assert out[11, 3] == out[11, 4] == out[11, 5]  # past the record's end the last interval repeats
    assert np.isfinite(out).all()


def test_rr_context_is_a_time_view_column_where_asked(inputs):
    from dataclasses import replace

    inp = inputs["beats"]
    params = TASKS["beats"].view_params["time"]
    assert params.rr_context_beats == 8  # the beats task carries it (benchmarks/ABLATIONS.md, "RR context")
    plain = compute_features(FAMILIES["time"], inp, replace(params, rr_context_beats=0), _stats(inp), numpy_backend())
    out = compute_features(FAMILIES["time"], inp, replace(params, rr_context_beats=4), _stats(inp), numpy_backend())
    assert "rr_context" not in plain and out["rr_context"].shape == (len(inp.signal), 10)
    for name in ("rhythm", "template", "waveform"):
        np.testing.assert_array_equal(out[name], plain[name])
    # 208's ventricular beats come early and a pause follows them (the rows are a sample of the record's
    # beats, so the neighbours are sampled too; the beat's own two intervals are its own)
    label = np.array([lab[0] for lab in inp.keys["labels"].to_list()])
    in_208 = inp.keys["record_id"].to_numpy() == "208"
    own = out["rr_context"][:, 4:6]  # rr_m0, rr_p0
    v, n = own[in_208 & (label == "V")], own[in_208 & (label == "N")]
    assert np.median(v[:, 0]) < -0.2 < np.median(n[:, 0]) and np.median(v[:, 1]) > 0.1


def test_the_rhythm_strip_is_the_context_window_at_a_low_rate_where_asked(inputs):
    from dataclasses import replace

    inp, params = inputs["beats"], TASKS["beats"].view_params["time"]
    assert params.strip_fs is None  # off unless asked
    stats, asked = _stats(inp), replace(params, strip_fs=90.0)
    plain = compute_features(FAMILIES["time"], inp, params, stats, numpy_backend())
    out = compute_features(FAMILIES["time"], inp, asked, stats, numpy_backend())
    assert "strip" not in plain
    width = round(IngestConfig().context_s * 90)
    assert out["strip"].shape == (len(inp.signal), inp.signal.shape[1], width)
    reference = reference_features("time", inp.signal, fs=inp.fs, params=asked, stats_=stats, crop=inp.crop)
    np.testing.assert_allclose(out["strip"], reference["strip"], rtol=RTOL, atol=ATOL)
    for name in ("waveform", "rhythm", "template", "rr_context"):
        np.testing.assert_array_equal(out[name], plain[name])
    # the R peak at its centre: there the strip follows the beat window at its R peak, beat by beat
    r_in_window = round(IngestConfig().beat_before_s * inp.fs)
    at_r, centre = out["waveform"][:, 0, r_in_window], out["strip"][:, 0, width // 2]
    assert np.corrcoef(at_r, centre)[0, 1] > 0.9
    with pytest.raises(ValueError, match="strip_fs"):
        replace(params, strip_fs=0.0)


def test_a_lead_flat_but_for_rounding_at_a_tiny_scale_has_no_shape_not_nan(inputs):
    import warnings

    from feature_store.transforms.time import lead_moments4

    # a real beat window beside what a filtered flat stretch leaves (~1e-11, varying in its last bit only): the
    # variance's powers underflow float32 to 0, and skewness and kurtosis were 0 / 0 (NaN features, a failed check)
    beat = inputs["beats"].signal[:1, :1].astype(np.float32)
    tiny = np.full_like(beat, 1.6223155e-11)
    tiny[..., ::7] = np.nextafter(np.float32(1.6223155e-11), np.float32(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0 / 0 on the way
        both = lead_moments4(np.concatenate([beat, tiny], axis=1), np)
    assert np.isfinite(both).all()
    np.testing.assert_array_equal(both[0, 1, 2:], [0, 0])  # as an exactly constant lead reads
    assert np.array_equal(both[0, 0], lead_moments4(beat, np)[0, 0])  # the real lead's, bit for bit
    assert abs(both[0, 0, 2]) > 0 and abs(both[0, 0, 3]) > 0
