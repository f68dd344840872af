"""What the studio's tables show of wide data: the likeliest labels instead of a column per class, the model's
columns before long texts, and long paths by the parts that differ."""

from __future__ import annotations

import pandas as pd

from finetuner.ui import tables


def predictions(classes: int) -> pd.DataFrame:
    names = [f"class_{i}" for i in range(classes)]
    probabilities = [[(i + 1) / sum(range(1, classes + 1)) for i in range(classes)]]  # the last class likeliest
    frame = pd.DataFrame({"text": ["t" * 1000], "label": ["class_0"], "predicted": [names[-1]], "confidence": [probabilities[0][-1]]})
    return pd.concat([frame, pd.DataFrame(probabilities, columns=[f"prob_{n}" for n in names])], axis=1)


def test_a_handful_of_classes_keep_their_probability_columns():
    assert list(tables.compact_probabilities(predictions(5)).columns)[-5:] == [f"prob_class_{i}" for i in range(5)]


def test_many_classes_show_the_three_likeliest_in_one_column():
    shown = tables.compact_probabilities(predictions(77))
    assert list(shown.columns) == ["text", "label", "predicted", "confidence", "top probabilities"]
    assert shown["top probabilities"][0] == "class_76 0.026 · class_75 0.025 · class_74 0.025"


def test_the_preview_puts_the_model_first_and_cuts_long_texts():
    shown = tables.prediction_preview(predictions(77))
    assert list(shown.columns) == ["predicted", "confidence", "top probabilities", "text", "label"]
    assert shown["text"][0] == "t" * 299 + "…"
    widths = tables.preview_widths(list(shown.columns))
    assert len(widths) == 5 and sum(int(w[:-1]) for w in widths) in (99, 100, 101)


def test_long_paths_are_shown_by_the_parts_that_differ():
    upload = "/tmp/runs/uploads/70b6a942fc4bbb0d/train.csv"
    assert tables.shown_differences([["train_file", upload, "/work/finetuner/examples/movie_reviews.csv"]]) == [["train_file", "…/train.csv", "…/movie_reviews.csv"]]
    assert tables.shown_differences([["train_file", upload, "/tmp/runs/uploads/1111222233334444/train.csv"]]) == [
        ["train_file", "…/70b6a942fc4bbb0d/train.csv", "…/1111222233334444/train.csv"]
    ]
    assert tables.shown_differences([["train_file", upload, ""], ["learning_rate", "0.001", "0.003"]]) == [["train_file", "…/train.csv", ""], ["learning_rate", "0.001", "0.003"]]


def test_the_preview_numbers_the_files_rows_beside_a_hash_column_of_its_own():
    """The row numbers the inspector takes come first; a file's own '#' column stays, and the numbers give way."""
    from finetuner.ui.dataset_tab import numbered

    assert list(numbered(pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"]})).iloc[:, 0]) == [0, 1]
    table = numbered(pd.DataFrame({"#": ["7", "9"], "text": ["a", "b"]}))
    assert list(table.columns) == ["# row", "#", "text"] and list(table["#"]) == ["7", "9"]
