"""The comparison plot draws what a reader checks the choice with: every variant's test headline against
its validation headline, with the Kendall tau where there is one. Generated rows: a plot needs no ECG."""

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
