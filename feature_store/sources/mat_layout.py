"""What a WFDB `.mat` signal file really stores, read from its MATLAB header alone.

WFDB reads a `.mat` as raw samples after the byte offset its header gives, in the format its header
gives: nothing in the file is consulted. A header that says 212 over int16 values, a transposed
matrix or a wrong offset therefore reads as plausible-looking garbage. The MATLAB header says how the
matrix is stored (element type, shape, where the numbers start), so the two can be compared before a
sample is read. Level 4 files are what PhysioNet's `wfdb2mat` writes (CinC 2017/2020/2021); level 5
is what wfdb-python's `wfdb_to_mat` writes. Only the header is read (at most a few hundred bytes).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# level 4 precision digit P of the type code MOPT
_V4_PRECISION = {0: "f8", 1: "f4", 2: "i4", 3: "i2", 4: "u2", 5: "u1"}
# level 5 data element types (miINT8 ... miDOUBLE, miINT64, miUINT64)
_V5_ELEMENT = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8"}
_MI_INT32, _MI_MATRIX, _MI_COMPRESSED = 5, 14, 15


@dataclass(frozen=True)
class MatLayout:
    """The first matrix of a `.mat` file: element type (byte order included), rows x columns, and the
    byte offset of its first element. `compressed`: a level 5 compressed element (no raw samples)."""

    dtype: np.dtype
    rows: int
    cols: int
    data_offset: int
    compressed: bool = False


class NotMatFile(ValueError):
    """The file does not start with a MATLAB level 4 or level 5 header."""


# the WFDB format that reads each stored element type as it is stored
_WFDB_FORMAT = {"<i2": "16", ">i2": "61", "<u2": "160", "<i4": "32", "|u1": "80", "|i1": "8"}


def read_mat_layout(file: Path) -> MatLayout:
    with open(file, "rb") as f:
        head = f.read(512)
    try:
        if len(head) >= 128 and head[:6] == b"MATLAB" and head[126:128] in (b"IM", b"MI"):
            return _level5(head)
        return _level4(head)
    except struct.error as err:
        raise NotMatFile(f"MATLAB header cut short ({err})") from None


def wfdb_format(dtype: np.dtype) -> str | None:
    """The WFDB signal format that reads elements of `dtype` unchanged, or None (floats, 64-bit)."""
    return _WFDB_FORMAT.get(dtype.str)


def _level4(head: bytes) -> MatLayout:
    if len(head) < 20:
        raise NotMatFile(f"{len(head)} bytes, shorter than a MATLAB level 4 header (20)")
    for order in "<>":
        kind, rows, cols, imag, name_len = struct.unpack(order + "5i", head[:20])
        machine, rest = divmod(kind, 1000)
        zero, rest = divmod(rest, 100)
        precision, matrix_type = divmod(rest, 10)
        if 0 <= kind < 5000 and machine in (0, 1) and zero == 0 and precision in _V4_PRECISION:
            if (machine == 1) != (order == ">") or matrix_type != 0 or imag not in (0, 1):
                continue
            if rows < 0 or cols < 0 or not 0 < name_len < 64:
                continue
            return MatLayout(np.dtype(order + _V4_PRECISION[precision]), rows, cols, 20 + name_len)
    raise NotMatFile("not a MATLAB level 4 header (type code, sizes or name length out of range)")


def _level5(head: bytes) -> MatLayout:
    order = "<" if head[126:128] == b"IM" else ">"
    pos = 128
    tag_type, size = struct.unpack(order + "2I", head[pos : pos + 8])
    if tag_type == _MI_COMPRESSED:
        return MatLayout(np.dtype("u1"), 0, 0, 0, compressed=True)
    if tag_type != _MI_MATRIX:
        raise NotMatFile(f"level 5 file whose first element is type {tag_type}, not a matrix")
    pos += 8
    pos = _skip_element(head, pos, order)  # array flags
    dims_type, dims_size = struct.unpack(order + "2I", head[pos : pos + 8])
    if dims_type != _MI_INT32 or dims_size != 8:
        raise NotMatFile("level 5 matrix that is not two-dimensional")
    rows, cols = struct.unpack(order + "2i", head[pos + 8 : pos + 16])
    pos = _skip_element(head, pos, order)  # dimensions
    pos = _skip_element(head, pos, order)  # name
    data_type, _ = _tag(head, pos, order)
    if data_type not in _V5_ELEMENT:
        raise NotMatFile(f"level 5 matrix with data element type {data_type}")
    return MatLayout(np.dtype(order + _V5_ELEMENT[data_type]), rows, cols, pos + 8)


def _tag(head: bytes, pos: int, order: str) -> tuple[int, int]:
    if pos + 8 > len(head):
        raise NotMatFile("level 5 header longer than expected")
    word = struct.unpack(order + "I", head[pos : pos + 4])[0]
    if word >> 16:  # small data element: size in the upper half, data in the tag's second word
        return word & 0xFFFF, word >> 16
    return word, struct.unpack(order + "I", head[pos + 4 : pos + 8])[0]


def _skip_element(head: bytes, pos: int, order: str) -> int:
    word = struct.unpack(order + "I", head[pos : pos + 4])[0]
    if word >> 16:
        return pos + 8
    _, size = _tag(head, pos, order)
    return pos + 8 + (size + 7) // 8 * 8
