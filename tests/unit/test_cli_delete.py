"""`python -m finetuner delete RUN`, the studio's Delete on the command line: it asks first (or takes --yes),
and refuses a run that still trains."""

from __future__ import annotations

import io
import os

from finetuner.cli import main
from finetuner.config import RunConfig
from finetuner.runs import COMPLETED, RUNNING, RunStore


class Terminal(io.StringIO):
    """Standard input typed at a terminal."""

    def isatty(self) -> bool:
        return True


def completed_run(tmp_path, run_id="done"):
    run = RunStore(tmp_path / "runs").create(RunConfig.from_dict({"train_file": "x.csv"}), run_id=run_id)
    run.update_status(state=COMPLETED)
    return run


def test_delete_with_yes_removes_the_run(tmp_path, capsys):
    run = completed_run(tmp_path)
    assert main(["--runs_dir", str(tmp_path / "runs"), "delete", "done", "--yes"]) == 0
    assert not run.path.exists() and f"Deleted run done ({run.path})." in capsys.readouterr().out
    assert main(["--runs_dir", str(tmp_path / "runs"), "runs"]) == 0 and "done" not in capsys.readouterr().out


def test_delete_asks_at_a_terminal_and_no_keeps_the_run(tmp_path, monkeypatch, capsys):
    run = completed_run(tmp_path)
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert main(["--runs_dir", str(tmp_path / "runs"), "delete", "done"]) == 0
    out = capsys.readouterr().out
    assert "Delete run done and its folder" in out and "Nothing deleted." in out and run.path.is_dir()
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert main(["--runs_dir", str(tmp_path / "runs"), "delete", str(run.path)]) == 0, "a run folder by its path too"
    assert not run.path.exists()


def test_delete_without_a_terminal_needs_yes(tmp_path, monkeypatch, capsys):
    run = completed_run(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["--runs_dir", str(tmp_path / "runs"), "delete", "done"]) == 2
    assert f"error: Deleting run done removes its folder {run.path} for good; add --yes to confirm." in capsys.readouterr().err
    assert run.path.is_dir()


def test_a_training_run_is_not_deleted(tmp_path, capsys):
    run = completed_run(tmp_path, "busy")
    run.update_status(state=RUNNING)
    fd = run.hold_alive_lock()  # this test process plays the training process
    try:
        assert main(["--runs_dir", str(tmp_path / "runs"), "delete", "busy", "--yes"]) == 2
        assert "error: Run busy is training; stop it before deleting it." in capsys.readouterr().err
        assert run.path.is_dir()
    finally:
        os.close(fd)
