"""ECGNet: per-modality models and their fusion, trained from feature-store views.

Imports torch and feature_store, never Dagster.
"""
