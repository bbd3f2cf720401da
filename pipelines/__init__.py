"""Dagster wiring only: assets, resources, checks, jobs, schedules and sensors over the science.

Modules that define assets, checks or sensors do not use `from __future__ import annotations`:
Dagster reads the type hints of those functions at definition time.
"""
