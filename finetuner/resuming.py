"""What a resume may change: a run's config.yaml against the options its last checkpoint was trained with, and
the number of processes against the checkpoint's. The checkpoint's optimizer and scheduler state bring back what
they hold, so a change there would not take effect; a changed model, data or effective batch would mix two
trainings. Used by the CLI's and the studio's Resume (through `finetuner.launcher`) and by a training process
that resumes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from .errors import ConfigError, RunError
from .runs import CHECKPOINT_CONFIG, COMPLETED, RESUMABLE_STATES, Run, frozen_config

# Options a resumed run takes up as changed in its config.yaml: how long it trains, what it logs, keeps and
# evaluates, and how it fits in memory (the out-of-memory advice's). Any other change is refused: the checkpoint's
# optimizer and scheduler state bring back its learning rates, weight decay and schedule (a new value would not
# take effect), and a changed model, data, length, seed or effective batch would continue another training.
CHANGES_A_RESUME_TAKES = {
    "num_train_epochs", "max_steps", "warmup_steps", "logging_steps", "eval_strategy", "eval_steps", "save_total_limit",
    "early_stopping_patience", "per_device_eval_batch_size", "max_eval_samples", "max_predict_samples",
    "generation_max_new_tokens", "generation_num_samples",
}
EXTRA_CHANGES_A_RESUME_TAKES = {
    "auto_find_batch_size", "activation_checkpointing", "gradient_checkpointing", "bf16", "fp16", "max_grad_norm",
    "dataloader_num_workers", "report_to", "disable_tqdm",
}


PROCESSES = "processes"  # the process count, beside the options in `config_changes`
BATCH_OPTIONS = ("per_device_train_batch_size", "gradient_accumulation_steps")


def check_resumable(run: Run, *, processes: int | None = None) -> None:
    """Only a stopped, interrupted or failed run has training left to do; a completed one would load its
    last checkpoint and evaluate again, rewriting its results. A config.yaml changed since the last checkpoint
    is refused where the change would not take effect or would mix two trainings (`config_changes`), and so is
    a resume on `processes` other than the checkpoint's that changes the effective batch; the changes a resume
    takes up are written to the run's log."""
    state = run.state
    if state not in RESUMABLE_STATES:
        again = " To train it again, start a new run with its settings (its config.yaml)." if state == COMPLETED else ""
        raise RunError(f"Run {run.id} is {state}; only a stopped, interrupted or failed run can be resumed.{again}")
    taken, refused = config_changes(run, processes=processes)
    checkpoint = run.latest_checkpoint()
    other_count = any(c[0] == PROCESSES for c in refused)  # its message says how the batch options keep the effective batch
    changed = [c for c in refused if c[0] not in (PROCESSES, *(BATCH_OPTIONS if other_count else ()))]
    reasons = [_other_processes_message(run, checkpoint, processes)] if other_count else []
    if changed:
        reasons.append(
            f"Run {run.id}'s config.yaml changed since its last checkpoint ({checkpoint.name}): {_listed(changed)}. A resume continues that "
            "checkpoint's training with its optimizer and scheduler state, which bring back the learning rates, weight decay and "
            "schedule it had (a new value would not take effect), and a changed model, data, length, seed or effective batch would "
            "mix two trainings. Put these back to resume, or train with them as a new run (Use its settings, then Start)."
        )
    if reasons:
        raise RunError(" ".join(reasons))
    if taken:
        run.append_event("message", text=f"Resuming from {checkpoint.name} with changed options: {_listed(taken)}.")
    if checkpoint is not None and run.config().training.extra_training_args.get("save_only_model"):
        run.append_event(
            "message", warning=True,
            text=f"{checkpoint.name} holds the model's weights only (save_only_model: true): the resumed run starts AdamW's moments and the "
            "learning-rate schedule, warm-up included, again from the beginning. Leave save_only_model out to resume a run as it was.",
        )


def config_changes(run: Run, *, processes: int | None = None) -> tuple[list[tuple[str, Any, Any]], list[tuple[str, Any, Any]]]:
    """(taken, refused): the options of the run's config.yaml that differ from those its latest checkpoint was trained
    with, as (name, before, now), split into those a resume takes up and those it cannot; with `processes`, the number
    of processes that resume, and ("processes", before, now) among them when the checkpoint's differ. Options are not
    compared for a checkpoint saved before checkpoints kept their config.

    Each optimizer step takes per_device_train_batch_size x processes x gradient_accumulation_steps examples: a change
    of any of them that keeps the product is taken (the retry with a smaller batch; a run moved to fewer GPUs with
    more accumulation), one that changes it is refused."""
    checkpoint = run.latest_checkpoint()
    if checkpoint is None:
        return [], []
    now = run.config().to_dict()
    before = _checkpoint_options(checkpoint) or run.config().to_dict()
    extra_before, extra_now = before.pop("extra_training_args") or {}, now.pop("extra_training_args") or {}
    changes = [(name, before[name], now.get(name)) for name in before if before[name] != now.get(name)]
    changes += [(name, extra_before.get(name), extra_now.get(name)) for name in sorted(set(extra_before) | set(extra_now)) if extra_before.get(name) != extra_now.get(name)]
    trained_on = checkpoint_processes(run, checkpoint) if processes else None
    if trained_on and trained_on != processes:
        changes.append((PROCESSES, trained_on, processes))
    same_batch = effective_batch(before, trained_on) == effective_batch(now, processes if trained_on else None)
    taken = [c for c in changes if c[0] in CHANGES_A_RESUME_TAKES | EXTRA_CHANGES_A_RESUME_TAKES or (c[0] in (*BATCH_OPTIONS, PROCESSES) and same_batch)]
    return taken, [c for c in changes if c not in taken]


def _checkpoint_options(checkpoint: Path) -> dict[str, Any] | None:
    """The options `checkpoint` was trained with (its copy of config.yaml), or None: saved before checkpoints kept
    one, or written by a finetuner whose options were others."""
    if not (checkpoint / CHECKPOINT_CONFIG).is_file():
        return None
    try:
        return frozen_config(checkpoint / CHECKPOINT_CONFIG).to_dict()
    except ConfigError:
        return None


def effective_batch(options: dict[str, Any], processes: int | None) -> int:
    """Examples per optimizer step: per_device_train_batch_size x processes x gradient_accumulation_steps."""
    return options["per_device_train_batch_size"] * (processes or 1) * options["gradient_accumulation_steps"]


def checkpoint_processes(run: Run, checkpoint: Path) -> int | None:
    """How many processes trained `checkpoint`: the Trainer saves one random-state file for each (rng_state.pth for
    one, rng_state_<rank>.pth for several). A checkpoint of weights only (save_only_model) has none: the run's status
    then says how many processes it last trained on; None where nothing says."""
    ranks = [int(match.group(1)) for path in checkpoint.glob("rng_state_*.pth") if (match := re.fullmatch(r"rng_state_(\d+)\.pth", path.name))]
    if ranks:
        return max(ranks) + 1
    if (checkpoint / "rng_state.pth").is_file():
        return 1
    recorded = run.raw_status().get(PROCESSES)
    return int(recorded) if recorded else None


def check_resumed_processes(run: Run, processes: int) -> None:
    """The process count of `check_resumable` alone, for a training process that resumes: started as `train --run_dir
    RUN --resume` (the launcher's command, which checked it; or the same typed under torchrun, which did not)."""
    _, refused = config_changes(run, processes=processes)
    if any(change[0] == PROCESSES for change in refused):
        raise RunError(_other_processes_message(run, run.latest_checkpoint(), processes))


def trained_processes(run: Run) -> int:
    """The processes `run` trained on: its last checkpoint's, else its status's, else one."""
    checkpoint = run.latest_checkpoint()
    return (checkpoint_processes(run, checkpoint) if checkpoint else None) or int(run.raw_status().get(PROCESSES) or 1)


def _other_processes_message(run: Run, checkpoint: Path, processes: int) -> str:
    """Why a resume on another number of processes is refused, and how to resume on the checkpoint's."""
    trained_on = checkpoint_processes(run, checkpoint)
    then, now = effective_batch(_checkpoint_options(checkpoint) or run.config().to_dict(), trained_on), effective_batch(run.config().to_dict(), processes)
    keep = (
        f" Or keep the effective batch on {processes}: per_device_train_batch_size x gradient_accumulation_steps = {then // processes} in its config.yaml."
        if then % processes == 0 else ""
    )
    return (
        f"Run {run.id}'s last checkpoint ({checkpoint.name}) was trained on {trained_on} process(es); this resume has {processes}. Each "
        f"optimizer step takes per_device_train_batch_size x processes x gradient_accumulation_steps examples ({then} then, {now} now), "
        "so the resumed run would go on with another batch, schedule and place in the data than its checkpoint's. Resume it on "
        f"{trained_on} process(es): `{resume_command(run, trained_on)}` (the studio's Resume does that by itself).{keep} Or train on "
        f"{processes} as a new run."
    )


def resume_command(run: Run, processes: int) -> str:
    """The command line that resumes `run` on `processes` processes (under torchrun for several)."""
    words = ["python", "-m", "finetuner", "resume", str(run.path)]
    return shlex.join(["torchrun", "--standalone", "--nproc_per_node", str(processes), *words[1:]] if processes > 1 else words)


def _listed(changes: list[tuple[str, Any, Any]]) -> str:
    return ", ".join(f"{name} {before!r} -> {now!r}" for name, before, now in changes)
