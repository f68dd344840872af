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


def _task_data(task: str, folder, tiny_model_dir):
    """(training file, model, extra selection) of a small dataset of the task, pairs for classification."""
    from task_fixtures import CHATML, build_tiny_causal_lm, build_tiny_t5, make_instruction_records, make_ner_records, make_summary_records, write_jsonl

    if task == "text-classification":
        frame = pd.DataFrame({"premise": [f"premise {i} " + "word " * (i % 9) for i in range(90)], "hypothesis": [f"hypothesis {i % 13}" for i in range(90)], "label": ["yes", "no", "maybe"] * 30})
        frame.to_csv(folder / "pairs.csv", index=False)
        return folder / "pairs.csv", str(tiny_model_dir), {"text_column": "premise", "text_pair_column": "hypothesis", "label_column": "label"}
    if task == "token-classification":
        return write_jsonl(folder / "ner.jsonl", make_ner_records(90)), str(tiny_model_dir), {}
    if task == "seq2seq":
        records = make_summary_records(90)
        return write_jsonl(folder / "summaries.jsonl", records), str(build_tiny_t5(folder / "t5", [r["document"] for r in records])), {}
    records = [{**r, "instruction": r["instruction"] + " please" * (i % 7), "output": r["output"] + " it is" * (i % 11)} for i, r in enumerate(make_instruction_records(90))]  # many lengths
    model = build_tiny_causal_lm(folder / "llama", [r["instruction"] + " " + r["output"] for r in records], chat_template=CHATML)
    return write_jsonl(folder / "instructions.jsonl", records), str(model), {}


@pytest.mark.parametrize("task", ["text-classification", "token-classification", "seq2seq", "causal-lm"])
def test_a_new_seed_or_length_tokenizes_no_text_again_and_shows_the_lengths_measured_afresh(task, tmp_path, tiny_model_dir, monkeypatch):
    """The Data tab's token lengths were cached by data and seed: a new seed on the Train tab (the same texts in
    other splits) or a new max_seq_length tokenized every split again (seconds on SST-2 and GSM8K). Each text's
    counts are now kept per tokenizer, and the statistics from them are those a fresh measurement gives (a pair's
    two texts, a source prefix, a chat template's rendering, answers cut off by max_seq_length included)."""
    from finetuner.tasks import get_task

    train, model, columns = _task_data(task, tmp_path, tiny_model_dir)
    selection = services.make_selection(services.SOURCE_FILE, train_file=str(train), runs_dir=tmp_path / "runs", task=task, **columns)
    selection = services.split_selection(selection, services.split_options({"validation_split_ratio": 0.2, "test_split_ratio": 0.2}))
    services.token_stats(selection, model, 24, seed=1, runs_dir=tmp_path / "runs")  # what the Data tab measured first

    loaded = services.tokenizer(model, task)
    tokenized = []
    call = type(loaded).__call__

    def counted(self, text=None, *args, **kwargs):
        given = text if text is not None else kwargs.get("text_target")
        tokenized.extend(given if isinstance(given, list) else [given])
        return call(self, text, *args, **kwargs)

    monkeypatch.setattr(type(loaded), "__call__", counted)
    stats = {(seed, length): services.token_stats(selection, model, length, seed=seed, runs_dir=tmp_path / "runs") for seed, length in ((2, 24), (2, 12), (3, 24))}
    assert tokenized == [], "no text measured again"
    monkeypatch.undo()

    hooks = get_task(task)
    for (seed, length), shown in stats.items():
        config = services.task_config(selection, seed=seed, model=model, max_length=length)
        assert shown == hooks.length_statistics(services.sampled_splits(services.prepared(selection, seed=seed).splits), loaded, config)  # measured afresh
    assert stats[(2, 24)] != stats[(3, 24)], "another split"
    if task == "causal-lm":  # answers cut off, as training's labels say
        from finetuner.tasks.causal_lm import IGNORED, encode_examples

        split = services.prepared(selection, seed=2).splits["train"]
        encoded = encode_examples(loaded, split["prompt"][:], split["completion"][:], max_length=12, completion_only_loss=True)
        cut_off = sum(all(label == IGNORED for label in example["labels"]) for example in encoded)
        assert stats[(2, 12)]["train"]["answers_cut_off"] == cut_off > 0
    if task == "seq2seq":  # the source prefix is part of a document's length: another prefix is measured anew
        prefixed = hooks.length_statistics(services.prepared(selection, seed=2).splits, loaded, services.task_config(selection, seed=2, model=model, max_length=24, source_prefix="summarize: "), memo=services.length_memo(task, loaded, ("summarize: ",)))
        assert prefixed["train"]["mean"] > stats[(2, 24)]["train"]["mean"]


def test_a_memo_past_its_limit_starts_afresh_and_measures_right():
    from finetuner.config import RunConfig
    from finetuner.tasks.base import measured_statistics

    split = datasets.Dataset.from_dict({"text": ["a", "bb", "a", "ccc", "dddd"]})
    memo: dict = {}

    def measure(columns, tokenizer, config):
        return [len(text) for text in columns["text"]]

    def summarize(lengths, config):
        return lengths

    config = RunConfig.from_dict({"train_file": "x.csv"})
    assert measured_statistics({"train": split}, None, config, columns=("text",), measure=measure, summarize=summarize, memo=memo, limit=3) == {"train": [1, 2, 1, 3, 4]}
    assert len(memo) <= 3
    assert measured_statistics({"train": split.select([3, 4, 0])}, None, config, columns=("text",), measure=measure, summarize=summarize, memo=memo, limit=3) == {"train": [3, 4, 1]}
    assert len(memo) <= 3


def test_visitors_reading_with_their_own_tokens_share_an_uploaded_files_preparation_and_a_local_models_tokenizer(sentiment_csv, tiny_model_dir, tmp_path):
    """On a Space every signed-in visitor's reads carry their token (`hub_reads.reading_as`). A local file or model
    folder is read with no token, so one visitor's preparation, tokenizer and token lengths serve the next: keyed by
    each visitor's token, a fifth visitor evicted the first's tokenizer (the cache keeps 4) and with it the lengths
    measured, and each new sign-in prepared and tokenized the same upload again."""
    from finetuner.hub_reads import reading_as

    runs = tmp_path / "runs"
    selection = services.make_selection(services.SOURCE_FILE, train_file=str(sentiment_csv), runs_dir=runs, task="text-classification")
    with reading_as("hf_first_visitor_token_0123456789"):
        first = services.prepared(selection, seed=3), services.tokenizer(str(tiny_model_dir)), services.token_stats(selection, str(tiny_model_dir), 32, seed=3, runs_dir=runs)
    with reading_as("hf_second_visitor_token_0123456789"):
        second = services.prepared(selection, seed=3), services.tokenizer(str(tiny_model_dir)), services.token_stats(selection, str(tiny_model_dir), 32, seed=3, runs_dir=runs)
    assert all(a is b for a, b in zip(first, second))
    # What a visitor's token may read from the Hub stays keyed by whose token read it.
    from finetuner.hub_reads import reader

    keys = []
    for token in ("hf_first_visitor_token_0123456789", "hf_second_visitor_token_0123456789"):
        with reading_as(token):
            keys.append(reader("dana/secret-bert"))
    assert keys[0] and keys[1] and keys[0] != keys[1]


def test_a_model_that_does_not_load_is_not_asked_for_again_at_each_train_form_change(sentiment_csv, tiny_model_dir, tmp_path, monkeypatch):
    """The Data tab's glance at row 0's tokens tried a model that did not load (a mistyped Hub id: a Hub request each
    time) again at every change of the Train form, the learning rate's too. Its reason stays shown; a change of the
    model, the max length or the token it reads with, or a press of "Inspect tokens", tries again."""
    from finetuner.errors import ModelLoadError
    from finetuner.ui import dataset_tab
    from finetuner.ui.studio import build_studio

    runs = tmp_path / "runs"
    demo = build_studio(runs)
    again, press = (next(fn for fn in demo.fns.values() if fn.api_name == name).fn for name in ("inspect_again", "inspect_tokens"))
    selection = services.make_selection(services.SOURCE_FILE, train_file=str(sentiment_csv), runs_dir=runs, task="text-classification")
    typo, loads, real = "someone/bert-tny", [], services.inspect_row

    def inspect_row(selection, model, *args, **kwargs):
        loads.append(model)
        if model == typo:
            raise ModelLoadError(f"Could not load the tokenizer of '{typo}': no such model on the Hub.")
        return real(selection, model, *args, **kwargs)

    monkeypatch.setattr(services, "inspect_row", inspect_row)

    def change(model, max_length, form, inspected, token=""):
        """What the page asks after a change of the Train form (`form`) or the data (the inspector's inputs and the summary
        shown), and what the page then holds of what was inspected (an update skipped keeps it)."""
        outputs = again(model, max_length, "train", 0, "", selection, "", form, inspected, "", None, None, None, token)
        return [*outputs[:-1], inspected if outputs[-1] == gr_skip() else outputs[-1]]

    note, *_, inspected = change(typo, 64, {"learning_rate": 1e-4}, None)
    assert note.startswith(dataset_tab.NOT_INSPECTED) and "no such model on the Hub" in note and loads == [typo]
    for form in ({"learning_rate": 3e-4}, {"learning_rate": 3e-4, "num_train_epochs": 5}):
        *unchanged, inspected = change(typo, 64, form, inspected)
        assert all(update == gr_skip() for update in unchanged), "the reason shown stays; the model is not asked for again"
    assert loads == [typo]
    *_, inspected = change(typo, 64, {"learning_rate": 3e-4}, inspected, token="hf_other")
    assert loads == [typo] * 2, "another token may read it: tried again"
    *_, inspected = change(typo, 128, {"learning_rate": 3e-4}, inspected, token="hf_other")
    assert loads == [typo] * 3, "another max length: tried again"
    with pytest.raises(Exception, match="no such model on the Hub"):
        press(typo, 128, "train", 0, "", selection, "", {"learning_rate": 3e-4}, None, None, None, "hf_other")
    assert loads == [typo] * 4, "Inspect tokens pressed: tried again"
    shown, *_, inspected = change(str(tiny_model_dir), 128, {"learning_rate": 3e-4}, inspected, token="hf_other")
    assert loads[-1] == str(tiny_model_dir) and "max_length 128" in shown and dataset_tab.GLANCE in inspected


def gr_skip():
    import gradio as gr

    return gr.skip()
