"""The GPU benchmark's own logic, with NumPy standing in for CuPy: it runs only on a GPU machine, where
a Python mistake would cost device time. The CUDA calls themselves are not exercised here."""

from types import ModuleType, SimpleNamespace

import numpy as np
import pytest
import wfdb

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
    null_stream = SimpleNamespace(synchronize=lambda: None)
    cuda = SimpleNamespace(runtime=_Runtime, Stream=SimpleNamespace(null=null_stream))
    xp = ModuleType("numpy")  # Backend.xp is a module; by this name signal_module(xp) -> scipy.signal
    vars(xp).update({k: getattr(np, k) for k in dir(np) if not k.startswith("__")}, cuda=cuda)
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


BLOCK_STACK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("polars", "dagster", "mlflow", "pyarrow", "captum"):
            raise ImportError(f"{name} is not on the lent GPU machines")
sys.meta_path.insert(0, Block())
"""


def test_the_gpu_check_imports_without_polars_mlflow_or_dagster():
    """The lent GPU machines have none of them (and polars' wheel does not fit in a call): an import
    of one on the GPU check's path would cost a device run to find."""
    import subprocess
    import sys

    from feature_store.workspace import PROJECT_ROOT

    modules = "benchmarks.gpu, benchmarks.gpu_training, benchmarks.mitdb_pack, tests.test_gpu"
    done = subprocess.run(
        [sys.executable, "-c", f"{BLOCK_STACK}\nimport {modules}\nprint('imported')"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "imported" in done.stdout, done.stderr[-2000:]


def test_gpu_training_times_and_reports_on_cpu():
    """The GPU training check's steps, on the CPU and the bundled sample (the device run cannot be
    the first place its Python runs)."""
    from benchmarks.beat_arrays import beat_task_data, beat_views, read_beats
    from benchmarks.gpu_training import TRAINABLE, comparison, one_epoch, report
    from ecgnet.config import ComparisonConfig, TrainConfig
    from ecgnet.variants import VARIANTS
    from feature_store.workspace import SAMPLE_DATA

    rows = read_beats(SAMPLE_DATA / "mitdb", records={"209", "220", "232"})  # two DS1 patients and a DS2 one
    data = beat_task_data(rows, beat_views(rows, numpy_backend())[0])
    train, val, test = (data.split(s).take(np.arange(400)) for s in ("train", "val", "test"))
    small = data.__class__(data.spec, train, val, test, {})
    assert set(one_epoch(small, "cpu")) == set(TRAINABLE)
    cfg = ComparisonConfig(train=TrainConfig(epochs=1, device="cpu", batch_size=64), n_boot=5, explain=None)
    results, seconds = comparison(small, cfg)
    summary = report(results, small, cfg, seconds, "cpu")
    assert set(summary["variants"]) == set(VARIANTS) and summary["chosen"] in VARIANTS


def test_tiles_are_renamed_copies_that_ingest_as_new_records(tmp_path):
    from benchmarks.scale import Measured, table
    from benchmarks.tiles import tile
    from feature_store.config import IngestConfig
    from feature_store.ingest import ingest_kind
    from feature_store.raw_store import RawStore
    from feature_store.sources.registry import discover
    from tests.records import MITDB

    assert tile(MITDB, 3, tmp_path / "src", skip=("208", "209", "220", "223")) == 6  # 100 and 232, three times
    names = sorted(p.stem for p in (tmp_path / "src").glob("*.hea"))
    assert names == ["100", "100c1", "100c2", "232", "232c1", "232c2"]
    assert (tmp_path / "src" / "232c2.dat").stat().st_ino == (MITDB / "232.dat").stat().st_ino  # linked
    cfg, store = IngestConfig(), RawStore(tmp_path / "store")
    report = ingest_kind("annotated", discover([tmp_path / "src"], cfg)["annotated"], store, cfg)
    assert report.record_ids == tuple(names) and not report.quarantined
    beats = store.scan_beats().group_by("record_id").len().sort("record_id").collect()["len"].to_list()
    assert beats[:3] == [beats[0]] * 3 and beats[3:] == [beats[3]] * 3  # each copy holds its record's beats
    rows = [Measured("1x", 2, 1000, 2.0, 0.5), Measured("10x", 20, 10000, 26.0, 0.6)]
    assert "| 10x | 20 | 10,000 | 26 | 2600 | 1.30x | 0.60 |" in table(rows, rows[0])


def test_the_code_location_benchmark_prints_each_load_and_the_ratio_to_the_baseline(capsys):
    from benchmarks import code_location

    code_location.main(["--repeats", "1"])
    out = capsys.readouterr().out.splitlines()
    now, readers, before = (float(line.split(": ")[-1].split(" s")[0]) for line in out[:3])
    assert out[0].startswith("code location (pipelines.definitions): ") and "baseline" in out[2]
    assert "wfdb" in out[1] and readers > 0
    ratio = float(out[3].removeprefix("load time, baseline / now: ").removesuffix("x"))
    assert ratio == pytest.approx(before / now, rel=0.01) and before > now > 0


def test_the_long_record_is_real_records_end_to_end_with_their_beats(tmp_path):
    from benchmarks.long_record import long_record
    from tests.records import MITDB

    record = long_record(MITDB, 1.1, tmp_path)  # the sample's whole MLII + V1 records: 208, 209, 220, 223, 232
    head, ann = wfdb.rdheader(str(record)), wfdb.rdann(str(record), "atr")
    assert head.sig_name == ["MLII", "V1"] and head.fs == 360
    used = ["208", "209", "220"]  # 30 minutes each, in order, until 1.1 h, cut to whole seconds
    assert head.sig_len == 3 * 650_000 // 360 * 360
    parts = [wfdb.rdann(str(MITDB / r), "atr") for r in used]
    beyond = int((parts[-1].sample >= head.sig_len - 2 * 650_000).sum())  # the beats of the last 0.67 s
    assert len(ann.sample) == sum(len(p.sample) for p in parts) - beyond and beyond <= 2
    assert ann.sample[len(parts[0].sample)] == 650_000 + parts[1].sample[0]  # the next record's beats, moved on
    assert ann.symbol == [s for p in parts for s in p.symbol][: len(ann.sample)]
    signal = wfdb.rdrecord(str(record), sampfrom=650_000, sampto=650_100).p_signal
    np.testing.assert_allclose(signal, wfdb.rdrecord(str(MITDB / "209"), sampto=100).p_signal, atol=0.01)
