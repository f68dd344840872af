"""The launcher: the token a training process reads the Hub with, and a stop before training begins.

The training process reads the Hub with the same token as the studio that checked its data and model. On a Space the owner's HF_TOKEN secret is what reads the private or gated models and datasets the Space
needs (spaces_config/README.md); the studio's own process loads the data, the tokenizer and the estimate's
model with it. A training process started without it failed on that same model a few seconds after
Start. A visitor's own token, when the launch has one, is the one the process gets."""

from __future__ import annotations

import os
import signal
import sys

import pytest
from support import endless_data_loading

from finetuner import launcher
from finetuner.access import EXAMPLES_DIR
from finetuner.config import RunConfig
from finetuner.follow import follow
from finetuner.launcher import start_training, stop_notice, stop_training, wait_for_end
from finetuner.runs import ACTIVE_STATES, FINISHING, PREPARING, RUNNING, STOPPED, RunStore

SERVER_TOKEN = "hf_space_owner_read_token_000001"


@pytest.fixture
def shared_space(monkeypatch):
    monkeypatch.setenv("SYSTEM", "spaces")
    monkeypatch.setenv("SPACE_ID", "team/finetuner-studio")
    monkeypatch.setenv("HF_TOKEN", SERVER_TOKEN)
    monkeypatch.delenv("FINETUNER_ALLOW_SERVER_TOKEN", raising=False)
    # The process prints the token it would read the Hub with, instead of training.
    monkeypatch.setattr(launcher, "launch_command", lambda *a, **k: [sys.executable, "-c", "import os; print('token:', os.environ.get('HF_TOKEN'))"])


def token_seen(tmp_path, token=None) -> str:
    run = RunStore(tmp_path / "runs").create(RunConfig(), run_id="r")
    launcher._spawn(run, resume=False, token=token)
    assert wait_for_end(run, 60)
    return run.log_path.read_text()


def test_training_on_a_space_reads_with_the_spaces_token(shared_space, tmp_path):
    assert f"token: {SERVER_TOKEN}" in token_seen(tmp_path)


def test_a_visitors_own_token_comes_first(shared_space, tmp_path):
    assert "token: hf_visitor_token_0000000000000001" in token_seen(tmp_path, "hf_visitor_token_0000000000000001")


def test_a_run_stopped_while_it_prepares_stops_at_once(tmp_path, monkeypatch):
    """It used to honour the stop only after loading everything and training a first step to checkpoint."""
    endless_data_loading(tmp_path, monkeypatch)
    config = RunConfig()
    config.data.train_file = str(EXAMPLES_DIR / "movie_reviews.csv")
    run = start_training(RunStore(tmp_path / "runs"), config)
    try:
        assert any(snap["message"] == "Loading data." for snap in follow(run, timeout=120)), run.log_path.read_text()
        stop_training(run)
        assert wait_for_end(run, 30), "the process ended without waiting for its data"
    finally:
        if run.is_alive():  # this test failed: its process would wait for its data forever
            os.kill(run.raw_status()["pid"], signal.SIGKILL)
    status = run.status()
    assert status["state"] == STOPPED and status["message"].startswith("Stopped before training began"), status
    assert run.latest_checkpoint() is None
    said = [event["text"] for event in run.events() if event["type"] == "message"]
    assert f"Stop requested: {stop_notice(PREPARING)}" in said and not any("saves a checkpoint" in text for text in said), "the log says what the stop does"


def test_a_stop_after_the_last_step_says_the_run_completes(tmp_path):
    """Past its last step a run saves its model and evaluates, then completes: a stop then said it would save a
    checkpoint and stop, and the run completed all the same."""
    run = RunStore(tmp_path / "runs").create(RunConfig())
    fd = run.hold_alive_lock()  # this test process plays the training process
    try:
        run.update_status(state=RUNNING, phase=FINISHING, message="Saving the model and evaluating on test…")
        assert stop_training(run) in ACTIVE_STATES
    finally:
        os.close(fd)
    said = [event["text"] for event in run.events() if event["type"] == "message"]
    assert said == [f"Stop requested: {stop_notice(FINISHING)}"] and "completes as it is" in said[0]


def test_a_run_frozen_before_the_head_learning_rate_resumes_from_a_checkpoint_of_its_own_config(tmp_path):
    """Its checkpoints keep its config.yaml as it is, without head_learning_rate: both read as the run trains
    (the head at the learning rate), so Resume sees no change where there is none."""
    import json
    import shutil

    import yaml

    from finetuner.runs import CHECKPOINT_CONFIG

    run = RunStore(tmp_path / "runs").create(RunConfig())
    frozen = yaml.safe_load(run.config_path.read_text())
    del frozen["head_learning_rate"]
    run.config_path.write_text(yaml.safe_dump(frozen))
    checkpoint = run.checkpoints_dir / "checkpoint-6"
    checkpoint.mkdir(parents=True)
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": 6}))
    shutil.copyfile(run.config_path, checkpoint / CHECKPOINT_CONFIG)
    run.update_status(state=STOPPED)
    launcher.check_resumable(run)
    assert launcher.config_changes(run) == ([], [])
