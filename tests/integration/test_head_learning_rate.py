"""The new classification head trains at head_learning_rate, the pretrained weights at learning_rate."""

from __future__ import annotations

import json

import pytest
from transformers import TrainerCallback

from finetuner.card import build_card
from finetuner.config import RunConfig
from finetuner.runs import COMPLETED, STOPPED, RunStore
from finetuner.train import run_training
from support import stop_at_step

HEAD_RATE, BODY_RATE = 2e-2, 1e-3


class RecordRates(TrainerCallback):
    """The starting learning rate of each trained weight, read from the optimizer the Trainer built."""

    def __init__(self):
        self.rates: dict[str, float] = {}
        self.groups = 0

    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        self.groups = len(optimizer.param_groups)
        starting = {id(p): group["initial_lr"] for group in optimizer.param_groups for p in group["params"]}
        self.rates = {name: starting[id(p)] for name, p in model.named_parameters() if p.requires_grad}


def config(model_dir, data, **overrides) -> RunConfig:
    values = {"model_name_or_path": str(model_dir), "train_file": str(data), "max_seq_length": 32, "per_device_train_batch_size": 8, "warmup_steps": 0,
              "logging_steps": 1, "learning_rate": BODY_RATE, "head_learning_rate": HEAD_RATE, "eval_strategy": "no", **overrides}
    return RunConfig.from_dict(values)


@pytest.fixture
def three_labels(tmp_path, sentiment_frame):
    """The tiny model's checkpoint has a head for 2 labels: 3 labels give it a new one."""
    frame = sentiment_frame.copy()
    frame.loc[frame.index % 3 == 0, "label"] = "neutral"
    path = tmp_path / "three.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_new_head_trains_at_its_own_rate_and_a_stopped_run_resumes(tmp_path, tiny_model_dir, three_labels):
    run = RunStore(tmp_path / "runs").create(config(tiny_model_dir, three_labels, max_steps=6))
    assert run_training(run, callbacks=[stop_at_step(run, 3)]) == STOPPED
    rates = RecordRates()
    assert run_training(run, resume=True, callbacks=[rates]) == COMPLETED, run.status()  # the optimizer state has the head's group
    head = {name: rate for name, rate in rates.rates.items() if name.startswith("classifier.")}
    assert head == {"classifier.weight": HEAD_RATE, "classifier.bias": HEAD_RATE}
    assert {rate for name, rate in rates.rates.items() if name not in head} == {BODY_RATE}
    logged = [e["metrics"]["learning_rate"] for e in run.events() if e["type"] == "log" and "learning_rate" in e["metrics"]]
    assert logged and max(logged) <= BODY_RATE, "the learning rate shown is the pretrained weights' one"
    card = build_card(run, images=False).text
    assert f"| learning_rate | {BODY_RATE} |" in card, card
    assert f"| head_learning_rate | {HEAD_RATE} for the weights new to the checkpoint: classifier.bias, classifier.weight |" in card, "the model card says both, and which weights"
    info = json.loads((run.path / "model_info.json").read_text())
    (run.path / "model_info.json").write_text(json.dumps({k: v for k, v in info.items() if k != "new_weights"}))  # as runs trained before it was written
    assert f"| head_learning_rate | {HEAD_RATE} (weights new to the checkpoint) |" in build_card(run, images=False).text


def test_a_head_already_trained_for_these_labels_trains_at_the_learning_rate(tmp_path, tiny_model_dir, sentiment_csv):
    rates = RecordRates()
    run = RunStore(tmp_path / "runs").create(config(tiny_model_dir, sentiment_csv, max_steps=1))
    assert run_training(run, callbacks=[rates]) == COMPLETED, run.status()
    assert rates.rates and set(rates.rates.values()) == {BODY_RATE}
    card = build_card(run, images=False).text
    assert f"| head_learning_rate | {HEAD_RATE}, unused: the checkpoint already had a head for these labels |" in card, "the card does not claim a rate nothing trained at"


def test_a_head_at_the_learning_rate_keeps_the_trainers_own_optimizer_groups(tmp_path, tiny_model_dir, three_labels):
    """As before head_learning_rate existed: a run frozen then resumes from its optimizer state."""
    rates = RecordRates()
    run = RunStore(tmp_path / "runs").create(config(tiny_model_dir, three_labels, max_steps=1, head_learning_rate=BODY_RATE))
    assert run_training(run, callbacks=[rates]) == COMPLETED, run.status()
    assert rates.groups == 2 and set(rates.rates.values()) == {BODY_RATE}, "with and without weight decay, nothing more"
