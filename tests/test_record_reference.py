"""A multi-label task's record against the diagnosis it states (`predict --task records --reference`): read
as the ingest lands it, from the header (the Challenge's `# Dx:`, PTB Diagnostic's reason for admission)
or the PTB-XL row above it; figures called at 0.5, as the comparison's test figures are."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgnet.record_reference import LabelAgreement
from ecgnet.reference import check_reference
from ecgnet.reference_report import comparison_from_json, report, summed
from feature_store.sources.stated_labels import stated_labels
from feature_store.tasks import BEATS, RECORDS
from feature_store.workspace import SAMPLE_DATA
from tests.records import CINC, ptbxl_folder


def test_a_records_stated_diagnosis_is_read_as_the_ingest_lands_it(tmp_path):
    assert stated_labels(CINC / "HR06000") == (["NORM"], str(CINC / "HR06000.hea"))  # `# Dx:` SNOMED CT codes
    patient = SAMPLE_DATA / "ptb-diagnostic" / "patient001" / "s0010_re"
    assert stated_labels(patient)[0] == ["MI"]  # PTB Diagnostic's reason for admission
    with pytest.raises(ValueError, match="100.hea: states no diagnosis"):
        stated_labels(SAMPLE_DATA / "mitdb" / "100")
    # PTB-XL's records (the Challenge's HR records with their real table rows): the row, at either rate,
    # before the header's own `# Dx:` line (the Challenge's relabelling)
    root = ptbxl_folder(tmp_path / "ptbxl", range(6000, 6002))
    from feature_store.config import IngestConfig
    from feature_store.sources.ptbxl import row_labels
    from feature_store.sources.registry import discover

    landed = {ref.path: row_labels(ref)[0] for ref in discover([root], IngestConfig())["ptbxl"]}
    for ecg_id in (6000, 6001):
        for record in (
            root / "records500" / "06000" / f"{ecg_id:05d}_hr",
            root / "records100" / "06000" / f"{ecg_id:05d}_lr",
        ):
            labels, source = stated_labels(record)
            assert source == f"{root / 'ptbxl_database.csv'} (ecg_id {ecg_id})"
            assert labels == landed[root / "records100" / "06000" / f"{ecg_id:05d}_lr"]
    with pytest.raises(ValueError, match="states no diagnosis"):  # a table outside the folder given is not read
        stated_labels(root / "records100" / "06000" / "06000_lr", root / "records100")


def test_records_are_called_at_one_half_and_read_by_class_and_together():
    """Three records: NORM called NORM; MI+STTC called MI alone (STTC missed); nothing stated, HYP called."""
    classes = RECORDS.classes  # NORM, MI, STTC, CD, HYP
    probs = np.array([[0.9, 0.1, 0.2, 0.1, 0.1], [0.2, 0.7, 0.4, 0.1, 0.1], [0.1, 0.1, 0.1, 0.2, 0.6]])
    truth = np.array([[1, 0, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 0, 0, 0]])
    each = [LabelAgreement(classes, probs[i : i + 1], truth[i : i + 1]) for i in range(3)]
    assert each[0].line(RECORDS, "a.hea") == "against a.hea: stated NORM, called NORM (agrees)"
    assert each[1].line(RECORDS, "b.hea") == "against b.hea: stated MI+STTC, called MI (disagrees)"
    assert each[2].reference_column() == ["none of the classes"]
    gross = each[0] + each[1] + each[2]
    assert summed(each).records == gross.records == 3 and gross.counts() == {
        "labels": 3,
        "called": 3,
        "missed": 1,
        "extra": 1,
    }
    figures = gross.figures(RECORDS)
    assert (figures["se_STTC"], figures["pp_MI"], figures["pp_HYP"], figures["exact_match"]) == (0.0, 1.0, 0.0, 1 / 3)
    assert np.isnan(figures["se_CD"]) and np.isnan(figures["pp_CD"])  # neither stated nor called
    assert figures["macro_auc"] == pytest.approx(1.0)  # each stated class ranked above the records without it
    table = report([("a", each[0]), ("b", each[1]), ("c", each[2])], RECORDS)
    assert table["record"].to_list() == ["a", "b", "c", "gross", "average"]
    assert table["missed"].to_list() == [0, 1, 0, 1, None] and table["exact_match"].to_list()[3] == pytest.approx(1 / 3)
    assert "macro-AUC 1.000" in gross.line(RECORDS, "the references of 3 record(s), summed")
    kept = comparison_from_json(json.loads(json.dumps(gross.to_json())))  # as the inbox keeps it
    assert kept.line(RECORDS, "x") == gross.line(RECORDS, "x") and kept.records == 3


def test_a_reference_is_asked_of_a_task_only_as_it_can_read_one():
    check_reference(RECORDS, "atr")  # the records' stated diagnosis
    with pytest.raises(ValueError, match="--reference ref: the records task reads each record's stated diagnosis"):
        check_reference(RECORDS, "ref")
    check_reference(BEATS, "ref")  # a cardiologist's annotations beside the device's


def test_a_shared_table_is_read_once_while_it_is_unchanged_and_again_once_edited(tmp_path):
    import os

    from feature_store.sources.files import while_unchanged

    table, reads = tmp_path / "REFERENCE.csv", []
    table.write_text("A00001,N\n")

    def read(path):
        reads.append(path)
        return path.read_text()

    lines = while_unchanged(read)
    assert lines(table) == lines(table) == "A00001,N\n" and len(reads) == 1
    table.write_text("A00001,A\n")
    os.utime(table, ns=(1, 1))  # edited: another modification time, whatever the clock's resolution
    assert lines(table) == "A00001,A\n" and len(reads) == 2
    with pytest.raises(OSError):
        lines(tmp_path / "missing.csv")
