"""Early stopping ends a run whose validation metric stops improving, well before its last planned step.

The setup makes "stops improving" certain rather than likely: a learning rate so small (1e-12) that the
weights do not move, so every evaluation scores exactly what the first did, and with patience 1 the
second evaluation (no improvement) ends training. Ten epochs are planned; two are run.
"""

from __future__ import annotations

import pytest

from finetuner.config import RunConfig
from finetuner.follow import RunFollower
from finetuner.runs import COMPLETED, RunStore
from finetuner.train import run_training

EPOCHS = 10


@pytest.fixture(scope="module")
def stopped_early(tmp_path_factory, tiny_model_dir, sentiment_frame):
    folder = tmp_path_factory.mktemp("early")
    data = folder / "reviews.csv"
    sentiment_frame.to_csv(data, index=False)
    config = RunConfig.from_dict({
        "model_name_or_path": str(tiny_model_dir), "train_file": str(data), "max_seq_length": 32, "per_device_train_batch_size": 8,
        "learning_rate": 1e-12, "warmup_steps": 0, "num_train_epochs": EPOCHS, "eval_strategy": "epoch", "early_stopping_patience": 1,
    })
    run = RunStore(folder / "runs").create(config)
    assert run_training(run) == COMPLETED, run.status()
    return run


def test_training_ends_at_the_first_evaluation_without_improvement(stopped_early):
    events = stopped_early.events()
    planned = next(e for e in events if e["type"] == "train_begin")["max_steps"]
    evaluations = [e for e in events if e["type"] == "eval"]
    assert [e["epoch"] for e in evaluations] == [1.0, 2.0], "the second evaluation, no better than the first, is the last"
    assert evaluations[0]["metrics"]["eval_f1_macro"] == evaluations[1]["metrics"]["eval_f1_macro"]
    assert stopped_early.status()["step"] == planned * 2 // EPOCHS, "two of the ten planned epochs were trained"
    assert (stopped_early.model_dir / "config.json").is_file(), "the stopped run still saves its model and completes"


def test_the_run_says_it_stopped_early(stopped_early):
    snap = RunFollower(stopped_early).poll()  # what the studio shows of the finished run
    assert snap["state"] == "completed"
    assert "stopped early" in (snap["message"] or "").lower()
    assert any("stopped early" in line.lower() for line in snap["log"])
