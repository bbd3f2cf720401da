"""The MATLAB header of a WFDB .mat, read without reading its samples, as both writers in use write it."""

import numpy as np
import pytest
import wfdb
from scipy.io import loadmat, savemat
from wfdb.io.convert.matlab import wfdb_to_mat

from feature_store.sources.mat_layout import NotMatFile, read_mat_layout, wfdb_format
from tests.records import CINC, MITDB


def test_a_challenge_file_is_read_as_wfdb2mat_wrote_it():
    layout = read_mat_layout(CINC / "HR06001.mat")
    header = wfdb.rdheader(str(CINC / "HR06001"))
    assert (layout.rows, layout.cols) == (header.n_sig, header.sig_len)
    assert layout.data_offset == header.byte_offset[0] == 24
    assert wfdb_format(layout.dtype) == header.fmt[0] == "16"


def test_a_level5_file_from_wfdb_python_agrees_with_the_header_it_writes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # wfdb_to_mat writes beside the working directory
    wfdb_to_mat(str(MITDB / "100"), sampto=1000)
    layout = read_mat_layout(tmp_path / "100m.mat")
    header = wfdb.rdheader(str(tmp_path / "100m"))
    assert (layout.rows, layout.cols) == (header.n_sig, header.sig_len) == (2, 1000)
    assert layout.data_offset == header.byte_offset[0]
    assert wfdb_format(layout.dtype) == header.fmt[0]


@pytest.mark.parametrize("dtype", ["int16", "int32", "uint8", "float64", "float32", "uint16"])
def test_the_element_type_is_what_was_saved(tmp_path, dtype):
    values = loadmat(CINC / "HR06001.mat")["val"][:, :100].astype(dtype)
    savemat(tmp_path / "x.mat", {"val": values}, format="4")
    layout = read_mat_layout(tmp_path / "x.mat")
    assert layout.dtype == np.dtype(dtype) and (layout.rows, layout.cols) == (12, 100)
    # the samples start where the layout says: the raw bytes there are the matrix, column by column
    raw = np.fromfile(tmp_path / "x.mat", dtype=layout.dtype, offset=layout.data_offset)
    assert np.array_equal(raw, values.flatten(order="F"))
    assert wfdb_format(layout.dtype) == {"int16": "16", "int32": "32", "uint8": "80", "uint16": "160"}.get(dtype)


def test_a_compressed_level5_matrix_is_flagged(tmp_path):
    savemat(tmp_path / "z.mat", {"val": np.zeros((2, 50), np.int16)}, do_compression=True)
    assert read_mat_layout(tmp_path / "z.mat").compressed


@pytest.mark.parametrize("content", [b"", b"abc", b"\xff" * 40, b"MATLAB 5.0" + b" " * 20])
def test_bytes_that_are_no_matlab_header_say_so(tmp_path, content):
    (tmp_path / "n.mat").write_bytes(content)
    with pytest.raises(NotMatFile):
        read_mat_layout(tmp_path / "n.mat")
