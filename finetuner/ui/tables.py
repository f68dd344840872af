"""How the studio's tables show wide data: column widths that leave every column room, the likeliest labels
in one column instead of one per class, the model's columns before long texts, long paths by the parts
that tell two runs apart, and the rows of an evaluation worth reading first. Plain pandas: no gradio."""

from __future__ import annotations

import json
from typing import Any, Mapping

import pandas as pd


def column_widths(columns: list[str], wide: list[str], weights: Mapping[str, float] | None = None, *, share: float | None = None) -> list[str]:
    """Table column widths that leave room for every column: the text columns share 70% (50% beside many
    others, or `share`); the others split the rest, each by its weight in `weights` (default 1)."""
    wide = [c for c in columns if c in wide] or columns[:1]
    narrow = [c for c in columns if c not in wide]
    if not narrow:
        return [f"{100 / len(columns):.0f}%"] * len(columns)
    share = share if share is not None else 70 if len(narrow) <= 4 else 50
    weight = {c: (weights or {}).get(c, 1) for c in narrow}
    unit = (100 - share) / sum(weight.values())
    return [f"{share / len(wide):.0f}%" if c in wide else f"{unit * weight[c]:.0f}%" for c in columns]


PROBABILITY_PREFIX = "prob_"
TOP_PROBABILITIES = "top probabilities"
MAX_PROBABILITY_COLUMNS = 5  # more classes than this: one column of the likeliest labels instead of one per class
TOP_LABELS = 3
# What a model wrote for each row, shown before the row's own columns in previews.
PREDICTION_COLUMNS = ("predicted", "confidence", TOP_PROBABILITIES, "entities", "tags", "generated", "summary")
MAX_PREVIEW_CHARS = 300
# Beside the text, a table of predictions with many classes gives label names (often long) and the likeliest labels room.
LABELS_WEIGHTS = {"label": 2, "predicted": 2, "confidence": 1.3, TOP_PROBABILITIES: 4}


def predictions_widths(columns: list[str], wide: list[str]) -> list[str]:
    """Column widths for a classifier's predictions: `column_widths`, the texts sharing 36% when the
    likeliest labels are shown in one column (`compact_probabilities`)."""
    if TOP_PROBABILITIES in columns:
        return column_widths(columns, wide, LABELS_WEIGHTS, share=36)
    return column_widths(columns, wide)


PREVIEW_WEIGHTS = {"predicted": 2, "confidence": 1.3, TOP_PROBABILITIES: 4, "entities": 4, "tags": 3, "generated": 4, "summary": 4}


def preview_widths(columns: list[str]) -> list[str]:
    """Column widths for `prediction_preview`: the file's own columns share 40%, the model's columns the rest."""
    own = [c for c in columns if c not in PREDICTION_COLUMNS and not str(c).startswith(PROBABILITY_PREFIX)]
    return column_widths(columns, own, PREVIEW_WEIGHTS, share=40 if own else None)


def compact_probabilities(frame: pd.DataFrame, *, max_columns: int = MAX_PROBABILITY_COLUMNS, top: int = TOP_LABELS) -> pd.DataFrame:
    """A predictions table that stays readable with many classes: its `prob_<label>` columns kept when there
    are at most `max_columns`, otherwise replaced by one `top probabilities` column holding the `top`
    likeliest labels and their probabilities ('card_arrival 0.620 · card_linking 0.210 · …'). The
    downloadable predictions keep every column: this is for tables shown on the page."""
    columns = [c for c in frame.columns if isinstance(c, str) and c.startswith(PROBABILITY_PREFIX)]
    if len(columns) <= max_columns:
        return frame
    labels = [c[len(PROBABILITY_PREFIX):] for c in columns]
    values = frame[columns].apply(pd.to_numeric, errors="coerce").to_numpy()

    def likeliest(row) -> str:
        order = sorted(range(len(labels)), key=lambda i: -(row[i] if row[i] == row[i] else -1.0))[:top]
        return " · ".join(f"{labels[i]} {row[i]:.3f}" for i in order)

    out = frame.drop(columns=columns)
    out[TOP_PROBABILITIES] = [likeliest(row) for row in values] if len(frame) else pd.Series(dtype=str)
    return out


def _as_text(value: Any) -> Any:
    """A list cell as a table shows it: words (a training-format file's tokens, its tags) joined by spaces as they
    read, anything else in a list (a chat's messages) as JSON text; other values as they are. A browser shows a
    list as its items joined by commas ('bob,saw,rome'), a chat's as '[object Object]'."""
    if type(value).__name__ == "ndarray":  # Parquet's lists
        value = value.tolist()
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        return " ".join(map(str, value))
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def _shortened(value: Any, limit: int) -> Any:
    return value[: limit - 1] + "…" if isinstance(value, str) and len(value) > limit else value


def prediction_preview(frame: pd.DataFrame, rows: int = 100, *, max_chars: int = MAX_PREVIEW_CHARS) -> pd.DataFrame:
    """The first `rows` of a file's predictions as the page shows them: the model's columns first (predicted,
    confidence, the likeliest labels; entities; the generated text), then the file's own, texts longer than
    `max_chars` cut with '…', list cells as text (a file's words joined by spaces, `_as_text`), numbers to 4
    decimals. The CSV to download stays complete, its list cells JSON text that reads back as lists."""
    shown = compact_probabilities(frame.head(rows))
    first = [c for c in PREDICTION_COLUMNS if c in shown.columns]
    probabilities = [c for c in shown.columns if isinstance(c, str) and c.startswith(PROBABILITY_PREFIX)]
    shown = shown[[*first, *probabilities, *(c for c in shown.columns if c not in first and c not in probabilities)]]
    shown = shown.apply(lambda column: column if pd.api.types.is_numeric_dtype(column) else column.map(lambda v: _shortened(_as_text(v), max_chars)))
    return shown.round(4)


def shown_differences(rows: list[list[str]], *, longest: int = 40) -> list[list[str]]:
    """`compare.config_diff` rows for a narrow table: a long path (an upload's `<runs>/uploads/<hash>/train.csv`,
    a model folder) is shown by its last parts, as few as tell run A's from run B's ('…/train.csv', or
    '…/<hash>/train.csv' for two uploads of that name). The run's config.yaml has the whole path."""
    return [[name, *_distinct_tails(str(a), str(b), longest)] for name, a, b in rows]


def _distinct_tails(a: str, b: str, longest: int) -> tuple[str, str]:
    if not any("/" in v and len(v) > longest for v in (a, b)):
        return a, b
    long_paths = [v for v in (a, b) if "/" in v]
    parts = {v: v.rstrip("/").split("/") for v in (a, b)}
    for keep in range(1, max(len(p) for p in parts.values()) + 1):
        tails = {v: "/".join(p[-keep:]) for v, p in parts.items()}
        if tails[a] != tails[b] or a == b:
            break
    return tuple(v if v not in long_paths or tails[v] == v.rstrip("/") else "…/" + tails[v] for v in (a, b))


def per_class_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per-class (classification) or per-entity-type (NER) scores as rows with a `label` key."""
    if report.get("per_class"):
        return list(report["per_class"])
    per_type = report.get("per_type")
    if isinstance(per_type, dict):
        return [{"label": name, **values} for name, values in per_type.items()]
    if isinstance(per_type, list):
        return [{"label": row.get("type", row.get("label")), **{k: v for k, v in row.items() if k not in ("type", "label")}} for row in per_type]
    return []


def mistakes(predictions: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The rows worth reading first, and what they are: most confident mistakes (classification, the
    engine's `misclassified`; with many classes their likeliest labels in one column, `compact_probabilities`), sentences with the most tag errors (NER), or the model's generations."""
    if predictions.empty:
        return predictions, "Examples"
    if "confidence" in predictions:
        from ..evaluation import misclassified  # noqa: PLC0415 - loads scikit-learn

        return compact_probabilities(misclassified(predictions).drop(columns=["correct"])), "Misclassified examples, most confident first"
    if "correct" in predictions:
        wrong = predictions[~predictions["correct"]].sort_values("errors", ascending=False, kind="stable")
        return wrong.drop(columns=["correct"]), "Sentences with tagging errors, most errors first"
    return predictions, "Generations (reference beside the model's output)"
