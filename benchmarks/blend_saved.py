"""Two variants of a saved comparison blended on DS1 alone: each variant in `--bases` mixed with `--other`,
the share of `--other` chosen on the other patients for each fold of patients (cross-fitted, as the
comparison's late combiners are), scored out of fold and paired against the base alone (22 DS1 patients
resampled). Whether one variant adds what another lacks, before anyone builds a fusion variant of the two.
DS2 is never read: the saved run's out-of-fold probabilities are DS1's.

    python -m benchmarks.blend_saved RUN [--bases time late_average ...] [--other classical_trees]
"""

from __future__ import annotations

import numpy as np

from benchmarks.rhythm_rule import out_of_fold, saved_development, saved_run_parser
from benchmarks.svm_reference import blend
from ecgnet.evaluate import aami_line, headline, paired_bootstrap


def main() -> None:
    parser = saved_run_parser(__doc__.splitlines()[0])
    parser.add_argument("--bases", nargs="+", default=["time", "late_average", "fusion_ensemble", "early"])
    parser.add_argument("--other", default="classical_trees")
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    data, dev = saved_development(args.run)
    oof = out_of_fold(args.run, dev, [*args.bases, args.other], list(args.oof))
    y, metric = np.asarray(dev.y), headline(data.spec)
    other = oof[args.other].astype(np.float64)
    for name in args.bases:
        base = oof[name].astype(np.float64)
        mixed, shares = blend(base, other, y, dev.groups, metric)
        gain = paired_bootstrap(mixed, base, y, dev.groups, metric, n_boot=args.draws)
        print(
            f"{name}: OOF {metric(base, y):.3f}, with {args.other} {metric(mixed, y):.3f} ({gain}); "
            f"share by fold {shares}; {aami_line(mixed, y, data.classes, data.spec.focus_classes)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
