"""The Trainer callback that makes a run observable and stoppable from outside its process.

It appends every log and evaluation to the run's `events.jsonl` (with throughput and ETA), keeps
`status.json` current, and honours a stop request: the `CANCEL` file in the run folder, or SIGTERM.
A stop saves a checkpoint first, so the run can be resumed with its optimizer and scheduler state.

With several processes (torchrun, accelerate launch) only the main process writes, and the stop decision
is agreed at every step: the main process reads the CANCEL file, any process may have had a SIGTERM, and a
max-reduction over the processes gives every one of them the same answer at the same step.
"""

from __future__ import annotations

import math
import signal
import threading
import time

from transformers import TrainerCallback

from . import distributed
from .runs import Run


class RunEventsCallback(TrainerCallback):
    def __init__(self, run: Run):
        self.run = run
        self.stop_requested = False
        self._start_time = time.time()
        self._start_step = 0
        self._start_tokens = 0
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
        self.run.update_status(step=state.global_step, total_steps=state.max_steps, **sizes)

    def on_step_end(self, args, state, control, **kwargs):
        if self._should_stop(state):
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero:
            return
        logs = dict(logs or {})
        elapsed = max(time.time() - self._start_time, 1e-9)
        steps_done = state.global_step - self._start_step
        remaining = state.max_steps - state.global_step
        eta = remaining * elapsed / steps_done if steps_done > 0 else None
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
        self.run.update_status(step=state.global_step, total_steps=state.max_steps, epoch=state.epoch, eta_seconds=eta)

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.run.append_event("checkpoint", step=state.global_step, epoch=state.epoch)


def _finite(value):
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
