"""A training process killed from outside (the kernel's out-of-memory killer sends SIGKILL) cannot record
its own end: the run shows as interrupted, the launcher records the signal it saw, and the status says
what most likely happened, with the out-of-memory advice and a resume. A Space's restart ends the studio
too, so nothing records the end: that is said as the restart, without the out-of-memory advice."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from finetuner.config import RunConfig
from finetuner.launcher import can_retry_with_smaller_batch, watch_exit
from finetuner.runs import INTERRUPTED, RUNNING, THIS_PROCESS, RunStore
from finetuner.train import OOM_ADVICE


@pytest.fixture
def run(tmp_path):
    return RunStore(tmp_path / "runs").create(RunConfig(), run_id="r")


def launched(run, command: list[str]) -> subprocess.Popen:
    process = subprocess.Popen(command)
    run.update_status(state=RUNNING, launcher_pid=process.pid, pid=process.pid)
    return process


def test_a_killed_process_is_recorded_and_explained(run):
    process = launched(run, [sys.executable, "-c", "import time; time.sleep(60)"])
    process.send_signal(signal.SIGKILL)
    watch_exit(run, process)
    status = run.status()
    assert status["state"] == INTERRUPTED and status["exit_signal"] == "SIGKILL" and status["exit_code"] == -9
    message = status["message"]
    assert "killed (SIGKILL)" in message and "out-of-memory killer" in message and "resume" in message.lower()
    assert OOM_ADVICE.removeprefix("Out of memory. ") in message, "the same advice as an out-of-memory failure"
    assert can_retry_with_smaller_batch(run), "the one-click retry with a batch that fits is offered"


def test_a_worker_killed_under_torchrun_is_read_from_the_log(run):
    run.log_path.write_text("an earlier attempt: Signal 15 (SIGTERM) received by PID 1\n")
    offset = run.log_path.stat().st_size
    with open(run.log_path, "a") as log:
        log.write("  exitcode  : -9 (pid: 4242)\n  traceback : Signal 9 (SIGKILL) received by PID 4242\n")
    process = launched(run, [sys.executable, "-c", "raise SystemExit(1)"])  # torchrun exits 1 after a worker died
    watch_exit(run, process, offset)
    assert run.status()["exit_signal"] == "SIGKILL" and "out-of-memory killer" in run.status()["message"]


def test_an_unknown_end_says_both_causes(run):
    run.update_status(state=RUNNING, watched_by="an-earlier-studio")  # no process holds the lock; its studio was gone when it ended
    status = run.status()
    assert status["state"] == INTERRUPTED
    message = status["message"]
    assert "Either" in message and "out-of-memory killer" in message and "machine restarted" in message and "Resume" in message
    assert can_retry_with_smaller_batch(run), "locally it may have run out of memory: the retry stays offered"


def test_a_run_that_died_on_a_full_disk_says_so_instead_of_out_of_memory(run, monkeypatch):
    """A full disk fails the checkpoint's save, then the writes that would record the failure: nothing is recorded,
    and the run must not be explained (nor retried) as out of memory."""
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(2**30, 2**30 - 4096, 4096))
    run.update_status(state=RUNNING, watched_by=THIS_PROCESS)  # its process is gone, its end unrecorded
    status = run.status()
    assert status["state"] == INTERRUPTED
    message = status["message"]
    assert "the disk that holds its run folder is full" in message and "Free some space" in message and "press Resume" in message
    assert "out-of-memory" not in message
    assert not can_retry_with_smaller_batch(run), "a smaller batch would not help"


@pytest.fixture
def on_a_space(monkeypatch):
    monkeypatch.setenv("SYSTEM", "spaces")
    monkeypatch.setenv("SPACE_ID", "team/studio")


def test_a_run_ended_by_a_space_restart_is_not_called_out_of_memory(run, on_a_space):
    run.update_status(state=RUNNING, watched_by="the-studio-before-the-restart")  # the restart killed the app and its run
    status = run.status()
    assert status["state"] == INTERRUPTED
    message = status["message"]
    assert "Space restarted or stopped" in message and "Resume" in message
    assert "out-of-memory" not in message and "smaller" not in message
    assert not can_retry_with_smaller_batch(run), "a restart is not a lack of memory"


def test_on_a_space_a_sigkill_seen_by_the_running_studio_is_still_memory(run, on_a_space):
    process = launched(run, [sys.executable, "-c", "import time; time.sleep(60)"])
    run.update_status(watched_by=THIS_PROCESS)
    process.send_signal(signal.SIGKILL)
    watch_exit(run, process)
    assert "out-of-memory killer" in run.status()["message"] and can_retry_with_smaller_batch(run)


def test_a_run_that_recorded_its_end_is_left_alone(run):
    process = launched(run, [sys.executable, "-c", "pass"])
    run.update_status(state="completed")
    watch_exit(run, process)
    assert "exit_code" not in run.raw_status() or run.raw_status()["exit_code"] is None
    process = launched(run, [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"])
    watch_exit(run, process)
    assert run.status()["exit_signal"] == "SIGTERM" and "SIGTERM" in run.status()["message"]
    assert not can_retry_with_smaller_batch(run), "a stop signal is not a lack of memory"
