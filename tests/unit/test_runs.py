"""Run folders: the disk is the source of truth, and liveness comes from a lock, not a guess."""

from __future__ import annotations

import json
import os
import stat

import pytest

from finetuner.config import RunConfig
from finetuner.errors import RunError, RunNotFoundError
from finetuner.runs import COMPLETED, INTERRUPTED, QUEUED, RUNNING, RunStore, read_events


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


def test_create_freezes_config_and_status(store):
    config = RunConfig.from_dict({"train_file": "a.csv", "learning_rate": 2e-5})
    run = store.create(config, run_id="first", owner="alice")
    assert run.config() == config
    assert run.raw_status()["state"] == QUEUED and run.raw_status()["owner"] == "alice"
    assert store.get("first").path == run.path


def test_active_run_without_a_live_process_is_interrupted(store):
    run = store.create(RunConfig(), run_id="r")
    run.update_status(state=RUNNING)
    assert run.state == INTERRUPTED and "resume" in run.status()["message"]
    fd = run.hold_alive_lock()
    try:
        assert run.is_alive() and run.state == RUNNING
        with pytest.raises(RunError, match="already being trained"):
            run.hold_alive_lock()
    finally:
        import os

        os.close(fd)
    assert not run.is_alive() and run.state == INTERRUPTED


def test_a_run_that_ends_while_its_status_is_read_is_not_called_interrupted(store, monkeypatch):
    """The process writes "completed", then lets go of its lock: between a reader's status read and its
    lock check. The reader must report what the process wrote, not an interruption."""
    run = store.create(RunConfig(), run_id="r")
    run.update_status(state=RUNNING)

    def finishes_then_exits(self) -> bool:
        self.update_status(state=COMPLETED)
        return False

    monkeypatch.setattr(type(run), "is_alive", finishes_then_exits)
    assert run.state == COMPLETED


def test_list_newest_first_and_by_owner(store):
    first = store.create(RunConfig(), run_id="a", owner="alice")
    second = store.create(RunConfig(), run_id="b", owner="bob")
    first.update_status(created_at=1.0)
    second.update_status(created_at=2.0)
    assert [r.id for r in store.list()] == ["b", "a"]
    assert [r.id for r in store.list(owner="alice")] == ["a"]


def test_bad_and_missing_ids(store):
    store.create(RunConfig(), run_id="taken")
    with pytest.raises(RunError, match="already exists"):
        store.create(RunConfig(), run_id="taken")
    with pytest.raises(RunError, match="must start with a letter or digit"):
        store.create(RunConfig(), run_id="../escape")
    with pytest.raises(RunError) as spaced:
        store.create(RunConfig(), run_id="sst2 résumé lr=1e-4")
    assert str(spaced.value) == (
        "Run name 'sst2 résumé lr=1e-4' must start with a letter or digit and hold only letters, digits, '.', '_' and '-' "
        "(no spaces or accents). 'sst2-resume-lr-1e-4' would do."
    )
    assert store.create(RunConfig(), run_id="sst2-resume-lr-1e-4").id == "sst2-resume-lr-1e-4", "the name it offers works"
    with pytest.raises(RunNotFoundError, match="No run 'ghost'"):
        store.get("ghost")


def test_a_taken_name_on_a_shared_studio_names_neither_the_folder_nor_the_run(store, monkeypatch):
    store.create(RunConfig(), run_id="sentiment", owner="alice")
    with pytest.raises(RunError) as locally:
        store.create(RunConfig(), run_id="sentiment")
    assert str(store.root) in str(locally.value), "locally the message says where the run is"
    monkeypatch.setenv("FINETUNER_SHARED", "1")
    with pytest.raises(RunError) as shared:
        store.create(RunConfig(), run_id="sentiment", owner="bob")
    message = str(shared.value)
    assert message.startswith("The run name 'sentiment' is taken; choose another")
    assert str(store.root) not in message and "exists" not in message and "alice" not in message


def test_events_skip_a_half_written_last_line(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"type": "log", "step": 1}) + "\n" + '{"type": "lo', encoding="utf-8")
    assert list(read_events(path)) == [{"type": "log", "step": 1}]


def test_status_writes_are_atomic(store):
    run = store.create(RunConfig(), run_id="r")
    run.update_status(step=3)
    assert not list(run.path.glob(".status.json.*.tmp"))
    assert json.loads((run.path / "status.json").read_text())["step"] == 3


def test_a_runs_status_is_as_readable_as_its_other_files(store):
    """In a runs folder shared by a team (umask 022), status.json was readable by its writer only (0600), while the
    config beside it and the model files were readable by all: another user's studio could list the run but not
    read its state or metrics."""
    previous = os.umask(0o022)
    try:
        run = store.create(RunConfig(), run_id="r")
        run.update_status(step=3)
    finally:
        os.umask(previous)
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in run.path.iterdir() if path.is_file()}
    assert modes["status.json"] == 0o644, modes
    assert set(modes.values()) == {0o644}, modes


def test_a_full_disk_leaves_no_half_made_run_and_says_what_to_do(store, monkeypatch):
    import errno
    from pathlib import Path

    write_text = Path.write_text

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(RunError) as raised:
        store.create(RunConfig(), run_id="big")
    message = str(raised.value)
    assert message.startswith(f"Cannot write a run folder in {store.root}: No space left on device. Free some space on that disk")
    assert "--runs-dir" in message and "--runs_dir" in message
    assert not (store.root / "big").exists(), "no empty folder left behind"
    monkeypatch.setattr(Path, "write_text", write_text)
    assert store.create(RunConfig(), run_id="big").id == "big", "once there is space, the same name works"


def test_a_runs_folder_that_cannot_be_written_is_named_with_the_fix(store, monkeypatch):
    import errno
    from pathlib import Path

    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(RunError, match=r"Cannot write a run folder in .*: Read-only file system\. Make it writable or choose another runs folder"):
        store.create(RunConfig(), run_id="r")
    monkeypatch.setenv("FINETUNER_SHARED", "1")
    with pytest.raises(RunError) as shared:
        store.create(RunConfig(), run_id="r")
    assert str(store.root) not in str(shared.value) and "Read-only file system" in str(shared.value)


def test_the_studio_opens_over_a_read_only_runs_folder(tmp_path, monkeypatch):
    """Past runs on a read-only share can be browsed: the key of the browser-kept values, which the studio keeps in
    its runs folder, is drawn for this start instead (the studio did not start: OSError, read-only file system)."""
    import errno
    from pathlib import Path

    from finetuner.ui.studio import browser_key

    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "write_text", read_only)
    key = browser_key(tmp_path)
    assert len(key) == 32 and not list(tmp_path.iterdir())


def test_a_resumed_runs_duration_counts_its_sessions_before_this_one(store):
    """A run stopped after 46 s of training and resumed for 241 s was listed as taking 4 min 01 s: the Runs tab
    counted from the last session's start (and the model card the Trainer's train_runtime, of that session too)."""
    from finetuner.runs import STOPPED, trained_seconds
    from finetuner.ui.services import runs_table

    run = store.create(RunConfig(), run_id="resumed")
    run.append_event("status", state=RUNNING)
    run.append_event("log", step=10, elapsed_seconds=20.0)
    run.append_event("log", step=29, elapsed_seconds=46.0)  # stopped here
    run.append_event("status", state=STOPPED)
    assert trained_seconds(run.events()) == 46.0
    run.append_event("status", state=RUNNING, resume=True)  # its clock starts again
    run.append_event("log", step=152, elapsed_seconds=241.0)
    assert trained_seconds(run.events()) == 287.0

    run.update_status(state=COMPLETED, started_at=1000.0, ended_at=1241.0, earlier_training_seconds=46.0)
    assert runs_table(store).set_index("run").loc["resumed", "duration"] == "4 min 47 s"
