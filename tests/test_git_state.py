"""What code a run ran: the commit, and whether tracked files differed from it (ecgnet.tracking.git_state)."""

import subprocess

from ecgnet.tracking import git_state


def _git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def test_a_run_says_whether_its_code_differed_from_its_commit(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "model.py").write_text("EPOCHS = 10\n")
    _git(repo, "add", "model.py")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "first")
    commit = _git(repo, "rev-parse", "HEAD")
    assert git_state(repo) == {"git_commit": commit, "git_dirty": "false"}
    (repo / ".ecgnet").mkdir()
    (repo / ".ecgnet" / "mlflow.db").write_text("")  # untracked (a workspace inside the checkout): still clean
    assert git_state(repo)["git_dirty"] == "false"
    (repo / "model.py").write_text("EPOCHS = 20\n")  # the code that ran is not the commit's
    assert git_state(repo) == {"git_commit": commit, "git_dirty": "true"}
    outside = tmp_path / "no-checkout"
    outside.mkdir()
    assert git_state(outside) == {"git_commit": "unknown", "git_dirty": "unknown"}
