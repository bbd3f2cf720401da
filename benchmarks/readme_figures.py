"""The README's two comparison figures, drawn again from a `make bench-mitdb` run's MLflow artifacts.

The comparison asset logs `comparison.csv` and `published.csv` with every run; the README shows one run's
plots. Drawing them from those CSVs with today's plotting code keeps the README's pictures in step with
the plots a user gets, without rerunning the 50-minute comparison.

    python -m benchmarks.readme_figures ARTIFACTS_DIR --title "make bench-mitdb, <commit>, <machine>"
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from ecgnet.interval import Interval
from ecgnet.plots import comparison_png
from ecgnet.published import published_plot

OUT = Path(__file__).parent / "figures"


def comparison_rows(table: pl.DataFrame, metric: str) -> list[dict]:
    """`comparison.csv` rows as `comparison_png` takes them."""
    rows = []
    for r in table.iter_rows(named=True):
        figure = Interval.parse(r[metric])
        seeds = r.get(f"{metric}_by_seed") or ""
        rows.append(
            {
                "variant": r["variant"],
                "kind": r["kind"],
                "params": r["params"],
                "value": figure.value,
                "lo": figure.lo,
                "hi": figure.hi,
                "val": r["val_metric"],
                "by_seed": [float(v) for v in seeds.split(" / ")] if seeds else [],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifacts", type=Path, help="the comparison run's MLflow artifacts folder")
    parser.add_argument("--title", required=True, help="what the run was: command, commit, machine")
    parser.add_argument("--metric", default="macro_f1_N_S_V")
    parser.add_argument("--agreement", nargs=3, type=float, default=None, help="Kendall tau, low, high")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    table = pl.read_csv(args.artifacts / "comparison.csv", infer_schema_length=None)
    chosen = table.filter(pl.col("chosen"))["variant"][0]
    png = comparison_png(
        comparison_rows(table, args.metric),
        args.metric.replace("_", "-"),
        chosen,
        f"beats: every variant on the test split ({args.title})",
        tuple(args.agreement) if args.agreement else None,
    )
    (args.out / "mitdb-comparison.png").write_bytes(png)
    published = published_plot(pl.read_csv(args.artifacts / "published.csv"))
    if published is not None:
        (args.out / "mitdb-published.png").write_bytes(published)
    print(f"wrote {args.out}/mitdb-comparison.png and mitdb-published.png")


if __name__ == "__main__":
    main()
