"""Each beat against its own record's typical beat (host, per record).

A beat's shape alone confuses a ventricular beat with a bundle-branch-blocked one: both are wide.
What tells them apart across patients is how far a beat is from the patient's usual beat, as RR
intervals are read against the record's own rhythm. The template is the median beat of the record
(no labels are used: the same at training, on DS2 and in `predict`).
"""

from __future__ import annotations

import numpy as np

from ..beat_ids import record_rows

TEMPLATE_NAMES = ("template_corr", "template_qrs_corr", "template_log1p_rms", "template_log_qrs_energy")
# the same four against the median of the record's unhurried beats (`sinus_quantile` > 0), beside them
SINUS_TEMPLATE_NAMES = ("sinus_corr", "sinus_qrs_corr", "sinus_log1p_rms", "sinus_log_qrs_energy")
# `pre_qrs`: two more after each template's four, over the window before the QRS (the P wave)
PRE_QRS_NAMES = ("pre_corr", "pre_log1p_rms")


def template_names(sinus_quantile: float = 0.0, pre_qrs: bool = False) -> tuple[str, ...]:
    """The per-lead template features `record_templates` returns with this `sinus_quantile` and `pre_qrs`."""
    groups = [("template", TEMPLATE_NAMES)] + ([("sinus", SINUS_TEMPLATE_NAMES)] if sinus_quantile > 0 else [])
    extra = PRE_QRS_NAMES if pre_qrs else ()
    return tuple(n for prefix, names in groups for n in (*names, *(f"{prefix}_{e}" for e in extra)))


BLOCK_BEATS = 8192  # beats `record_templates` reads against their template at once
MAX_TEMPLATE_BEATS = 1000  # beats a record's median beat is taken over, spread evenly over it


def record_templates(
    waveform: np.ndarray,
    record_id: np.ndarray,
    r_peak: np.ndarray,
    *,
    centre: int,
    half: int,
    max_beats: int = MAX_TEMPLATE_BEATS,
    rr_prev: np.ndarray | None = None,
    rr_quantile: float = 0.0,
    sinus_quantile: float = 0.0,
    pre_qrs: bool = False,
    clear: np.ndarray | None = None,
) -> np.ndarray:
    """(beats, leads, 4) per beat and lead: correlation with the record's median beat over the whole
    window and over the QRS (+-`half` samples of `centre`, the R peak), log1p of the RMS of the
    difference relative to the template's, and the log of the QRS energy relative to the template's
    (floored at 1e-3; logs keep a ventricular beat's tenfold energy from dwarfing the scale).

    The median is taken over at most `max_beats` beats spread evenly over the record's beats in time
    order (`r_peak`): a day-long record costs what an hour does, and the rows' order changes nothing. A flat
    template or beat gives correlation 0 and ratio 1 rather than NaN.

    `rr_quantile` > 0: the template is the median of the record's unhurried beats only, those whose
    preceding interval (`rr_prev`, s) is at least that quantile of the record's: premature beats (S, V)
    are then left out of it even in a record where they are the majority.

    `sinus_quantile` > 0: four more features per lead, the same against the median of the beats whose
    preceding interval is at least that quantile of the record's, beside those against `rr_quantile`'s
    template: where premature beats are most of a record its median beat is one of them, and its
    unhurried beats are still the sinus ones.

    `pre_qrs`: after each template's four, the correlation and the log1p relative RMS difference over
    the window before the QRS, where the P wave is: an atrial premature beat's P wave comes from
    elsewhere in the atria (shaped otherwise, often on the T wave before it), which a whole-window
    correlation, made of the QRS's energy, barely sees. Worth it only with a window that holds the P
    wave (where the PR interval is long, some 0.3-0.4 s before the R peak).

    `clear`: per beat, False where a dropout's stand-in line is in its window (a row kept only as its
    neighbours' context): such beats are read against the template, never part of it, while any is clear;
    each takes only its own pick out of the median (`_picks`)."""
    out = np.zeros((*waveform.shape[:2], len(template_names(sinus_quantile, pre_qrs))), np.float32)
    quantiles = template_quantiles(rr_quantile, sinus_quantile)
    for rows in record_rows(record_id, r_peak):
        picks = template_picks(rows, rr_prev, clear, quantiles, max_beats)
        templates = [np.median(waveform[p].astype(np.float64), axis=0) for p in picks]  # (leads, T) each
        read_against(waveform, rows, templates, centre=centre, half=half, pre_qrs=pre_qrs, out=out)
    return out


def template_quantiles(rr_quantile: float = 0.0, sinus_quantile: float = 0.0) -> tuple[float, ...]:
    """The preceding-interval quantile each of a record's templates is the median of the beats above
    (`record_templates`: `rr_quantile`'s, then `sinus_quantile`'s where > 0)."""
    return (rr_quantile, sinus_quantile) if sinus_quantile > 0 else (rr_quantile,)


def template_picks(
    rows: np.ndarray,
    rr_prev: np.ndarray | None,
    clear: np.ndarray | None,
    quantiles: tuple[float, ...],
    max_beats: int = MAX_TEMPLATE_BEATS,
) -> list[np.ndarray]:
    """Per quantile (`template_quantiles`), the beats of one record (`rows`, in time order; `rr_prev` and
    `clear` indexed as they are) whose median is its template: what a record read in sections collects
    before any of its beats is read against it."""
    return [_picks(_unhurried(rows, rr_prev, q), clear, max_beats) for q in quantiles]


def read_against(
    waveform: np.ndarray,
    rows: np.ndarray,
    templates: list[np.ndarray],
    *,
    centre: int,
    half: int,
    pre_qrs: bool,
    out: np.ndarray,
) -> None:
    """`out[rows]` = the beats `rows` of `waveform` against each of their record's `templates` in turn."""
    k = out.shape[-1] // len(templates)
    qrs = slice(max(centre - half, 0), centre + half + 1)
    pre = slice(0, max(centre - half, 1)) if pre_qrs else None
    # a block of beats at a time: a day's 100,000 beats in float64 and _against's temporaries held GBs
    for start in range(0, len(rows), BLOCK_BEATS):
        block = rows[start : start + BLOCK_BEATS]
        beats = waveform[block].astype(np.float64)
        for i, template in enumerate(templates):
            out[block, :, i * k : (i + 1) * k] = _against(beats, template, qrs, pre)


def _picks(eligible: np.ndarray, clear: np.ndarray | None, max_beats: int) -> np.ndarray:
    """At most `max_beats` of `eligible` (rows in time order), spread evenly over them, less those `clear`
    marks spoiled. The spread is over every eligible beat, the spoiled ones too, so that a beat a dropout
    spoils takes away its own pick and moves no other: MIT-BIH 100 with 8 beats spoiled moved every other
    beat's template features by up to 0.012 when the spread was over the clear beats only. Where every pick
    is spoiled, the clear beats; where none is clear, every beat."""
    evenly = np.linspace(0, len(eligible) - 1, min(len(eligible), max_beats)).round().astype(int)
    if clear is None or clear[eligible[evenly]].all():
        return eligible[evenly]
    kept = eligible[evenly][clear[eligible[evenly]]]
    if len(kept):
        return kept
    usable = eligible[clear[eligible]]
    return eligible[evenly] if not len(usable) else _picks(usable, None, max_beats)


def _against(beats: np.ndarray, template: np.ndarray, qrs: slice, pre: slice | None = None) -> np.ndarray:
    """(beats, leads, 4, or 6 with `pre`): `record_templates`' features of `beats` against one template."""
    energy = _ratio((beats[..., qrs] ** 2).sum(-1), (template[..., qrs] ** 2).sum(-1))
    features = [
        _corr(beats, template),
        _corr(beats[..., qrs], template[..., qrs]),
        np.log1p(_relative_rms(beats, template)),
        np.log(np.maximum(energy, 1e-3)),
    ]
    if pre is not None:
        features += [
            _corr(beats[..., pre], template[..., pre]),
            np.log1p(_relative_rms(beats[..., pre], template[..., pre])),
        ]
    return np.stack(features, axis=-1)


def _relative_rms(beats: np.ndarray, template: np.ndarray) -> np.ndarray:
    """RMS of the difference from the template, over the template's own RMS."""
    return _ratio(np.sqrt(((beats - template) ** 2).mean(-1)), np.sqrt((template**2).mean(-1)))


def _unhurried(rows: np.ndarray, rr_prev: np.ndarray | None, quantile: float, min_beats: int = 8) -> np.ndarray:
    """`rows` whose preceding RR is at least the `quantile` of theirs; all of them where that leaves
    fewer than `min_beats` (or no intervals are known)."""
    if quantile <= 0 or rr_prev is None:
        return rows
    rr = rr_prev[rows].astype(np.float64)
    known = np.isfinite(rr)
    if known.sum() < min_beats:
        return rows
    chosen = rows[known & (rr >= np.quantile(rr[known], quantile))]
    return chosen if len(chosen) >= min_beats else rows


def _corr(beats: np.ndarray, template: np.ndarray) -> np.ndarray:
    b = beats - beats.mean(-1, keepdims=True)
    t = template - template.mean(-1, keepdims=True)
    norm = np.sqrt((b * b).sum(-1) * (t * t).sum(-1))
    return np.where(norm > 0, (b * t).sum(-1) / np.where(norm > 0, norm, 1.0), 0.0)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)
