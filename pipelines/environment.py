"""The ECGNET_* settings a command reads from the environment, checked before it starts anything: each
one wrong is said in one line with its fix, instead of failing inside every run's steps or as a
traceback while the definitions load. Imports nothing that reads them on import."""

from __future__ import annotations

import os
import sys


def environment_problems() -> list[str]:
    """Every ECGNET_* setting the environment gets wrong, each in one line with its fix."""
    from feature_store.shards import shard_count
    from feature_store.views.inputs import chunk_bytes

    problems = []
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
            for spec in TASKS.values():
                TrainingSettings().config(spec)
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
