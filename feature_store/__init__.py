"""Feature store for ECG records: WFDB sources, a validated Parquet raw store, feature views.

Imports neither Dagster nor torch, so the science runs and tests without the orchestrator.
"""
