"""What the studio keeps in the browser over a reload goes through the same checks as a fresh choice."""

from __future__ import annotations

import pytest

from finetuner.errors import DataError, LocationNotAllowedError
from finetuner.ui import services

CHOICES = {"task": ["text-classification", "causal-lm"], "lr_scheduler_type": ["linear", "cosine"]}
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
    assert services.restorable_form(saved, FIELDS, CHOICES) == {"task": "causal-lm", "learning_rate": 0.003, "num_train_epochs": None}


@pytest.mark.parametrize("saved", [None, "text", [], {"learning_rate": 0.003}, {"task": "no-such-task"}])
def test_nothing_usable_kept_restores_nothing(saved):
    assert services.restorable_form(saved, FIELDS, CHOICES) is None
