"""The GPU benchmark's own logic, with NumPy standing in for CuPy: it runs only on a GPU machine, where
a Python mistake would cost device time. The CUDA calls themselves are not exercised here."""

from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks import gpu as bench
from feature_store.backend import Backend, numpy_backend


class _Runtime:
    """The two cudaDevAttr queries the benchmark makes, with an H100 SXM's answers."""

    cudaDevAttrMemoryClockRate, cudaDevAttrGlobalMemoryBusWidth = 36, 37

    @staticmethod
    def getDeviceProperties(device):
        return {"name": b"stand-in"}

    @staticmethod
    def deviceGetAttribute(attr, device):
        return {36: 2_619_000, 37: 5120}[attr]  # kHz, bits


@pytest.fixture(scope="module")
def beats():
    return bench.beat_windows(bench.SAMPLE_MITDB)[:600]


@pytest.fixture
def stand_in():
    xp = SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
    xp.__name__ = "numpy"  # signal_module(xp) -> scipy.signal
    null_stream = SimpleNamespace(synchronize=lambda: None)
    xp.cuda = SimpleNamespace(runtime=_Runtime, Stream=SimpleNamespace(null=null_stream))
    return Backend("numpy", xp, np.asarray, 256)


def test_the_comparison_times_every_family_and_checks_agreement(beats, capsys):
    assert bench.compare(beats, numpy_backend())
    rows = [line for line in capsys.readouterr().out.splitlines() if "agree to 1e-4" in line]
    assert [r.split()[0] for r in rows] == ["time", "spectral", "spectrogram"]
    assert all("agree to 1e-4: yes" in r for r in rows)


def test_the_comparison_reports_a_disagreeing_device(beats, capsys):
    off = Backend("numpy", np, lambda a: np.asarray(a) + 1e-2, 2048)  # every output 0.01 away
    assert not bench.compare(beats, off)
    assert capsys.readouterr().out.count("agree to 1e-4: NO") == 3


def test_peak_bandwidth_comes_from_the_memory_clock_and_bus(stand_in):
    name, peak = bench.peak_bandwidth(stand_in.xp)
    assert name == "stand-in" and peak == pytest.approx(3.352e12, rel=1e-3)  # H100 SXM: 3.35 TB/s


def test_the_scaled_run_prints_a_row_per_size(beats, stand_in, capsys, monkeypatch):
    monkeypatch.setattr(bench, "copy_bandwidth", lambda xp: 1e12)  # a 2 GB copy is a GPU's job
    bench.scaled_spectrogram(beats, stand_in, rows=1200)
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines if line[:10].strip().replace(",", "").isdigit()]
    assert [int(r[0].replace(",", "")) for r in rows] == [150, 300, 600, 1200]
    assert all(float(r[1]) > 0 for r in rows)
