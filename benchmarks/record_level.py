"""Is a missed S beat missed for its level alone? Three record-level corrections of a variant's S score,
tried on DS1 out-of-fold probabilities.

Within most S-rich records the networks rank S beats above N beats almost perfectly (DS1 out of fold:
118, 207, 209, 220, 223 at ROC AUC 0.99 or more; DS2's 232 at 0.998, `benchmarks.member_spread`), yet many
of those S beats fall below the decision: the level is off, record by record, not what the model sees.
Three ways to read the level from a record's own unlabelled beats, each added to the S log-probability with
a weight cross-fitted by patient (`benchmarks.rhythm_rule.cross_fitted`, weight 0 among the choices):

- `relative`: the beat's S-against-N log-odds minus its record's `q` quantile of them (a beat far above
  its record's usual beats);
- `prior`: the record's S share re-estimated by EM (Saerens et al. 2002) from posteriors first calibrated
  with bias-corrected temperature scaling (Alexandari et al. 2020, which found EM fails without it), the
  calibration fitted out of fold by patient; its log-ratio to the calibrated DS1 mix, raised only;
- `cluster`: a two-component Gaussian mixture over the record's S-against-N log-odds (beats read as N or
  S); where the upper component stands `separation` pooled standard deviations clear of the lower and
  below the decision, each beat is lifted by its posterior of the upper component times that
  component's distance to the decision (a record whose S beats form their own cluster, wherever it sits).

Reads a comparison's saved results (`<ECGNET_HOME>/training/<run>`: `data/` and `<variant>.npz`) and the
harness's `--save-oof` files; DS2's rows are not read.

    python -m benchmarks.record_level RUN_DIR [--variants time ...] [--oof DIR/NN.npz ...]
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax
from sklearn.mixture import GaussianMixture

from benchmarks.prior_shift import adapt
from benchmarks.rhythm_rule import FOLDS, cross_fitted, out_of_fold, saved_development, saved_run_parser
from ecgnet.data import cross_fit
from ecgnet.evaluate import aami, headline, paired_bootstrap
from feature_store.beat_ids import beat_positions

QUANTILES = (0.05, 0.1, 0.25, 0.5)
SEPARATIONS = (2.0, 3.0, 4.0)  # `cluster`: pooled standard deviations between the two components


def log_odds(probs: np.ndarray, s: int, n: int) -> np.ndarray:
    return np.log(np.clip(probs[:, s], 1e-7, 1.0)) - np.log(np.clip(probs[:, n], 1e-7, 1.0))


def relative(probs: np.ndarray, records: np.ndarray, s: int, n: int, q: float) -> np.ndarray:
    """Each beat's S-against-N log-odds minus its record's `q` quantile of them."""
    lo, out = log_odds(probs, s, n), np.zeros(len(probs))
    for record in np.unique(records):
        mine = records == record
        out[mine] = lo[mine] - np.quantile(lo[mine], q)
    return out


def cluster(probs: np.ndarray, records: np.ndarray, s: int, n: int, separation: float) -> np.ndarray:
    """Per beat read as N or S: its posterior of its record's upper log-odds component times that
    component's distance below 0, where the two components stand `separation` pooled standard deviations
    apart and the upper holds 0.5-90 % of the beats; 0 elsewhere."""
    lo, out, top = log_odds(probs, s, n), np.zeros(len(probs)), probs.argmax(axis=1)
    for record in np.unique(records):
        mine = np.flatnonzero((records == record) & np.isin(top, (s, n)))
        if len(mine) < 10:
            continue
        mixture = GaussianMixture(2, random_state=0).fit(lo[mine, None])
        mean, var, share = mixture.means_[:, 0], mixture.covariances_[:, 0, 0], mixture.weights_
        upper = int(np.argmax(mean))
        apart = (mean[upper] - mean[1 - upper]) / np.sqrt(var.mean())
        if apart >= separation and 0.005 <= share[upper] <= 0.9 and mean[upper] < 0:
            out[mine] = mixture.predict_proba(lo[mine, None])[:, upper] * -mean[upper]
    return out


def bias_corrected_temperature(logp: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Temperature and per-class biases (the first fixed at 0) minimising the negative log-likelihood of
    softmax(logp / T + b) on labelled rows."""

    def nll(theta: np.ndarray) -> float:
        z = logp / np.exp(theta[0]) + np.r_[0.0, theta[1:]]
        return -float(log_softmax(z, axis=1)[np.arange(len(y)), y].mean())

    theta = minimize(nll, np.zeros(logp.shape[1]), method="L-BFGS-B").x
    return float(np.exp(theta[0])), np.r_[0.0, theta[1:]]


def raised_prior(probs: np.ndarray, y: np.ndarray, groups: np.ndarray, records: np.ndarray, s: int) -> np.ndarray:
    """Per row, out of fold: max(0, log of its record's EM-estimated S share over the calibrated mix), the
    calibration fitted on the other folds' patients. (The weight chosen for a fold then reads scores of
    other folds whose calibration saw that fold's labels: a leak of a temperature and four biases, in the
    correction's favour; DS1 rejects the correction all the same.)"""
    logp = np.log(np.clip(probs, 1e-7, 1.0))

    def calibration(fit: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        t, b = bias_corrected_temperature(logp[fit], y[fit])
        return t, b, softmax(logp[fit] / t + b, axis=1).mean(axis=0)

    def raised(learnt: tuple[float, np.ndarray, np.ndarray], held: np.ndarray) -> np.ndarray:
        t, b, reference = learnt
        adapted = adapt(softmax(logp[held] / t + b, axis=1), records[held], reference, 0.0)  # each record's EM
        out = np.zeros(len(held))
        for record in np.unique(records[held]):
            mine = records[held] == record
            out[mine] = max(0.0, float(np.log(max(adapted[mine].mean(axis=0)[s], 1e-12) / reference[s])))
        return out

    return cross_fit(groups, calibration, raised, folds=FOLDS)[0]


def main() -> None:
    args = saved_run_parser(__doc__.splitlines()[0]).parse_args()
    data, dev = saved_development(args.run)
    y, groups, classes = np.asarray(dev.y), dev.groups, data.classes
    n, s = classes.index("N"), classes.index("S")
    labels = tuple(classes.index(c) for c in data.spec.metric_classes)
    records, metric = beat_positions(dev.ids)[0], headline(data.spec)
    print(f"DS1 {len(y):,} beats, out of fold; S score + weight x correction, weight cross-fitted by patient")
    for name, probs in out_of_fold(args.run, dev, args.variants, args.oof).items():
        probs = probs.astype(np.float64)
        before = aami(probs, y, classes, ("S",))
        corrections = {f"relative, q {q}": relative(probs, records, s, n, q) for q in QUANTILES}
        corrections["prior (calibrated EM, raised only)"] = raised_prior(probs, y, groups, records, s)
        corrections |= {f"cluster, {d:g} sd apart": cluster(probs, records, s, n, d) for d in SEPARATIONS}
        for label, score in corrections.items():
            decided, chosen = cross_fitted(probs, score, y, groups, labels, s)
            after = aami(decided, y, classes, ("S",))
            print(
                f"{name[:28]:28s} {label:36s} {metric(probs, y):.3f} -> {metric(decided, y):.3f} "
                f"({paired_bootstrap(decided, probs, y, groups, metric, n_boot=1000)}), weights "
                f"{[w for _, w in chosen]}; S {before['se_S']:.3f} / {before['pp_S']:.3f} -> "
                f"{after['se_S']:.3f} / {after['pp_S']:.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
