"""How long a process takes to load the Dagster code location, and what the training steps add.

Every process that serves or runs the pipeline loads `pipelines.definitions` first: the UI's code
server (at `make ui` and at each "Reload definitions"), the daemon, and each run's worker before its
first step. Since 2026-12-06 the definitions import no torch, MLflow, scikit-learn, matplotlib or
scipy.signal (ecgnet.config, ecgnet.variants; the training assets import their steps when they run, the
feature transforms scipy.signal when they compute), and later the same day no wfdb, pandas or pyarrow
datasets either (the record readers and the object-store scan import them when they read); before, every
load paid for them, which is what a load followed by the training steps' imports still costs (the
baseline, measured in the same run). Each figure is the median of fresh interpreters, one at a time.

    python -m benchmarks.code_location [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from feature_store.workspace import PROJECT_ROOT

LOADS = {
    "code location (pipelines.definitions)": "import pipelines.definitions",
    "and the readers' wfdb and pyarrow's datasets, with pandas (a load before they moved into the reads)": (
        "import pipelines.definitions, wfdb, pyarrow.dataset"
    ),
    "baseline: and the training steps' imports (every load before 2026-12-06; a training run now)": (
        "import pipelines.definitions, wfdb, pyarrow.dataset, pipelines.assets.training_steps"
    ),
}


def seconds(statement: str, repeats: int) -> float:
    """Median wall time of `python -c statement` in a fresh interpreter."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], cwd=PROJECT_ROOT, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    figures = {name: seconds(statement, args.repeats) for name, statement in LOADS.items()}
    now, *_, before = figures.values()
    for name, value in figures.items():
        print(f"{name}: {value:.2f} s (median of {args.repeats})")
    print(f"load time, baseline / now: {before / now:.2f}x")


if __name__ == "__main__":
    main()
