"""Start pressed twice (a double click) with the same options: one run. Before, the second click made a second
run with the very same settings, which waited in the queue and then trained the same model again (seen in the
studio: two identical BANKING77 runs, each the full training time, the page following the second)."""

from __future__ import annotations

import os

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from finetuner import launcher
from finetuner.runs import RunStore

OPTIONS = {"max_seq_length": 32, "num_train_epochs": 1, "per_device_train_batch_size": 8}


def test_a_second_start_with_the_same_options_is_refused_and_a_changed_one_starts(studio, client, reviews_csv, tiny_model_dir, monkeypatch):
    held = []  # this test stands in for each run's training process, which waits in the queue
    monkeypatch.setattr(launcher, "_spawn", lambda run, **options: held.append(run.hold_alive_lock()))
    try:
        start_twice_then_another(studio[1], client, reviews_csv, tiny_model_dir)
    finally:
        for fd in held:
            os.close(fd)


def start_twice_then_another(runs_dir, client, reviews_csv, tiny_model_dir):
    client.predict(task="text-classification", source="Upload files", train_file=handle_file(str(reviews_csv)), validation_file=None, test_file=None, api_name="/load_dataset")
    first, _, note = client.predict(model_name_or_path=str(tiny_model_dir), **OPTIONS, api_name="/start_training")
    assert note.startswith(f"Started run **{first}**")

    with pytest.raises(AppError) as raised:
        client.predict(model_name_or_path=str(tiny_model_dir), **OPTIONS, api_name="/start_training")
    assert str(raised.value).startswith(
        f"Run {first} has these same settings and is queued: a second run would train the same model again "
        "(was Start pressed twice?). Let it train, or change a setting (the seed, say) to train another."
    )
    assert [run.id for run in RunStore(runs_dir).list()] == [first]

    second, _, note = client.predict(model_name_or_path=str(tiny_model_dir), **OPTIONS, seed=7, api_name="/start_training")
    assert note.startswith(f"Started run **{second}**") and second != first
