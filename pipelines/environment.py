"""The ECGNET_* settings a command reads from the environment, checked before it starts anything: each
one wrong is said in one line with its fix, instead of failing inside every run's steps or as a
traceback while the definitions load. Imports nothing that reads them on import."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def environment_problems() -> list[str]:
    """Every ECGNET_* setting the environment gets wrong, each in one line with its fix."""
    from feature_store.shards import shard_count
    from feature_store.views.inputs import chunk_bytes

    problems = [p for p in (_home_problem(), _features_problem()) if p]
    for read in (chunk_bytes, shard_count):
        try:
            read()
        except ValueError as err:
            problems.append(str(err))
            if read is shard_count:  # the resources' module reads it on import
                return problems
    from .resources import IngestSettings, TrainingSettings

    for resource in (IngestSettings, TrainingSettings):  # each field read from the environment, one by one
        for field in resource.model_fields.values():
            try:
                if callable(field.default_factory):
                    field.default_factory()  # type: ignore[call-arg]
            except ValueError as err:
                problems.append(str(err))
    if not problems:  # each read alone is right: so must they be together (seeds > 1 needs folds > 1)
        from feature_store.tasks import TASKS

        try:
            settings = TrainingSettings()
            for spec in TASKS.values():
                settings.config(spec)
        except ValueError as err:
            knobs = {k: os.environ[k] for k in ("ECGNET_FOLDS", "ECGNET_SEEDS", "ECGNET_ONE_SEED") if k in os.environ}
            problems.append(f"the training settings together ({knobs or 'defaults'}): {err}")
    return problems


def refused_environment() -> bool:
    """Say each problem of `environment_problems` as an error line on stderr; whether there was one."""
    problems = environment_problems()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return bool(problems)


def _home_problem() -> str | None:
    """ECGNET_HOME names a file, or a folder that cannot be made where it points (checked without making it)."""
    from feature_store.workspace import Workspace

    home = Workspace.default().home
    fix = "fix: point ECGNET_HOME at a folder this user can write (it is made if missing), or unset it for .ecgnet/"
    if home.exists():
        if not home.is_dir():
            return f"ECGNET_HOME={home} is a file, not a folder; {fix}"
        return None if _can_make_in(home) else f"ECGNET_HOME={home} is not writable; {fix}"
    above = next(p for p in home.parents if p.exists())
    if not above.is_dir() or not _can_make_in(above):
        return (
            f"ECGNET_HOME={home} cannot be made: {above} is {'a file' if not above.is_dir() else 'not writable'}; {fix}"
        )
    return None


def _can_make_in(folder: Path) -> bool:
    """Whether a folder can be made in `folder`, by making one and removing it at once: `os.access` says
    yes to root for a folder of /proc, where the demo's `mkdir` then failed with a traceback."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".ecgnet-check-", dir=folder))
    except OSError:
        return False
    return True


def _features_problem() -> str | None:
    """ECGNET_FEATURES names a filesystem fsspec does not know (a typo in the protocol): said before any step
    fails on it. Reaching the store is left to the run (no network here)."""
    import fsspec

    where = os.environ.get("ECGNET_FEATURES", "")
    if "://" not in where:
        return None
    protocol = where.split("://", 1)[0]
    try:
        fsspec.get_filesystem_class(protocol)
    except (ValueError, ImportError) as err:
        return f"ECGNET_FEATURES={where!r}: {err}; fix: a folder, or an fsspec URI such as s3://bucket/prefix"
    return None
