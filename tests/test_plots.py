"""The comparison plot draws what a reader checks the choice with: every variant's test headline against
its validation headline, with the Kendall tau where there is one. Generated rows: a plot needs no ECG."""

import warnings

import numpy as np
import pytest

from ecgnet.plots import comparison_png

ROWS = [
    {"variant": "time", "kind": "single", "params": 380_000, "value": 0.74, "lo": 0.69, "hi": 0.79, "val": 0.77},
    {"variant": "early", "kind": "early", "params": 1_150_000, "value": 0.78, "lo": 0.67, "hi": 0.84, "val": 0.70},
]


@pytest.mark.parametrize("agreement", [None, (0.45, 0.27, 0.75), (1.0, np.nan, np.nan), (np.nan, np.nan, np.nan)])
def test_the_comparison_plot_draws_with_or_without_a_ranking_agreement(agreement):
    png = comparison_png(ROWS, "macro-f1", "time", "beats", agreement)
    assert png.startswith(b"\x89PNG")


def test_the_comparison_plot_needs_each_variants_validation_metric():
    with pytest.raises(KeyError, match="val"):
        comparison_png([{k: v for k, v in r.items() if k != "val"} for r in ROWS], "macro-f1", "time", "beats")


def test_names_of_points_within_noise_of_each_other_do_not_cover_one_another():
    import itertools

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from ecgnet.plots import label_points
    from feature_store.plots import plt

    rng = np.random.default_rng(0)
    x, y = 0.75 + rng.uniform(0, 0.03, 8), 0.72 + rng.uniform(0, 0.03, 8)  # eight variants in one corner
    names = [f"intermediate_variant_{i}" for i in range(8)]
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(x, y)
    ax.set_xlim(0.3, 0.85)
    ax.set_ylim(0.3, 0.85)
    fig.tight_layout()
    texts = label_points(ax, list(x), list(y), names)
    fig.canvas.draw()
    assert isinstance(fig.canvas, FigureCanvasAgg)  # feature_store.plots picks Agg, whose canvas has a renderer
    boxes = [t.get_window_extent(fig.canvas.get_renderer()) for t in texts]
    assert [t.get_text() for t in texts] == names
    assert not [(a, b) for (a, b) in itertools.combinations(range(8), 2) if boxes[a].overlaps(boxes[b])]
    plt.close(fig)


def test_a_point_without_a_finite_position_is_left_unnamed():
    from ecgnet.plots import label_points
    from feature_store.plots import plt

    fig, ax = plt.subplots()
    texts = label_points(ax, [0.5, np.nan], [0.5, 0.6], ["time", "frequency"])
    assert [t.get_text() for t in texts] == ["time"]
    plt.close(fig)


def test_published_values_sit_beside_ours_without_gaps_for_results_that_do_not_report_a_figure():
    from ecgnet.plots import published_positions

    reports = {"A": ("accuracy", "se_S"), "B": ("se_S",), "C": ("accuracy",)}
    rows = [{"published": n, "figure": f} for n, figures in reports.items() for f in figures]
    at, ticks = published_positions(rows, step=0.2)
    assert at["A", "accuracy"] == 0.2 and at["C", "accuracy"] == 0.4  # C next to A: B reports no accuracy
    assert at["A", "se_S"] == 1.2 and at["B", "se_S"] == 1.4
    assert ticks == [0.2, 1.2]


def test_the_readme_figures_read_the_comparison_table_as_the_asset_writes_it():
    import polars as pl

    from benchmarks.readme_figures import comparison_rows
    from ecgnet.interval import Interval

    assert Interval.parse("0.743 [0.692, 0.793]") == Interval(0.743, 0.692, 0.793)
    assert Interval.parse("-0.007 [-0.017, +0.007]") == Interval(-0.007, -0.017, 0.007)
    assert Interval.parse(str(Interval(0.5, 0.25, 0.75))) == Interval(0.5, 0.25, 0.75)  # what str writes
    assert Interval(0.039, -0.042, 0.104).signed() == "+0.039 [-0.042, +0.104]"  # a difference, as tables write it
    assert Interval.parse(Interval(-0.007, -0.017, 0.007).signed()) == Interval(-0.007, -0.017, 0.007)
    absent = Interval.parse(str(Interval(float("nan"), float("nan"), float("nan"))))  # a class test lacks
    assert all(np.isnan(v) for v in (absent.value, absent.lo, absent.hi))
    for not_a_figure in ("(reference)", "nano [1, 2]", "0.5 [0.1]"):
        with pytest.raises(ValueError, match="not a figure"):
            Interval.parse(not_a_figure)
    table = pl.DataFrame(
        {
            "variant": ["time", "classical"],
            "kind": ["single", "classical"],
            "params": [382450, 172],
            "val_metric": [0.7714, 0.578],
            "macro_f1_N_S_V": ["0.743 [0.692, 0.793]", "0.616 [0.545, 0.684]"],
            "macro_f1_N_S_V_by_seed": ["0.751 / 0.731", None],
        }
    )
    rows = comparison_rows(table, "macro_f1_N_S_V")
    assert rows[0] | {"by_seed": None} == {
        "variant": "time", "kind": "single", "params": 382450, "value": 0.743, "lo": 0.692, "hi": 0.793,
        "val": 0.7714, "by_seed": None,
    }  # fmt: skip
    assert rows[0]["by_seed"] == [0.751, 0.731] and rows[1]["by_seed"] == []
    assert comparison_png(rows, "macro-f1-N-S-V", "time", "beats").startswith(b"\x89PNG")


def test_a_roc_plot_of_a_split_with_one_class_says_why_it_has_no_curve():

    from ecgnet.plots import roc_png

    probs = np.full((4, 3), 1 / 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns of a legend with nothing in it
        assert roc_png(probs, np.zeros(4, dtype=int), ("N", "S", "V"), False, "tiny").startswith(b"\x89PNG")
        assert roc_png(probs, np.array([0, 1, 2, 0]), ("N", "S", "V"), False, "all").startswith(b"\x89PNG")


@pytest.mark.parametrize("windows", [4, 1212])  # two minutes (drawn in minutes), ten hours (in hours)
def test_the_rhythm_timeline_draws_a_long_record_window_by_window(windows):
    from ecgnet.plots import rhythm_timeline_png

    probs = np.random.default_rng(0).dirichlet(np.ones(4), size=windows)
    assert rhythm_timeline_png(probs, ["N", "AF", "O", "noisy"], 30.0, "a record").startswith(b"\x89PNG")
    # windows left out (a dropout): their place stays blank, marked not scored in the strip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        onsets = np.arange(windows) * 30.0 + (np.arange(windows) >= windows // 2) * 90.0
        assert rhythm_timeline_png(probs, ["N", "AF", "O", "noisy"], 30.0, "holes", onsets).startswith(b"\x89PNG")
        # the reference's rhythm in a strip under the predicted one (-1: across a change, hatched)
        reference = np.where(np.arange(windows) % 3 == 0, -1, probs.argmax(axis=1))
        against = rhythm_timeline_png(probs, ["N", "AF", "O", "noisy"], 30.0, "holes", onsets, reference)
        assert against.startswith(b"\x89PNG")


def test_named_descriptors_are_drawn_by_name_the_largest_first_and_frequencies_in_hz():
    from ecgnet.data import InputNames
    from ecgnet.plots import _attribution_cell, attribution_png
    from feature_store.plots import plt

    names = [f"d{i}" for i in range(46)]
    attr = np.zeros(46)
    attr[[3, 17, 40]] = [0.5, -0.9, 0.2]  # the three that carry the decision
    fig, (bars, psd) = plt.subplots(1, 2)
    assert _attribution_cell(bars, ("time", "scalars"), np.zeros(46), attr, names) == " (top 10 of 46)"
    drawn = [t.get_text() for t in bars.get_yticklabels()]
    assert len(drawn) == 10 and drawn[-3:] == ["d40", "d3", "d17"]  # the largest |attribution| on top
    hz = [f"{f} Hz" for f in range(0, 52, 2)]
    assert _attribution_cell(psd, ("frequency", "psd"), np.zeros((2, 26)), np.ones((2, 26)), hz, ("MLII", "V1")) == ""
    ticks = [t.get_text() for t in psd.get_xticklabels()]
    assert ticks[0] == "0 Hz" and ticks[-1] == "50 Hz" and psd.get_xlabel() == "frequency"
    assert [t.get_text() for t in psd.get_yticklabels()] == ["MLII", "V1"]  # a heat map's rows are the leads
    plt.close(fig)
    # unnamed (a model logged before the names were), every descriptor by position, as before
    maps = {"N": {("time", "scalars"): (np.zeros(46), attr)}}
    assert attribution_png(maps, "t").startswith(b"\x89PNG")
    assert attribution_png(maps, "t", names=InputNames(("MLII", "V1"), {"time": {"scalars": names}})).startswith(
        b"\x89PNG"
    )


def test_a_picture_of_every_input_leaves_out_the_views_the_model_does_not_read():
    from ecgnet.plots import _seen, attribution_pngs

    zero, some = (np.zeros((2, 13, 29)),) * 2, (np.zeros(46), np.linspace(-1, 1, 46))
    maps = {c: {("time", "scalars"): some, ("spectrogram", "image"): zero} for c in ("N", "S")}
    assert _seen(maps) == [("time", "scalars")]  # what `predict --explain`'s one picture draws
    assert set(attribution_pngs(maps, "t")) == {"attribution_time.png"}


def test_the_record_preview_shades_the_dropouts_it_shows():
    import polars as pl
    import wfdb

    from feature_store.plots import records_png
    from tests.records import MITDB

    signal = wfdb.rdrecord(str(MITDB / "100"), sampto=1800).p_signal.T.astype(np.float32)

    def drawn(dropouts):
        row = {"record_id": "100", "fs": 360.0, "lead_names": ["MLII", "V5"], "signal": [signal.tolist()]}
        return records_png(
            pl.DataFrame({k: [v] if k != "signal" else v for k, v in row.items()} | {"dropouts": [dropouts]})
        )

    span = {"lead": "MLII", "start": 360, "stop": 720}
    plain, late = drawn([]), drawn([{**span, "start": 9000, "stop": 9400}])  # after the 5 s shown
    assert plain == late and drawn([span]) != plain
