"""The bundled pretrained model on real data (SST-2 from ../shared/data): the numbers must be honest."""

from __future__ import annotations

import pandas as pd
import pytest

from support import require_shared_data
from finetuner.config import RunConfig
from finetuner.runs import COMPLETED, RunStore
from finetuner.train import run_training


def test_bundled_model_learns_sst2_and_reports_consistent_metrics(tmp_path):
    sst2 = require_shared_data("sst2")
    config = RunConfig.from_dict(
        {
            "train_file": str(sst2 / "train.csv"),
            "validation_file": str(sst2 / "validation.csv"),
            "test_split_ratio": 0,
            "max_train_samples": 800,
            "max_seq_length": 64,
            "max_eval_samples": 200,
            "num_train_epochs": 2,
        }
    )
    run = RunStore(tmp_path / "runs").create(config)
    assert run_training(run) == COMPLETED, run.status()
    metrics = run.metrics("validation")
    predictions = pd.read_csv(run.eval_dir / "predictions_validation.csv")
    assert len(predictions) == 200
    assert metrics["eval_accuracy"] == pytest.approx(predictions["correct"].mean())
    assert metrics["eval_accuracy"] > 0.7, "a pretrained encoder beats chance clearly after 2 short epochs"
    baselines = __import__("json").loads((run.eval_dir / "baselines.json").read_text())
    assert metrics["eval_accuracy"] > baselines["majority"]["validation"]["accuracy"]
