"""Written predictions stay beside their own texts (transformers 5 length-groups evaluation batches)."""

from __future__ import annotations

import pandas as pd

from finetuner.config import RunConfig
from finetuner.runs import COMPLETED, RunStore
from finetuner.train import run_training


def test_classification_predictions_are_in_row_order(tmp_path, tiny_model_dir, sentiment_frame):
    data = tmp_path / "reviews.csv"
    sentiment_frame.to_csv(data, index=False)
    config = RunConfig.from_dict({"model_name_or_path": str(tiny_model_dir), "train_file": str(data), "max_seq_length": 32, "max_steps": 2, "eval_strategy": "no", "per_device_eval_batch_size": 4})
    run = RunStore(tmp_path / "runs").create(config)
    assert run_training(run) == COMPLETED, run.status()
    predictions = pd.read_csv(run.eval_dir / "predictions_test.csv")
    truth = dict(zip(sentiment_frame["text"], sentiment_frame["label"]))
    assert [truth[t] for t in predictions["text"]] == list(predictions["label"])
