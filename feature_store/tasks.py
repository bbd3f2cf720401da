"""Learning tasks: each task is one typed spec, and everything task-specific is read from it.

A spec says what a row is (a beat window or a record crop), which raw source kinds feed it, its
classes and whether they are multi-label, how rows are split (always by patient), the headline metric
that early stopping, every choice on validation and the promotion gate use, the gate's minimum, and
the prefix of its Dagster assets. Feature views, training assets, checks and the comparison are
generated from it, so a new task is one entry here plus its sources.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from .sources.leads import STANDARD_12, LeadSlot, pick_leads
from .views.families import FAMILY_PARAMS, SpectrogramParams, TimeParams

if TYPE_CHECKING:  # polars-free at import, as the views' families are
    import polars as pl

    from .raw_store import RawSnapshot

METRICS = ("macro_f1", "macro_auc")  # names ecgnet.evaluate resolves to scikit-learn metrics


# MIT-BIH's two leads: the modified limb lead II, and a chest lead (V1 in most records; V2, V4 or V5
# in six). Records are matched by name (record 114 stores V5 before MLII), never by position.
BEAT_LEADS = (
    LeadSlot("MLII", ("II", "ECG1", "ECG")),
    LeadSlot("V1", ("MCL1", "V2", "V5", "V4", "V3", "V6", "V", "ECG2")),
)


@dataclass(frozen=True)
class BeatWindows:
    """A row per annotated beat: the context window around its R peak, as ingest stored it."""

    leads: tuple[LeadSlot, ...] = BEAT_LEADS  # picked by name from each record's leads
    unit: ClassVar[str] = "beat"

    @property
    def n_leads(self) -> int:
        return len(self.leads)

    @staticmethod
    def raw_rows(snapshot: RawSnapshot) -> pl.LazyFrame:
        """The raw table whose rows become the task's rows (a polars LazyFrame)."""
        return snapshot.scan_beats()


@dataclass(frozen=True)
class RecordWindows:
    """A row per record: its first `duration_s`, the leads picked by name in slot order (shorter records
    zero-padded). With `rhythm_windows`, records of rhythm-annotated AF databases (CPSC 2021, AFDB) give instead
    a row per `duration_s` window lying inside one annotated rhythm episode, labelled by it; windows
    are laid end to end from each episode's start, and what is left of an episode is not used."""

    duration_s: float = 10.0
    leads: tuple[LeadSlot, ...] = tuple(LeadSlot(lead) for lead in STANDARD_12)
    rhythm_windows: bool = False
    fs: float | None = None  # rows resampled to this rate; None: the records' own, which must be one
    unit: ClassVar[str] = "record"

    @property
    def lead_names(self) -> tuple[str, ...]:
        return tuple(slot.name for slot in self.leads)

    @staticmethod
    def raw_rows(snapshot: RawSnapshot) -> pl.LazyFrame:
        return snapshot.scan_records()


Windowing = BeatWindows | RecordWindows


@dataclass(frozen=True)
class ReferenceStress:
    """Training copies of a beat task's records rich in `beat_class`, every beat read against record
    references (RR mean, median and 90th percentile, median beat) computed as if that class were
    `share` of the record: what a record made mostly of premature beats looks like (DS2's 232), which
    DS1 has none of. Records with fewer than `min_beats` of the class get no copy; copies only train,
    where their patient trains (`ecgnet.stress`)."""

    beat_class: str = "S"
    share: float = 0.75
    min_beats: int = 50

    def __post_init__(self) -> None:
        if not 0 < self.share < 1 or self.min_beats < 1:
            raise ValueError(f"reference stress: share {self.share} must be in (0, 1), min_beats {self.min_beats} >= 1")


@dataclass(frozen=True)
class Splits:
    """Which stored splits train, validate and test; patients never cross them (sources assign
    splits by patient). When fewer than `min_val_rows` labelled rows are in `val`, a seeded
    `val_fraction` of train patients joins validation; test is never used for any choice."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    val_fraction: float = 0.25
    min_val_rows: int = 20

    @property
    def described(self) -> str:
        """The rule in words, for the catalog: 'train from DS1 or train; validation from val, or a seeded
        25% of the train patients where that holds under 20 rows; test from DS2 or test'."""
        held = f"a seeded {self.val_fraction:.0%} of the train patients"
        val = (
            held
            if not self.val
            else f"{' or '.join(self.val)}, or {held} where that holds under {self.min_val_rows} rows"
        )
        return f"train from {' or '.join(self.train)}; validation from {val}; test from {' or '.join(self.test)}"


@dataclass(frozen=True)
class Published:
    """A result published on a task's own protocol, for the comparison to stand its chosen variant
    against (ecgnet.published): test figures by their comparison names (accuracy; se_<class> and
    pp_<class> for focus classes), and how many test patients the protocol scores, since only a test
    split of exactly those patients is comparable (a few DS2 records are not DS2)."""

    name: str  # "de Chazal et al. 2004"
    figures: dict[str, float]
    test_patients: int


@dataclass(frozen=True)
class TaskSpec:
    name: str  # view names (<name>_<family>), MLflow experiment ecgnet-<name>, models ecgnet-<name>-<variant>
    asset_prefix: str  # Dagster asset names: <prefix>_<family>_features, <prefix>_<variant>_model, ...
    window: Windowing
    source_kinds: tuple[str, ...]  # raw source kinds (ingest assets) that feed it
    classes: tuple[str, ...]
    multilabel: bool
    splits: Splits
    metric: str  # headline metric: early stopping, choices on validation, the gate, the comparison
    gate_min: float  # the promotion gate's minimum validation metric
    focus_classes: tuple[str, ...] = ()  # single-label: classes whose Se and +P are reported
    # single-label macro-F1: the classes the headline averages over (empty: every class present)
    metric_classes: tuple[str, ...] = ()
    view_params: dict = field(default_factory=lambda: dict(FAMILY_PARAMS))  # family -> params
    sources_hint: str = ""  # what to ingest to train it, for the message when it has no rows
    reference_stress: ReferenceStress | None = None  # beats: training copies under S-dominant references
    # the model variants its comparison trains, by name (ecgnet.fusion.VARIANTS; empty: every one). Each
    # must come with those it is made of (late and intermediate: the three singles; ensembles: members)
    variants: tuple[str, ...] = ()
    published: tuple[Published, ...] = ()  # results on this protocol the comparison reads its choice against
    # each class as a WFDB annotation (`predict --annotations`): a beat symbol (N, S, V: the codes WFDB's bxb
    # and rxr score), a rhythm change `(AFIB` (epicmp), or `~`, unreadable signal; empty: a task of one row a
    # record, nothing in time to annotate
    annotation_codes: dict[str, str] = field(default_factory=dict)
    # a beats task's runs for EC57's run-by-run comparison (WFDB's rxr; `predict --reference`): a run's name
    # -> the classes whose consecutive beats make one (ventricular ectopic runs: V, and fusion F, as rxr
    # counts them)
    ectopic_runs: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"task {self.name!r}: metric {self.metric!r} is not one of {METRICS}")
        for what, named in (("focus", self.focus_classes), ("metric", self.metric_classes)):
            unknown = [c for c in named if c not in self.classes]
            if unknown:
                raise ValueError(f"task {self.name!r}: {what} classes {unknown} are not in {self.classes}")
        if self.metric_classes and (self.multilabel or self.metric != "macro_f1"):
            raise ValueError(f"task {self.name!r}: metric_classes restrict a single-label macro_f1 only")
        stress = self.reference_stress
        beats = self.window.unit == "beat" and not self.multilabel
        if stress is not None and not (beats and stress.beat_class in self.classes):
            raise ValueError(
                f"task {self.name!r}: reference stress needs single-label beats with class "
                f"{stress.beat_class!r} (classes {self.classes}, rows per {self.window.unit})"
            )
        figures = {"accuracy", *self.focus_figures}
        for ref in self.published:
            unknown = sorted(set(ref.figures) - (set() if self.multilabel else figures))
            if unknown:
                raise ValueError(
                    f"task {self.name!r}: published {ref.name!r} reports {unknown}, which its comparison does not; "
                    f"fix: name figures among {sorted(figures)} (single-label tasks)"
                )
        codes = self.annotation_codes
        if codes and (
            self.multilabel
            or any(c not in codes for c in self.classes)
            or not all(map(_annotation_code, codes.values()))
        ):
            raise ValueError(
                f"task {self.name!r}: annotation codes {codes} do not annotate classes {self.classes}; fix: one for "
                "each class of a single-label task, each a beat symbol (one character), a rhythm `(NAME` or `~`"
            )
        runs = self.ectopic_runs
        if runs and (
            self.multilabel or self.unit != "beat" or any(c not in self.classes for cs in runs.values() for c in cs)
        ):
            raise ValueError(
                f"task {self.name!r}: ectopic runs {runs} need a single-label beats task with those classes "
                f"(classes {self.classes}, rows per {self.unit})"
            )
        missing = [f for f in FAMILY_PARAMS if f not in self.view_params]
        if missing:
            raise ValueError(f"task {self.name!r}: no view parameters for families {missing}")

    @property
    def unit(self) -> str:
        return self.window.unit

    @property
    def class_codes(self) -> tuple[str, ...]:
        """Each class's annotation code, in class order (empty: the task annotates nothing)."""
        return tuple(self.annotation_codes[c] for c in self.classes) if self.annotation_codes else ()

    @property
    def metric_key(self) -> str:
        """The headline metric's name among the test metrics and in MLflow (macro_f1_N_S_V for beats)."""
        return macro_f1_key(self.metric_classes) if self.metric_classes else self.metric

    @property
    def focus_figures(self) -> tuple[str, ...]:
        """Each focus class's sensitivity and positive predictivity, as the test metrics name them."""
        return tuple(f"{m}_{c}" for c in self.focus_classes for m in ("se", "pp"))

    @property
    def scored_classes(self) -> tuple[str, ...]:
        """The classes a comparison's figures read: those the headline averages over, then the focus
        classes (a split without rows of one leaves its figure undefined, or blind)."""
        return tuple(dict.fromkeys((*(self.metric_classes or self.classes), *self.focus_classes)))

    @property
    def test_figures(self) -> tuple[str, ...]:
        """The test figures a reader is told of a variant: the headline, accuracy, `focus_figures` and the
        calibration error (a multi-label task reports no accuracy or focus figures, and a table from before
        calibration was scored no `ece`: readers skip the names its table lacks)."""
        return (self.metric_key, "accuracy", *self.focus_figures, "ece")

    @property
    def metric_labels(self) -> tuple[int, ...] | None:
        """Class indices the headline averages over; None: every class present."""
        return tuple(self.classes.index(c) for c in self.metric_classes) or None


def in_time(task: TaskSpec, what: str) -> None:
    """ValueError for `what` (an option, a step) that reads a task's rows in time (annotations: beats, rhythm
    windows) where the task has one row a record."""
    if not task.annotation_codes:
        raise ValueError(f"{what}: the {task.name} task has one row a record, nothing in time; fix: use --out")


def _annotation_code(code: str) -> bool:
    """A code WFDB writes: a beat's one-character symbol, or a rhythm change's note `(NAME`."""
    return len(code) == 1 or (code.startswith("(") and len(code) > 1 and code[1:].isalnum())


def macro_f1_key(metric_classes: tuple[str, ...]) -> str:
    """The name of the macro-F1 over `metric_classes` among the test metrics (macro_f1_N_S_V)."""
    return "_".join(("macro_f1", *metric_classes))


# AAMI EC57 classes, DS1 -> DS2 inter-patient protocol (de Chazal et al. 2004); macro-F1 because
# accuracy is dominated by N beats, over N, S and V: EC57 scores ventricular and supraventricular ectopic
# beat detection, and the field reports S and V. F (0.8 % of beats, most of them in one DS1 and one DS2
# patient) and Q (15 DS1 beats) made two fifths of a five-class mean that is mostly noise, and DS1's
# decision offsets traded V sensitivity for F (README, MIT-BIH section).
BEATS = TaskSpec(
    name="beats",
    asset_prefix="beat",
    window=BeatWindows(),
    source_kinds=("annotated",),
    classes=("N", "S", "V", "F", "Q"),
    multilabel=False,
    splits=Splits(train=("DS1", "train"), val=("val",), test=("DS2", "test")),
    metric="macro_f1",
    gate_min=0.3,
    focus_classes=("S", "V"),
    metric_classes=("N", "S", "V"),
    sources_hint="an annotated beat database (MIT-BIH layout)",
    # WFDB's own symbols: S supraventricular, Q unclassifiable
    annotation_codes={c: c for c in ("N", "S", "V", "F", "Q")},
    ectopic_runs={"V": ("V", "F")},
    # DS1 cross-validation, S-dominant references instrument: S Se under it 0.29 -> 0.54 (benchmarks/ABLATIONS.md)
    reference_stress=ReferenceStress(),
    # the rhythm around each beat, 9 intervals either side: DS1 5-fold CV of the time variant, three seeds,
    # held-out-fold headline +0.017, +0.025, +0.035 and out of fold +0.031, +0.036, +0.011 (README, "RR context")
    view_params={**FAMILY_PARAMS, "time": TimeParams(rr_context_beats=8)},
    # DS1 -> DS2, nothing learnt from DS2, all 22 DS2 patients scored: the figures issue 9 sets as the bar
    # (de Chazal's) and the frontier (the others)
    published=(
        Published(
            "de Chazal et al. 2004",
            {"accuracy": 0.862, "se_S": 0.759, "pp_S": 0.385, "se_V": 0.777, "pp_V": 0.819},
            test_patients=22,
        ),
        Published(
            "Llamedo & Martinez 2011",
            {"accuracy": 0.93, "se_S": 0.77, "pp_S": 0.39, "se_V": 0.81, "pp_V": 0.87},
            test_patients=22,
        ),
        Published("Huang et al. 2014", {"se_S": 0.91, "pp_S": 0.42, "se_V": 0.94, "pp_V": 0.91}, test_patients=22),
        Published("Mondejar-Guerra et al. 2019", {"accuracy": 0.945}, test_patients=22),
    ),
)

# PTB-XL diagnostic superclasses, its benchmark protocol (folds 1-8 / 9 / 10, macro-AUC). 10 s
# records at 100 Hz: coarser spectrogram frames keep 12 leads near 12k values per record.
RECORDS = TaskSpec(
    name="records",
    asset_prefix="record",
    window=RecordWindows(),
    source_kinds=("ptbxl", "challenge"),
    classes=("NORM", "MI", "STTC", "CD", "HYP"),
    multilabel=True,
    splits=Splits(train=("train",), val=("val",), test=("test",)),
    metric="macro_auc",
    gate_min=0.5,  # 0.5 is chance
    view_params={**FAMILY_PARAMS, "spectrogram": SpectrogramParams(window_s=0.5, hop_s=0.25)},
    sources_hint="a PTB-XL or Challenge 2021 folder",
)

# Rhythm classes from one lead, macro-F1 over N, AF, other and noisy (CinC 2017 scored the mean F1 of
# the first three), at 100 Hz. CinC 2017 (AliveCor, 300 Hz, REFERENCE.csv): each record's first 30 s (the
# median length; shorter ones zero-padded); each record is its own patient (CinC 2017 does not say who
# recorded what), split by the stable patient hash. CPSC 2021 (Holter excerpts, leads I and II, AF
# episodes annotated): 30 s windows inside one episode, lead II (or I), patients from the file names.
# AFDB (10 h Holters, ECG1 and ECG2, rhythm changes only): windows as CPSC 2021's, lead ECG1.
AF_LEAD = LeadSlot("ECG", ("II", "MLII", "ECG1", "I"))
AF = TaskSpec(
    name="af",
    asset_prefix="af",
    window=RecordWindows(duration_s=30.0, leads=(AF_LEAD,), rhythm_windows=True, fs=100.0),
    source_kinds=("wfdb", "annotated"),
    classes=("N", "AF", "O", "noisy"),
    multilabel=False,
    splits=Splits(train=("train",), val=("val",), test=("test",)),
    metric="macro_f1",
    gate_min=0.25,  # four classes: chance is about 0.25
    focus_classes=("AF",),
    view_params={**FAMILY_PARAMS, "spectrogram": SpectrogramParams(window_s=0.5, hop_s=0.25)},
    # WFDB's rhythm codes where it has one (AFDB's and CPSC 2021's); no code names CinC 2017's "other rhythm"
    annotation_codes={"N": "(N", "AF": "(AFIB", "O": "(O", "noisy": "~"},
    sources_hint="a CinC 2017 folder (single-lead records with REFERENCE.csv), CPSC 2021 or AFDB records",
)

TASKS: dict[str, TaskSpec] = {t.name: t for t in (BEATS, RECORDS, AF)}


def view_name(task: str, family: str) -> str:
    """A feature view's name: one per task and family."""
    return f"{task}_{family}"


def tasks_reading(leads: list[str], but: str) -> list[str]:
    """The tasks other than `but` whose lead slots a record with `leads` fills: what to offer where `but`
    refuses it for its leads (a one-lead patch: the af task)."""
    return [t.name for t in TASKS.values() if t.name != but and pick_leads(t.window.leads, leads) is not None]


def task_named(name: str) -> TaskSpec:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; fix: choose one of {sorted(TASKS)}")
    return TASKS[name]
