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


def training_arguments(config: RunConfig, output_dir: Path):
    """`transformers.TrainingArguments` from the run config: our fields carry its names."""
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
    values.update(t.extra_training_args)
    try:
        return TrainingArguments(**values)
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
    from transformers import EarlyStoppingCallback, Trainer  # noqa: PLC0415 - heavy

    from .callbacks import RunEventsCallback  # noqa: PLC0415
    from .evaluation import baselines  # noqa: PLC0415
    from .tasks import get_task  # noqa: PLC0415
    from .tokenization import length_statistics, load_tokenizer, tokenize_splits  # noqa: PLC0415

    config = run.config()
    task = get_task(config.model.task)
    run.append_event("message", text="Loading data.")
    prepared = task.prepare_data(config)
    write_json_atomic(run.path / "data_report.json", {**prepared.report.to_dict(), "label_names": prepared.label_names, "text_columns": prepared.text_columns, "label_column": prepared.label_column})
    tokenizer = load_tokenizer(config.model.tokenizer_name or config.model.model_name_or_path, revision=config.model.model_revision, trust_remote_code=config.model.trust_remote_code, token=token)
    run.append_event("message", text="Tokenizing.")
    tokenized = tokenize_splits(prepared.splits, tokenizer, max_length=config.model.max_seq_length, fingerprint=prepared.fingerprint, cache_dir=cache_dir / "tokenized")
    columns = ["input_ids", "attention_mask", "token_type_ids", "label"]
    model_inputs = {role: split.select_columns([c for c in columns if c in split.column_names]) for role, split in tokenized.items()}
    stats = length_statistics(prepared.splits, tokenizer, max_length=config.model.max_seq_length)
    write_json_atomic(run.path / "token_stats.json", {role: {k: v for k, v in s.items() if k != "lengths"} for role, s in stats.items()})
    run.append_event("message", text="Loading the model.")
    model = task.build_model(config, prepared.label_names, token=token)

    args = training_arguments(config, run.checkpoints_dir)
    events = RunEventsCallback(run)
    callbacks = [events, *extra_callbacks]
    if config.training.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.training.early_stopping_patience))
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=model_inputs["train"],
        eval_dataset=model_inputs["validation"] if args.eval_strategy != "no" else None,
        processing_class=tokenizer,
        data_collator=task.data_collator(tokenizer),
        compute_metrics=task.compute_metrics_fn(prepared.label_names),
        callbacks=callbacks,
    )
    checkpoint = run.latest_checkpoint() if resume else None
    if resume and checkpoint is None:
        run.append_event("message", text="No checkpoint to resume from: training from the start.")
    run.append_event("message", text=f"Training on {len(model_inputs['train'])} examples" + (f", resuming from {checkpoint.name}." if checkpoint else "."))
    train_output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)

    if events.stop_requested:
        run.update_status(state=STOPPED, ended_at=time.time(), message=f"Stopped at step {trainer.state.global_step}; resume to continue.")
        run.append_event("status", state=STOPPED, step=trainer.state.global_step)
        return STOPPED

    run.append_event("message", text="Saving the model and evaluating.")
    trainer.save_model(str(run.model_dir))
    results: dict[str, dict[str, Any]] = {}
    for split, prefix in (("validation", "eval"), ("test", "test")):
        if split in model_inputs:
            metrics = task.evaluate_split(trainer, tokenized[split], split=split, label_names=prepared.label_names, out_dir=run.eval_dir, prefix=prefix)
            results[split] = metrics
            write_json_atomic(run.eval_dir / f"{prefix}_results.json", metrics)
    write_json_atomic(run.eval_dir / "train_results.json", train_output.metrics)

    run.append_event("message", text="Fitting the baselines.")
    texts = {role: _joined_texts(split) for role, split in prepared.splits.items()}
    eval_sets = {role: (texts[role], list(prepared.splits[role]["label"])) for role in ("validation", "test") if role in texts}
    write_json_atomic(run.eval_dir / "baselines.json", baselines(texts["train"], list(prepared.splits["train"]["label"]), eval_sets, prepared.label_names, seed=config.training.seed))

    summary = {f"{prefix}_{k}": v for split, prefix in (("validation", "eval"), ("test", "test")) for k, v in _headline(results.get(split, {}), prefix).items()}
    run.update_status(state=COMPLETED, ended_at=time.time(), message="Finished.", metrics=summary, step=trainer.state.global_step)
    run.append_event("status", state=COMPLETED, metrics=summary)
    return COMPLETED


def _joined_texts(split) -> list[str]:
    if "text_pair" in split.column_names:
        return [f"{a} [SEP] {b}" for a, b in zip(split["text"], split["text_pair"])]
    return list(split["text"])


def _headline(metrics: dict[str, Any], prefix: str) -> dict[str, Any]:
    keys = ("accuracy", "f1_macro", "loss")
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
