"""Written predictions stay beside their own texts: evaluation batches are ordered by length (transformers 5
length-groups them, and finetuner predicts classification and NER splits shortest first), the files are not."""

from __future__ import annotations

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
