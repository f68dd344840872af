"""A studio over a read-only runs folder (a share of past runs): an upload is kept in a temporary folder, and
the Data tab says so where it shows the data, with what to do (services.temporary_upload_note). A run there is
evaluated on other data all the same: its results are kept in a temporary folder and shown, and the Evaluate tab
says that they are not saved in the run (services.temporary_evaluation_note)."""

from __future__ import annotations

import errno

import pandas as pd
import pytest
from gradio_client import handle_file

from finetuner import access
from support import completed_run, make_sentiment_frame, refuse_writes

NOTE = "⚠ **Kept in a temporary folder**:"
NOT_SAVED = "⚠ **Not saved in the run**:"
TRAINED_ON = {"label_names": ["negative", "positive"], "text_columns": ["text"], "label_column": "label"}


@pytest.fixture
def read_only_runs(studio, tmp_path, monkeypatch):
    """The studio's runs folder refuses writes from now on; the temporary folder is this test's own."""
    runs_dir = studio[1]
    temporary = tmp_path / "finetuner-uploads"
    monkeypatch.setattr(access, "temporary_uploads", lambda: temporary)
    refuse_writes(monkeypatch, runs_dir, errno.EROFS, folder_writable=False)
    return runs_dir, temporary


def upload(client, path) -> str:
    """The Data tab's summary after uploading `path` as the training file."""
    summary, *_ = client.predict(task="text-classification", source="Upload files", train_file=handle_file(str(path)), validation_file=None, test_file=None, api_name="/load_dataset")
    return summary


def test_an_upload_kept_in_the_temporary_folder_says_so_and_what_to_do(client, read_only_runs, reviews_csv):
    """The page showed the data as if kept; a restart of the machine took the file, and Start then failed."""
    runs_dir, temporary = read_only_runs
    summary = upload(client, reviews_csv)
    assert summary.startswith("**reviews.csv** · 120 rows"), summary  # shown as data kept
    assert NOTE in summary, summary
    note = summary[summary.index(NOTE) + len(NOTE):].replace("\\", "")  # the note's text, its Markdown escapes undone
    assert note.strip() == (
        f"The runs folder {runs_dir.resolve()} cannot be written, so 'reviews.csv' is kept in {temporary}, which the system may clear "
        "(a restart of this machine does; upload it again then), and no run can start here. "
        "To keep uploads and train, start the studio on a folder you can write: set FINETUNER_RUNS_DIR to it, or pass --runs-dir."
    )


def test_on_a_shared_studio_the_note_names_no_server_folder(client, read_only_runs, reviews_csv, monkeypatch):
    runs_dir, temporary = read_only_runs
    monkeypatch.setenv("FINETUNER_SHARED", "1")
    summary = upload(client, reviews_csv)
    assert NOTE in summary, summary
    shown = summary.replace("\\", "")
    assert str(runs_dir.resolve()) not in shown and str(temporary) not in shown, shown
    assert "kept in a temporary folder, which the server may clear (a restart does; upload it again then)" in shown
    assert shown.endswith("Ask the studio's owner for a runs folder it can write."), shown


def test_an_upload_kept_in_the_runs_folder_has_no_note(client, reviews_csv):
    assert NOTE not in upload(client, reviews_csv)


def files(folder) -> dict:
    """Every file under `folder` with its bytes: what an evaluation must leave as it was."""
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture
def other_data(tmp_path):
    path = tmp_path / "other.csv"
    make_sentiment_frame(rows=10, seed=1).to_csv(path, index=False)
    return path


def evaluate_other(client, run_id, path):
    """/evaluate_run on a file: (the Split dropdown, the headline, the predictions file)."""
    splits, headline, *_, predictions = client.predict(run_id, handle_file(str(path)), "", "", "test", api_name="/evaluate_run")
    return splits, headline, predictions


def test_a_run_in_a_read_only_runs_folder_is_evaluated_on_other_data_and_the_page_says_it_is_not_saved(client, studio, tiny_model_dir, other_data, tmp_path, monkeypatch):
    """The evaluation failed: "Something went wrong (OSError: [Errno 30] Read-only file system: '.../eval/extra')"."""
    run = completed_run(studio[1], "shared-run", task="text-classification", model_dir=tiny_model_dir, data_report=TRAINED_ON)
    before = files(run.path)
    kept = tmp_path / "finetuner-evaluations" / run.id
    monkeypatch.setattr(access, "temporary_evaluations", lambda of: tmp_path / "finetuner-evaluations" / of.id, raising=False)  # the code before had none
    monkeypatch.setattr(access, "temporary_uploads", lambda: tmp_path / "finetuner-uploads")
    refuse_writes(monkeypatch, studio[1], errno.EROFS, folder_writable=False)

    splits, headline, predictions = evaluate_other(client, run.id, other_data)
    assert splits["value"] == "temporary:other", splits
    assert ["other data: other (temporary: not saved in the run)", "temporary:other"] in splits["choices"], splits
    assert headline.startswith("**shared-run** on **other** (10 examples): accuracy **"), headline
    note = headline[headline.index(NOT_SAVED) + len(NOT_SAVED):].replace("\\", "")  # its Markdown escapes undone
    assert note.strip() == (
        f"Run shared-run's folder {run.path} cannot be written, so this evaluation is kept in {kept}, which the system may clear "
        "(a restart of this machine does; evaluate again then). Download the predictions below to keep them."
    )
    assert len(pd.read_csv(predictions)) == 10, "the predictions download holds every example"
    assert sorted(path.name for path in kept.iterdir()) == ["predictions_other.csv", "report_other.json", "results_other.json", "sources.json"]
    assert files(run.path) == before, "nothing written into the read-only run's folder"

    shown_again = client.predict(run.id, "temporary:other", api_name="/evaluation_report")
    assert shown_again[0] == headline, "chosen again under Split, the same report and note"


def test_on_a_shared_studio_the_evaluation_note_names_no_server_folder(tiny_model_dir, tmp_path, monkeypatch):
    from finetuner.ui import services

    run = completed_run(tmp_path / "runs", "shared-run", task="text-classification", model_dir=tiny_model_dir)
    monkeypatch.setenv("FINETUNER_SHARED", "1")
    note = services.temporary_evaluation_note(run)
    assert str(tmp_path) not in note and "/tmp" not in note, note
    assert note == (
        "This run's folder cannot be written, so this evaluation is kept in a temporary folder, which the server may clear "
        "(a restart does; evaluate again then). Download the predictions below to keep them."
    )


def test_a_run_in_a_writable_runs_folder_keeps_its_evaluation_as_before(client, studio, tiny_model_dir, other_data):
    run = completed_run(studio[1], "own-run", task="text-classification", model_dir=tiny_model_dir, data_report=TRAINED_ON)
    splits, headline, _ = evaluate_other(client, run.id, other_data)
    assert splits["value"] == "extra:other" and ["other data: other", "extra:other"] in splits["choices"], splits
    assert NOT_SAVED not in headline, headline
    assert (run.eval_dir / "extra" / "report_other.json").is_file()
    assert [event["name"] for event in run.events() if event["type"] == "evaluation"] == ["other"]
