"""benchmarks.blend_saved: two saved variants blended out of fold on DS1, printed with the paired gain."""

import sys
from types import SimpleNamespace

import numpy as np

from benchmarks import blend_saved
from feature_store.tasks import BEATS


def test_each_base_is_blended_with_the_other_and_paired_against_itself(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(0)
    patients = np.repeat([f"1{p:02d}" for p in range(10)], 60)
    y = rng.choice(5, size=len(patients), p=[0.6, 0.2, 0.15, 0.03, 0.02])  # N, S, V, F, Q
    ids = np.array([f"{p}:{i * 300}" for i, p in enumerate(patients)])
    good = np.eye(5)[y] * 0.6 + 0.4 / 5  # reads every beat right
    noise = rng.dirichlet(np.ones(5), size=len(y))  # reads nothing
    np.savez(tmp_path / "time.npz", raw_val=noise)
    np.savez(tmp_path / "classical_trees.npz", raw_val=good)
    dev = SimpleNamespace(ids=ids, y=y, groups=patients)
    data = SimpleNamespace(spec=BEATS, classes=BEATS.classes)
    monkeypatch.setattr(blend_saved, "saved_development", lambda run: (data, dev))
    monkeypatch.setattr(sys, "argv", ["blend_saved", str(tmp_path), "--bases", "time", "--draws", "50"])
    blend_saved.main()
    line = capsys.readouterr().out.strip()
    assert line.startswith("time: OOF ") and "with classical_trees" in line
    before, after = (float(part.split()[-1]) for part in line.split(" (")[0].split(", with classical_trees"))
    assert after > before + 0.3  # the helpful opinion is taken on every fold of patients
    shares = [float(w) for w in line.split("share by fold [")[1].split("]")[0].split(",")]
    assert len(shares) == 5 and min(shares) > 0
