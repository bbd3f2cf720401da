"""`make server`: the server profile on one machine. The workspace's own PostgreSQL cluster holds
Dagster's instance (runs queued, several at a time: deploy/dagster-postgres.yaml) and MLflow's tracking
store; `mlflow server` serves it with proxied artifacts, and the Dagster UI's runs log through that
server (MLFLOW_TRACKING_URI=http://...), as they would on a cluster. Ctrl-C stops both UIs and the
cluster. The embedded default (`make ui`, `make demo`) needs none of this.

    python -m pipelines.server [--dagster-port 3000] [--mlflow-port 5000] [--host 127.0.0.1]
"""

from __future__ import annotations

import os
import sys

from feature_store.workspace import Workspace
from pipelines import ui
from pipelines.postgres import LocalPostgres, PostgresUnavailable
from pipelines.workspace import MLFLOW_BACKEND_ENV, SERVER_URL_ENV


def server_env(cluster: LocalPostgres, host: str, mlflow_port: int) -> dict[str, str]:
    """The variables that select the server profile: what `make server` sets, and what a shell that
    runs `make demo` against the running servers exports."""
    return {
        SERVER_URL_ENV: cluster.url("dagster"),
        MLFLOW_BACKEND_ENV: cluster.url("mlflow"),
        "MLFLOW_TRACKING_URI": f"http://{host}:{mlflow_port}",
    }


def main(argv: list[str] | None = None) -> int:
    args = ui.parse_args(argv)
    cluster = LocalPostgres.of(Workspace.default())
    try:
        cluster.start()
    except PostgresUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    env = server_env(cluster, args.host, args.mlflow_port)
    os.environ.update(env)
    print(f"[server] PostgreSQL {cluster.dsn('')} in {cluster.folder}", flush=True)
    print("[server] to run the pipeline against these servers from another shell:", flush=True)
    print("  " + " ".join(f"{k}={v}" for k, v in env.items()) + " make demo", flush=True)
    try:
        return ui.main(argv)
    finally:
        cluster.stop()
        print("[server] PostgreSQL stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
