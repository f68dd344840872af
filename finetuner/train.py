"""The training process: one run folder in, a trained model, metrics and predictions out.

`python -m finetuner train --run_dir runs/<id>` runs this in its own process (the studio starts it as a
subprocess), so a crash, an out-of-memory error or a stop never takes the app down, and memory is given
back when it ends. Training processes queue on a lock file in the runs directory: one at a time.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import traceback
from pathlib import Path
from typing import Any

from .config import RunConfig
from .errors import FinetunerError
from .runs import COMPLETED, FAILED, QUEUED, RUNNING, STOPPED, Run, write_json_atomic

OOM_ADVICE = (
    "Out of memory. Try a smaller per_device_train_batch_size with gradient_accumulation_steps to keep the "
    "effective batch, a shorter max_seq_length, or extra_training_args {gradient_checkpointing: true}."
)


def training_arguments(config: RunConfig, output_dir: Path, *, args_class=None, **task_values: Any):
    """`transformers.TrainingArguments` from the run config: our fields carry its names.

    A task may ask for a subclass (`Seq2SeqTrainingArguments`, TRL's `SFTConfig`) and add its own values;
    the user's `extra_training_args` still override everything.
    """
    import torch  # noqa: PLC0415 - heavy
    from transformers import TrainingArguments  # noqa: PLC0415

    t = config.training
    evaluating = t.eval_strategy != "no"
    values: dict[str, Any] = dict(
        output_dir=str(output_dir),
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        per_device_train_batch_size=t.per_device_train_batch_size,
        per_device_eval_batch_size=t.per_device_eval_batch_size,
        num_train_epochs=t.num_train_epochs,
        max_steps=t.max_steps,
        warmup_steps=t.warmup_steps,
        lr_scheduler_type=t.lr_scheduler_type,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        seed=t.seed,
        eval_strategy=t.eval_strategy,
        eval_steps=t.eval_steps,
        save_strategy=t.eval_strategy if evaluating else "epoch",  # checkpoints line up with evaluations
        save_steps=t.eval_steps or 500,
        save_total_limit=t.save_total_limit,
        load_best_model_at_end=evaluating,
        metric_for_best_model=t.metric_for_best_model,
        greater_is_better=not t.metric_for_best_model.endswith("loss"),
        logging_steps=t.logging_steps,
        logging_first_step=True,
        train_sampling_strategy=t.train_sampling_strategy,
        include_num_input_tokens_seen="non_padding",
        report_to="none",
        dataloader_pin_memory=torch.cuda.is_available(),  # pinning only helps copies to a GPU
    )
    values.update(task_values)
    values.update(t.extra_training_args)
    try:
        return (args_class or TrainingArguments)(**values)
    except (TypeError, ValueError) as error:
        from .errors import ConfigError  # noqa: PLC0415

        raise ConfigError(f"Invalid training options: {error}") from error


def run_training(run: Run, *, resume: bool = False, token: str | None = None, cache_dir: Path | None = None, callbacks: list | None = None) -> str:
    """Train `run` in this process, queueing behind any other training; returns the final state.

    `callbacks` are extra `transformers.TrainerCallback`s, for Python API users who want their own hooks.
    """
    alive_fd = _inherited_or_new_alive_lock(run)
    run.cancel_path.unlink(missing_ok=True)
    run.update_status(state=QUEUED, pid=os.getpid(), message="Waiting for the training in progress to finish.")
    lock_fd = os.open(run.path.parent / ".train.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(lock_fd, fcntl.LOCK_EX)  # the queue: blocks until no other run trains
    try:
        if run.cancel_path.exists():  # stopped while queued
            run.update_status(state=STOPPED, ended_at=time.time(), message="Stopped before it started.")
            return STOPPED
        run.update_status(state=RUNNING, started_at=time.time(), message="Training.", error=None)
        run.append_event("status", state=RUNNING, resume=resume)
        return _train(run, resume=resume, token=token, cache_dir=cache_dir or run.path.parent / ".cache", extra_callbacks=callbacks or [])
    except Exception as error:
        return _fail(run, error)
    finally:
        os.close(lock_fd)
        os.close(alive_fd)


def _inherited_or_new_alive_lock(run: Run) -> int:
    """The launcher may hand over an fd already holding the `.alive` lock, so there is no gap in which
    a just-launched run looks dead; run directly from the CLI, the process takes the lock itself."""
    inherited = os.environ.pop("FINETUNER_ALIVE_FD", None)
    return int(inherited) if inherited else run.hold_alive_lock()


def _train(run: Run, *, resume: bool, token: str | None, cache_dir: Path, extra_callbacks: list) -> str:
    """The task-generic loop: every task-specific step is a hook of the task module (see `finetuner.tasks.base`)."""
    from transformers import EarlyStoppingCallback  # noqa: PLC0415 - heavy

    from .callbacks import RunEventsCallback  # noqa: PLC0415
    from .tasks import TASKS, get_task  # noqa: PLC0415
    from .tasks.base import count_parameters  # noqa: PLC0415

    config = run.config()
    task = get_task(config.model.task)
    run.append_event("message", text="Loading data.")
    prepared = task.prepare_data(config)
    write_json_atomic(run.path / "data_report.json", task.data_report(prepared))
    tokenizer = task.load_tokenizer(config, token=token)
    run.append_event("message", text="Tokenizing.")
    features = task.tokenize(prepared.splits, tokenizer, config, label_names=prepared.label_names, fingerprint=prepared.fingerprint, cache_dir=cache_dir / "tokenized")
    stats = task.length_statistics(prepared.splits, tokenizer, config)
    write_json_atomic(run.path / "token_stats.json", {role: {k: v for k, v in s.items() if k != "lengths"} for role, s in stats.items()})
    run.append_event("message", text="Loading the model.")
    model = task.build_model(config, prepared.label_names, token=token)

    events = RunEventsCallback(run)
    callbacks = [events, *extra_callbacks]
    if config.training.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.training.early_stopping_patience))
    trainer = task.build_trainer(
        config,
        model=model,
        tokenizer=tokenizer,
        label_names=prepared.label_names,
        train_dataset=features["train"],
        eval_dataset=features.get("validation"),
        output_dir=run.checkpoints_dir,
        callbacks=callbacks,
    )
    parameters = count_parameters(trainer.model)
    write_json_atomic(run.path / "model_info.json", {**parameters, "model": config.model.model_name_or_path, "task": config.model.task})
    run.append_event("message", text=f"Training {parameters['trainable_parameters']:,} of {parameters['total_parameters']:,} parameters ({parameters['trainable_share']:.2%}).", **parameters)
    run.eval_dir.mkdir(parents=True, exist_ok=True)
    task.before_training(trainer, prepared.splits, config, out_dir=run.eval_dir)
    checkpoint = run.latest_checkpoint() if resume else None
    if resume and checkpoint is None:
        run.append_event("message", text="No checkpoint to resume from: training from the start.")
    run.append_event("message", text=f"Training on {len(features['train'])} examples" + (f", resuming from {checkpoint.name}." if checkpoint else "."))
    train_output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)

    if events.stop_requested:
        run.update_status(state=STOPPED, ended_at=time.time(), message=f"Stopped at step {trainer.state.global_step}; resume to continue.")
        run.append_event("status", state=STOPPED, step=trainer.state.global_step)
        return STOPPED

    run.append_event("message", text="Saving the model and evaluating.")
    task.save_model(trainer, tokenizer, config, model_dir=run.model_dir, run_dir=run.path)
    results: dict[str, dict[str, Any]] = {}
    for split, prefix in (("validation", "eval"), ("test", "test")):
        if split in features:
            metrics = task.evaluate_split(trainer, features[split], split=split, label_names=prepared.label_names, out_dir=run.eval_dir, prefix=prefix, config=config)
            results[split] = metrics
            write_json_atomic(run.eval_dir / f"{prefix}_results.json", metrics)
    write_json_atomic(run.eval_dir / "train_results.json", train_output.metrics)

    run.append_event("message", text="Comparing with baselines.")
    task.after_training(trainer, prepared.splits, config, label_names=prepared.label_names, out_dir=run.eval_dir)

    headline = TASKS[config.model.task].headline
    summary = {f"{prefix}_{k}": v for split, prefix in (("validation", "eval"), ("test", "test")) for k, v in _headline(results.get(split, {}), prefix, headline).items()}
    run.update_status(state=COMPLETED, ended_at=time.time(), message="Finished.", metrics=summary, step=trainer.state.global_step)
    run.append_event("status", state=COMPLETED, metrics=summary)
    return COMPLETED


def _headline(metrics: dict[str, Any], prefix: str, keys: tuple[str, ...] = ("accuracy", "f1_macro", "loss")) -> dict[str, Any]:
    return {k: metrics[f"{prefix}_{k}"] for k in keys if f"{prefix}_{k}" in metrics}


def _fail(run: Run, error: Exception) -> str:
    """Record why the run failed, in words a user can act on; the traceback goes to train.log."""
    traceback.print_exc()
    if _is_out_of_memory(error):
        message = OOM_ADVICE
    elif isinstance(error, FinetunerError):
        message = str(error)
    else:
        message = f"{type(error).__name__}: {error}"
    run.update_status(state=FAILED, ended_at=time.time(), error=message, error_type=type(error).__name__, message="Failed.")
    run.append_event("status", state=FAILED, error=message)
    return FAILED


def _is_out_of_memory(error: BaseException) -> bool:
    return type(error).__name__ == "OutOfMemoryError" or "out of memory" in str(error).lower()


def load_results(run: Run) -> dict[str, Any]:
    """Everything the evaluation wrote for a run, for the CLI, the studio and the model card."""
    out: dict[str, Any] = {}
    for path in sorted(run.eval_dir.glob("*.json")):
        out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return out
