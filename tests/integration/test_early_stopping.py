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


def test_a_stopped_and_resumed_run_stops_early_where_it_would_have(tmp_path, tiny_model_dir, sentiment_csv):
    """The count of evaluations without improvement is part of the run: stopped in the third epoch after one
    such evaluation, the resumed run ends at the third, as it would have without the stop (not at the fourth)."""
    from finetuner.runs import STOPPED
    from support import stop_at_step

    config = RunConfig.from_dict({
        "model_name_or_path": str(tiny_model_dir), "train_file": str(sentiment_csv), "max_seq_length": 32, "per_device_train_batch_size": 8,
        "learning_rate": 1e-12, "warmup_steps": 0, "num_train_epochs": EPOCHS, "eval_strategy": "epoch", "early_stopping_patience": 2,
    })
    run = RunStore(tmp_path / "runs").create(config)
    assert run_training(run, callbacks=[stop_at_step(run, 29)]) == STOPPED  # 12 steps an epoch: in the third
    assert [e["epoch"] for e in run.events() if e["type"] == "eval"] == [1.0, 2.0]
    assert run_training(run, resume=True) == COMPLETED, run.status()
    assert [e["epoch"] for e in run.events() if e["type"] == "eval"] == [1.0, 2.0, 3.0]
    assert run.status()["step"] == 36 and "stopped early at step 36" in run.status()["message"].lower()
