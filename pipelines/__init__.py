"""Dagster wiring only: assets, resources, checks, jobs, schedules and sensors over the science.

Modules that define assets, checks or sensors do not use `from __future__ import annotations`:
Dagster reads the type hints of those functions at definition time.
"""

import logging as _logging

# Dagster's run log captures these loggers (dagster.yaml: managed_python_loggers). Exporting a model
# (torch.export, via MLflow) configures the root logger, which would print every line a second time.
for _name in ("feature_store", "ecgnet"):
    _logging.getLogger(_name).propagate = False
