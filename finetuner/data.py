"""Getting a dataset in: load a Hub id or a local file, find its columns and labels, split it, check it.

The result is a `PreparedData`: a `datasets.DatasetDict` with `train`, `validation` and (when there is
one) `test`, whose columns are normalised to `text`, optionally `text_pair`, and an integer `label`,
plus the label names and a report of what a user should know about the data before training on it.
Files are read with pandas, because its errors can be turned into messages that name the line; Hub
datasets go through `datasets.load_dataset`. Nothing is ever written back to a user's file.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .config import DataConfig
from .errors import ColumnNotFoundError, DataError, DataFileNotFoundError
from .hub_reads import READ_TOKEN_HINT, datasets_cache, token_for

FILE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".json": "json", ".jsonl": "jsonl", ".parquet": "parquet", ".conll": "conll"}
LABEL_NAMES = ("label", "labels", "class", "category", "target", "intent", "sentiment", "y", "tag")
TEXT_NAMES = ("text", "sentence", "review", "content", "document", "utterance", "question", "input", "body", "comment", "tweet")
PAIR_NAMES = (("sentence1", "sentence2"), ("premise", "hypothesis"), ("question", "sentence"), ("text_a", "text_b"), ("question1", "question2"), ("text", "text_pair"))
VALIDATION_NAMES = ("validation", "valid", "dev", "val")
MIN_ROWS_TO_SPLIT = 10


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV, JSON, JSONL or Parquet file into a DataFrame, or raise a DataError that says why not."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"'{path}' is a folder, not a data file: {_folder_advice(path)}")
    if not path.is_file():
        raise DataFileNotFoundError(f"Data file '{path}' does not exist. Check the path, or upload the file again.")
    kind = FILE_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"'{path.name}' has an unsupported extension; use one of {', '.join(FILE_FORMATS)}.")
    if path.stat().st_size == 0:
        raise DataError(f"'{path.name}' is empty: it has no rows. Check that it is the right file, or save it again.")
    if kind == "parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as error:  # pyarrow raises several unrelated types for a broken file
            raise DataError(f"'{path.name}' is not a readable Parquet file: {error}") from error
    else:
        frame = _read_text_table(path, kind)
    if frame.empty:
        what = {"csv": "a header but no rows", "tsv": "a header but no rows", "json": "no records", "jsonl": "no records"}.get(kind, "no rows")
        raise DataError(f"'{path.name}' has {what}.")
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
        raise DataError(f"'{path.name}' is empty: it has no rows. Check that it is the right file, or save it again.")
    if kind == "conll":
        return _read_conll(text, path.name)
    separator = "\t" if kind == "tsv" else _csv_separator(text)
    quoting = _tsv_quoting(text) if kind == "tsv" else csv.QUOTE_MINIMAL
    if kind == "csv":
        _check_quotes(text, separator, path.name)
    numbered = kind in ("csv", "tsv") and _check_field_counts(text, separator, path.name, kind, quoting)
    lines = kind == "jsonl" or not text.lstrip().startswith(("[", "{")) or _looks_like_jsonl(text)  # JSON: one record a line
    try:
        if kind in ("csv", "tsv"):
            frame = pd.read_csv(io.StringIO(text), sep=separator, dtype=object, keep_default_na=False, quoting=quoting, index_col=0 if numbered else False)
            return frame.reset_index(drop=True)
        records = None if lines else _wrapped_records(text)
        if records is not None:
            return pd.DataFrame.from_records(records)
        return pd.read_json(io.StringIO(text), lines=lines, dtype=False)
    except pd.errors.ParserError as error:
        raise DataError(f"'{path.name}' is not well-formed {kind.upper()}: {error}. {_quote_advice(separator)}") from error
    except ValueError as error:
        if kind in ("csv", "tsv") or not lines:
            raise DataError(f"'{path.name}' is not valid {kind.upper()}: {error}.") from error
        raise DataError(f"'{path.name}' is not valid JSON Lines: {_bad_json_line(text) or error}.") from error


def _read_conll(text: str, name: str) -> pd.DataFrame:
    """A CoNLL file (NER): one word a line, its tag in the last field (CoNLL-2003's four columns, or word and
    tag), a blank line between sentences, `-DOCSTART-` lines skipped; as columns `tokens` and `ner_tags`."""
    sentences, words, tags = [], [], []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if fields and fields[0] == "-DOCSTART-":
            continue
        if not fields:
            if words:
                sentences.append({"tokens": words, "ner_tags": tags})
            words, tags = [], []
            continue
        if len(fields) < 2:
            raise DataError(f"'{name}' is not a CoNLL file: line {number} holds one field ({line.strip()[:40]!r}); each line needs a word and its tag, separated by a space or a tab.")
        words.append(fields[0])
        tags.append(fields[-1])
    if words:
        sentences.append({"tokens": words, "ner_tags": tags})
    if not sentences:
        raise DataError(f"'{name}' has no sentences: only -DOCSTART- or blank lines.")
    return pd.DataFrame(sentences)


def _wrapped_records(text: str) -> list[dict] | None:
    """The records of a JSON file that wraps them in one field, `{"data": [{...}, ...]}` (SQuAD's layout,
    what `datasets.load_dataset("json", field="data")` reads); None for any other JSON. Read as a table it
    was one column, 'data', and no text column was found."""
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return None  # pandas says what is wrong
    if isinstance(parsed, dict) and len(parsed) == 1:
        (records,) = parsed.values()
        if isinstance(records, list) and records and all(isinstance(r, dict) for r in records):
            return records
    return None


def _bad_json_line(text: str) -> str | None:
    """Where a JSON Lines file goes wrong, by line number (pandas names a character position in the whole file)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                json.loads(line)
            except json.JSONDecodeError as error:
                return f"line {number} is not one JSON object ({error.msg} at column {error.colno}); each line must hold one record"
    return None


def _tsv_quoting(text: str) -> int:
    """How to read a TSV file's quotes. TSV is mostly written without quoting (GLUE's files, the IANA
    format), and then a text that starts with a quote ('"Great" movie') is literal: read as a quoted
    field, its quotes vanished without a word. Quoting is honoured only where the whole file parses as
    quoted fields (pandas writes TSV so)."""
    try:
        for _ in csv.reader(io.StringIO(text), delimiter="\t", strict=True):
            pass
    except csv.Error:
        return csv.QUOTE_NONE
    return csv.QUOTE_MINIMAL


def _check_quotes(text: str, separator: str, name: str) -> None:
    """Refuse a field that starts with a double quote and goes on after its closing quote ('"Great" movie,positive'):
    read as CSV, the quotes vanished without a word ('Great movie'). Such a field is not quoted CSV, and a file
    may mix it with truly quoted fields, so it cannot be read as literal text either: the message says how to
    quote it. Properly quoted fields, and quotes inside an unquoted field ('a "so-so" film'), read as before;
    other malformations are left to the reader's own messages."""
    reader = csv.reader(io.StringIO(text), delimiter=separator, strict=True)
    try:
        for _ in reader:
            pass
    except csv.Error as error:
        if "expected after" not in str(error):
            return
        line = text.splitlines()[reader.line_num - 1] if reader.line_num else ""
        shown = line if len(line) <= 80 else line[:77] + "..."
        raise DataError(
            f"'{name}' is not well-formed CSV: line {reader.line_num} has a field that starts with a double quote but goes on after "
            f"its closing quote ({shown}), so its quotes would be lost. Put double quotes around the whole field and double each "
            'quote inside it: the text "Great" movie is written """Great"" movie".'
        ) from None


def _check_field_counts(text: str, separator: str, name: str, kind: str, quoting: int = csv.QUOTE_MINIMAL) -> bool:
    """Refuse rows with more fields than the header, which pandas would otherwise read without a word;
    True when the extra first field is an unnamed row number, for the caller to read as the index.

    When every row has one field more than the header, pandas takes the first field for the row index,
    and with `index_col=False` it drops the last one: either way text is lost and training goes on. That
    is what an unquoted comma in every text looks like ("the score, was charming,positive"). One shape is
    legitimate: a first column of distinct row numbers without a header name (R's `write.table` writes
    it). Trailing empty fields ("a,1,") lose nothing and pass. A file the csv module cannot scan (a field
    over its size limit, a stray carriage return) is left to pandas, which reports its own errors.
    """
    reader = csv.reader(io.StringIO(text), delimiter=separator, quoting=quoting)
    try:
        header = next((row for row in reader if row), [])
        longer: list[tuple[int, int]] = []  # (line, fields) of each row with more fields than the header
        first_fields, rows, line = [], 0, reader.line_num
        for row in reader:
            start, line = line + 1, reader.line_num
            while len(row) > len(header) and not row[-1].strip():
                row.pop()
            if not row:
                continue
            rows += 1
            if len(row) > len(header):
                longer.append((start, len(row)))
                first_fields.append(row[0].strip())
    except csv.Error:
        return False
    if not longer:
        return False
    every, one_more = len(longer) == rows, all(n == len(header) + 1 for _, n in longer)
    if every and one_more and all(re.fullmatch(r"-?\d+", f) for f in first_fields) and len(set(map(int, first_fields))) == rows:
        return True
    line, fields = longer[0]
    columns = f"{len(header)} ({', '.join(header)})"
    problem = f"every row has more fields than the header's {columns}; line {line} has {fields}" if every else f"line {line} has {fields} fields but the header has {columns}"
    hint = " If the first column is a row number, give it a name in the header." if every and one_more else ""
    raise DataError(f"'{name}' is not well-formed {kind.upper()}: {problem}, so part of the row would be lost. {_quote_advice(separator)}{hint}")


def _csv_separator(text: str) -> str:
    """A CSV file's field separator, read from its header: a comma, unless the header has none and has
    semicolons (Excel's CSV where the decimal mark is a comma, as in most of Europe) or tabs. Read with
    commas, such a file is one column ('text;label') and no label column is found."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    if "," not in header:
        for separator in (";", "\t"):
            if separator in header:
                return separator
    return ","


def _quote_advice(separator: str) -> str:
    what = {"\t": "a tab", ";": "a semicolon"}.get(separator, 'a comma ("the score, was fun")')
    return f"Put double quotes around every field that contains {what}, double any quote inside such a field, and check the number of fields on that line."


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
    rows: dict[str, list[int]] = field(default_factory=dict)  # see `file_rows`

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.label_names))

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.label_names)}

    @property
    def has_pairs(self) -> bool:
        return len(self.text_columns) == 2


def _folder_advice(folder: Path) -> str:
    """What to give instead of a folder: the path of a data file in it, naming those it holds."""
    try:
        files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FILE_FORMATS)
    except OSError:
        files = []
    shown = f" It holds {', '.join(files[:5])}{', ...' if len(files) > 5 else ''}." if files else ""
    return f"give the path of a file in it (CSV, TSV, JSON, JSONL or Parquet).{shown}"


def check_sources(config: DataConfig) -> None:
    """Fail fast, before a run is created, on local files that do not exist or cannot be read."""
    if not config.dataset_name and not config.train_file:
        raise DataError("No data given: choose a Hub dataset id or upload a training file.")
    for name in ("train_file", "validation_file", "test_file"):
        value = getattr(config, name)
        if value and Path(value).is_dir():
            raise DataError(f"{name} '{value}' is a folder, not a data file: {_folder_advice(Path(value))}")
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

    token = token_for(config.dataset_name, "dataset")  # a studio visitor's own, where it may read the dataset
    try:
        loaded = datasets.load_dataset(config.dataset_name, config.dataset_config_name, token=token, cache_dir=datasets_cache(token, config.dataset_name))
    except FileNotFoundError as error:
        if type(error).__name__ == "DatasetNotFoundError":  # the Hub's answer for a missing id and for a repo the token may not read
            raise DataError(
                f"Dataset '{config.dataset_name}' was not found on the Hub, or it is private or gated and the token used cannot read it. "
                f"Check the id; for a private or gated dataset, read it with a token that may ({READ_TOKEN_HINT}), or upload its files."
            ) from error
        raise DataError(f"Dataset '{config.dataset_name}' was not found on the Hub or on disk: {error}") from error
    except ValueError as error:  # e.g. a missing or wrong config name
        raise DataError(_config_problem(config) or f"Dataset '{config.dataset_name}' could not be loaded: {error}") from error
    except ConnectionError as error:
        raise DataError(f"The Hugging Face Hub is unreachable, so '{config.dataset_name}' cannot be downloaded. Use a local data file instead (in the studio, upload it; in the CLI, --train_file, or evaluate's --test_file). ({error})") from error
    except Exception as error:  # datasets and huggingface_hub raise many types; the user needs the text
        raise DataError(f"Dataset '{config.dataset_name}' could not be loaded: {type(error).__name__}: {error}") from error
    names = list(loaded)
    source = f"Dataset '{config.dataset_name}'" + (f" (configuration '{config.dataset_config_name}')" if config.dataset_config_name else "")
    wanted = {
        "train": config.train_split_name,
        "validation": config.validation_split_name or next((n for n in VALIDATION_NAMES if n in names), None),
        "test": config.test_split_name or ("test" if "test" in names else None),
    }
    if wanted["train"] not in names:
        raise DataError(f"{source} has no split '{wanted['train']}'; it has: {', '.join(names)}.")
    frames = {}
    for role, name in wanted.items():
        if name is None:
            continue
        if name not in names:
            raise DataError(f"{source} has no split '{name}'; it has: {', '.join(names)}.")
        split = loaded[name]
        frame = split.to_pandas()
        features = split.features  # a fresh copy on every access: read it once
        labelled = next(((c, f) for c, f in features.items() if type(f).__name__ == "ClassLabel"), None)
        if labelled is not None:  # keep the dataset's own label names
            column, label_feature = labelled
            frame[column] = [label_feature.int2str(int(v)) if v is not None and v >= 0 else None for v in frame[column]]
            frame.attrs["label_order"] = list(label_feature.names)
        for column, feature in features.items():  # tag sequences (NER): List(ClassLabel) -> tag names
            inner = getattr(feature, "feature", None)
            if type(inner).__name__ == "ClassLabel":
                frame[column] = [[inner.int2str(int(v)) for v in row] if row is not None else None for row in frame[column]]
                frame.attrs["tag_order"] = list(inner.names)
        frames[role] = frame
    return frames


def _config_problem(config: DataConfig) -> str | None:
    """A missing or unknown configuration, in words that name the ones the dataset has (datasets' own
    message shows Python code); None when the configuration is not what went wrong."""
    import datasets  # noqa: PLC0415 - heavy

    try:
        token = token_for(config.dataset_name, "dataset")
        names = datasets.get_dataset_config_names(config.dataset_name, token=token, cache_dir=datasets_cache(token, config.dataset_name))
    except Exception:  # noqa: BLE001 - they cannot be listed either: the caller shows datasets' own message
        return None
    wanted = config.dataset_config_name
    if wanted in names or (not wanted and len(names) == 1):
        return None
    if not wanted:
        return f"Dataset '{config.dataset_name}' has several configurations; enter one of: {', '.join(names)}."
    return f"Dataset '{config.dataset_name}' has no configuration '{wanted}'; it has: {', '.join(names)}."


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
    unlabelled = {role: len(frames[role]) - len(frame) for role, frame in normalised.items()}
    values = sorted(set(normalised["train"]["label"]))
    if _looks_continuous(values, len(normalised["train"])):  # before the split, which would fail on classes of one row
        raise DataError(
            f"Column '{label}' holds measurements, not classes ({len(values):,} different numbers such as {', '.join(values[:3])}): a regression "
            "target, such as STS-B's similarity scores. finetuner trains classifiers: choose a column with one class per row, or "
            "bin the numbers into a few classes first."
        )
    created = _split_missing(normalised, config, seed)
    normalised = _limit(normalised, config)

    label_names = _label_names(normalised["train"]["label"], frames["train"].attrs.get("label_order"))
    if len(label_names) < 2:
        raise DataError(f"The training data has a single class ('{label_names[0]}'). A classifier needs at least two classes.")
    unseen = {role: sorted(set(f["label"]) - set(label_names)) for role, f in normalised.items() if role != "train"}
    for role, values in unseen.items():
        if values:
            shown = ", ".join(repr(v) for v in values[:5])
            if role in created and config.max_train_samples:  # the split keeps every class in train; only the limit can drop one
                raise DataError(_limit_dropped(role, f"label(s) {shown}", config.max_train_samples))
            raise DataError(f"The {role} data has label(s) {shown} that never occur in train; the model could never predict them. Add examples of them to train or remove them from {role}.")
    label2id = {name: i for i, name in enumerate(label_names)}
    report = _report(normalised, created, unlabelled)
    report.warnings[:0] = _numeric_texts(normalised["train"], texts)
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
        rows=file_rows(normalised),
    )


def _resolve_columns(frame: pd.DataFrame, config: DataConfig) -> tuple[list[str], str]:
    detected_texts, detected_label = detect_columns(frame)
    texts = config.text_column_names or detected_texts
    label = config.label_column_name or detected_label
    if not texts:
        raise DataError(f"No text column found among: {', '.join(map(str, frame.columns))}. Choose the text column.{_other_task_hint(frame)}")
    if not label:
        raise DataError(f"No label column found among: {', '.join(map(str, frame.columns))}. Choose the label column.{_other_task_hint(frame)}")
    named_pair = _generative_pair_hint(frame)
    if not config.label_column_name and named_pair and str(label).lower() not in LABEL_NAMES:
        # The label would be the column with the fewest distinct values: a summary or an answer, each its own class.
        raise DataError(
            f"No label column found among: {', '.join(map(str, frame.columns))} (none is named like one: {', '.join(LABEL_NAMES[:5])}, ...)."
            f"{named_pair} Or, for text classification, choose the label column."
        )
    if label in texts:
        raise DataError(f"Column '{label}' cannot be both the text and the label.")
    if len(texts) == 2 and texts[0] == texts[1]:
        raise DataError(f"Column '{texts[0]}' is both the first and the second text: choose another second text column, or '(none)' for single texts.")
    return list(texts), label


def _generative_pair_hint(frame: pd.DataFrame, *, besides: str | None = None) -> str:
    """Where the columns are named as a summarization or instruction-tuning task reads them (document/summary,
    instruction/output, ...), which task that is (other than `besides`, the task that refused them); else ""."""
    lower = _names(frame)
    for pairs, what, task in ((PROMPT_PAIRS, "prompts and their answers: for instruction tuning", "causal-lm"), (DOCUMENT_PAIRS, "documents and their summaries: for summarization", "seq2seq")):
        if task == besides:
            continue
        found = next(((lower[first], lower[second]) for first, second in pairs if first in lower and second in lower), None)
        if found:
            return f" Columns {found[0]!r} and {found[1]!r} look like {what}, choose the {task} task (--task {task})."
    return ""


def _other_task_hint(frame: pd.DataFrame, *, besides: str | None = None) -> str:
    """When a task finds no columns to use, what the data looks like instead: lists of words (NER) or of chat
    messages (instruction tuning), with the task that reads them (unless it is `besides`, the task that refused them)."""
    import numpy as np  # noqa: PLC0415

    lists = [c for c in frame.columns if frame[c].head(20).map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any()]  # Parquet gives arrays
    if not lists:
        return ""
    if any(isinstance(v, dict) for c in lists for row in frame[c].head(5) if hasattr(row, "__iter__") for v in row):
        what, task = "hold chat messages: for instruction data", "causal-lm"
    else:
        what, task = "hold lists: for words with their tags", "token-classification"
    return "" if task == besides else f" Column(s) {', '.join(map(repr, lists))} {what}, choose the {task} task (--task {task})."


def _normalise(frame: pd.DataFrame, texts: list[str], label: str, role: str) -> pd.DataFrame:
    """Columns `text`[, `text_pair`], `label` (label values as strings); rows without a label dropped. The
    index is the file row (`file_rows`)."""
    frame = frame.reset_index(drop=True)
    out = pd.DataFrame({"text": frame[texts[0]].map(_as_text)})
    if len(texts) == 2:
        out["text_pair"] = frame[texts[1]].map(_as_text)
    labels = frame[label]
    if labels.map(lambda v: isinstance(v, (list, dict))).any():
        raise DataError(f"Column '{label}' holds lists, not one class per row; choose a column with one label per text.")
    out["label"] = labels.map(_label_text)
    return out[out["label"] != ""]


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


def _looks_continuous(values: list[str], rows: int) -> bool:
    """Labels that are numbers with fractions, nearly one per row: a regression target, on which a
    classifier would make each value a class (the split then fails, every class having one row). Star
    ratings in halves (0.5 to 5.0) are ten classes, and stay classes."""
    if len(values) <= 20 or len(values) * 5 < rows:
        return False
    try:
        numbers = [float(value) for value in values]
    except ValueError:
        return False
    return any(not number.is_integer() for number in numbers)


def _is_int(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True


def _split_missing(frames: dict[str, pd.DataFrame], config: DataConfig, seed: int, *, by: str | None = "label") -> list[str]:
    """Carve validation (and test) out of train when the data has none, seeded.

    `by="label"` (classification) stratifies by the label and keeps every class in train; `by="tags"`
    (NER) shuffles and keeps every tag in train; `None` (generation) is a plain shuffle. A class or tag
    that the tool's own split carried out of train would stop training with an error that blames the
    user's validation data, so the split never does that.
    """
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
            f"The training data has only {len(train)} row{'' if len(train) == 1 else 's'}: too few to hold out validation/test rows "
            f"(at least {MIN_ROWS_TO_SPLIT} needed). Add rows or give validation and test files."
        )
    created = []
    total = len(train)
    for role, ratio in missing:
        size = max(1, round(total * ratio))
        if by == "label":
            train, held_out = _split_by_label(train, size, seed, role)
        else:
            train, held_out = train_test_split(train, test_size=size, random_state=seed)
            if by == "tags":
                train, held_out = _keep_every_tag_in_train(train, held_out)
        frames[role] = held_out  # indexed by file row (`file_rows`)
        created.append(role)
    frames["train"] = train
    return created


def _split_by_label(train: pd.DataFrame, size: int, seed: int, role: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, held out): sklearn's stratified split where it can keep every class in train, else
    `_hold_out_by_class`. sklearn's split stays first because a resumed or repeated run with the same
    seed must get the same rows it had before."""
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    counts = train["label"].value_counts()
    if counts.min() >= 2 and size >= len(counts) and len(train) - size >= len(counts):
        kept, held_out = train_test_split(train, test_size=size, random_state=seed, stratify=train["label"])
        if set(held_out["label"]) <= set(kept["label"]):
            return kept, held_out
    return _hold_out_by_class(train, size, seed, role)


def _hold_out_by_class(train: pd.DataFrame, size: int, seed: int, role: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out up to `size` rows, each class in proportion to its rows, never a class's last row.

    This is the stratified split for the data sklearn refuses to split: a class with a single row, or fewer
    held-out rows than classes (300 rows of BANKING77's 77 intents). Each class gets the whole part of
    its share; the rows that rounding down leaves go one each to the classes with the largest remainders
    (ties drawn with the seed). The rarest classes may then have no held-out row, which the data report
    says.
    """
    import numpy as np  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    counts = train["label"].value_counts()
    room = counts - 1
    if room.sum() == 0:
        raise DataError(
            f"Every class in the training data has a single row, so no row can be held out for {role} without "
            f"leaving its class out of train. Add rows (a few per class), or give a {role} file."
        )
    share = counts * size / len(train)
    seats = np.minimum(np.floor(share), room).astype(int)
    draw = pd.Series(rng.random(len(counts)), index=counts.index)
    order = sorted(counts.index, key=lambda c: (seats[c] - share[c], draw[c]))
    left = min(size, int(room.sum())) - int(seats.sum())
    while left > 0:
        for label in order:
            if left > 0 and seats[label] < room[label]:
                seats[label] += 1
                left -= 1
    chosen = [index for label in order for index in rng.choice(train.index[train["label"] == label], seats[label], replace=False)]
    held_out = train.loc[rng.permutation(chosen)]
    kept = train.drop(index=chosen)
    return kept.iloc[rng.permutation(len(kept))], held_out


def _keep_every_tag_in_train(train: pd.DataFrame, held_out: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Move back to train one held-out sentence for each tag train lacks.

    On a small NER set a random split can carry every sentence with a rare tag (WNUT-17's I-corporation
    in 200 sentences) out of train, and training would stop on the tool's own split. The other sentences
    with that tag stay held out, so the tag is still scored.
    """
    seen = {tag for tags in train["tags"] for tag in tags}
    back = []
    for index, tags in held_out["tags"].items():
        if not set(tags) <= seen:
            back.append(index)
            seen.update(tags)
    return pd.concat([train, held_out.loc[back]]), held_out.drop(index=back)


def _limit_dropped(role: str, what: str, limit: int) -> str:
    """The message when max_train_samples, not the user's data, left a class of a split the tool made out of train."""
    return (
        f"The {role} rows split from train have {what} that the {limit} training rows kept by max_train_samples lack; "
        f"the model could never predict them. Raise or clear max_train_samples, or give a {role} file."
    )


def _absent(train_counts: dict[str, int], counts: dict[str, int]) -> tuple[int, str]:
    """How many of train's classes (or entity types) a split lacks, and the first few of them by name."""
    absent = [name for name in train_counts if name not in counts]
    shown = ", ".join(repr(name) for name in absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
    return len(absent), shown


def _limit(frames: dict[str, pd.DataFrame], config: DataConfig) -> dict[str, pd.DataFrame]:
    limits = {"train": config.max_train_samples, "validation": config.max_eval_samples, "test": config.max_predict_samples}
    return {role: frame.head(limits[role]) if limits.get(role) else frame for role, frame in frames.items()}


def _report(frames: dict[str, pd.DataFrame], created: list[str], unlabelled: dict[str, int]) -> DataReport:
    """`unlabelled`: the rows of each split as loaded that had no label and were left out (before any split was made)."""
    report = DataReport(
        split_sizes={role: len(f) for role, f in frames.items()},
        class_counts={role: dict(Counter(f["label"]).most_common()) for role, f in frames.items()},
        created_splits=created,
    )
    for role, count in unlabelled.items():
        if count:
            report.warnings.append(f"{role}: {count} row(s) without a label were left out; label them to train or score on them.")
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
    # Plain Python strings: pandas' `isin` on its Arrow-backed strings converts train's keys one by one (1 s on SST-2).
    train_keys = set(_row_keys(frames["train"]).tolist())
    for role in ("validation", "test"):
        if role in frames:
            shared = sum(key in train_keys for key in _row_keys(frames[role]).tolist())
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
    for role in ("validation", "test"):
        if role in frames:
            report.warnings += _small_split(role, len(frames[role]))
    for role in created:
        report.warnings.append(f"{role} was split from train ({len(frames[role])} rows, stratified by label, keeping every class in train).")
        absent, shown = _absent(counts, report.class_counts[role])
        if absent:
            report.warnings.append(
                f"{role} has no rows of {absent} of the {len(counts)} classes ({shown}), so its scores say nothing about them: "
                "the split holds out each class in proportion to its rows and keeps a class's last row in train, which leaves "
                f"the rarest out. Give a {role} file, or more rows per class."
            )
    return report


def _numeric_texts(train: pd.DataFrame, texts: list[str]) -> list[str]:
    """A warning for each text column whose every training text is a number: an id, a count or a score was taken
    for the text (the model would learn from digits alone), which nothing else on the page would show."""
    warnings = []
    for column, name in zip(("text", "text_pair"), texts):
        values = train[column].str.strip()
        values = values[values != ""]
        if len(values) and values.str.fullmatch(r"[-+]?\d[\d,]*(\.\d+)?([eE][-+]?\d+)?").all():
            examples = ", ".join(repr(v) for v in values.sort_index().head(3))  # the first in the file
            warnings.append(
                f"train: text column '{name}' holds only numbers (such as {examples}), not words: the model would learn from "
                "digits alone. If another column holds the text, choose it as the text column (CLI: --text_column_names)."
            )
    return warnings


# Below this many rows an evaluation split's score is known to worse than about ±0.06 (its 95% interval at 50%).
SMALL_EVAL_ROWS = 300


def _small_split(role: str, rows: int) -> list[str]:
    """A caution where a split is too small to tell runs apart: scores on it move by more than most changes."""
    if not 0 < rows < SMALL_EVAL_ROWS:
        return []
    from .intervals import wilson  # noqa: PLC0415

    low, high = wilson(rows // 2, rows)
    return [
        f"{role}: only {rows} rows, so a score on it is known to about ±{(high - low) / 2:.2f} (95% interval): "
        "runs closer than that may not differ. Hold out more rows to narrow it (±0.05 takes about 385)."
    ]


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
        raise ColumnNotFoundError(f"The data needs the text column(s) {', '.join(text_columns or ['text'])}; its columns are: {', '.join(map(str, frame.columns))}.")
    if not label:
        raise ColumnNotFoundError(f"The data has no label column '{label_column}'; its columns are: {', '.join(map(str, frame.columns))}.")
    normalised = _normalise(frame, texts, label, "evaluation")
    unknown = sorted(set(normalised["label"]) - set(label_names))
    if unknown:
        shown = ", ".join(repr(v) for v in unknown[:5])
        raise DataError(f"The data has label(s) {shown} that the model does not know; it knows: {', '.join(label_names)}.")
    label2id = {name: i for i, name in enumerate(label_names)}
    return datasets.Dataset.from_pandas(normalised.assign(label=normalised["label"].map(label2id).astype("int64")), preserve_index=False)



# ---------------------------------------------------------------- files to predict on
#
# Each task module's `prediction_inputs` finds the column(s) of a file to predict on with these helpers and
# its own training-data code, so a file in the format the model was trained on is read the same way.


def chosen_columns(frame: pd.DataFrame, names: str | None, source: str) -> list[str]:
    """The column(s) a user named for a file to predict on ("premise,hypothesis" for a pair), each checked to be in it."""
    chosen = [name.strip() for name in (names or "").split(",") if name.strip()]
    missing = [name for name in chosen if name not in frame.columns]
    if missing:
        raise DataError(f"{source} has no column {', '.join(map(repr, missing))}; its columns are: {', '.join(map(str, frame.columns))}.")
    return chosen


def no_column_error(what: str, source: str, frame: pd.DataFrame, looked_for: list[str]) -> DataError:
    """A prediction file without a usable column: what was looked for, what it has, and how to choose."""
    return DataError(
        f"No {what} column in {source}: looked for {'; '.join(looked_for)}. Its columns are: {', '.join(map(str, frame.columns))}. "
        "Name the text column to predict on (--text_column_name; in the studio, Text column)."
    )


def column_texts(frame: pd.DataFrame, column: str) -> list[str]:
    """A column's values as strings, missing ones as ""."""
    return [_as_text(value) for value in frame[column]]


# ---------------------------------------------------------------- the other tasks' data
#
# Token classification, causal-LM instruction tuning and seq2seq share one shape: find the columns on the
# training data, normalise every split to a few fixed columns, hold out validation/test rows at random
# when the data has none, and report what a user should know. `TaskData` is what they return.

TOKENS_NAMES = ("tokens", "words", "token", "word")
TAGS_NAMES = ("ner_tags", "tags", "ner", "labels", "label", "tag", "bio", "entities")
MESSAGES_NAMES = ("messages", "conversations", "conversation", "chat", "dialog")
INPUT_NAMES, INPUT_BESIDE = ("input", "context"), ("instruction", "question")  # an optional input column, beside these prompts
PROMPT_PAIRS = (("prompt", "completion"), ("instruction", "output"), ("instruction", "response"), ("question", "answer"), ("input", "output"), ("query", "response"), ("prompt", "response"))
DOCUMENT_PAIRS = (("document", "summary"), ("article", "highlights"), ("article", "summary"), ("text", "summary"), ("dialogue", "summary"), ("source", "target"), ("input", "output"), ("document", "target"), ("text", "target"))
CHAT_ROLES = {"system": "system", "user": "user", "assistant": "assistant", "human": "user", "gpt": "assistant", "bot": "assistant", "model": "assistant"}
_TAG = re.compile(r"^(?:O|[BIESLU]-.+)$")


@dataclass
class TaskData:
    """Prepared data of a task other than text classification.

    `splits` is a `datasets.DatasetDict` (train, validation[, test]) with the task's normalised columns;
    `columns` maps each role (e.g. "tokens", "tags") to the user's column it came from; `label_names` is the
    tag set for token classification and empty for generation; `report` is the JSON written to the run's
    `data_report.json`.
    """

    splits: Any
    report: dict[str, Any]
    fingerprint: str
    columns: dict[str, str]
    label_names: list[str] = field(default_factory=list)
    source_format: str = ""
    rows: dict[str, list[int]] = field(default_factory=dict)  # see `file_rows`


def file_rows(frames: dict[str, pd.DataFrame]) -> dict[str, list[int]]:
    """Per split, the row of its file (0 = the first data row, as the Data tab's preview numbers them) that
    each example came from, in the split's order. Splits carved from train are shuffled, and rows without a
    label or text are left out, so an example's place in its split is not its row in the file. The
    normalised frames carry the file row as their index until the splits are made (`_split_missing` and
    the normalisers keep it)."""
    return {role: [int(i) for i in frame.index] for role, frame in frames.items()}


def row_name(row: int, of: str) -> str:
    """How a message names a row of a file: by its number from 0, the number the Data tab's preview shows in
    its # column and the inspector takes (pandas and the Hub's dataset viewer count so too), with its place
    counted from 1 for whoever reads the file itself."""
    place = row + 1
    suffix = "th" if 10 <= place % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(place % 10, "th")
    return f"Row {row} of {of} (numbered from 0, as the Data tab's # column: the {place}{suffix} record)"


def _names(frame: pd.DataFrame) -> dict[str, str]:
    return {str(c).lower(): c for c in frame.columns}


def _column_error(what: str, frame: pd.DataFrame, option: str, task: str) -> ColumnNotFoundError:
    """No column for `what` of `task`; where the columns are another task's (lists of words, chat messages, a
    document/summary or prompt/answer pair), the message names that task."""
    hint = _other_task_hint(frame, besides=task) or _generative_pair_hint(frame, besides=task)
    return ColumnNotFoundError(f"No {what} column found among: {', '.join(map(str, frame.columns))}. Set {option} to the right column.{hint}")


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray"


def _json_fingerprint(frames: dict[str, pd.DataFrame], extra: Any = None) -> str:
    digest = hashlib.sha256(json.dumps(extra, default=str).encode())
    for role in sorted(frames):
        digest.update(role.encode())
        digest.update(frames[role].to_json(orient="records", force_ascii=False).encode())
    return digest.hexdigest()[:16]


def _duplicates_and_overlap(frames: dict[str, pd.DataFrame], keys: dict[str, pd.Series], report: dict[str, Any], what: str) -> None:
    report["duplicate_texts"], report["overlap"] = {}, {}
    for role, key in keys.items():
        duplicates = int(key.duplicated().sum())
        report["duplicate_texts"][role] = duplicates
        if duplicates:
            report["warnings"].append(f"{role}: {duplicates} duplicate {what}(s).")
    train_keys = set(keys["train"])
    for role in ("validation", "test"):
        if role in keys:
            shared = int(keys[role].isin(train_keys).sum())
            report["overlap"][role] = shared
            if shared:
                report["warnings"].append(f"{role}: {shared} {what}(s) also appear in train, which flatters the {role} score.")


def _finish(frames: dict[str, pd.DataFrame], config: DataConfig, seed: int, *, by: str | None = None) -> list[str]:
    created = _split_missing(frames, config, seed, by=by)
    frames.update(_limit(frames, config))
    for role, frame in frames.items():
        if frame.empty:
            raise DataError(f"The {role} data has no usable rows left.")
    return created


# ------------------------------------------------ token classification (NER)


def resolve_token_columns(frame: pd.DataFrame, config: DataConfig) -> tuple[str, str]:
    """(tokens column, tags column): the configured ones, else the first known name whose values are lists or strings."""
    lower = _names(frame)
    tokens = config.tokens_column_name or next((lower[n] for n in TOKENS_NAMES if n in lower), None)
    tags = config.tags_column_name or next((lower[n] for n in TAGS_NAMES if n in lower and lower[n] != tokens), None)
    if tokens is None:
        raise _column_error("tokens (words)", frame, "tokens_column_name", "token-classification")
    if tags is None:
        raise _column_error("tags", frame, "tags_column_name", "token-classification")
    for name, option in ((tokens, "tokens_column_name"), (tags, "tags_column_name")):
        if name not in frame.columns:
            raise ColumnNotFoundError(f"The data has no column '{name}' ({option}); its columns are: {', '.join(map(str, frame.columns))}.")
    if tokens == tags:
        raise DataError(f"Column '{tokens}' cannot be both the words and the tags.")
    return tokens, tags


def normalise_token_frame(frame: pd.DataFrame, tokens: str, tags: str, role: str) -> tuple[pd.DataFrame, int]:
    """Columns `tokens` and `tags`, both lists of strings of equal length; returns the frame and how many empty rows were dropped.

    Lists are taken as they are; a string is split on whitespace (so "EU rejects German call" with
    "B-ORG O B-MISC O" works from a CSV). A row whose counts differ is an error that names the row.
    """
    word_lists, tag_lists, kept, empty = [], [], [], 0
    for row, (words, labels) in enumerate(zip(frame[tokens], frame[tags])):
        words, labels = _as_sequence(words), _as_sequence(labels)
        if words is None or labels is None:
            raise DataError(
                f"{row_name(row, f'the {role} data')}: '{tokens}' and '{tags}' must each hold a list (or a space-separated string) "
                "of words and of tags. Use JSONL, JSON or Parquet with one list per row."
            )
        if len(words) != len(labels):
            raise DataError(f"{row_name(row, f'the {role} data')} has {len(words)} words but {len(labels)} tags: every word needs exactly one tag.")
        if not words:
            empty += 1
            continue
        word_lists.append([str(w) for w in words])
        tag_lists.append([_label_text(t) for t in labels])
        kept.append(row)
    return pd.DataFrame({"tokens": word_lists, "tags": tag_lists}, index=kept), empty


def sentence_words(value: Any) -> list[str] | None:
    """A tokens value as training reads it: a list of words, or a string split on whitespace; None for anything else."""
    words = _as_sequence(value)
    return None if words is None else [str(w) for w in words]


def _as_sequence(value: Any) -> list | None:
    """Words or tags: a list as it is; a string as the JSON list a CSV keeps it as (predictions files write
    lists so), else split on whitespace."""
    if isinstance(value, str):
        parsed = _json_list(value)
        return value.split() if parsed is None else parsed
    if _is_list(value):
        return list(value)
    return None


def _json_list(text: str) -> list | None:
    """The list a JSON text holds, or None: text that merely starts with a bracket stays text."""
    if not text.lstrip().startswith("["):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, list) else None


def tag_names(tags: set[str], order: list[str] | None = None) -> list[str]:
    """The tag set in a stable order: the dataset's own when it has one, else O first, then by entity type (B before I)."""
    if order:
        return [t for t in order if t in tags] + sorted(tags - set(order))
    prefix_rank = {"B": 0, "I": 1, "E": 2, "L": 2, "S": 3, "U": 3}

    def key(tag: str) -> tuple:
        if tag == "O":
            return (0, "", 0)
        prefix, _, kind = tag.partition("-")
        return (1, kind, prefix_rank.get(prefix, 9))

    return sorted(tags, key=key)


def prepare_token_data(config: DataConfig, *, seed: int = 42) -> TaskData:
    """NER data: per split, `tokens` (words) and `tags` (tag ids into `label_names`), with entity counts per type."""
    import datasets  # noqa: PLC0415 - heavy

    frames = load_raw(config)
    tokens, tags = resolve_token_columns(frames["train"], config)
    order = frames["train"].attrs.get("tag_order")
    normalised, dropped = {}, {}
    for role, frame in frames.items():
        missing = [c for c in (tokens, tags) if c not in frame.columns]
        if missing:
            raise DataError(f"The {role} data has no column {', '.join(repr(m) for m in missing)}; its columns are: {', '.join(map(str, frame.columns))}.")
        normalised[role], dropped[role] = normalise_token_frame(frame, tokens, tags, role)
    created = _finish(normalised, config, seed, by="tags")
    all_tags = {t for row in normalised["train"]["tags"] for t in row}
    bad = sorted(t for t in all_tags if not _TAG.match(t))
    if bad:
        shown = ", ".join(repr(t) for t in bad[:5])
        raise DataError(
            f"Tags {shown} do not follow the BIO scheme. Tags must be 'O' or a prefix and an entity type, "
            "such as B-person (first word of an entity) and I-person (the words after it)."
        )
    names = tag_names(all_tags, order)
    for role, frame in normalised.items():
        unseen = sorted({t for row in frame["tags"] for t in row} - set(names))
        if unseen:
            shown = ", ".join(repr(v) for v in unseen[:5])
            if role in created and config.max_train_samples:  # the split keeps every tag in train; only the limit can drop one
                raise DataError(_limit_dropped(role, f"tag(s) {shown}", config.max_train_samples))
            raise DataError(f"The {role} data has tag(s) {shown} that never occur in train; the model could never predict them. Add examples of them to train or fix the tags.")
    if names == ["O"]:
        raise DataError("The training data has no entities: every tag is 'O'. Tag the entities (B-type, I-type) before training.")
    report = token_data_report(normalised, created, dropped)
    index = {name: i for i, name in enumerate(names)}
    splits = datasets.DatasetDict(
        {
            role: datasets.Dataset.from_dict({"tokens": list(frame["tokens"]), "tags": [[index[t] for t in row] for row in frame["tags"]]})
            for role, frame in normalised.items()
        }
    )
    return TaskData(
        splits=splits,
        report={**report, "label_names": names, "text_columns": [tokens], "label_column": tags},
        fingerprint=_json_fingerprint(normalised, names),
        columns={"tokens": tokens, "tags": tags},
        label_names=names,
        source_format="tokens and tags",
        rows=file_rows(normalised),
    )


def token_data_report(frames: dict[str, pd.DataFrame], created: list[str], dropped: dict[str, int]) -> dict[str, Any]:
    from .metrics_text import entity_spans  # noqa: PLC0415

    report: dict[str, Any] = {
        "split_sizes": {role: len(f) for role, f in frames.items()},
        "word_counts": {role: int(f["tokens"].map(len).sum()) for role, f in frames.items()},
        "class_counts": {},
        "warnings": [],
        "created_splits": created,
        "empty_texts": dropped,
    }
    for role, frame in frames.items():
        counts: Counter = Counter()
        starts_with_i = 0
        for row in frame["tags"]:
            spans = entity_spans(row)
            counts.update(kind for kind, _, _ in spans)
            starts_with_i += sum(1 for _, start, _ in spans if row[start].startswith("I-"))
        report["class_counts"][role] = dict(counts.most_common())
        if dropped.get(role):
            report["warnings"].append(f"{role}: {dropped[role]} empty sentence(s) dropped.")
        if starts_with_i:
            report["warnings"].append(f"{role}: {starts_with_i} entit(ies) start with an I- tag; they are counted as entities (the conlleval convention).")
    keys = {role: frame["tokens"].map(" ".join) for role, frame in frames.items()}
    _duplicates_and_overlap(frames, keys, report, "sentence")
    train_counts = report["class_counts"]["train"]
    if train_counts and min(train_counts.values()) * 10 <= max(train_counts.values()):
        rare = min(train_counts, key=train_counts.get)
        report["warnings"].append(f"train is imbalanced: entity type '{rare}' has {train_counts[rare]} examples; judge it by its own F1.")
    for role in created:
        report["warnings"].append(f"{role} was split from train ({len(frames[role])} sentences, at random, keeping every tag in train).")
        absent, shown = _absent(train_counts, report["class_counts"][role])
        if absent:
            report["warnings"].append(
                f"{role} has no entities of {absent} of the {len(train_counts)} entity types in train ({shown}), so its entity F1 "
                f"says nothing about them. Give a {role} file, or more sentences with those entities."
            )
    return report


# ------------------------------------------------ causal LM: prompt/completion, instruction/input/output, chat messages


def resolve_instruction_columns(frame: pd.DataFrame, config: DataConfig, *, answers: bool = True) -> dict[str, str]:
    """Which columns hold the conversation: {"messages": col} or {"prompt": col, "completion": col[, "input": col]}.

    The optional input is added to the prompt: Alpaca's `input` beside its `instruction`, Dolly's `context`
    beside its `instruction`, a reading-comprehension `context` beside a `question`; or the column
    `input_column_name` names. Without `answers` (a file to predict on), the answer column may be missing:
    a prompt column alone is found by the same names, and "completion" is then left out."""
    lower = _names(frame)
    prompt, completion, extra = config.prompt_column_name, config.completion_column_name, config.input_column_name or None
    for name in (prompt, completion, extra):
        if name and name not in frame.columns:
            raise ColumnNotFoundError(f"The data has no column '{name}'; its columns are: {', '.join(map(str, frame.columns))}.")
    chat = prompt if prompt and not completion and _holds_messages(frame[prompt]) else None
    if not prompt and not completion:
        chat = next((lower[n] for n in MESSAGES_NAMES if n in lower and _holds_messages(frame[lower[n]])), None)
    if chat:
        if extra:
            raise DataError(f"The column '{chat}' holds chat messages, each a whole conversation: it takes no input column. Leave input_column_name empty.")
        return {"messages": chat}
    if not prompt and not completion:
        for first, second in PROMPT_PAIRS:
            if first in lower and second in lower:
                prompt, completion = lower[first], lower[second]
                break
        if not prompt and not answers:
            prompt = next((lower[first] for first, _ in PROMPT_PAIRS if first in lower), None)
    elif not completion:
        completion = next((lower[second] for first, second in PROMPT_PAIRS if second in lower and lower[second] != prompt), None)
    elif not prompt:
        prompt = next((lower[first] for first, second in PROMPT_PAIRS if first in lower and lower[first] != completion), None)
    if not answers and not prompt:
        raise DataError(
            f"No prompt column found among: {', '.join(map(str, frame.columns))}. Looked for a chat column ({', '.join(MESSAGES_NAMES)}) "
            f"and a prompt column ({', '.join(dict.fromkeys(first for first, _ in PROMPT_PAIRS))}). Name the column that holds the prompts."
        )
    if answers and (not prompt or not completion):
        raise ColumnNotFoundError(
            f"Could not tell the prompt from the answer among the columns: {', '.join(map(str, frame.columns))}. "
            "Use prompt/completion, instruction/input/output or a chat 'messages' column, or set prompt_column_name and completion_column_name."
        )
    if extra is None and str(prompt).lower() in INPUT_BESIDE:  # found by name only beside the prompts it belongs to
        extra = next((lower[name] for name in INPUT_NAMES if name in lower and lower[name] not in (prompt, completion)), None)
    if extra is not None and extra in (prompt, completion):
        raise DataError(f"The input column '{extra}' is also the {'prompt' if extra == prompt else 'answer'} column; choose another one, or leave input_column_name empty.")
    return {"prompt": prompt, **({"completion": completion} if completion else {}), **({"input": extra} if extra is not None else {})}


def _holds_messages(column: pd.Series) -> bool:
    first = _message_list(next((v for v in column if v is not None), None))
    return _is_list(first) and len(first) > 0 and isinstance(first[0], dict)


def _message_list(value: Any) -> Any:
    """A chat cell as a list: as it comes, or parsed from the text a CSV keeps it as (JSON, or the Python
    form pandas' `to_csv` writes); anything else as it is, for the caller to refuse."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        for parse in (json.loads, ast.literal_eval):
            try:
                parsed = parse(value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
            if isinstance(parsed, list):
                return parsed
    return value


def _message_text(content: Any, row: int, role: str) -> str:
    """A message's text: a string, or the text parts of a list of parts (OpenAI's {"type": "text", "text": ...})."""
    if not _is_list(content):
        return _as_text(content)
    texts = []
    for part in content:
        kind = part.get("type", "text") if isinstance(part, dict) else "text" if isinstance(part, str) else type(part).__name__
        if kind != "text":
            raise DataError(f"{row_name(row, f'the {role} data')}: a message holds a '{kind}' part; only text can be learned. Keep the text parts only, or leave the row out.")
        texts.append(part if isinstance(part, str) else _as_text(part.get("text")))
    return "\n".join(texts)


def normalise_instruction_frame(frame: pd.DataFrame, columns: dict[str, str], role: str) -> tuple[pd.DataFrame, int]:
    """Columns `prompt` (a list of chat messages, ending with the user's turn) and `completion` (the assistant's answer)."""
    prompts, completions, kept, dropped = [], [], [], 0
    for row, record in enumerate(frame.to_dict("records")):
        if "messages" in columns:
            messages = _chat_messages(record[columns["messages"]], row, role)
            if not messages:
                dropped += 1
                continue
            *prompt, answer = messages
        else:
            user = _user_prompt(record, columns)
            answer = {"role": "assistant", "content": _as_text(record[columns["completion"]])}
            prompt = [{"role": "user", "content": user}]
            if not user:
                dropped += 1
                continue
        if not answer["content"].strip():
            dropped += 1
            continue
        prompts.append(prompt)
        completions.append(answer["content"])
        kept.append(row)
    return pd.DataFrame({"prompt": prompts, "completion": completions}, index=kept), dropped


def _user_prompt(record: dict[str, Any], columns: dict[str, str]) -> str:
    """The user's turn of a prompt/completion or instruction/input/output record: the prompt, then its input after a blank line."""
    user = _as_text(record[columns["prompt"]]).strip()
    if "input" in columns and _as_text(record[columns["input"]]).strip():
        user = f"{user}\n\n{_as_text(record[columns['input']]).strip()}"
    return user


def prompt_conversations(frame: pd.DataFrame, columns: dict[str, str], source: str) -> list[list[dict[str, str]]]:
    """What the model is asked on each row of a file to predict on, read as training reads the same rows:
    a chat's conversation up to (not including) its last assistant turn, which is the answer training
    learns; or the user's prompt with its input. Every row gets one, so predictions line up with the rows."""
    prompts = []
    for row, record in enumerate(frame.to_dict("records")):
        if "messages" not in columns:
            prompts.append([{"role": "user", "content": _user_prompt(record, columns)}])
            continue
        messages = _chat_messages(record[columns["messages"]], row, source, answered=False)
        if messages and messages[-1]["role"] == "assistant":
            messages = messages[:-1]
        if not messages or messages[-1]["role"] != "user":
            raise DataError(f"{row_name(row, source)}: the conversation must have a user message to answer, after any earlier answer.")
        prompts.append(messages)
    return prompts


def _chat_messages(value: Any, row: int, role: str, *, answered: bool = True) -> list[dict[str, str]]:
    """A row's chat as {"role", "content"} messages (ShareGPT's from/value too). `answered`: the conversation
    must end with the assistant's answer (training data); a conversation to predict on need not."""
    value = _message_list(value)
    if not _is_list(value):
        raise DataError(f"{row_name(row, f'the {role} data')}: the messages column must hold a list of {{'role', 'content'}} messages.")
    messages = []
    for message in value:
        if not isinstance(message, dict):
            raise DataError(f"{row_name(row, f'the {role} data')}: each message must be a mapping with 'role' and 'content'.")
        if message.get("role", message.get("from")) is None:
            raise DataError(f"{row_name(row, f'the {role} data')}: a message has no 'role' (nor ShareGPT's 'from'); give each message its role: system, user or assistant.")
        speaker = str(message.get("role", message.get("from"))).lower()
        if speaker not in CHAT_ROLES:
            raise DataError(f"{row_name(row, f'the {role} data')}: unknown role '{speaker}'; use system, user or assistant.")
        messages.append({"role": CHAT_ROLES[speaker], "content": _message_text(message.get("content", message.get("value")), row, role)})
    if not messages:
        return []
    if not answered:
        return messages
    if messages[-1]["role"] != "assistant":
        raise DataError(f"{row_name(row, f'the {role} data')}: the conversation must end with the assistant's answer, the part the model learns to write.")
    if not any(m["role"] == "user" for m in messages[:-1]):
        raise DataError(f"{row_name(row, f'the {role} data')}: the conversation has no user message before the answer.")
    return messages


def prepare_instruction_data(config: DataConfig, *, seed: int = 42) -> TaskData:
    """Instruction-tuning data: per split, `prompt` (chat messages) and `completion` (the answer to learn)."""
    import datasets  # noqa: PLC0415 - heavy

    frames = load_raw(config)
    columns = resolve_instruction_columns(frames["train"], config)
    normalised, dropped = {}, {}
    for role, frame in frames.items():
        missing = [c for c in columns.values() if c not in frame.columns]
        if missing:
            raise DataError(f"The {role} data has no column {', '.join(repr(m) for m in missing)}; its columns are: {', '.join(map(str, frame.columns))}.")
        normalised[role], dropped[role] = normalise_instruction_frame(frame, columns, role)
    created = _finish(normalised, config, seed)
    source_format = "chat messages" if "messages" in columns else "instruction/input/output" if "input" in columns else "prompt/completion"
    report: dict[str, Any] = {
        "split_sizes": {role: len(f) for role, f in normalised.items()},
        "class_counts": {},
        "warnings": [f"{role}: {n} row(s) without a prompt or an answer dropped." for role, n in dropped.items() if n],
        "created_splits": created,
        "empty_texts": dropped,
        "source_format": source_format,
        "text_columns": [c for k, c in columns.items() if k != "completion"],
        "label_column": columns.get("completion", columns.get("messages")),
        "label_names": [],
        "mean_words": {
            role: {"prompt": float(f["prompt"].map(lambda m: sum(len(x["content"].split()) for x in m)).mean()), "completion": float(f["completion"].str.split().str.len().mean())}
            for role, f in normalised.items()
        },
    }
    keys = {role: f["prompt"].map(json.dumps) + "\x1f" + f["completion"] for role, f in normalised.items()}
    _duplicates_and_overlap(normalised, keys, report, "example")
    for role in created:
        report["warnings"].append(f"{role} was split from train ({len(normalised[role])} examples, at random).")
    splits = datasets.DatasetDict(
        {role: datasets.Dataset.from_list(frame.to_dict("records")) for role, frame in normalised.items()}
    )
    return TaskData(splits=splits, report=report, fingerprint=_json_fingerprint(normalised, columns), columns=columns, source_format=source_format, rows=file_rows(normalised))


# ------------------------------------------------ seq2seq: document/summary pairs


def resolve_document_columns(frame: pd.DataFrame, config: DataConfig) -> tuple[str, str]:
    lower = _names(frame)
    document, summary = config.document_column_name, config.summary_column_name
    if not document or not summary:
        for first, second in DOCUMENT_PAIRS:
            if first in lower and second in lower:
                document, summary = document or lower[first], summary or lower[second]
                break
    if not document:
        raise _column_error("document", frame, "document_column_name", "seq2seq")
    if not summary:
        raise _column_error("summary", frame, "summary_column_name", "seq2seq")
    for name in (document, summary):
        if name not in frame.columns:
            raise ColumnNotFoundError(f"The data has no column '{name}'; its columns are: {', '.join(map(str, frame.columns))}.")
    if document == summary:
        raise DataError(f"Column '{document}' cannot be both the document and the summary.")
    return document, summary


def normalise_document_frame(frame: pd.DataFrame, document: str, summary: str) -> tuple[pd.DataFrame, int]:
    """Columns `document` and `summary` (strings); rows missing either are dropped and counted."""
    frame = frame.reset_index(drop=True)
    out = pd.DataFrame({"document": frame[document].map(_as_text), "summary": frame[summary].map(_as_text)})
    keep = (out["document"].str.strip() != "") & (out["summary"].str.strip() != "")
    return out[keep], int((~keep).sum())


def prepare_document_data(config: DataConfig, *, seed: int = 42) -> TaskData:
    """Summarization data: per split, `document` and `summary`."""
    import datasets  # noqa: PLC0415 - heavy

    frames = load_raw(config)
    document, summary = resolve_document_columns(frames["train"], config)
    normalised, dropped = {}, {}
    for role, frame in frames.items():
        missing = [c for c in (document, summary) if c not in frame.columns]
        if missing:
            raise DataError(f"The {role} data has no column {', '.join(repr(m) for m in missing)}; its columns are: {', '.join(map(str, frame.columns))}.")
        normalised[role], dropped[role] = normalise_document_frame(frame, document, summary)
        if normalised[role].empty and len(frame):  # else "only 0 rows", of a file that has them
            raise DataError(
                f"Every row of the {role} data ({len(frame):,}) has an empty document ('{document}') or summary ('{summary}'): "
                f"nothing to learn from. Choose the document and summary columns.{_generative_pair_hint(frame, besides='seq2seq')}"
            )
    created = _finish(normalised, config, seed)
    report: dict[str, Any] = {
        "split_sizes": {role: len(f) for role, f in normalised.items()},
        "class_counts": {},
        "warnings": [f"{role}: {n} row(s) without a document or a summary dropped." for role, n in dropped.items() if n],
        "created_splits": created,
        "empty_texts": dropped,
        "text_columns": [document],
        "label_column": summary,
        "label_names": [],
        "mean_words": {
            role: {"document": float(f["document"].str.split().str.len().mean()), "summary": float(f["summary"].str.split().str.len().mean())}
            for role, f in normalised.items()
        },
    }
    keys = {role: f["document"] for role, f in normalised.items()}
    _duplicates_and_overlap(normalised, keys, report, "document")
    for role in created:
        report["warnings"].append(f"{role} was split from train ({len(normalised[role])} pairs, at random).")
    splits = datasets.DatasetDict({role: datasets.Dataset.from_pandas(frame, preserve_index=False) for role, frame in normalised.items()})
    return TaskData(splits=splits, report=report, fingerprint=_json_fingerprint(normalised, [document, summary]), columns={"document": document, "summary": summary}, source_format="document/summary", rows=file_rows(normalised))
