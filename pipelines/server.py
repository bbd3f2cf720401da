"""`make server`: the server profile on one machine. The workspace's own PostgreSQL cluster holds
Dagster's instance (runs queued, several at a time: deploy/dagster-postgres.yaml) and MLflow's tracking
store; `mlflow server` serves it with proxied artifacts, and the Dagster UI's runs log through that
server (MLFLOW_TRACKING_URI=http://...), as they would on a cluster. The feature views live on the
workspace's own S3-compatible object store (SeaweedFS, `ECGNET_FEATURES=s3://ecgnet/features`). Ctrl-C
stops the UIs, the object store and the cluster. The embedded default (`make ui`, `make demo`) needs
none of this.

    python -m pipelines.server [--dagster-port 3000] [--mlflow-port 5000] [--host 127.0.0.1]
"""

from __future__ import annotations

import os
import sys

from feature_store.workspace import Workspace
from pipelines import ui
from pipelines.environment import refused_environment
from pipelines.object_store import LocalObjectStore, ObjectStoreUnavailable
from pipelines.postgres import LocalPostgres, PostgresUnavailable
from pipelines.workspace import MLFLOW_BACKEND_ENV, SERVER_URL_ENV


def server_env(
    cluster: LocalPostgres, host: str, mlflow_port: int, objects: LocalObjectStore | None = None
) -> dict[str, str]:
    """The variables that select the server profile: what `make server` sets, and what a shell that
    runs `make demo` against the running servers exports. Without `objects` the views stay on disk."""
    return {
        SERVER_URL_ENV: cluster.url("dagster"),
        MLFLOW_BACKEND_ENV: cluster.url("mlflow"),
        "MLFLOW_TRACKING_URI": f"http://{host}:{mlflow_port}",
        **(objects.env() if objects is not None else {}),
    }


def main(argv: list[str] | None = None) -> int:
    args = ui.parse_args(argv)
    if taken := ui.ports_taken(args):  # before the cluster and object store start for nothing
        print(f"error: {taken}", file=sys.stderr)
        return 2
    if refused_environment():
        return 2
    workspace = Workspace.default()
    cluster, objects = LocalPostgres.of(workspace), LocalObjectStore.of(workspace)
    try:
        cluster.start()
        objects.start()
    except (PostgresUnavailable, ObjectStoreUnavailable) as err:
        cluster.stop()
        print(f"error: {err}", file=sys.stderr)
        return 2
    env = server_env(cluster, args.host, args.mlflow_port, objects)
    os.environ.update(env)
    print(f"[server] PostgreSQL {cluster.dsn('')} in {cluster.folder}", flush=True)
    print(
        f"[server] object store {objects.endpoint} in {objects.folder}: views at {env['ECGNET_FEATURES']}", flush=True
    )
    print("[server] to run the pipeline against these servers from another shell:", flush=True)
    print("  " + " ".join(f"{k}={v}" for k, v in env.items()) + " make demo", flush=True)
    try:
        return ui.main(argv)
    finally:
        objects.stop()
        cluster.stop()
        print("[server] object store and PostgreSQL stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
