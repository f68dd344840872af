"""What the tokenizer makes of the data: the inspection shows exactly what training feeds the model."""

from __future__ import annotations

import pytest

from finetuner.config import DataConfig
from finetuner.data import prepare
from finetuner.errors import ModelLoadError
from finetuner.tokenization import encode_batch, inspect_example, length_statistics, load_tokenizer, tokenize_splits


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return load_tokenizer(str(tiny_model_dir))


def test_inspection_matches_training_encoding(tokenizer):
    text = "the film was great and the plot felt great"
    shown = inspect_example(tokenizer, text, max_length=64)
    fed = encode_batch(tokenizer, {"text": [text]}, 64)
    assert shown["input_ids"] == fed["input_ids"][0]
    assert shown["attention_mask"] == [1] * len(shown["input_ids"])
    assert shown["tokens"][0] == "[CLS]" and shown["tokens"][-1] == "[SEP]"
    assert shown["special_tokens_mask"][0] == 1 and shown["special_tokens_mask"][-1] == 1 and sum(shown["special_tokens_mask"]) == 2
    assert not shown["truncated"] and shown["dropped_text"] == ""


def test_truncation_shows_what_was_cut(tokenizer):
    text = "the film was great and the plot felt dull and the cast was fun"
    shown = inspect_example(tokenizer, text, max_length=8)
    assert shown["num_tokens"] == 8
    assert shown["truncated"] and shown["num_tokens_untruncated"] > 8
    assert text.endswith(shown["dropped_text"]) and shown["dropped_text"].endswith("the cast was fun")


def test_pairs_have_token_types(tokenizer):
    shown = inspect_example(tokenizer, "the film", "the plot", max_length=32)
    assert shown["token_type_ids"] == [0, 0, 0, 0, 1, 1, 1]


def test_length_statistics_count_truncated_share(tokenizer, sentiment_csv):
    prepared = prepare(DataConfig(train_file=str(sentiment_csv)))
    stats = length_statistics(prepared.splits, tokenizer, max_length=10)
    train = stats["train"]
    lengths = [len(tokenizer(t)["input_ids"]) for t in prepared.splits["train"]["text"]]
    assert train["count"] == len(lengths) and train["max"] == max(lengths)
    assert train["truncated"] == sum(n > 10 for n in lengths)
    assert train["truncated_share"] == pytest.approx(train["truncated"] / len(lengths))


def test_tokenized_splits_are_unpadded_and_cached(tokenizer, sentiment_csv, tmp_path):
    prepared = prepare(DataConfig(train_file=str(sentiment_csv)))
    first = tokenize_splits(prepared.splits, tokenizer, max_length=32, fingerprint=prepared.fingerprint, cache_dir=tmp_path)
    lengths = {len(ids) for ids in first["train"]["input_ids"]}
    assert len(lengths) > 1, "dynamic padding: examples keep their own lengths"
    cached = sorted(p.name for p in tmp_path.glob("*.arrow"))
    assert len(cached) == 3
    second = tokenize_splits(prepared.splits, tokenizer, max_length=32, fingerprint=prepared.fingerprint, cache_dir=tmp_path)
    assert [f["filename"] for f in second["train"].cache_files] == [f["filename"] for f in first["train"].cache_files]
    assert sorted(p.name for p in tmp_path.glob("*.arrow")) == cached, "an unchanged second run tokenizes nothing new"
    tokenize_splits(prepared.splits, tokenizer, max_length=16, fingerprint=prepared.fingerprint, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.arrow"))) == 6, "a new max_length is a new cache entry"


def test_unknown_model_id_says_so(tmp_path):
    with pytest.raises(ModelLoadError) as info:
        load_tokenizer("no-such-user/no-such-model-xyz")
    assert "no-such-user/no-such-model-xyz" in str(info.value)


def test_a_runs_token_statistics_are_computed_once_per_data_tokenizer_and_options(tokenizer, sentiment_csv, tmp_path):
    from finetuner.config import RunConfig
    from finetuner.tasks import get_task
    from finetuner.train import token_stats

    task, computed = get_task("text-classification"), []

    class Counted:
        """The task, counting how often it encodes the data for its length statistics."""

        def length_statistics(self, *args):
            computed.append(args[2].model.max_seq_length)
            return task.length_statistics(*args)

    config = RunConfig.from_dict({"train_file": str(sentiment_csv), "max_seq_length": 10})
    prepared = task.prepare_data(config)
    first = token_stats(Counted(), prepared, tokenizer, config, cache_dir=tmp_path)
    assert first["train"]["count"] == len(prepared.splits["train"]) and "lengths" not in first["train"]
    assert token_stats(Counted(), prepared, tokenizer, config, cache_dir=tmp_path) == first and computed == [10], "an unchanged second run reads them"
    longer = token_stats(Counted(), prepared, tokenizer, config.replace(max_seq_length=64), cache_dir=tmp_path)
    assert computed == [10, 64] and longer["train"]["truncated"] < first["train"]["truncated"], "a new max_length is counted anew"


def test_a_model_folder_without_tokenizer_files_is_refused(tiny_model_dir, tmp_path):
    """transformers makes a tokenizer from config.json alone that knows only its special tokens: every word read as
    [UNK], and a NER run on it completed with F1 0. Loading it now says what is missing and what to do."""
    import shutil

    weights_only = shutil.copytree(tiny_model_dir, tmp_path / "weights-only", ignore=shutil.ignore_patterns("tokenizer*", "special_tokens_map.json"))
    with pytest.raises(ModelLoadError, match="has no tokenizer files .* Copy the tokenizer's files beside the model's, or name the tokenizer's folder"):
        load_tokenizer(str(weights_only))
    assert load_tokenizer(str(tiny_model_dir)).tokenize("the film")
