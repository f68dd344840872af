"""The training process reads the Hub with the same token as the studio that checked its data and model.

On a Space the owner's HF_TOKEN secret is what reads the private or gated models and datasets the Space
needs (spaces_config/README.md); the studio's own process loads the data, the tokenizer and the estimate's
model with it. A training process started without it failed on that same model a few seconds after
Start. A visitor's own token, when the launch has one, is the one the process gets."""

from __future__ import annotations

import sys

import pytest

from finetuner import launcher
from finetuner.config import RunConfig
from finetuner.launcher import wait_for_end
from finetuner.runs import RunStore

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
