"""Who may use what on a shared studio (a Space, a share link, a page with --auth logins).

Two rules, both off on a studio that is not shared (one person's own machine: nothing changes there):

* **Runs belong to whoever started them.** A run records its `owner` (the visitor's Hub username, or
  their --auth login). On a shared studio a visitor lists, follows, stops, resumes, evaluates, tries and
  publishes only their own runs; another's run id is refused with `RunNotYoursError`, worded the same
  whether the run exists or not (so ids cannot be probed). A visitor without an identity has no runs.
* **No server path as a dataset or model location.** Data comes from uploads (gradio's upload folder,
  copied to `<runs_dir>/uploads/`, or to `temporary_uploads()` when the runs folder is read-only) or Hub dataset ids; models from Hub ids, the bundled offline model,
  or the visitor's own runs' folders. Anything else raises `LocationNotAllowedError`, whose message
  says what to do instead (upload the file, use a Hub id). Options that make the server read or write
  a path of the visitor's choosing (`output_dir`, `deepspeed: file.json`, ...) and `trust_remote_code`
  (running a repository's code on the server) are refused the same way.

`check_locations` is the one check; the studio's services call it where data and model locations
enter (`make_selection`, `build_config`, the tokenizer inspector, evaluation on other data). No gradio here.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterable

from .errors import LocationNotAllowedError, RunNotFoundError, RunNotYoursError
from .runs import Run, RunStore

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
# A Space's own disk is wiped when it restarts or sleeps; a folder mounted at /data (its persistent storage,
# or a storage volume) is not.
SPACE_STORAGE = Path("/data")
UPLOADS = "uploads"  # <runs_dir>/uploads/: where the studio keeps uploaded files (services.store_upload)
# TrainingArguments options whose string value names a file or folder on the server.
PATH_TRAINING_ARGUMENTS = ("output_dir", "logging_dir", "deepspeed", "fsdp_config", "accelerator_config", "resume_from_checkpoint")


def on_spaces() -> bool:
    """True inside a Hugging Face Space (the runtime sets SYSTEM=spaces and SPACE_ID)."""
    return os.environ.get("SYSTEM") == "spaces" and bool(os.environ.get("SPACE_ID"))


def default_runs_dir() -> str:
    """Where the studio and the CLI keep runs unless told: FINETUNER_RUNS_DIR if set; on a Space, /data/runs when
    /data is a writable folder, so that runs (and their checkpoints, for Resume) outlive a restart or sleep;
    else `runs` beside where the command starts."""
    chosen = os.environ.get("FINETUNER_RUNS_DIR")
    if chosen:
        return chosen
    if on_spaces() and SPACE_STORAGE.is_dir() and os.access(SPACE_STORAGE, os.W_OK):
        return str(SPACE_STORAGE / "runs")
    return "runs"


def runs_lost_on_restart(runs_dir: str | Path) -> bool:
    """Whether a Space's restart or sleep takes these runs: not on its persistent storage, nor where its owner
    chose (FINETUNER_RUNS_DIR), so they are on the Space's own disk. Never off a Space."""
    return on_spaces() and not os.environ.get("FINETUNER_RUNS_DIR") and not _inside(Path(runs_dir).resolve(), SPACE_STORAGE)


def shared_mode() -> bool:
    """Is this studio reachable by people other than its owner? On a Space, or when app.py was started
    with --share or --auth (it sets FINETUNER_SHARED=1). Then each visitor uses their own token and sees
    only the runs they started, and gives data and models as uploads or Hub ids."""
    return on_spaces() or os.environ.get("FINETUNER_SHARED", "").lower() in ("1", "true", "yes")


# ----------------------------------------------------------------------------- runs


def run_owner(run: Run) -> str | None:
    return run.raw_status().get("owner")


def visible_runs(store: RunStore, visitor: str | None, *, shared: bool) -> list[Run]:
    """The runs a visitor may see, newest first: all of them locally; on a shared studio their own (none without an identity)."""
    if not shared:
        return store.list()
    if not visitor:
        return []
    return store.list(owner=visitor)


def sign_in_hint() -> str:
    """How a visitor this shared studio cannot identify makes themselves known, said for where they are: on a
    Space the login button is on the Hub tab; elsewhere (a share link without --auth) there is no login page."""
    api = "Client(url, oauth_token=YOUR_HF_TOKEN)"
    if on_spaces():
        return f"press 'Sign in with Hugging Face' on the Hub tab (from the API: {api})"
    return f"this page has no login, so ask its owner for one (app.py --auth USER:PASSWORD), or use the API with your Hugging Face token: {api}"


def not_yours_message(run_id: str, visitor: str | None) -> str:
    if visitor:
        return f"Run {run_id} is not one of yours. On a shared studio you can see and use only the runs you started."
    return f"Run {run_id} is not one of yours: this shared studio does not know who you are. To see and use the runs you started, {sign_in_hint()}."


def owned_run(store: RunStore, run_id: str, visitor: str | None, *, shared: bool) -> Run:
    """The run, if this visitor may use it; `RunNotYoursError` otherwise (on a shared studio, the same for a missing run)."""
    if not shared:
        return store.get(run_id)
    try:
        run = store.get(run_id)
    except RunNotFoundError:
        run = None
    if run is None or not visitor or run_owner(run) != visitor:
        raise RunNotYoursError(not_yours_message(run_id, visitor))
    return run


# ----------------------------------------------------------------------------- locations


def temporary_uploads() -> Path:
    """Where the studio keeps uploads when its runs folder cannot be written (a read-only share of past runs;
    services.store_upload): the system may clear it, which is why no run names a file there."""
    return Path(tempfile.gettempdir()).resolve() / "finetuner-uploads"


def temporary_evaluations(run: Run) -> Path:
    """Where the studio keeps a run's evaluations on other data when the run's folder cannot be written (a
    read-only share of past runs; `evaluate_run.saves_into_run`): one folder per run folder, so that two runs
    folders' runs of the same id keep theirs apart. The system may clear it."""
    digest = hashlib.sha256(str(run.path.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()).resolve() / "finetuner-evaluations" / f"{run.id}-{digest}"


def upload_dirs(runs_dir: str | Path) -> list[Path]:
    """Folders holding what visitors uploaded: the studio's `<runs_dir>/uploads/` (or its temporary
    stand-in) and gradio's upload folder (the same expression as `gradio.utils.get_upload_folder`, without
    importing gradio)."""
    gradio_uploads = os.environ.get("GRADIO_TEMP_DIR") or str(Path(tempfile.gettempdir()) / "gradio")
    return [Path(runs_dir).resolve() / UPLOADS, temporary_uploads(), Path(gradio_uploads).resolve()]


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.is_relative_to(folder)
    except ValueError:
        return False


def is_hub_id(value: str) -> bool:
    """A Hub repo id that is not also a path on this machine (libraries load an existing folder first)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id  # noqa: PLC0415

    value = value.strip()
    if not value or value.startswith(("/", ".", "~")) or "\\" in value or os.path.lexists(os.path.expanduser(value)):
        return False
    try:
        validate_repo_id(value)
    except HFValidationError:
        return False
    return True


def _resolved(value: str) -> Path:
    return Path(os.path.expanduser(value)).resolve()


def check_locations(
    *,
    runs_dir: str | Path,
    data_files: Iterable[str | None] = (),
    dataset_name: str | None = None,
    models: Iterable[str | None] = (),
    owner: str | None = None,
    trust_remote_code: bool = False,
    extra_training_args: dict | None = None,
    shared: bool | None = None,
) -> None:
    """On a shared studio, refuse server paths as dataset or model locations (see the module docstring).

    `data_files` may be uploads or the bundled example; `dataset_name` must be a Hub dataset id;
    each of `models` a Hub id, the bundled model, or a folder inside one of `owner`'s runs.
    `shared=None` asks `shared_mode()`. Locally this returns at once.
    """
    if shared is None:
        shared = shared_mode()
    if not shared:
        return
    allowed_data = [*upload_dirs(runs_dir), EXAMPLES_DIR]
    for value in data_files:
        if not value:
            continue
        path = _resolved(str(value))
        if not any(_inside(path, folder) for folder in allowed_data):
            raise LocationNotAllowedError(
                f"'{Path(str(value)).name}' is a file on the server. On a shared studio data comes from files you upload or Hub dataset ids: "
                "upload the file (Data tab, 'Upload files') or use a Hub dataset id."
            )
    if dataset_name and dataset_name.strip() and not is_hub_id(dataset_name):
        raise LocationNotAllowedError(
            f"'{dataset_name.strip()}' is not a Hub dataset id. On a shared studio data comes from files you upload or Hub dataset ids: "
            "use a Hub dataset id like 'stanfordnlp/sst2', or upload the file."
        )
    for value in models:
        if value and str(value).strip() and not _model_allowed(str(value).strip(), runs_dir=runs_dir, owner=owner):
            raise LocationNotAllowedError(
                f"'{value}' is a folder on the server. On a shared studio a model is a Hub model id (e.g. 'distilbert/distilbert-base-uncased'), "
                "the bundled model, or the model of one of your own runs: use a Hub id."
            )
    if trust_remote_code:
        raise LocationNotAllowedError("trust_remote_code would run the model repository's own code on this shared server; it is off here. Choose a model that works without it.")
    for name in PATH_TRAINING_ARGUMENTS:
        if isinstance((extra_training_args or {}).get(name), str):
            raise LocationNotAllowedError(f"The TrainingArguments option '{name}' names a path on the server, which a shared studio does not accept; remove it from the extra options.")


def _model_allowed(value: str, *, runs_dir: str | Path, owner: str | None) -> bool:
    from .config import default_model_path  # noqa: PLC0415

    if is_hub_id(value):
        return True
    path = _resolved(value)
    if path == _resolved(default_model_path()):
        return True
    root = Path(runs_dir).resolve()
    if not owner or not _inside(path, root) or path == root:
        return False
    run_id = path.relative_to(root).parts[0]
    try:
        run = RunStore(root).get(run_id)
    except RunNotFoundError:
        return False
    return run_owner(run) == owner
