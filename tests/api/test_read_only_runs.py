"""A studio over a read-only runs folder (a share of past runs): an upload is kept in a temporary folder, and
the Data tab says so where it shows the data, with what to do (services.temporary_upload_note)."""

from __future__ import annotations

import errno

import pytest
from gradio_client import handle_file

from finetuner import access
from support import refuse_writes

NOTE = "⚠ **Kept in a temporary folder**:"


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
