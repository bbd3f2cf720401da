"""Pictures logged with every variant (ROC curves, confusion matrix, reliability diagram, training
curves) and with every comparison (metrics with intervals against size)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from adjustText import adjust_text
from matplotlib.ticker import FuncFormatter, NullFormatter
from sklearn.metrics import confusion_matrix, roc_curve

from feature_store.plots import plt, to_png

from .calibration import Reliability, TaskCalibration, one_class, one_vs_rest
from .data import InputNames
from .evaluate import figure_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.text import Text


def roc_png(probs: np.ndarray, y: np.ndarray, classes: tuple[str, ...], multilabel: bool, title: str) -> bytes:
    onehot = y if multilabel else np.eye(len(classes))[y]
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    drawable = [c for c in range(len(classes)) if 0 < onehot[:, c].sum() < len(onehot)]
    for c in drawable:
        fpr, tpr, _ = roc_curve(onehot[:, c], probs[:, c])
        ax.plot(fpr, tpr, lw=1.2, label=classes[c])
    ax.plot([0, 1], [0, 1], ls=":", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title, fontsize=9)
    if drawable:
        ax.legend(fontsize=7)
    else:  # a split too small to hold both a class's rows and others': say so rather than show a blank
        ax.text(0.5, 0.55, "no curve: no class has both\nits own rows and others' here", ha="center", fontsize=8)
    return to_png(fig)


def confusion_png(probs: np.ndarray, y: np.ndarray, classes: tuple[str, ...], title: str) -> bytes:
    cm = confusion_matrix(y, probs.argmax(axis=1), labels=range(len(classes)))
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=8, color="white" if v > cm.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("annotated")
    ax.set_title(title, fontsize=9)
    return to_png(fig)


def reliability_png(
    probs: np.ndarray,
    y: np.ndarray,
    multilabel: bool,
    title: str,
    classes: tuple[str, ...] = (),
    focus: tuple[str, ...] = (),
) -> bytes:
    """The reliability diagram: each confidence bin's hit rate against its mean confidence (on the
    diagonal: the probabilities mean what they say), each point's area its share of the rows, and how
    many rows each bin holds below; the Brier score and ECE in the title (`ecgnet.calibration`). A
    single-label task's `focus` classes (of `classes`) add their one-vs-rest curves: is "60 % S" S six
    times in ten."""
    bins = Reliability.of(probs, y, multilabel)
    figures = TaskCalibration.of(probs, y, multilabel, classes, focus).figures()
    fig, (ax, counts) = plt.subplots(2, 1, figsize=(4.5, 5.0), sharex=True, gridspec_kw={"height_ratios": (3, 1)})
    _reliability_curve(ax, bins, "tab:blue", label="every class" if multilabel else "top class")
    said = [f"ECE {'' if multilabel or not focus else 'top '}{figures['ece']:.3f}"]
    for name, colour in zip(() if multilabel else focus, ("tab:red", "tab:green", "tab:purple", "tab:orange")):
        c = classes.index(name)
        _reliability_curve(ax, Reliability.of(*one_vs_rest(probs, y, c), True), colour, label=f"{name} vs rest")
        said.append(f"{name} {figures[one_class('ece', name)]:.3f}")
    ax.set_ylabel("observed frequency (right, or of the class)")
    ax.set_title(f"{title}\nBrier {figures['brier']:.3f}; {', '.join(said)}", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    edges = np.linspace(0, 1, len(bins.weight) + 1)
    counts.bar(edges[:-1], bins.weight, width=np.diff(edges), align="edge", color="tab:blue", alpha=0.5)
    counts.set_yscale("symlog")
    counts.set_ylabel("rows" if not multilabel else "row x class", fontsize=8)
    counts.set_xlabel("probability" if multilabel else "probability (top class's: the bars)")
    return to_png(fig)


def reliability_grid_png(rows: list[dict], candidate: str, multilabel: bool, title: str, per_row: int = 4) -> bytes:
    """Every variant's reliability diagram side by side, on one scale: which variants' probabilities can
    be taken at their word. `rows`: variant, kind, bins (`Reliability`), ece (an `Interval`); the chosen
    variant's panel is filled in its kind's colour."""
    lines = max(1, -(-len(rows) // per_row))
    fig, axes = plt.subplots(lines, per_row, figsize=(2.6 * per_row, 2.6 * lines + 0.5), sharex=True, sharey=True)
    for ax, r in zip(np.ravel(axes), rows):
        colour = KIND_COLOURS.get(r["kind"], "grey")
        _reliability_curve(ax, r["bins"], colour)
        if r["variant"] == candidate:
            ax.set_facecolor((0.95, 0.95, 0.9))
        mark = " (chosen)" if r["variant"] == candidate else ""
        ax.set_title(f"{r['variant']}{mark}\nECE {r['ece']}", fontsize=8)
    for ax in np.ravel(axes)[len(rows) :]:
        ax.axis("off")
    for i, ax in enumerate(np.ravel(axes)[: len(rows)]):
        if i % per_row == 0:
            ax.set_ylabel("class present" if multilabel else "top class right", fontsize=8)
        if i + per_row >= len(rows):  # the lowest panel of its column: its scale is read here
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel("probability" if multilabel else "confidence", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return to_png(fig)


def _reliability_curve(ax: Axes, bins: Reliability, colour: str, label: str | None = None) -> None:
    """One reliability curve over the diagonal: a point per filled bin, its area the bin's share of rows."""
    filled = bins.weight > 0
    share = bins.weight / max(bins.weight.sum(), 1.0)
    if not ax.lines:  # the diagonal once, under every curve
        ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1, label="calibrated" if label else None)
    ax.plot(bins.confidence[filled], bins.accuracy[filled], color=colour, lw=1, label=label)
    ax.scatter(bins.confidence[filled], bins.accuracy[filled], s=8 + 300 * share[filled], color=colour, zorder=3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)


def training_png(history: list[dict], title: str) -> bytes:
    """Train loss and validation metric per epoch; one pair of curves per fold member when cross-validated."""
    fig, ax = plt.subplots(figsize=(5, 3))
    ax2 = ax.twinx()
    for i, fold in enumerate(sorted({h.get("fold", 0) for h in history})):
        rows = [h for h in history if h.get("fold", 0) == fold]
        epochs = [h["epoch"] for h in rows]
        ax.plot(
            epochs,
            [h["train_loss"] for h in rows],
            color="tab:blue",
            alpha=0.7,
            label="train loss" if not i else None,
        )
        ax2.plot(
            epochs,
            [h["val_metric"] for h in rows],
            color="tab:orange",
            alpha=0.7,
            label="validation metric" if not i else None,
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("train loss")
    ax2.set_ylabel("validation metric")
    ax.set_title(title, fontsize=9)
    fig.legend(fontsize=7, loc="upper right")
    return to_png(fig)


KIND_COLOURS = {
    "single": "tab:blue",
    "early": "tab:green",
    "intermediate": "tab:purple",
    "late": "tab:orange",
    "classical": "tab:brown",
}


def comparison_png(
    rows: list[dict], metric: str, candidate: str, title: str, agreement: tuple[float, float, float] | None = None
) -> bytes:
    """The comparison at a glance: each variant's test metric with its 95 % interval (left), the same
    against model size (middle), each seed's fold ensemble alone marked x beside it where a variant has
    several, and against its validation metric (right: does choosing on validation pick what the test
    rewards; `agreement`: Kendall tau and its interval, in the panel's title). `rows`: variant, kind,
    params, value, lo, hi, val, by_seed (optional: values)."""
    fig, (ax, ax2, ax3) = plt.subplots(
        1, 3, figsize=(13.5, 0.45 * len(rows) + 1.6), gridspec_kw={"width_ratios": (1.3, 1, 1)}
    )
    for i, r in enumerate(rows):
        colour = KIND_COLOURS.get(r["kind"], "grey")
        face = "white" if r["variant"] != candidate else colour
        ax.errorbar(
            r["value"],
            i,
            xerr=[[r["value"] - r["lo"]], [r["hi"] - r["value"]]],
            fmt="o",
            color=colour,
            capsize=3,
            mfc=face,
        )
        if r.get("by_seed"):
            ax.scatter(r["by_seed"], [i + 0.22] * len(r["by_seed"]), marker="x", color=colour, s=18, linewidths=1)
        ax2.scatter(r["params"], r["value"], color=colour, s=28)
        ax3.scatter(r["val"], r["value"], color=colour, edgecolors=colour, facecolors=face, s=28, zorder=3)
    ax.set_yticks(
        range(len(rows)), [r["variant"] + (" (chosen)" if r["variant"] == candidate else "") for r in rows], fontsize=8
    )
    ax.invert_yaxis()
    seeds = "; x: each seed's fold ensemble alone" if any(r.get("by_seed") for r in rows) else ""
    ax.set_xlabel(f"test {metric}, 95 % patient-bootstrap interval{seeds}", fontsize=8)
    ax2.set_xscale("log")
    ax2.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k"))
    ax2.xaxis.set_minor_formatter(NullFormatter())  # minor labels on a short log axis collide
    ax2.set_xlabel("parameters", fontsize=8)
    ax2.set_ylabel(f"test {metric}", fontsize=8)
    both = [r[k] for r in rows for k in ("val", "value") if np.isfinite(r[k])]
    if both:  # one range on both axes, so the diagonal is where validation and test agree
        pad = 0.05 * (max(both) - min(both)) + 0.01
        span = (min(both) - pad, max(both) + pad)
        ax3.plot(span, span, color="grey", lw=0.5, ls=":")  # below it: validation flattered the variant
        ax3.set_xlim(span)
        ax3.set_ylim(span)
    ax3.set_xlabel(f"validation {metric} (what the choice read)", fontsize=8)
    ax3.set_ylabel(f"test {metric}", fontsize=8)
    if agreement is not None and np.isfinite(agreement[0]):
        tau, lo, hi = agreement
        interval = f" [{lo:+.2f}, {hi:+.2f}]" if np.isfinite(lo) else ""
        ax3.set_title(f"ranking agreement: Kendall tau {tau:+.2f}{interval}", fontsize=8)
    names = [r["variant"] for r in rows]
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()  # the labels are placed in display space: the axes must have their final size first
    label_points(ax2, [r["params"] for r in rows], [r["value"] for r in rows], names)
    label_points(ax3, [r["val"] for r in rows], [r["value"] for r in rows], names)
    return to_png(fig)


def label_points(ax: Axes, x: list[float], y: list[float], names: list[str]) -> list[Text]:
    """Name each point, moved apart where names would overlap (variants within noise of each other sit in
    one corner) and off the points, with a thin line back to its point where a name had to move. Call
    once the axes' limits, scales and layout are set: the placement is in display space."""
    shown = [(a, b, n) for a, b, n in zip(x, y, names, strict=True) if np.isfinite(a) and np.isfinite(b)]
    texts = [ax.text(a, b, n, fontsize=7) for a, b, n in shown]
    if len(texts) > 1:
        adjust_text(
            texts,
            x=[a for a, _, _ in shown],
            y=[b for _, b, _ in shown],
            ax=ax,
            arrowprops={"arrowstyle": "-", "color": "grey", "lw": 0.4},
            # adjustText's default stops after one second of wall time, so the placement (and whether the
            # names get apart at all) would depend on the machine's speed; a count of steps does not
            iter_lim=300,
        )
    return texts


def per_patient_png(rows: list[dict], focus: tuple[str, ...], candidate: str, min_beats: int, title: str) -> bytes:
    """One heatmap per focus class: rows are variants (the chosen one marked), columns the patients with
    at least `min_beats` of the class (their count beneath), cells the sensitivity on that patient.
    `rows`: per_patient_table's, one per variant and patient, some patient with `min_beats` of a focus
    class (per_patient_plot sees to it)."""
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    panels = []
    for c in focus:
        counts = {r["patient"]: r[f"n_{c}"] for r in rows if r[f"n_{c}"] >= min_beats}
        if counts:
            panels.append((c, sorted(counts, key=lambda p: -counts[p]), counts))
    widest = max(len(p[1]) for p in panels)
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(max(6.5, 0.55 * widest + 3), 0.3 * len(variants) * len(panels) + 1.6),
        squeeze=False,
    )
    se = {(r["variant"], r["patient"]): r for r in rows}
    for ax, (c, patients, counts) in zip(axes[:, 0], panels):
        grid = np.array([[se[(v, p)][f"se_{c}"] for p in patients] for v in variants], dtype=float)
        ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
        for (i, j), value in np.ndenumerate(grid):
            ax.text(j, i, "-" if np.isnan(value) else f"{value:.2f}", ha="center", va="center", fontsize=6)
        ax.set_xticks(range(len(patients)), [f"{p}\n({counts[p]})" for p in patients], fontsize=7)
        ax.set_yticks(range(len(variants)), [v + (" (chosen)" if v == candidate else "") for v in variants], fontsize=7)
        ax.set_title(f"{c} sensitivity (patients with at least {min_beats} {c}, their count beneath)", fontsize=8)
    fig.suptitle(title, fontsize=9)
    return to_png(fig)


VIEW_COLOURS = {"time": "tab:blue", "frequency": "tab:orange", "spectrogram": "tab:green"}


def shares_png(shares: dict[str, dict[str, float]], gates: dict[str, dict[str, float]], title: str) -> bytes:
    """Modality shares of attribution as one stacked bar per variant; a gated variant's mean gate
    weights as a second bar beneath its own, so the two can be compared."""
    bars = []
    for variant, share in shares.items():
        bars.append((variant, share))
        if variant in gates:
            bars.append((f"{variant} (gate weights)", gates[variant]))
    fig, ax = plt.subplots(figsize=(6.5, 0.38 * len(bars) + 1.2))
    views = list(dict.fromkeys(v for _, share in bars for v in share))
    for i, (_, share) in enumerate(bars):
        left = 0.0
        for view in views:
            width = share.get(view, 0.0)
            ax.barh(i, width, left=left, color=VIEW_COLOURS.get(view, "grey"), label=view if i == 0 else None)
            if width >= 0.08:
                ax.text(left + width / 2, i, f"{width:.2f}", ha="center", va="center", fontsize=7, color="white")
            left += width
    ax.set_yticks(range(len(bars)), [b[0] for b in bars], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of total |attribution| (Integrated Gradients)", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncol=len(views), loc="lower center", bbox_to_anchor=(0.5, 1.06), frameon=False)
    return to_png(fig)


TOP_DESCRIPTORS = 10  # named descriptors drawn per cell, the largest |attribution| first


def attribution_pngs(
    maps: dict[str, dict[tuple[str, str], tuple]], title: str, names: InputNames | None = None
) -> dict[str, bytes]:
    """One picture per view (file name -> PNG) of `attribution_png`, for the views the model reads."""
    keys = _seen(maps)
    return {
        f"attribution_{view}.png": attribution_png(
            maps, f"{title}: {view} view", [k for k in keys if k[0] == view], names
        )
        for view in dict.fromkeys(m for m, _ in keys)
    }


def _seen(maps: dict[str, dict[tuple[str, str], tuple]]) -> list[tuple[str, str]]:
    """The inputs of the views that carry any attribution: a view the model cannot see (a single model's
    other views, a late combiner's view of weight 0) has nothing to show."""
    keys = list(next(iter(maps.values()))) if maps else []
    used = {k[0] for per in maps.values() for k, (_, attr) in per.items() if np.any(np.asarray(attr) != 0)}
    return [k for k in keys if k[0] in used]


def attribution_png(
    maps: dict[str, dict[tuple[str, str], tuple]],
    title: str,
    inputs: list[tuple[str, str]] | None = None,
    names: InputNames | None = None,
) -> bytes:
    """Mean attributions (`ecgnet.explain.Explanation.class_maps`): rows are the explained classes,
    columns the inputs (default: those of the views that carry any attribution). Waveforms of up to
    three leads are drawn as the mean waveform over a band shaded by its attribution; more leads and
    spectra as heat maps (lead x position, by lead and frequency where `names` names them),
    spectrograms as frequency x frame summed over leads, descriptors as bars: by name, the
    `TOP_DESCRIPTORS` largest, where `names` (`ecgnet.data.input_names`) names them, else every one by
    position. Red: evidence for the class, blue: against."""
    names = names or InputNames()
    classes = list(maps)
    inputs = inputs or _seen(maps) or list(next(iter(maps.values())))
    fig, axes = plt.subplots(
        len(classes), len(inputs), figsize=(3.0 * len(inputs) + 0.6, 1.9 * len(classes) + 0.7), squeeze=False
    )
    for r, cls in enumerate(classes):
        for c, key in enumerate(inputs):
            mean_input, mean_attr = (np.asarray(a) for a in maps[cls][key])
            shown = _attribution_cell(axes[r, c], key, mean_input, mean_attr, names.of(*key), names.leads)
            axes[r, c].set_title(f"{cls}: {key[0]} {key[1]}{shown}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    return to_png(fig)  # lays the figure out


def _attribution_cell(
    ax: Axes,
    key: tuple[str, str],
    mean_input: np.ndarray,
    mean_attr: np.ndarray,
    names: list[str] | None = None,
    leads: tuple[str, ...] = (),
) -> str:
    """Draw one cell; what its title should add (which descriptors it shows), or ''."""
    limit = float(np.abs(mean_attr).max()) or 1.0
    cmap, vmin, vmax = "RdBu_r", -limit, limit  # one diverging shading for both pictures, 0 at its centre
    ax.tick_params(labelsize=6)
    if key == ("time", "waveform") and mean_input.ndim == 2 and mean_input.shape[0] <= 3:
        # each lead's mean waveform in black over a band shaded by its attribution at each sample
        samples = mean_input.shape[1]
        spread = 1.2 * float(np.ptp(mean_input)) or 1.0
        for lead, (wave, attr) in enumerate(zip(mean_input, mean_attr, strict=True)):
            centre = -lead * spread
            band = (centre - spread / 2, centre + spread / 2)
            ax.imshow(
                attr[None, :],
                aspect="auto",
                extent=(0, samples - 1, *band),
                alpha=0.75,
                cmap=cmap,
                vmin=vmin,
                vmax=vmax,
            )
            ax.plot(np.arange(samples), centre + wave - float(np.median(wave)), color="black", lw=0.8)
        ax.set_xlim(0, samples - 1)
        ax.set_ylim(-(mean_input.shape[0] - 0.5) * spread, spread / 2)
        ax.set_xlabel("sample (one band per lead)", fontsize=6)
        ax.set_yticks([])
        return ""
    if mean_attr.ndim == 1 and names is not None and len(names) == len(mean_attr):
        # dozens of descriptors: the few that carry the decision, by name, largest on top
        top = np.argsort(-np.abs(mean_attr), kind="stable")[:TOP_DESCRIPTORS][::-1]
        ax.barh(np.arange(len(top)), mean_attr[top], color=np.where(mean_attr[top] >= 0, "tab:red", "tab:blue"))
        ax.set_yticks(np.arange(len(top)), [names[i] for i in top], fontsize=5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.set_xlabel("attribution", fontsize=6)
        return f" (top {len(top)} of {len(mean_attr)})" if len(top) < len(mean_attr) else ""
    if mean_attr.ndim == 1:  # scalar descriptors without names: every one, by position
        ax.bar(np.arange(len(mean_attr)), mean_attr, color=np.where(mean_attr >= 0, "tab:red", "tab:blue"))
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("descriptor", fontsize=6)
        return ""
    grid = mean_attr.sum(axis=0) if mean_attr.ndim == 3 else mean_attr
    # frequency upwards; leads top to bottom
    origin: Literal["lower", "upper"] = "lower" if mean_attr.ndim == 3 else "upper"
    ax.imshow(grid, aspect="auto", origin=origin, cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xlabel("frame" if mean_attr.ndim == 3 else "position", fontsize=6)
    ax.set_ylabel("frequency bin" if mean_attr.ndim == 3 else "lead", fontsize=6)
    if mean_attr.ndim == 2 and len(leads) == grid.shape[0]:
        ax.set_yticks(range(len(leads)), leads)
    if mean_attr.ndim == 2 and names is not None and len(names) == grid.shape[1]:
        ticks = np.linspace(0, len(names) - 1, min(6, len(names))).round().astype(int)
        ax.set_xticks(ticks, [names[i] for i in ticks])
        ax.set_xlabel("frequency", fontsize=6)
    return ""


def published_png(rows: list[dict], title: str) -> bytes:
    """The chosen variant's test figures with their 95 % intervals (bars), each published result's figures
    beside them (one marker a result): `rows` as ecgnet.published.published_table gives them."""
    figures = list(dict.fromkeys(r["figure"] for r in rows))
    names = list(dict.fromkeys(r["published"] for r in rows))
    ours = {r["figure"]: r for r in rows}  # the variant's figure is the same in every result's rows
    x = np.arange(len(figures))
    fig, ax = plt.subplots(figsize=(1.1 * len(figures) + 2.6, 3.4))
    value = np.array([ours[f]["value"] for f in figures])
    spread = np.array(
        [[ours[f]["value"] - ours[f]["lo"] for f in figures], [ours[f]["hi"] - ours[f]["value"] for f in figures]]
    )
    ax.errorbar(x, value, yerr=spread, fmt="o", color="black", capsize=4, label=rows[0]["variant"], zorder=3)
    markers = "s^Dv<>p*"
    at, ticks = published_positions(rows)
    for i, name in enumerate(names):
        mine = [r for r in rows if r["published"] == name]
        ax.scatter(
            [at[name, r["figure"]] for r in mine],
            [r["published_value"] for r in mine],
            marker=markers[i % len(markers)],
            s=28,
            label=name,
        )
    ax.set_xticks(ticks, [figure_label(f) for f in figures])
    ax.set_ylim(0, 1.02)
    ax.grid(axis="y", lw=0.3)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return to_png(fig)


def published_positions(rows: list[dict], step: float = 0.18) -> tuple[dict[tuple[str, str], float], list[float]]:
    """Where `published_png` draws each published value ((result, figure) -> x) and each figure's tick: the
    variant's figure at the figure's index, the results that report it side by side to its right in the
    legend's order, with no gap for a result that does not (one that reports a single figure sits beside
    ours, not where its place among all results would be); the tick in the middle of the group."""
    figures = list(dict.fromkeys(r["figure"] for r in rows))
    names = list(dict.fromkeys(r["published"] for r in rows))
    at: dict[tuple[str, str], float] = {}
    ticks: list[float] = []
    for i, figure in enumerate(figures):
        reporting = [n for n in names if any(r["published"] == n and r["figure"] == figure for r in rows)]
        at |= {(name, figure): i + step * (k + 1) for k, name in enumerate(reporting)}
        ticks.append(i + step * len(reporting) / 2)
    return at, ticks


def rhythm_timeline_png(
    probs: np.ndarray,
    classes: list[str],
    window_s: float,
    title: str,
    onsets_s: np.ndarray | None = None,
    reference: np.ndarray | None = None,
) -> bytes:
    """A long record scored window by window (windows end to end from its start): each class's probability
    stacked over time, and below it the predicted class, so episodes and their burden read at a glance.
    `onsets_s`: each window's start, where some were not scored (a dropout): their place stays blank.
    `reference`: each window's reference rhythm (index; -1: none, across a change), a strip under the
    predicted one, so where the two part is seen."""
    n = len(probs)
    slot = np.arange(n) if onsets_s is None else np.round(np.asarray(onsets_s) / window_s).astype(np.int64)
    total = int(slot[-1]) + 1 if n else 0
    grid = np.zeros((total, len(classes)))
    grid[slot] = probs
    hours = total * window_s > 2 * 3600
    unit, scale = ("h", 3600.0) if hours else ("min", 60.0)
    edges = np.arange(total + 1) * window_s / scale
    rows = 2 if reference is None else 3
    fig, axes = plt.subplots(
        rows, 1, figsize=(10, 3.4 + 0.8 * (rows - 2)), sharex=True, gridspec_kw={"height_ratios": [3, 1, 1][:rows]}
    )
    top, strip = axes[0], axes[1]
    colour = plt.get_cmap("tab10")
    below = np.zeros(total)
    for c, name in enumerate(classes):  # steps: a window's probability holds over its 30 s
        top.stairs(below + grid[:, c], edges, baseline=below, fill=True, color=colour(c), label=name, lw=0)
        below = below + grid[:, c]
    top.set_ylim(0, 1)
    top.set_ylabel("probability")
    top.legend(loc="upper right", fontsize=7, ncol=len(classes))
    top.set_title(title, fontsize=9, loc="left")
    predicted = probs.argmax(axis=1)

    def bars(rows: np.ndarray) -> list[tuple[float, float]]:  # the windows `rows` (indices), each at its slot
        return [(edges[slot[i]], window_s / scale) for i in rows]

    for c, name in enumerate(classes):
        share = float((predicted == c).mean()) if n else 0.0
        strip.broken_barh(bars(np.flatnonzero(predicted == c)), (0, 1), color=colour(c), label=f"{name} {share:.0%}")
    missing = np.setdiff1d(np.arange(total), slot)
    if len(missing):
        spans = [(edges[i], window_s / scale) for i in missing]
        strip.broken_barh(spans, (0, 1), color="lightgrey", label=f"not scored {len(missing) / total:.0%}")
    strip.set_yticks([])
    strip.set_ylabel("predicted", fontsize=8)
    last = strip
    if reference is not None:
        last = axes[2]
        for c in range(len(classes)):
            last.broken_barh(bars(np.flatnonzero(reference == c)), (0, 1), color=colour(c))
        mixed = bars(np.flatnonzero(reference < 0))
        last.broken_barh(mixed, (0, 1), facecolor="white", edgecolor="grey", hatch="//", lw=0.3)
        agree = float((reference[reference >= 0] == predicted[reference >= 0]).mean()) if (reference >= 0).any() else 0
        last.set_yticks([])
        last.set_ylabel("reference", fontsize=8)
        strip.set_title(f"windows as the reference: {agree:.0%} (hatched: no one reference rhythm)", fontsize=7)
    last.legend(
        *strip.get_legend_handles_labels(),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.6 if reference is None else -1.2),  # below the minutes' label
        fontsize=7,
        ncol=len(classes) + 1,
        frameon=False,
    )
    last.set_xlim(0, edges[-1] if n else 1)
    last.set_xlabel(unit)
    return to_png(fig)


def beat_timeline_png(
    edges_s: np.ndarray,
    rate_bpm: np.ndarray,
    counts: np.ndarray,
    classes: list[str],
    title: str,
    reference_counts: np.ndarray | None = None,
) -> bytes:
    """A record's beats over time (`predict.beat_trend`): the heart rate per bin above, and below it the beats
    of each class but the first (the normal ones) per bin, stacked, so an hour of ectopy or a run of
    tachycardia shows where it is. `reference_counts`: the reference's, per bin and class, drawn as dashed
    outlines stacked the same way over the predicted."""
    hours = edges_s[-1] > 2 * 3600
    unit, scale = ("h", 3600.0) if hours else ("min", 60.0)
    edges = np.asarray(edges_s) / scale
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 3.8), sharex=True, gridspec_kw={"height_ratios": [1, 1]})
    top.stairs(rate_bpm, edges, color="black", lw=1.0)
    top.set_ylabel("heart rate (bpm)", fontsize=8)
    top.set_title(title, fontsize=9, loc="left")
    colour = plt.get_cmap("tab10")
    below = np.zeros(len(edges) - 1)
    for c, name in enumerate(classes[1:], start=1):
        total = int(counts[:, c].sum())
        bottom.stairs(
            below + counts[:, c], edges, baseline=below, fill=True, color=colour(c), lw=0, label=f"{name} {total}"
        )
        below = below + counts[:, c]
    if reference_counts is not None:
        below = np.zeros(len(edges) - 1)
        for c, name in enumerate(classes[1:], start=1):
            stacked = below + reference_counts[:, c]
            total = int(reference_counts[:, c].sum())
            bottom.stairs(stacked, edges, color=colour(c), lw=0.9, ls="--", label=f"{name} reference {total}")
            below = stacked
    width = (edges_s[1] - edges_s[0]) if len(edges_s) > 1 else 60.0
    bottom.set_ylabel(f"beats per {width / 60:g} min", fontsize=8)
    bottom.legend(loc="upper right", fontsize=7, ncol=len(classes) - 1 if reference_counts is None else 2)
    bottom.set_xlim(0, edges[-1])
    bottom.set_xlabel(unit)
    return to_png(fig)
