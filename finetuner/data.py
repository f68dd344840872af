"""Getting a dataset in: load a Hub id or a local file, find its columns and labels, split it, check it.

The result is a `PreparedData`: a `datasets.DatasetDict` with `train`, `validation` and (when there is
one) `test`, whose columns are normalised to `text`, optionally `text_pair`, and an integer `label`,
plus the label names and a report of what a user should know about the data before training on it.
Files are read with pandas, because its errors can be turned into messages that name the line; Hub
datasets go through `datasets.load_dataset`. Nothing is ever written back to a user's file.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .config import DataConfig
from .errors import DataError, DataFileNotFoundError

FILE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".json": "json", ".jsonl": "jsonl", ".parquet": "parquet"}
LABEL_NAMES = ("label", "labels", "class", "category", "target", "intent", "sentiment", "y", "tag")
TEXT_NAMES = ("text", "sentence", "review", "content", "document", "utterance", "question", "input", "body", "comment", "tweet")
PAIR_NAMES = (("sentence1", "sentence2"), ("premise", "hypothesis"), ("question", "sentence"), ("text_a", "text_b"), ("question1", "question2"), ("text", "text_pair"))
VALIDATION_NAMES = ("validation", "valid", "dev", "val")
MIN_ROWS_TO_SPLIT = 10


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV, JSON, JSONL or Parquet file into a DataFrame, or raise a DataError that says why not."""
    path = Path(path)
    if not path.is_file():
        raise DataFileNotFoundError(f"Data file '{path}' does not exist. Check the path, or upload the file again.")
    kind = FILE_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"'{path.name}' has an unsupported extension; use one of {', '.join(FILE_FORMATS)}.")
    if path.stat().st_size == 0:
        raise DataError(f"'{path.name}' is empty: it has no rows to train on.")
    if kind == "parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as error:  # pyarrow raises several unrelated types for a broken file
            raise DataError(f"'{path.name}' is not a readable Parquet file: {error}") from error
    else:
        frame = _read_text_table(path, kind)
    if frame.empty:
        raise DataError(f"'{path.name}' has a header but no rows.")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _read_text_table(path: Path, kind: str) -> pd.DataFrame:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(
            f"'{path.name}' is not UTF-8 text (byte 0x{raw[error.start]:02x} at position {error.start}). "
            "Save it as UTF-8 (in Excel: 'CSV UTF-8') and upload it again."
        ) from error
    if not text.strip():
        raise DataError(f"'{path.name}' is empty: it has no rows to train on.")
    try:
        if kind in ("csv", "tsv"):
            return pd.read_csv(io.StringIO(text), sep="\t" if kind == "tsv" else ",", dtype=object, keep_default_na=False, quoting=csv.QUOTE_MINIMAL)
        if kind == "jsonl" or not text.lstrip().startswith(("[", "{")) or _looks_like_jsonl(text):
            return pd.read_json(io.StringIO(text), lines=True, dtype=False)
        return pd.read_json(io.StringIO(text), dtype=False)
    except pd.errors.ParserError as error:
        raise DataError(f"'{path.name}' is not well-formed {kind.upper()}: {error}. Check quoting and the number of fields on that line.") from error
    except ValueError as error:
        raise DataError(f"'{path.name}' is not valid {'JSON Lines' if kind == 'jsonl' else 'JSON'}: {error}.") from error


def _looks_like_jsonl(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    return len(lines) > 1 and all(line.lstrip().startswith("{") and line.rstrip().endswith("}") for line in lines[:2])


def detect_columns(frame: pd.DataFrame) -> tuple[list[str], str | None]:
    """Guess (text columns, label column) from names first, then from content.

    Text: a known pair of names, a known text name, else the string column with the longest texts.
    Label: a known label name, else the remaining column with the fewest distinct values.
    """
    columns = list(frame.columns)
    lower = {c.lower(): c for c in columns}
    label = next((lower[n] for n in LABEL_NAMES if n in lower), None)
    texts: list[str] | None = None
    for first, second in PAIR_NAMES:
        if first in lower and second in lower:
            texts = [lower[first], lower[second]]
            break
    if texts is None:
        named = next((lower[n] for n in TEXT_NAMES if n in lower and lower[n] != label), None)
        if named:
            texts = [named]
        else:
            candidates = [c for c in columns if c != label and frame[c].map(lambda v: isinstance(v, str)).mean() > 0.9]
            if candidates:
                texts = [max(candidates, key=lambda c: frame[c].astype(str).str.len().mean())]
    texts = texts or []
    if label is None:
        rest = [c for c in columns if c not in texts and _hashable(frame[c])]
        if rest:
            label = min(rest, key=lambda c: frame[c].nunique())
    return texts, label


def _hashable(column: pd.Series) -> bool:
    return not column.map(lambda v: isinstance(v, (list, dict))).any()


@dataclass
class DataReport:
    """What a user should know about the data: sizes, class balance, and problems worth a look."""

    split_sizes: dict[str, int]
    class_counts: dict[str, dict[str, int]]
    warnings: list[str] = field(default_factory=list)
    created_splits: list[str] = field(default_factory=list)
    empty_texts: dict[str, int] = field(default_factory=dict)
    duplicate_texts: dict[str, int] = field(default_factory=dict)
    overlap: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class PreparedData:
    splits: Any  # datasets.DatasetDict with text[, text_pair], label
    label_names: list[str]
    text_columns: list[str]
    label_column: str
    report: DataReport
    fingerprint: str

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.label_names))

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.label_names)}

    @property
    def has_pairs(self) -> bool:
        return len(self.text_columns) == 2


def check_sources(config: DataConfig) -> None:
    """Fail fast, before a run is created, on local files that do not exist or cannot be read."""
    if not config.dataset_name and not config.train_file:
        raise DataError("No data given: choose a Hub dataset id or upload a training file.")
    for name in ("train_file", "validation_file", "test_file"):
        value = getattr(config, name)
        if value and not Path(value).is_file():
            raise DataFileNotFoundError(f"{name} '{value}' does not exist. Check the path, or upload the file again.")
        if value and Path(value).suffix.lower() not in FILE_FORMATS:
            raise DataError(f"{name} '{Path(value).name}' has an unsupported extension; use one of {', '.join(FILE_FORMATS)}.")


def load_raw(config: DataConfig) -> dict[str, pd.DataFrame]:
    """The splits the data comes with, as DataFrames keyed `train`/`validation`/`test`."""
    if config.dataset_name:
        return _load_hub(config)
    if not config.train_file:
        raise DataError("No data given: choose a Hub dataset id or upload a training file.")
    frames = {"train": read_table(config.train_file)}
    if config.validation_file:
        frames["validation"] = read_table(config.validation_file)
    if config.test_file:
        frames["test"] = read_table(config.test_file)
    return frames


def _load_hub(config: DataConfig) -> dict[str, pd.DataFrame]:
    import datasets  # noqa: PLC0415 - heavy

    try:
        loaded = datasets.load_dataset(config.dataset_name, config.dataset_config_name)
    except FileNotFoundError as error:
        raise DataError(f"Dataset '{config.dataset_name}' was not found on the Hub or on disk: {error}") from error
    except ValueError as error:  # e.g. a missing or wrong config name
        raise DataError(f"Dataset '{config.dataset_name}' could not be loaded: {error}") from error
    except ConnectionError as error:
        raise DataError(f"The Hugging Face Hub is unreachable, so '{config.dataset_name}' cannot be downloaded. Upload a file instead. ({error})") from error
    except Exception as error:  # datasets and huggingface_hub raise many types; the user needs the text
        raise DataError(f"Dataset '{config.dataset_name}' could not be loaded: {type(error).__name__}: {error}") from error
    names = list(loaded)
    wanted = {
        "train": config.train_split_name,
        "validation": config.validation_split_name or next((n for n in VALIDATION_NAMES if n in names), None),
        "test": config.test_split_name or ("test" if "test" in names else None),
    }
    if wanted["train"] not in names:
        raise DataError(f"Dataset '{config.dataset_name}' has no split '{wanted['train']}'; it has: {', '.join(names)}.")
    frames = {}
    for role, name in wanted.items():
        if name is None:
            continue
        if name not in names:
            raise DataError(f"Dataset '{config.dataset_name}' has no split '{name}'; it has: {', '.join(names)}.")
        split = loaded[name]
        frame = split.to_pandas()
        label_feature = next((f for f in split.features.values() if type(f).__name__ == "ClassLabel"), None)
        if label_feature is not None:  # keep the dataset's own label names
            column = next(c for c, f in split.features.items() if f is label_feature)
            frame[column] = [label_feature.int2str(int(v)) if v is not None and v >= 0 else None for v in frame[column]]
            frame.attrs["label_order"] = list(label_feature.names)
        frames[role] = frame
    return frames


def prepare(config: DataConfig, *, seed: int = 42) -> PreparedData:
    """Load, map columns, encode labels, split and check: everything training needs from the data."""
    import datasets  # noqa: PLC0415 - heavy

    frames = load_raw(config)
    texts, label = _resolve_columns(frames["train"], config)
    for role, frame in frames.items():
        missing = [c for c in [*texts, label] if c not in frame.columns]
        if missing:
            raise DataError(f"The {role} data has no column {', '.join(repr(m) for m in missing)}; its columns are: {', '.join(map(str, frame.columns))}.")
    normalised = {role: _normalise(frame, texts, label, role) for role, frame in frames.items()}
    created = _split_missing(normalised, config, seed)
    normalised = _limit(normalised, config)

    label_names = _label_names(normalised["train"]["label"], frames["train"].attrs.get("label_order"))
    if len(label_names) < 2:
        raise DataError(f"The training data has a single class ('{label_names[0]}'). A classifier needs at least two classes.")
    unseen = {role: sorted(set(f["label"]) - set(label_names)) for role, f in normalised.items() if role != "train"}
    for role, values in unseen.items():
        if values:
            shown = ", ".join(repr(v) for v in values[:5])
            raise DataError(f"The {role} data has label(s) {shown} that never occur in train; the model could never predict them. Add examples of them to train or remove them from {role}.")
    label2id = {name: i for i, name in enumerate(label_names)}
    report = _report(normalised, created)
    splits = datasets.DatasetDict(
        {
            role: datasets.Dataset.from_pandas(
                frame.assign(label=frame["label"].map(label2id).astype("int64")), preserve_index=False
            )
            for role, frame in normalised.items()
        }
    )
    return PreparedData(
        splits=splits,
        label_names=label_names,
        text_columns=texts,
        label_column=label,
        report=report,
        fingerprint=_fingerprint(normalised, label_names),
    )


def _resolve_columns(frame: pd.DataFrame, config: DataConfig) -> tuple[list[str], str]:
    detected_texts, detected_label = detect_columns(frame)
    texts = config.text_column_names or detected_texts
    label = config.label_column_name or detected_label
    if not texts:
        raise DataError(f"No text column found among: {', '.join(map(str, frame.columns))}. Choose the text column.")
    if not label:
        raise DataError(f"No label column found among: {', '.join(map(str, frame.columns))}. Choose the label column.")
    if label in texts:
        raise DataError(f"Column '{label}' cannot be both the text and the label.")
    return list(texts), label


def _normalise(frame: pd.DataFrame, texts: list[str], label: str, role: str) -> pd.DataFrame:
    """Columns `text`[, `text_pair`], `label` (label values as strings); rows without a label dropped."""
    out = pd.DataFrame({"text": frame[texts[0]].map(_as_text)})
    if len(texts) == 2:
        out["text_pair"] = frame[texts[1]].map(_as_text)
    labels = frame[label]
    if labels.map(lambda v: isinstance(v, (list, dict))).any():
        raise DataError(f"Column '{label}' holds lists, not one class per row; choose a column with one label per text.")
    out["label"] = labels.map(_label_text)
    return out[out["label"] != ""].reset_index(drop=True)


def _as_text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _label_text(value: Any) -> str:
    """Labels as strings, so 1, 1.0 and '1' are the same class."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _label_names(values: pd.Series, order: list[str] | None) -> list[str]:
    present = set(values)
    if order:
        return [name for name in order if name in present] + sorted(present - set(order))
    if all(_is_int(v) for v in present):
        return sorted(present, key=int)
    return sorted(present)


def _is_int(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True


def _split_missing(frames: dict[str, pd.DataFrame], config: DataConfig, seed: int) -> list[str]:
    """Carve validation (and test) out of train when the data has none, stratified by label and seeded."""
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    wanted = [("validation", config.validation_split_ratio), ("test", config.test_split_ratio)]
    missing = [(role, ratio) for role, ratio in wanted if role not in frames and ratio > 0]
    if "validation" not in frames and config.validation_split_ratio == 0:
        raise DataError("There is no validation data: give a validation file or set validation_split_ratio above 0.")
    if not missing:
        return []
    train = frames["train"]
    if len(train) < MIN_ROWS_TO_SPLIT:
        raise DataError(
            f"The training data has only {len(train)} rows: too few to hold out validation/test rows "
            f"(at least {MIN_ROWS_TO_SPLIT} needed). Add rows or give validation and test files."
        )
    created = []
    total = len(train)
    for role, ratio in missing:
        size = max(1, round(total * ratio))
        counts = train["label"].value_counts()
        stratify = train["label"] if counts.min() >= 2 and size >= len(counts) else None
        train, held_out = train_test_split(train, test_size=size, random_state=seed, stratify=stratify)
        frames[role] = held_out.reset_index(drop=True)
        created.append(role)
    frames["train"] = train.reset_index(drop=True)
    return created


def _limit(frames: dict[str, pd.DataFrame], config: DataConfig) -> dict[str, pd.DataFrame]:
    limits = {"train": config.max_train_samples, "validation": config.max_eval_samples, "test": config.max_predict_samples}
    return {role: frame.head(limits[role]) if limits.get(role) else frame for role, frame in frames.items()}


def _report(frames: dict[str, pd.DataFrame], created: list[str]) -> DataReport:
    report = DataReport(
        split_sizes={role: len(f) for role, f in frames.items()},
        class_counts={role: dict(Counter(f["label"]).most_common()) for role, f in frames.items()},
        created_splits=created,
    )
    for role, frame in frames.items():
        keys = _row_keys(frame)
        empty = int((frame["text"].str.strip() == "").sum())
        duplicates = int(keys.duplicated().sum())
        report.empty_texts[role] = empty
        report.duplicate_texts[role] = duplicates
        if empty:
            report.warnings.append(f"{role}: {empty} empty text(s); the model learns nothing from them.")
        if duplicates:
            report.warnings.append(f"{role}: {duplicates} duplicate text(s).")
    train_keys = set(_row_keys(frames["train"]))
    for role in ("validation", "test"):
        if role in frames:
            shared = int(_row_keys(frames[role]).isin(train_keys).sum())
            report.overlap[role] = shared
            if shared:
                report.warnings.append(f"{role}: {shared} text(s) also appear in train, which flatters the {role} score.")
    counts = report.class_counts["train"]
    largest, smallest = max(counts.values()), min(counts.values())
    if smallest * 5 <= largest:
        rare = min(counts, key=counts.get)
        report.warnings.append(
            f"train is imbalanced: class '{rare}' has {smallest} examples against {largest} for the largest. "
            "Judge the model by macro F1 rather than accuracy."
        )
    for role in created:
        report.warnings.append(f"{role} was split from train ({len(frames[role])} rows, stratified by label).")
    return report


def _row_keys(frame: pd.DataFrame) -> pd.Series:
    return frame["text"] + ("\x1f" + frame["text_pair"] if "text_pair" in frame else "")


def _fingerprint(frames: dict[str, pd.DataFrame], label_names: list[str]) -> str:
    """A content hash of the prepared splits: the key of the tokenization cache."""
    digest = hashlib.sha256(repr(label_names).encode())
    for role in sorted(frames):
        digest.update(role.encode())
        digest.update(pd.util.hash_pandas_object(frames[role], index=False).values.tobytes())
    return digest.hexdigest()[:16]


def prepare_for_model(frame: pd.DataFrame, *, text_columns: list[str] | None, label_column: str | None, label_names: list[str]):
    """A labelled file or split, encoded with a trained model's labels, for evaluating that model on it."""
    import datasets  # noqa: PLC0415 - heavy

    detected_texts, detected_label = detect_columns(frame)
    texts = [c for c in (text_columns or []) if c in frame.columns] or detected_texts
    label = label_column if label_column in frame.columns else detected_label
    if not texts or len(texts) != len(text_columns or texts):
        raise DataError(f"The data needs the text column(s) {', '.join(text_columns or ['text'])}; its columns are: {', '.join(map(str, frame.columns))}.")
    if not label:
        raise DataError(f"The data has no label column '{label_column}'; its columns are: {', '.join(map(str, frame.columns))}.")
    normalised = _normalise(frame, texts, label, "evaluation")
    unknown = sorted(set(normalised["label"]) - set(label_names))
    if unknown:
        shown = ", ".join(repr(v) for v in unknown[:5])
        raise DataError(f"The data has label(s) {shown} that the model does not know; it knows: {', '.join(label_names)}.")
    label2id = {name: i for i, name in enumerate(label_names)}
    return datasets.Dataset.from_pandas(normalised.assign(label=normalised["label"].map(label2id).astype("int64")), preserve_index=False)
