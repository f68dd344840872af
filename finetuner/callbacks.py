"""The Trainer callback that makes a run observable and stoppable from outside its process.

It appends every log and evaluation to the run's `events.jsonl` (with throughput and ETA), keeps
`status.json` current (its step, epoch and ETA at every step end, at most once a second, so a view moves
between two logs without tiny fast steps paying for a write each), and honours a stop request: the `CANCEL` file in the run folder, or SIGTERM.
A stop saves a checkpoint first, so the run can be resumed with its optimizer and scheduler state.

With several processes (torchrun, accelerate launch) only the main process writes, and the stop decision
is agreed at every step: the main process reads the CANCEL file, any process may have had a SIGTERM, and a
max-reduction over the processes gives every one of them the same answer at the same step.
"""

from __future__ import annotations

import math
import shutil
import signal
import threading
import time
from pathlib import Path

from transformers import TrainerCallback

from . import distributed
from .runs import CHECKPOINT_CONFIG, Run

# The least time between two writes of the step to status.json (a log or evaluation writes it regardless).
STATUS_INTERVAL_SECONDS = 1.0


class RunEventsCallback(TrainerCallback):
    def __init__(self, run: Run):
        self.run = run
        self.stop_requested = False
        self._start_time = time.time()
        self._start_step = 0
        self._start_tokens = 0
        self._status_written = 0.0
        if threading.current_thread() is threading.main_thread():  # signals reach only the main thread
            signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum, frame) -> None:
        self.stop_requested = True

    def _should_stop(self, state) -> bool:
        local = self.stop_requested or (state.is_world_process_zero and self.run.cancel_path.exists())
        self.stop_requested = distributed.current().any(local)  # the same answer on every process, at the same step
        return self.stop_requested

    def on_train_begin(self, args, state, control, **kwargs):
        self._start_time = time.time()
        self._start_step = state.global_step
        self._start_tokens = state.num_input_tokens_seen
        if not state.is_world_process_zero:
            return
        sizes = {"per_device_train_batch_size": state.train_batch_size, "processes": args.world_size}  # with auto_find_batch_size: the size it tries
        precision = "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32"
        self.run.append_event("train_begin", step=state.global_step, max_steps=state.max_steps, epochs=args.num_train_epochs, precision=precision, **sizes)
        self.run.update_status(step=state.global_step, total_steps=state.max_steps, eta_seconds=None, progress_at=time.time(), **sizes)

    def _eta(self, state) -> float | None:
        """Seconds left at the pace of this process's steps so far (None before its first step)."""
        steps_done = state.global_step - self._start_step
        elapsed = time.time() - self._start_time
        return (state.max_steps - state.global_step) * elapsed / steps_done if steps_done > 0 else None

    def _write_progress(self, state) -> None:
        now = time.time()
        self.run.update_status(step=state.global_step, total_steps=state.max_steps, epoch=state.epoch, eta_seconds=self._eta(state), progress_at=now)
        self._status_written = now

    def on_step_end(self, args, state, control, **kwargs):
        if self._should_stop(state):
            control.should_save = True
            control.should_training_stop = True
        if state.is_world_process_zero and time.time() - self._status_written >= STATUS_INTERVAL_SECONDS:
            self._write_progress(state)
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        """A stop mid-epoch leaves the epoch's loop early, and the Trainer then ends the epoch as if it were
        complete: with eval_strategy 'epoch' it would evaluate (a point at a fractional epoch on the curves, a
        say in the best checkpoint and early stopping, a delay before the stop) and save the checkpoint taken
        at the step's end again. A stop at an epoch's real end keeps that epoch's evaluation."""
        if self.stop_requested and state.epoch is not None and not float(state.epoch).is_integer():
            control.should_evaluate = False
            control.should_save = False
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero:
            return
        logs = dict(logs or {})
        elapsed = max(time.time() - self._start_time, 1e-9)
        eta = self._eta(state)
        tokens = state.num_input_tokens_seen - self._start_tokens
        progress = {
            "step": state.global_step,
            "max_steps": state.max_steps,
            "epoch": state.epoch,
            "elapsed_seconds": elapsed,
            "eta_seconds": eta,
            "tokens_per_second": tokens / elapsed if tokens else None,
        }
        metrics = {k: _finite(v) for k, v in logs.items() if k not in ("epoch", "step", "num_input_tokens_seen")}
        kind = "eval" if any(k.startswith("eval_") for k in metrics) else "log"
        self.run.append_event(kind, **progress, metrics=metrics)
        self._write_progress(state)

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():  # what the checkpoint was trained with, for Resume to compare (`resuming.check_resumable`)
                shutil.copyfile(self.run.config_path, folder / CHECKPOINT_CONFIG)
            self.run.append_event("checkpoint", step=state.global_step, epoch=state.epoch)


def _finite(value):
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
