"""Written predictions stay beside their own texts: evaluation batches are ordered by length (transformers 5
length-groups them, and finetuner predicts classification and NER splits shortest first), the files are not."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from finetuner.config import RunConfig
from finetuner.inference import Predictor
from finetuner.runs import COMPLETED, RunStore
from finetuner.train import run_training


def test_classification_predictions_are_in_row_order(tmp_path, tiny_model_dir, sentiment_frame):
    data = tmp_path / "reviews.csv"
    sentiment_frame.to_csv(data, index=False)
    config = RunConfig.from_dict({"model_name_or_path": str(tiny_model_dir), "train_file": str(data), "max_seq_length": 32, "max_steps": 8, "learning_rate": 3e-3, "eval_strategy": "no", "per_device_eval_batch_size": 4, "bf16": False})
    run = RunStore(tmp_path / "runs").create(config)
    assert run_training(run) == COMPLETED, run.status()
    predictions = pd.read_csv(run.eval_dir / "predictions_test.csv")
    truth = dict(zip(sentiment_frame["text"], sentiment_frame["label"]))
    assert [truth[t] for t in predictions["text"]] == list(predictions["label"])
    assert predictions["text"].str.len().is_monotonic_increasing is False, "the split must not already be sorted by length"
    reloaded = Predictor(str(run.model_dir)).predict(list(predictions["text"]))
    assert list(predictions["prob_positive"]) == pytest.approx([p["positive"] for p in reloaded], abs=1e-4), "each row's probabilities are its own text's"


@pytest.mark.parametrize("task", ["text-classification", "token-classification"])
def test_the_validation_report_reuses_the_final_weights_evaluation_during_training(task, tmp_path, tiny_model_dir, sentiment_frame, monkeypatch):
    """After training the validation split is not predicted again: its report and predictions are those of the
    evaluation during training of the weights the run ends with, here the best checkpoint, which is not the
    last (the 'best' eval loss is set to be the highest). They are what the saved model predicts."""
    from transformers import Trainer

    predicted = []
    original = Trainer.predict
    monkeypatch.setattr(Trainer, "predict", lambda self, *args, **kwargs: predicted.append(kwargs.get("metric_key_prefix")) or original(self, *args, **kwargs))
    if task == "token-classification":
        from task_fixtures import make_ner_records, write_jsonl

        data = write_jsonl(tmp_path / "ner.jsonl", make_ner_records(60))
    else:
        data = tmp_path / "reviews.csv"
        sentiment_frame.to_csv(data, index=False)
    config = RunConfig.from_dict({
        "task": task, "model_name_or_path": str(tiny_model_dir), "train_file": str(data), "max_seq_length": 32, "num_train_epochs": 3, "learning_rate": 3e-3, "per_device_train_batch_size": 8, "warmup_steps": 0,
        "per_device_eval_batch_size": 4, "metric_for_best_model": "loss", "extra_training_args": {"greater_is_better": True, "bf16": False},
    })
    run = RunStore(tmp_path / "runs").create(config)
    assert run_training(run) == COMPLETED, run.status()

    assert predicted == ["test"], "only the test split is predicted after training"
    evaluations = [e["metrics"] for e in run.events() if e["type"] == "eval"]
    assert len(evaluations) == 3
    best = max(evaluations, key=lambda m: m["eval_loss"])
    assert best is not evaluations[-1], "the final weights are an earlier checkpoint's"
    results = json.loads((run.eval_dir / "eval_results.json").read_text())
    scores = [key for key in best if key.startswith("eval_") and not key.endswith(("runtime", "_per_second"))]
    assert {key: results[key] for key in scores} == pytest.approx({key: best[key] for key in scores})
    if task == "text-classification":
        predictions = pd.read_csv(run.eval_dir / "predictions_validation.csv")
        reloaded = Predictor(str(run.model_dir)).predict(list(predictions["text"]))
        assert list(predictions["prob_positive"]) == pytest.approx([p["positive"] for p in reloaded], abs=1e-4)
