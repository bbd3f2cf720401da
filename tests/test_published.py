"""The chosen variant against published results on its task's protocol (TaskSpec.published,
ecgnet.published): figures met or not, what the interval already decides, and nothing compared on a test
split that is not the protocol's."""

from dataclasses import replace

import pytest

from ecgnet.evaluate import figure_label
from ecgnet.interval import Interval
from ecgnet.published import (
    comparable,
    published_metrics,
    published_plot,
    published_summary,
    published_table,
    slug,
)
from feature_store.tasks import BEATS, RECORDS, Published

# the README's AMD table for `time`: three of de Chazal's five figures
TEST = {
    "accuracy": Interval(0.916, 0.854, 0.964),
    "se_S": Interval(0.345, 0.234, 0.834),
    "pp_S": Interval(0.377, 0.119, 0.804),
    "se_V": Interval(0.983, 0.964, 0.996),
    "pp_V": Interval(0.868, 0.720, 0.936),
}


def test_each_published_figure_is_met_or_not_and_the_interval_says_whether_that_is_decided():
    table = published_table(BEATS, "time", TEST, test_patients=22)
    chazal = table.filter(table["published"] == "de Chazal et al. 2004")
    assert chazal["figure"].to_list() == ["accuracy", "se_S", "pp_S", "se_V", "pp_V"]
    assert chazal["met"].to_list() == [True, False, False, True, True]
    # accuracy 0.854 lies below 0.862 at its lower end: met, not beyond noise; V Se's whole interval is above
    assert chazal["interval"].to_list() == ["within", "within", "within", "above", "within"]
    huang = table.filter(table["published"] == "Huang et al. 2014")
    assert huang.filter(huang["figure"] == "se_S")["interval"].item() == "below"  # 0.834 < 0.91
    metrics = published_metrics(table)
    assert metrics["published_met_de_chazal_et_al_2004"] == 3.0
    assert metrics["published_figures_de_chazal_et_al_2004"] == 5.0
    assert metrics["published_met_mondejar_guerra_et_al_2019"] == 0.0  # accuracy 0.916 < 0.945
    first = published_summary(table)[0]
    assert first.startswith("time against de Chazal et al. 2004: 3 of 5 met")
    assert "S Se 0.345 < 0.759" in first and "accuracy 0.916 >= 0.862" in first
    png = published_plot(table)
    assert png is not None and png.startswith(b"\x89PNG")


def test_a_test_split_that_is_not_the_protocols_compares_nothing():
    assert comparable(BEATS, 22) and not comparable(BEATS, 1)
    table = published_table(BEATS, "time", TEST, test_patients=2)  # the demo: two DS2 patients (100 and 232)
    assert table.is_empty() and published_metrics(table) == {} and published_summary(table) == []
    assert published_plot(table) is None
    assert not RECORDS.published and published_table(RECORDS, "early", {}, 10).is_empty()


def test_a_published_figure_the_comparison_does_not_report_is_refused():
    with pytest.raises(ValueError, match=r"reports \['se_F'\].*fix: name figures among"):
        replace(BEATS, published=(Published("someone", {"se_F": 0.5}, test_patients=22),))
    assert slug("Llamedo & Martinez 2011") == "llamedo_martinez_2011"


def test_figures_read_as_aami_names():
    assert [figure_label(f) for f in ("accuracy", "se_S", "pp_V", "macro_f1")] == [
        "accuracy",
        "S Se",
        "V +P",
        "macro_f1",
    ]


def test_the_summary_reads_the_same_from_the_csv_the_comparison_logs(tmp_path):
    """`python -m ecgnet show` prints the published lines from the run's published.csv, not from the
    results: the file read back must say what the comparison said."""
    import polars as pl

    table = published_table(BEATS, "time", TEST, test_patients=22)
    table.write_csv(tmp_path / "published.csv")
    again = pl.read_csv(tmp_path / "published.csv", infer_schema_length=None)
    assert published_summary(again) == published_summary(table)
    assert published_metrics(again) == published_metrics(table)
