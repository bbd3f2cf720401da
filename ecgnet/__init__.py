"""ECGNet: per-modality models and their fusion, trained from feature-store views.

Imports torch and feature_store, never Dagster. What the Dagster definitions read when they load (the
configuration, the variant registry, the promotion records: `config`, `variants`, `interval`,
`promotion`) imports no torch, MLflow or scikit-learn (tests/test_layout.py).
"""
