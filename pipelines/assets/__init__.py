"""Assets by stage: ingest (raw store), later features and training."""
