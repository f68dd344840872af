"""Text classification (single texts or sentence pairs) with a sequence-classification head.

Implements the hooks of `finetuner.tasks.base`: data with string labels encoded to ids, the encoder with a
fresh head sized for the labels, dynamic padding, per-class reports and predictions, and TF-IDF baselines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import data as data_module
from ..config import RunConfig
from ..errors import DataError
from ..evaluation import classification_metrics, classification_report, predictions_frame, softmax
from ..runs import write_json_atomic
from .base import EVALUATION_ONLY, in_order, length_settings, load_with_new_head, measured_statistics, predict_shortest_first, shortest_first, with_head_learning_rate, before_training, check_tokenization, fits_model, load_trained_tokenizer, model_lengths, save_model  # noqa: F401 - the defaults are this task's hooks

PIPELINE_TAG = "text-classification"
AUTO_MODEL = "AutoModelForSequenceClassification"
MODEL_INPUTS = ["input_ids", "attention_mask", "token_type_ids", "label"]
# No option besides the model and max_seq_length changes a classified text's tokens (`tasks.base.CONSTANTS`).
TOKENIZATION_OPTIONS: tuple[str, ...] = ()
LENGTH_OPTIONS: tuple[str, ...] = ()


def prepare_data(config: RunConfig) -> data_module.PreparedData:
    return data_module.prepare(config.data, seed=config.training.seed)


def data_report(prepared: data_module.PreparedData) -> dict[str, Any]:
    return {**prepared.report.to_dict(), "label_names": prepared.label_names, "text_columns": prepared.text_columns, "label_column": prepared.label_column}


def evaluation_data(frame, data_report: dict[str, Any], config: RunConfig):
    """Another labelled file or split, encoded with the run's labels."""
    return data_module.prepare_for_model(frame, text_columns=data_report.get("text_columns"), label_column=data_report.get("label_column"), label_names=data_report["label_names"])


def tokenize(splits, tokenizer, config: RunConfig, *, label_names: list[str], fingerprint: str | None = None, cache_dir: Path | None = None):
    from ..tokenization import encode_batch, tokenize_splits  # noqa: PLC0415

    if fingerprint is None:  # evaluation of other data: no cache
        return {role: split.map(lambda b: encode_batch(tokenizer, b, config.model.max_seq_length), batched=True) for role, split in splits.items()}
    return tokenize_splits(splits, tokenizer, max_length=config.model.max_seq_length, fingerprint=fingerprint, cache_dir=cache_dir)


# The columns an example's token count comes from (`measure_lengths`): its text and, for pairs, the second text.
LENGTH_COLUMNS = ("text", "text_pair")


def measure_lengths(columns: dict[str, list], tokenizer, config: RunConfig) -> list[int]:
    """Each example's token count, untruncated, special tokens (and a pair's separator) included."""
    return [len(ids) for ids in tokenizer(columns["text"], columns.get("text_pair"), truncation=False, verbose=False)["input_ids"]]


def length_statistics(splits, tokenizer, config: RunConfig, *, memo: dict | None = None):
    """Token lengths per split (untruncated, special tokens included) and the share cut at max_seq_length;
    `memo`: see `base.measured_statistics`."""
    return measured_statistics(splits, tokenizer, config, columns=LENGTH_COLUMNS, measure=measure_lengths, memo=memo)


def inspect_example(tokenizer, example: dict[str, Any], config: RunConfig) -> dict[str, Any]:
    from ..tokenization import inspect_example as inspect  # noqa: PLC0415

    return inspect(tokenizer, example["text"], example.get("text_pair"), max_length=config.model.max_seq_length)


def load_tokenizer(config: RunConfig, *, token: str | None = None):
    """The model's fast tokenizer, with a separator between a pair's texts where it puts none (GPT-2's, Qwen2's)."""
    from ..tokenization import separate_pairs  # noqa: PLC0415
    from .base import load_tokenizer as load  # noqa: PLC0415

    tokenizer = load(config, token=token)
    separate_pairs(tokenizer)
    return tokenizer


def build_model(config: RunConfig, label_names: list[str], *, token: str | None = None):
    """The pretrained encoder with a fresh classification head sized for these labels."""
    from transformers import AutoModelForSequenceClassification  # noqa: PLC0415 - heavy

    return load_with_new_head(AutoModelForSequenceClassification, config, label_names, token=token)


def with_padding_id(model, tokenizer):
    """A decoder's classification head reads each text's last token, which it finds by the padding id: a model
    whose config has none (GPT-2's, whose tokenizer pads with its end-of-text token: `tokenization.load_tokenizer`)
    refuses batches of more than one text. It takes the tokenizer's, and the saved model keeps it."""
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model


def data_collator(tokenizer):
    """Dynamic padding: each batch is padded to its own longest example, not to max_seq_length."""
    from transformers import DataCollatorWithPadding  # noqa: PLC0415 - heavy

    return DataCollatorWithPadding(tokenizer)


def compute_metrics_fn(label_names: list[str]):
    """Scalar metrics for the Trainer's evaluations during training (eval_accuracy, eval_f1_macro, ...)."""

    def compute(prediction) -> dict[str, float]:
        return classification_metrics(prediction.label_ids, softmax(prediction.predictions), label_names)

    return compute


def build_trainer(config: RunConfig, *, model, tokenizer, label_names: list[str], train_dataset, eval_dataset, output_dir: Path, callbacks: list, for_training: bool = True):
    from transformers import Trainer  # noqa: PLC0415 - heavy

    from ..train import training_arguments  # noqa: PLC0415

    def inputs(split):
        return None if split is None else split.select_columns([c for c in MODEL_INPUTS if c in split.column_names])

    args = training_arguments(config, output_dir, **({} if for_training else EVALUATION_ONLY))
    with_padding_id(model, tokenizer)
    evaluating = eval_dataset is not None and args.eval_strategy != "no"
    return in_order(with_head_learning_rate(Trainer, config.training.head_learning_rate), keep_evaluations=True)(
        model=model,
        args=args,
        train_dataset=inputs(train_dataset),
        eval_dataset=shortest_first(inputs(eval_dataset)) if evaluating else None,  # its scores do not depend on row order
        processing_class=tokenizer,
        data_collator=data_collator(tokenizer),
        compute_metrics=compute_metrics_fn(label_names),
        callbacks=callbacks,
    )


def evaluate_split(trainer, dataset, *, split: str, label_names: list[str], out_dir: Path, prefix: str, config: RunConfig | None = None) -> dict[str, Any]:
    """Predict a split; write its full report and predictions CSV; return Trainer-style metrics.

    Files: `report_<split>.json` (per-class scores, confusion matrix, ROC/PR curves) and
    `predictions_<split>.csv` (text, label, prediction, confidence, one probability per class).
    """
    output = predict_shortest_first(trainer, dataset, prefix=prefix, evaluated_in_training=split == "validation")
    probabilities = softmax(output.predictions)
    labels = output.label_ids
    out_dir.mkdir(parents=True, exist_ok=True)
    report = classification_report(labels, probabilities, label_names)
    report["loss"] = output.metrics.get(f"{prefix}_loss")
    write_json_atomic(out_dir / f"report_{split}.json", report)  # the studio may read it while it is written
    pairs = list(dataset["text_pair"]) if "text_pair" in dataset.column_names else None
    frame = predictions_frame(list(dataset["text"]), labels, probabilities, label_names, text_pairs=pairs)
    frame.to_csv(out_dir / f"predictions_{split}.csv", index=False)
    return output.metrics


def after_training(trainer, splits, config: RunConfig, *, label_names: list[str], out_dir: Path) -> None:
    """Cheap baselines (majority class, TF-IDF + logistic regression) on the same splits: a floor to read the
    scores against, with what the fine-tuned model gains over each (read from the predictions written
    by `evaluate_split`, in the split's order)."""
    import pandas as pd  # noqa: PLC0415

    from ..evaluation import baselines  # noqa: PLC0415

    texts = {role: _joined_texts(split) for role, split in splits.items()}
    eval_sets = {role: (texts[role], list(splits[role]["label"])) for role in ("validation", "test") if role in texts}
    written = {role: out_dir / f"predictions_{role}.csv" for role in eval_sets}
    model_correct = {role: list(pd.read_csv(path, usecols=["correct"])["correct"]) for role, path in written.items() if path.is_file()}
    scores = baselines(texts["train"], list(splits["train"]["label"]), eval_sets, label_names, seed=config.training.seed, model_correct=model_correct)
    write_json_atomic(out_dir / "baselines.json", scores)


def _joined_texts(split) -> list[str]:
    if "text_pair" in split.column_names:
        return [f"{a} [SEP] {b}" for a, b in zip(split["text"], split["text_pair"])]
    return list(split["text"])


def prediction_inputs(frame, data_report: dict[str, Any], *, text_column: str | None = None, source: str = "the file") -> dict[str, Any]:
    """The texts of a file to predict on, and for a sentence-pair model the second texts: a model trained on
    pairs that sees one text alone answers another question. The columns are the named ones ("premise,hypothesis"),
    else the run's own text columns when the file has them, else detected as in training (`detect_columns`)."""
    trained = list(data_report.get("text_columns") or [])
    present = [c for c in trained if c in frame.columns]
    columns = data_module.chosen_columns(frame, text_column, source) or (present if present else data_module.detect_columns(frame)[0])
    if len(trained) == 2 and len(columns) != 2:
        has = f"only {columns[0]!r}" if columns else "neither"
        raise DataError(
            f"The model was trained on sentence pairs ({trained[0]!r} and {trained[1]!r}), but {source} has {has}; its columns are: "
            f"{', '.join(map(str, frame.columns))}. Add the second text column, or name both text columns separated by a comma ({trained[0]},{trained[1]})."
        )
    if len(trained) == 1:
        columns = columns[:1]  # a single-text model: the first of a detected pair
    if not columns:
        looked = [f"the run's text column {trained[0]!r}"] if trained else []
        raise data_module.no_column_error("text", source, frame, [*looked, f"a column named {', '.join(data_module.TEXT_NAMES)}", "a column of strings"])
    pairs = data_module.column_texts(frame, columns[1]) if len(columns) == 2 else None
    return {"texts": data_module.column_texts(frame, columns[0]), "text_pairs": pairs}


def load_predictor(model_path: str, *, max_length: int = 512, token: str | None = None):
    from ..inference import Predictor  # noqa: PLC0415

    return Predictor(model_path, max_length=max_length, token=token)
