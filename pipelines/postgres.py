"""A PostgreSQL cluster of the workspace's own (`<ECGNET_HOME>/postgres`), for the server profile and
its tests: Debian's `postgresql` binaries, started on 127.0.0.1 at a free port, trust auth for one
role, one database per client (Dagster's and MLflow's). Nothing is installed or configured system-wide.

    python -m pipelines.postgres start   # prints the URL of each database
    python -m pipelines.postgres stop
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from feature_store.workspace import Workspace

ROLE = "ecgnet"
DATABASES = ("dagster", "mlflow")
INSTALL_FIX = "install Debian's postgresql (`apt-get install -y postgresql`), or put its bin folder on PATH"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries on this machine, or the cluster would not start (the message says why)."""


def postgres_bin() -> Path:
    """The folder of `initdb`/`pg_ctl`: PATH first, else Debian's /usr/lib/postgresql/<newest>/bin."""
    found = shutil.which("pg_ctl")
    if found and Path(found).with_name("initdb").exists():
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if not versions:
        raise PostgresUnavailable(f"no PostgreSQL server binaries (pg_ctl, initdb) found; fix: {INSTALL_FIX}")
    return Path(versions[-1]).parent


@dataclass(frozen=True)
class LocalPostgres:
    """The cluster in `folder`: data in `data/`, its socket and log beside it, its port in `port`."""

    folder: Path

    @classmethod
    def of(cls, workspace: Workspace) -> LocalPostgres:
        return cls(workspace.postgres)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "postgres.log"

    @property
    def port(self) -> int | None:
        file = self.folder / "port"
        return int(file.read_text()) if file.is_file() else None

    def url(self, database: str) -> str:
        """SQLAlchemy's URL (Dagster, MLflow), naming psycopg2: SQLAlchemy 2.1 defaults to psycopg 3."""
        return f"postgresql+psycopg2://{self._where(database)}"

    def dsn(self, database: str) -> str:
        """libpq's URL (psql, psycopg2.connect)."""
        return f"postgresql://{self._where(database)}"

    def _where(self, database: str) -> str:
        if self.port is None:
            raise PostgresUnavailable(
                f"{self.folder}: no cluster started here; fix: python -m pipelines.postgres start"
            )
        return f"{ROLE}@127.0.0.1:{self.port}/{database}"

    def running(self) -> bool:
        return self.data.is_dir() and self._ctl("status", check=False).returncode == 0

    def start(self) -> LocalPostgres:
        """Create the cluster on first use and start it (a no-op when it runs); then every database."""
        if self.running():
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        self._own(self.folder)
        if self._run(["test", "-w", self.folder], check=False).returncode != 0:
            raise PostgresUnavailable(
                f"the server's user cannot write {self.folder} (a folder above it is private to its owner); "
                "fix: put ECGNET_HOME under a folder every user may enter, e.g. /tmp or /srv"
            )
        if not (self.data / "PG_VERSION").is_file():
            self._run([postgres_bin() / "initdb", "-D", self.data, "-A", "trust", "-U", ROLE, "-E", "UTF8"])
        port = free_port()
        (self.folder / "port").write_text(str(port))
        options = f"-p {port} -k {self.folder} -c listen_addresses=127.0.0.1"
        done = self._ctl("start", "-w", "-t", "60", "-o", options, "-l", str(self.log), check=False)
        if done.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.is_file() else done.stderr
            raise PostgresUnavailable(f"PostgreSQL in {self.data} did not start:\n{tail}")
        for database in DATABASES:
            self._create(database)
        return self

    def stop(self) -> None:
        if self.running():
            self._ctl("stop", "-m", "fast", "-w")

    def _create(self, database: str) -> None:
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}'").strip()
        if not exists:
            self._psql(f'CREATE DATABASE "{database}"')

    def _psql(self, sql: str) -> str:
        psql = postgres_bin() / "psql"
        if not psql.exists():
            psql = Path(shutil.which("psql") or "psql")
        command = [str(psql), "-h", "127.0.0.1", "-p", str(self.port), "-U", ROLE, "-d", "postgres", "-tAc", sql]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self._run([postgres_bin() / "pg_ctl", "-D", self.data, *args], check=check)

    def _run(self, command: list, check: bool = True) -> subprocess.CompletedProcess:
        """As the `postgres` user when this process is root: PostgreSQL refuses to run as root."""
        command = [str(c) for c in command]
        if os.geteuid() == 0:
            command = ["runuser", "-u", _server_user(), "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, cwd=self.folder)

    def _own(self, folder: Path) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam(_server_user())
            for path in (folder, *folder.rglob("*")):
                os.chown(path, user.pw_uid, user.pw_gid)


def _server_user() -> str:
    try:
        return pwd.getpwnam("postgres").pw_name
    except KeyError:
        raise PostgresUnavailable(
            f"running as root and no `postgres` user to run the server as; fix: {INSTALL_FIX}, which creates it"
        ) from None


def free_port() -> int:
    """A loopback port nothing listens on now; the server binds it a moment later (another process
    could take it first, which a local cluster or test server accepts: its start then fails loudly)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    command = (argv or sys.argv[1:] or ["start"])[0]
    cluster = LocalPostgres.of(Workspace.default())
    try:
        if command == "start":
            cluster.start()
            for database in DATABASES:
                print(f"{database}: {cluster.url(database)}")
        elif command == "stop":
            cluster.stop()
        else:
            print("usage: python -m pipelines.postgres start|stop", file=sys.stderr)
            return 2
    except PostgresUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
