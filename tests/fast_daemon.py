"""`dagster-daemon` with its loops every 3 s instead of 30 s, for tests/test_parallel_backfill.py.

The backfill daemon looks at a backfill once per loop and launches the next stage's runs (ingest, then
the train statistics, then the views) only then: at Dagster's fixed 30 s the test spent most of its two
minutes waiting between stages. What the test checks (parallel shard runs, a killed shard, a consistent
store, the rerun) does not depend on how often the daemon looks.

    python -m tests.fast_daemon run -w workspace.yaml
"""

import dagster._daemon.controller as controller

controller.DEFAULT_DAEMON_INTERVAL_SECONDS = 3  # read by each loop when it starts

if __name__ == "__main__":
    from dagster._daemon.cli import main

    main()
