"""The ECGNET_* settings are read before a command starts anything: each one wrong is said in one line with
its fix, all of them at once, instead of failing inside every run's steps (ECGNET_SEEDS=0 ran ingest and
features, then failed training) or as a traceback while the definitions load (ECGNET_SHARDS)."""

import os
import subprocess
import sys
from pathlib import Path

from pipelines.environment import environment_problems

BAD = {
    "ECGNET_CHUNK_MB": ("x", "megabytes of stored records per chunk"),
    "ECGNET_EPOCHS": ("-1", "a whole number of at least 1"),
    "ECGNET_FOLDS": ("abc", "a whole number of at least 1, e.g. 5"),
    "ECGNET_SEEDS": ("0", "a whole number of at least 1, e.g. 2"),
    "ECGNET_CPU_BF16": ("maybe", "1 (on), 0 (off) or auto"),
    "ECGNET_KNOWN_FS": ("160;200", "comma-separated rates in Hz"),
    "ECGNET_MAX_RECORD_VALUES": ("-5", "a positive number of samples"),
    "ECGNET_MAX_QUARANTINE": ("2", "a fraction between 0 and 1"),
}


def test_every_wrong_setting_is_said_with_its_fix(monkeypatch):
    for name in (*BAD, "ECGNET_SHARDS"):
        monkeypatch.delenv(name, raising=False)
    assert environment_problems() == []
    for name, (value, _) in BAD.items():
        monkeypatch.setenv(name, value)
    said = environment_problems()
    assert len(said) == len(BAD)
    for name, (value, fix) in BAD.items():
        assert any(line.startswith(f"{name}={value!r}") and fix in line for line in said), name
    monkeypatch.setenv("ECGNET_SHARDS", "0")  # read on import by the resources' module: the rest waits for it
    assert environment_problems() == [
        "ECGNET_CHUNK_MB='x'; fix: megabytes of stored records per chunk, e.g. 48",
        "ECGNET_SHARDS='0'; fix: a whole number of shards from 1 to 4096, e.g. 16",
    ]


def test_make_demo_and_the_backfill_stop_before_anything_runs(tmp_path):
    env = {**os.environ, "ECGNET_HOME": str(tmp_path / "home"), "ECGNET_SHARDS": "0", "ECGNET_SEEDS": "0"}
    for module, code in (("pipelines.demo", 1), ("pipelines.backfill", 2)):
        done = subprocess.run([sys.executable, "-m", module], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == code and "Traceback" not in done.stderr, done.stderr[-2000:]
        assert "error: ECGNET_SHARDS='0'; fix:" in done.stderr
    assert not (tmp_path / "home").exists()  # no workspace, no Dagster home made


def test_settings_that_are_each_right_but_wrong_together_are_said(monkeypatch):
    for name in (*BAD, "ECGNET_SHARDS", "ECGNET_ONE_SEED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ECGNET_SEEDS", "2")
    monkeypatch.setenv("ECGNET_FOLDS", "1")
    (said,) = environment_problems()
    assert "'ECGNET_FOLDS': '1', 'ECGNET_SEEDS': '2'" in said and "seeds=2 with folds=1; fix:" in said
    monkeypatch.setenv("ECGNET_FOLDS", "5")
    monkeypatch.setenv("ECGNET_ONE_SEED", "frequncy")  # misspelt: it failed only once training began
    (said,) = environment_problems()
    assert "one_seed names unknown variants ['frequncy']" in said


def test_a_workspace_that_cannot_be_made_and_an_unknown_feature_store_are_said(tmp_path, monkeypatch):
    for name in (*BAD, "ECGNET_SHARDS", "ECGNET_ONE_SEED", "ECGNET_FEATURES"):
        monkeypatch.delenv(name, raising=False)
    afile = tmp_path / "afile"
    afile.write_text("")
    monkeypatch.setenv("ECGNET_HOME", str(afile))  # was a FileExistsError traceback
    assert environment_problems() == [
        f"ECGNET_HOME={afile} is a file, not a folder; fix: point ECGNET_HOME at a folder this user can write "
        "(it is made if missing), or unset it for .ecgnet/"
    ]
    monkeypatch.setenv("ECGNET_HOME", str(afile / "home"))
    (said,) = environment_problems()
    assert f"cannot be made: {afile} is a file" in said
    if Path("/proc/self").is_dir():  # a folder even root cannot make in: os.access said yes, and mkdir failed
        monkeypatch.setenv("ECGNET_HOME", "/proc/nope")
        (said,) = environment_problems()
        assert said.startswith("ECGNET_HOME=/proc/nope cannot be made: /proc is not writable; fix:")
    monkeypatch.setenv("ECGNET_HOME", str(tmp_path / "new" / "home"))  # missing, under a writable folder: fine
    monkeypatch.setenv("ECGNET_FEATURES", "sss://bucket/views")  # ran, then failed in every feature step
    (said,) = environment_problems()
    assert said.startswith("ECGNET_FEATURES='sss://bucket/views': Protocol not known: sss; fix:")
    assert not (tmp_path / "new").exists() and set(tmp_path.iterdir()) == {afile}  # nothing made by the check
