"""Where the studio keeps an uploaded file: in its runs folder, so that runs naming it stay reproducible; in a
temporary folder while that runs folder is read-only (a share of past runs), where no run can start; and a
message naming the folder and the fix when it cannot be kept."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pytest

from finetuner import access
from finetuner.errors import DataError
from finetuner.ui import services
from support import refuse_writes


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # the temporary folder, and gradio's upload folder in it
    monkeypatch.delenv("GRADIO_TEMP_DIR", raising=False)
    (tmp_path / "tmp").mkdir()
    folder = tmp_path / "runs"
    folder.mkdir()
    return folder


@pytest.fixture
def upload(tmp_path, sentiment_frame):
    """A file as gradio receives it, in its upload folder."""
    path = tmp_path / "tmp" / "gradio" / "0123abcd" / "reviews.csv"
    path.parent.mkdir(parents=True)
    sentiment_frame.to_csv(path, index=False)
    return path


def test_an_upload_on_a_read_only_runs_folder_can_be_previewed_and_no_run_names_its_temporary_copy(runs_dir, upload, monkeypatch):
    """The upload failed with OSError: Read-only file system, though the studio opens over such a folder."""
    with monkeypatch.context() as read_only:
        refuse_writes(read_only, runs_dir, errno.EROFS, folder_writable=False)
        read_only.setenv("FINETUNER_SHARED", "1")  # a visitor's upload: the temporary copy is an upload too
        selection = services.make_selection(services.SOURCE_FILE, train_file=str(upload), runs_dir=runs_dir)
        assert Path(selection["train_file"]).parent.parent == access.temporary_uploads()
        assert len(services.raw_frames(selection)["train"]) == 120, "the Data tab previews it"
        assert services.make_selection(**services.selection_fields(selection), runs_dir=runs_dir) == selection, "kept over a reload"
        assert services.build_config(selection, {"max_steps": 1}, runs_dir=runs_dir).data.train_file == selection["train_file"]
    # The runs folder takes runs now: a run started from the page's selection names the runs folder's copy.
    config = services.build_config(selection, {"max_steps": 1}, runs_dir=runs_dir)
    assert Path(config.data.train_file).parent.parent == runs_dir.resolve() / "uploads"
    assert Path(config.data.train_file).read_bytes() == upload.read_bytes()


@pytest.mark.parametrize(
    "code, fix",
    [(errno.EACCES, "Permission denied. Make it writable, or start the studio on another runs folder (--runs-dir)"), (errno.ENOSPC, "No space left on device. Free some space on that disk")],
)
def test_an_upload_that_cannot_be_kept_where_runs_can_start_names_the_folder_and_the_fix(runs_dir, upload, monkeypatch, code, fix):
    """A temporary copy there would be named by the runs started from it, and could be cleared under them."""
    refuse_writes(monkeypatch, runs_dir / "uploads", code, folder_writable=True)
    with pytest.raises(DataError) as raised:
        services.make_selection(services.SOURCE_FILE, train_file=str(upload), runs_dir=runs_dir, shared=False)
    assert str(raised.value).startswith(f"Cannot store the uploaded file 'reviews.csv' in {runs_dir.resolve() / 'uploads'}: {fix}")
    monkeypatch.setenv("FINETUNER_SHARED", "1")
    with pytest.raises(DataError) as raised:
        services.make_selection(services.SOURCE_FILE, train_file=str(upload), runs_dir=runs_dir)
    assert str(raised.value) == f"The studio cannot store the uploaded file 'reviews.csv' ({os.strerror(code)}). Ask its owner to free space or fix the runs folder."


def test_an_upload_that_fits_nowhere_says_so(runs_dir, upload, monkeypatch):
    refuse_writes(monkeypatch, runs_dir.parent, errno.EROFS, folder_writable=False)  # the temporary folder is read-only too
    with pytest.raises(DataError) as raised:
        services.make_selection(services.SOURCE_FILE, train_file=str(upload), runs_dir=runs_dir, shared=False)
    assert str(raised.value) == (
        f"Cannot store the uploaded file 'reviews.csv': the runs folder {runs_dir.resolve()} is read-only, and the temporary folder "
        f"{access.temporary_uploads()} failed too (Read-only file system). Free space there, or start the studio on a runs folder you can write (--runs-dir)."
    )
