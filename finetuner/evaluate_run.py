"""Evaluate a finished run's model on another labelled file or Hub split, into the run's `eval/extra/` folder,
or into another folder where the run's cannot be written (a read-only share of past runs)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from .config import DataConfig
from .data import load_raw, read_table
from .errors import ColumnNotFoundError, DataError, RunError
from .runs import COMPLETED, Run, read_json, write_json_atomic


def _other_data(task, frame, data_report: dict[str, Any], config, source: str):
    """Other data for the run's model, read by its task as the run's own splits were. A missing column's
    message from that code names the option that sets the column for training, which evaluate does not
    have: here it says to rename the data's columns to those the run trained on."""
    try:
        return task.evaluation_data(frame, data_report, config)
    except ColumnNotFoundError:
        trained = list(dict.fromkeys(c for c in [*(data_report.get("text_columns") or []), data_report.get("label_column")] if c))
        wanted = f"the run's: {', '.join(trained)}" if trained else "those of the run's training data"
        raise ColumnNotFoundError(
            f"{source} lacks the columns this run was trained on; its columns are: {', '.join(map(str, frame.columns))}. "
            f"Rename its columns to {wanted}, and evaluate again."
        ) from None


def _free_name(out_dir: Path, slug: str, source: str) -> str:
    """The name an evaluation's files take: `slug`, unless other data already holds it (two files both named
    eval.csv, from two folders), then `slug-2`, `slug-3`...; the same data again takes its own name back.
    Which data each name holds is kept in `sources.json`: the second eval.csv overwrote the first's results."""
    sources = read_json(out_dir / "sources.json", default={}) or {}
    name, number = slug, 1
    while (out_dir / f"report_{name}.json").is_file() and sources.get(name) != source:
        number += 1
        name = f"{slug}-{number}"
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / "sources.json", {**sources, name: source})
    return name


def saves_into_run(run: Run) -> bool:
    """Whether an evaluation's files can go into the run's folder: not on a read-only share of past runs (a
    mounted copy, a folder of another user), whose runs are still evaluated, into a folder the caller gives."""
    folders = (run.path, run.eval_dir, run.eval_dir / "extra")
    return all(os.access(folder, os.W_OK | os.X_OK) for folder in folders if folder.is_dir())


def check_evaluable(run: Run, *, into_run: bool) -> None:
    """Refuse a run that cannot be evaluated (not completed; saved `into_run` while its folder is read-only), before
    anything is made or loaded for it: the CLI checks this before it makes --output_dir."""
    if run.state != COMPLETED:
        raise RunError(f"Run {run.id} is {run.state}; only a completed run can be evaluated.")
    if into_run and not saves_into_run(run):
        raise RunError(
            f"Run {run.id}'s folder {run.path} is read-only, so this evaluation cannot be saved into it. "
            "Give a folder you can write for its report and predictions: evaluate's --output_dir (out_dir in Python)."
        )


def evaluate_run(
    run: Run,
    *,
    test_file: str | None = None,
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    split: str = "test",
    token: str | None = None,
    out_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Metrics, report and predictions of the run's model on the given data (default: the run's own test split).

    Works for every task through its hooks. Returns {"metrics": Trainer-style dict, "out_dir": folder with
    report_<name>.json and predictions_<name>.csv (generations_<name>.csv for generative tasks), "name": <name>,
    "rows_left_out": rows of the other data that had nothing to score against (also the report's `rows_left_out`)}.
    The folder is the run's `eval/extra/`, or `out_dir` where given: the run's folder is then left as it was
    (no evaluation event either). A run whose folder cannot be written needs `out_dir`: it is refused before
    anything loads, rather than failing on its first write.
    """
    from .inference import MODEL_LOAD_LOCK  # noqa: PLC0415 - loads torch
    from .tasks import get_task  # noqa: PLC0415

    check_evaluable(run, into_run=out_dir is None)
    config = run.config()
    task = get_task(config.model.task)
    data_report = read_json(run.path / "data_report.json", default={}) or {}
    label_names = list(data_report.get("label_names") or [])
    if test_file:
        # Named by the file; test.csv's results as "test-file", or they would overwrite those of the run's own test split.
        name = Path(test_file).stem + ("-file" if Path(test_file).stem in ("train", "validation", "test") else "")
        frame = read_table(test_file)
        dataset = _other_data(task, frame, data_report, config, f"The file '{Path(test_file).name}'")
        source = "file " + hashlib.sha256(Path(test_file).read_bytes()).hexdigest()[:16]
    elif dataset_name:
        frame = load_raw(DataConfig(dataset_name=dataset_name, dataset_config_name=dataset_config_name, train_split_name=split))["train"]
        dataset, name = _other_data(task, frame, data_report, config, f"The split '{split}' of {dataset_name}"), f"{dataset_name}-{split}"
        source = f"hub {dataset_name} {dataset_config_name or ''} {split}"
    else:
        prepared = task.prepare_data(config)
        name = "test" if "test" in prepared.splits else "validation"
        dataset, frame = prepared.splits[name], None  # its rows left out are in the run's data report
        source = f"own {name}"
    left_out = len(frame) - len(dataset) if frame is not None else 0
    if len(dataset) == 0:
        raise DataError(f"The evaluation data has no labelled rows{f': none of its {left_out} row(s) has a label or reference (tags, summary, answer)' if left_out else ''}.")
    # The saved model is complete (a LoRA run's adapters are merged into it): evaluate it as it is.
    model_config = config.replace(model_name_or_path=str(run.model_dir), tokenizer_name=None, model_revision="main", use_lora=False)
    with MODEL_LOAD_LOCK:  # never beside another load in this process (see finetuner.inference)
        tokenizer = task.load_trained_tokenizer(run.model_dir, token=token)  # as saved, as prediction reads it
        model = task.build_model(model_config, label_names, token=token)
    features = task.tokenize({name: dataset}, tokenizer, model_config, label_names=label_names)[name]
    into_run = out_dir is None
    out_dir = run.eval_dir / "extra" if into_run else Path(out_dir)
    slug = _free_name(out_dir, re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "data", source)
    trainer = task.build_trainer(
        model_config,
        model=model,
        tokenizer=tokenizer,
        label_names=label_names,
        train_dataset=features,
        eval_dataset=None,
        output_dir=run.checkpoints_dir if into_run else out_dir,
        callbacks=[],
        for_training=False,
    )
    metrics = task.evaluate_split(trainer, features, split=slug, label_names=label_names, out_dir=out_dir, prefix="test", config=model_config)
    metrics = {k: v for k, v in metrics.items() if not k.endswith("_model_preparation_time")}  # the Trainer's, for a model it just loaded
    if left_out:
        report_file = out_dir / f"report_{slug}.json"
        write_json_atomic(report_file, {**(read_json(report_file, default={}) or {}), "rows_left_out": left_out})
    write_json_atomic(out_dir / f"results_{slug}.json", metrics)
    if into_run:
        run.append_event("evaluation", name=slug, metrics=metrics)
    return {"metrics": metrics, "out_dir": str(out_dir), "name": slug, "rows_left_out": left_out}
