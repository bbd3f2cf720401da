"""Dependencies point pipelines -> ecgnet -> feature_store, never back; the sample is small and real."""

import ast
from pathlib import Path

import pytest

from feature_store.workspace import PROJECT_ROOT, SAMPLE_DATA

FORBIDDEN = {"feature_store": {"dagster", "torch", "ecgnet", "pipelines", "mlflow"}, "ecgnet": {"dagster", "pipelines"}}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependencies_point_one_way(package):
    offenders = {
        str(p.relative_to(PROJECT_ROOT)): sorted(_imports(p) & FORBIDDEN[package])
        for p in (PROJECT_ROOT / package).rglob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_sample_data_is_small_and_has_provenance():
    files = [p for p in SAMPLE_DATA.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 20 * 2**20
    provenance = (SAMPLE_DATA / "PROVENANCE.md").read_text()
    folders = sorted(p.name for p in SAMPLE_DATA.iterdir() if p.is_dir())
    assert len(folders) >= 7 and not [f for f in folders if f"`{f}/" not in provenance]  # a row for every folder


def _source_text() -> dict[str, str]:
    """Every module of the three packages and the benchmarks, by path, with whitespace removed."""
    return {
        str(p.relative_to(PROJECT_ROOT)): "".join(p.read_text().split())
        for package in ("feature_store", "ecgnet", "pipelines", "benchmarks")
        for p in (PROJECT_ROOT / package).rglob("*.py")
    }


def test_each_task_is_defined_in_one_place():
    """A task's classes, metric and gate minimum are written once: in its spec."""
    from feature_store.tasks import TASKS

    text = _source_text()
    for spec in TASKS.values():
        facts = (repr(spec.classes).replace("'", '"'), f'metric="{spec.metric}"', f"gate_min={spec.gate_min}")
        for fact in facts:
            places = [path for path, source in text.items() if "".join(fact.split()) in source]
            assert places == ["feature_store/tasks.py"], (spec.name, fact, places)
        # no module but the spec compares against a task's name or looks a task up by it
        named = [path for path, source in text.items() if f'=="{spec.name}"' in source or f'["{spec.name}"]' in source]
        assert not named, (spec.name, named)


def test_the_code_location_loads_without_torch_mlflow_scikit_learn_matplotlib_scipy_wfdb_or_pandas():
    """Every process that loads the Dagster definitions (the UI's code server, the daemon, each run
    worker) imports pipelines.definitions; the training steps import the science when they run, the
    feature transforms scipy.signal when they compute, the record readers wfdb (and with it pandas) when
    they read, and the object-store scan pyarrow's datasets (pandas again), so a process that does none
    of that never pays for them (about 7 of 9 s a load on 2 cores, benchmarks/code_location.py)."""
    import subprocess
    import sys

    heavy = (
        "torch",
        "mlflow",
        "sklearn",
        "matplotlib",
        "captum",
        "scipy",
        "wfdb",
        "edfio",
        "pandas",
        "pyarrow.dataset",
    )
    probe = f"import sys, pipelines.definitions; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
