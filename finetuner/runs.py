"""Run folders: the single source of truth for a training run.

    runs/<run_id>/
        config.yaml     the frozen RunConfig (never a token)
        status.json     state machine, written atomically
        events.jsonl    append-only: logs, evaluations, checkpoints, state changes
        train.log       stdout/stderr of the training process
        checkpoints/    Trainer checkpoints (optimizer and scheduler state, for resume)
        model/          final model + tokenizer + label names
        eval/           metrics, predictions, baselines

Every view (CLI, studio, a second tab, a restarted app) is rebuilt from these files. Whether a
training process is alive is not guessed from a pid: the process holds an exclusive `flock` on
`.alive` for its whole life, and the kernel releases it when the process dies, however it dies.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .config import RunConfig, read_config_file
from .errors import RunError, RunNotFoundError

QUEUED, RUNNING, COMPLETED, FAILED, STOPPED, INTERRUPTED = "queued", "running", "completed", "failed", "stopped", "interrupted"
ACTIVE_STATES = (QUEUED, RUNNING)
# What a running run is doing (status.json's `phase`; its `message` says it in words): loading its data and
# model, training, or, past its last step, saving the model and scoring it (the final evaluation and baselines).
PREPARING, TRAINING, FINISHING = "preparing", "training", "finishing"
RESUMABLE_STATES = (STOPPED, INTERRUPTED, FAILED)

DEFAULT_RUNS_DIR = "runs"
FULL_DISK_BYTES = 64 * 2**20  # less free than this where a run is kept: its disk is full for a training's writes
# In eval/: a causal LM run's base model against its fine-tuned one, written by finetuner.tasks.causal_lm
# and read by the studio, which must not import the task to find it.
COMPARISON_FILE = "comparison.json"
# In each checkpoint: the run's config.yaml as it trained that checkpoint (a resume compares it with the current one).
CHECKPOINT_CONFIG = "finetuner_config.yaml"
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# This process, as a launched run's status names the studio that watches it (`watched_by`): a random token, not
# a pid, since a restarted Space's new app often gets the old one's pid.
THIS_PROCESS = secrets.token_hex(8)


def write_json_atomic(path: Path, value: Any) -> None:
    """Write JSON so that a reader never sees half a file (temp file in the same folder + os.replace). The temp file
    is made with the process's umask, as every other file of a run is: `tempfile.mkstemp` makes it readable by its
    owner only, which left status.json and the metrics of a run in a shared runs folder unreadable to the team."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2, default=str)
    os.replace(tmp, path)


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return default


def new_run_id(model_name: str) -> str:
    """Sortable, readable and unique: time, model name, random suffix."""
    path = Path(model_name.rstrip("/"))
    name = path.parent.name if path.name == "model" else path.name  # the bundled model lives in <package>/model
    stem = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:32] or "model"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{stem}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class Run:
    """A view of one run folder. Holds no state of its own: every property reads the disk."""

    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @property
    def eval_dir(self) -> Path:
        return self.path / "eval"

    @property
    def log_path(self) -> Path:
        return self.path / "train.log"

    @property
    def cancel_path(self) -> Path:
        return self.path / "CANCEL"

    @property
    def alive_path(self) -> Path:
        return self.path / ".alive"

    def config(self) -> RunConfig:
        return frozen_config(self.config_path)

    def raw_status(self) -> dict[str, Any]:
        return read_json(self.path / "status.json", default={}) or {}

    def status(self) -> dict[str, Any]:
        """The stored status, with an active run whose process is gone reported as interrupted."""
        status = self.raw_status()
        if status.get("state") in ACTIVE_STATES and not self.is_alive():
            # A process writes its final state before it lets go of the lock: it may have ended normally
            # between the two reads, so read the status again before calling the run interrupted.
            status = self.raw_status()
            if status.get("state") in ACTIVE_STATES:
                status = {**status, "state": INTERRUPTED, "disk_full": self.disk_full()}
                status["message"] = interrupted_message(status)
        return status

    def disk_full(self) -> bool:
        """Whether the disk holding this run is (about) full: a process that could not write its checkpoint could not
        record its failure either (nor could the studio that watched it), so an interrupted run is explained by this."""
        try:
            return shutil.disk_usage(self.path).free < FULL_DISK_BYTES
        except OSError:
            return False

    @property
    def state(self) -> str:
        return self.status().get("state", INTERRUPTED)

    def update_status(self, **fields: Any) -> dict[str, Any]:
        status = {**self.raw_status(), **fields, "updated_at": time.time()}
        write_json_atomic(self.path / "status.json", status)
        return status

    def is_alive(self) -> bool:
        """True while a training process holds this run's `.alive` lock."""
        try:
            fd = os.open(self.alive_path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing releases a lock we may just have taken
        return False

    def hold_alive_lock(self) -> int:
        """Take the `.alive` lock for this process's lifetime; returns the fd to keep open."""
        fd = os.open(self.alive_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunError(f"Run {self.id} is already being trained by another process.") from None
        return fd

    def append_event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"time": time.time(), "type": kind, **fields}
        with open(self.events_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(event, default=str) + "\n")
        return event

    def events(self) -> list[dict[str, Any]]:
        return list(read_events(self.events_path))

    def latest_checkpoint(self) -> Path | None:
        """The newest checkpoint a run can resume from. The Trainer writes a checkpoint's trainer_state.json
        last, so a folder without it (or with it cut short) is a save that never finished: the process was
        killed while saving, or the disk filled up. Resuming from it would fail on its missing files."""
        checkpoints = [p for p in self.checkpoints_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
        complete = [p for p in checkpoints if read_json(p / "trainer_state.json") is not None]
        return max(complete, key=lambda p: int(p.name.split("-")[-1]), default=None)

    def metrics(self, split: str = "validation") -> dict[str, Any]:
        """Final metrics of a split (`eval_results.json` / `test_results.json`), Trainer-style keys."""
        name = "test_results.json" if split == "test" else "eval_results.json"
        return read_json(self.eval_dir / name, default={}) or {}


def frozen_config(path: Path) -> RunConfig:
    """A run's config.yaml (or a checkpoint's copy of it) as the run trains with it."""
    values = read_config_file(path)
    config = RunConfig.from_dict(values)
    if "head_learning_rate" not in values and config.training.head_learning_rate is not None:
        # Frozen before head_learning_rate existed, so its head trained at the learning rate: it resumes
        # (its optimizer state has no group for a head) and is reproduced that way, also once saved again.
        config.training.head_learning_rate = config.training.learning_rate
    return config


def interrupted_message(status: dict[str, Any]) -> str:
    """What most likely ended a run whose process died without recording its end, and what to do.

    Such a process was killed from outside. The studio that launched it watches it and records the signal
    it saw (`exit_signal`, `exit_code`: `finetuner.launcher.watch_exit`): a SIGKILL seen while the studio
    still ran is most often the kernel's out-of-memory killer. When no end was recorded, the watching
    studio was gone before the process ended: on a Space that is the Space restarting or stopping, which
    ends every process it runs (`ended_by_restart`); elsewhere the cause is unknown, and both are said.
    """
    from .train import OOM_ADVICE  # noqa: PLC0415 - light; train imports this module

    advice = OOM_ADVICE.removeprefix("Out of memory. ")
    resume = "Press Resume (or `python -m finetuner resume RUN`) to continue from the last checkpoint."
    name, code = status.get("exit_signal"), status.get("exit_code")
    if status.get("disk_full") and name != "SIGKILL":
        return (
            "The training process ended without finishing, and the disk that holds its run folder is full: a checkpoint, "
            "and then the failure itself, could not be written. Free some space (the checkpoints/ folders of old runs are the "
            "largest; a lower save_total_limit keeps fewer), then press Resume: it continues from the last complete checkpoint."
        )
    if name == "SIGKILL":
        return (
            "The training process was killed (SIGKILL) before it finished, while the studio that started it kept running. "
            f"That is most often the kernel's out-of-memory killer: the machine ran out of memory. {resume} To use less memory: {advice}"
        )
    if name:
        return f"The training process was ended by {name} before it finished; resume to continue from the last checkpoint."
    if code not in (None, 0, 1):
        return f"The training process exited with code {code} without finishing (see train.log); resume to continue from the last checkpoint."
    if ended_by_restart(status):
        return (
            "The training process ended without finishing when the Space restarted or stopped: the studio that started it "
            f"was gone too, and a Space's restart ends every process it runs. Nothing points to a lack of memory. {resume}"
        )
    return (
        "The training process ended without finishing, and nothing recorded why. Either it was killed from outside, most often by "
        "the kernel's out-of-memory killer when the machine runs out of memory, or the machine restarted or shut down while it trained. "
        f"{resume} If it ran out of memory: {advice}"
    )


def ended_by_restart(status: dict[str, Any]) -> bool:
    """An unrecorded end of a run a studio launched on a Space, read by another process than that studio:
    its watcher was gone before the process ended, and on a Space the app ends only when the Space restarts
    or stops, which kills the training process as well."""
    from .access import on_spaces  # noqa: PLC0415 - access imports this module

    watcher = status.get("watched_by")
    recorded = status.get("exit_signal") or status.get("exit_code") is not None
    return on_spaces() and bool(watcher) and watcher != THIS_PROCESS and not recorded


def memory_may_have_ended(status: dict[str, Any]) -> bool:
    """True for a run that failed for lack of memory, or whose process was killed from outside in a way the
    kernel's out-of-memory killer kills (SIGKILL, or an unknown end): a smaller batch is worth a retry then.
    Not after a Space's restart ended it (`ended_by_restart`), nor when its disk is full: memory was not the cause."""
    if status.get("state") == FAILED:
        return bool(status.get("out_of_memory"))
    if status.get("state") != INTERRUPTED or ended_by_restart(status) or status.get("disk_full"):
        return False
    return status.get("exit_signal") in (None, "SIGKILL") and status.get("exit_code") in (None, 1, -signal.SIGKILL)


def trained_seconds(events: list[dict[str, Any]]) -> float:
    """The training time of the sessions these events record (a stopped or interrupted run's, then each resume's):
    each session's last logged `elapsed_seconds`, its training loop's clock, which starts again with each session
    (from one `status` event of a start to the next)."""
    total, last = 0.0, 0.0
    for event in events:
        if event.get("type") == "status" and event.get("state") == "running":
            total, last = total + last, 0.0
        elif isinstance(event.get("elapsed_seconds"), (int, float)):
            last = float(event["elapsed_seconds"])
    return total + last


def read_events(path: Path, offset: int = 0) -> Iterator[dict[str, Any]]:
    """Events from a JSONL file, skipping a last line that is still being written."""
    try:
        with open(path, encoding="utf-8") as handle:
            handle.seek(offset)
            for line in handle:
                if line.endswith("\n"):
                    yield json.loads(line)
    except FileNotFoundError:
        return


class RunStore:
    """The runs directory: create, find and list runs."""

    def __init__(self, runs_dir: str | Path = DEFAULT_RUNS_DIR):
        self.root = Path(runs_dir).resolve()

    def create(self, config: RunConfig, *, run_id: str | None = None, owner: str | None = None) -> Run:
        run_id = run_id or new_run_id(config.model.model_name_or_path)
        check_run_name(run_id)
        path = self.root / run_id
        if path.exists():
            raise RunError(_name_taken(run_id, self.root))
        try:
            path.mkdir(parents=True)
        except FileExistsError:
            raise RunError(_name_taken(run_id, self.root)) from None  # made meanwhile
        except OSError as error:
            raise RunError(_cannot_write(self.root, error)) from error
        run = Run(path)
        try:
            config.save(run.config_path)
            run.update_status(run_id=run_id, state=QUEUED, created_at=time.time(), owner=owner)
        except OSError as error:  # a full disk: no half-made folder left to hold the name
            shutil.rmtree(path, ignore_errors=True)
            raise RunError(_cannot_write(self.root, error)) from error
        return run

    def get(self, run_id: str) -> Run:
        if not run_id or not _RUN_ID.match(run_id):
            raise RunNotFoundError(f"'{run_id}' is not a valid run id.")
        run = Run(self.root / run_id)
        if not run.config_path.is_file():
            raise RunNotFoundError(f"No run '{run_id}' in {self.root}. List runs with `python -m finetuner runs`.")
        return run

    def list(self, owner: str | None = None) -> list[Run]:
        """Runs, newest first; with `owner`, only that user's."""
        if not self.root.is_dir():
            return []
        runs = [Run(p) for p in self.root.iterdir() if (p / "config.yaml").is_file()]
        if owner is not None:
            runs = [r for r in runs if r.raw_status().get("owner") == owner]
        return sorted(runs, key=lambda r: r.raw_status().get("created_at", 0), reverse=True)

    def delete(self, run_id: str) -> None:
        """Remove a run's folder; not while a process trains it (or waits in the queue to)."""
        run = self.get(run_id)
        if run.is_alive():
            state = run.state
            raise RunError(f"Run {run_id} is {'waiting in the queue' if state == QUEUED else 'training'}; stop it before deleting it.")
        try:
            shutil.rmtree(run.path)
        except OSError as error:
            raise RunError(f"Run {run_id} could not be deleted wholly ({error.strerror or error}).") from error


def check_run_name(run_id: str) -> None:
    """Refuse a run name that cannot name a run's folder, saying why and offering one that can ('my run é' -> 'my-run-e')."""
    if _RUN_ID.match(run_id):
        return
    ascii_name = unicodedata.normalize("NFKD", run_id).encode("ascii", "ignore").decode()
    suggestion = re.sub(r"[^A-Za-z0-9_.-]+", "-", ascii_name).strip("-._")[:128]
    also = f" '{suggestion}' would do." if suggestion else ""
    raise RunError(f"Run name '{run_id}' must start with a letter or digit and hold only letters, digits, '.', '_' and '-' (no spaces or accents).{also}")


def _name_taken(run_id: str, root: Path) -> str:
    """Why a run cannot take this name. On a shared studio without the server's runs folder, nor whose run has
    it: visitors share one folder, so the name may be another visitor's run, which they must not learn of."""
    from .access import shared_mode  # noqa: PLC0415 - access imports this module

    if shared_mode():
        return f"The run name '{run_id}' is taken; choose another (or leave the name empty for a new one)."
    return f"A run named '{run_id}' already exists in {root}; choose another name."


def _cannot_write(root: Path, error: OSError) -> str:
    """Why no run folder could be made (a full disk, a folder not writable), and what to do; on a shared
    studio without the server's folder, which its visitors are not shown."""
    from .access import shared_mode  # noqa: PLC0415 - access imports this module

    why = error.strerror or str(error)
    if shared_mode():
        return f"The studio cannot write a new run folder ({why}). Ask its owner to free space or fix the runs folder."
    if error.errno == errno.ENOSPC:
        fix = "Free some space on that disk (the checkpoints/ folders of old runs are the largest) or choose another runs folder"
    else:
        fix = "Make it writable or choose another runs folder"
    return f"Cannot write a run folder in {root}: {why}. {fix} (the studio's --runs-dir, the CLI's --runs_dir)."


def find_run(runs_dir: str | Path, name: str) -> Run:
    """A run by its id under `runs_dir`, or by the path of its folder (where `--output_dir` put it): the
    CLI's user may name either. (The studio names runs by id only, inside its own runs folder.)"""
    try:
        return RunStore(runs_dir).get(name)
    except RunNotFoundError:
        folder = Path(name).expanduser()
        if (folder / "config.yaml").is_file():
            return Run(folder.resolve())
        if os.sep in name or name.startswith((".", "~")):
            raise RunNotFoundError(f"No run folder at '{name}': it has no config.yaml.") from None
        raise
