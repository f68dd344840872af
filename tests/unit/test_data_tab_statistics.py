"""The Data tab's statistics on big data: the same figures as counted row by row, each split's token lengths
from a fair sample that the chart names, and one preparation of the data for the Data tab and Estimate alike
(benchmarks/studio_latency.py times them; these tests check what they show, not how fast)."""

from __future__ import annotations

import base64
import json

import datasets
import numpy as np
import pandas as pd
import pytest

from finetuner import plots
from finetuner.config import DataConfig
from finetuner.data import prepare
from finetuner.ui import services


def test_word_lengths_count_each_examples_words_in_the_splits_order():
    texts = [f"{'word ' * i}end" for i in range(40)]
    split = datasets.Dataset.from_dict({"text": texts, "text_pair": ["a b"] * 40, "label": [0] * 40}).shuffle(seed=3).select(range(25))
    expected = [len(text.split()) + 2 for text in split.to_pandas()["text"]]
    assert services.word_lengths({"train": split})["train"] == expected
    words = datasets.Dataset.from_dict({"tokens": [["New", "York"], ["a"] * 7], "tags": [["B-loc", "I-loc"], ["O"] * 7]})
    assert services.word_lengths({"train": words}, "token-classification")["train"] == [2, 7]


def test_texts_of_a_pair_are_shared_with_train_only_when_both_are(tmp_path):
    train = pd.DataFrame({"text": [f"premise {i}" for i in range(20)], "text_pair": [f"hypothesis {i}" for i in range(20)], "label": ["a", "b"] * 10})
    valid = pd.DataFrame({"text": ["premise 0", "premise 1", "premise 2"], "text_pair": ["hypothesis 0", "other", "hypothesis 2"], "label": ["a", "b", "a"]})
    train.to_csv(tmp_path / "train.csv", index=False)
    valid.to_csv(tmp_path / "valid.csv", index=False)
    report = prepare(DataConfig(train_file=str(tmp_path / "train.csv"), validation_file=str(tmp_path / "valid.csv"), test_split_ratio=0)).report
    assert report.overlap["validation"] == 2
    assert "validation: 2 text(s) also appear in train" in " ".join(report.warnings)


def test_length_histograms_carry_every_length():
    """The lengths go to the browser as a packed array (plotly.js reads it), not one JSON number each."""
    lengths = {"train": list(range(1, 300)) * 3, "test": [4, 5]}
    fig = plots.text_lengths(lengths)
    assert [list(trace.x) for trace in fig.data] == [lengths["train"], lengths["test"]]
    sent = json.loads(fig.to_json())["data"][0]["x"]
    assert np.frombuffer(base64.b64decode(sent["bdata"]), dtype=np.dtype(sent["dtype"])).tolist() == lengths["train"]
    assert fig.data[0].xbins.start == 0.5 and fig.data[0].xbins.end == 299.5
    tokens = plots.token_lengths({"train": {"lengths": [5, 9, 30], "truncated_share": 1 / 3, "count": 3}}, max_length=16)
    assert list(tokens.data[0].x) == [5, 9, 30]


@pytest.fixture
def ordered_files(tmp_path):
    """A training file in a telling order: 5,000 short texts, then 2,000 long ones; and its own validation file."""
    short = [{"text": f"good film {i % 7}", "label": "pos" if i % 2 else "neg"} for i in range(5000)]
    long = [{"text": "the film " + "was long and dull " * 8, "label": "pos" if i % 2 else "neg"} for i in range(2000)]
    pd.DataFrame(short + long).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame(short[:40]).to_csv(tmp_path / "valid.csv", index=False)
    return tmp_path / "train.csv", tmp_path / "valid.csv"


def test_token_lengths_of_a_big_split_come_from_a_random_sample_the_chart_names(ordered_files, tiny_model_dir, tmp_path):
    """The first 5,000 rows stood for the split: here none of the long texts, so 0% truncated where 29% are."""
    train, valid = ordered_files
    selection = services.make_selection(services.SOURCE_FILE, train_file=str(train), validation_file=str(valid), runs_dir=tmp_path / "runs", task="text-classification")
    stats = services.token_stats(services.split_selection(selection, services.split_options({"test_split_ratio": 0})), str(tiny_model_dir), 16, runs_dir=tmp_path / "runs")
    assert stats["train"]["count"] == services.MAX_STATS_ROWS and stats["train"]["sampled_from"] == 7000
    assert 0.25 < stats["train"]["truncated_share"] < 0.33, "about 2,000 of 7,000 texts are longer than 16 tokens"
    assert "sampled_from" not in stats["validation"] and stats["validation"]["count"] == 40
    title = plots.token_lengths(stats, 16).layout.title.text
    assert f"train: {stats['train']['truncated_share']:.1%} truncated (a random 5,000 of 7,000)" in title
    assert title.endswith("validation: 0.0% truncated")


def test_estimate_reads_the_data_tabs_preparation_and_token_statistics(sentiment_csv, tiny_model_dir, tmp_path):
    """Estimate (and the plan, and Start's checks) read the data as a run's config names it; the Data tab and the
    inspector as the page's selection does. The same data is prepared and tokenized once for both."""
    runs = tmp_path / "runs"
    selection = services.make_selection(services.SOURCE_FILE, train_file=str(sentiment_csv), runs_dir=runs, task="text-classification")
    page = {**services.split_selection(selection, services.split_options({"seed": 7})), "text_column_names": ["text"], "label_column_name": "label"}
    config = services.build_config(page, {"model_name_or_path": str(tiny_model_dir), "max_seq_length": 32, "seed": 7}, runs_dir=runs)
    as_run = {**{k: v for k, v in config.data.__dict__.items() if v is not None}, "task": config.model.task}  # the Train tab's `data_selection`
    assert services.prepared(as_run, seed=7) is services.prepared(page, seed=7)
    stats = services.token_stats(page, str(tiny_model_dir), 32, seed=7, runs_dir=runs)
    assert services.token_stats(as_run, str(tiny_model_dir), 32, seed=7, runs_dir=runs) is stats
    assert services.prepared(page, seed=8) is not services.prepared(page, seed=7), "another seed is another split"
