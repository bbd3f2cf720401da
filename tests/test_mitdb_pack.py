"""The compact MIT-BIH copy for the GPU machines gives back the published files byte for byte."""

import bz2
import json

import numpy as np
import pytest

from benchmarks.mitdb_pack import pack, unpack
from tests.records import MITDB, copy_record


@pytest.fixture
def packed(tmp_path):
    src = tmp_path / "src"
    for name in ("100", "232"):
        copy_record(MITDB / name, src)
    pack(src, tmp_path / "pack", skip={"232"})
    return src, tmp_path / "pack"


def test_unpack_restores_every_file_exactly(packed, tmp_path):
    src, pack_dir = packed
    assert unpack(pack_dir, tmp_path / "out") == ["100"]  # 232 was skipped
    for suffix in (".hea", ".dat", ".atr"):
        assert (tmp_path / "out" / f"100{suffix}").read_bytes() == (src / f"100{suffix}").read_bytes()
    packed_bytes = sum(f.stat().st_size for f in pack_dir.glob("100.*"))
    assert packed_bytes < 0.5 * (src / "100.dat").stat().st_size


def test_a_damaged_pack_names_the_record(packed, tmp_path):
    _, pack_dir = packed
    blob = pack_dir / "100.diff.bz2"
    entry = json.loads((pack_dir / "manifest.json").read_text())["100"]
    diffs = np.frombuffer(bz2.decompress(blob.read_bytes()), dtype=entry["dtype"]).copy()
    diffs[1000] += 1  # one sample step off
    blob.write_bytes(bz2.compress(diffs.tobytes()))
    with pytest.raises(ValueError, match=r"100\.dat: unpacked signal differs.*pack 100 again"):
        unpack(pack_dir, tmp_path / "out")
