"""What the tokenizer makes of the data: the inspection shows exactly what training feeds the model."""

from __future__ import annotations

import pytest

from finetuner.config import DataConfig
from finetuner.data import prepare
from finetuner.errors import ModelLoadError
from finetuner.config import RunConfig
from finetuner.tasks.text_classification import length_statistics as task_length_statistics
from finetuner.tokenization import encode_batch, inspect_example, load_tokenizer, tokenize_splits, tokenizer_signature


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


def test_measuring_texts_longer_than_the_model_reads_warns_of_no_indexing_errors(tiny_model_dir, sentiment_csv):
    """The Data tab, the inspector and `train` measure each text's full length to show what max_length cuts; the
    tokenizer took that for feeding the model and printed "Token indices sequence length is longer than the specified
    maximum sequence length for this model ... will result in indexing errors" in the terminal, which nothing risks:
    training and prediction cut every text at max_length."""
    import logging

    said = []  # transformers' own log, which does not reach the root logger
    listener = logging.Handler(logging.WARNING)
    listener.emit = lambda record: said.append(record.getMessage())
    logging.getLogger("transformers").addHandler(listener)
    try:
        short = load_tokenizer(str(tiny_model_dir), model_max_length=4)  # a fresh tokenizer: it warns once at most
        prepared = prepare(DataConfig(train_file=str(sentiment_csv)))
        stats = length_statistics(prepared.splits, short, max_length=8)
        shown = inspect_example(short, prepared.splits["train"]["text"][0], max_length=4)
    finally:
        logging.getLogger("transformers").removeHandler(listener)
    assert stats["train"]["truncated"] > 0 and shown["truncated"], "the texts are longer than the model reads"
    assert not [message for message in said if "indexing errors" in message]


def length_statistics(splits, tokenizer, *, max_length: int):
    """The classification task's token lengths (what `train` writes to token_stats.json and the Data tab charts)."""
    return task_length_statistics(splits, tokenizer, RunConfig.from_dict({"task": "text-classification", "max_seq_length": max_length}))


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


def test_a_tokenizer_that_needs_a_missing_package_names_it(tmp_path):
    """A Marian (opus-mt) model's tokenizer needs sentencepiece, which finetuner does not install: its ImportError
    starts with a blank line, and the message said "Could not load the tokenizer from folder '...': " and no reason."""
    import importlib.util
    import json

    if importlib.util.find_spec("sentencepiece") is not None:
        pytest.skip("sentencepiece is installed here: Marian's tokenizer would read the files instead")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "MarianTokenizer", "source_lang": "en", "target_lang": "de"}))
    (tmp_path / "vocab.json").write_text(json.dumps({"<unk>": 0, "<pad>": 1, "</s>": 2}))
    for name in ("source.spm", "target.spm", "config.json"):
        (tmp_path / name).write_text("{}")
    with pytest.raises(ModelLoadError, match=r"from folder '.*': MarianTokenizer requires the SentencePiece library .* https://github.com/google/sentencepiece"):
        load_tokenizer(str(tmp_path))


# ---------------------------------------------------------------- sentence pairs on decoder models


def text_classification_tokenizer(folder):
    from finetuner.config import RunConfig
    from finetuner.tasks import get_task

    return get_task("text-classification").load_tokenizer(RunConfig.from_dict({"task": "text-classification", "model_name_or_path": str(folder)}))


def shown_tokens(tokenizer, text, text_pair=None):
    from finetuner.config import RunConfig
    from finetuner.tasks import get_task

    config = RunConfig.from_dict({"task": "text-classification", "model_name_or_path": "unused", "max_seq_length": 32})
    shown = get_task("text-classification").inspect_example(tokenizer, {"text": text, "text_pair": text_pair}, config)
    return [(token, bool(special)) for token, special in zip(shown["tokens"], shown["special_tokens_mask"])]


def test_a_decoder_models_pair_is_separated_by_its_end_of_text_token_which_the_saved_tokenizer_keeps(sentiment_frame, tmp_path):
    """GPT-2's tokenizer joined a pair's texts with nothing between them ('great' 'the'): a classifier reading the
    last token could not see where the premise ends. The end-of-text token now separates them, shown as special
    in the Data tab's inspector; a single text is encoded as before, and a saved model's tokenizer keeps it."""
    from task_fixtures import build_tiny_gpt2

    folder = build_tiny_gpt2(tmp_path / "gpt2", list(sentiment_frame["text"]), pad_token=False)
    plain, tokenizer = load_tokenizer(str(folder)), text_classification_tokenizer(folder)
    assert shown_tokens(tokenizer, "great", "the") == [("great", False), ("</s>", True), ("the", False)]
    assert shown_tokens(tokenizer, "the film was great") == shown_tokens(plain, "the film was great")
    assert tokenizer_signature(tokenizer) != tokenizer_signature(plain), "a cache of glued pairs is not reused"
    tokenizer.save_pretrained(tmp_path / "saved")
    assert shown_tokens(load_tokenizer(str(tmp_path / "saved")), "great", "the") == [("great", False), ("</s>", True), ("the", False)]


def test_a_llama_style_tokenizer_keeps_its_bos_and_gets_the_separator(tmp_path):
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    from task_fixtures import _word_level_tokenizer

    backend = _word_level_tokenizer(["the film was great"], ["<unk>", "<s>", "</s>"])
    backend.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B:1", special_tokens=[("<s>", backend.token_to_id("<s>"))])
    PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>").save_pretrained(tmp_path)
    tokenizer = text_classification_tokenizer(tmp_path)
    assert shown_tokens(tokenizer, "great", "the") == [("<s>", True), ("great", False), ("</s>", True), ("the", False)]
    assert shown_tokens(tokenizer, "great") == [("<s>", True), ("great", False)]


def test_an_encoders_pair_is_encoded_as_it_was(tiny_model_dir, tokenizer):
    separated = text_classification_tokenizer(tiny_model_dir)
    assert shown_tokens(separated, "great", "the") == shown_tokens(tokenizer, "great", "the") == [("[CLS]", True), ("great", False), ("[SEP]", True), ("the", False), ("[SEP]", True)]
    assert tokenizer_signature(separated) == tokenizer_signature(tokenizer)
