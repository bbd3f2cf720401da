"""The patient bootstrap of a comparison's test figures at MIT-BIH DS2's size, against scoring every draw's rows.

Baseline: what `evaluate` did before 2026-12-03 and what a user would write first: for each of the 200
draws, the drawn patients' rows gathered and every figure (five ROC-AUCs, F1s, the AAMI figures)
computed again with scikit-learn. The project reads each draw's confusion matrix off per-patient
matrices and its AUCs off ranks sorted once, weighted by how often each row's patient was drawn. Both
paths run on the same draws; the benchmark fails if any interval differs. Rows: DS2's size, class shares
and 22 patients; the probabilities are drawn at random (what is measured does not depend on them).
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import timer
from ecgnet.evaluate import bootstrap, evaluate, point_metrics
from feature_store.tasks import BEATS

DS2 = (44_259, 1_837, 3_221, 388, 7)  # its N, S, V, F and Q beats (de Chazal et al. 2004)
ROWS, PATIENTS, DRAWS = sum(DS2), 22, 200


def rows(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.repeat(np.arange(len(DS2)), DS2))
    probs = rng.dirichlet(np.ones(len(DS2)), ROWS).astype(np.float32)
    groups = np.sort(rng.choice([f"{100 + i}" for i in range(PATIENTS)], ROWS))
    return probs, y, groups


def main() -> None:
    probs, y, groups = rows()
    spec = BEATS
    t: dict[str, float] = {}
    args = (spec.classes, spec.multilabel, spec.focus_classes, spec.metric_classes)
    with timer(t, "every draw's rows scored again (baseline)"):
        slow = bootstrap(lambda r: point_metrics(probs[r], y[r], *args), groups, n_boot=DRAWS, seed=0)
    with timer(t, "per-patient confusions and weighted ranks"):
        fast = evaluate(probs, y, groups, spec, n_boot=DRAWS, seed=0)
    ends = np.array([(got.lo, got.hi) for got in fast.values()])
    baseline_ends = np.array([slow[k] for k in fast])
    assert np.array_equal(np.isnan(ends), np.isnan(baseline_ends)), "the two paths disagree on undefined figures"
    worst = float(np.nanmax(np.abs(ends - baseline_ends)))
    assert worst < 1e-9, f"the two paths disagree by {worst}"
    base = t["every draw's rows scored again (baseline)"]
    print(f"bootstrap of the test figures, {ROWS:,} rows, {PATIENTS} patients, {DRAWS} draws:")
    for name, seconds in t.items():
        print(f"  {name:45s} {seconds:7.2f} s   {base / seconds:6.1f}x")
    print(f"  largest difference between the two paths' interval ends: {worst:.1e}")


if __name__ == "__main__":
    main()
