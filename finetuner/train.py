"""The training process: one run folder in, a trained model, metrics and predictions out.

`python -m finetuner train --run_dir runs/<id>` runs this in its own process (the studio starts it as a
subprocess), so a crash, an out-of-memory error or a stop never takes the app down, and memory is given
back when it ends. Training processes queue on one lock file per machine (`train_lock_path`): one at a
time, whatever runs folder they train in.

Under `torchrun` / `accelerate launch` the same function runs in every process of the run; only the main
process takes the locks and writes the run folder, and every decision is shared (see `finetuner.distributed`).
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from . import distributed
from .config import SFT_TRAINING_ARGUMENTS, RunConfig, current_names
from .distributed import World
from .errors import ConfigError, FinetunerError
from .estimate import PACKING_STRATEGY, check_packing_strategy, few_steps_warning, language_warning, prefix_warning
from .precision import BF16, FP16, chosen_precision, cpu_has_fast_bf16
from .runs import COMPLETED, FAILED, FINISHING, PREPARING, QUEUED, RUNNING, STOPPED, TRAINING, Run, read_json, trained_seconds, write_json_atomic

OOM_ADVICE = (
    "Out of memory. Try a smaller per_device_train_batch_size with gradient_accumulation_steps to keep the "
    "effective batch, a shorter max_seq_length, extra_training_args {activation_checkpointing: true}, or LoRA "
    "(use_lora, causal LM) to train far fewer weights. Or retry with auto_find_batch_size: it halves the batch "
    "until a step fits (the studio's 'Retry with a smaller batch', or `python -m finetuner resume RUN --auto_find_batch_size`)."
)
QUEUE_POLL_SECONDS = 1.0  # several processes: how often the main process retries the queue lock
LOCK_DIR_VARIABLE = "FINETUNER_LOCK_DIR"
WAITING_MESSAGE = "Waiting for another training on this machine to finish."


def train_lock_path() -> Path:
    """The queue every training process of this user on this machine waits on, whatever its runs folder:
    two studios (or a studio and the CLI) with different runs folders share one CPU or GPU.

    It lives in a per-user folder under the system temp dir; FINETUNER_LOCK_DIR moves it (a test session,
    say, whose tiny trainings must not wait behind another session's).
    """
    folder = Path(os.environ.get(LOCK_DIR_VARIABLE) or Path(tempfile.gettempdir()) / f"finetuner-{os.getuid()}")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder / "train.lock"


def training_in_progress() -> bool:
    """True while some training process on this machine holds the queue lock (a new run would wait)."""
    fd = os.open(train_lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        return not _take_lock(fd)
    finally:
        os.close(fd)  # closing releases a lock we may just have taken


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
    if distributed.current().distributed and distributed.uses_cpu():
        values["use_cpu"] = True  # without it the Trainer sees no GPU and trains each process alone
    values.update(task_values)
    values.update(current_names(t.extra_training_args))
    on_gpu = torch.cuda.is_available() and not values.get("use_cpu")
    precision = chosen_precision(t.extra_training_args, fast_bf16=torch.cuda.is_bf16_supported() if on_gpu else cpu_has_fast_bf16())
    values["bf16"], values["fp16"] = precision == BF16, precision == FP16
    if values["bf16"] and not on_gpu:
        values["use_cpu"] = True  # bf16 autocast on the CPU (fast with AMX or AVX-512 BF16); the Trainer otherwise refuses bf16 without a GPU
    try:
        return (args_class or TrainingArguments)(**values)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"Invalid training options: {error}") from error


# TrainingArguments a classification, NER or seq2seq run cannot train with: (the value that breaks it, why).
BROKEN_TRAINING_ARGUMENTS = {
    "dataloader_drop_last": (True, "drops the last incomplete batch of every evaluation too (the Trainer has one setting for training and evaluation), so the predictions the scores are computed from would miss examples"),
    "prediction_loss_only": (True, "skips the predictions that every score but the loss is computed from"),
    "remove_unused_columns": (False, "hands the data's text columns to the batch collator, which takes token ids only"),
    "batch_eval_metrics": (True, "scores each evaluation batch alone, which the task's metrics (and their intervals over all examples) do not do"),
    "eval_do_concat_batches": (False, "hands the metrics a list of batches where they take one array of all predictions"),
}


def check_options(config: RunConfig) -> None:
    """Refuse, before a run exists, the options that would fail only inside it: a pass-through TrainingArguments
    value of the wrong type (a string where a number belongs fails at the first gradient clip, with a bare
    TypeError), a save schedule that clashes with keeping the best evaluation's checkpoint, an option
    transformers itself rejects, a `report_to` integration that is not installed, a model the task cannot
    train (`tasks.base.check_model_kind`: a decoder-only model for seq2seq), or a length past the model's
    positions (`tasks.base.check_max_length`). The studio's Start and Estimate and the CLI's train call it."""
    import typing  # noqa: PLC0415

    from transformers import TrainingArguments  # noqa: PLC0415
    from transformers.integrations import get_reporting_integration_callbacks  # noqa: PLC0415

    from .tasks.base import check_max_length, check_model_kind  # noqa: PLC0415
    from .tasks.causal_lm import sft_arguments  # noqa: PLC0415

    t = config.training
    extra = t.extra_training_args
    _check_extra_names(config)
    causal_lm = config.model.task == "causal-lm"
    for name in extra:
        if name in SFT_TRAINING_ARGUMENTS and not causal_lm:
            raise ConfigError(f"{name} is an option of TRL's SFTTrainer, which trains causal LM runs only: the {config.model.task} run would ignore it. Leave it out.")
    if causal_lm:
        check_packing_strategy(extra.get("packing_strategy", PACKING_STRATEGY))
    if t.eval_steps and t.eval_strategy != "steps":
        raise ConfigError(f"eval_steps {t.eval_steps} applies only with eval_strategy 'steps' (it is '{t.eval_strategy}'): set eval_strategy to 'steps', or leave eval_steps empty.")
    if causal_lm:  # TRL, seconds to import, only where its trainer trains
        from trl import SFTConfig as arguments_class  # noqa: PLC0415
    else:
        arguments_class = TrainingArguments
    types = {f.name: f.type for f in dataclasses.fields(arguments_class)}
    for name, value in extra.items():
        allowed = typing.get_args(types.get(name)) or (types.get(name),)
        numbers = [kind for kind in (bool, int, float) if kind in allowed]
        fits = any(isinstance(value, (int, float) if kind is float else kind) and (kind is bool or not isinstance(value, bool)) for kind in numbers)
        if numbers and str not in allowed and not fits and not (value is None and type(None) in allowed):
            raise ConfigError(f"{name} expects {numbers[0].__name__}, got {value!r}.")
    for name, (value, why) in BROKEN_TRAINING_ARGUMENTS.items():
        if name in extra and bool(extra[name]) == value and config.model.task != "causal-lm":  # TRL's trainer and finetuner's own scoring take them
            raise ConfigError(f"{name} {str(value).lower()} {why}: the {config.model.task} run would fail. Leave it out.")
    evaluating = t.eval_strategy != "no"
    if extra.get("load_best_model_at_end") and not evaluating:
        raise ConfigError("load_best_model_at_end needs evaluations: set eval_strategy to 'epoch', or to 'steps' with eval_steps.")
    if evaluating and extra.get("load_best_model_at_end", True) and extra.get("save_strategy", t.eval_strategy) != t.eval_strategy:
        raise ConfigError(
            f"save_strategy '{extra['save_strategy']}' differs from eval_strategy '{t.eval_strategy}': finetuner keeps the checkpoint of "
            "the best evaluation (load_best_model_at_end), so it saves one at each evaluation. Change eval_strategy (and eval_steps) "
            "instead, or add load_best_model_at_end: false to save on your own schedule and keep the last model."
        )
    with tempfile.TemporaryDirectory() as folder:
        args = sft_arguments(config, Path(folder)) if causal_lm else training_arguments(config, Path(folder))
    for callback in get_reporting_integration_callbacks(args.report_to):
        try:
            callback()
        except (ImportError, RuntimeError) as error:
            raise ConfigError(f"report_to: {error}") from error
    check_model_kind(config)
    check_max_length(config)


def _check_extra_names(config: RunConfig) -> None:
    """Extra TrainingArguments override the run's own fields when it trains: one of those fields given there too would
    train the run with a value its config, plan, estimate, card and comparisons do not show; an output_dir would put
    its checkpoints where Resume never looks."""
    fields = {name for name in config.to_dict() if name != "extra_training_args"}
    for name, value in config.training.extra_training_args.items():
        if name in fields:
            raise ConfigError(f"{name} has its own option; set it there ({name}: {value!r}), not among the extra TrainingArguments.")
        if name in ("output_dir", "resume_from_checkpoint"):
            raise ConfigError(f"{name} cannot be set: a run keeps its checkpoints in its own folder (checkpoints/), where Resume finds them. The CLI's --output_dir places the whole run folder.")


def run_training(run: Run, *, resume: bool = False, token: str | None = None, cache_dir: Path | None = None, callbacks: list | None = None) -> str:
    """Train `run` in this process, queueing behind any other training; returns the final state.

    `callbacks` are extra `transformers.TrainerCallback`s, for Python API users who want their own hooks.
    Started by `torchrun`/`accelerate launch`, every process of the run calls this; the state returned
    is the same on all of them.
    """
    from .resuming import check_resumed_processes  # noqa: PLC0415

    world = distributed.current()
    alive_fd = lock_fd = None
    # Until the Trainer's callback takes SIGTERM over (it stops at the next step, with a checkpoint), a stop
    # ends the run at once: queued or loading data and model, it has nothing to checkpoint.
    on_main_thread = threading.current_thread() is threading.main_thread()  # signals reach only the main thread
    previous_handler = signal.signal(signal.SIGTERM, _stop_before_training) if on_main_thread else None
    try:
        if world.is_main:
            alive_fd = _inherited_or_new_alive_lock(run)
            run.cancel_path.unlink(missing_ok=True)
            _failure_marker(run).unlink(missing_ok=True)
            if resume:  # before its status takes this start's process count, which the check may read
                check_resumed_processes(run, world.size)
            run.update_status(state=QUEUED, pid=os.getpid(), processes=world.size, message="Starting.")
        if world.distributed:
            distributed.setup(run.config())
        lock_fd = _wait_in_queue(run, world)
        if world.broadcast(run.cancel_path.exists() if world.is_main else None):  # stopped while queued
            if world.is_main:
                run.update_status(state=STOPPED, ended_at=time.time(), message="Stopped before it started.")
            return STOPPED
        if world.is_main:
            # A resumed run's clocks (its status's started_at, the Trainer's train_runtime) count this session only:
            # the training time of those before is kept beside them, for its duration and model card.
            earlier = trained_seconds(run.events()) if resume else 0.0
            run.update_status(
                state=RUNNING, started_at=time.time(), phase=PREPARING, message="Starting.", eta_seconds=None, progress_at=None, error=None,
                out_of_memory=None, earlier_training_seconds=earlier,
            )
            run.append_event("status", state=RUNNING, resume=resume, **({"processes": world.size} if world.distributed else {}))
        return _train(run, world, resume=resume, token=token, cache_dir=cache_dir or run.path.parent / ".cache", extra_callbacks=callbacks or [])
    except StoppedBeforeTraining:
        if world.is_main:
            run.update_status(state=STOPPED, ended_at=time.time(), message="Stopped before training began; Resume starts it again.")
            run.append_event("status", state=STOPPED, step=0)
        return STOPPED
    except Exception as error:
        return _fail(run, error, world)
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous_handler)
        for fd in (lock_fd, alive_fd):
            if fd is not None:
                os.close(fd)


class StoppedBeforeTraining(BaseException):
    """SIGTERM before the first training step. A BaseException, as KeyboardInterrupt is: library code that
    catches Exception while the run loads its data or model must not swallow it."""


def _stop_before_training(signum, frame) -> None:
    raise StoppedBeforeTraining


def _say(run: Run, text: str, *, phase: str = PREPARING) -> None:
    """A step of the run in its log and in its status, which the progress views show (main process only)."""
    run.append_event("message", text=text)
    run.update_status(message=text, phase=phase)


def _inherited_or_new_alive_lock(run: Run) -> int | None:
    """The launcher may hand over an fd already holding the `.alive` lock, so there is no gap in which
    a just-launched run looks dead; run directly from the CLI, the process takes the lock itself.

    Under `torchrun`/`accelerate launch` started by the launcher, the launch command itself holds the lock
    for as long as any of its processes lives (FINETUNER_ALIVE_HELD), and the training processes take none.
    """
    inherited = os.environ.pop("FINETUNER_ALIVE_FD", None)
    if os.environ.pop("FINETUNER_ALIVE_HELD", None):
        return None
    return int(inherited) if inherited else run.hold_alive_lock()


def _wait_in_queue(run: Run, world: World) -> int | None:
    """Block until no other run trains on this machine; the main process holds the returned queue lock (others get None).

    The status says WAITING_MESSAGE only once the lock is found taken: a run that says it waits really does.
    `flock` wakes waiters in no set order: the queue is not first come, first served.
    With several processes the main process polls the lock and tells the others each time, so no process
    waits in a collective longer than a poll (a collective waiting for a long queue would time out); a stop
    request ends the wait too.
    """
    lock_fd = os.open(train_lock_path(), os.O_RDWR | os.O_CREAT, 0o600) if world.is_main else None
    if not world.distributed:
        if not _take_lock(lock_fd):
            _say_waiting(run)
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
        return lock_fd
    while True:
        go = False
        if world.is_main:
            go = _take_lock(lock_fd)
            if not go and run.raw_status().get("message") != WAITING_MESSAGE:
                _say_waiting(run)
            go = go or run.cancel_path.exists()
        if world.broadcast(go):
            return lock_fd
        time.sleep(QUEUE_POLL_SECONDS)


def _say_waiting(run: Run) -> None:
    """In the status (the studio shows it) and on stderr (a terminal's user would otherwise see nothing happen)."""
    run.update_status(message=WAITING_MESSAGE)
    print(f"{WAITING_MESSAGE} Run {run.id} starts when it ends; `python -m finetuner stop {run.id}` cancels it.", file=sys.stderr, flush=True)


def _take_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _train(run: Run, world: World, *, resume: bool, token: str | None, cache_dir: Path, extra_callbacks: list) -> str:
    """The task-generic loop: every task-specific step is a hook of the task module (see `finetuner.tasks.base`).

    Every process runs every hook (evaluation, saving and FSDP/DeepSpeed state gathering are collective), but
    only the main process writes into the run folder: the others give the hooks a scratch folder.
    """
    if world.is_main:
        return _train_steps(run, world, run.path, resume=resume, token=token, cache_dir=cache_dir, extra_callbacks=extra_callbacks)
    scratch = Path(tempfile.mkdtemp(prefix=f"finetuner-{run.id}-rank{world.rank}-"))
    try:
        return _train_steps(run, world, scratch, resume=resume, token=token, cache_dir=cache_dir, extra_callbacks=extra_callbacks)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _train_steps(run: Run, world: World, out: Path, *, resume: bool, token: str | None, cache_dir: Path, extra_callbacks: list) -> str:
    from transformers import EarlyStoppingCallback, set_seed  # noqa: PLC0415 - heavy

    from .callbacks import RunEventsCallback  # noqa: PLC0415
    from .inference import read_cache_if_hub_unreachable  # noqa: PLC0415
    from .tasks import TASKS, get_task  # noqa: PLC0415
    from .tasks.base import NEW_PARAMETERS, check_max_length, count_parameters, rotary_length_warning  # noqa: PLC0415

    main = world.is_main
    config = run.config()
    task = get_task(config.model.task)
    cached = read_cache_if_hub_unreachable((config.model.model_name_or_path, config.model.tokenizer_name))
    if main and cached:  # started by the studio, or resumed: the CLI's own check may not have run in this process
        run.append_event("message", text=f"The Hugging Face Hub cannot be reached: {', '.join(cached)} is read from the local cache (HF_HUB_OFFLINE=1 for this run).")
    with world.main_first():  # the main process downloads and fills the caches, the others read them
        if main:
            _say(run, "Loading data.")
        prepared = task.prepare_data(config)
        if main:
            write_json_atomic(run.path / "data_report.json", task.data_report(prepared))
        tokenizer = task.load_tokenizer(config, token=token)
        if main:
            _say(run, "Tokenizing.")
        features = task.tokenize(prepared.splits, tokenizer, config, label_names=prepared.label_names, fingerprint=prepared.fingerprint, cache_dir=cache_dir / "tokenized")
        if main:
            stats = token_stats(task, prepared, tokenizer, config, cache_dir=cache_dir / "tokenized")
            write_json_atomic(run.path / "token_stats.json", stats)
            for role, s in stats.items():  # causal LM: examples whose prompt leaves no answer token (`tokenize` drops them)
                if s.get("answers_cut_off"):
                    run.append_event("message", warning=True, text=(
                        f"{role}: {s['answers_cut_off']} of {s['count']} example(s) left out: their prompt fills max_seq_length "
                        f"{config.model.max_seq_length}, so no token of the answer is left to learn or score. Raise max_seq_length, or shorten those prompts."
                    ))
            _say(run, "Loading the model.")
        set_seed(config.training.seed)  # a new head starts the same in every run (and every process) with this seed
        model = task.build_model(config, prepared.label_names, token=token)
        check_max_length(config, model)  # launched without the studio's or the CLI's checks: fail now, not at the first long batch
    if config.model.freeze_embeddings:  # no gradient, no AdamW moments and no update for the vocabulary table
        try:
            model.get_input_embeddings().weight.requires_grad_(False)
        except (NotImplementedError, AttributeError) as error:  # custom (remote-code) models may not say where they are
            raise ConfigError(f"freeze_embeddings: {config.model.model_name_or_path} does not expose its input embeddings; turn the option off.") from error
    declare_loss_normalisation(model)

    events = RunEventsCallback(run)
    callbacks = [events, *extra_callbacks]
    patience = config.training.early_stopping_patience
    early_stopping = EarlyStoppingCallback(early_stopping_patience=patience) if patience else None
    if early_stopping:
        callbacks.append(early_stopping)
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
    eval_dir, model_dir = out / run.eval_dir.name, out / run.model_dir.name  # the run folder's on the main process
    if main:
        parameters = count_parameters(trainer.model)
        new_weights = getattr(model, NEW_PARAMETERS, None)  # what the head's own learning rate applies to
        write_json_atomic(
            run.path / "model_info.json",
            {**parameters, "model": config.model.model_name_or_path, "task": config.model.task, **({"new_weights": new_weights} if new_weights is not None else {})},
        )
        run.append_event("message", text=f"Training {parameters['trainable_parameters']:,} of {parameters['total_parameters']:,} parameters ({parameters['trainable_share']:.2%}).", **parameters)
    eval_dir.mkdir(parents=True, exist_ok=True)
    task.before_training(trainer, prepared.splits, config, out_dir=eval_dir)
    checkpoint = world.broadcast(run.latest_checkpoint() if resume and main else None)
    if main and resume and checkpoint is None:
        run.append_event("message", text="No checkpoint to resume from: training from the start.")
    if early_stopping and checkpoint:
        early_stopping.early_stopping_patience_counter = _saved_patience_count(checkpoint)
    if main:
        where = f" on {world.size} processes" if world.distributed else ""
        examples, sequences = len(features["train"]), len(trainer.train_dataset)  # TRL's packing joins examples into fewer sequences
        packed = f" packed into {sequences} sequences" if config.training.packing else ""
        run.append_event("message", text=f"Training on {examples} examples{packed}{where}" + (f", resuming from {checkpoint.name}." if checkpoint else "."))
        few = None if checkpoint else few_steps_warning(sequences, config.training, processes=world.size)
        for warning in filter(None, (few, prefix_warning(config), language_warning(config), rotary_length_warning(config, getattr(model, "config", None)))):
            run.append_event("message", text=warning, warning=True)  # the CLI prints it again after the run
            print(f"warning: {warning}", file=sys.stderr, flush=True)  # in a terminal, before the wait: Ctrl-C and change it
    if main:
        run.update_status(phase=TRAINING, message="Training.")
    train_output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)

    if world.any(events.stop_requested):  # a stop seen by any process after the last step's check
        if main:
            # No CANCEL file: nobody pressed Stop; the machine (a Space restarting or going to sleep) sent SIGTERM.
            why = "" if run.cancel_path.exists() else " by a SIGTERM from outside (the machine or the Space restarting or shutting down)"
            run.update_status(state=STOPPED, ended_at=time.time(), message=f"Stopped at step {trainer.state.global_step}{why}; resume to continue.")
            run.append_event("status", state=STOPPED, step=trainer.state.global_step)
        return STOPPED

    finished = "Finished."
    if early_stopping and early_stopping.early_stopping_patience_counter >= patience and trainer.state.global_step < trainer.state.max_steps:
        finished = (
            f"Stopped early at step {trainer.state.global_step} of {trainer.state.max_steps}: {trainer.args.metric_for_best_model} "
            f"did not improve for {patience} evaluation{'s' if patience > 1 else ''}; the best checkpoint is kept."
        )
        if main:
            run.append_event("message", text=finished)
    if main:
        scored = " and ".join(split for split in ("validation", "test") if split in features)
        run.append_event("message", text="Saving the model and evaluating.")
        run.update_status(phase=FINISHING, message=f"Saving the model and evaluating on {scored}…" if scored else "Saving the model…", eta_seconds=None)
    task.save_model(trainer, tokenizer, config, model_dir=model_dir, run_dir=out)
    results: dict[str, dict[str, Any]] = {}
    for split, prefix in (("validation", "eval"), ("test", "test")):
        if split in features:  # predictions are gathered from every process: the metrics cover the whole split
            metrics = task.evaluate_split(trainer, features[split], split=split, label_names=prepared.label_names, out_dir=eval_dir, prefix=prefix, config=config)
            results[split] = metrics
            if main:
                write_json_atomic(run.eval_dir / f"{prefix}_results.json", metrics)
    if main:
        write_json_atomic(run.eval_dir / "train_results.json", train_output.metrics)
        _say(run, "Comparing with baselines.", phase=FINISHING)
    task.after_training(trainer, prepared.splits, config, label_names=prepared.label_names, out_dir=eval_dir)

    if main:
        headline = TASKS[config.model.task].headline
        summary = {f"{prefix}_{k}": v for split, prefix in (("validation", "eval"), ("test", "test")) for k, v in _headline(results.get(split, {}), prefix, headline).items()}
        run.update_status(state=COMPLETED, ended_at=time.time(), phase=None, message=finished, metrics=summary, step=trainer.state.global_step)
        run.append_event("status", state=COMPLETED, metrics=summary)
    return COMPLETED


def _saved_patience_count(checkpoint: Path) -> int:
    """Early stopping's count of evaluations without improvement when `checkpoint` was saved. The Trainer restores a
    resumed run's best metric but not this count (restore_callback_states_from_checkpoint would, by replacing the
    callback this run reads at its end), so a stop and resume would otherwise train longer than the run would have."""
    state = read_json(checkpoint / "trainer_state.json", {}) or {}
    saved = (state.get("stateful_callbacks") or {}).get("EarlyStoppingCallback") or {}
    saved = saved[0] if isinstance(saved, list) and saved else saved
    return int((saved.get("attributes") or {}).get("early_stopping_patience_counter") or 0) if isinstance(saved, dict) else 0


def token_stats(task, prepared, tokenizer, config: RunConfig, *, cache_dir: Path) -> dict[str, dict[str, Any]]:
    """Each split's token-length summary (a run's token_stats.json), kept beside the tokenized data: an
    unchanged second run reads it instead of encoding every example again (a causal LM renders its chat
    template for each one: seconds on a few thousand)."""
    from .tasks.base import cache_key  # noqa: PLC0415
    from .tokenization import tokenizer_signature  # noqa: PLC0415

    options = json.dumps([dataclasses.asdict(config.data), dataclasses.asdict(config.model)], sort_keys=True, default=str)
    key = cache_key("lengths", prepared.fingerprint, tokenizer_signature(tokenizer), getattr(tokenizer, "chat_template", None), options) if prepared.fingerprint else None
    path = cache_dir / f"{key}-lengths.json" if key else None
    if path is not None and path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    stats = {role: {k: v for k, v in s.items() if k not in ("lengths", "left_out")} for role, s in task.length_statistics(prepared.splits, tokenizer, config).items()}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, stats)
    return stats


def declare_loss_normalisation(model) -> None:
    """Tell the Trainer when a model's loss ignores `num_items_in_batch` (most encoder heads, T5, BART).

    The Trainer assumes any model whose `forward` takes `**kwargs` averages its loss over the items of the
    whole (accumulated, all-process) batch, so it neither divides the loss by the gradient-accumulation
    steps nor stops multiplying it by the number of processes. A model that computes a plain
    `CrossEntropyLoss()` mean instead would train on a loss, and report one, that is accumulation-steps x
    processes too large (a 2-process run logs twice the loss of a 1-process run). Models that route their
    loss through `self.loss_function` do honour the count and are left alone.
    """
    import inspect  # noqa: PLC0415

    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # PEFT wraps the model
    if hasattr(base, "accepts_loss_kwargs"):
        return
    try:
        source = inspect.getsource(type(base).forward)
    except (OSError, TypeError):
        return
    if "**kwargs" in source and "loss_function" not in source:
        base.accepts_loss_kwargs = False


def _headline(metrics: dict[str, Any], prefix: str, keys: tuple[str, ...] = ("accuracy", "f1_macro", "loss")) -> dict[str, Any]:
    return {k: metrics[f"{prefix}_{k}"] for k in keys if f"{prefix}_{k}" in metrics}


def _fail(run: Run, error: Exception, world: World | None = None) -> str:
    """Record why the run failed, in words a user can act on; the traceback goes to train.log.

    A typed error (bad data, a missing model, ...) carries its own fix in its message, so its traceback
    is written to train.log alone: a CLI user sees the message, not a wall of frames above it. Any other
    error is a surprise, and its traceback is printed as well (a run the studio launched prints into
    train.log anyway).

    With several processes, the first process to fail records its error (the others then fail only
    because it left, and their errors would hide the cause).
    """
    if isinstance(error, FinetunerError):
        sys.stdout.flush()  # where they are train.log too, what they hold comes first
        sys.stderr.flush()
        with open(run.log_path, "a", encoding="utf-8") as log:
            traceback.print_exc(file=log)
    else:
        traceback.print_exc()
    world = world or World()
    if world.distributed and ((not world.is_main and run.cancel_path.exists()) or not _claim_failure(run)):
        return FAILED  # a stop killed the main process while queued, or another process failed first: not this one's story
    oom = out_of_memory_details(error)
    if oom:
        message = OOM_ADVICE
    elif isinstance(error, FinetunerError):
        message = str(error)
    else:
        message = f"{type(error).__name__}: {error}"
    if world.distributed and not world.is_main:
        message = f"Process {world.rank} of {world.size} failed. {message}"
    run.update_status(state=FAILED, ended_at=time.time(), error=message, error_type=type(error).__name__, message="Failed.", out_of_memory=oom)
    run.append_event("status", state=FAILED, error=message, **({"out_of_memory": oom} if oom else {}))
    return FAILED


def _failure_marker(run: Run) -> Path:
    return run.path / ".failed"


def _claim_failure(run: Run) -> bool:
    """True for the first process of a run to fail (an exclusive create: atomic across processes)."""
    try:
        os.close(os.open(_failure_marker(run), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return False
    return True


# What PyTorch and accelerate say when memory runs out, on GPU (CUDA/ROCm/XPU), Apple MPS and CPU.
_OOM_PHRASES = ("out of memory", "defaultcpuallocator: can't allocate memory", "mps backend out of memory", "failed to allocate memory")
# Frames that mean the error came while evaluating or predicting, not in a training step.
_EVALUATION_FRAMES = {"evaluate", "evaluation_loop", "prediction_step", "predict", "_evaluate", "evaluate_split"}


def is_out_of_memory(error: BaseException) -> bool:
    if type(error).__name__ == "OutOfMemoryError" or isinstance(error, MemoryError):
        return True
    return any(phrase in str(error).lower() for phrase in _OOM_PHRASES)


def out_of_memory_details(error: BaseException) -> dict[str, Any] | None:
    """For an out-of-memory error: where it happened ('training' or 'evaluation'), for the advice and the retry."""
    if not is_out_of_memory(error):
        return None
    frames = set()
    tb = error.__traceback__
    while tb is not None:
        frames.add(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    return {"phase": "evaluation" if frames & _EVALUATION_FRAMES else "training"}



def load_results(run: Run) -> dict[str, Any]:
    """Everything the evaluation wrote for a run, for the CLI, the studio and the model card."""
    out: dict[str, Any] = {}
    for path in sorted(run.eval_dir.glob("*.json")):
        out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return out
