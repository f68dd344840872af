"""Summarization data and what the encoder and decoder are fed."""

from __future__ import annotations

import pandas as pd
import pytest

from finetuner.config import DataConfig, RunConfig
from finetuner.data import prepare_document_data
from finetuner.errors import DataError, ModelLoadError
from finetuner.tasks import seq2seq
from task_fixtures import build_tiny_t5, make_summary_records, write_jsonl


@pytest.fixture(scope="module")
def t5_dir(tmp_path_factory):
    return build_tiny_t5(tmp_path_factory.mktemp("tiny-t5"), [r["document"] for r in make_summary_records(80)] + ["summarize :"])


@pytest.mark.parametrize("columns", [("document", "summary"), ("article", "highlights"), ("source", "target")])
def test_document_and_summary_columns_are_found(tmp_path, columns):
    frame = pd.DataFrame({columns[0]: [f"doc {i}. more." for i in range(20)], columns[1]: [f"sum {i}" for i in range(20)], "id": range(20)})
    frame.to_json(tmp_path / "d.jsonl", orient="records", lines=True)
    data = prepare_document_data(DataConfig(train_file=str(tmp_path / "d.jsonl")))
    assert data.columns == {"document": columns[0], "summary": columns[1]}
    assert data.splits["train"].column_names == ["document", "summary"]
    assert sum(data.report["split_sizes"].values()) == 20


def test_rows_without_a_summary_are_dropped_and_counted(tmp_path):
    records = make_summary_records(20) + [{"document": "x", "summary": ""}, {"document": "", "summary": "y"}]
    data = prepare_document_data(DataConfig(train_file=str(write_jsonl(tmp_path / "d.jsonl", records)), test_split_ratio=0))
    assert data.report["empty_texts"]["train"] == 2 and any("2 row(s)" in w for w in data.report["warnings"])


def test_unknown_columns_say_which_option_to_set(tmp_path):
    write_jsonl(tmp_path / "d.jsonl", [{"paper": "a", "tldr": "b"}] * 12)
    with pytest.raises(DataError, match="document_column_name"):
        prepare_document_data(DataConfig(train_file=str(tmp_path / "d.jsonl")))
    data = prepare_document_data(DataConfig(train_file=str(tmp_path / "d.jsonl"), document_column_name="paper", summary_column_name="tldr"))
    assert data.splits["train"][0] == {"document": "a", "summary": "b"}


def test_inspector_shows_encoder_input_and_decoder_target(t5_dir):
    config = RunConfig.from_dict({"task": "seq2seq", "model_name_or_path": str(t5_dir), "max_seq_length": 8, "max_target_length": 4, "source_prefix": "summarize: "})
    tokenizer = seq2seq.load_tokenizer(config)
    example = {"document": "the cat won after a long day in the morning .", "summary": "the cat won ."}
    shown = seq2seq.inspect_example(tokenizer, example, config)
    assert shown["rendered"].startswith("summarize: the cat won")
    assert shown["tokens"][:2] == ["summarize", ":"] and shown["tokens"][-1] == "</s>" and shown["num_tokens"] == 8
    assert shown["truncated"] and shown["num_tokens_untruncated"] > 8
    assert shown["target_tokens"] == ["the", "cat", "won", "</s>"] and shown["target_truncated"], "'.' was cut to fit max_target_length 4"
    features = seq2seq.tokenize({"train": __import__("datasets").Dataset.from_list([example])}, tokenizer, config)["train"][0]
    assert features["input_ids"] == shown["input_ids"] and features["labels"] == shown["labels"]


def test_lead_sentence():
    assert seq2seq.lead_sentence("First one. Second one.") == "First one."
    assert seq2seq.lead_sentence("no end") == "no end"


def test_defaults_and_a_wrong_kind_of_model(tiny_model_dir):
    config = RunConfig.from_dict({"task": "seq2seq"})
    assert config.model.model_name_or_path == "google/flan-t5-small"
    assert config.training.metric_for_best_model == "rougeL" and config.model.max_seq_length == 512
    with pytest.raises(ModelLoadError, match="needs an encoder-decoder model such as T5"):
        seq2seq.build_model(config.replace(model_name_or_path=str(tiny_model_dir)), [])


def test_offline_default_says_what_to_do():
    with pytest.raises(ModelLoadError) as info:
        seq2seq.load_tokenizer(RunConfig.from_dict({"task": "seq2seq"}))
    message = str(info.value)
    assert "unreachable" in message and "hf download google/flan-t5-small" in message and "model_name_or_path" in message


def test_check_tokenization_refuses_a_split_with_nothing_to_read_or_learn(t5_dir, tmp_path):
    """Truncation that leaves every summary its end token alone, or a source prefix that fills max_seq_length,
    trained and scored a run on nothing without an error; a split where one row keeps text passes."""
    from finetuner.tasks.base import load_tokenizer

    records = make_summary_records(12)
    data = prepare_document_data(DataConfig(train_file=str(write_jsonl(tmp_path / "d.jsonl", records)), test_split_ratio=0))
    base = {"task": "seq2seq", "model_name_or_path": str(t5_dir), "max_seq_length": 48, "source_prefix": "summarize: "}
    tokenizer = load_tokenizer(RunConfig.from_dict(base))
    seq2seq.check_tokenization(data.splits, tokenizer, RunConfig.from_dict({**base, "max_target_length": 2}))
    with pytest.raises(DataError, match="No summary of train keeps any of its text within max_target_length 1"):
        seq2seq.check_tokenization(data.splits, tokenizer, RunConfig.from_dict({**base, "max_target_length": 1}))
    long_prefix = "summarize: the cat the dog in the morning"  # 9 words, each one token: with </s>, 8 fill max_seq_length 8
    with pytest.raises(DataError, match=r"No document of train keeps any of its text within max_seq_length 8: the source prefix '.+' \(9 tokens\) fills it"):
        seq2seq.check_tokenization(data.splits, tokenizer, RunConfig.from_dict({**base, "max_seq_length": 8, "source_prefix": long_prefix}))
    seq2seq.check_tokenization(data.splits, tokenizer, RunConfig.from_dict({**base, "max_seq_length": 16, "source_prefix": long_prefix}))


def test_generated_summaries_past_the_decoder_s_positions_are_refused(tmp_path):
    """BART reads its decoder's tokens at learned positions: generating past them fails with an IndexError at the
    first evaluation, an epoch into the run, whenever the model writes that long. Refused with the options now."""
    from finetuner.errors import ConfigError
    from finetuner.tasks.base import check_max_length
    from task_fixtures import build_tiny_bart

    model_dir = build_tiny_bart(tmp_path / "bart", [r["document"] for r in make_summary_records(20)], positions=16)
    config = {"task": "seq2seq", "model_name_or_path": str(model_dir), "max_seq_length": 16, "max_target_length": 16}
    check_max_length(RunConfig.from_dict({**config, "generation_max_new_tokens": 16}))
    with pytest.raises(ConfigError, match="generation_max_new_tokens 17 is longer than .* its decoder has positions for 16 tokens. Set generation_max_new_tokens to 16 or less.$"):
        check_max_length(RunConfig.from_dict({**config, "generation_max_new_tokens": 17}))
