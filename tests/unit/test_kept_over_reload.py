"""What the studio keeps in the browser over a reload goes through the same checks as a fresh choice; an
earlier run's settings go back on the form."""

from __future__ import annotations

import dataclasses

import pytest

from finetuner.config import DataConfig, RunConfig
from finetuner.errors import DataError, LocationNotAllowedError
from finetuner.ui import services

_DATA_FIELDS = {f.name for f in dataclasses.fields(DataConfig)}

FIELDS = ["task", "learning_rate", "lr_scheduler_type", "num_train_epochs"]


def test_a_kept_upload_is_selected_again_with_its_columns(tmp_path, sentiment_frame):
    upload = tmp_path / "upload" / "reviews.csv"
    upload.parent.mkdir()
    sentiment_frame.rename(columns={"text": "review", "label": "mood"}).to_csv(upload, index=False)
    runs_dir = tmp_path / "runs"
    chosen = services.make_selection(services.SOURCE_FILE, train_file=str(upload), text_column="review", label_column="mood", runs_dir=runs_dir, shared=False)

    again = services.make_selection(**services.selection_fields(chosen), runs_dir=runs_dir, shared=False)

    assert again == chosen
    assert again["train_file"].startswith(str(runs_dir.resolve() / "uploads"))
    assert again["text_column_names"] == ["review"] and again["label_column_name"] == "mood"


def test_a_kept_hub_dataset_is_selected_again():
    chosen = services.make_selection(services.SOURCE_HUB, dataset_name="stanfordnlp/sst2", dataset_config_name="default", split="train[:100]", shared=False)
    assert services.make_selection(**services.selection_fields(chosen), shared=False) == chosen


def test_a_kept_upload_deleted_since_is_refused_by_name(tmp_path, sentiment_frame):
    upload = tmp_path / "reviews.csv"
    sentiment_frame.to_csv(upload, index=False)
    chosen = services.make_selection(services.SOURCE_FILE, train_file=str(upload), runs_dir=tmp_path / "runs", shared=False)
    for stored in (tmp_path / "runs" / "uploads").rglob("*.csv"):
        stored.unlink()
    with pytest.raises(DataError, match="reviews.csv' is gone; upload it again"):
        services.make_selection(**services.selection_fields(chosen), runs_dir=tmp_path / "runs", shared=False)


def test_a_forged_server_path_is_refused_on_a_shared_studio(tmp_path):
    """The browser's copy can be edited by its user: on a shared studio a server file stays out of reach."""
    forged = {"task": "text-classification", "source": services.SOURCE_FILE, "train_file": "/etc/passwd", "name": "passwd"}
    with pytest.raises(LocationNotAllowedError, match="is a file on the server"):
        services.make_selection(**services.selection_fields(forged), runs_dir=tmp_path / "runs", shared=True)


def test_kept_form_values_that_no_longer_fit_keep_the_defaults():
    saved = {"task": "causal-lm", "learning_rate": 0.003, "lr_scheduler_type": "renamed", "removed_option": 1, "num_train_epochs": None}
    assert services.restorable_form(saved, FIELDS) == {"task": "causal-lm", "learning_rate": 0.003, "num_train_epochs": None}


@pytest.mark.parametrize("saved", [None, "text", [], {"learning_rate": 0.003}, {"task": "no-such-task"}])
def test_nothing_usable_kept_restores_nothing(saved):
    assert services.restorable_form(saved, FIELDS) is None


# The Train form's fields: every model and training option, and the data options it shows, but not
# tokenizer_name, model_revision and trust_remote_code.
FORM = [n for n in RunConfig().to_dict() if n in ("validation_split_ratio", "test_split_ratio", "max_train_samples") or n not in _DATA_FIELDS and n not in ("tokenizer_name", "model_revision", "trust_remote_code")]


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"learning_rate": 3e-4, "num_train_epochs": 7, "early_stopping_patience": 2, "eval_strategy": "steps", "eval_steps": 20, "max_train_samples": 50,
         "metric_for_best_model": "accuracy", "extra_training_args": {"optim": "adafactor", "max_grad_norm": 0.5}, "freeze_embeddings": True, "text_column_names": ["text"], "label_column_name": "label"},
        {"task": "causal-lm", "model_name_or_path": "some/model", "use_lora": True, "lora_target_modules": ["q_proj", "v_proj"], "prompt_column_name": "ask", "completion_column_name": "reply", "input_column_name": "background"},
    ],
)
def test_a_runs_settings_go_back_on_the_form_and_data_tab(values, tmp_path):
    config = RunConfig.from_dict({"train_file": str(tmp_path / "data.csv"), **values})
    form, note = services.reused_settings("run-1", config, FORM, runs_dir=tmp_path / "runs")
    again = services.build_config(services.run_selection(config), form, runs_dir=tmp_path / "runs")
    assert again.to_dict() == config.to_dict()
    assert note == "The form holds run **run-1**'s settings, and the Data tab loads its data."


def test_a_runs_settings_the_form_cannot_hold_are_named(tmp_path):
    config = RunConfig.from_dict({"train_file": str(tmp_path / "data.csv"), "trust_remote_code": True, "model_revision": "v2"})
    _, note = services.reused_settings("run-1", config, FORM, runs_dir=tmp_path / "runs")
    assert note.endswith("Not carried over (no field here; its config file has them): `model_revision` v2, `trust_remote_code` True.")


def test_a_runs_settings_that_cannot_start_as_they_are_still_go_on_the_form(tmp_path):
    config = RunConfig.from_dict({"train_file": str(tmp_path / "data.csv"), "model_name_or_path": str(tmp_path / "deleted-model"), "num_train_epochs": 7})
    form, note = services.reused_settings("run-1", config, FORM, runs_dir=tmp_path / "runs")
    assert form["num_train_epochs"] == 7 and form["model_name_or_path"] == str(tmp_path / "deleted-model")
    assert "cannot start a run: Model folder" in note and "does not exist" in note


def test_a_runs_example_data_is_the_example_again():
    selection = services.run_selection(RunConfig.from_dict({"train_file": str(services.EXAMPLE_DATASET)}))
    assert selection["source"] == services.SOURCE_EXAMPLE and selection["name"] == services.EXAMPLE_NAME
