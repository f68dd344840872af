"""The launcher: the token a training process reads the Hub with, and a stop before training begins.

The training process reads the Hub with the same token as the studio that checked its data and model. On a Space the owner's HF_TOKEN secret is what reads the private or gated models and datasets the Space
needs (spaces_config/README.md); the studio's own process loads the data, the tokenizer and the estimate's
model with it. A training process started without it failed on that same model a few seconds after
Start. A visitor's own token, when the launch has one, comes beside it (`hub_reads.READER_VARIABLE`): the process
reads with it where it may, and with HF_TOKEN where it may not, as the studio did."""

from __future__ import annotations

import os
import signal
import sys

import pytest
from support import endless_data_loading

from finetuner import launcher, resuming
from finetuner.access import EXAMPLES_DIR
from finetuner.config import RunConfig
from finetuner.errors import RunError
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
    monkeypatch.setattr(launcher, "launch_command", lambda *a, **k: [sys.executable, "-c", "import os; print('token:', os.environ.get('HF_TOKEN'), 'visitor:', os.environ.get('FINETUNER_HUB_READER'))"])


def token_seen(tmp_path, token=None) -> str:
    run = RunStore(tmp_path / "runs").create(RunConfig(), run_id="r")
    launcher._spawn(run, resume=False, token=token)
    assert wait_for_end(run, 60)
    return run.log_path.read_text()


def test_training_on_a_space_reads_with_the_spaces_token(shared_space, tmp_path):
    assert f"token: {SERVER_TOKEN} visitor: None" in token_seen(tmp_path)


def test_a_visitors_own_token_comes_beside_the_servers(shared_space, tmp_path):
    assert f"token: {SERVER_TOKEN} visitor: hf_visitor_token_0000000000000001" in token_seen(tmp_path, "hf_visitor_token_0000000000000001")


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
    resuming.check_resumable(run)
    assert resuming.config_changes(run) == ([], [])


def run_stopped_after_training_on(tmp_path, processes: int, **options):
    """A stopped run whose last checkpoint was saved by `processes` training processes: one random-state file each,
    as the Trainer saves them (tests/integration/test_distributed.py checks a 2-process run's), and its config's copy."""
    import json
    import shutil

    from finetuner.runs import CHECKPOINT_CONFIG

    run = RunStore(tmp_path / "runs").create(RunConfig.from_dict({"per_device_train_batch_size": 8, **options}), run_id="wide")
    checkpoint = run.checkpoints_dir / "checkpoint-6"
    checkpoint.mkdir(parents=True)
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": 6}))
    shutil.copyfile(run.config_path, checkpoint / CHECKPOINT_CONFIG)
    for name in ["rng_state.pth"] if processes == 1 else [f"rng_state_{rank}.pth" for rank in range(processes)]:
        (checkpoint / name).write_bytes(b"")
    run.update_status(state=STOPPED, processes=processes, message="Stopped at step 6; resume to continue.")
    return run


def test_resume_on_another_number_of_processes_is_refused_with_the_command_that_keeps_it(tmp_path, capsys):
    """`resume` on one process of a run trained on two went on with half the effective batch, from a place in the data
    counted in the other's batches, without a word; now it is refused with the command that resumes on two."""
    from finetuner.cli import main

    run = run_stopped_after_training_on(tmp_path, 2)
    events = run.events()
    assert main(["--runs_dir", str(tmp_path / "runs"), "resume", "wide"]) == 2
    err = capsys.readouterr().err
    assert "Run wide's last checkpoint (checkpoint-6) was trained on 2 process(es); this resume has 1." in err
    assert "16 then, 8 now" in err
    assert f"Resume it on 2 process(es): `torchrun --standalone --nproc_per_node 2 -m finetuner resume {run.path}`" in err
    assert run.status()["state"] == STOPPED and run.events() == events, "the run is as it was"


def test_another_number_of_processes_with_the_same_effective_batch_resumes_saying_so(tmp_path):
    """Two processes of 8 becoming one process accumulating two batches of 8 (a GPU gone) is the same training."""
    run = run_stopped_after_training_on(tmp_path, 2)
    run.config().replace(gradient_accumulation_steps=2).save(run.config_path)
    resuming.check_resumable(run, processes=1)
    said = [event["text"] for event in run.events() if event["type"] == "message"]
    assert said == ["Resuming from checkpoint-6 with changed options: gradient_accumulation_steps 1 -> 2, processes 2 -> 1."]
    with pytest.raises(RunError, match=r"changed since its last checkpoint \(checkpoint-6\): gradient_accumulation_steps 1 -> 2\."):
        resuming.check_resumable(run, processes=2)  # its own count, with twice the batch
    run.config().replace(gradient_accumulation_steps=1).save(run.config_path)
    resuming.check_resumable(run, processes=2)


def test_a_training_process_that_resumes_on_another_count_fails_before_it_trains(tmp_path):
    """`torchrun ... train --run_dir RUN --resume` (what the launcher runs) passes no `resume` command's check: the
    training process checks the count itself, and the run fails saying how to resume it instead."""
    from finetuner.runs import FAILED
    from finetuner.train import run_training

    run = run_stopped_after_training_on(tmp_path, 2)
    assert run_training(run, resume=True) == FAILED
    status = run.status()
    assert "was trained on 2 process(es); this resume has 1" in status["error"] and status["processes"] == 2
    assert not (run.path / "data_report.json").exists(), "failed before loading anything"


def test_the_studio_resumes_on_the_checkpoint_s_number_of_processes(tmp_path, monkeypatch):
    started = {}
    monkeypatch.setattr(launcher, "_spawn", lambda run, **options: started.update(options))
    run = run_stopped_after_training_on(tmp_path, 2)
    run.update_status(processes=1)  # a later start on one process failed before it saved a checkpoint
    launcher.resume_training(run)
    assert started["processes"] == 2 and started["resume"]
