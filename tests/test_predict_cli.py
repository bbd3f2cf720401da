"""What `python -m ecgnet predict` takes from a user before it scores anything: a record named by one of its
files, a row count that cannot slice from the end, an --out format it can write; and what it says while a
long record goes through."""

import logging
import shutil

import pytest

from ecgnet.__main__ import main as ecgnet_main
from ecgnet.predict import record_path, records_in
from feature_store.views.catalog import ViewInput
from tests.records import MITDB, SAMPLE_DATA

EXCERPT = SAMPLE_DATA / "mitdb-excerpt"


def test_a_record_named_by_its_header_or_signal_file_is_the_record(tmp_path):
    assert (
        record_path(MITDB / "100.hea") == record_path(MITDB / "100.dat") == record_path(MITDB / "100") == MITDB / "100"
    )
    assert records_in(MITDB / "100.atr") == ([MITDB / "100"], [])
    assert record_path(tmp_path / "nope.hea") == tmp_path / "nope.hea"  # no header there: refused later, as given


def test_a_negative_row_count_and_an_unwritable_table_format_stop_before_scoring(tmp_path, capsys):
    with pytest.raises(SystemExit) as bad:
        ecgnet_main(["predict", str(MITDB / "100"), "--rows", "-3"])  # it used to print all rows but the last 3
    assert bad.value.code == 2 and "'-3': a whole number of at least 0" in capsys.readouterr().err
    home = tmp_path / "home"
    home.mkdir()
    out = tmp_path / "scores.txt"
    assert ecgnet_main(["predict", str(MITDB / "100"), "--home", str(home), "--out", str(out)]) == 2
    said = capsys.readouterr().err
    assert "scores.txt: --out writes .csv or .parquet" in said and "champion" not in said  # before the model


def test_a_long_record_is_followed_step_by_step_in_the_log_and_a_short_one_is_not(tmp_path, monkeypatch, caplog):
    from feature_store.views import online

    for ext in ("hea", "dat"):  # without its .atr: the beats are detected, the step a Holter waits longest on
        shutil.copy(EXCERPT / f"233.{ext}", tmp_path / f"233.{ext}")
    spec = ViewInput(fs=360.0, samples=720, crop=(270, 522), lead_names=("MLII", "V1"), unit="beat")
    with caplog.at_level(logging.INFO, logger=online.log.name):
        online.record_input(tmp_path / "233", spec, task="beats")  # 3 minutes: under LONG_RECORD_S
        assert not caplog.messages
        monkeypatch.setattr(online, "LONG_RECORD_S", 60.0)
        inp = online.record_input(tmp_path / "233", spec, task="beats")
    read, detecting, beats = caplog.messages
    assert read.startswith(f"{tmp_path / '233'}: 0.1 h at 360 Hz, 2 lead(s), read in")
    assert detecting.endswith("no beat annotations; detecting the beats of its 0.1 h (GQRS, minutes)")
    assert beats.endswith(f": {len(inp.keys)} beats; making their features")


def test_a_record_over_the_limit_is_followed_section_by_section_in_the_log(tmp_path, monkeypatch, caplog):
    """233's first 3 minutes under a limit of three 60 s sections (and their 12 s margins): the beats task
    says each section of each of its reads, the one a Holter waits longest on first."""
    from feature_store.views import online, sectioned_beats

    for ext in ("hea", "dat", "atr"):
        shutil.copy(EXCERPT / f"233.{ext}", tmp_path / f"233.{ext}")
    spec = ViewInput(fs=360.0, samples=720, crop=(270, 522), lead_names=("MLII", "V1"), unit="beat")
    monkeypatch.setenv("ECGNET_MAX_RECORD_VALUES", str(2 * (21_600 + 2 * 4_320)))
    sections = online.record_sections(tmp_path / "233", "beats")
    assert sections is not None
    with caplog.at_level(logging.INFO, logger=sectioned_beats.log.name):
        found = sectioned_beats.record_beats(tmp_path / "233", spec, "beats", sections, (0.0,))
    assert len(caplog.messages) == 6 and len(found.pick_rows) == len(found.r_peak)  # under 1,000 beats: every one
    assert caplog.messages[0].startswith(f"{tmp_path / '233'}: section 1 of 3 (0:00:00-0:01:00): ")
    assert caplog.messages[0].endswith("beats annotated (1 of 3 reads: the record's beats)")
    assert caplog.messages[-1].endswith("of its median beats' beats (2 of 3 reads)")


def test_a_records_ectopic_beats_are_counted_with_their_pairs_and_runs():
    """MIT-BIH 223's own beat labels read as predictions: its 473 V beats, their share, the pairs and runs of
    consecutive V beats a plain walk over the beats finds, and the longest run's length, rate and start;
    a pause longer than `RUN_GAP_S` inside a run splits it (the beats between were not scored)."""
    import itertools

    import numpy as np
    import wfdb

    from ecgnet.predict import RUN_GAP_S, ectopy_line
    from feature_store.sources.annotated import AAMI, read_beats
    from feature_store.sources.base import clock

    classes = ["N", "S", "V", "F", "Q"]
    samples, symbols = read_beats(wfdb.rdann(str(MITDB / "223"), "atr"), 360.0)
    predicted, onsets = np.array([classes.index(AAMI[s]) for s in symbols]), samples / 360.0
    runs = [len(list(group)) for key, group in itertools.groupby(predicted == 2) if key]
    longest = max(runs)
    start = next(i for i in range(len(predicted)) if all(predicted[i : i + longest] == 2))
    rate = 60 * (longest - 1) / (onsets[start + longest - 1] - onsets[start])
    line = ectopy_line(predicted, classes, "V", onsets)
    assert line.startswith("V: 473 beat(s), 18.2% of those scored; ")
    assert f"{runs.count(2)} pair(s), {sum(n >= 3 for n in runs)} run(s) of 3 or more" in line
    assert line.endswith(f"the longest {longest} beats at {rate:.0f} a minute from {clock(float(onsets[start]))}")
    paused = onsets.copy()
    paused[start + 5 :] += RUN_GAP_S  # beats not scored for a while, five beats into the run
    assert f"the longest {longest - 5} beats" in ectopy_line(predicted, classes, "V", paused)
    # a beat inside the run not scored (a dropout): its row left out, the beat numbers say so, not the time
    numbers = np.delete(np.arange(len(predicted)), start + 5)
    kept = lambda a: np.delete(a, start + 5)  # noqa: E731
    split = ectopy_line(kept(predicted), classes, "V", kept(onsets), numbers)
    assert f"the longest {longest - 6} beats" in split and f"the longest {longest - 1} beats" in ectopy_line(
        kept(predicted), classes, "V", kept(onsets)
    )
    assert ectopy_line(predicted, classes, "Q", onsets) == "Q: no beat predicted"
    # a record that says when it began (an EDF export does): the run's time of day as well
    import datetime as dt

    began = dt.datetime(2026, 3, 14, 23, 55, 0)
    dated = ectopy_line(predicted, classes, "V", onsets, start=began)
    at = began + dt.timedelta(seconds=float(onsets[start]))
    assert dated == line + f", {at:%Y-%m-%d %H:%M:%S}" and at.date() != began.date()  # past midnight: the date


def test_a_records_beats_over_time_are_its_rate_and_its_beats_of_each_class_per_bin():
    """MIT-BIH 223's own labels read as predictions: minute bins over its 30 minutes, every beat in one, the
    rate of a bin the median of the intervals ending in it (a pause of more than twice `RUN_GAP_S` left out,
    and, given the beat numbers, the span across beats a dropout left unscored), and the picture drawn."""
    import numpy as np
    import wfdb

    from ecgnet.plots import beat_timeline_png
    from ecgnet.predict import beat_trend
    from feature_store.sources.annotated import AAMI, read_beats

    classes = ["N", "S", "V", "F", "Q"]
    samples, symbols = read_beats(wfdb.rdann(str(MITDB / "223"), "atr"), 360.0)
    predicted, onsets = np.array([classes.index(AAMI[s]) for s in symbols]), samples / 360.0
    trend = beat_trend(onsets, predicted, len(classes))
    assert len(trend.edges_s) == 32 and trend.edges_s[1] == 60.0 and trend.counts.sum() == len(onsets)
    assert trend.counts.sum(axis=0).tolist() == np.bincount(predicted, minlength=5).tolist()
    ending = (onsets[1:] >= 600) & (onsets[1:] < 660)  # the 11th minute: a run of V beats at 106 a minute
    assert trend.rate_bpm[10] == 60 / np.median(np.diff(onsets)[ending]) and 90 < trend.rate_bpm[10] < 130
    paused = onsets.copy()
    paused[onsets >= 630] += 3.5  # a pause of over 3.5 s: not an interval of the rate
    rr, ending = np.diff(paused), (paused[1:] >= 600) & (paused[1:] < 660)
    assert (rr[ending] > 3.5).sum() == 1
    rate = beat_trend(paused, predicted, 5).rate_bpm[10]
    assert rate == 60 / np.median(rr[ending & (rr <= 3.0)]) != 60 / np.median(rr[ending])
    # dropouts left every other beat of 40 s unscored: the spans across them (each under 3 s) are no interval
    numbers = np.arange(len(onsets))
    scored = ~((onsets >= 610) & (onsets < 650) & (numbers % 2 == 1))
    gapped = beat_trend(onsets[scored], predicted[scored], 5, numbers[scored])
    both = scored[1:] & scored[:-1]  # the intervals of consecutive beats, both scored
    minute = (onsets[1:] >= 600) & (onsets[1:] < 660)
    assert gapped.rate_bpm[10] == 60 / np.median(np.diff(onsets)[minute & both])
    kept, at = onsets[scored], (onsets[scored][1:] >= 600) & (onsets[scored][1:] < 660)
    assert (np.diff(kept)[at] <= 3.0).all()  # so only the beat numbers tell them from intervals
    assert beat_trend(kept, predicted[scored], 5).rate_bpm[10] == 60 / np.median(np.diff(kept)[at])
    assert 60 / np.median(np.diff(kept)[at]) < 0.8 * gapped.rate_bpm[10]
    assert gapped.rate_bpm[9] == trend.rate_bpm[9] and gapped.counts.sum() == scored.sum()
    png = beat_timeline_png(trend.edges_s, trend.rate_bpm, trend.counts, classes, "223")
    assert png.startswith(b"\x89PNG")
    # the reference's beats (here the scored ones) in the same bins as another trend's, drawn over it
    same_bins = beat_trend(onsets[scored], predicted[scored], 5, None, trend.edges_s)
    assert (same_bins.edges_s == trend.edges_s).all() and same_bins.counts.sum() == scored.sum()
    drawn = beat_timeline_png(trend.edges_s, trend.rate_bpm, trend.counts, classes, "223", same_bins.counts)
    assert drawn.startswith(b"\x89PNG") and drawn != png


def test_a_record_read_in_sections_keeps_a_sample_of_each_predicted_class_for_its_explanation():
    """Rows scored section by section: up to `per_class` of each predicted class kept with their packed inputs,
    the same rows on a second read, each kept row's inputs its own."""
    import numpy as np

    from ecgnet.predict import SectionSample

    rng = np.random.default_rng(3)
    sections = [(rng.normal(size=(n, 4)), rng.dirichlet(np.ones(3) * 0.3, size=n)) for n in (40, 7, 0, 55)]
    packed, probs = np.concatenate([s[0] for s in sections]), np.concatenate([s[1] for s in sections])
    sample, first = SectionSample(per_class=5), 0
    for index, (x, p) in enumerate(sections):
        sample.add(x, p, first, index)
        first += len(x)
    assert sample.flat is not None and np.all(np.diff(sample.rows) > 0)
    np.testing.assert_array_equal(sample.flat, packed[sample.rows])
    kept = np.bincount(probs[sample.rows].argmax(axis=1), minlength=3)
    assert kept.tolist() == np.minimum(np.bincount(probs.argmax(axis=1), minlength=3), 5).tolist()
    again = SectionSample(per_class=5)
    for index, (x, p) in enumerate(sections):
        again.add(x, p, sum(len(s[0]) for s in sections[:index]), index)
    assert again.rows.tolist() == sample.rows.tolist()
