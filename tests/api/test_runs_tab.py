"""The Runs tab's Delete through gradio_client: a finished run's folder goes, and the lists with it; a run that
trains is refused, with what to do, and stays."""

from __future__ import annotations

import os

import pytest
from gradio_client.exceptions import AppError

from finetuner.runs import RunStore
from support import completed_run


def test_delete_removes_a_finished_run_and_refuses_a_training_one(client, studio, tiny_model_dir):
    runs_dir = studio[1]
    done = completed_run(runs_dir, "finished-run", task="text-classification", model_dir=tiny_model_dir)
    training = completed_run(runs_dir, "training-run", task="text-classification", model_dir=tiny_model_dir, state="running")
    fd = training.hold_alive_lock()  # as its training process does
    try:
        with pytest.raises(AppError) as raised:
            client.predict("training-run", api_name="/delete_run")
        assert "Run training-run is training; stop it before deleting it." in str(raised.value)
        assert training.path.is_dir()

        table, picker, *_ , note, _ = client.predict("finished-run", api_name="/delete_run")
        assert note == "Deleted run **finished-run**."
        assert not done.path.exists()
        listed = [row[0] for row in table["data"]]
        assert "finished-run" not in listed and "training-run" in listed
        assert "finished-run" not in [value for _, value in picker["choices"]]
        assert [r.id for r in RunStore(runs_dir).list()] == ["training-run"]
    finally:
        os.close(fd)
    client.predict("training-run", api_name="/delete_run")  # its process gone, it can go too
    assert not training.path.exists()


def test_a_run_whose_config_was_edited_into_a_broken_one_stays_listed_and_says_why(client, studio, tiny_model_dir):
    run = completed_run(studio[1], "edited-run", task="text-classification", model_dir=tiny_model_dir, state="stopped")
    run.config_path.write_text(run.config_path.read_text().replace("learning_rate:", "learning_rat:", 1))
    table, *_ = client.predict(api_name="/list_runs")
    row = next(row for row in table["data"] if row[0] == "edited-run")
    assert row[1:3] == ["stopped", "(config.yaml unreadable)"], "listed, not hidden"
    details, cli, config_text, _ = client.predict("edited-run", api_name="/run_details")
    assert "its config.yaml cannot be read: Unknown option 'learning\\_rat'. Did you mean 'learning\\_rate'?" in details
    assert "learning_rat:" in config_text and cli == ""
