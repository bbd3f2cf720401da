"""MLflow tracking: an experiment per task, a parent run per comparison, a child run per variant,
registered models `ecgnet-<task>-<variant>` and a `champion` alias. The Tracker only reads and
writes MLflow: what to promote is decided in ecgnet.promotion.

The default store is embedded (the workspace's SQLite database and artifact folder); any other
tracking URI (an MLflow server) works the same way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import polars as pl
import torch
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities import DatasetInput, InputTag, Metric, Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.types import Schema, TensorSpec
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from feature_store.summary import markdown_table
from feature_store.views.catalog import ViewEntry
from feature_store.workspace import PROJECT_ROOT, Workspace, names_server, tracking_uri

from .comparison import VariantResult
from .config import ComparisonConfig
from .data import TaskData
from .explain import BASELINE_FILE, train_baseline
from .export import Layout, Packed
from .plots import confusion_png, roc_png, training_png
from .promotion import Candidate, Champion
from .seeds import seed_metrics
from .train import bf16_unit, resolve_device

log = logging.getLogger(__name__)

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# the system-metrics monitor says "started", "stopping" and "terminated" at INFO for every variant it watches
logging.getLogger("mlflow.system_metrics").setLevel(logging.WARNING)
CHAMPION = "champion"
# the champion's registered version: how many inbox records with a reference it read, and their summed line
INBOX_COMPARED, INBOX_AGAINST = "ecgnet.inbox_records_compared", "ecgnet.inbox_against_references"
TAG_LIMIT = 5000  # characters MLflow keeps of a model version tag's value
HARDWARE = "ecgnet.hardware"  # the prefix of the tags saying where a run ran (`hardware`)
ROLE = "ecgnet.role"  # the tag saying what a run is: comparison (a parent), variant (its child), ablation
TASK = "ecgnet.task"  # the tag naming a comparison's or an ablation's task
CANDIDATE = "ecgnet.champion_candidate"  # the tag naming the variant a finished comparison chose
NOTE = "mlflow.note.content"  # the tag MLflow's UI shows (markdown) as a run's or an experiment's description
# MLflow 3's UI reads an experiment's kind from this tag (its experiment-type selector writes it); an
# experiment without it may be taken for GenAI work and open on traces rather than its runs
EXPERIMENT_KIND, MODEL_DEVELOPMENT = "mlflow.experimentKind", "custom_model_development"
NOTE_LIMIT = 8000  # MLflow's longest run tag value (mlflow.utils.validation.MAX_TAG_VAL_LENGTH)
PIP_REQUIREMENTS = ["torch==2.13.0", "numpy==2.4.6"]  # explicit: inferring them costs seconds


def git_state(root: Path = PROJECT_ROOT) -> dict[str, str]:
    """The code a run ran, as MLflow params: the checkout's commit, and whether tracked files differed from it
    (`git_dirty`: a run of uncommitted code cannot be repeated from its commit alone; untracked files, such
    as a workspace inside the checkout, do not count). "unknown" outside a git checkout."""
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return {
        "git_commit": _git(root, "rev-parse", "HEAD") or "unknown",
        "git_dirty": "unknown" if status is None else str(bool(status)).lower(),
    }


def _git(root: Path, *args: str) -> str | None:
    """git's output in `root`, stripped; None where git is missing or fails there (not a checkout)."""
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def hardware(device: str) -> dict[str, str]:
    """Where a comparison ran, as MLflow tags: seeded training repeats a comparison to the last digit
    on one machine, not necessarily on another CPU model or library build (their kernels round
    differently), so a figure is compared with the hardware and versions beside it."""
    where, bf16 = resolve_device(device), bf16_unit()
    return {
        f"{HARDWARE}.cpu": _cpu_model(),
        f"{HARDWARE}.cores": str(os.cpu_count()),
        f"{HARDWARE}.torch_threads": str(torch.get_num_threads()),
        f"{HARDWARE}.device": torch.cuda.get_device_name(where) if where.type == "cuda" else where.type,
        f"{HARDWARE}.torch": torch.__version__,
        f"{HARDWARE}.numpy": np.__version__,
        f"{HARDWARE}.amx": str(bf16 == "amx").lower(),  # kept: runs before native_bf16 carry it alone
        f"{HARDWARE}.native_bf16": bf16,  # where TrainConfig.cpu_bf16 pays (ECGNET_CPU_BF16=auto)
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def experiment_name(task: str, kind: str = "") -> str:
    """The MLflow experiment of a task's comparisons (ecgnet-beats), or of its `kind` beside them
    (ecgnet-beats-ablations)."""
    return f"ecgnet-{task}" + (f"-{kind}" if kind else "")


def model_name(task: str, variant: str) -> str:
    return f"ecgnet-{task}-{variant}"


PICKLE_SWITCH = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"


@contextmanager
def pickles_refused() -> Iterator[None]:
    """MLflow 3 unpickles model files by default: a `model.pth` planted beside a logged `model.pt2` would
    be loaded, and run, instead of it. Our models are torch.export archives and need no pickle, so
    loading refuses any for a while (MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false, restored after)."""
    with _switched(PICKLE_SWITCH, "false"):
        yield


@contextmanager
def _switched(name: str, value: str) -> Iterator[None]:
    """The environment variable `name` set to `value` for a while (MLflow reads its switches from the
    environment at each call), then as it was."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


class Tracker:
    def __init__(self, tracking_uri: str, artifact_root: Path, validate_models: bool = True):
        """`validate_models`: MLflow loads every logged model back and serves it its input example, so
        a model that could not be served fails where it was trained, not at `predict` (about a third of
        logging a model on CPU: loading an exported program costs as much as exporting it)."""
        self.uri, self.artifact_root, self.validate_models = tracking_uri, artifact_root, validate_models
        self.client = MlflowClient(tracking_uri)

    @classmethod
    def for_workspace(cls, workspace: Workspace, uri: str | None = None, validate_models: bool = True) -> Tracker:
        """The workspace's store (MLFLOW_TRACKING_URI or its SQLite file), or the server `uri` names."""
        workspace.home.mkdir(parents=True, exist_ok=True)
        return cls(uri or tracking_uri(workspace), workspace.mlflow_artifacts, validate_models)

    @contextmanager
    def fluent(self) -> Iterator[None]:
        """Point mlflow's module-level API (start_run, log_model, load_model) at this store for a while.

        `mlflow.set_tracking_uri` is process-wide and exports MLFLOW_TRACKING_URI, which
        `feature_store.workspace.tracking_uri` reads as the user's choice; both are restored, so workspaces
        used in turn in one process (tests, in-process Dagster runs) never write into each other's store.
        """
        previous = os.environ.get("MLFLOW_TRACKING_URI")
        mlflow.set_tracking_uri(self.uri)
        try:
            yield
        finally:
            # None unsets the URI and the variable: mlflow's code does so, its annotation leaves None out
            mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]

    def experiment(self, task: str, kind: str = "") -> str:
        """The task's experiment (comparisons), or its `kind` beside it (ecgnet-beats-ablations)."""
        name = experiment_name(task, kind)
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            if found.tags.get(EXPERIMENT_KIND) is None:  # made before the kind was set: say it now
                self.client.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND, MODEL_DEVELOPMENT)
            return found.experiment_id
        kind_tag = {EXPERIMENT_KIND: MODEL_DEVELOPMENT}
        if names_server(self.uri):  # its proxied artifact store decides
            return self.client.create_experiment(name, tags=kind_tag)
        location = (self.artifact_root / name).as_uri()
        return self.client.create_experiment(name, artifact_location=location, tags=kind_tag)

    def start_comparison(
        self, task: str, cfg: ComparisonConfig, versions: dict[str, str], data_params: dict | None = None
    ) -> str:
        """Create the parent run of one comparison; children attach to it by id. `data_params`: how the
        task data was made beyond its views (the training copies, say)."""
        run = self.client.create_run(
            self.experiment(task),
            run_name=f"comparison-{task}",
            tags={ROLE: "comparison", TASK: task, **hardware(cfg.train.device)},
        )
        params = {
            "task": task,
            "variants": ",".join(cfg.variants),
            **git_state(),
            "n_boot": cfg.n_boot,
            "folds": cfg.folds,
            "seeds": cfg.seeds,
            "one_seed": ",".join(cfg.one_seed) or "none",  # an empty cell reads as not logged
            "selection": cfg.selection,
            "intermediate_encoders": cfg.intermediate_encoders,
            "data_fingerprint": _fingerprint(versions),
            **settings(cfg),
            **{f"view.{k}": v for k, v in versions.items()},
            **(data_params or {}),
        }
        for k, v in params.items():
            self.client.log_param(run.info.run_id, k, v)
        self._close_stale(task, keep=run.info.run_id)
        return run.info.run_id

    def log_ablation(
        self,
        task: str,
        name: str,
        cfg: ComparisonConfig,
        metrics: dict[str, float],
        *,
        params: dict | None = None,
        files: dict[str, Path] | None = None,
        seconds: float = 0.0,
    ) -> str:
        """One DS1 ablation row (benchmarks.ablations) as a run of the task's "ablations" experiment, beside
        its comparisons in the same store: the change's name, every training and model setting, the
        hardware (a machine moves a row as much as a seed does) and the row's figures, so rows can be
        set side by side in the MLflow UI; `files` are logged as artifacts (the out-of-fold
        probabilities that benchmarks.paired_rows reads)."""
        run = self.client.create_run(
            self.experiment(task, "ablations"),
            run_name=name,
            start_time=int((time.time() - seconds) * 1000),
            tags={ROLE: "ablation", TASK: task, **hardware(cfg.train.device)},
        )
        run_id = run.info.run_id
        with self.fluent(), mlflow.start_run(run_id=run_id):
            # a value over MLflow's 6,000 characters is cut there by MLflow itself (with a warning), as for the
            # comparisons: not at 500 here, which cut long settings that it takes whole
            mlflow.log_params({"ablation": name, **git_state(), **settings(cfg), **(params or {})})
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
            for path in (files or {}).values():
                mlflow.log_artifact(str(path))
        return run_id

    def _close_stale(self, task: str, keep: str) -> None:
        """Comparisons that never finished (a failed run) are marked KILLED, not left RUNNING, and so are
        the variant runs a killed process left open under them."""
        stale = self.client.search_runs(
            [self.experiment(task)],
            filter_string=_runs("comparison", "RUNNING"),
        )
        for run in stale:
            if run.info.run_id != keep:
                self.client.set_terminated(run.info.run_id, "KILLED")
        open_variants = self.client.search_runs([self.experiment(task)], filter_string=_runs("variant", "RUNNING"))
        for run in open_variants:
            if run.data.tags.get("mlflow.parentRunId") != keep:
                self.client.set_terminated(run.info.run_id, "KILLED")

    def open_variant(self, parent_id: str, task: str, name: str, kind: str) -> str:
        """A variant's child run, opened before it trains, so its curves show while it does (`EpochCurves`)
        and a variant that fails is a FAILED run (`fail_run`) rather than no run at all."""
        run = self.client.create_run(
            self.experiment(task),
            run_name=name,
            tags={"mlflow.parentRunId": parent_id, ROLE: "variant", "ecgnet.kind": kind},
        )
        return run.info.run_id

    @contextmanager
    def system_metrics(self, run_id: str) -> Iterator[None]:
        """CPU, memory, disk and network (and GPU, where nvidia-ml-py finds one) sampled into the run's System
        metrics tab while the block runs: MLflow's own monitor, every MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL
        seconds (default 10). Best effort: a monitor that cannot start is a warning, never a failed training."""
        try:
            from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

            monitor = SystemMetricsMonitor(run_id, tracking_uri=self.uri)
            monitor.start()
        except Exception as err:  # noqa: BLE001 - psutil missing, a store refusing: train without it
            log.warning("system metrics of run %s not sampled: %s", run_id, err)
            yield
            return
        try:
            yield
        finally:
            monitor.finish()

    def epoch_curves(self, run_id: str) -> EpochCurves:
        return EpochCurves(self.client, run_id)

    def fail_run(self, run_id: str) -> None:
        """Mark a run FAILED; best effort, as it is called while an error is already on its way up."""
        try:
            self.client.set_terminated(run_id, "FAILED")
        except MlflowException as err:
            log.warning("could not mark MLflow run %s FAILED: %s", run_id, err)

    def log_variant(
        self,
        run_id: str,
        result: VariantResult,
        data: TaskData,
        cfg: ComparisonConfig,
        curves: EpochCurves,
        pictures: dict[str, bytes],
    ) -> str:
        """Params, per-epoch and final metrics, plots and the registered model, into the variant's run that
        `open_variant` opened; its `curves` logged epochs as they came, so only those they could not log are
        logged now. `pictures`: PNGs the caller drew (file name -> bytes) and shows elsewhere too (the
        reliability diagram, on the Dagster asset), logged under plots/ beside the run's own. Returns the
        registered model version."""
        v = result.variant
        with self.fluent(), mlflow.start_run(run_id=run_id):
            mlflow.log_params(
                {
                    "variant": v.name,
                    "kind": v.kind,
                    "description": v.description,
                    "modalities": v.modality or "time,frequency,spectrogram",
                    **git_state(),
                    "data_fingerprint": _fingerprint(data.versions),
                    **{f"view.{k}": val for k, val in data.versions.items()},
                    **settings(cfg),
                    **flat_params("fitted", result.fitted),  # fitted.offsets.S: a column per class
                }
            )
            for h in curves.unlogged(result.history):  # one curve per fold member under cross-validation
                mlflow.log_metrics(curve_values(h), step=h["epoch"])
            cv = {k: result.fitted[k] for k in ("cv_metric_mean", "cv_metric_sd") if k in result.fitted}
            cv |= seed_metrics(result.fitted, result.test_per_seed)
            test = {k: v for name, i in result.test.items() for k, v in i.flat(f"test_{name}").items()}
            version, model_id = self._log_model(result, data)
            # the final figures belong to the logged model as well: the experiment's Models list shows them
            # beside each model (the per-epoch curves above stay the run's alone)
            mlflow.log_metrics(
                {
                    **result.val.flat("val_metric"),
                    **{k: v for k, v in test.items() if np.isfinite(v)},
                    "n_params": result.n_params,
                    "latency_ms_per_row": result.latency_ms,
                    "train_seconds": result.seconds,
                    **cv,
                    **(result.explained.metrics() if result.explained else {}),
                },
                model_id=model_id,
            )
            self._log_plots(result, data, pictures)
        return version

    def _log_plots(self, result: VariantResult, data: TaskData, pictures: dict[str, bytes]) -> None:
        name = result.variant.name
        with tempfile.TemporaryDirectory() as tmp:
            files = {
                "roc_test.png": roc_png(
                    result.test_probs, data.test.y, data.classes, data.multilabel, f"{name}: test ROC"
                )
            }
            if not data.multilabel:
                files["confusion_test.png"] = confusion_png(
                    result.test_probs, data.test.y, data.classes, f"{name}: test confusion"
                )
            if result.history:
                files["training.png"] = training_png(result.history, f"{name}: training")
            files.update(result.pictures)  # attribution maps, when the variant was explained
            files.update(pictures)
            for file, content in files.items():
                (Path(tmp) / file).write_bytes(content)
                mlflow.log_artifact(str(Path(tmp) / file), artifact_path="plots")

    def _log_model(self, result: VariantResult, data: TaskData) -> tuple[str, str]:
        """The packed model, logged under the variant's name and registered; its registered version and
        its MLflow model id."""
        layout = Layout.of(data)
        packed = Packed(result.deployed, layout, data.multilabel).eval()
        example = layout.pack({m: {k: v[:2] for k, v in inp.items()} for m, inp in data.test.x.items()})
        info = mlflow.pytorch.log_model(
            packed,
            name=result.variant.name,  # what the experiment's Models list calls it
            input_example=example,
            pip_requirements=PIP_REQUIREMENTS,
            validate_serving_input=self.validate_models,
            registered_model_name=model_name(data.task, result.variant.name),
            metadata={
                "layout": layout.to_json(),
                "names": data.names.to_json(),  # what the values of the flat input are called (leads, descriptors)
                "classes": list(data.classes),
                "task": data.task,
                "multilabel": data.multilabel,
                "views": data.versions,
            },
        )
        with tempfile.TemporaryDirectory() as tmp:  # what `predict --explain` integrates from
            np.save(Path(tmp) / BASELINE_FILE, train_baseline(data, layout))
            mlflow.log_artifact(str(Path(tmp) / BASELINE_FILE), artifact_path="explain")
        version = str(info.registered_model_version)
        name = model_name(data.task, result.variant.name)
        for key, value in result.val.flat("val_metric").items():
            # every digit: the gate compares the next candidate with this number, and a rounded one turned
            # an identical retrain into "worse than the champion"
            self.client.set_model_version_tag(name, version, key, repr(float(value)))
        self.client.set_model_version_tag(name, version, "val_metric_name", data.spec.metric_key)
        return version, info.model_id

    def finish_comparison(
        self,
        parent_id: str,
        table: pl.DataFrame,
        candidate: Candidate,
        plots: dict[str, bytes],
        metrics: dict[str, float],
        tables: dict[str, pl.DataFrame] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Log the comparison table (CSV, markdown), its plots (file name -> PNG), further tables (file
        name -> CSV: the per-patient figures), the champion candidate, the comparison's own metrics
        (the agreement of validation and test rankings) and tags (what a metric cannot say: which
        patient); close the parent run."""
        for key, value in metrics.items():
            if np.isfinite(value):
                self.client.log_metric(parent_id, key, value)
        with tempfile.TemporaryDirectory() as tmp:
            table.write_csv(Path(tmp) / "comparison.csv")
            (Path(tmp) / "comparison.md").write_text(markdown_table(table) + "\n")
            for file, content in plots.items():
                (Path(tmp) / file).write_bytes(content)
            tables = {file: t for file, t in (tables or {}).items() if not t.is_empty()}
            for file, extra in tables.items():
                extra.write_csv(Path(tmp) / file)
            (Path(tmp) / "candidate.json").write_text(json.dumps(asdict(candidate), indent=1))
            for file in ("comparison.csv", "comparison.md", *plots, *tables, "candidate.json"):
                self.client.log_artifact(parent_id, str(Path(tmp) / file))
        self.client.set_tag(parent_id, CANDIDATE, candidate.variant)
        for tag, text in (tags or {}).items():
            self.client.set_tag(parent_id, tag, text)
        self.client.set_terminated(parent_id, "FINISHED")

    def log_views(self, run_id: str, views: list[ViewEntry]) -> None:
        """The feature views a run trained and was scored on, as MLflow datasets (the run page's Datasets,
        the runs table's Dataset column): name, version as digest, where the Parquet parts are, and each
        feature column with its shape per row. Nothing is copied: the views stay in the feature store."""
        context = [InputTag(MLFLOW_DATASET_CONTEXT, "all splits")]  # each row of a view says its own split
        try:  # a description of what params `view.*` already name: a store that refuses it stops nothing
            datasets = [DatasetInput(ViewDataset(e)._to_mlflow_entity(), context) for e in views]
            self.client.log_inputs(run_id, datasets=datasets)
        except MlflowException as err:
            log.warning("run %s names its feature views in its params only: %s", run_id, err)

    # -- descriptions (ecgnet.describe writes them) ------------------------------------------------
    # Words about figures already logged: a store that refuses them (a server's limits, a dropped
    # connection) is warned about, and the comparison, its models and the promotion go on.
    def describe_run(self, run_id: str, text: str, section: str = "") -> None:
        """Set a run's description, or with `section` add a paragraph `**section**: text` to it, in place of
        that section and whatever followed it, so a check or an asset run again says its verdict once.
        Past MLflow's limit the oldest text gives way, marked where it was cut."""
        try:
            if section:
                heading = f"**{section}**: "
                before = self.client.get_run(run_id).data.tags.get(NOTE, "").split(f"\n\n{heading}", 1)[0]
                text = f"{before}\n\n{heading}{text}" if before else f"{heading}{text}"
            if len(text) > NOTE_LIMIT:
                cut = "_(earlier text cut: MLflow keeps 8,000 characters)_\n\n"
                text = cut + text[len(text) - NOTE_LIMIT + len(cut) :]
            self.client.set_tag(run_id, NOTE, text)
        except MlflowException as err:
            log.warning("run %s keeps its old description: %s refused the new one (%s)", run_id, self.uri, err)

    def describe_experiment(self, task: str, text: str, kind: str = "") -> None:
        """The description of the task's experiment, or of its `kind` beside it (ecgnet-beats-ablations)."""
        try:
            self.client.set_experiment_tag(self.experiment(task, kind), NOTE, text)
        except MlflowException as err:
            log.warning("experiment of task %s keeps its old description: %s", task, err)

    def describe_model(self, task: str, variant: str, version: str, text: str, model_text: str) -> None:
        """A registered model version's description (`text`) and its registered model's (`model_text`)."""
        name = model_name(task, variant)
        try:
            self.client.update_model_version(name, version, description=text)
            self.client.update_registered_model(name, description=model_text)
        except MlflowException as err:
            log.warning("%s version %s keeps its old description: %s", name, version, err)

    def tag_champion_reference(self, champion: Champion, compared: int, against: str) -> None:
        """On the champion's registered version, how it read the references of the `compared` inbox records
        (`against`: their summed line), so MLflow's model page shows it beside the comparison's figures."""
        tags = {INBOX_COMPARED: str(compared), INBOX_AGAINST: against[:TAG_LIMIT]}
        try:
            for key, value in tags.items():
                self.client.set_model_version_tag(champion.name, champion.version, key, value)
        except MlflowException as err:
            log.warning("%s version %s keeps its old inbox tags: %s", champion.name, champion.version, err)

    def comparison_run(self, task: str, run_id: str | None = None) -> Run:
        """The task's latest finished comparison (its parent run), or the comparison `run_id` names; raises
        ValueError naming the fix where there is none."""
        if run_id is not None:
            try:
                run = self.client.get_run(run_id)
            except MlflowException as err:
                raise ValueError(f"no run {run_id} in {self.uri}; fix: give a comparison's run id") from err
            if run.data.tags.get(ROLE) != "comparison" or run.data.tags.get(TASK) != task:
                raise ValueError(f"run {run_id} is not a comparison of task {task}; fix: give one, or leave --run out")
            return run
        latest = self._last_comparison(task, "end_time")
        if latest is None:
            raise ValueError(
                f"no finished comparison of task {task} in {self.uri}; fix: materialize its fusion comparison "
                "(make demo, or the Dagster UI) first, or point --home at the workspace that ran one"
            )
        return latest

    def previous_comparison(self, task: str, run_id: str) -> Run | None:
        """The finished comparison of `task` that started last before the run `run_id` (None: it is the
        first): what a scheduled retrain is read against."""
        return self._last_comparison(task, "start_time", before=self.client.get_run(run_id).info.start_time)

    def _last_comparison(self, task: str, order: str, before: int | None = None) -> Run | None:
        """The task's finished comparison that comes last by the run attribute `order`, among those started
        before `before` (ms since the epoch) when given; None where there is none."""
        experiment = self.client.get_experiment_by_name(experiment_name(task))
        if experiment is None:
            return None
        earlier = "" if before is None else f" and attributes.start_time < {before}"
        runs = self.client.search_runs(
            [experiment.experiment_id],
            filter_string=_runs("comparison", "FINISHED") + earlier,
            order_by=[f"attributes.{order} DESC"],
            max_results=1,
        )
        return runs[0] if runs else None

    def artifact_text(self, run_id: str, path: str) -> str | None:
        """A text artifact of a run (comparison.csv, say); None where the run did not log it."""
        # a progress bar for a file of a few kB would be all `show` writes to stderr
        with tempfile.TemporaryDirectory() as tmp, _switched("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false"):
            try:
                local = self.client.download_artifacts(run_id, path, tmp)
            except (MlflowException, OSError):
                return None
            return Path(local).read_text()

    # -- champion ---------------------------------------------------------------------------------
    def current_champion(self, task: str) -> Champion | None:
        """The model holding the alias for `task`, if any."""
        for rm in self.client.search_registered_models(filter_string=f"name LIKE 'ecgnet-{task}-%'"):
            if CHAMPION in rm.aliases:
                mv = self.client.get_model_version_by_alias(rm.name, CHAMPION)
                return Champion(
                    rm.name,
                    str(mv.version),
                    float(mv.tags.get("val_metric", "nan")),
                    float(mv.tags.get("val_metric_lo", "nan")),
                    mv.tags.get("val_metric_name", ""),
                )
        return None

    def set_champion(self, task: str, variant: str, version: str) -> None:
        """Move the alias: exactly one model per task holds it."""
        current = self.current_champion(task)
        if current:
            self.client.delete_registered_model_alias(current.name, CHAMPION)
        self.client.set_registered_model_alias(model_name(task, variant), CHAMPION, version)


def run_page(experiment_id: str, run_id: str = "") -> str:
    """A run's page in MLflow's UI (the experiment's runs table without `run_id`), relative to where the UI
    is served. MLflow 3 opens pages in its GenAI navigation unless `workflowType` says otherwise."""
    return f"#/experiments/{experiment_id}/runs{f'/{run_id}' if run_id else ''}?workflowType=machine_learning"


def curve_values(record: dict) -> dict[str, float]:
    """One epoch's points of a variant's curves: a member's own under cross-validation (`_fold<k>`, and
    `_seed<s>` for every seed after the first, which would otherwise draw over seed 0's curve)."""
    suffix = f"_fold{record['fold']}" if "fold" in record else ""
    suffix += f"_seed{record['seed']}" if record.get("seed") else ""
    return {
        f"train_loss{suffix}": record["train_loss"],
        f"val_metric_epoch{suffix}": record["val_metric"],
        f"lr{suffix}": record["lr"],
    }


@dataclass
class EpochCurves:
    """`on_epoch` for training: each epoch's points logged to the variant's run as it ends, so MLflow's
    charts follow a long training live. Logging is best effort (a refused write is a warning, training goes
    on); what was not logged is logged with the rest by `log_variant` (`unlogged`)."""

    client: MlflowClient
    run_id: str
    logged: set[tuple[str, int]] = field(default_factory=set)

    def __call__(self, epoch: int, record: dict) -> None:
        values, now = curve_values(record), int(time.time() * 1000)
        try:
            self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, epoch) for k, v in values.items()])
        except MlflowException as err:
            log.warning(
                "epoch %d of run %s not logged now (logged with the rest when it ends): %s", epoch, self.run_id, err
            )
            return
        self.logged.add((next(iter(values)), epoch))

    def unlogged(self, history: list[dict]) -> list[dict]:
        return [h for h in history if (next(iter(curve_values(h))), h["epoch"]) not in self.logged]


def _runs(role: str, status: str) -> str:
    """An MLflow search filter: the runs of `role` (comparison, variant) in `status` (RUNNING, FINISHED, ...)."""
    return f"tags.`{ROLE}` = '{role}' and attributes.status = '{status}'"


def comparison_settings(params: dict[str, str]) -> dict[str, str]:
    """A comparison run's folds, seeds and epoch budget from the params `start_comparison` logged."""
    keys = {"folds": "folds", "seeds": "seeds", "epochs": "train.epochs"}
    return {name: params[key] for name, key in keys.items() if key in params}


def settings(cfg: ComparisonConfig) -> dict:
    """Every training and model setting of a comparison as flat MLflow params (train.lr, model.dropout,
    model.boosting.rounds, ...): one column each in MLflow's runs table, to sort and compare by."""
    return {**flat_params("train", asdict(cfg.train)), **flat_params("model", asdict(cfg.model))}


def flat_params(prefix: str, d: dict) -> dict:
    """`d` as MLflow params under `prefix`, nested dicts one dotted level down each (fitted.offsets.S)."""
    return {
        key: value
        for k, v in d.items()
        for key, value in (flat_params(f"{prefix}.{k}", v) if isinstance(v, dict) else {f"{prefix}.{k}": v}).items()
    }


class ViewDataset(MetaDataset):
    """One feature view as an MLflow dataset, described, not copied: its version is the digest, its folder
    the source, its feature columns (shape per row) the schema, its rows and bytes the profile."""

    def __init__(self, entry: ViewEntry):
        schema = Schema([TensorSpec(np.dtype(np.float32), (-1, *shape), n) for n, shape in entry.columns.items()])
        with warnings.catch_warnings():  # MLflow 3.17 registers its local-file source twice and says so each time
            warnings.filterwarnings("ignore", "The specified dataset source can be interpreted in multiple ways")
            source = resolve_dataset_source(entry.path)
        super().__init__(source, name=entry.name, digest=entry.version, schema=schema)
        self.entry = entry

    @property
    def profile(self) -> dict:
        e = self.entry
        return {"rows": e.rows, "bytes": e.bytes, "backend": e.backend, "code_version": e.code_version}

    def to_dict(self) -> dict[str, str]:
        return {**super().to_dict(), "profile": json.dumps(self.profile)}


def _fingerprint(versions: dict[str, str]) -> str:
    return hashlib.blake2b(json.dumps(versions, sort_keys=True).encode(), digest_size=8).hexdigest()
