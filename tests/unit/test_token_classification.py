"""NER data, label alignment and the tokenization inspector: what training feeds the model, word by word."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from finetuner.config import DataConfig, RunConfig
from finetuner.data import prepare_token_data
from finetuner.errors import ConfigError, DataError
from finetuner.tasks import token_classification as ner
from finetuner.tokenization import load_tokenizer
from task_fixtures import make_ner_records, write_jsonl


@pytest.fixture
def ner_file(tmp_path):
    return write_jsonl(tmp_path / "ner.jsonl", make_ner_records(60))


def test_tags_become_ids_in_a_stable_order_with_entity_counts(ner_file):
    data = prepare_token_data(DataConfig(train_file=str(ner_file)))
    assert data.label_names == ["O", "B-location", "I-location", "B-person", "I-person"]
    assert data.columns == {"tokens": "tokens", "tags": "ner_tags"}
    assert data.report["split_sizes"] == {"train": 48, "validation": 6, "test": 6}
    train = data.splits["train"]
    first = train[0]
    assert len(first["tokens"]) == len(first["tags"]) and all(isinstance(t, int) for t in first["tags"])
    # every generated sentence has exactly one person and one location
    assert data.report["class_counts"]["train"] == {"person": 48, "location": 48}
    assert data.report["word_counts"]["train"] == sum(len(t) for t in train["tokens"])


def test_space_separated_strings_from_a_csv_work(tmp_path):
    frame = pd.DataFrame({"words": ["alice visited paris"] * 12, "tags": ["B-person O B-location"] * 12})
    frame.to_csv(tmp_path / "ner.csv", index=False)
    data = prepare_token_data(DataConfig(train_file=str(tmp_path / "ner.csv"), test_split_ratio=0))
    assert data.splits["train"][0]["tokens"] == ["alice", "visited", "paris"]


@pytest.mark.parametrize(
    "record, words",
    [
        ({"tokens": ["a", "b"], "ner_tags": ["O"]}, r"^Row 20 of the train data \(numbered from 0, as the Data tab's # column: the 21st record\) has 2 words but 1 tags"),
        ({"tokens": ["a"], "ner_tags": ["PERSON"]}, "do not follow the BIO scheme"),
        ({"tokens": 5, "ner_tags": ["O"]}, r"^Row 20 of the train data \(.*\): 'tokens' and 'ner_tags' must each hold a list"),
    ],
)
def test_malformed_rows_are_named(tmp_path, record, words):
    records = make_ner_records(20) + [record]
    with pytest.raises(DataError, match=words):
        prepare_token_data(DataConfig(train_file=str(write_jsonl(tmp_path / "bad.jsonl", records))))


def test_all_o_data_is_refused(tmp_path):
    records = [{"tokens": ["a", "b"], "ner_tags": ["O", "O"]}] * 20
    with pytest.raises(DataError, match="no entities"):
        prepare_token_data(DataConfig(train_file=str(write_jsonl(tmp_path / "o.jsonl", records))))


def test_unseen_tag_in_validation_is_refused(tmp_path, ner_file):
    validation = write_jsonl(tmp_path / "val.jsonl", [{"tokens": ["acme"], "ner_tags": ["B-corporation"]}])
    with pytest.raises(DataError, match="'B-corporation' that never occur in train"):
        prepare_token_data(DataConfig(train_file=str(ner_file), validation_file=str(validation)))


RARE = {"tokens": ["acme", "corp", "shipped", "it"], "ner_tags": ["B-corporation", "I-corporation", "O", "O"]}


@pytest.mark.parametrize("seed", range(8))
def test_the_tool_split_keeps_every_tag_in_train(tmp_path, seed):
    """A tag in one sentence (as WNUT-17's I-corporation in 200 sentences): a random split used to carry it
    out of train, then blame the validation data for a split the tool made."""
    path = write_jsonl(tmp_path / "rare.jsonl", make_ner_records(40) + [RARE])
    data = prepare_token_data(DataConfig(train_file=str(path)), seed=seed)
    assert {"B-corporation", "I-corporation"} <= set(data.label_names)
    assert data.report["class_counts"]["train"]["corporation"] == 1
    assert sum(data.report["split_sizes"].values()) == 41, "no sentence lost"
    for role in ("validation", "test"):
        assert f"{role} was split from train ({data.report['split_sizes'][role]} sentences, at random, keeping every tag in train)." in data.report["warnings"]
        assert f"{role} has no entities of 1 of the 3 entity types in train ('corporation'), so its entity F1 says nothing about them. Give a {role} file, or more sentences with those entities." in data.report["warnings"]


def test_a_train_limit_that_drops_a_tag_names_the_limit_not_the_split(tmp_path):
    path = write_jsonl(tmp_path / "rare.jsonl", make_ner_records(40) + [RARE] * 6)
    messages = []
    for seed in range(8):
        try:
            prepare_token_data(DataConfig(train_file=str(path), max_train_samples=2), seed=seed)
        except DataError as error:
            messages.append(str(error))
    assert messages, "two training sentences leave the corporation sentences held out for some seed"
    for message in messages:
        assert "rows split from train have tag(s)" in message and "Raise or clear max_train_samples" in message and "fix the tags" not in message


def test_missing_columns_say_which_option_to_set(tmp_path):
    write_jsonl(tmp_path / "x.jsonl", [{"sentence": ["a"], "bio": ["O"]}] * 12)
    with pytest.raises(DataError, match="tokens_column_name"):
        prepare_token_data(DataConfig(train_file=str(tmp_path / "x.jsonl")))
    data = prepare_token_data(DataConfig(train_file=str(write_jsonl(tmp_path / "y.jsonl", [{"sentence": ["a", "b"], "bio": ["B-x", "O"]}] * 12)), tokens_column_name="sentence"))
    assert data.columns == {"tokens": "sentence", "tags": "bio"}


def test_alignment_labels_first_sub_token_or_all():
    names = ["O", "B-loc", "I-loc"]
    word_ids = [None, 0, 0, 0, 1, None]  # word 0 is cut into three pieces
    mapping = ner.inside_map(names)
    assert mapping == {1: 2}
    assert ner.align_labels(word_ids, [1, 0], label_all_tokens=False, inside=mapping) == [-100, 1, -100, -100, 0, -100]
    assert ner.align_labels(word_ids, [1, 0], label_all_tokens=True, inside=mapping) == [-100, 1, 2, 2, 0, -100]


@pytest.mark.parametrize("scheme", [("B", "I", "E", "S"), ("B", "I", "L", "U")])
def test_label_all_tokens_puts_an_inside_tag_on_the_later_pieces_of_any_entity_word(scheme):
    """IOBES and BILOU: a one-word entity (S-/U-) and an entity's last word (E-/L-), each cut into three
    pieces, keep their tag on the first piece (the one prediction reads) and I- on the others; the end or
    single tag copied onto each piece taught the entity to end mid-word, three times over."""
    begin, inside, end, single = scheme
    names = ["O", f"{begin}-loc", f"{inside}-loc", f"{end}-loc", f"{single}-loc", f"{single}-org"]
    word_ids = [None, 0, 0, 0, 1, 2, 2, 2, 3, 3, None]  # "Paris" in 3 pieces; "New" "York" (3 pieces); "Acme" in 2
    tags = [4, 1, 3, 5]  # S-loc, B-loc, E-loc, S-org (no I-org in the tag set)
    labels = ner.align_labels(word_ids, tags, label_all_tokens=True, inside=ner.inside_map(names))
    shown = [None if label == -100 else names[label] for label in labels]
    assert shown == [None, f"{single}-loc", "I-loc", "I-loc", f"{begin}-loc", f"{end}-loc", "I-loc", "I-loc", f"{single}-org", f"{single}-org", None]


def test_each_word_is_tagged_in_the_window_where_it_sits_farthest_from_an_edge():
    """Overflowing windows of three sentences: each word is owned by one window, at its first sub-token,
    the window where that sub-token has most context on both sides (the earlier on a tie); a window that
    starts with a word's last piece (sentence 2's word 1) never owns it."""
    owners = [0, 0, 1, 2, 2]
    windows = [
        [None, 0, 1, 2, 3, 4, 5, None],  # sentence 0, first window
        [None, 3, 4, 5, 5, 6, 7, None],  # its second: words 3-5 again, word 5 in two pieces
        [None, 0, 1, None],  # sentence 1 fits
        [None, 0, 1, 1, None],  # sentence 2: word 1 in two pieces...
        [None, 1, 2, None],  # ...the second of which starts the next window
    ]
    owned = ner.window_owners(owners, windows)
    assert owned == [{0: 1, 1: 2, 2: 3, 3: 4, 4: 5}, {5: 3, 6: 5, 7: 6}, {0: 1, 1: 2}, {0: 1, 1: 2}, {2: 2}]
    assert ner.window_owners([0], [[-1, 0, 0, -1]]) == [{0: 1}], "the word ids a tokenized split stores (-1 for special tokens) read alike"


def tiny_tokenizer_config(model_dir, **values):
    return RunConfig.from_dict({"task": "token-classification", "model_name_or_path": str(model_dir), "max_seq_length": 16, **values})


def test_inspector_shows_each_words_tag_against_its_sub_tokens(tiny_model_dir):
    config = tiny_tokenizer_config(tiny_model_dir)
    tokenizer = ner.load_tokenizer(config)
    example = {"tokens": ["delightfulness", "felt", "great"], "tags": ["B-person", "O", "B-location"]}
    shown = ner.inspect_example(tokenizer, example, config)
    first = shown["words"][0]
    n = len(tokenizer.tokenize("delightfulness"))
    assert n > 1 and [len(tokenizer.tokenize(w)) for w in ("felt", "great")] == [1, 1]
    assert first["word"] == "delightfulness" and first["tag"] == "B-person" and first["sub_tokens"] == tokenizer.tokenize("delightfulness")
    assert shown["tokens"][0] == "[CLS]" and shown["labels"][0] is None
    assert shown["labels"][1 : 1 + n] == ["B-person"] + [None] * (n - 1)
    assert shown["labels"][1 + n :] == ["O", "B-location", None]
    names = ["O", "B-location", "I-location", "B-person", "I-person"]
    all_tokens = ner.inspect_example(tokenizer, example, tiny_tokenizer_config(tiny_model_dir, label_all_tokens=True), label_names=names)
    assert all_tokens["labels"][1 : 1 + n] == ["B-person"] + ["I-person"] * (n - 1), "B- becomes I- on the later pieces"


def save_byte_level_tokenizer(folder, texts):
    """A byte-level BPE tokenizer trained on `texts` and saved under the generic class, as ModernBERT's is
    (tokenizer_class PreTrainedTokenizerFast): not one of the classes that apply `add_prefix_space` themselves."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=300, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]").save_pretrained(folder)
    return folder


def test_a_byte_level_tokenizer_of_the_generic_class_reads_each_word_after_a_space(tmp_path):
    """The model was pretrained on 'Ġvisited' in mid-sentence; read alone, the word became 'vis', 'ited'."""
    folder = save_byte_level_tokenizer(tmp_path / "modernbert-like", ["alice visited new york", "bob visited rome today"] * 20)
    config = tiny_tokenizer_config(folder)
    tokenizer = ner.load_tokenizer(config)
    shown = ner.inspect_example(tokenizer, {"tokens": ["bob", "visited", "rome"], "tags": ["B-person", "O", "B-location"]}, config)
    assert [w["sub_tokens"] for w in shown["words"][1:]] == [["Ġvisited"], ["Ġrome"]], shown["tokens"]
    tokenizer.save_pretrained(tmp_path / "model")  # as a finished run keeps it: its predictor and evaluation read words alike
    again = ner.load_trained_tokenizer(tmp_path / "model")
    assert again(["bob", "visited", "rome"], is_split_into_words=True)["input_ids"] == shown["input_ids"]


LLAMA_3_SPLIT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def save_split_byte_level_tokenizer(folder, texts, tokenizer_class=None):
    """A byte-level BPE tokenizer whose pre-tokenizer splits by Llama 3's regex before its ByteLevel step
    (add_prefix_space=False), trained on `texts` and saved under the generic class as Llama 3's is, or
    under `tokenizer_class` with add_prefix_space false recorded, as Qwen2.5's is."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA_3_SPLIT), behavior="isolated"), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tokenizer.decoder = decoders.ByteLevel()
    special = ["<|begin_of_text|>", "<|end_of_text|>"]
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer.post_processor = processors.TemplateProcessing(single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", 0)])
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>").save_pretrained(folder)
    if tokenizer_class:
        settings = json.loads((folder / "tokenizer_config.json").read_text())
        (folder / "tokenizer_config.json").write_text(json.dumps({**settings, "tokenizer_class": tokenizer_class, "add_prefix_space": False}))
    return folder


@pytest.mark.parametrize("tokenizer_class", [None, "Qwen2Tokenizer"])
def test_a_tokenizer_that_splits_before_its_byte_level_step_reads_each_word_after_one_space(tmp_path, tokenizer_class):
    """Llama 3 and Qwen read 'Ġvisited', 'Ġdon' "'t" and 'Ġ' '202' '3' in mid-sentence; words read alone
    became 'vis' 'ited', and a space added after the split went before every piece ('Ġ' "'t", 'Ġ2' 'Ġ0')."""
    texts = ["alice visited new york in 2023", "bob visited rome , don't you know"] * 20
    folder = save_split_byte_level_tokenizer(tmp_path / "llama-3-like", texts, tokenizer_class)
    config = tiny_tokenizer_config(folder)
    tokenizer = ner.load_tokenizer(config)
    words, tags = ["bob", "visited", "rome", "don't", "2023"], ["B-person", "O", "B-location", "O", "O"]
    shown = ner.inspect_example(tokenizer, {"tokens": words, "tags": tags}, config)
    pretrained = load_tokenizer(str(folder))
    assert shown["words"][1]["sub_tokens"] == ["Ġvisited"], shown["tokens"]
    assert [w["sub_tokens"] for w in shown["words"]] == [pretrained.tokenize(" " + word) for word in words], "each word as after a space in running text"
    assert all("".join(w["sub_tokens"]).count("Ġ") == 1 and w["sub_tokens"][0].startswith("Ġ") for w in shown["words"]), shown["tokens"]
    firsts = [label for label, word, previous in zip(shown["labels"], shown["word_ids"], [None, *shown["word_ids"]]) if word is not None and word != previous]
    assert firsts == tags and shown["labels"].count(None) == len(shown["tokens"]) - len(words), "one label a word, on its first piece"
    records = [{"tokens": words, "ner_tags": tags}] * 12
    data = prepare_token_data(DataConfig(train_file=str(write_jsonl(tmp_path / "ner.jsonl", records)), validation_file=str(write_jsonl(tmp_path / "v.jsonl", records[:2]))))
    features = ner.tokenize(data.splits, tokenizer, config, label_names=data.label_names)
    assert features["train"][0]["input_ids"] == shown["input_ids"] == features["validation"][0]["input_ids"], "training, evaluation windows and the inspector alike"
    tokenizer.save_pretrained(tmp_path / "model")  # as a finished run keeps it (a Qwen2 class loads without the normalizer)
    again = ner.load_trained_tokenizer(tmp_path / "model")  # what its predictor and evaluation read words with
    assert again(words, is_split_into_words=True)["input_ids"] == shown["input_ids"]


def word_pieces(tokenizer, words):
    return tokenizer.convert_ids_to_tokens(tokenizer(words, is_split_into_words=True)["input_ids"])


@pytest.mark.parametrize("kind", ["modernbert-like", "qwen2.5-like"])
def test_a_runs_tokenizer_reads_words_as_its_training_did(tmp_path, kind):
    """A run trained before finetuner put one space before each word read 'vis' 'ited' (ModernBERT-like) or a
    space before every piece (Qwen2.5-like), and saved its tokenizer so, recording add_prefix_space=True: its
    evaluation on other data re-read words the new way while the run had learnt the old. A trained model's
    tokenizer is now read as saved there; a run trained since reads one space a word; a model that records
    nothing (trained elsewhere) is read as training reads a pretrained one."""
    texts = ["alice visited new york in 2023", "bob visited rome , don't you know"] * 20
    if kind == "modernbert-like":
        folder = save_byte_level_tokenizer(tmp_path / kind, texts)
    else:
        folder = save_split_byte_level_tokenizer(tmp_path / kind, texts, "Qwen2Tokenizer")
    words = ["bob", "visited", "rome", "don't", "2023"]
    before = load_tokenizer(str(folder), add_prefix_space=True)  # what finetuner trained on and saved before
    before.save_pretrained(tmp_path / "old-run")
    now = ner.load_tokenizer(tiny_tokenizer_config(folder))
    now.save_pretrained(tmp_path / "new-run")
    assert word_pieces(before, words) != word_pieces(now, words) and "Ġvisited" in word_pieces(now, words)
    assert word_pieces(ner.load_trained_tokenizer(tmp_path / "old-run"), words) == word_pieces(before, words)
    assert word_pieces(ner.load_trained_tokenizer(tmp_path / "new-run"), words) == word_pieces(now, words)
    assert word_pieces(ner.load_trained_tokenizer(folder), words) == word_pieces(now, words)


def test_inspector_matches_training_features_and_shows_truncation(tiny_model_dir, tmp_path):
    config = tiny_tokenizer_config(tiny_model_dir, max_seq_length=8)
    tokenizer = ner.load_tokenizer(config)
    words = ["the", "film", "was", "great", "and", "the", "plot", "felt", "dull"]  # one sub-token each for this tokenizer
    assert all(len(tokenizer.tokenize(w)) == 1 for w in words)
    records = [{"tokens": words, "ner_tags": ["O", "B-x", "O", "O", "O", "O", "B-y", "O", "O"]}] * 12
    data = prepare_token_data(DataConfig(train_file=str(write_jsonl(tmp_path / "long.jsonl", records))))
    features = ner.tokenize(data.splits, tokenizer, config, label_names=data.label_names)
    example = data.splits["train"][0]
    shown = ner.inspect_example(tokenizer, example, config, label_names=data.label_names)
    fed = features["train"][0]
    assert shown["input_ids"] == fed["input_ids"] and len(fed["input_ids"]) == 8
    assert [None if label == -100 else data.label_names[label] for label in fed["labels"]] == shown["labels"]
    # [CLS] + 6 words + [SEP] fill the 8 tokens: the last 3 words are cut off
    assert shown["truncated"] and shown["truncated_words"] == 3 and shown["words"][-1]["truncated"] and not shown["words"][5]["truncated"]
    stats = ner.length_statistics(data.splits, tokenizer, config)
    assert stats["train"]["truncated_share"] == 1.0 and stats["train"]["max"] == 11


def test_ner_options_are_checked_against_the_task():
    with pytest.raises(ConfigError, match="label_all_tokens applies to the token-classification task"):
        RunConfig.from_dict({"label_all_tokens": True})
    config = RunConfig.from_dict({"task": "token-classification"})
    assert config.training.metric_for_best_model == "f1"
    assert config.model.model_name_or_path.endswith("model"), "NER starts from the bundled offline encoder"
    assert json.loads(json.dumps(config.to_dict()))["task"] == "token-classification"


def test_every_word_is_scored_even_without_a_sub_token():
    """Four words: the second made no sub-token (WNUT-17's tweets hold a lone U+FE0F, which the bundled
    tokenizer drops). Each keeps its own true tag, in place; the unseen word is predicted O."""
    from finetuner.tasks.token_classification import IGNORED, every_word

    names = ["O", "B-person", "I-person", "B-location"]
    word_ids = [-1, 0, 2, 2, 3, -1]  # [CLS] word0 word2 word2 word3 [SEP]
    labels = np.array([[IGNORED, 1, 0, IGNORED, 3, IGNORED]])
    predictions = np.array([[0, 1, 3, 3, 3, 0]])  # ids, as argmax would give
    true, predicted = every_word(predictions, labels, {"sentence": [0], "word_ids": [word_ids], "tags": [[1, 0, 0, 3]]}, names)
    assert true == [["B-person", "O", "O", "B-location"]]
    assert predicted == [["B-person", "O", "B-location", "B-location"]], "word 2 by its first sub-token; word 1 unseen"


def test_windows_are_stitched_back_into_their_sentences():
    """Three windows of two sentences, in the order an evaluation sorted them (shortest first): each
    sentence comes back whole, in its split's order, each word predicted where its window labels it."""
    from finetuner.tasks.token_classification import IGNORED, every_word

    names = ["O", "B-person", "I-person"]
    rows = {
        "sentence": [1, 0, 0],
        "word_ids": [[-1, 0, -1], [-1, 0, 1, 2, -1], [-1, 1, 2, 3, -1]],
        "tags": [[1], [0, 1, 2, 0], [0, 1, 2, 0]],
    }
    labels = np.array([[IGNORED, 1, IGNORED, IGNORED, IGNORED], [IGNORED, 0, 1, IGNORED, IGNORED], [IGNORED, IGNORED, 2, 0, IGNORED]])
    predictions = np.array([[0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 2, 0, 0]])
    true, predicted = every_word(predictions, labels, rows, names)
    assert true == [["O", "B-person", "I-person", "O"], ["B-person"]]
    assert predicted == [["O", "B-person", "I-person", "O"], ["B-person"]], "word 2 from the second window, which labels it"


def test_evaluation_splits_are_read_in_windows_training_is_cut(tiny_model_dir, tmp_path):
    """max_seq_length 8 and sentences of 9 one-piece words: training sees the first 6 words; validation
    reads each sentence in two windows in which every word is labelled exactly once, as prediction tags it."""
    config = tiny_tokenizer_config(tiny_model_dir, max_seq_length=8)
    tokenizer = ner.load_tokenizer(config)
    words = ["the", "film", "was", "great", "and", "the", "plot", "felt", "dull"]
    assert all(len(tokenizer.tokenize(w)) == 1 for w in words)
    records = [{"tokens": words, "ner_tags": ["O", "B-x", "O", "O", "O", "O", "B-y", "O", "O"]}] * 12
    data = prepare_token_data(DataConfig(train_file=str(write_jsonl(tmp_path / "long.jsonl", records)), validation_file=str(write_jsonl(tmp_path / "v.jsonl", records[:3]))))
    features = ner.tokenize(data.splits, tokenizer, config, label_names=data.label_names)
    assert len(features["train"]) == len(data.splits["train"]) and len(features["train"][0]["input_ids"]) == 8
    validation = features["validation"]
    assert list(validation["sentence"]) == [0, 0, 1, 1, 2, 2], "two windows a sentence"
    for first, second in zip(validation.select([0, 2, 4]), validation.select([1, 3, 5])):
        labelled = [w for row in (first, second) for w, label in zip(row["word_ids"], row["labels"]) if label != -100]
        assert sorted(labelled) == list(range(9)), "each word labelled once"
        assert [data.label_names[label] for row in (first, second) for label in row["labels"] if label != -100] == records[0]["ner_tags"]
        assert first["tokens"] == words and first["tags"] == second["tags"]


CONLL_2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

"""


def test_a_conll_file_is_read_sentence_by_sentence(tmp_path):
    """CoNLL-2003's layout: a word a line with its tag last, blank lines between sentences, -DOCSTART- skipped."""
    train = tmp_path / "train.conll"
    train.write_text(CONLL_2003 * 6, encoding="utf-8")
    prepared = prepare_token_data(DataConfig(train_file=str(train), validation_file=str(train)))
    validation = prepared.splits["validation"]
    assert len(validation) == 12 and validation[0]["tokens"] == ["EU", "rejects", "German", "call", "."]
    assert [prepared.label_names[t] for t in validation[1]["tags"]] == ["B-PER", "I-PER"]
    assert prepared.report["class_counts"]["validation"] == {"ORG": 6, "MISC": 6, "PER": 6}
    broken = tmp_path / "broken.conll"
    broken.write_text("EU B-ORG\nrejects\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2 holds one field \('rejects'\); each line needs a word and its tag"):
        prepare_token_data(DataConfig(train_file=str(broken)))


def test_a_checkpoint_trained_on_the_same_tags_keeps_each_tags_head_row(tmp_path, tiny_model_dir):
    """Fine-tuning a NER checkpoint whose tags its own data listed in another order: each tag's logit is the
    one the checkpoint learned for it (the rows were kept in place, so B-person started as O's, and so on)."""
    import torch
    from transformers import AutoConfig, AutoModelForTokenClassification

    from finetuner.tasks.base import load_with_new_head

    theirs = ["B-person", "I-person", "O"]
    checkpoint_config = AutoConfig.from_pretrained(tiny_model_dir, num_labels=3, id2label=dict(enumerate(theirs)), label2id={n: i for i, n in enumerate(theirs)})
    torch.manual_seed(0)
    AutoModelForTokenClassification.from_config(checkpoint_config).save_pretrained(tmp_path / "ner-checkpoint")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (tiny_model_dir / name).is_file():
            (tmp_path / "ner-checkpoint" / name).write_bytes((tiny_model_dir / name).read_bytes())
    ours = ["O", "B-person", "I-person"]
    config = RunConfig.from_dict({"task": "token-classification", "model_name_or_path": str(tmp_path / "ner-checkpoint")})
    model = load_with_new_head(AutoModelForTokenClassification, config, ours).eval()
    original = AutoModelForTokenClassification.from_pretrained(tmp_path / "ner-checkpoint").eval()
    inputs = {"input_ids": torch.tensor([[2, 10, 11, 3]]), "attention_mask": torch.ones(1, 4, dtype=torch.long)}
    with torch.no_grad():
        logits, expected = model(**inputs).logits, original(**inputs).logits
    assert model.config.id2label == dict(enumerate(ours))
    assert torch.allclose(logits, expected[..., [theirs.index(n) for n in ours]]), "each tag scored by its own trained row"
