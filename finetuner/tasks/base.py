"""What every task module implements, and helpers they share.

The generic training loop (`finetuner.train`), the evaluation of a finished run (`finetuner.evaluate_run`)
and inference (`finetuner.inference`) call only these hooks, in this order:

    prepare_data(config) -> prepared                         data: `.splits`, `.fingerprint`, `.label_names`
    data_report(prepared) -> dict                            written to the run's data_report.json
    load_tokenizer(config, *, token) -> tokenizer
    load_trained_tokenizer(model_path, *, token) -> tokenizer   a trained model's, as its predictor reads it (evaluate_run)
    check_tokenization(splits, tokenizer, config)            before launch: what the tokenizer makes of the data
                                                             that would stop or void the run (DataError)
    fits_model(model_config) -> bool                         whether the task trains a model of this config
    model_lengths(config) -> {option: tokens}                the lengths the model must have positions for
    tokenize(splits, tokenizer, config, *, label_names, fingerprint, cache_dir) -> {split: Dataset}
    length_statistics(splits, tokenizer, config) -> {split: stats}      token_stats.json, the length histogram
    build_model(config, label_names, *, token) -> model
    build_trainer(config, *, model, tokenizer, label_names, train_dataset, eval_dataset, output_dir,
                  callbacks, for_training) -> transformers.Trainer
    before_training(trainer, splits, config, *, out_dir)     e.g. score the base model, for a before/after table
    save_model(trainer, tokenizer, config, *, model_dir, run_dir)      model/ (LoRA: merged; adapter/ beside it)
    evaluate_split(trainer, dataset, *, split, label_names, out_dir, prefix, config) -> Trainer-style metrics
    after_training(trainer, splits, config, *, label_names, out_dir)    e.g. baselines, forgetting
    evaluation_data(frame, data_report, config) -> Dataset   another labelled file, normalised like a split
    load_predictor(model_path, *, max_length, token) -> predictor       inference (see finetuner.inference)
    prediction_inputs(frame, data_report, *, text_column, source) -> dict   a file to predict on, read as training
                                                             reads the task's data: `predictor.output_columns(**inputs, **generation_options)`
    inspect_example(tokenizer, example, config) -> dict      what training feeds the model for one example

and the constants `PIPELINE_TAG` (the Hub's pipeline tag), `AUTO_MODEL` (the transformers auto class),
`TOKENIZATION_OPTIONS` (the config fields besides the model and max_seq_length that change what the tokenizer
makes of an example: `inspect_example` follows each, and the studio's inspector passes them from the Train form)
and `LENGTH_OPTIONS` (those of them that change `length_statistics`: the token-length chart, Estimate).
A task module that does not need a hook re-exports the no-op from here.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ModelLoadError
from ..hub_reads import model_options, reader, token_for

HOOKS = (
    "prepare_data",
    "data_report",
    "load_tokenizer",
    "load_trained_tokenizer",
    "check_tokenization",
    "fits_model",
    "model_lengths",
    "tokenize",
    "length_statistics",
    "build_model",
    "build_trainer",
    "before_training",
    "save_model",
    "evaluate_split",
    "after_training",
    "evaluation_data",
    "load_predictor",
    "prediction_inputs",
    "inspect_example",
)
CONSTANTS = ("PIPELINE_TAG", "AUTO_MODEL", "TOKENIZATION_OPTIONS", "LENGTH_OPTIONS")
# TrainingArguments for a trainer that only evaluates or predicts (evaluate_run): nothing to schedule or save.
EVALUATION_ONLY = {"eval_strategy": "no", "save_strategy": "no", "load_best_model_at_end": False}


def in_order(trainer_class, *, keep_evaluations: bool = False):
    """A subclass of a Trainer class whose evaluation and prediction batches keep the dataset's row order.

    transformers 5 applies `train_sampling_strategy="group_by_length"` to evaluation batches too, so
    `predict` would return rows sorted by length: written beside the dataset's texts, or scored against
    its reference texts, they would be misaligned. Training batches are still grouped by length.

    With `keep_evaluations`, the outputs of the evaluations during training are kept for the steps whose
    weights may end up as the final model (the latest and the best so far), so that the validation report
    written after training need not predict the split again (`predict_shortest_first`).
    """

    class InOrder(trainer_class):
        def _get_eval_sampler(self, eval_dataset):
            from torch.utils.data import SequentialSampler  # noqa: PLC0415

            if eval_dataset is None or not hasattr(eval_dataset, "__len__"):
                return super()._get_eval_sampler(eval_dataset)
            # One process: in order. Several: no sampler, so accelerate shards in order and gathers back in order.
            return SequentialSampler(eval_dataset) if self.args.world_size <= 1 else None

        def evaluation_loop(self, *args, **kwargs):
            # Several processes: accelerate evens out the last batch with copies of the first rows, and only
            # gather_for_metrics drops them again. Seq2SeqTrainer switches to plain `gather`, which keeps them
            # (6 validation rows came back as 128 on 2 processes); every row must be scored once.
            self.gather_function = self.accelerator.gather_for_metrics
            output = super().evaluation_loop(*args, **kwargs)
            if keep_evaluations and self.is_in_train:
                # After this evaluation either it or the best one before it is the best.
                best = self.state.best_global_step
                self.kept_evaluations = {step: kept for step, kept in getattr(self, "kept_evaluations", {}).items() if step == best}
                self.kept_evaluations[self.state.global_step] = output
            return output

    InOrder.__name__ = InOrder.__qualname__ = f"InOrder{trainer_class.__name__}"
    return InOrder


# The attribute `load_with_new_head` sets on a model: the names of the weights its checkpoint lacked.
NEW_PARAMETERS = "finetuner_new_parameters"


def with_head_learning_rate(trainer_class, learning_rate: float | None):
    """A subclass of a Trainer class whose optimizer trains the model's new weights at `learning_rate`.

    A classification head starts from small random weights, and AdamW moves each weight by about the
    learning rate per step: at the 5e-5 that suits the pretrained encoder, a head for many classes cannot
    grow large enough in a few hundred steps, and the encoder bends its features to make up for it.
    Trained on 3,000 BANKING77 sentences (77 intents) for 3 epochs, the bundled model scored 0.46 on the
    test set that way, below TF-IDF + logistic regression (0.73), and 0.87 with its head at 5e-3; NER
    on WNUT-17 started faster (test F1 +0.014 over 3 seeds: within their spread; benchmarks/head_learning_rate.py),
    SST-2's two classes hardly moved.
    The new weights are those `load_with_new_head` found missing from the checkpoint: a model whose head was
    already trained for these labels has none, and trains as before. Both rates follow the same schedule.
    At the learning rate itself the head stays in the Trainer's own groups, as before the option existed,
    so a run frozen then (`Run.config`) resumes from its optimizer state.
    """
    if learning_rate is None:
        return trainer_class

    class HeadLearningRate(trainer_class):
        def create_optimizer(self, model=None):
            fresh = self.optimizer is None
            optimizer = super().create_optimizer(model)
            new = set(getattr(self.model, NEW_PARAMETERS, ()))
            if not fresh or not new or learning_rate == self.args.learning_rate:
                return optimizer
            head = {id(p) for name, p in self.model.named_parameters() if name in new}
            for group in list(optimizer.param_groups):
                moved = [p for p in group["params"] if id(p) in head]
                if moved:
                    group["params"] = [p for p in group["params"] if id(p) not in head]
                    optimizer.add_param_group({**{k: v for k, v in group.items() if k != "params"}, "params": moved, "lr": learning_rate})
            optimizer.param_groups[:] = [group for group in optimizer.param_groups if group["params"]]
            return optimizer

    HeadLearningRate.__name__ = HeadLearningRate.__qualname__ = f"HeadLearningRate{trainer_class.__name__}"
    return HeadLearningRate


def predict_in_order(trainer, dataset, *, prefix: str, **options: Any):
    """`trainer.predict` with predictions in the dataset's row order (see `in_order`), for any trainer."""
    saved = trainer.args.train_sampling_strategy
    trainer.args.train_sampling_strategy = "sequential"
    try:
        return trainer.predict(dataset, metric_key_prefix=prefix, **options)
    finally:
        trainer.args.train_sampling_strategy = saved


def shortest_first(dataset):
    """The dataset's rows from shortest to longest: evaluation batches of similar lengths, each padded to
    its own longest row, compute almost no padding. Only for evaluations whose scores do not depend on
    row order (predictions and labels travel together); seq2seq's, scored against references kept in
    the dataset's order, do."""
    return dataset.select(_length_order(dataset))


def predict_shortest_first(trainer, dataset, *, prefix: str, evaluated_in_training: bool = False):
    """`predict_in_order` over the rows sorted by length, with predictions and labels put back in the
    dataset's own row order (to be written beside its texts).

    `evaluated_in_training`: `dataset` is the split evaluated during training (validation, sorted the same
    way), so the kept evaluation of the weights training ended with, if any, stands in for a new pass."""
    import numpy as np  # noqa: PLC0415

    order = _length_order(dataset)
    output = _kept_final_evaluation(trainer, len(dataset)) if evaluated_in_training else None
    if output is None:
        output = predict_in_order(trainer, dataset.select(order), prefix=prefix)

    def restored(values):
        values = np.asarray(values)
        rows = np.empty_like(values)
        rows[order] = values
        return rows

    return output._replace(predictions=restored(output.predictions), label_ids=restored(output.label_ids))


def _kept_final_evaluation(trainer, rows: int):
    """The kept evaluation (see `in_order`) of the weights the trainer now holds: the best checkpoint's when
    training loaded it at the end, else the last step's. None when that one was not kept (a run resumed
    after it, no evaluation at that step)."""
    state = trainer.state
    step = state.best_global_step if trainer.args.load_best_model_at_end and state.best_model_checkpoint else state.global_step
    output = getattr(trainer, "kept_evaluations", {}).get(step)
    return output if output is not None and output.num_samples == rows else None


def _length_order(dataset):
    import numpy as np  # noqa: PLC0415

    return np.argsort([len(ids) for ids in dataset["input_ids"]], kind="stable")


def before_training(trainer, splits, config, *, out_dir: Path) -> None:
    """No-op default."""


def after_training(trainer, splits, config, *, label_names: list[str], out_dir: Path) -> None:
    """No-op default."""


def check_tokenization(splits, tokenizer, config) -> None:
    """No-op default: the tokenizer makes something trainable of any data this task reads."""


def fits_model(model_config) -> bool:
    """Default: any model the task's AUTO_MODEL class can build (`check_model_kind` asks that first)."""
    return True


def model_lengths(config) -> dict[str, int]:
    """Default: the inputs, cut at max_seq_length, are all the model reads."""
    return {"max_seq_length": config.model.max_seq_length}


def save_model(trainer, tokenizer, config, *, model_dir: Path, run_dir: Path) -> None:
    """The trained model and its tokenizer, ready for `from_pretrained`."""
    trainer.save_model(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))


def offline_hint(config) -> str | None:
    """What to do when the Hub is unreachable: generative tasks have no bundled model to fall back on."""
    from . import TASKS  # noqa: PLC0415

    info = TASKS[config.model.task]
    if not info.needs_hub_default:
        return None
    return (
        f"No pretrained model for {info.name} is bundled with finetuner. Where the Hub is reachable, download one "
        f"(for example `hf download {info.default_model} --local-dir models/{info.default_model.split('/')[-1]}`), "
        "copy the folder here and choose it as the model (model_name_or_path)."
    )


def load_tokenizer(config, *, token: str | None = None):
    from ..tokenization import load_tokenizer as load  # noqa: PLC0415 - heavy

    m = config.model
    return load(m.tokenizer_name or m.model_name_or_path, revision=m.model_revision, trust_remote_code=m.trust_remote_code, token=token, offline_hint=offline_hint(config))


def load_trained_tokenizer(model_path, *, token: str | None = None):
    """A trained model's tokenizer exactly as saved, as its predictor and the Hub pipeline read it.

    What training changed in it (text classification's pair separator) was saved with it: `load_tokenizer`
    would change a run trained before finetuner made that change, and score it on other data read otherwise
    than training and prediction read it."""
    from ..tokenization import load_tokenizer as load  # noqa: PLC0415 - heavy

    return load(str(model_path), token=token)


def load_pretrained(auto_class, config, *, token: str | None = None, **kwargs: Any):
    """`auto_class.from_pretrained` on the config's model, or a ModelLoadError that says what to do."""
    from ..tokenization import load_failure_message  # noqa: PLC0415

    name = config.model.model_name_or_path
    token = token or token_for(name)
    try:
        return auto_class.from_pretrained(name, revision=config.model.model_revision, trust_remote_code=config.model.trust_remote_code, token=token, **model_options(name, token), **kwargs)
    except ValueError as error:
        if "Unrecognized configuration class" in str(error):
            raise ModelLoadError(wrong_kind_message(config)) from error
        raise ModelLoadError(load_failure_message("model", name, error, offline_hint=offline_hint(config))) from error
    except Exception as error:  # OSError, HTTP errors: all mean "cannot load this"
        raise ModelLoadError(load_failure_message("model", name, error, offline_hint=offline_hint(config))) from error


def meta_model(config, auto_class: str = "AutoModel", *, token: str | None = None):
    """The config's model built on the meta device from its config.json alone (`auto_class` names the
    transformers class): every module and parameter shape, no weights read. What the studio needs before
    launch to count parameters, name LoRA targets or see how many positions the model reads."""
    import torch  # noqa: PLC0415
    import transformers  # noqa: PLC0415

    from ..inference import MODEL_LOAD_LOCK  # noqa: PLC0415
    from ..tokenization import load_failure_message  # noqa: PLC0415

    m = config.model
    token = token or token_for(m.model_name_or_path)
    location = config_location(m.model_name_or_path, revision=m.model_revision, token=token)
    try:
        model_config = transformers.AutoConfig.from_pretrained(location, revision=m.model_revision, trust_remote_code=m.trust_remote_code, token=token, **model_options(location, token))
    except Exception as error:  # noqa: BLE001 - any failure means "cannot read this model's config"
        raise ModelLoadError(load_failure_message("model", m.model_name_or_path, error, offline_hint=offline_hint(config))) from error
    with MODEL_LOAD_LOCK, torch.device("meta"):  # from_config patches process-wide state, like from_pretrained
        return getattr(transformers, auto_class).from_config(model_config, trust_remote_code=m.trust_remote_code)


def config_location(name: str, *, revision: str | None, token: str | None) -> str:
    """Where to read a model's config.json from: a folder as it is; for a Hub id, one request says whether the
    Hub answers, else the cached copy is read, or a ModelLoadError says at once that there is none, where
    asking an unreachable Hub for config.json waited out huggingface_hub's retries (24 s) at every check."""
    from ..inference import hub_model_location  # noqa: PLC0415

    return name if Path(name).exists() else hub_model_location(name, revision=revision, token=token)


def position_limit(model, *, part: str | None = None) -> int | None:
    """How many tokens a model with a table of learned (or fixed) positions can read: BERT's 512, RoBERTa's
    514 rows less the two its padding takes, BART's less its offset. None for relative or rotary positions
    (T5, Llama), which have no hard limit. A longer input would index past the table and fail mid-run.
    `part`: the table of that part of the model only ("decoder": LED's decoder reads 1,024 positions, its encoder 16,384)."""
    import torch  # noqa: PLC0415

    for name, module in model.named_modules():
        if part is not None and part not in name.split("."):
            continue
        if isinstance(module, torch.nn.Embedding) and name.rsplit(".", 1)[-1] in ("position_embeddings", "wpe", "embed_positions"):
            reserved = module.padding_idx + 1 if module.padding_idx is not None else getattr(module, "offset", 0)
            return module.num_embeddings - reserved
    return None


def check_max_length(config, model=None, *, token: str | None = None) -> None:
    """Refuse a length longer than the model can read (max_seq_length; for seq2seq also the targets and the
    generated summaries: the task's `model_lengths`), before training rather than at its first long batch or
    its first evaluation. `model`: the loaded model; without it, the config's model built on the meta device."""
    from . import get_task  # noqa: PLC0415
    from ..errors import ConfigError  # noqa: PLC0415

    m = config.model
    for option, length in get_task(m.task).model_lengths(config).items():
        part = None if option == "max_seq_length" else "decoder"  # the summaries are read by the decoder: its own positions
        limit = position_limit(model, part=part) if model is not None else _declared_limit(m.model_name_or_path, m.model_revision, m.trust_remote_code, _config_stamp(m.model_name_or_path), token, reader(), part)
        if limit is not None and length > limit:
            cut = " (longer texts are cut; the Data tab's inspector shows where)" if option != "generation_max_new_tokens" else ""
            raise ConfigError(
                f"{option} {length} is longer than {m.model_name_or_path} can read: {'its decoder' if part else 'it'} has positions for {limit} tokens. "
                f"Set {option} to {limit} or less{cut}."
            )


def rotary_reach(model_config) -> tuple[int, str | None] | None:
    """How many positions a rotary (RoPE) model learned to read, and how its config reaches them: (max_position_embeddings,
    None) without rope scaling; with it (transformers 5's `rope_parameters`, config.json's `rope_scaling`: linear, dynamic,
    YaRN, Llama 3's, LongRoPE), the longer of max_position_embeddings and the pretrained length times the scaling factor,
    and a phrase that names the scaling. None for a model without rotary positions (a learned table: `position_limit`
    refuses past it; T5's relative buckets) or without max_position_embeddings."""
    limit = getattr(model_config, "max_position_embeddings", None)
    rope = getattr(model_config, "rope_parameters", None) or getattr(model_config, "rope_scaling", None)
    if not isinstance(limit, int) or not (rope or getattr(model_config, "rope_theta", None)):
        return None
    rope = rope if isinstance(rope, dict) else {}
    nested = [value for value in rope.values() if isinstance(value, dict)]  # per layer type (Gemma 3, ModernBERT)
    reach, scaling = limit, None
    for entry in nested or [rope]:
        kind = entry.get("rope_type", entry.get("type", "default"))
        factor = entry.get("factor")
        if kind == "default" or not isinstance(factor, (int, float)) or factor <= 1:
            continue
        pretrained = entry.get("original_max_position_embeddings") or getattr(model_config, "original_max_position_embeddings", None) or limit
        extended = int(pretrained * factor)
        if extended >= reach:
            reach, scaling = max(reach, extended), f"{kind} rope scaling, factor {factor:g} on {pretrained} positions"
        elif scaling is None:
            scaling = f"{kind} rope scaling"
    return reach, scaling


def rotary_length_warning(config, model_config) -> str | None:
    """max_seq_length past the positions a rotary model learned (`rotary_reach`), or None. Nothing refuses it (the
    rotation goes on at any position), but the model never saw such positions and its quality falls, silently."""
    reach = rotary_reach(model_config) if model_config is not None else None
    m = config.model
    if reach is None or m.max_seq_length <= reach[0]:
        return None
    limit, scaling = reach
    learned = f"its config.json's {scaling} extends it to {limit} positions" if scaling else f"it was trained on {limit} positions (max_position_embeddings) and its config.json has no rope scaling to extend them"
    return (
        f"max_seq_length {m.max_seq_length} is longer than {m.model_name_or_path} reads well: {learned}. Its rotary positions "
        f"go on past that without an error, but it never learned them and quality falls. Set max_seq_length to {limit} or less"
        + ("." if scaling else ", or choose a model with a longer context (or one whose config.json sets rope_scaling).")
    )


def check_model_kind(config, *, token: str | None = None) -> None:
    """Refuse, before a run exists, a model the task cannot train (a decoder-only or encoder-only model for
    seq2seq, BART for NER): its config.json says so, and otherwise the training process found it only when it
    loaded the weights, and failed. The task's AUTO_MODEL class must build it, and its `fits_model` accept it."""
    from . import get_task  # noqa: PLC0415
    from ..errors import ModelLoadError  # noqa: PLC0415

    m = config.model
    model_config = _model_config(m.task, m.model_name_or_path, m.model_revision, m.trust_remote_code, _config_stamp(m.model_name_or_path), token, reader())
    task = get_task(m.task)
    if not (builds(task.AUTO_MODEL, model_config) and task.fits_model(model_config)):
        raise ModelLoadError(wrong_kind_message(config))


def builds(auto_class: str, model_config) -> bool:
    """Whether transformers' `auto_class` (its name) has a model for this config: its own, or the model's
    remote code (as `from_pretrained` decides)."""
    import transformers  # noqa: PLC0415

    auto = getattr(transformers, auto_class)
    return type(model_config) in auto._model_mapping or auto_class in (getattr(model_config, "auto_map", None) or {})


@functools.lru_cache(maxsize=32)
def _model_config(task: str, name: str, revision: str | None, trust_remote_code: bool, stamp: float, token: str | None, reader: str = ""):
    """The model's config.json, once per model (`stamp`: see `_declared_limit`) and reader (`hub_reads.reader`: a visitor's
    private model is theirs alone); `task` for what to do offline."""
    import transformers  # noqa: PLC0415

    from ..config import RunConfig  # noqa: PLC0415
    from ..tokenization import load_failure_message  # noqa: PLC0415

    token = token or token_for(name)
    location = config_location(name, revision=revision, token=token)
    try:
        return transformers.AutoConfig.from_pretrained(location, revision=revision, trust_remote_code=trust_remote_code, token=token, **model_options(location, token))
    except Exception as error:  # noqa: BLE001 - any failure means "cannot read this model's config"
        config = RunConfig.from_dict({"task": task, "model_name_or_path": name})
        raise ModelLoadError(load_failure_message("model", name, error, offline_hint=offline_hint(config))) from error


@functools.lru_cache(maxsize=32)
def _declared_limit(name: str, revision: str | None, trust_remote_code: bool, stamp: float, token: str | None, reader: str = "", part: str | None = None) -> int | None:
    """`position_limit` of a model built on the meta device from its config.json, once per model (`stamp`:
    a local config.json's mtime, so an edited folder is read again): the studio checks at every Start,
    Estimate and inspection."""
    from ..config import RunConfig  # noqa: PLC0415

    config = RunConfig.from_dict({"model_name_or_path": name, "model_revision": revision, "trust_remote_code": trust_remote_code})
    return position_limit(meta_model(config, token=token), part=part)


def _config_stamp(name: str) -> float:
    path = Path(name) / "config.json"
    return path.stat().st_mtime if path.is_file() else 0.0


def load_with_new_head(auto_class, config, label_names: list[str], *, token: str | None = None):
    """The pretrained model with a head sized for `label_names` (new, or the checkpoint's own when it was
    trained for as many labels, its rows in this run's label order: `_in_label_order`), recording which
    weights the checkpoint lacked or had in another shape, for `with_head_learning_rate`."""
    saved = _saved_labels(config, token=token)
    model, info = load_pretrained(
        auto_class,
        config,
        token=token,
        output_loading_info=True,
        num_labels=len(label_names),
        id2label=dict(enumerate(label_names)),
        label2id={label: i for i, label in enumerate(label_names)},
        ignore_mismatched_sizes=True,  # a checkpoint fine-tuned on other labels gets a new head
    )
    new = set(info.get("missing_keys") or ()) | {mismatched[0] for mismatched in info.get("mismatched_keys") or ()}
    setattr(model, NEW_PARAMETERS, sorted(new))
    if not new:
        _in_label_order(model, saved, label_names)
    return model


def _saved_labels(config, *, token: str | None = None) -> dict[int, str]:
    """The checkpoint's own id2label ({} when its config cannot be read: loading the model says why)."""
    from transformers import AutoConfig  # noqa: PLC0415

    m = config.model
    token = token or token_for(m.model_name_or_path)
    try:
        saved = AutoConfig.from_pretrained(m.model_name_or_path, revision=m.model_revision, trust_remote_code=m.trust_remote_code, token=token, **model_options(m.model_name_or_path, token))
    except Exception:  # noqa: BLE001
        return {}
    return {int(i): str(name) for i, name in (getattr(saved, "id2label", None) or {}).items()}


def _in_label_order(model, saved: dict[int, str], label_names: list[str]) -> None:
    """A checkpoint fine-tuned on these same labels in another order (a NER model whose tags its own data
    listed otherwise) keeps each label's trained row of its head, moved to the label's index here; kept in
    place, each label started from another's row, the model's predictions permuted."""
    import torch  # noqa: PLC0415

    index = {name: i for i, name in saved.items()}
    if len(index) != len(saved) or set(index) != set(label_names) or [index[n] for n in label_names] == list(range(len(label_names))):
        return
    rows = torch.tensor([index[name] for name in label_names])
    prefix = f"{model.base_model_prefix}."
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if not name.startswith(prefix) and parameter.shape[:1] == (len(label_names),):  # the head's output layer
                parameter.copy_(parameter[rows.to(parameter.device)])


MODEL_KINDS = {
    "text-classification": "an encoder such as BERT, RoBERTa or MiniLM",
    "token-classification": "an encoder such as BERT, RoBERTa or MiniLM",
    "causal-lm": "a decoder-only language model such as SmolLM2, Qwen, Llama or GPT-2",
    "seq2seq": "an encoder-decoder model such as T5, FLAN-T5 or BART",
}


def wrong_kind_message(config) -> str:
    return (
        f"'{config.model.model_name_or_path}' is not the kind of model the {config.model.task} task trains: it needs "
        f"{MODEL_KINDS.get(config.model.task, 'another architecture')}. Choose such a model, or the task that fits this one."
    )


def count_parameters(model) -> dict[str, Any]:
    """Trainable and total parameters: what LoRA saves, shown before training starts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable_parameters": int(trainable), "total_parameters": int(total), "trainable_share": trainable / total if total else 0.0}


def cached_map(splits, function, *, key: str | None, cache_dir: str | Path | None, remove_columns: bool = False, with_indices: bool = False, desc: str = "Tokenizing"):
    """`Dataset.map(function, batched=True)` on every split, cached on disk under `key` when a cache folder is given
    (`with_indices`: `function` also gets the batch's row numbers in the split)."""
    out = {}
    for role, split in splits.items():
        cache_file = None
        if cache_dir is not None and key is not None:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
            cache_file = str(Path(cache_dir) / f"{key}-{role}.arrow")
        out[role] = split.map(
            function,
            batched=True,
            with_indices=with_indices,
            batch_size=1000,
            cache_file_name=cache_file,
            load_from_cache_file=cache_file is not None,
            remove_columns=split.column_names if remove_columns else None,
            desc=f"{desc} {role}",
            new_fingerprint=f"{key}-{role}" if key else None,
        )
    return out


def cache_key(*parts: Any) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def length_settings(config) -> tuple:
    """The options besides the tokenizer that change an example's measured lengths (`measure_lengths`): none by
    default; seq2seq's source prefix. With the task and the tokenizer, they key a memo of measurements."""
    return ()


def measured_statistics(splits, tokenizer, config, *, columns: Sequence[str], measure, summarize=None, memo: dict | None = None, limit: int = 200_000) -> dict[str, dict[str, Any]]:
    """Each split's length statistics, `summarize(measurements, config)` (by default `length_summary` of one token
    count an example against max_seq_length), from its examples' measurements,
    `measure({column: values}, tokenizer, config)`: per example, counts that do not depend on max_seq_length,
    from the example's `columns` alone. `memo` (row digest -> measurement, for one tokenizer and `length_settings`)
    keeps them: an example already measured (in another split, at another seed or max_seq_length) is not measured
    again; past `limit` entries it starts afresh, so a big dataset never holds more than that in memory."""
    stats = {}
    for role, split in splits.items():
        values = {column: split[column][:] for column in columns if column in split.column_names}
        if memo is None:
            measured = list(measure(values, tokenizer, config))
        else:
            keys = [hashlib.blake2b(repr(row).encode("utf-8", "backslashreplace"), digest_size=16).digest() for row in zip(*values.values())]
            known = {key: memo.get(key) for key in dict.fromkeys(keys)}
            first: dict[bytes, int] = {}
            for i, key in enumerate(keys):
                if known[key] is None:
                    first.setdefault(key, i)
            missing = list(first.values())  # each text once, where it repeats
            if missing:
                new = measure({column: [column_values[i] for i in missing] for column, column_values in values.items()}, tokenizer, config)
                if len(memo) + len(missing) > limit:
                    memo.clear()
                for n, (i, measurement) in enumerate(zip(missing, new)):
                    known[keys[i]] = measurement
                    if n < limit:
                        memo[keys[i]] = measurement
            measured = [known[key] for key in keys]
        stats[role] = summarize(measured, config) if summarize else length_summary(measured, config.model.max_seq_length)
    return stats


def length_summary(lengths: list[int], max_length: int) -> dict[str, Any]:
    """A split's length statistics (token_stats.json, the Data tab's histogram) for any list of token counts."""
    array = np.asarray(lengths, dtype=np.int64)
    return {
        "count": int(array.size),
        "mean": float(array.mean()) if array.size else 0.0,
        "median": float(np.median(array)) if array.size else 0.0,
        "p95": float(np.percentile(array, 95)) if array.size else 0.0,
        "max": int(array.max()) if array.size else 0,
        "truncated": int((array > max_length).sum()),
        "truncated_share": float((array > max_length).mean()) if array.size else 0.0,
        "lengths": array.tolist(),
    }


def device() -> str:
    import torch  # noqa: PLC0415

    return "cuda" if torch.cuda.is_available() else "cpu"
