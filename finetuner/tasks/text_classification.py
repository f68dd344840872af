"""Text classification (single texts or sentence pairs) with a sequence-classification head.

What the generic training loop (`finetuner.train`) asks of a task: its data, its model, its collator,
its Trainer metrics, and how to evaluate a split into files a user can read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import data as data_module
from ..config import RunConfig
from ..errors import ModelLoadError
from ..evaluation import classification_metrics, classification_report, predictions_frame, softmax
from ..tokenization import load_failure_message

PIPELINE_TAG = "text-classification"


def prepare_data(config: RunConfig) -> data_module.PreparedData:
    return data_module.prepare(config.data, seed=config.training.seed)


def build_model(config: RunConfig, label_names: list[str], *, token: str | None = None):
    """The pretrained encoder with a fresh classification head sized for these labels."""
    from transformers import AutoModelForSequenceClassification  # noqa: PLC0415 - heavy

    name = config.model.model_name_or_path
    try:
        return AutoModelForSequenceClassification.from_pretrained(
            name,
            num_labels=len(label_names),
            id2label=dict(enumerate(label_names)),
            label2id={label: i for i, label in enumerate(label_names)},
            ignore_mismatched_sizes=True,  # a checkpoint fine-tuned on other labels gets a new head
            revision=config.model.model_revision,
            trust_remote_code=config.model.trust_remote_code,
            token=token,
        )
    except Exception as error:  # OSError, ValueError, HTTP errors: all mean "cannot load this"
        raise ModelLoadError(load_failure_message("model", name, error)) from error


def data_collator(tokenizer):
    """Dynamic padding: each batch is padded to its own longest example, not to max_seq_length."""
    from transformers import DataCollatorWithPadding  # noqa: PLC0415 - heavy

    return DataCollatorWithPadding(tokenizer)


def compute_metrics_fn(label_names: list[str]):
    """Scalar metrics for the Trainer's evaluations during training (eval_accuracy, eval_f1_macro, ...)."""

    def compute(prediction) -> dict[str, float]:
        return classification_metrics(prediction.label_ids, softmax(prediction.predictions), label_names)

    return compute


def evaluate_split(trainer, dataset, *, split: str, label_names: list[str], out_dir: Path, prefix: str) -> dict[str, Any]:
    """Predict a split; write its full report and predictions CSV; return Trainer-style metrics.

    Files: `report_<split>.json` (per-class scores, confusion matrix, ROC/PR curves) and
    `predictions_<split>.csv` (text, label, prediction, confidence, one probability per class).
    """
    output = trainer.predict(dataset, metric_key_prefix=prefix)
    probabilities = softmax(output.predictions)
    labels = output.label_ids
    out_dir.mkdir(parents=True, exist_ok=True)
    report = classification_report(labels, probabilities, label_names)
    report["loss"] = output.metrics.get(f"{prefix}_loss")
    (out_dir / f"report_{split}.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    pairs = list(dataset["text_pair"]) if "text_pair" in dataset.column_names else None
    frame = predictions_frame(list(dataset["text"]), labels, probabilities, label_names, text_pairs=pairs)
    frame.to_csv(out_dir / f"predictions_{split}.csv", index=False)
    return output.metrics
