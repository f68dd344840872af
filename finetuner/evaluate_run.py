"""Evaluate a finished run's model on another labelled file or Hub split, into the run's `eval/` folder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .config import DataConfig
from .data import load_raw, prepare_for_model, read_table
from .errors import DataError, RunError
from .runs import COMPLETED, Run, read_json, write_json_atomic


def evaluate_run(run: Run, *, test_file: str | None = None, dataset_name: str | None = None, dataset_config_name: str | None = None, split: str = "test", token: str | None = None) -> dict[str, Any]:
    """Metrics, report and predictions of the run's model on the given data (default: the run's own test split).

    Returns {"metrics": Trainer-style dict, "out_dir": folder with report_<name>.json and predictions_<name>.csv}.
    """
    from transformers import Trainer, TrainingArguments  # noqa: PLC0415 - heavy

    from .tasks import get_task  # noqa: PLC0415
    from .tokenization import encode_batch, load_tokenizer  # noqa: PLC0415

    if run.state != COMPLETED:
        raise RunError(f"Run {run.id} is {run.state}; only a completed run can be evaluated.")
    config = run.config()
    task = get_task(config.model.task)
    data_report = read_json(run.path / "data_report.json", default={}) or {}
    label_names = data_report["label_names"]
    if test_file:
        frame, name = read_table(test_file), Path(test_file).stem
    elif dataset_name:
        frame = load_raw(DataConfig(dataset_name=dataset_name, dataset_config_name=dataset_config_name, train_split_name=split))["train"]
        name = f"{dataset_name}-{split}"
    else:
        prepared = task.prepare_data(config)
        role = "test" if "test" in prepared.splits else "validation"
        frame, name = prepared.splits[role].to_pandas(), role
        frame["label"] = [label_names[i] for i in frame["label"]]
        data_report = {"text_columns": ["text", "text_pair"][: 1 + ("text_pair" in frame)], "label_column": "label"}
    dataset = prepare_for_model(frame, text_columns=data_report.get("text_columns"), label_column=data_report.get("label_column"), label_names=label_names)
    if len(dataset) == 0:
        raise DataError("The evaluation data has no labelled rows.")
    tokenizer = load_tokenizer(str(run.model_dir), token=token)
    tokenized = dataset.map(lambda b: encode_batch(tokenizer, b, config.model.max_seq_length), batched=True)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "data"
    out_dir = run.eval_dir / "extra"
    trainer = Trainer(
        model=task.build_model(config.replace(model_name_or_path=str(run.model_dir)), label_names, token=token),
        args=TrainingArguments(output_dir=str(run.path / "checkpoints"), per_device_eval_batch_size=config.training.per_device_eval_batch_size, report_to="none"),
        processing_class=tokenizer,
        data_collator=task.data_collator(tokenizer),
        compute_metrics=task.compute_metrics_fn(label_names),
    )
    metrics = task.evaluate_split(trainer, tokenized, split=slug, label_names=label_names, out_dir=out_dir, prefix="test")
    write_json_atomic(out_dir / f"results_{slug}.json", metrics)
    run.append_event("evaluation", name=slug, metrics=metrics)
    return {"metrics": metrics, "out_dir": str(out_dir), "name": slug}
