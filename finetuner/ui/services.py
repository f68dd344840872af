"""What the studio's tabs ask of the engine, as plain functions on plain values. No gradio import.

The tabs hold only small JSON-able values (a dataset *selection*, a run id); everything else is
rebuilt here from files. The caches below are keyed by content (file path + modification time, model
name, max_length) and by whose token read the Hub (`hub_reads.reader`), so they are shared safely between
sessions: two users with the same data get the same prepared splits, nobody can reach data they did not
name, and a private Hub dataset or model one visitor's token read never reaches another visitor.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import shlex
import shutil
import threading
import time
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
import yaml

from .. import access, compare
from ..config import MAX_SEED, SFT_TRAINING_ARGUMENTS, DataConfig, ModelConfig, RunConfig, TrainingConfig, default_model_path, field_choices, load_yaml
from ..errors import ConfigError, DataError
from ..evaluate_run import saves_into_run
from ..hub_reads import reader
from ..runs import ACTIVE_STATES, QUEUED, RUNNING, Run, RunStore, read_json
from ..tasks import TASKS, headline_score, ignores
from ..train import WAITING_MESSAGE

EXAMPLE_DATASET = Path(__file__).resolve().parent.parent / "examples" / "movie_reviews.csv"
EXAMPLE_NAME = "Example: movie reviews (positive / negative)"
AUTO = "(auto-detect)"
NO_PAIR = "(none)"
MAX_PREVIEW_ROWS = 50
MAX_STATS_ROWS = 5000  # token statistics on a sample of big datasets

SOURCE_EXAMPLE, SOURCE_FILE, SOURCE_HUB = "Example dataset", "Upload files", "Hugging Face Hub"
SOURCES = (SOURCE_EXAMPLE, SOURCE_FILE, SOURCE_HUB)


DEFAULT_TASK = "text-classification"
DEFAULT_METRIC = "(the task's default)"


def default_selection() -> dict[str, Any]:
    """The example dataset, preselected so a new user can train without choosing anything."""
    return {"task": DEFAULT_TASK, "source": SOURCE_EXAMPLE, "train_file": str(EXAMPLE_DATASET), "name": EXAMPLE_NAME}


# The bundled example's epochs on the Train form. At the Trainer's 3 its 256 training reviews take 48
# optimizer steps, too few to learn (the plan says so); 10 take 160 and scored +0.059 test accuracy over 3
# (95% interval +0.020 to +0.102) in benchmarks/example_epochs.py. The config's and the CLI's default stays 3.
EXAMPLE_EPOCHS = 10


def suggested_epochs(selection: Mapping[str, Any] | None) -> float:
    """The epochs the Train form shows for this data while the user has not chosen any: the example's own,
    else the Trainer's default."""
    if (selection or default_selection()).get("source") == SOURCE_EXAMPLE:
        return EXAMPLE_EPOCHS
    return TrainingConfig().num_train_epochs


def task_of(selection: Mapping[str, Any] | None) -> str:
    return (selection or {}).get("task") or DEFAULT_TASK


# What each task reads from a row, for a message on data that does not fit it.
TASK_NEEDS = {
    "text-classification": "text/label pair",
    "token-classification": "words/tags pair",
    "causal-lm": "prompt/completion pair (or chat messages)",
    "seq2seq": "document/summary pair",
}


def task_mismatch(selection: Mapping[str, Any] | None, task: str) -> str | None:
    """None when the loaded data is `task`'s; else what is wrong and what to do, in the user's words: the
    data stays loaded when the chosen task cannot read it."""
    selection = selection or default_selection()
    loaded = task_of(selection)
    if loaded == task or task not in TASKS:
        return None
    try:
        columns = ", ".join(map(str, raw_frames(selection)["train"].columns))
    except Exception:  # noqa: BLE001 - the message does without the columns
        columns = ""
    held = f"its columns ({columns})" if columns else "it"
    title = TASKS[task].title.split(" (")[0]
    return (
        f"{selection.get('name') or 'The loaded data'} does not fit {title.lower()}: {held} hold no {TASK_NEEDS.get(task, 'columns for it')}. "
        f"Load {title.lower()} data on the Data tab (upload a file or give a Hub dataset id), or choose {TASKS[loaded].title.split(' (')[0]} again."
    )


def check_task_fits(selection: Mapping[str, Any] | None, task: str) -> None:
    """Refuse to estimate or train `task` on data loaded for another task (`task_mismatch` says why)."""
    problem = task_mismatch(selection, task)
    if problem:
        raise DataError(problem)


def model_choices(runs_dir: str | Path | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs: the bundled offline model first, then models of earlier runs (not on a
    shared studio: those name other visitors' runs, and the list is built into the page for everyone)."""
    choices = [("all-MiniLM-L6-v2 · bundled, works offline (22M parameters)", default_model_path())]
    seen = {default_model_path()}
    if runs_dir is not None and not access.shared_mode():
        for run in RunStore(runs_dir).list()[:50]:
            try:
                name = run.config().model.model_name_or_path
            except Exception:  # noqa: BLE001 - a broken run folder must not break the list
                continue
            if name not in seen:
                seen.add(name)
                choices.append((name, name))
    return choices


# ---------------------------------------------------------------- data


def store_upload(path: str | Path | None, runs_dir: str | Path) -> str | None:
    """Copy an uploaded file to `<runs_dir>/uploads/<content hash>/<name>`, so runs that name it stay
    reproducible after the upload's temporary file is gone. Same content, same path.

    A runs folder that cannot be written (a read-only share of past runs) takes no upload, and no run
    either: the copy then goes to `access.temporary_uploads()`, for the data to be previewed and inspected.
    `build_config` moves it into the runs folder once that takes runs, so no run names a temporary file."""
    if not path:
        return None
    source = Path(path)
    if not source.is_file():
        raise DataError(f"The uploaded file '{source.name}' is gone; upload it again.")
    uploads = Path(runs_dir).resolve() / access.UPLOADS
    try:
        if source.resolve().is_relative_to(uploads):
            return str(source.resolve())
    except ValueError:
        pass
    digest = hashlib.sha256()
    with open(source, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    stored = Path(digest.hexdigest()[:16]) / source.name
    try:
        return _copy_upload(source, uploads / stored)
    except OSError as error:
        if not _takes_no_runs(Path(runs_dir)):
            raise DataError(_cannot_store(source.name, uploads, error)) from error
    temporary = access.temporary_uploads()
    try:
        return _copy_upload(source, temporary / stored)
    except OSError as error:
        raise DataError(_cannot_store(source.name, temporary, error, runs_folder=Path(runs_dir).resolve())) from error


def _copy_upload(source: Path, target: Path) -> str:
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    return str(target)


def _takes_no_runs(runs_dir: Path) -> bool:
    """Whether the runs folder, whose uploads folder refused a copy, can take no run either (a read-only file
    system, or a folder this user may not write). A full disk, or an uploads folder alone that cannot be
    written, would let a run start on a temporary copy: those get a message instead."""
    return not os.access(runs_dir, os.W_OK | os.X_OK)


def _cannot_store(name: str, folder: Path, error: OSError, *, runs_folder: Path | None = None) -> str:
    """Why an upload could not be kept, and what to do; on a shared studio without the server's folders."""
    why = error.strerror or str(error)
    if access.shared_mode():
        return f"The studio cannot store the uploaded file '{name}' ({why}). Ask its owner to free space or fix the runs folder."
    if runs_folder is not None:  # the runs folder is read-only, and the temporary folder failed too
        return f"Cannot store the uploaded file '{name}': the runs folder {runs_folder} is read-only, and the temporary folder {folder} failed too ({why}). Free space there, or start the studio on a runs folder you can write (--runs-dir)."
    fix = "Free some space on that disk (the checkpoints/ folders of old runs are the largest)" if error.errno == errno.ENOSPC else "Make it writable"
    return f"Cannot store the uploaded file '{name}' in {folder}: {why}. {fix}, or start the studio on another runs folder (--runs-dir): runs name their data's copy there, so it must outlive the upload."


def temporary_upload_note(selection: Mapping[str, Any], runs_dir: str | Path) -> str:
    """What the Data tab says of uploads `store_upload` could keep only in the temporary folder (the runs folder
    is read-only): the system may clear that folder, and no run starts from it; "" for data kept elsewhere.
    Plain text (the page escapes it); on a shared studio without the server's folders, and with whom to ask."""
    names = [Path(selection[name]).name for name in ("train_file", "validation_file", "test_file") if selection.get(name) and Path(selection[name]).resolve().is_relative_to(access.temporary_uploads())]
    if not names or not _takes_no_runs(Path(runs_dir)):  # runs start again there: Start moves the copy in (`build_config`)
        return ""
    files = ", ".join(f"'{name}'" for name in names) + (" is" if len(names) == 1 else " are")
    if access.shared_mode():
        return (
            f"This studio's runs folder cannot be written, so {files} kept in a temporary folder, "
            "which the server may clear (a restart does; upload it again then), and no run can start here. Ask the studio's owner for a runs folder it can write."
        )
    return (
        f"The runs folder {Path(runs_dir).resolve()} cannot be written, so {files} kept in "
        f"{access.temporary_uploads()}, which the system may clear (a restart of this machine does; upload it again then), and no run can start here. "
        "To keep uploads and train, start the studio on a folder you can write: set FINETUNER_RUNS_DIR to it, or pass --runs-dir."
    )


def make_selection(
    source: str,
    *,
    train_file: str | None = None,
    validation_file: str | None = None,
    test_file: str | None = None,
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    split: str | None = None,
    text_column: str | None = None,
    text_pair_column: str | None = None,
    label_column: str | None = None,
    runs_dir: str | Path = "runs",
    task: str = DEFAULT_TASK,
    shared: bool | None = None,
) -> dict[str, Any]:
    """A dataset selection (the JSON the page keeps) from the Dataset tab's fields, uploads made stable.

    On a shared studio (`shared=None`: `access.shared_mode()`) the files must be uploads and the dataset
    id a Hub id (`access.check_locations`, `LocationNotAllowedError` otherwise), checked before anything is read.
    """
    if task not in TASKS:
        raise DataError(f"Unknown task '{task}'. Choose one of: {', '.join(TASKS)}.")
    source = source or SOURCE_EXAMPLE
    if source == SOURCE_EXAMPLE and task != DEFAULT_TASK:
        raise DataError(f"The example dataset is for text classification. For {TASKS[task].title.lower()}, upload a file or give a Hub dataset id.")
    if source not in SOURCES:
        raise DataError(f"Unknown data source '{source}'; choose one of: {', '.join(SOURCES)}.")
    if source == SOURCE_EXAMPLE:
        selection = default_selection()
    elif source == SOURCE_FILE:
        if not train_file:
            raise DataError("Upload a training file first (CSV, TSV, JSON, JSONL or Parquet).")
        access.check_locations(runs_dir=runs_dir, data_files=[train_file, validation_file, test_file], shared=shared)
        selection = {
            "source": source,
            "train_file": store_upload(train_file, runs_dir),
            "validation_file": store_upload(validation_file, runs_dir),
            "test_file": store_upload(test_file, runs_dir),
            "name": Path(train_file).name,
        }
    else:
        if not (dataset_name or "").strip():
            raise DataError("Enter a Hugging Face dataset id, for example 'stanfordnlp/sst2'.")
        access.check_locations(runs_dir=runs_dir, dataset_name=dataset_name, shared=shared)
        selection = {
            "source": source,
            "dataset_name": dataset_name.strip(),
            "dataset_config_name": (dataset_config_name or "").strip() or None,
            "train_split_name": (split or "").strip() or "train",
            "name": dataset_name.strip() + (f" ({dataset_config_name.strip()})" if (dataset_config_name or "").strip() else ""),
        }
    texts = [c for c in (text_column, text_pair_column) if c and c not in (AUTO, NO_PAIR)]
    if text_pair_column and text_pair_column not in (AUTO, NO_PAIR) and (not text_column or text_column == AUTO):
        raise DataError("Choose the first text column before a second one.")
    if texts:
        selection["text_column_names"] = texts
    if label_column and label_column != AUTO:
        selection["label_column_name"] = label_column
    selection["task"] = task
    return {k: v for k, v in selection.items() if v is not None}


def selection_fields(selection: Mapping[str, Any]) -> dict[str, Any]:
    """The Data tab's fields that make this selection again (its source, files or Hub id, text and label
    columns; the other tasks' column fields carry their config names in the selection itself): a
    selection the browser kept over a reload goes back through `make_selection`, and so through the same
    checks as one the user just made (an upload that is gone, a server path on a shared studio)."""
    texts = list(selection.get("text_column_names") or [])
    return {
        "task": task_of(selection),
        "source": selection.get("source") or SOURCE_EXAMPLE,
        "train_file": selection.get("train_file"),
        "validation_file": selection.get("validation_file"),
        "test_file": selection.get("test_file"),
        "dataset_name": selection.get("dataset_name") or "",
        "dataset_config_name": selection.get("dataset_config_name") or "",
        "split": selection.get("train_split_name") or "train",
        "text_column": texts[0] if texts else AUTO,
        "text_pair_column": texts[1] if len(texts) > 1 else NO_PAIR,
        "label_column": selection.get("label_column_name") or AUTO,
    }


def restorable_form(saved: Any, fields: Iterable[str]) -> dict[str, Any] | None:
    """The Train form's values a browser kept over a reload that still fit the form: known fields only, and
    where a field takes one of fixed values, a value still offered (an option renamed since keeps the
    default). None when nothing usable was kept."""
    choices = field_choices()
    if not isinstance(saved, Mapping) or saved.get("task") not in choices["task"]:
        return None
    fields = set(fields)
    return {name: value for name, value in saved.items() if name in fields and (name not in choices or value in choices[name])}


# The Train form's options that decide which rows of the training file a run holds out for validation and
# test (with the seed) and how many it trains on.
SPLIT_FIELDS = ("validation_split_ratio", "test_split_ratio", "max_train_samples")


def split_options(form: Mapping[str, Any] | None) -> dict[str, Any]:
    """The seed and split options of a run started from the Train form's values `form` (as the page keeps
    them): the Data tab shows the splits that run trains and evaluates on, not the default seed's. A value
    the form lacks or holds invalid counts as its default (Start refuses it and says why)."""
    form = form if isinstance(form, Mapping) else {}
    default = RunConfig()
    seed = form.get("seed")
    whole = isinstance(seed, (int, float)) and float(seed).is_integer() and 0 <= seed <= MAX_SEED
    options: dict[str, Any] = {"seed": int(seed) if whole else default.training.seed}
    limit = form.get("max_train_samples")
    values = {
        "validation_split_ratio": form.get("validation_split_ratio", default.data.validation_split_ratio),
        "test_split_ratio": form.get("test_split_ratio", default.data.test_split_ratio),
        "max_train_samples": int(limit) if isinstance(limit, (int, float)) and limit else None,
    }
    try:
        DataConfig(**values)
    except (ConfigError, TypeError):
        values = {name: getattr(default.data, name) for name in SPLIT_FIELDS}
    return {**options, **values}


def split_selection(selection: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """The selection with `split_options`' shares and limit: what `prepared` and `token_stats` split by."""
    return {**selection, **{name: options[name] for name in SPLIT_FIELDS}}


def data_config(selection: Mapping[str, Any], **overrides: Any) -> DataConfig:
    names = {f.name for f in dataclasses.fields(DataConfig)}
    values = {k: v for k, v in selection.items() if k in names}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return DataConfig(**values)


def _key(selection: Mapping[str, Any], **extra: Any) -> str:
    """The cache key of a selection's data: its task and DataConfig (defaults filled in), not the dict's own
    shape. The Data tab's selection and a run's config made from it (`build_config`, as Estimate, the plan and
    Start read the data) then share one preparation and one set of token statistics: keyed by the dicts as
    given, Estimate prepared and tokenized the data again, seconds on a big file."""
    selection = {**{k: v for k, v in dataclasses.asdict(data_config(selection)).items() if v is not None}, "task": task_of(selection)}
    stamps = {}
    for name in ("train_file", "validation_file", "test_file"):
        if selection.get(name):
            try:
                stamps[name] = Path(selection[name]).stat().st_mtime_ns
            except OSError:
                stamps[name] = None
    return json.dumps({"selection": dict(selection), "stamps": stamps, "reader": reader(selection.get("dataset_name")), **extra}, sort_keys=True, default=str)


_lock = threading.Lock()


@lru_cache(maxsize=8)
def _raw(key: str):
    from ..data import load_raw  # noqa: PLC0415

    selection = json.loads(key)["selection"]
    return load_raw(data_config(selection))


def task_config(selection: Mapping[str, Any], *, seed: int = 42, model: str | None = None, max_length: int | None = None, **overrides: Any) -> RunConfig:
    """A RunConfig for the selection's task and data (defaults elsewhere), to call the task's hooks with."""
    names = {f.name for f in dataclasses.fields(DataConfig)}
    values: dict[str, Any] = {k: v for k, v in selection.items() if k in names}
    values.update({k: v for k, v in overrides.items() if v is not None})
    values.update(task=task_of(selection), seed=seed)
    if model:
        values["model_name_or_path"] = model
    if max_length:
        values["max_seq_length"] = int(max_length)
    return RunConfig.from_dict(values)


@lru_cache(maxsize=8)
def _prepared(key: str):
    from ..tasks import get_task  # noqa: PLC0415

    parsed = json.loads(key)
    config = task_config(parsed["selection"], seed=parsed["seed"], **parsed.get("overrides", {}))
    return get_task(config.model.task).prepare_data(config)


def raw_frames(selection: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The splits as they come (all columns), for the preview and the column dropdowns."""
    return _raw(_key(selection))


def prepared(selection: Mapping[str, Any], *, seed: int = 42, **overrides: Any):
    """The task's `prepare_data` on the selection: normalised splits, labels, report. Cached."""
    return _prepared(_key(selection, seed=seed, overrides={k: v for k, v in overrides.items() if v is not None}))


def data_report(selection: Mapping[str, Any], data) -> dict[str, Any]:
    """The task's data report (split sizes, class counts, warnings, columns) as a dict."""
    from ..tasks import get_task  # noqa: PLC0415

    return get_task(task_of(selection)).data_report(data)


def carved_splits(data) -> list[str]:
    """The splits the tool held out of the training file (they share its row numbers)."""
    report = data.report
    return list(report.get("created_splits", []) if isinstance(report, Mapping) else report.created_splits)


def example_at_row(selection: Mapping[str, Any], data, split: str, row: int) -> tuple[str, int]:
    """(split, place in it) of the example read from row `row` of `split`'s file, numbered from 0 as the Data
    tab's preview numbers the training file. Splits carved from the training file share its numbering, so
    a row held out of train is found in validation or test (the split returned says where)."""
    created = carved_splits(data)
    if split not in data.splits:
        raise DataError(f"The dataset has no split '{split}'; it has: {', '.join(data.splits)}.")
    from_train = split == "train" or split in created
    file_split = "train" if from_train else split
    looked = [split, *(s for s in ["train", *created] if s != split)] if from_train else [split]
    for role in looked:
        rows = data.rows.get(role, [])
        if row in rows:
            return role, rows.index(row)
    size = len(raw_frames(selection)[file_split])
    what = "training" if from_train else split
    if not 0 <= row < size:
        raise DataError(f"Row {row} is out of range: the {what} file has rows 0 to {size - 1}.")
    raise DataError(f"Row {row} of the {what} file is not an example: it was left out (no label, no text or no answer, or past Max training examples). The Data checks say how many.")


# The columns each task reads as the model's input, for the text-length chart and the example picker.
INPUT_COLUMNS = {"text-classification": ("text", "text_pair"), "token-classification": ("tokens",), "seq2seq": ("document",), "causal-lm": ("prompt", "completion")}


def words(value: Any) -> int:
    """Words in a text, a list of words (NER) or a list of chat messages."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, dict):
        return words(value.get("content", ""))
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        return sum(words(v) if not isinstance(v, str) or " " in v else 1 for v in value)
    return 0


def word_lengths(splits, task: str = DEFAULT_TASK) -> dict[str, list[int]]:
    """Words per example's model input, per split. A column is read whole (`split[c][:]`): iterating a
    `datasets` column formats it row by row, 2.5 s for SST-2's 67,349 texts."""
    out = {}
    for role, split in splits.items():
        columns = [c for c in INPUT_COLUMNS.get(task, ("text",)) if c in split.column_names]
        values = [split[c][:] for c in columns]
        out[role] = [sum(words(v) for v in row) for row in zip(*values)] if values else []
    return out


@lru_cache(maxsize=4)
def _tokenizer(task: str, name_or_path: str, reader: str):
    from ..inference import hub_model_location  # noqa: PLC0415
    from ..tasks import get_task  # noqa: PLC0415 - heavy

    location = name_or_path if Path(name_or_path).exists() else hub_model_location(name_or_path)
    return get_task(task).load_tokenizer(RunConfig.from_dict({"task": task, "model_name_or_path": location}))


def tokenizer(name_or_path: str, task: str = DEFAULT_TASK):
    """The task's tokenizer for a model (cached): what training will use. A Hub id is read from the local
    cache when the Hub cannot be reached (`hub_model_location`: one request), not asked of the Hub file by
    file with huggingface_hub's retries, which took half a minute and then failed on its chat-template listing.
    The studio's process stays online (a push needs the Hub): only this tokenizer's files come from the cache."""
    return _tokenizer(task, name_or_path, reader(name_or_path))


def sampled_splits(splits, limit: int = MAX_STATS_ROWS):
    """At most `limit` rows of each split, drawn at random (seeded, so the same every time) and kept in the
    split's order. The first `limit` rows stood for the whole split before: a split in its file's order (a
    validation file sorted by label, say) then counted only the first classes' texts."""
    import datasets  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    def sample(split):
        if len(split) <= limit:
            return split
        return split.select(np.sort(np.random.default_rng(0).choice(len(split), size=limit, replace=False)))

    return datasets.DatasetDict({role: sample(split) for role, split in splits.items()})


_measured_stats: OrderedDict[tuple, dict] = OrderedDict()  # the last MAX_MEASURED_STATS `_token_stats` results
_measured_stats_lock = threading.Lock()
MAX_MEASURED_STATS = 8


def _measured_token_stats(key: str, model: str, max_length: int):
    """What `_token_stats` keeps for these arguments, else None: nothing is measured, no tokenizer loaded."""
    with _measured_stats_lock:
        if (key, model, max_length) not in _measured_stats:
            return None
        _measured_stats.move_to_end((key, model, max_length))
        return _measured_stats[(key, model, max_length)]


def forget_token_stats() -> None:
    """Forget every kept `_token_stats` result: the next call measures anew (benchmarks time a first load so)."""
    with _measured_stats_lock:
        _measured_stats.clear()


def _token_stats(key: str, model: str, max_length: int):
    """`_measure_token_stats`, kept for the last MAX_MEASURED_STATS keys."""
    stats = _measured_token_stats(key, model, max_length)
    if stats is None:
        stats = _measure_token_stats(key, model, max_length)
        with _measured_stats_lock:
            _measured_stats[(key, model, max_length)] = stats
            while len(_measured_stats) > MAX_MEASURED_STATS:
                _measured_stats.popitem(last=False)
    return stats


def _measure_token_stats(key: str, model: str, max_length: int):
    from ..tasks import get_task  # noqa: PLC0415

    parsed = json.loads(key)
    selection = parsed["selection"]
    splits = prepared(selection, seed=parsed["seed"]).splits
    config = task_config(selection, seed=parsed["seed"], model=model, max_length=max_length, **parsed.get("tokenization", {}))
    task, hooks = config.model.task, get_task(config.model.task)
    loaded = tokenizer(model, task)
    stats = hooks.length_statistics(sampled_splits(splits), loaded, config, memo=length_memo(task, loaded, hooks.length_settings(config)))
    for role, split in splits.items():  # a sampled split says of how many examples: the page shows it
        if stats[role]["count"] < len(split):
            stats[role]["sampled_from"] = len(split)
    return stats


# Per task, tokenizer and length settings (`length_memo`): each example's measured token counts, by its text's digest.
_length_memos: OrderedDict[tuple, tuple[Any, dict]] = OrderedDict()
_length_memos_lock = threading.Lock()
MAX_LENGTH_MEMOS = 4  # as many tokenizers as `_tokenizer` keeps


def length_memo(task: str, loaded_tokenizer, settings: tuple) -> dict:
    """The memo of measured token counts (`tasks.base.measured_statistics`) for this tokenizer object and these settings:
    a new seed splits the same texts otherwise, and a new max_seq_length cuts the same counts elsewhere, so neither
    measures them again (GSM8K's conversations through the chat template: seconds). Keyed by the tokenizer object
    itself (kept here, so its id cannot be re-used): a tokenizer loaded again gets a new memo."""
    key = (task, id(loaded_tokenizer), settings)
    with _length_memos_lock:
        entry = _length_memos.get(key)
        if entry is None or entry[0] is not loaded_tokenizer:
            entry = _length_memos[key] = (loaded_tokenizer, {})
        _length_memos.move_to_end(key)
        while len(_length_memos) > MAX_LENGTH_MEMOS:
            _length_memos.popitem(last=False)
    return entry[1]


def option_names(task: str, *, lengths: bool = False) -> tuple[str, ...]:
    """The Train form's options that change what `task`'s tokenizer makes of an example beyond the model and
    max_seq_length, as its module declares them (`TOKENIZATION_OPTIONS`: the inspector follows each); with
    `lengths`, those that change its token counts (`LENGTH_OPTIONS`: the token-length chart, Estimate)."""
    from ..tasks import get_task  # noqa: PLC0415

    if task not in TASKS:
        return ()
    module = get_task(task)
    return module.LENGTH_OPTIONS if lengths else module.TOKENIZATION_OPTIONS


def tokenization_options(task: str, values: Mapping[str, Any] | None) -> dict[str, Any]:
    """The task's tokenization options (`option_names`) as the Train form (or a config's flat values) sets them; None where it sets
    none (the task's default). A prefix keeps its spaces ('summarize: '), as `build_config` keeps them; an empty
    language code is none."""
    values = values or {}
    out: dict[str, Any] = {}
    for name in option_names(task):
        value = values.get(name)
        if name in ("source_lang", "target_lang"):
            value = str(value or "").strip() or None
        elif name == "max_target_length" and isinstance(value, float) and value.is_integer():
            value = int(value)
        elif name == "max_target_length" and value == "":
            value = None
        out[name] = value
    return out


def config_tokenization(config: RunConfig) -> dict[str, Any]:
    """`tokenization_options` of a RunConfig: what `inspect_row` and `token_stats` take to tokenize as its run will."""
    return tokenization_options(config.model.task, config.to_dict())


def inspect_row(
    selection: Mapping[str, Any], model: str, max_length: int, row: dict[str, Any], *, label_names: list[str] | None = None,
    runs_dir: str | Path | None = None, owner: str | None = None,
    label_all_tokens: bool | None = None, completion_only_loss: bool | None = None,
    source_prefix: str | None = None, max_target_length: int | None = None, source_lang: str | None = None, target_lang: str | None = None,
) -> dict[str, Any]:
    """The task's own view of one example: exactly what training feeds the model, under the Train form's options that
    change it (`option_names`; None: the task's default): the labels of an NER word's later sub-tokens under
    `label_all_tokens`, a causal LM's loss tokens under `completion_only_loss`, a seq2seq document after
    `source_prefix`, its summary cut at `max_target_length` and both marked with `source_lang` and `target_lang`.
    Options of other tasks are ignored. On a shared studio the model must be a Hub id, the bundled model or one of `owner`'s runs."""
    import inspect as introspect  # noqa: PLC0415

    from ..tasks import get_task  # noqa: PLC0415

    from ..tasks.base import check_max_length  # noqa: PLC0415

    options = dict(
        label_all_tokens=label_all_tokens, completion_only_loss=completion_only_loss,
        source_prefix=source_prefix, max_target_length=max_target_length, source_lang=source_lang, target_lang=target_lang,
    )
    access.check_locations(runs_dir=runs_dir or "runs", models=[model], owner=owner)
    task = task_of(selection)
    config = task_config(selection, model=model, max_length=max_length, **tokenization_options(task, options))
    check_max_length(config)  # past the model's positions nothing "fits": training would refuse that length
    hook = get_task(config.model.task).inspect_example
    extra = {"label_names": label_names} if "label_names" in introspect.signature(hook).parameters else {}
    return hook(tokenizer(model, config.model.task), row, config, **extra)


def token_stats(
    selection: Mapping[str, Any], model: str, max_length: int, *, seed: int = 42, runs_dir: str | Path | None = None, owner: str | None = None,
    label_all_tokens: bool | None = None, completion_only_loss: bool | None = None,
    source_prefix: str | None = None, max_target_length: int | None = None, source_lang: str | None = None, target_lang: str | None = None,
    measured_only: bool = False,
) -> dict[str, dict[str, Any]] | None:
    """Token lengths per split under this model's tokenizer (sampled for big datasets), under the Train form's
    options that change them (`option_names(task, lengths=True)` of the selection's task; the others are ignored).
    Cached; `measured_only`: the cached ones only, else None, loading no tokenizer. On a shared studio the model
    must be a Hub id, the bundled model or one of `owner`'s runs."""
    access.check_locations(runs_dir=runs_dir or "runs", models=[model], owner=owner)
    task = task_of(selection)
    options = dict(
        label_all_tokens=label_all_tokens, completion_only_loss=completion_only_loss,
        source_prefix=source_prefix, max_target_length=max_target_length, source_lang=source_lang, target_lang=target_lang,
    )
    lengths = option_names(task, lengths=True)
    settings = {k: v for k, v in tokenization_options(task, options).items() if k in lengths and v is not None}
    # whose token read the model's tokenizer counts too: the data's key says only who read the data
    key = _key(selection, seed=seed, model_reader=reader(model), **({"tokenization": settings} if settings else {}))
    return (_measured_token_stats if measured_only else _token_stats)(key, model, int(max_length))


# ---------------------------------------------------------------- packing (causal LM): where an inspected example lands


@lru_cache(maxsize=4)
def _packing_layout(key: str, model: str, max_length: int):
    from ..tasks import causal_lm  # noqa: PLC0415 - heavy

    parsed = json.loads(key)
    selection = parsed["selection"]
    config = task_config(selection, seed=parsed["seed"], model=model, max_length=max_length, packing=True, extra_training_args=parsed.get("packing_arguments"))
    return causal_lm.packing_layout(prepared(selection, seed=parsed["seed"]).splits["train"], tokenizer(model, config.model.task), config)


def packing_arguments(train_form: Mapping[str, Any] | None) -> dict[str, Any]:
    """The Train form's extra TrainingArguments that change how TRL packs (`config.SFT_TRAINING_ARGUMENTS`: a shuffle
    before packing, packing_strategy, dataset_num_proc); {} where it sets none or they do not parse (Start says why)."""
    try:
        extra = parse_extra_args((train_form or {}).get("extra_training_args"))
    except ConfigError:
        return {}
    return {name: extra[name] for name in SFT_TRAINING_ARGUMENTS if name in extra}


def packing_row(
    selection: Mapping[str, Any], model: str, max_length: int, place: int, *, seed: int = 42, arguments: Mapping[str, Any] | None = None,
    runs_dir: str | Path | None = None, owner: str | None = None,
) -> dict[str, Any]:
    """With the Train form's packing on (causal LM), how TRL's trainer packs the training split of `selection` (as
    `prepared` splits it at `seed`), with the form's extra TrainingArguments that change it (`arguments`:
    `packing_arguments`), and where the train example at `place` lands in it (`causal_lm.packing_of`).
    The layout is cached per data, model, max_length and those arguments. On a shared studio the model must be a Hub
    id, the bundled model or one of `owner`'s runs."""
    from ..tasks import causal_lm  # noqa: PLC0415 - heavy

    access.check_locations(runs_dir=runs_dir or "runs", models=[model], owner=owner)
    key = _key(selection, seed=seed, model_reader=reader(model), **({"packing_arguments": dict(arguments)} if arguments else {}))
    return causal_lm.packing_of(_packing_layout(key, model, int(max_length)), place)


# ---------------------------------------------------------------- configs


# Number fields where 0 (or empty) means "not set" on the form.
ZERO_IS_NONE = ("early_stopping_patience", "eval_steps", "max_train_samples", "max_eval_samples", "max_predict_samples")
# Fields where an empty value means "the task's default" (the config fills it in).
EMPTY_IS_DEFAULT = ("model_name_or_path", "max_seq_length", "learning_rate", "per_device_train_batch_size", "head_learning_rate", "metric_for_best_model", "lora_target_modules", "source_lang", "target_lang", "forced_bos_token")


def defaults(task: str | None = None) -> dict[str, Any]:
    """Default value of every config field, flat (as the form shows them); with `task`, that task's own."""
    return RunConfig.from_dict({"task": task}).to_dict() if task else RunConfig().to_dict()


def parse_extra_args(text: str | None) -> dict[str, Any]:
    """`extra_training_args` typed on the form as YAML or JSON (`fp16: true`, `{"optim": "adamw_torch"}`)."""
    if not text or not text.strip():
        return {}
    try:
        value = load_yaml(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"Extra TrainingArguments must be YAML or JSON, like 'fp16: true': {error}") from error
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError("Extra TrainingArguments must be a mapping of option names to values, like 'fp16: true'.")
    return value


def build_config(selection: Mapping[str, Any], values: Mapping[str, Any], *, runs_dir: str | Path | None = None, owner: str | None = None) -> RunConfig:
    """A validated RunConfig from the dataset selection and the training form (flat config names).

    On a shared studio its data and model locations are checked (`access.check_locations`): uploads, Hub
    ids, the bundled model and example, and folders of `owner`'s own runs only.
    """
    flat: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(DataConfig)}
    flat.update({k: v for k, v in selection.items() if k in names})
    for name, value in values.items():
        if name == "extra_training_args":
            value = parse_extra_args(value) if isinstance(value, str) or value is None else value
        elif isinstance(value, str) and name != "source_prefix":  # a prefix keeps its space: 'summarize: '
            value = value.strip()
        elif name == "lora_target_modules":  # the form's multiselect: names, or comma-separated names typed in
            value = [m.strip() for item in value or [] for m in str(item).split(",") if m.strip()] or None
        if name in EMPTY_IS_DEFAULT and value in ("", None):
            continue
        if name in ZERO_IS_NONE and value in (0, 0.0, "", None):
            value = None
        if value is None and name not in ZERO_IS_NONE and name != "extra_training_args":
            raise ConfigError(f"{name} is empty; give it a value.")
        if isinstance(value, float) and value.is_integer() and _is_int_field(name):
            value = int(value)
        flat[name] = value
    model = str(flat.get("model_name_or_path") or "").strip()
    if flat.get("metric_for_best_model") == DEFAULT_METRIC:
        flat.pop("metric_for_best_model")
    if runs_dir is not None:  # an upload kept while the runs folder was read-only moves in, now that a run may name it
        for name in ("train_file", "validation_file", "test_file"):
            if flat.get(name) and Path(flat[name]).resolve().is_relative_to(access.temporary_uploads()):
                flat[name] = store_upload(flat[name], runs_dir)
    config = RunConfig.from_dict(flat)
    data, m = config.data, config.model
    access.check_locations(
        runs_dir=runs_dir or "runs", data_files=[data.train_file, data.validation_file, data.test_file], dataset_name=data.dataset_name,
        models=[m.model_name_or_path, m.tokenizer_name], owner=owner, trust_remote_code=m.trust_remote_code,
        extra_training_args=config.training.extra_training_args,
    )
    if model.startswith(("/", "./", "../", "~")) and not Path(model).expanduser().is_dir():
        raise ConfigError(f"Model folder '{model}' does not exist. Give a Hub model id or an existing folder.")
    return config


def run_selection(config: RunConfig) -> dict[str, Any]:
    """The dataset selection a run trained on: its source, files or Hub id and columns, as the Data tab
    keeps them (what "Use its settings" loads again)."""
    data = config.data
    carried = ("train_file", "validation_file", "test_file", "dataset_name", "dataset_config_name", "train_split_name", "text_column_names", "label_column_name")
    selection: dict[str, Any] = {name: getattr(data, name) for name in carried}
    selection.update({f.name: getattr(data, f.name) for f in dataclasses.fields(DataConfig) if f.name.endswith("_column_name")})  # every task's columns
    if data.dataset_name:
        selection.update(source=SOURCE_HUB, name=data.dataset_name + (f" ({data.dataset_config_name})" if data.dataset_config_name else ""))
    elif data.train_file and Path(data.train_file) == EXAMPLE_DATASET:
        selection.update(source=SOURCE_EXAMPLE, name=EXAMPLE_NAME)
    else:
        selection.update(source=SOURCE_FILE, name=Path(data.train_file or "").name)
    selection["task"] = config.model.task
    return {k: v for k, v in selection.items() if v is not None}


def form_values(config: RunConfig, fields: Iterable[str]) -> dict[str, Any]:
    """The Train form's values that make `config` again with its data selection (`build_config`'s inverse)."""
    flat = config.to_dict()
    values: dict[str, Any] = {}
    for name in fields:
        value = flat.get(name)
        if name == "extra_training_args":
            value = yaml.safe_dump(value, sort_keys=False).strip() if value else ""
        elif name in ZERO_IS_NONE and value is None:
            value = 0
        elif name == "metric_for_best_model" and value == TASKS[config.model.task].default_metric:
            value = DEFAULT_METRIC
        elif name == "lora_target_modules":
            value = list(value or [])
        values[name] = value
    return values


def reused_settings(run_id: str, config: RunConfig, fields: Iterable[str], *, runs_dir: str | Path | None = None, owner: str | None = None) -> tuple[dict[str, Any], str]:
    """"Use its settings": the form's values that make the run's config again, and what to say. The config
    is rebuilt from them and the run's data as Start would build it, so the note names every option the
    form has no field for (trust_remote_code, say), or why the settings cannot start a run as they are (a
    model folder deleted since); the values go on the form either way, to be mended there."""
    from ..errors import FinetunerError  # noqa: PLC0415
    from .render import md_code, md_escape  # noqa: PLC0415

    values = form_values(config, fields)
    note = f"The form holds run **{md_escape(run_id)}**'s settings, and the Data tab loads its data."
    try:
        off = compare.config_diff(config, build_config(run_selection(config), values, runs_dir=runs_dir, owner=owner))
    except FinetunerError as error:
        return values, f"{note} As they are they cannot start a run: {md_escape(str(error))}"
    if off:
        note += " Not carried over (no field here; its config file has them): " + ", ".join(f"{md_code(name)} {md_escape(value)}" for name, value, _ in off) + "."
    return values, note


@lru_cache(maxsize=None)
def _int_fields() -> frozenset[str]:
    return frozenset(f.name for s in (DataConfig, ModelConfig, TrainingConfig) for f in dataclasses.fields(s) if str(f.type).startswith("int"))


def _is_int_field(name: str) -> bool:
    return name in _int_fields()


def shown_runs_dir(runs_dir: Path) -> str | None:
    """The runs folder as a command shown on the page names it: relative to where the studio was started, when
    inside it. None on a shared studio, whose visitors are not shown the server's folders: `cli_command` then
    names none (the visitor's own machine trains in its default `runs`), `launch_preview` a placeholder."""
    if access.shared_mode():
        return None
    try:
        return str(runs_dir.relative_to(Path.cwd()))
    except ValueError:
        return str(runs_dir)


def cli_command(config: RunConfig, *, runs_dir: str | Path | None = None, processes: int = 1) -> str:
    """The headless command that trains the same run: every value that differs from the defaults.

    With `processes` above 1, the same module under `torchrun --standalone --nproc_per_node N`, as the
    studio launches it (`launcher.launch_command`).
    """
    from ..launcher import launch_command  # noqa: PLC0415

    values = config.to_dict()
    base = {**defaults(config.model.task), "task": defaults()["task"]}  # the task is said, its own defaults are not
    launch = launch_command("RUN", processes=processes)
    parts = ["python", *launch[1 : launch.index("finetuner") + 1]]
    if parts[:3] == ["python", "-m", "torch.distributed.run"]:
        parts[:3] = ["torchrun"]
    if runs_dir is not None and str(runs_dir) != "runs":
        parts += ["--runs_dir", str(runs_dir)]
    parts.append("train")
    for name, value in values.items():
        if name == "extra_training_args":
            continue
        if value == base.get(name) or value is None:
            continue
        if ignores(config, name):
            continue  # an option the run ignores, which the CLI refuses (the form keeps it for another task)
        if isinstance(value, list):
            value = ",".join(map(str, value))
        parts += [f"--{name}", str(value).lower() if isinstance(value, bool) else str(value)]
    for name, value in (values.get("extra_training_args") or {}).items():
        parts += [f"--{name}", json.dumps(value) if not isinstance(value, str) else value]
    return " ".join(shlex.quote(p) for p in parts)


# ---------------------------------------------------------------- task options (LoRA) and devices


def _model_key(name: str) -> tuple[str, float]:
    """A model name with its config.json's modification time when it is a folder (a rebuilt folder is read again)."""
    path = Path(name).expanduser() / "config.json"
    try:
        return name, path.stat().st_mtime
    except OSError:
        return name, 0.0


@lru_cache(maxsize=8)
def _module_names(name: str, mtime: float, revision: str, trust_remote_code: bool, reader: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(every module's dotted name, the distinct short names of its linear layers but the output head) of a
    causal LM built on the meta device: no weights are read, only config.json."""
    import torch  # noqa: PLC0415 - heavy, only when LoRA is asked about
    from transformers.pytorch_utils import Conv1D  # noqa: PLC0415 - GPT-2's linear layers

    from ..tasks.base import meta_model  # noqa: PLC0415

    model = meta_model(RunConfig.from_dict({"task": "causal-lm", "model_name_or_path": name, "model_revision": revision, "trust_remote_code": trust_remote_code}), "AutoModelForCausalLM")
    head = model.get_output_embeddings()
    names, linear = [], []
    for dotted, module in model.named_modules():
        names.append(dotted)
        short = dotted.rsplit(".", 1)[-1]
        if isinstance(module, (torch.nn.Linear, Conv1D)) and module is not head and short not in linear:
            linear.append(short)
    return tuple(names), tuple(linear)


def lora_target_candidates(config: RunConfig) -> list[str]:
    """The short names of the model's linear layers (q_proj, v_proj, ...): what LoRA can adapt."""
    m = config.model
    return list(_module_names(*_model_key(m.model_name_or_path), m.model_revision, m.trust_remote_code, reader(m.model_name_or_path))[1])


def check_lora_targets(config: RunConfig) -> None:
    """A ConfigError naming the layers a LoRA target does not match (peft matches a name or its last parts)."""
    m = config.model
    if not (m.use_lora and m.lora_target_modules):
        return
    names, linear = _module_names(*_model_key(m.model_name_or_path), m.model_revision, m.trust_remote_code, reader(m.model_name_or_path))
    unknown = [t for t in m.lora_target_modules if not any(n == t or n.endswith(f".{t}") for n in names)]
    if unknown:
        raise ConfigError(
            f"lora_target_modules: {', '.join(repr(u) for u in unknown)} {'is' if len(unknown) == 1 else 'are'} not a layer of "
            f"{m.model_name_or_path}. Its linear layers: {', '.join(linear)} (empty: all of them)."
        )


@lru_cache(maxsize=32)
def _lora_counts(key: str) -> dict[str, Any]:
    from ..tasks.causal_lm import parameter_counts  # noqa: PLC0415 - heavy

    values = json.loads(key)
    values.pop("mtime"), values.pop("reader")
    config = RunConfig.from_dict(values)
    try:
        return parameter_counts(config)
    except ValueError as error:  # peft: a target that is not a layer it can adapt (its message prints the whole module)
        linear = ", ".join(lora_target_candidates(config))
        raise ConfigError(
            f"lora_target_modules {', '.join(config.model.lora_target_modules or [])}: LoRA adapts linear, embedding and convolution "
            f"layers only, and a target here is another kind of module. This model's linear layers: {linear} (empty: all of them)."
        ) from error


def lora_parameters(config: RunConfig) -> dict[str, Any]:
    """Trainable and total parameters with this config's LoRA adapters (`causal_lm.parameter_counts`, on
    the meta device: no weights are loaded). Cached. ConfigError for a target module the model lacks."""
    check_lora_targets(config)
    m = config.model
    name, mtime = _model_key(m.model_name_or_path)
    key = {
        "task": m.task, "model_name_or_path": name, "model_revision": m.model_revision, "trust_remote_code": m.trust_remote_code,
        "use_lora": m.use_lora, "lora_r": m.lora_r, "lora_alpha": m.lora_alpha, "lora_dropout": m.lora_dropout,
        "lora_target_modules": m.lora_target_modules, "mtime": mtime, "reader": reader(name),
    }
    return dict(_lora_counts(json.dumps(key, sort_keys=True)))


def processes_offered() -> dict[str, Any]:
    """How many training processes this machine offers: one per GPU, else one per CPU core, and what to say about it."""
    from ..launcher import cpu_cores, gpu_count  # noqa: PLC0415

    gpus = gpu_count()
    if gpus:
        return {"maximum": gpus, "device": "GPU", "note": f"One data-parallel process per GPU: {gpus} GPU{'s' if gpus > 1 else ''} here."}
    cores = cpu_cores()
    return {
        "maximum": cores,
        "device": "CPU",
        "note": (
            f"No GPU here: CPU processes share this machine's {cores} core{'s' if cores > 1 else ''}, so several rarely train faster "
            "than one (each gets fewer cores, and they exchange gradients at every step). 1 is best here; more show how a run "
            "behaves on several devices."
        ),
    }


def check_processes(processes: Any) -> int:
    """The form's process count as an int, refusing more processes than the machine offers."""
    from ..launcher import MAX_PROCESSES  # noqa: PLC0415

    try:
        number = float(1 if processes in (None, "") else processes)
        if not number.is_integer():  # 1.5 is refused, not quietly cut to 1
            raise ValueError(processes)
    except (TypeError, ValueError):
        raise ConfigError(f"Training processes must be a whole number, got '{processes}'.") from None
    count = int(number)
    offered = processes_offered()
    if not 1 <= count <= min(offered["maximum"], MAX_PROCESSES):
        raise ConfigError(f"Training processes must be between 1 and {offered['maximum']} on this machine (one per {offered['device']}{' core' if offered['device'] == 'CPU' else ''}), got {count}.")
    return count


def launch_preview(runs_dir: str | Path | None, run_name: str | None, processes: int) -> str:
    """The exact command Start runs for these processes (`launcher.launch_command`), the run's folder named
    by `run_name` or shown as <run id> until it is created; in `runs_dir`, or <runs folder> without one (a
    shared studio: `shown_runs_dir`)."""
    from ..launcher import command_text, launch_command  # noqa: PLC0415

    name = (run_name or "").strip() or "RUN_ID_PLACEHOLDER"
    text = command_text(launch_command(str(Path(runs_dir or "RUNS_DIR_PLACEHOLDER") / name), processes=processes))
    return text.replace("RUN_ID_PLACEHOLDER", "<run id>").replace("RUNS_DIR_PLACEHOLDER", "<runs folder>")


# ---------------------------------------------------------------- runs


def run_label(run: Run) -> str:
    """'<id> · completed · test accuracy 0.812': the run's state and its task's headline score, on the test
    split when it has one (what the Evaluate tab shows first), else on validation, the split named."""
    status = run.status()
    metric = headline_metric(run)
    metrics = status.get("metrics") or {}
    label = f"{run.id} · {status.get('state', '?')}"
    for prefix, split in (("test", "test"), ("eval", "validation")):
        value = metrics.get(f"{prefix}_{metric}") if metric else None
        if isinstance(value, (int, float)):
            return label + f" · {split} {metric} {value:.3f}"
    return label


def headline_metric(run: Run) -> str | None:
    """The score a run's task is read by first (`tasks.headline_score`: accuracy, NER's entity f1, loss, rougeL);
    None for a run whose config cannot be read."""
    try:
        return headline_score(run.config().model.task)
    except Exception:  # noqa: BLE001 - a broken run folder still gets listed
        return None


def run_choices(store: RunStore, *, completed_only: bool = False, runs: list[Run] | None = None) -> list[tuple[str, str]]:
    """(label, id) of `runs` (default: every run in the store; the studio passes the visitor's own on a shared page)."""
    runs = store.list() if runs is None else runs
    if completed_only:
        runs = [r for r in runs if r.state == "completed"]
    return [(run_label(r), r.id) for r in runs]


NO_RUNS = (
    "**No runs yet.** To start one: load data in **1 · Data** (an example dataset is preselected), then press "
    "**Start training** in **2 · Train**. Runs started from a terminal (`python -m finetuner --runs_dir {runs_dir} train "
    "--train_file data.csv`) appear here too: press **↻ Refresh**."
)


def no_runs_note(runs_dir: str) -> str:
    """What the Runs tab says when there is no run to list: how to start one."""
    return NO_RUNS.format(runs_dir=shlex.quote(runs_dir))


# "metric" is the task's headline score (`tasks.headline_score`: accuracy, NER's entity f1, loss, rougeL), on validation and test.
RUN_COLUMNS = ["run", "state", "data", "steps", "metric", "validation", "test", "learning rate", "batch", "started", "duration", "model"]


def runs_table(store: RunStore, runs: list[Run] | None = None) -> pd.DataFrame:
    rows = []
    for run in store.list() if runs is None else runs:
        status = run.status()
        try:
            config = run.config()
        except Exception:  # noqa: BLE001 - a config.yaml edited by hand into one that no longer reads: listed, not hidden
            rows.append([run.id, status.get("state"), "(config.yaml unreadable)", *[None] * (len(RUN_COLUMNS) - 3)])
            continue
        metrics = status.get("metrics") or {}
        metric = headline_score(config.model.task)
        model = config.model.model_name_or_path
        if model == default_model_path():
            model = "all-MiniLM-L6-v2 (bundled)"
        data = config.data.dataset_name or Path(config.data.train_file or "").name
        started, ended = status.get("started_at") or status.get("created_at"), status.get("ended_at")
        duration_s = (ended or time.time()) - started if started and (ended or status.get("state") in ACTIVE_STATES) else None
        if duration_s is not None:  # a resumed run: its sessions before this one too
            duration_s += status.get("earlier_training_seconds") or 0.0
        rows.append([
            run.id, status.get("state"), data,
            f"{status.get('step') or 0}/{status.get('total_steps') or '?'}",
            metric, _round(metrics.get(f"eval_{metric}"), 3), _round(metrics.get(f"test_{metric}"), 3),
            config.training.learning_rate, config.training.per_device_train_batch_size,
            time.strftime("%m-%d %H:%M", time.localtime(status.get("created_at") or 0)),
            _duration(duration_s), model,
        ])
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def _round(value: Any, digits: int = 4) -> Any:
    return round(value, digits) if isinstance(value, (int, float)) else None


def _duration(seconds: float | None) -> str:
    from .render import duration  # noqa: PLC0415

    return duration(seconds) if seconds is not None else ""


def queue_note(store: RunStore, run: Run) -> str | None:
    """For a queued run: what it is waiting for.

    The queue is one lock for the whole machine, but this studio sees only its own runs folder: a training
    started from another folder (another studio, the CLI) is "another training". The lock hands over in no
    set order, so no place in line is promised.
    """
    if run.state != QUEUED:
        return None
    if run.raw_status().get("message") != WAITING_MESSAGE:
        return "Starting: loading the training libraries."
    active = [r for r in store.list() if r.id != run.id and r.state in ACTIVE_STATES]
    training = next((r for r in active if r.state == RUNNING), None)
    waiting = sum(r.state == QUEUED for r in active)
    if training is None:
        note = "One training at a time on this machine: waiting for another training to finish."
    else:
        # On a shared studio the run ahead may be another visitor's: its id is theirs to know.
        mine = not access.shared_mode() or training.raw_status().get("owner") == run.raw_status().get("owner")
        ahead = f"run {training.id}" if mine else "another visitor's run"
        note = f"One training at a time on this machine: waiting for {ahead} to finish."
    return note + (f" {waiting} other queued run(s) here wait too, in no set order." if waiting else "")


# ---------------------------------------------------------------- evaluation files


def evaluation_splits(run: Run) -> list[tuple[str, str]]:
    """(label, key) of every evaluated split: the run's own (validation, test) and later evaluations, those
    kept in the temporary folder (the run's folder is read-only) last."""
    out = []
    for split in ("test", "validation"):
        if (run.eval_dir / f"report_{split}.json").is_file():
            out.append((f"{split} split", split))
    for prefix, label in (("extra", "other data: {}"), (TEMPORARY_EVALUATION, "other data: {} (temporary: not saved in the run)")):
        folder = _evaluation_folder(run, prefix)
        if folder.is_dir():
            for report in sorted(folder.glob("report_*.json"), key=lambda p: p.stat().st_mtime, reverse=True):
                name = report.stem.removeprefix("report_")
                out.append((label.format(name), f"{prefix}:{name}"))
    return out


# The key prefix of an evaluation on other data kept in the temporary folder (`other_data_folder`).
TEMPORARY_EVALUATION = "temporary"


def other_data_folder(run: Run) -> Path | None:
    """Where an evaluation on other data goes: None for the run's own `eval/extra/`; the temporary folder where
    the run's folder cannot be written (a read-only share of past runs), for the page to show it all the same."""
    return None if saves_into_run(run) else access.temporary_evaluations(run)


def _evaluation_folder(run: Run, prefix: str) -> Path:
    return access.temporary_evaluations(run) if prefix == TEMPORARY_EVALUATION else run.eval_dir / "extra"


def temporary_evaluation_note(run: Run) -> str:
    """What the Evaluate tab says of an evaluation kept in the temporary folder. Plain text (the page escapes it);
    on a shared studio without the server's folders."""
    if access.shared_mode():
        return (
            "This run's folder cannot be written, so this evaluation is kept in a temporary folder, which the server may clear "
            "(a restart does; evaluate again then). Download the predictions below to keep them."
        )
    return (
        f"Run {run.id}'s folder {run.path} cannot be written, so this evaluation is kept in {access.temporary_evaluations(run)}, "
        "which the system may clear (a restart of this machine does; evaluate again then). Download the predictions below to keep them."
    )


def _eval_paths(run: Run, key: str) -> tuple[Path, list[Path], Path | None]:
    prefix, _, name = key.partition(":")
    if name:
        folder = _evaluation_folder(run, prefix)
        return folder / f"report_{name}.json", [folder / f"predictions_{name}.csv", folder / f"generations_{name}.csv"], folder / f"results_{name}.json"
    results = run.eval_dir / ("test_results.json" if key == "test" else "eval_results.json")
    return run.eval_dir / f"report_{key}.json", [run.eval_dir / f"predictions_{key}.csv", run.eval_dir / f"generations_{key}.csv"], results


def evaluation_files(run: Run, key: str) -> dict[str, Any]:
    """The report (dict), predictions or generations (DataFrame and path) and Trainer metrics of one evaluated split."""
    report_path, candidates, results_path = _eval_paths(run, key)
    report = read_json(report_path)
    if report is None:
        raise DataError(f"Run {run.id} has no evaluation of '{key}'. Choose another split, or evaluate on a file.")
    predictions_path = next((p for p in candidates if p.is_file()), None)
    predictions = pd.read_csv(predictions_path, keep_default_na=False) if predictions_path else pd.DataFrame()
    return {"report": report, "predictions": predictions, "predictions_path": predictions_path, "results": read_json(results_path, {}) if results_path else {}}


def epoch_metrics(run: Run, keys: tuple[str, ...] | None = None) -> pd.DataFrame:
    """One row per evaluation during training (validation split); `keys` picks the metrics (default: all)."""
    from ..follow import curves  # noqa: PLC0415

    _, evals = curves(run.events())
    rows = []
    for point in evals:
        row = {"epoch": _round(point.get("epoch"), 2), "step": point.get("step")}
        for key, value in point.items():
            name = key.removeprefix("eval_")
            if key.startswith("eval_") and not key.endswith(("runtime", "per_second")) and (keys is None or name in keys):
                row[name] = _round(value)
        rows.append(row)
    return pd.DataFrame(rows)
