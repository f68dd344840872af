"""Follow a run while it trains: tail its `events.jsonl` and `status.json`, and turn them into snapshots.

A snapshot is a plain dict (JSON-ready) with everything a progress view needs: state, step of total,
fraction done, ETA, throughput, the train and eval curves so far, the latest metrics and a readable log
tail. `follow()` yields one snapshot at once, then one whenever something changes, and ends after the
run has ended (completed, failed, stopped or interrupted). Nothing here holds the run or blocks it:
closing a follower (a browser tab) never affects training, and any number of followers can tail the
same run. `RunFollower.poll()` is the non-blocking step, for callers with their own event loop.
"""

from __future__ import annotations

import json
import time
from collections import deque
from pathlib import Path
from typing import Any, Iterator

from .runs import ACTIVE_STATES, FINISHING, RUNNING, Run, memory_may_have_ended, read_json

LOG_TAIL_LINES = 200
# A live train curve has at most this many points: one a second to a page, and a plot, stay small in a long run.
MAX_LIVE_TRAIN_POINTS = 1000
# The scores an evaluation's log line shows, whichever the task reports (the curves show them too).
LOGGED_SCORES = ("eval_loss", "eval_accuracy", "eval_f1_macro", "eval_f1", "eval_rougeL", "eval_mean_token_accuracy")
# Keys of a Trainer log that are bookkeeping rather than curves.
_SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos", "train_loss")


def curves(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The train points (step, epoch, loss, learning_rate, grad_norm) and eval points (step, epoch, eval_*;
    `eval_<metric>_interval` is a [low, high] pair, NER's F1 logs one).

    A resumed run logs some steps twice (between its last checkpoint and the stop); the later value wins.
    """
    train: dict[int, dict[str, Any]] = {}
    evals: dict[int, dict[str, Any]] = {}
    for event in events:
        _add_curve_point(event, train, evals)
    return [train[s] for s in sorted(train)], [evals[s] for s in sorted(evals)]


def _add_curve_point(event: dict[str, Any], train: dict[int, dict[str, Any]], evals: dict[int, dict[str, Any]]) -> None:
    """Put an event's point, if it has one, into the train or eval points by step (a later one replaces)."""
    metrics = event.get("metrics") or {}
    step = event.get("step")
    if step is None:
        return
    if event.get("type") == "log" and metrics.get("loss") is not None:
        train[step] = {"step": step, "epoch": event.get("epoch"), **{k: metrics.get(k) for k in ("loss", "learning_rate", "grad_norm")}}
    elif event.get("type") == "eval":
        evals[step] = {"step": step, "epoch": event.get("epoch"), **{k: v for k, v in metrics.items() if k.startswith("eval_") and (isinstance(v, (int, float)) or k.endswith("_interval"))}}


def describe_event(event: dict[str, Any]) -> str | None:
    """One readable log line for an event, or None for events not worth a line."""
    stamp = time.strftime("%H:%M:%S", time.localtime(event.get("time", 0)))
    kind = event.get("type")
    metrics = event.get("metrics") or {}
    if kind == "message":
        return f"{stamp}  {event.get('text', '')}"
    if kind == "train_begin":
        precision = {"bf16": " in bf16 mixed precision", "fp16": " in fp16 mixed precision", "fp32": " in float32"}.get(event.get("precision"), "")
        return f"{stamp}  Training begins: {event.get('max_steps')} steps{precision}."
    if kind == "log":
        if "loss" not in metrics:
            if "train_loss" in metrics:  # the Trainer's summary, also where Stop or early stopping ended it before its last step
                step, last = event.get("step"), event.get("max_steps")
                ended = f"Training ended at step {step} of {last}" if step and last and step < last else "Training done"
                return f"{stamp}  {ended}: mean loss {metrics['train_loss']:.4f} in {metrics.get('train_runtime', 0):.0f} s."
            return None
        parts = [f"step {event.get('step')}/{event.get('max_steps')}", f"loss {_fmt(metrics.get('loss'))}"]
        if metrics.get("learning_rate") is not None:
            parts.append(f"lr {metrics['learning_rate']:.2e}")
        if event.get("tokens_per_second"):
            parts.append(f"{event['tokens_per_second']:.0f} tokens/s")
        return f"{stamp}  " + " · ".join(parts)
    if kind == "eval":
        shown = [f"{k[5:]} {_fmt(v)}" for k, v in metrics.items() if k in LOGGED_SCORES]
        return f"{stamp}  evaluation at step {event.get('step')} (epoch {_fmt(event.get('epoch'), 2)}): " + ", ".join(shown)
    if kind == "checkpoint":
        return f"{stamp}  checkpoint saved at step {event.get('step')}"
    if kind == "status":
        state = event.get("state")
        if event.get("error"):
            return f"{stamp}  {state}: {event['error']}"
        return f"{stamp}  {state}" + (" (resuming)" if event.get("resume") else "")
    if kind == "evaluation":
        metrics = {k: v for k, v in metrics.items() if k.endswith(("accuracy", "f1_macro"))}
        return f"{stamp}  evaluated on {event.get('name')}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in metrics.items())
    return None


def _fmt(value: Any, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "-"


class RunFollower:
    """Incremental reader of one run: each `poll()` reads only the bytes appended since the last one and folds
    them into the curves and the log tail kept so far, so a snapshot costs as little at step 100,000 as at
    step 100 (a page asks for one every second while a run trains)."""

    def __init__(self, run: Run, *, log_lines: int = LOG_TAIL_LINES, heartbeat: float | None = None):
        self.run = run
        self.heartbeat = heartbeat  # while the run trains: a snapshot at least this often, its elapsed time and ETA moving
        self._last_time = 0.0
        self.events_read = 0
        self._offset = 0
        self._last_key: tuple | None = None
        self.done = False
        self.task = run.config().model.task
        self._validation_examples: int | None = None  # from data_report.json, once training has written it
        self._train: dict[int, dict[str, Any]] = {}
        self._evals: dict[int, dict[str, Any]] = {}
        self._log: deque[str] = deque(maxlen=log_lines)
        self._last_progress: dict[str, Any] = {}  # the latest log, eval or train_begin event
        self._session_elapsed: float | None = None  # the latest elapsed_seconds logged in the run's latest session
        self._throughput: float | None = None

    def _read_new_events(self) -> list[dict[str, Any]]:
        path = Path(self.run.events_path)
        try:
            with open(path, "rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1  # a last line still being written waits for the next poll
        new = []
        for line in data[:end].splitlines():
            if line.strip():
                try:
                    new.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        self._offset += end
        tail: list[str] = []  # only the newest lines can stay in the log tail: older ones are not described
        for event in reversed(new):
            if len(tail) == self._log.maxlen:
                break
            line = describe_event(event)
            if line:
                tail.append(line)
        self._log.extend(reversed(tail))
        for event in new:
            _add_curve_point(event, self._train, self._evals)
            if event.get("type") in ("log", "eval", "train_begin"):
                self._last_progress = event
            if event.get("type") == "status" and event.get("state") == RUNNING:
                self._session_elapsed = None  # a session starts (a resume): its training clock starts again
            elif isinstance(event.get("elapsed_seconds"), (int, float)):
                self._session_elapsed = float(event["elapsed_seconds"])
            if event.get("tokens_per_second"):
                self._throughput = event["tokens_per_second"]
        self.events_read += len(new)
        return new

    def poll(self) -> dict[str, Any] | None:
        """A new snapshot if anything changed since the last poll (or, with `heartbeat`, that long passed while
        the run trains), else None."""
        # Status first: a run writes its events before the status that follows them, so a status read first
        # never ends the follow ('completed') ahead of the last events (its final evaluation).
        status = self.run.status()
        new = self._read_new_events()
        key = (status.get("state"), status.get("step"), status.get("phase"), status.get("message"), status.get("error"), self.events_read)
        beat = self.heartbeat is not None and status.get("state") == RUNNING and time.monotonic() - self._last_time >= self.heartbeat
        if key == self._last_key and not new and not beat:
            return None
        self._last_key, self._last_time = key, time.monotonic()
        if self._validation_examples is None and self.task == "text-classification":
            self._validation_examples = ((read_json(self.run.path / "data_report.json", {}) or {}).get("split_sizes") or {}).get("validation")
        snap = self._snapshot(status)
        self.done = snap["done"]
        return snap

    def _snapshot(self, status: dict[str, Any]) -> dict[str, Any]:
        """Everything a progress view shows, from the run's status and the events read so far. The train curve
        is thinned to at most MAX_LIVE_TRAIN_POINTS evenly spaced points, its last one always kept (the run's
        events.jsonl and the Runs tab keep every point); a text classifier's validation accuracy gets its
        interval from the validation split's size."""
        state = status.get("state", "interrupted")
        train = [self._train[step] for step in _thinned(sorted(self._train), MAX_LIVE_TRAIN_POINTS)]
        evals = [self._evals[step] for step in sorted(self._evals)]
        if self._validation_examples:
            evals = _with_accuracy_intervals(evals, self._validation_examples)
        last_progress = self._last_progress
        total = status.get("total_steps") or last_progress.get("max_steps")
        step = status.get("step") or last_progress.get("step") or 0
        now = time.time()
        phase = status.get("phase")
        eta = status.get("eta_seconds")
        written = status.get("progress_at") or last_progress.get("time")  # when the training process wrote that ETA
        if state != RUNNING or phase == FINISHING or eta is None:
            eta = None  # queued (a resumed run's ETA is its last session's), ended, or past its last step
        elif written:
            eta = max(0.0, eta - (now - written))
        # While it trains, the time since this session started; otherwise the training time its last session's last
        # log reports (a queued run's own clock has not started yet; a resume that ended before logging adds none);
        # both after the training time of any earlier sessions (earlier_training_seconds, counted once).
        earlier = status.get("earlier_training_seconds") or 0.0
        if state == RUNNING and status.get("started_at"):
            elapsed = max(0.0, now - status["started_at"]) + earlier
        elif state in ACTIVE_STATES or (self._session_elapsed is None and not earlier):
            elapsed = None
        else:
            elapsed = (self._session_elapsed or 0.0) + earlier
        return {
            "run_id": self.run.id,
            "task": self.task,
            "state": state,
            "done": state not in ACTIVE_STATES,
            "message": status.get("message"),
            "phase": phase,
            "error": status.get("error"),
            "memory_may_have_ended": memory_may_have_ended(status),  # the retry with a smaller batch is offered
            "step": step,
            "total_steps": total,
            "epoch": status.get("epoch") or last_progress.get("epoch"),
            "fraction": min(1.0, step / total) if total else (1.0 if state == "completed" else 0.0),
            "eta_seconds": eta,
            "elapsed_seconds": elapsed,
            "tokens_per_second": self._throughput,
            "train": train,
            "eval": evals,
            "latest_loss": train[-1]["loss"] if train else None,
            "latest_eval": evals[-1] if evals else {},
            "metrics": status.get("metrics") or {},
            "log": list(self._log),
            "started_at": status.get("started_at"),
            "ended_at": status.get("ended_at"),
        }


def _thinned(steps: list[int], limit: int) -> list[int]:
    """Every k-th of `steps` (k the smallest that leaves at most `limit`), and the last."""
    if len(steps) <= limit:
        return steps
    kept = steps[:: -(-len(steps) // limit)]
    return kept if kept[-1] == steps[-1] else [*kept[:-1], steps[-1]]


def _with_accuracy_intervals(evals: list[dict[str, Any]], examples: int) -> list[dict[str, Any]]:
    """Each evaluation's validation accuracy with its 95% Wilson interval (`eval_accuracy_interval`), for
    text classification, whose accuracy is one outcome per example: a rise between two epochs smaller
    than the band is not yet a better model. (NER's accuracy counts words, which are not independent.)"""
    if not any(isinstance(point.get("eval_accuracy"), (int, float)) for point in evals):
        return evals
    from .intervals import wilson  # noqa: PLC0415 - numpy, once there is an evaluation to show

    return [{**point, "eval_accuracy_interval": wilson(round(point["eval_accuracy"] * examples), examples)} if isinstance(point.get("eval_accuracy"), (int, float)) else point for point in evals]


def follow(run: Run, *, poll_interval: float = 0.5, timeout: float | None = None) -> Iterator[dict[str, Any]]:
    """Yield a snapshot now, then on every change, until the run has ended (or `timeout` seconds passed)."""
    follower = RunFollower(run)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        snap = follower.poll()  # the first poll always gives one
        if snap is not None:
            yield snap
            if snap["done"]:
                return
        if deadline is not None and time.monotonic() >= deadline:
            return
        time.sleep(poll_interval)
