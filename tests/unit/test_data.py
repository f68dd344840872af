"""Getting data in: every format, column detection, labels, splits, checks, and clear errors for bad files."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from finetuner.config import DataConfig
from finetuner.data import detect_columns, prepare, read_table
from finetuner.errors import DataError, DataFileNotFoundError


def write(frame: pd.DataFrame, path) -> None:
    suffix = path.suffix
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif suffix == ".json":
        path.write_text(json.dumps(frame.to_dict(orient="records")), encoding="utf-8")
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    elif suffix == ".parquet":
        frame.to_parquet(path)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".json", ".jsonl", ".parquet"])
def test_every_format_reads_the_same_rows(tmp_path, sentiment_frame, suffix):
    path = tmp_path / f"data{suffix}"
    write(sentiment_frame, path)
    frame = read_table(path)
    assert list(frame.columns) == ["text", "label"]
    assert list(frame["text"]) == list(sentiment_frame["text"])
    assert list(frame["label"]) == list(sentiment_frame["label"])


def test_csv_with_quoted_newlines_and_commas(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('text,label\n"a film, with commas",1\n"two\nlines",0\n', encoding="utf-8")
    frame = read_table(path)
    assert list(frame["text"]) == ["a film, with commas", "two\nlines"]


@pytest.mark.parametrize(
    "columns, expected",
    [
        (["review", "sentiment"], (["review"], "sentiment")),
        (["sentence1", "sentence2", "label"], (["sentence1", "sentence2"], "label")),
        (["premise", "hypothesis", "gold"], (["premise", "hypothesis"], "gold")),
        (["id", "body", "category"], (["body"], "category")),
    ],
)
def test_detect_columns_by_name(columns, expected):
    frame = pd.DataFrame([[f"{c} value {i}" for c in columns] for i in range(4)], columns=columns)
    frame[columns[-1]] = ["a", "b", "a", "b"]
    assert detect_columns(frame) == expected


def test_detect_columns_by_content_when_names_say_nothing():
    frame = pd.DataFrame({"c1": ["a long piece of text here", "another long text", "more text to read", "x y z w"], "c2": [0, 1, 0, 1]})
    assert detect_columns(frame) == (["c1"], "c2")


def test_prepare_maps_string_labels_and_keeps_names(sentiment_csv):
    prepared = prepare(DataConfig(train_file=str(sentiment_csv)))
    assert prepared.label_names == ["negative", "positive"]
    assert prepared.id2label == {0: "negative", 1: "positive"}
    train = prepared.splits["train"]
    assert set(train["label"]) == {0, 1}
    assert prepared.text_columns == ["text"] and prepared.label_column == "label"


def test_integer_labels_sorted_numerically(tmp_path):
    frame = pd.DataFrame({"text": [f"t {i}" for i in range(30)], "label": [i % 11 for i in range(30)]})
    path = tmp_path / "ints.csv"
    frame.to_csv(path, index=False)
    prepared = prepare(DataConfig(train_file=str(path), validation_split_ratio=0.3, test_split_ratio=0))
    assert prepared.label_names == [str(i) for i in range(11)]


def test_split_is_seeded_and_stratified(sentiment_csv):
    config = DataConfig(train_file=str(sentiment_csv), validation_split_ratio=0.2, test_split_ratio=0.1)
    first, second = prepare(config, seed=7), prepare(config, seed=7)
    assert list(first.splits["validation"]["text"]) == list(second.splits["validation"]["text"])
    assert first.report.split_sizes == {"train": 84, "validation": 24, "test": 12}
    assert first.report.class_counts["validation"] == {"positive": 12, "negative": 12}
    assert sorted(first.report.created_splits) == ["test", "validation"]
    other = prepare(config, seed=8)
    assert list(other.splits["validation"]["text"]) != list(first.splits["validation"]["text"])


def rare_classes_csv(tmp_path, classes: int = 40):
    """Like 300 rows of BANKING77's 77 intents: many classes, a few rows each, some with one row."""
    labels = [f"intent_{c}" for c in range(classes) for _ in range(1 + c % 5)]
    path = tmp_path / "rare.csv"
    pd.DataFrame({"text": [f"question {i} about {label}" for i, label in enumerate(labels)], "label": labels}).to_csv(path, index=False)
    return path, sorted(set(labels))


@pytest.mark.parametrize("seed", range(5))
def test_the_tool_split_keeps_every_class_in_train(tmp_path, seed):
    """Fewer held-out rows than classes, and classes of one row: sklearn cannot stratify, and an
    unstratified split used to carry a class's only row out of train, then blame the validation data."""
    path, classes = rare_classes_csv(tmp_path)
    prepared = prepare(DataConfig(train_file=str(path)), seed=seed)
    report = prepared.report
    assert set(prepared.label_names) == set(classes)
    assert set(report.class_counts["train"]) == set(classes), "every class keeps a row in train"
    assert report.split_sizes["validation"] == report.split_sizes["test"] == round(120 * 0.1)
    for role in ("validation", "test"):
        held = report.class_counts[role]
        assert all(report.class_counts["train"][label] >= 1 for label in held)
        absent = len(classes) - len(held)
        assert absent > 0, "12 rows cannot hold 40 classes"
        assert f"{role} was split from train (12 rows, stratified by label, keeping every class in train)." in report.warnings
        assert any(w.startswith(f"{role} has no rows of {absent} of the {len(classes)} classes") and f"Give a {role} file" in w for w in report.warnings)
    again = prepare(DataConfig(train_file=str(path)), seed=seed)
    assert list(again.splits["validation"]["text"]) == list(prepared.splits["validation"]["text"]), "seeded"


def test_the_tool_split_holds_out_each_class_in_proportion(tmp_path):
    """100 'a', 10 'b', 1 'c': 11 held-out rows go 10 to 'a' and 1 to 'b' (their shares, 9.9 and 1.0,
    rounded by largest remainder); 'c' has one row, so it stays in train."""
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(111)], "label": ["a"] * 100 + ["b"] * 10 + ["c"]})
    frame.to_csv(tmp_path / "skewed.csv", index=False)
    report = prepare(DataConfig(train_file=str(tmp_path / "skewed.csv"), test_split_ratio=0)).report
    assert report.class_counts["validation"] == {"a": 10, "b": 1}
    assert report.class_counts["train"] == {"a": 90, "b": 9, "c": 1}
    assert any(w.startswith("validation has no rows of 1 of the 3 classes ('c')") for w in report.warnings)


def test_a_split_too_small_to_tell_runs_apart_is_said_so(tmp_path, sentiment_csv):
    """12 test rows: accuracy on them is known to about ±0.25 (Wilson, 6 of 12 at 95%), 300 rows to ±0.06."""
    report = prepare(DataConfig(train_file=str(sentiment_csv), validation_split_ratio=0.2, test_split_ratio=0.1), seed=7).report
    small = [w for w in report.warnings if "only" in w]
    assert small == [
        "validation: only 24 rows, so a score on it is known to about ±0.19 (95% interval): runs closer than that may not differ. "
        "Hold out more rows to narrow it (±0.05 takes about 385).",
        "test: only 12 rows, so a score on it is known to about ±0.25 (95% interval): runs closer than that may not differ. "
        "Hold out more rows to narrow it (±0.05 takes about 385).",
    ]
    rows = pd.DataFrame({"text": [f"review {i} was {'good' if i % 2 else 'bad'}" for i in range(700)], "label": ["positive", "negative"] * 350})
    rows.to_csv(tmp_path / "large.csv", index=False)
    large = prepare(DataConfig(train_file=str(tmp_path / "large.csv"), validation_split_ratio=0.5, test_split_ratio=0), seed=7).report
    assert large.split_sizes["validation"] == 350 and not [w for w in large.warnings if "only" in w], "350 rows: ±0.05, no caution"


def test_own_validation_and_test_files_are_used(tmp_path, sentiment_frame):
    for name, part in (("train", sentiment_frame[:80]), ("val", sentiment_frame[80:100]), ("test", sentiment_frame[100:])):
        part.to_csv(tmp_path / f"{name}.csv", index=False)
    prepared = prepare(DataConfig(train_file=str(tmp_path / "train.csv"), validation_file=str(tmp_path / "val.csv"), test_file=str(tmp_path / "test.csv")))
    assert prepared.report.split_sizes == {"train": 80, "validation": 20, "test": 20}
    assert prepared.report.created_splits == []


def test_sentence_pairs(tmp_path):
    frame = pd.DataFrame({"premise": [f"p {i}" for i in range(20)], "hypothesis": [f"h {i}" for i in range(20)], "label": ["yes", "no"] * 10})
    frame.to_json(tmp_path / "nli.jsonl", orient="records", lines=True)
    prepared = prepare(DataConfig(train_file=str(tmp_path / "nli.jsonl")))
    assert prepared.has_pairs
    assert prepared.splits["train"].column_names == ["text", "text_pair", "label"]


def test_report_finds_empty_duplicate_overlapping_and_imbalance(tmp_path):
    train = pd.DataFrame({"text": ["same", "same", "", "leak"] + [f"t{i}" for i in range(16)], "label": ["a"] * 18 + ["b"] * 2})
    valid = pd.DataFrame({"text": ["leak", "fresh"], "label": ["a", "b"]})
    train.to_csv(tmp_path / "train.csv", index=False)
    valid.to_csv(tmp_path / "valid.csv", index=False)
    report = prepare(DataConfig(train_file=str(tmp_path / "train.csv"), validation_file=str(tmp_path / "valid.csv"), test_split_ratio=0)).report
    assert report.empty_texts["train"] == 1
    assert report.duplicate_texts["train"] == 1
    assert report.overlap["validation"] == 1
    text = " ".join(report.warnings)
    assert "empty text" in text and "duplicate" in text and "also appear in train" in text and "imbalanced" in text


def test_rows_without_a_label_are_left_out_and_said(tmp_path):
    train = pd.DataFrame({"text": [f"good {i}" for i in range(20)] + [f"bad {i}" for i in range(20)] + ["odd", "odder", "oddest"], "label": ["pos"] * 20 + ["neg"] * 20 + ["", " ", None]})
    valid = pd.DataFrame({"text": ["fine", "awful", "unsure"], "label": ["pos", "neg", ""]})
    train.to_csv(tmp_path / "train.csv", index=False)
    valid.to_csv(tmp_path / "valid.csv", index=False)
    prepared = prepare(DataConfig(train_file=str(tmp_path / "train.csv"), validation_file=str(tmp_path / "valid.csv"), test_split_ratio=0))
    assert (len(prepared.splits["train"]), len(prepared.splits["validation"])) == (40, 2)
    assert "train: 3 row(s) without a label were left out; label them to train or score on them." in prepared.report.warnings
    assert "validation: 1 row(s) without a label were left out; label them to train or score on them." in prepared.report.warnings


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ({"tokens": ["Ada", "sings"], "ner_tags": ["B-PER", "O"]}, "Column(s) 'tokens', 'ner_tags' hold lists: for words with their tags, choose the token-classification task"),
        ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}, "Column(s) 'messages' hold chat messages: for instruction data, choose the causal-lm task"),
    ],
)
def test_another_task_s_data_names_that_task(tmp_path, row, words):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps(row) for _ in range(20)), encoding="utf-8")
    with pytest.raises(DataError, match="No text column found") as info:
        prepare(DataConfig(train_file=str(path)))
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ({"document": "A long abstract.", "summary": "Short."}, "Columns 'document' and 'summary' look like documents and their summaries: for summarization, choose the seq2seq task"),
        ({"instruction": "Add 2 and 3.", "input": "", "output": "5"}, "Columns 'instruction' and 'output' look like prompts and their answers: for instruction tuning, choose the causal-lm task"),
    ],
)
def test_summaries_or_answers_are_not_taken_for_labels_and_the_task_that_reads_them_is_named(tmp_path, row, words):
    """SciTLDR's document/summary or GSM8K's instruction/input/output under text classification: the label was
    the column with the fewest distinct values, the summaries or the questions, each its own class, and the
    message said every class has a single row, to add rows: nothing about choosing the task that reads them."""
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps({name: f"{value} {i}" if value else value for name, value in row.items()}) for i in range(40)), encoding="utf-8")
    with pytest.raises(DataError, match="No label column found") as info:
        prepare(DataConfig(train_file=str(path)))
    assert words in str(info.value) and "Or, for text classification, choose the label column." in str(info.value)
    labelled = tmp_path / "labelled.jsonl"  # the same columns beside a label named as one: text classification reads it
    labelled.write_text("\n".join(json.dumps({**row, "label": "yes" if i % 2 else "no"}) for i in range(40)), encoding="utf-8")
    assert prepare(DataConfig(train_file=str(labelled))).label_column == "label"


def test_limits_apply(sentiment_csv):
    prepared = prepare(DataConfig(train_file=str(sentiment_csv), max_train_samples=10, max_eval_samples=5))
    assert len(prepared.splits["train"]) == 10 and len(prepared.splits["validation"]) == 5


# --- bad input: a clear error that names the problem; the user's file is untouched ---------------


def assert_error(config, *words, error=DataError):
    with pytest.raises(error) as info:
        prepare(config)
    message = str(info.value)
    for word in words:
        assert word in message, message
    return message


def test_missing_column_names_the_columns(sentiment_csv):
    assert_error(DataConfig(train_file=str(sentiment_csv), label_column_name="stars"), "'stars'", "text, label")


def test_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    assert_error(DataConfig(train_file=str(tmp_path / "empty.csv")), "empty")


def test_an_empty_file_is_named_in_words_that_fit_training_evaluation_and_prediction(tmp_path):
    for name, content in (("empty.csv", ""), ("blank.jsonl", "\n  \n")):
        (tmp_path / name).write_text(content, encoding="utf-8")
        with pytest.raises(DataError) as error:
            read_table(tmp_path / name)
        assert str(error.value) == f"'{name}' is empty: it has no rows. Check that it is the right file, or save it again."


def test_header_only_file(tmp_path):
    (tmp_path / "header.csv").write_text("text,label\n", encoding="utf-8")
    assert_error(DataConfig(train_file=str(tmp_path / "header.csv")), "no rows")


def test_single_class(tmp_path):
    pd.DataFrame({"text": [f"t{i}" for i in range(20)], "label": ["only"] * 20}).to_csv(tmp_path / "one.csv", index=False)
    assert_error(DataConfig(train_file=str(tmp_path / "one.csv")), "single class", "'only'")


def test_label_in_test_unseen_in_train(tmp_path, sentiment_frame):
    sentiment_frame.to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame({"text": ["x", "y"], "label": ["positive", "neutral"]}).to_csv(tmp_path / "test.csv", index=False)
    assert_error(DataConfig(train_file=str(tmp_path / "train.csv"), test_file=str(tmp_path / "test.csv")), "'neutral'", "never occur in train")


def test_non_utf8_file_is_reported_and_untouched(tmp_path):
    path = tmp_path / "latin1.csv"
    content = "text,label\ncaf\xe9 cr\xe8me,1\nfine,0\n".encode("latin-1")
    path.write_bytes(content)
    assert_error(DataConfig(train_file=str(path)), "not UTF-8", "0xe9")
    assert path.read_bytes() == content


def test_malformed_csv_names_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,label\nfine,1\ntoo,many,fields,here\n", encoding="utf-8")
    assert_error(DataConfig(train_file=str(path)), "not well-formed CSV", "line 3")


@pytest.mark.parametrize("suffix, separator, quote_advice", [(".csv", ",", "contains a comma"), (".tsv", "\t", "contains a tab")])
def test_an_extra_field_on_every_row_is_refused_not_read_as_an_index(tmp_path, suffix, separator, quote_advice):
    """pandas would take "the score" for the row index and train on the rest without a word."""
    rows = [f"the score{separator} was charming and fun{separator}positive", f"the plot{separator} sadly{separator}negative"] * 6
    path = tmp_path / f"every_row{suffix}"
    path.write_text(f"text{separator}label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    message = assert_error(DataConfig(train_file=str(path)), f"not well-formed {suffix[1:].upper()}", "every row has more fields than the header's 2 (text, label)", "line 2 has 3")
    assert quote_advice in message and "double quotes" in message


def test_an_extra_field_on_the_first_row_only_names_that_line(tmp_path):
    path = tmp_path / "first_row.csv"
    path.write_text("text,label\nthe score, was charming,positive\na dull plot,negative\n", encoding="utf-8")
    assert_error(DataConfig(train_file=str(path)), "not well-formed CSV", "line 2 has 3 fields but the header has 2 (text, label)", "double quotes")


def test_legitimate_shapes_around_extra_fields_still_read(tmp_path):
    """An unnamed row-number column (R's write.table), trailing commas and quoted commas lose nothing."""
    numbered, trailing, quoted = tmp_path / "numbered.csv", tmp_path / "trailing.csv", tmp_path / "quoted.csv"
    numbered.write_text("text,label\n1,a fine film,positive\n2,a dull plot,negative\n", encoding="utf-8")
    trailing.write_text("text,label\na fine film,positive,\na dull plot,negative,\n", encoding="utf-8")
    quoted.write_text('text,label\n"the score, was charming",positive\n"the plot, sadly",negative\n', encoding="utf-8")
    assert read_table(numbered).to_dict("records") == [{"text": "a fine film", "label": "positive"}, {"text": "a dull plot", "label": "negative"}]
    assert read_table(trailing).to_dict("records") == [{"text": "a fine film", "label": "positive"}, {"text": "a dull plot", "label": "negative"}]
    assert list(read_table(quoted)["text"]) == ["the score, was charming", "the plot, sadly"]


def test_missing_file(tmp_path):
    assert_error(DataConfig(train_file=str(tmp_path / "nope.csv")), "does not exist", error=DataFileNotFoundError)


def test_too_few_rows_to_split(tmp_path):
    pd.DataFrame({"text": ["a", "b", "c", "d"], "label": [0, 1, 0, 1]}).to_csv(tmp_path / "tiny.csv", index=False)
    assert_error(DataConfig(train_file=str(tmp_path / "tiny.csv")), "only 4 rows", "validation")


def test_classes_of_one_row_each_cannot_be_split(tmp_path):
    pd.DataFrame({"text": [f"t{i}" for i in range(12)], "label": [f"c{i}" for i in range(12)]}).to_csv(tmp_path / "ones.csv", index=False)
    message = assert_error(DataConfig(train_file=str(tmp_path / "ones.csv")), "Every class in the training data has a single row", "give a validation file")
    assert "remove them from validation" not in message


def test_a_train_limit_that_drops_a_class_names_the_limit_not_the_split(tmp_path):
    """The split keeps every class in train; max_train_samples keeping only the first rows can still drop one."""
    path, _ = rare_classes_csv(tmp_path)
    message = assert_error(DataConfig(train_file=str(path), max_train_samples=5), "split from train", "max_train_samples", "Raise or clear max_train_samples")
    assert "remove them from" not in message


def test_unsupported_extension(tmp_path):
    (tmp_path / "data.xlsx").write_bytes(b"PK")
    assert_error(DataConfig(train_file=str(tmp_path / "data.xlsx")), "unsupported", ".csv")


def test_invalid_json(tmp_path):
    (tmp_path / "bad.json").write_text('[{"text": "a", "label": 1},', encoding="utf-8")
    assert_error(DataConfig(train_file=str(tmp_path / "bad.json")), "not valid JSON")


def test_a_broken_json_lines_record_is_named_by_its_line(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n{"text": "c" "label": "y"}\n', encoding="utf-8")
    assert_error(DataConfig(train_file=str(tmp_path / "bad.jsonl")), "not valid JSON Lines: line 3 is not one JSON object", "each line must hold one record")


def test_each_example_knows_its_row_in_the_file(tmp_path, sentiment_frame):
    """The splits are shuffled and unlabelled rows left out, so an example's place in its split is not its
    row in the file; `rows` maps it back (the Data tab's inspector takes the preview's row numbers)."""
    frame = sentiment_frame.copy()
    frame.loc[3, "label"] = ""  # left out: no label
    path = tmp_path / "reviews.csv"
    frame.to_csv(path, index=False)
    data = prepare(DataConfig(train_file=str(path)), seed=42)
    every = sorted(row for rows in data.rows.values() for row in rows)
    assert every == [row for row in range(len(frame)) if row != 3], "every labelled row once, across the splits"
    assert data.rows["train"] != sorted(data.rows["train"]), "train is shuffled"
    for role, split in data.splits.items():
        for place in (0, len(split) - 1):
            assert split[place]["text"] == frame.loc[data.rows[role][place], "text"]


@pytest.mark.parametrize("separator", [";", "\t"])
def test_a_csv_separated_by_semicolons_or_tabs_is_read_by_its_header(tmp_path, separator):
    """Excel writes ';' between fields where the decimal mark is a comma: read with commas, such a file was
    one column ('text;label'), or refused for a comma inside a text."""
    path = tmp_path / "excel.csv"
    path.write_text(f"text{separator}label\ngreat film, loved it{separator}pos\nawful{separator}neg\n", encoding="utf-8")
    frame = read_table(path)
    assert list(frame.columns) == ["text", "label"]
    assert list(frame["text"]) == ["great film, loved it", "awful"] and list(frame["label"]) == ["pos", "neg"]


def test_a_semicolon_csv_with_a_stray_field_names_the_semicolon(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text("text;label\nfine;pos\nbad; really;neg\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 3 has 3 fields but the header has 2 .*contains a semicolon"):
        read_table(path)


def test_the_same_column_as_both_texts_of_a_pair_is_refused(tmp_path):
    """It trained on each text twice, as a pair, and the summary read 'hypothesis + hypothesis'."""
    path = tmp_path / "pairs.csv"
    pd.DataFrame({"premise": ["a man sleeps", "a dog runs"] * 10, "hypothesis": ["someone rests", "a cat flies"] * 10, "label": ["yes", "no"] * 10}).to_csv(path, index=False)
    with pytest.raises(DataError, match="'hypothesis' is both the first and the second text"):
        prepare(DataConfig(train_file=str(path), text_column_names=["hypothesis", "hypothesis"]))


def test_a_tsv_written_without_quoting_keeps_the_quotes_of_its_texts(tmp_path):
    """GLUE-style TSV has no quoting: a text starting with a quote lost its quotes ('"Great" movie' read as
    'Great movie'). A TSV whose fields are quoted (as pandas writes it) is still read as quoted."""
    plain = tmp_path / "plain.tsv"
    plain.write_text('sentence\tlabel\n"Great" movie\t1\nit\'s a "so-so" film\t0\n', encoding="utf-8")
    assert list(read_table(plain)["sentence"]) == ['"Great" movie', 'it\'s a "so-so" film']
    quoted = tmp_path / "quoted.tsv"
    pd.DataFrame({"sentence": ['"Great" movie', "a\ttab"], "label": [1, 0]}).to_csv(quoted, sep="\t", index=False)
    assert list(read_table(quoted)["sentence"]) == ['"Great" movie', "a\ttab"]


def test_json_records_wrapped_in_one_field_are_read(tmp_path):
    """{"data": [...]} (SQuAD's layout) was one column, 'data', and no text column was found."""
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps({"data": [{"text": "good", "label": "pos"}, {"text": "bad", "label": "neg"}]}), encoding="utf-8")
    frame = read_table(path)
    assert list(frame.columns) == ["text", "label"] and list(frame["text"]) == ["good", "bad"]


def test_a_regression_target_is_named_as_such(tmp_path):
    """STS-B's similarity scores made a class of each value, and the split failed saying every class had a
    single row. Ratings in halves stay ten classes."""
    path = tmp_path / "stsb.csv"
    scores = [round(i * 0.13, 2) for i in range(40)]
    pd.DataFrame({"sentence1": [f"a man plays {i}" for i in range(40)], "sentence2": [f"someone plays {i}" for i in range(40)], "score": scores}).to_csv(path, index=False)
    with pytest.raises(DataError, match="Column 'score' holds measurements, not classes .*regression target"):
        prepare(DataConfig(train_file=str(path), label_column_name="score"))
    stars = tmp_path / "stars.csv"
    pd.DataFrame({"text": [f"review {i}" for i in range(100)], "label": [0.5 * (1 + i % 10) for i in range(100)]}).to_csv(stars, index=False)
    assert len(prepare(DataConfig(train_file=str(stars))).label_names) == 10


def test_a_json_file_without_records_is_not_said_to_have_a_header(tmp_path):
    path = tmp_path / "empty.json"
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(DataError, match="'empty.json' has no records"):
        read_table(path)
    header = tmp_path / "header.csv"
    header.write_text("text,label\n", encoding="utf-8")
    with pytest.raises(DataError, match="'header.csv' has a header but no rows"):
        read_table(header)


def test_a_csv_text_starting_with_a_quote_that_is_not_csv_quoting_is_refused_not_stripped(tmp_path):
    """'"Great" movie' was read as 'Great movie': the quotes vanished without a word."""
    path = tmp_path / "reviews.csv"
    path.write_text('text,label\na fine film,positive\n"Great" movie,positive\n', encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_table(path)
    message = str(caught.value)
    assert message.startswith("'reviews.csv' is not well-formed CSV: line 3 has a field that starts with a double quote")
    assert '("Great" movie,positive)' in message and 'is written """Great"" movie"' in message
    semicolons = tmp_path / "excel.csv"
    semicolons.write_text('text;label\n"Great" movie;positive\n', encoding="utf-8")
    with pytest.raises(DataError, match="line 2 has a field that starts with a double quote"):
        read_table(semicolons)


def test_quotes_written_as_csv_quotes_them_keep_the_text(tmp_path):
    path = tmp_path / "quoted.csv"
    texts = ['"Great" movie', 'it\'s a "so-so" film', "a, b", 'two\nlines "here"', '"']
    pd.DataFrame({"text": texts, "label": ["pos"] * len(texts)}).to_csv(path, index=False)
    assert list(read_table(path)["text"]) == texts
    plain = tmp_path / "plain.csv"
    plain.write_text('text,label\nit\'s a "so-so" film,neg\n', encoding="utf-8")
    assert list(read_table(plain)["text"]) == ['it\'s a "so-so" film']


def test_the_data_tab_splits_with_the_train_forms_seed_and_shares():
    """The Data tab's split options are the Train form's; a value Start would refuse (a seed the split cannot
    take, shares that leave too little to train on) counts as its default there, and the summary says which."""
    from finetuner.ui.services import split_options

    defaults = {"seed": 42, "validation_split_ratio": 0.1, "test_split_ratio": 0.1, "max_train_samples": None}
    form = {"seed": 7.0, "validation_split_ratio": 0.2, "test_split_ratio": 0, "max_train_samples": 0, "learning_rate": 1e-4}
    assert split_options(form) == {"seed": 7, "validation_split_ratio": 0.2, "test_split_ratio": 0, "max_train_samples": None}
    assert split_options({**form, "max_train_samples": 50})["max_train_samples"] == 50
    assert split_options(None) == defaults
    assert split_options({"seed": -1}) == defaults and split_options({"seed": 2**32}) == defaults
    assert split_options({"seed": 7, "validation_split_ratio": 0.5, "test_split_ratio": 0.45}) == {**defaults, "seed": 7}


def test_a_text_column_of_numbers_is_named_in_the_checks(tmp_path):
    """An id column taken for the text (every text a number) trained without a word said: the data checks
    now name the column and say how to choose another; a column of real texts with numbers in it is fine."""
    rows = 40
    frame = pd.DataFrame({"ticket": range(1000, 1000 + rows), "label": ["card", "cash"] * (rows // 2)})
    frame.to_csv(tmp_path / "ids.csv", index=False)
    report = prepare(DataConfig(train_file=str(tmp_path / "ids.csv"), text_column_names=["ticket"])).report
    assert re.fullmatch(
        r"train: text column 'ticket' holds only numbers \(such as '10\d\d', '10\d\d', '10\d\d'\), not words: the model would learn "
        r"from digits alone\. If another column holds the text, choose it as the text column \(CLI: --text_column_names\)\.",
        report.warnings[0],
    ), report.warnings

    frame["ticket"] = [f"card 4 of {i}" for i in range(rows)]
    frame.to_csv(tmp_path / "texts.csv", index=False)
    report = prepare(DataConfig(train_file=str(tmp_path / "texts.csv"), text_column_names=["ticket"])).report
    assert not any("holds only numbers" in warning for warning in report.warnings)


@pytest.mark.parametrize(
    ("prepare_for", "row", "words"),
    [
        ("token", {"document": "A long abstract.", "summary": "Short."}, "No tokens (words) column found among: document, summary. Set tokens_column_name to the right column. Columns 'document' and 'summary' look like documents and their summaries: for summarization, choose the seq2seq task"),
        ("token", {"instruction": "Add 2 and 3.", "input": "", "output": "5"}, "Columns 'instruction' and 'output' look like prompts and their answers: for instruction tuning, choose the causal-lm task"),
        ("document", {"tokens": ["Ada", "sings"], "ner_tags": ["B-PER", "O"]}, "No document column found among: tokens, ner_tags. Set document_column_name to the right column. Column(s) 'tokens', 'ner_tags' hold lists: for words with their tags, choose the token-classification task"),
        ("document", {"prompt": "Add 2 and 3.", "completion": "5"}, "Columns 'prompt' and 'completion' look like prompts and their answers: for instruction tuning, choose the causal-lm task"),
        ("token", {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}, "Column(s) 'messages' hold chat messages: for instruction data, choose the causal-lm task"),
    ],
)
def test_a_file_of_another_generative_or_ner_task_names_that_task(tmp_path, prepare_for, row, words):
    """SciTLDR's file under NER was refused with "Set tokens_column_name to the right column", nothing about the
    summarization task its columns are named for; WNUT-17's under summarization likewise."""
    from finetuner.data import prepare_document_data, prepare_token_data

    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps(row) for _ in range(20)), encoding="utf-8")
    with pytest.raises(DataError) as info:
        (prepare_token_data if prepare_for == "token" else prepare_document_data)(DataConfig(train_file=str(path)))
    assert words in str(info.value)


def test_a_summarization_file_whose_rows_all_lack_a_document_says_so_not_only_0_rows(tmp_path):
    """GSM8K's instruction/input/output under summarization: 'input' (empty in every row) was read as the
    document, every row dropped, and the message said the training data has "only 0 rows" of a 40-row file."""
    from finetuner.data import prepare_document_data

    path = tmp_path / "gsm.jsonl"
    path.write_text("\n".join(json.dumps({"instruction": f"Add {i} and 3.", "input": "", "output": str(i + 3)}) for i in range(40)), encoding="utf-8")
    with pytest.raises(DataError) as info:
        prepare_document_data(DataConfig(train_file=str(path)))
    message = str(info.value)
    assert message.startswith("Every row of the train data (40) has an empty document ('input') or summary ('output')"), message
    assert "Columns 'instruction' and 'output' look like prompts and their answers: for instruction tuning, choose the causal-lm task" in message
