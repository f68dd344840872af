"""Start, stop and resume training processes from another process (the studio, or the CLI's `launch`).

A launched run trains in `python -m finetuner train --run_dir <run>`, detached in its own session, so
closing the browser tab or restarting the app does not stop it. The launcher takes the run's `.alive`
lock before starting the child and hands the locked descriptor down, so the run never looks dead
between launch and start-up. A token reaches the child through its environment only, never a file.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from .config import RunConfig
from .data import check_sources
from .errors import RunError
from .runs import ACTIVE_STATES, QUEUED, RESUMABLE_STATES, STOPPED, Run, RunStore

STOP_GRACE_SECONDS = 120.0


def start_training(store: RunStore, config: RunConfig, *, owner: str | None = None, token: str | None = None, run_id: str | None = None) -> Run:
    """Create a run folder for `config` and start its training process; returns at once."""
    check_sources(config.data)
    run = store.create(config, run_id=run_id, owner=owner)
    _spawn(run, resume=False, token=token)
    return run


def resume_training(run: Run, *, token: str | None = None) -> Run:
    """Continue a stopped, interrupted or failed run from its last checkpoint."""
    state = run.state
    if state not in RESUMABLE_STATES:
        raise RunError(f"Run {run.id} is {state}; only a stopped, interrupted or failed run can be resumed.")
    run.update_status(state=QUEUED, ended_at=None, error=None, message="Resuming.")
    _spawn(run, resume=True, token=token)
    return run


def stop_training(run: Run, *, wait: bool = False, timeout: float = STOP_GRACE_SECONDS) -> str:
    """Ask a run to stop: it saves a checkpoint, then ends. With `wait`, escalate to SIGTERM after `timeout`."""
    if run.state not in ACTIVE_STATES:
        raise RunError(f"Run {run.id} is not training (it is {run.state}).")
    run.cancel_path.touch()
    run.append_event("message", text="Stop requested: saving a checkpoint, then stopping.")
    pid = run.raw_status().get("pid")
    if run.raw_status().get("state") == QUEUED and pid:
        _signal(pid, signal.SIGTERM)  # not training yet: nothing to checkpoint
        run.update_status(state=STOPPED, message="Stopped before it started.")
        return STOPPED
    if wait and not wait_for_end(run, timeout) and pid:
        _signal(pid, signal.SIGTERM)
        wait_for_end(run, timeout)
    return run.state


def wait_for_end(run: Run, timeout: float | None = None) -> bool:
    """Block until the run's process has ended (its `.alive` lock is free); False on timeout."""
    done = threading.Event()

    def take_lock() -> None:
        fd = os.open(run.alive_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        finally:
            os.close(fd)
        done.set()

    threading.Thread(target=take_lock, daemon=True).start()
    return done.wait(timeout)


def _spawn(run: Run, *, resume: bool, token: str | None) -> subprocess.Popen:
    alive_fd = run.hold_alive_lock()
    env = {**os.environ, "FINETUNER_ALIVE_FD": str(alive_fd), "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    if token:
        env["HF_TOKEN"] = token
    else:
        from .hub import server_token_allowed, shared_mode  # noqa: PLC0415

        if not server_token_allowed(shared=shared_mode()):  # a visitor never trains with the owner's token
            env.pop("HF_TOKEN", None)
            env.pop("HUGGING_FACE_HUB_TOKEN", None)
    command = [sys.executable, "-m", "finetuner", "train", "--run_dir", str(run.path)]
    if resume:
        command.append("--resume")
    with open(run.log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(alive_fd,),
            start_new_session=True,  # survives the app's own shutdown and Ctrl-C
        )
    os.close(alive_fd)  # the child's copy keeps the lock
    run.update_status(pid=process.pid)
    return process


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
