"""`python -m ecgnet predict <record>`: class probabilities from the champion model."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from feature_store.tasks import TASKS, task_named
from feature_store.workspace import Workspace


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecgnet")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="class probabilities of one WFDB record from the champion model")
    p.add_argument("record", type=Path, help="record path without extension, e.g. data/sample/mitdb/100")
    p.add_argument("--task", choices=sorted(TASKS), default=next(iter(TASKS)))
    p.add_argument("--home", type=Path, default=None, help="workspace (default: ECGNET_HOME or .ecgnet/)")
    p.add_argument("--rows", type=int, default=10, help="rows to print (beats: the first N beats)")
    p.add_argument(
        "--explain",
        type=Path,
        default=None,
        metavar="FILE.png",
        help="draw the champion's Integrated Gradients attribution (mean per predicted class) to this PNG",
    )
    p.add_argument("--explain-rows", type=int, default=50, help="most rows explained per predicted class")
    args = parser.parse_args(argv)
    from .explain import ExplainConfig  # torch and mlflow load only when a command runs
    from .predict import explain_prediction, predict

    try:
        workspace = Workspace(args.home.resolve()) if args.home else Workspace.default()
        pred = predict(args.record, task_named(args.task), workspace)
        expl = (
            explain_prediction(pred, workspace, args.explain, ExplainConfig(rows_per_class=args.explain_rows))
            if args.explain
            else None
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    classes, ids, probs, uri = pred.classes, pred.ids, pred.probs, pred.uri
    unit = task_named(args.task).unit
    print(f"{args.record}: {len(ids)} {unit}(s) scored by {uri}")
    print("id".ljust(16) + "".join(c.rjust(8) for c in classes))
    for entity, row in list(zip(ids, probs))[: args.rows]:
        print(str(entity).ljust(16) + "".join(f"{v:8.3f}" for v in row))
    if unit == "beat":
        counts = Counter(classes[i] for i in probs.argmax(axis=1))
        print("predicted beats per class: " + ", ".join(f"{c} {counts.get(c, 0)}" for c in classes))
    if expl is not None:
        shares = ", ".join(f"{m} {v:.2f}" for m, v in expl.shares().items())
        print(f"attribution of {len(expl.rows)} {unit}(s) drawn to {args.explain}; modality shares: {shares}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
