"""Per-record prior adaptation, tried on DS1 out-of-fold probabilities: does re-estimating each
record's class mix from its own (unlabelled) beats help?

DS2's record 232 is three quarters S beats, where every DS1 record is mostly N; a classifier's
posteriors assume the class mix it was trained on. The EM of Saerens et al. (2002) re-estimates a
record's priors from the model's posteriors of its beats and reweights them: p'(c|x) ~ p(c|x) pi_r(c) /
pi_ref(c), pi_r the mean of p' over the record. It needs no labels and no retraining, only the record's
beats, as the record-relative features already do. `alpha` is a Dirichlet pull towards pi_ref worth
that many beats (0: plain EM). Reads what `python -m benchmarks.ablations --save-oof DIR` wrote.

    python -m benchmarks.prior_shift DIR/NN.npz [...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.ablations import false_s_by_record, figures
from ecgnet.data import Split, TaskData
from feature_store.beat_ids import beat_positions
from feature_store.tasks import BEATS

ALPHAS = (0, 300, 1000, 3000)


def adapt(probs: np.ndarray, records: np.ndarray, reference: np.ndarray, alpha: float, steps: int = 100) -> np.ndarray:
    """Each record's posteriors reweighted by its EM-estimated priors over `reference`."""
    out = probs.copy()
    for record in np.unique(records):
        mine = records == record
        prior = reference.copy()
        for _ in range(steps):
            q = probs[mine] * (prior / reference)
            q /= q.sum(axis=1, keepdims=True)
            new = (q.sum(axis=0) + alpha * reference) / (mine.sum() + alpha)
            done = np.abs(new - prior).max() < 1e-7
            prior = new
            if done:
                break
        q = probs[mine] * (prior / reference)
        out[mine] = q / q.sum(axis=1, keepdims=True)
    return out


def line(name: str, probs: np.ndarray, dev: TaskData) -> str:
    """The harness's own figures of out-of-fold `probs` over `dev.val`, and the three records most
    often read as S when they are not."""
    f = figures(probs, dev)
    worst = ", ".join(f"{r['record']} {r['false_s']}" for r in false_s_by_record(probs, dev, top=3))
    return (
        f"{name:34s} {f['headline']:.3f}  S {f['se_S']:.3f} / {f['pp_S']:.3f}  "
        f"V {f['se_V']:.3f} / {f['pp_V']:.3f}  false S: {worst}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("oof", type=Path, nargs="+", help="npz files of --save-oof")
    args = parser.parse_args()
    for path in args.oof:
        saved = np.load(path)
        if tuple(saved["classes"]) != BEATS.classes:
            raise ValueError(f"{path}: classes {list(saved['classes'])}, not the beats task's {list(BEATS.classes)}")
        probs, records = saved["probs"].astype(np.float64), beat_positions(saved["ids"])[0]
        rows = Split({}, saved["y"], saved["ids"], records)  # the out-of-fold rows: scored, as the harness does
        dev = TaskData(BEATS, rows, rows, rows.take(np.arange(0)), {})
        print(f"{path} ({saved['ablation']}): OOF macro-F1 N,S,V, S Se / +P, V Se / +P")
        print(line("as trained", probs, dev))
        uniform = np.full(probs.shape[1], 1 / probs.shape[1])
        for name, reference in (("mean posterior", probs.mean(axis=0)), ("uniform", uniform)):
            for alpha in ALPHAS:
                print(line(f"EM from the {name}, alpha {alpha}", adapt(probs, records, reference, alpha), dev))


if __name__ == "__main__":
    main()
