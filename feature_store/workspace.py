"""Where things live: the workspace folder (ECGNET_HOME), the feature views (ECGNET_FEATURES) and the
source folders (ECGNET_DATA).

One `Workspace` names every path inside the workspace; the store, MLflow, Dagster and the Makefile
(`python3 -m feature_store.workspace <path>`) all ask it. Standard library only, so the Makefile can
call it before the virtual environment exists.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = PROJECT_ROOT / "data" / "sample"


@dataclass(frozen=True)
class Workspace:
    home: Path

    @classmethod
    def default(cls) -> Workspace:
        """ECGNET_HOME, else `.ecgnet/` in the checkout."""
        return cls(Path(os.environ.get("ECGNET_HOME") or PROJECT_ROOT / ".ecgnet").resolve())

    @property
    def store(self) -> Path:
        """The Parquet stores: raw records and beats, quarantine, feature views."""
        return self.home / "store"

    @property
    def features(self) -> str:
        """Where feature views, their catalog and train statistics live: ECGNET_FEATURES (a folder or an
        object-store URI such as s3://bucket/ecgnet/features), else `<store>/features`."""
        return os.environ.get("ECGNET_FEATURES") or str(self.store / "features")

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def mlflow_db(self) -> Path:
        return self.home / "mlflow.db"

    @property
    def mlflow_uri(self) -> str:
        """The embedded tracking store (SQLite); MLFLOW_TRACKING_URI, when set, names a server instead."""
        return f"sqlite:///{self.mlflow_db}"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.home / "mlartifacts"

    @property
    def postgres(self) -> Path:
        """The server profile's own PostgreSQL cluster (`python -m pipelines.postgres start`)."""
        return self.home / "postgres"

    @property
    def objects(self) -> Path:
        """The server profile's own S3-compatible object store (`python -m pipelines.object_store start`)."""
        return self.home / "objects"

    @property
    def plots(self) -> Path:
        """PNGs shown in Dagster metadata, kept as files too."""
        return self.home / "plots"

    @property
    def sources_state(self) -> Path:
        """The source folders' fingerprint (`sources.registry.folder_state`) when `make demo` last ingested
        all of them: the new-records sensor's first tick starts from it instead of ingesting them again."""
        return self.home / "sources.state"

    @property
    def inbox(self) -> Path:
        """New records for the champions to score (the scoring assets and their sensor), a folder a task
        (`inbox/beats/`, `inbox/af/`), unless ECGNET_INBOX names another root (`inbox_root`)."""
        return self.home / "inbox"

    @property
    def predictions(self) -> Path:
        """What the scoring assets wrote: per task, each inbox record's rows (Parquet), WFDB annotations and
        timeline (PNG), and which records each champion scored (`scored.parquet`)."""
        return self.home / "predictions"

    @property
    def training(self) -> Path:
        """Per comparison: the split task data, weights, probabilities and scores of every variant."""
        return self.home / "training"


def default_sources() -> list[str]:
    """ECGNET_DATA (':'-separated folders), else the bundled real sample records."""
    value = os.environ.get("ECGNET_DATA") or str(SAMPLE_DATA)
    return [str(Path(p).resolve()) for p in value.split(os.pathsep) if p.strip()]


def inbox_root(workspace: Workspace) -> Path:
    """ECGNET_INBOX, else the workspace's own `inbox/`: a task's new records are in `<root>/<task>/`."""
    value = os.environ.get("ECGNET_INBOX")
    return Path(value).resolve() if value else workspace.inbox


def tracking_uri(workspace: Workspace) -> str:
    """MLFLOW_TRACKING_URI (a server the user chose), else the workspace's SQLite store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or workspace.mlflow_uri


def names_server(uri: str) -> bool:
    """An http(s) tracking URI names an MLflow server, not a store it could serve."""
    return uri.startswith(("http://", "https://"))


def _absolute_uri(uri: str) -> str:
    """A store URI or path made independent of the current folder: `sqlite:///rel.db` and plain paths
    become absolute; other URIs (http, s3, postgresql, sqlite's absolute and in-memory forms) are kept."""
    if uri.startswith("sqlite:///") and not uri.startswith(("sqlite:////", "sqlite:///:memory:")):
        return "sqlite:///" + os.path.abspath(uri.removeprefix("sqlite:///"))
    return uri if "://" in uri or not uri else os.path.abspath(uri)


def anchored_env(env: dict[str, str], *, stores: tuple[str, ...] = ()) -> dict[str, str]:
    """`env` with the knobs that name a place (workspace, views, sources, tracking store, and the store
    URIs named in `stores`) made absolute against this process's folder, for a process started in another
    one that must find the same places: `make ui` starts Dagster in its own home, where it looks for its
    dagster.yaml."""
    out = dict(env)
    for name in ("ECGNET_HOME", "ECGNET_FEATURES", "ECGNET_INBOX", "MLFLOW_TRACKING_URI", *stores):
        if out.get(name):
            out[name] = _absolute_uri(out[name])
    if out.get("ECGNET_DATA"):
        folders = [os.path.abspath(p) for p in out["ECGNET_DATA"].split(os.pathsep) if p.strip()]
        out["ECGNET_DATA"] = os.pathsep.join(folders)
    return out


if __name__ == "__main__":  # the Makefile: `python3 -m feature_store.workspace home|store|mlflow_uri|...`
    print(getattr(Workspace.default(), sys.argv[1] if len(sys.argv) > 1 else "home"))
