"""Start, stop and resume training processes from another process (the studio, or the CLI's `launch`).

A launched run trains in `python -m finetuner train --run_dir <run>`, detached in its own session, so
closing the browser tab or restarting the app does not stop it. The launcher takes the run's `.alive`
lock before starting the child and hands the locked descriptor down, so the run never looks dead
between launch and start-up. A token reaches the child through its environment only, never a file.

With `processes` above one, the child is `torchrun` (or `accelerate launch`) starting that many training
processes on the same run folder (one per GPU; on a CPU-only machine they share the cores). The launch
command then holds the `.alive` lock for as long as any of its processes lives.
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from .config import RunConfig
from .data import check_sources
from .errors import ConfigError, RunError
from .hub_reads import READER_VARIABLE
from .resuming import check_resumable, trained_processes
from .runs import ACTIVE_STATES, FINISHING, PREPARING, QUEUED, RESUMABLE_STATES, STOPPED, THIS_PROCESS, Run, RunStore, memory_may_have_ended

STOP_GRACE_SECONDS = 120.0
LAUNCHERS = ("torchrun", "accelerate")
MAX_PROCESSES = 64


def start_training(
    store: RunStore,
    config: RunConfig,
    *,
    owner: str | None = None,
    token: str | None = None,
    run_id: str | None = None,
    processes: int = 1,
    launcher: str = "torchrun",
    accelerate_config: str | None = None,
) -> Run:
    """Create a run folder for `config` and start its training process(es); returns at once.

    `processes` above 1 trains data-parallel on that many processes (one per GPU) with `launcher`:
    `torchrun` or `accelerate launch`, which also takes an accelerate config file (`accelerate_config`,
    e.g. for FSDP or DeepSpeed; see docs/distributed.md).
    """
    check_sources(config.data)
    if accelerate_config:
        launcher = "accelerate"
        if not Path(accelerate_config).is_file():
            raise ConfigError(f"Accelerate config '{accelerate_config}' does not exist; write one with `accelerate config` or see docs/distributed.md.")
        accelerate_config = str(Path(accelerate_config).resolve())
    launch_command("<run>", processes=processes, launcher=launcher)  # refuse bad values before creating a run
    run = store.create(config, run_id=run_id, owner=owner)
    _spawn(run, resume=False, token=token, processes=processes, launcher=launcher, accelerate_config=accelerate_config)
    return run


def check_not_a_repeat(store: RunStore, config: RunConfig, *, owner: str | None = None) -> None:
    """Refuse to start a run with the very settings of one of `owner`'s runs still queued or training: it would
    train the same model again, after it, in the queue. That is Start pressed twice (a double click), not a wish:
    two identical runs each took the full training time, and the page followed the second one."""
    wanted = config.to_dict()
    for run in store.list(owner=owner):
        if run.state not in ACTIVE_STATES:
            continue
        try:
            same = run.config().to_dict() == wanted
        except Exception:  # noqa: BLE001 - a run folder being written or damaged is no repeat
            continue
        if same:
            raise RunError(
                f"Run {run.id} has these same settings and is {run.state}: a second run would train the same model again "
                "(was Start pressed twice?). Let it train, or change a setting (the seed, say) to train another."
            )


def resume_training(run: Run, *, token: str | None = None, processes: int | None = None, launcher: str | None = None) -> Run:
    """Continue a stopped, interrupted or failed run from its last checkpoint.

    By default on as many processes as its last checkpoint was trained on (else its status's).
    """
    processes = processes or trained_processes(run)
    check_resumable(run, processes=processes)
    status = run.raw_status()
    launcher = launcher or status.get("launcher") or "torchrun"
    accelerate_config = status.get("accelerate_config") if launcher == "accelerate" else None
    launch_command(run.path, processes=processes, launcher=launcher)
    run.update_status(state=QUEUED, ended_at=None, error=None, message="Resuming.", eta_seconds=None)
    _spawn(run, resume=True, token=token, processes=processes, launcher=launcher, accelerate_config=accelerate_config)
    return run


def retry_with_auto_batch_size(run: Run, *, token: str | None = None, processes: int | None = None) -> Run:
    """The one-click answer to an out-of-memory failure: resume with a batch size that fits.

    On one process the Trainer's `auto_find_batch_size` retries each failing step with a smaller batch
    (x0.9 each time) until one fits. Several processes cannot search together (a process that shrinks its
    batch while the others wait in a gradient exchange would hang them all), so there the per-device batch
    is halved and gradient accumulation doubled: the same effective batch in half the memory. An
    out-of-memory error while evaluating halves the evaluation batch too.
    """
    processes = processes or trained_processes(run)
    prepare_smaller_batch_retry(run, processes=processes)
    return resume_training(run, token=token, processes=processes)


def prepare_smaller_batch_retry(run: Run, *, processes: int = 1) -> str:
    """Change the run's config for `retry_with_auto_batch_size` (also `resume --auto_find_batch_size`); returns what changed."""
    if run.state not in RESUMABLE_STATES:
        raise RunError(f"Run {run.id} is {run.state}; only a failed, stopped or interrupted run can be retried.")
    config = run.config()
    status = run.raw_status()
    t = config.training
    extra = dict(t.extra_training_args)
    changes: dict[str, Any] = {}
    oom = status.get("out_of_memory") or {}
    if oom.get("phase") == "evaluation" and t.per_device_eval_batch_size > 1:
        changes["per_device_eval_batch_size"] = max(t.per_device_eval_batch_size // 2, 1)
    if processes > 1:
        if t.per_device_train_batch_size < 2:
            raise RunError(
                f"Run {run.id} already trains with per_device_train_batch_size 1 on {processes} processes. "
                "Shorten max_seq_length, turn on activation_checkpointing or LoRA, or use devices with more memory."
            )
        changes["per_device_train_batch_size"] = t.per_device_train_batch_size // 2
        changes["gradient_accumulation_steps"] = t.gradient_accumulation_steps * 2
        extra.pop("auto_find_batch_size", None)
        what = (
            f"per_device_train_batch_size {t.per_device_train_batch_size} -> {changes['per_device_train_batch_size']} with "
            f"gradient_accumulation_steps {t.gradient_accumulation_steps} -> {changes['gradient_accumulation_steps']} (same effective batch)"
        )
    else:
        extra["auto_find_batch_size"] = True
        what = (
            f"auto_find_batch_size: the batch shrinks from {t.per_device_train_batch_size} until a step fits "
            "(raise gradient_accumulation_steps afterwards to keep the effective batch)"
        )
    if "per_device_eval_batch_size" in changes:
        what += f"; per_device_eval_batch_size {t.per_device_eval_batch_size} -> {changes['per_device_eval_batch_size']}"
    config.replace(**changes, extra_training_args=extra).save(run.config_path)
    run.append_event("message", text=f"Retrying with {what}.")
    return what


def can_retry_with_smaller_batch(run: Run) -> bool:
    """Whether the studio offers the retry with a smaller batch (`runs.memory_may_have_ended`)."""
    return memory_may_have_ended(run.status())


def gpu_count() -> int:
    """NVIDIA GPUs this process may use (0 without any). Imports no torch."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    if not shutil.which("nvidia-smi"):
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def cpu_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def launch_command(run_dir: str | Path, *, processes: int = 1, resume: bool = False, launcher: str = "torchrun", accelerate_config: str | None = None) -> list[str]:
    """The command that trains the run folder `run_dir` on `processes` processes (what the studio shows).

    One process: `python -m finetuner train --run_dir RUN`. Several: the same module under
    `torchrun --standalone --nproc_per_node N` (one machine; a free port is picked) or
    `accelerate launch --multi_gpu --num_processes N` (with `accelerate_config`, an accelerate config
    file, e.g. for FSDP or DeepSpeed). On a CPU-only machine the processes share the cores (gloo backend).
    """
    try:
        processes = int(processes)
    except (TypeError, ValueError):
        raise ConfigError(f"processes must be a whole number of training processes, got '{processes}'.") from None
    if not 1 <= processes <= MAX_PROCESSES:
        raise ConfigError(f"processes must be between 1 and {MAX_PROCESSES} (one per GPU), got {processes}.")
    if launcher not in LAUNCHERS:
        raise ConfigError(f"launcher must be one of {', '.join(LAUNCHERS)}, got '{launcher}'.")
    train = ["-m", "finetuner", "train", "--run_dir", str(run_dir)] + (["--resume"] if resume else [])
    if launcher == "accelerate" and (processes > 1 or accelerate_config):
        command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(processes)]
        if accelerate_config:
            command += ["--config_file", str(accelerate_config)]
        elif processes > 1:
            command.append("--multi_gpu")  # accelerate's data-parallel launcher; on CPU the engine switches to gloo
        return command + train
    if processes == 1:
        return [sys.executable, *train]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes), *train]


def command_text(command: list[str]) -> str:
    """A command as a user would type it: `python` for this interpreter, `torchrun` / `accelerate launch` for their modules."""
    words = list(command)
    if words and words[0] == sys.executable:
        words[0] = "python"
    if words[:3] == ["python", "-m", "torch.distributed.run"]:
        words[:3] = ["torchrun"]
    elif words[:3] == ["python", "-m", "accelerate.commands.launch"]:
        words[:3] = ["accelerate", "launch"]
    return shlex.join(words)


def stop_notice(phase: str | None) -> str:
    """What a stop does to a started run in this phase, for its log and the page ('Stop requested: ...'): a run
    still loading has no checkpoint to save and ends at once; one past its last step completes."""
    if phase == PREPARING:
        return "it stops now, with no checkpoint yet (it was still loading its data and model). Resume starts it again."
    if phase == FINISHING:
        return "it is past its last training step, saving its model and evaluating, so it completes as it is."
    return "it saves a checkpoint, then stops. Resume continues from there."


def stop_training(run: Run, *, wait: bool = False, timeout: float = STOP_GRACE_SECONDS) -> str:
    """Ask a run to stop: it saves a checkpoint, then ends; one still queued or loading its data and model ends
    at once (SIGTERM: nothing to checkpoint yet). With `wait`, escalate to SIGTERM after `timeout`."""
    if run.state not in ACTIVE_STATES:
        raise RunError(f"Run {run.id} is not training (it is {run.state}).")
    run.cancel_path.touch()
    status = run.raw_status()
    pid, launcher_pid = status.get("pid"), status.get("launcher_pid")
    if status.get("state") != QUEUED:
        run.append_event("message", text=f"Stop requested: {stop_notice(status.get('phase'))}")
    if status.get("state") == QUEUED and pid:
        _signal(pid, signal.SIGTERM)  # not training yet: nothing to checkpoint
        if wait:
            wait_for_end(run, timeout)
        run.update_status(state=STOPPED, message="Stopped before it started.")
        return STOPPED
    if status.get("phase") == PREPARING and pid:
        _signal(pid, signal.SIGTERM)  # loading data or the model: nothing to checkpoint, so it ends now, not after a first step
    if wait and not wait_for_end(run, timeout) and pid:
        _signal(pid, signal.SIGTERM)  # the (main) training process: it checkpoints, and tells the others to stop
        if not wait_for_end(run, timeout) and launcher_pid:
            _signal(launcher_pid, signal.SIGTERM)  # torchrun passes it on to every process
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


def _spawn(run: Run, *, resume: bool, token: str | None, processes: int = 1, launcher: str = "torchrun", accelerate_config: str | None = None) -> subprocess.Popen:
    command = launch_command(run.path, processes=processes, resume=resume, launcher=launcher, accelerate_config=accelerate_config)
    alive_fd = run.hold_alive_lock()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("FINETUNER_ALIVE_HELD", None)
    if command[1:3] == ["-m", "finetuner"]:
        env["FINETUNER_ALIVE_FD"] = str(alive_fd)  # the training process itself inherits the locked fd
    else:
        env["FINETUNER_ALIVE_HELD"] = "1"  # torchrun/accelerate keep the fd; their children close it
        for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
            env.pop(name, None)  # the launcher's own, if it runs inside a distributed job
    log_offset = run.log_path.stat().st_size if run.log_path.is_file() else 0
    env.pop(READER_VARIABLE, None)
    if token:  # a studio visitor's own: the process reads with it where it may, as the studio did (`hub_reads`)
        env[READER_VARIABLE] = token
    # Else (and for a repo the visitor's token may not read) the process reads the Hub as the studio that checked its
    # data and model did (on a Space, with the owner's HF_TOKEN secret, there for the private models and datasets the
    # Space needs). It never pushes: the Trainer's hub options are refused, and a push is the studio's or the CLI's, with a checked token.
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
    run.update_status(pid=process.pid, launcher_pid=process.pid, processes=processes, launcher=launcher, accelerate_config=accelerate_config, command=command_text(command), exit_code=None, exit_signal=None, watched_by=THIS_PROCESS)
    threading.Thread(target=watch_exit, args=(run, process, log_offset), name=f"watch-{run.id}", daemon=True).start()
    return process


# torchrun's report of a worker killed by a signal: "traceback : Signal 9 (SIGKILL) received by PID 1234"
_WORKER_SIGNAL = re.compile(r"Signal (\d+) \((SIG[A-Z0-9]+)\) received by PID")


def watch_exit(run: Run, process: subprocess.Popen, log_offset: int = 0) -> None:
    """Wait for a launched process and record how it ended, when it ended without saying so itself.

    A process killed from outside cannot write its status: the kernel's out-of-memory killer sends
    SIGKILL, which no handler sees. The run then shows as interrupted (its `.alive` lock is free); this
    adds `exit_code` and `exit_signal` to its status, so the page can say what most likely happened. Under
    torchrun the killed process is a worker: torchrun ends the others, exits 1 and names the signal in
    train.log. Nothing is written when the run recorded its own end, or was launched again meanwhile.
    """
    code = process.wait()
    status = run.raw_status()
    if status.get("launcher_pid") != process.pid or status.get("state") not in ACTIVE_STATES:
        return
    name = None
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
    else:
        try:
            with open(run.log_path, "rb") as handle:
                handle.seek(log_offset)
                tail = handle.read()[-65536:].decode("utf-8", "replace")
        except OSError:
            tail = ""
        found = _WORKER_SIGNAL.findall(tail)
        if found:
            name = found[0][1]
    run.update_status(exit_code=code, exit_signal=name)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
