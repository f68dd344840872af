"""The Data and Evaluate tabs for named-entity recognition, instruction tuning (causal LM) and summarization
(seq2seq), on tiny models trained here for a few steps: what each task's evaluation wrote is what the user
sees (per-entity F1 bars, generations beside their references, base vs fine-tuned perplexity), and the Data
tab takes each task's columns, detected or chosen, and inspects its examples as training reads them."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from support import build_tiny_model
from finetuner import plots
from finetuner.config import RunConfig
from finetuner.runs import COMPLETED, RunStore
from finetuner.tasks.causal_lm import GENERAL_TEXT
from finetuner.train import run_training
from finetuner.ui import render
from task_fixtures import build_tiny_causal_lm, build_tiny_t5, make_instruction_records, make_ner_records, make_summary_records, write_jsonl

# One short epoch each: the views are under test, not the learning.
FEW_STEPS = {"learning_rate": 5e-3, "per_device_train_batch_size": 16, "num_train_epochs": 1, "logging_steps": 1, "warmup_steps": 0}
RARE_NAME = "tokyorome"  # a word the tiny tokenizer never saw whole: several sub-tokens


def value(update):
    """A component's value from an API output that is either the value or an update carrying it."""
    return update.get("value", update) if isinstance(update, dict) and "__type__" in update else update


def figure(output) -> dict:
    """A gr.Plot output as the plotly figure dict the browser draws."""
    return json.loads(value(output)["plot"])


def rows(table) -> list[dict]:
    table = value(table)
    return [dict(zip(table["headers"], row)) for row in table["data"]]


# ---------------------------------------------------------------- tiny models, data and runs


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("task-data")
    ner = make_ner_records(60)
    ner[0] = {"tokens": [RARE_NAME, "visited", "paris"], "ner_tags": ["B-person", "O", "B-location"]}
    write_jsonl(folder / "ner.jsonl", ner)
    write_jsonl(folder / "lm.jsonl", make_instruction_records(48))
    write_jsonl(folder / "docs.jsonl", make_summary_records(48))
    # The same data under names no detector knows, to be chosen by hand.
    write_jsonl(folder / "ner_renamed.jsonl", [{"sentence_words": r["tokens"], "entity_tags": r["ner_tags"]} for r in ner])
    write_jsonl(folder / "lm_renamed.jsonl", [{"ask": r["instruction"], "background": "colours", "reply": r["output"]} for r in make_instruction_records(48)])
    write_jsonl(folder / "docs_renamed.jsonl", [{"body": r["document"], "tldr": r["summary"]} for r in make_summary_records(48)])
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("task-models")
    ner_texts = [" ".join(r["tokens"]) for r in make_ner_records(200, seed=1)]
    lm_texts = [r["instruction"] + " " + r["output"] for r in make_instruction_records(96)] + GENERAL_TEXT.read_text().splitlines()
    return {
        "token-classification": build_tiny_model(folder / "bert", ner_texts),
        "causal-lm": build_tiny_causal_lm(folder / "llama", lm_texts),
        "seq2seq": build_tiny_t5(folder / "t5", [r["document"] for r in make_summary_records(100)] + ["summarize :"]),
    }


@pytest.fixture(scope="module")
def runs(studio, models, data_dir):
    """A completed run of each task in the studio's runs folder."""
    _, runs_dir = studio
    options = {
        "token-classification": {"train_file": data_dir / "ner.jsonl", "max_seq_length": 32},
        "causal-lm": {"train_file": data_dir / "lm.jsonl", "max_seq_length": 64, "generation_max_new_tokens": 6, "generation_num_samples": 4},
        "seq2seq": {"train_file": data_dir / "docs.jsonl", "max_seq_length": 48, "max_target_length": 12, "generation_max_new_tokens": 8, "source_prefix": "summarize: "},
    }
    store, out = RunStore(runs_dir), {}
    for task, extra in options.items():
        config = RunConfig.from_dict({"task": task, "model_name_or_path": str(models[task]), **FEW_STEPS, **{k: str(v) if k == "train_file" else v for k, v in extra.items()}})
        run = store.create(config)
        assert run_training(run) == COMPLETED, run.status()
        out[task] = run
    return out


# ---------------------------------------------------------------- Evaluate: named entities


def test_ner_entity_f1_bars_are_the_reports_per_type_scores(runs):
    run = runs["token-classification"]
    report = json.loads((run.eval_dir / "report_test.json").read_text())
    per_type = {row["type"]: row for row in report["per_type"]}
    assert set(per_type) == {"person", "location"}
    fig = plots.per_entity_f1(report)
    assert len(fig.data) == 1 and list(fig.data[0].x) == list(per_type), "one bar per entity type"
    assert list(fig.data[0].y) == [per_type[t]["f1"] for t in per_type]
    assert [c[2] for c in fig.data[0].customdata] == [per_type[t]["support"] for t in per_type], "true entities in the hover"
    assert any(shape.y0 == report["metrics"]["f1"] for shape in fig.layout.shapes), "overall F1 as a line"
    table = render.per_type_table(report)
    assert list(table["entity type"]) == list(per_type) and list(table["true entities"]) == [per_type[t]["support"] for t in per_type]


def test_ner_evaluation_through_the_api(client, runs):
    run = runs["token-classification"]
    report = json.loads((run.eval_dir / "report_test.json").read_text())
    headline, metrics, per_class, epochs, confusion, f1, roc, pr, baselines, examples, predictions = client.predict(run.id, "test", api_name="/evaluation_report")
    assert re.search(r"\(\d+ sentences, \d+ entities\)", headline) and "f1 **" in headline
    shown = {row["metric"]: row for row in rows(metrics)}
    assert list(shown) == ["f1", "precision", "recall", "accuracy", "loss"]
    for name in ("f1", "precision", "recall", "accuracy"):
        assert shown[name]["model"] == pytest.approx(report["metrics"][name], abs=1e-4)
    assert "most frequent tag per word" in value(metrics)["headers"], "the dictionary baseline beside the model"
    assert "entity-level" in shown["f1"]["what it measures"]
    assert [row["entity type"] for row in rows(per_class)] == [t["type"] for t in report["per_type"]]
    bars = figure(f1)["data"]
    assert len(bars) == 1 and bars[0]["x"] == [t["type"] for t in report["per_type"]] and bars[0]["y"] == [t["f1"] for t in report["per_type"]]
    heatmap = figure(confusion)["data"][0]
    assert heatmap["x"] == report["label_names"] and heatmap["text"] == [[str(v) for v in row] for row in report["tag_confusion_matrix"]]
    assert "errors" in value(examples)["headers"] and "sentences" in examples["label"].lower()
    assert len(pd.read_csv(predictions)) == len(pd.read_csv(run.eval_dir / "predictions_test.csv"))


# ---------------------------------------------------------------- Evaluate: causal LM


def test_causal_lm_generations_and_before_after(client, runs):
    run = runs["causal-lm"]
    generations = pd.read_csv(run.eval_dir / "generations_validation.csv", keep_default_na=False)
    comparison = json.loads((run.eval_dir / "comparison.json").read_text())
    report = json.loads((run.eval_dir / "report_validation.json").read_text())

    table = render.generations_table(generations)
    assert list(table.columns[:3]) == ["prompt", "reference", "generated"]
    assert list(table["reference"]) == list(generations["reference"]) and list(table["generated"]) == list(generations["generated"])

    compared = render.comparison_table(comparison).set_index("measure")
    for where, key in (("validation", "validation"), ("general text", "general_text")):
        row = compared.loc[f"perplexity on {where}"]
        assert row["base model"] == pytest.approx(comparison[key]["base"]["perplexity"], rel=1e-4)
        assert row["fine-tuned"] == pytest.approx(comparison[key]["fine_tuned"]["perplexity"], rel=1e-4)
    fig = plots.perplexity_comparison(comparison)
    assert [trace.name for trace in fig.data] == ["base model", "fine-tuned"]
    assert list(fig.data[0].y) == [comparison["validation"]["base"]["perplexity"], comparison["general_text"]["base"]["perplexity"]]
    assert list(fig.data[1].y) == [comparison["validation"]["fine_tuned"]["perplexity"], comparison["general_text"]["fine_tuned"]["perplexity"]]
    assert f"{comparison['general_text']['perplexity_change']:+.1%}" in fig.layout.title.text

    headline, metrics, *_, examples, predictions = client.predict(run.id, "validation", api_name="/evaluation_report")
    assert "perplexity **" in headline and "general-text perplexity" in headline
    base = json.loads((run.eval_dir / "baselines.json").read_text())["base_model"]["validation"]
    assert f"base model ROUGE-L {base['rougeL']:.3f}, model ROUGE-L {base['model_rougeL_gain']:+.3f} " in headline, headline
    shown = {row["metric"]: row for row in rows(metrics)}
    assert {"loss", "perplexity", "rouge1", "rouge2", "rougeL", "bleu"} <= set(shown)
    assert shown["perplexity"]["model"] == pytest.approx(report["metrics"]["perplexity"], rel=1e-4)
    assert shown["perplexity"]["base model (before fine-tuning)"] == pytest.approx(comparison["validation"]["base"]["perplexity"], rel=1e-4)
    shown_rows = rows(examples)
    assert [r["reference"] for r in shown_rows] == list(generations["reference"])
    assert [r["generated"] for r in shown_rows] == list(generations["generated"])
    assert "Generations" in examples["label"]

    table, chart = client.predict(run.id, api_name="/evaluation_comparison")
    measures = {row["measure"]: row for row in rows(table)}
    assert measures["perplexity on general text"]["fine-tuned"] == pytest.approx(comparison["general_text"]["fine_tuned"]["perplexity"], rel=1e-4)
    assert [trace["name"] for trace in figure(chart)["data"]] == ["base model", "fine-tuned"]


# ---------------------------------------------------------------- Evaluate: seq2seq


def test_seq2seq_rouge_bleu_and_generations(client, runs):
    run = runs["seq2seq"]
    report = json.loads((run.eval_dir / "report_test.json").read_text())
    generations = pd.read_csv(run.eval_dir / "generations_test.csv", keep_default_na=False)
    headline, metrics, *_, baselines, examples, predictions = client.predict(run.id, "test", api_name="/evaluation_report")
    shown = {row["metric"]: row for row in rows(metrics)}
    assert list(shown)[:5] == ["rouge1", "rouge2", "rougeL", "rougeLsum", "bleu"]
    for name in ("rouge1", "rouge2", "rougeL", "bleu"):
        assert shown[name]["model"] == pytest.approx(report["metrics"][name], abs=1e-4)
    assert "Lead-1 (first sentence)" in value(metrics)["headers"]
    lead = json.loads((run.eval_dir / "baselines.json").read_text())["lead_1"]["test"]
    assert f"Lead-1 baseline ROUGE-L {lead['rougeL']:.3f}, model ROUGE-L {lead['model_rougeL_gain']:+.3f} " in headline, headline
    assert [trace["name"] for trace in figure(baselines)["data"] if trace.get("showlegend") is not False] == ["rouge1", "rouge2", "rougeL"]
    shown_rows = rows(examples)
    assert list(shown_rows[0])[:3] == ["document", "reference", "generated"]
    assert [r["reference"] for r in shown_rows] == list(generations["reference"])
    assert [r["generated"] for r in shown_rows] == list(generations["generated"])
    table, _ = client.predict(run.id, api_name="/evaluation_comparison")
    assert rows(table) == [], "no before/after table outside causal LM"


# ---------------------------------------------------------------- Data tab


def load(client, task, path, **columns):
    return client.predict(task=task, source="Upload files", train_file=handle_file(str(path)), validation_file=None, test_file=None, api_name="/load_dataset", **columns)


PICKERS = ["tokens_column", "tags_column", "prompt_column", "completion_column", "input_column", "document_column", "summary_column"]


def pickers(outputs) -> dict:
    """The task column pickers, the last outputs of /load_dataset: name -> chosen value (None: not shown)."""
    return {name: (update.get("value") if isinstance(update, dict) else update) for name, update in zip(PICKERS, outputs[-len(PICKERS):])}


@pytest.mark.parametrize(
    ("task", "file", "expected", "words"),
    [
        ("token-classification", "ner.jsonl", {"tokens_column": "tokens", "tags_column": "ner_tags"}, "5 tags"),
        ("causal-lm", "lm.jsonl", {"prompt_column": "instruction", "completion_column": "output", "input_column": "input"}, "input"),
        ("seq2seq", "docs.jsonl", {"document_column": "document", "summary_column": "summary"}, "Summary"),
    ],
)
def test_columns_are_detected_and_preselected(client, data_dir, task, file, expected, words):
    outputs = load(client, task, data_dir / file)
    summary, checks = outputs[0], outputs[1]
    assert words in summary
    assert "classes balanced" not in checks, "this task has no classes"
    if task == "seq2seq":  # its tiny data has no problem to report: the line says what was checked
        assert "- ✓ No problems found: no empty texts, no duplicates, no overlap between splits.\n" in checks, checks
    chosen = pickers(outputs)
    assert {k: chosen[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("task", "file", "columns"),
    [
        ("token-classification", "ner_renamed.jsonl", {"tokens_column": "sentence_words", "tags_column": "entity_tags"}),
        ("causal-lm", "lm_renamed.jsonl", {"prompt_column": "ask", "completion_column": "reply", "input_column": "background"}),
        ("seq2seq", "docs_renamed.jsonl", {"document_column": "body", "summary_column": "tldr"}),
    ],
)
def test_chosen_columns_are_used_and_missing_ones_named(client, data_dir, task, file, columns):
    with pytest.raises(AppError) as raised:
        load(client, task, data_dir / file)
    assert "column" in str(raised.value).lower(), "unknown names: the message asks for the columns"
    outputs = load(client, task, data_dir / file, **columns)
    summary, preview = outputs[0], value(outputs[5])
    for column in columns.values():
        assert column in summary and column in preview["headers"]
    assert {k: pickers(outputs)[k] for k in columns} == columns
    wrong = {**columns, next(iter(columns)): "nope"}
    with pytest.raises(AppError) as raised:
        load(client, task, data_dir / file, **wrong)
    assert "no column 'nope'" in str(raised.value) and list(columns.values())[1] in str(raised.value), "the message lists the columns there are"


def where_is(path, word) -> tuple[str, int]:
    """(split, row of the file) of the sentence that starts with `word` once the data is split as the studio splits it."""
    from finetuner.config import DataConfig
    from finetuner.data import prepare_token_data

    data = prepare_token_data(DataConfig(train_file=str(path)), seed=42)
    return next((role, data.rows[role][i]) for role, split in data.splits.items() for i, words in enumerate(split["tokens"]) if words[0] == word)


def test_ner_preview_and_inspector_show_words_tags_and_sub_tokens(client, data_dir, models):
    outputs = load(client, "token-classification", data_dir / "ner.jsonl")
    preview = value(outputs[5])
    assert preview["data"][0][1:3] == [f"{RARE_NAME} visited paris", "B-person O B-location"], "lists shown as words, not Python reprs"
    assert "Entities per type" in figure(outputs[6])["layout"]["title"]["text"]
    assert outputs[10]["visible"] is False and outputs[11]["visible"] is False, "no typed-text boxes: a typed text is text classification's only"
    split, index = where_is(data_dir / "ner.jsonl", RARE_NAME)
    summary, chips, details, _ = client.predict(model_name_or_path=str(models["token-classification"]), max_length=32, split=split, index=index, text="", api_name="/inspect_tokens")
    assert "3 words" in summary
    assert "ft-word-tags" in chips and "B-person" in chips and "B-location" in chips
    assert "ignored" in chips, f"'{RARE_NAME}' is cut into sub-tokens; only the first carries B-person"
    labels = [row[-1] for row in details["data"]]
    assert labels.count("B-person") == 1 and labels.count("B-location") == 1


def test_causal_lm_inspector_shows_the_template_and_the_loss(client, data_dir, models):
    load(client, "causal-lm", data_dir / "lm.jsonl")
    summary, chips, details, _ = client.predict(model_name_or_path=str(models["causal-lm"]), max_length=64, split="train", index=0, text="", api_name="/inspect_tokens")
    assert "token(s) in the loss" in summary and "plain" in summary
    assert "### Instruction:" in chips and "### Response:" in chips, "the rendered template"
    marked = re.findall(r'<mark class="ft-loss"[^>]*>(.*?)</mark>', chips, re.S)
    assert len(marked) == 1 and marked[0].startswith("the ") and marked[0].endswith("&lt;/s&gt;"), "the answer and its end-of-sequence token carry loss"
    assert "outline:2px solid #10b981" in chips, "the loss tokens are outlined among the chips"
    table = value(details)
    assert sum(row[table["headers"].index("loss_mask")] for row in table["data"]) == int(re.search(r"(\d+) token\(s\) in the loss", summary).group(1))
    # With the Train form's "Loss on the completion only" off, the prompt is in the loss too, as training will have it.
    whole, *_ = client.predict(model_name_or_path=str(models["causal-lm"]), max_length=64, split="train", index=0, text="", train_form={"completion_only_loss": False}, api_name="/inspect_tokens")
    assert "prompt and answer" in whole and "prompt and answer" not in summary
    in_loss = [int(re.search(r"(\d+) token\(s\) in the loss", s).group(1)) for s in (summary, whole)]
    assert in_loss[1] > in_loss[0], in_loss


def test_causal_lm_inspector_shows_where_packing_puts_the_example(client, data_dir, models):
    """With the Train form's packing on, the inspector showed each example alone, when training joins them end to end
    into max_length sequences: it now names the packed sequence(s) the example lands in, its neighbours by row, the
    number of packed sequences and their fill; evaluation examples are said to be read alone."""
    load(client, "causal-lm", data_dir / "lm.jsonl")
    ask = dict(model_name_or_path=str(models["causal-lm"]), max_length=32, text="", api_name="/inspect_tokens")
    alone, *_ = client.predict(split="train", index=0, **ask)
    assert "Packing" not in alone, "packing off: the example is trained alone"
    packed = {}
    for index in range(6):  # one row of train and one held out for validation
        summary, *_ = client.predict(split="train", index=index, train_form={"packing": True}, **ask)
        packed.setdefault("train" if "in the **train** split" in summary else "held out", (index, summary))
    index, summary = packed["train"]
    tokens = int(re.search(r"\*\*(\d+) tokens\*\*", summary).group(1))
    made = re.search(r"the ([\d,]+) training examples make \*\*([\d,]+) packed sequences\*\*, ([\d.]+)% of their ([\d,]+) token slots real tokens", summary)
    assert made, summary
    examples, sequences, fill, slots = int(made[1]), int(made[2]), float(made[3]), int(made[4].replace(",", ""))
    assert sequences < examples and slots == sequences * 32 and fill > 90, "short examples share sequences, nearly full"
    ours = re.findall(r"(\d+)–(\d+): \*\*this example\*\* \(its tokens (\d+)–(\d+)\)", summary)
    assert ours and int(ours[0][2]) == 0 and int(ours[-1][3]) == tokens - 1, "the whole example, in one sequence or cut across two"
    assert re.search(r"\d+–\d+: row \d+ \(its tokens \d+–\d+\)", summary), "its neighbours, by their row in the file"
    assert "attend to the examples before them" in summary
    _, held = packed["held out"]
    assert re.search(r"for training only: evaluation reads each example of (validation|test) alone", held), held


def test_the_packing_shown_follows_the_train_forms_extra_training_arguments(client, data_dir, models):
    """A run's extra TrainingArguments reach TRL's SFTConfig: `shuffle_dataset: true` shuffles the examples before
    packing, so an example lands beside other rows. The inspector's layout was made with the defaults whatever the
    form said, showing neighbours training never puts beside it; it follows the form's arguments that change packing."""
    load(client, "causal-lm", data_dir / "lm.jsonl")
    ask = dict(model_name_or_path=str(models["causal-lm"]), max_length=32, text="", api_name="/inspect_tokens")

    def neighbours(extra: str) -> tuple[str, list[str]]:
        for index in range(6):
            summary, *_ = client.predict(split="train", index=index, train_form={"packing": True, "extra_training_args": extra}, **ask)
            if "in the **train** split" in summary:
                return summary, re.findall(r"\d+–\d+: (row \d+|\*\*this example\*\*)", summary)
        raise AssertionError("no row of train among the first six")

    plain, in_order = neighbours("")
    shuffled, after_shuffle = neighbours("shuffle_dataset: true")
    assert in_order and after_shuffle and in_order != after_shuffle, (plain, shuffled)
    assert neighbours("fp16: false")[1] == in_order, "an argument that does not change packing changes nothing here"


def test_the_packing_shown_follows_the_packing_strategy_of_the_train_form(client, data_dir, models):
    """`packing_strategy: bfd` in the Train form's extra TrainingArguments makes TRL put whole examples into
    sequences, best fit first, each attending only to itself. The inspector followed only `shuffle_dataset` and showed
    "wrapped" packing, examples cut across sequences and attending to their neighbours, that training never does."""
    load(client, "causal-lm", data_dir / "lm.jsonl")
    form = {"packing": True, "extra_training_args": "packing_strategy: bfd"}
    glance, *_ = client.predict(str(models["causal-lm"]), 32, "train", 0, "", "", form, "", "", api_name="/inspect_again")  # as the data loads
    assert "in the **train** split" in glance and "**Packing** is on: press **Inspect tokens** to see the packed sequences this example lands in" in glance, glance
    ask = dict(model_name_or_path=str(models["causal-lm"]), max_length=32, text="", api_name="/inspect_tokens")
    for index in range(6):
        summary, *_ = client.predict(split="train", index=index, train_form=form, **ask)
        if "in the **train** split" in summary:
            break
    else:
        raise AssertionError("no row of train among the first six")
    assert "TRL's `bfd` packing at max_length 32" in summary, summary
    tokens = int(re.search(r"\*\*(\d+) tokens\*\*", summary).group(1))
    assert "This example lands in:" in summary and re.search(rf": \*\*this example\*\* \(its tokens 0–{tokens - 1}\)", summary), "whole, in one sequence"
    assert "Its tokens attend only to its own" in summary and "attend to the examples before them" not in summary


def test_seq2seq_inspector_shows_document_and_target(client, data_dir, models):
    load(client, "seq2seq", data_dir / "docs.jsonl")
    summary, chips, _, _ = client.predict(model_name_or_path=str(models["seq2seq"]), max_length=48, split="train", index=0, text="", api_name="/inspect_tokens")
    assert "ft-rendered" in chips and "Target" in chips and "ft-target" in chips


# ---------------------------------------------------------------- Data: the inspector follows the Train form's task options


def trained_on(task, path, model, place: int = 0, **options) -> tuple[int, dict]:
    """(row of the file, what the task's `tokenize` feeds training for it) for the training split's example at `place`,
    under a run's config with these Train-form options: the reference the inspector's view is compared with."""
    from finetuner.tasks import get_task

    config = RunConfig.from_dict({"task": task, "model_name_or_path": str(model), "train_file": str(path), **options})
    hooks = get_task(task)
    data = hooks.prepare_data(config)
    row = data.rows["train"][place]
    one = {"train": data.splits["train"].select([place])}
    encoded = hooks.tokenize(one, hooks.load_tokenizer(config), config, label_names=list(getattr(data, "label_names", []) or []) or None)["train"][0]
    return row, {**encoded, "label_names": list(getattr(data, "label_names", []) or [])}


def inspect_again(client, model, max_length: int, row: int, train_form: dict, shown: str):
    """What the page asks after a change on the Train form: the inspector's inputs with the form's values, and the summary shown."""
    return client.predict(str(model), max_length, "train", row, "", "", train_form, shown, "", api_name="/inspect_again")  # the last: the Hub tab's token field


def target_ids(chips: str) -> list[int]:
    """The ids of the seq2seq target's chips (the decoder's labels) as the inspector shows them."""
    target = chips.split('class="ft-tokens ft-target"', 1)[1].split("</div>", 1)[0]
    return [int(i) for i in re.findall(r'title="position \d+ · id (\d+)', target)]


def test_the_seq2seq_inspector_reads_the_source_prefix_and_summary_length_training_reads(client, data_dir, models):
    """The inspector showed the document without the Train form's source prefix ('summarize: ' for T5), which training
    puts before every document, and the summary cut at the default max_target_length, not the form's. It shows what
    `tokenize` feeds training under the form's options, and is made again when they change there."""
    path, model = data_dir / "docs.jsonl", models["seq2seq"]
    form = {"source_prefix": "summarize: ", "max_target_length": 4}
    row, trained = trained_on("seq2seq", path, model, max_seq_length=48, **form)
    load(client, "seq2seq", path)
    summary, chips, details, _ = client.predict(model_name_or_path=str(model), max_length=48, split="train", index=row, text="", train_form=form, api_name="/inspect_tokens")
    assert [r["id"] for r in rows(details)] == trained["input_ids"], "the encoder reads the prefixed document"
    assert rows(details)[0]["token"] == "summarize", rows(details)[:3]
    assert target_ids(chips) == trained["labels"] and len(trained["labels"]) == 4, "the decoder learns the summary cut at 4 tokens"
    assert "the target is cut at max_target_length 4" in summary, summary

    # Shown without the options, then set on the Train form: the page asks /inspect_again, which makes it again.
    shown, *_ = client.predict(model_name_or_path=str(model), max_length=48, split="train", index=row, text="", api_name="/inspect_tokens")
    assert "max_target_length" not in shown and "summarize" not in shown
    redone, chips, details, _ = inspect_again(client, model, 48, row, form, shown)
    assert redone == summary and [r["id"] for r in rows(details)] == trained["input_ids"] and target_ids(chips) == trained["labels"], redone
    assert inspect_again(client, model, 48, row, {**form, "source_prefix": "summarize: "}, redone)[0] == {"__type__": "update"}, "the same options: nothing made again"
    unprefixed = trained_on("seq2seq", path, model, max_seq_length=48, max_target_length=4)[1]  # the prefix emptied on the form
    assert [r["id"] for r in rows(inspect_again(client, model, 48, row, {"max_target_length": 4}, redone)[2])] == unprefixed["input_ids"] != trained["input_ids"]


def test_the_token_lengths_shown_count_the_prefix_and_languages_training_counts(data_dir, models):
    """The inspector's token-length histogram (and Estimate's token counts) measured documents without the Train form's
    source prefix, which training measures and reads before each: they are the lengths the task measures under the form's options."""
    from finetuner.tasks import get_task
    from finetuner.ui import services

    path, model = data_dir / "docs.jsonl", models["seq2seq"]
    selection = services.make_selection(services.SOURCE_FILE, train_file=str(path), task="seq2seq")
    config = RunConfig.from_dict({"task": "seq2seq", "model_name_or_path": str(model), "train_file": str(path), "max_seq_length": 48, "source_prefix": "summarize: "})
    hooks = get_task("seq2seq")
    measured = hooks.length_statistics(hooks.prepare_data(config).splits, hooks.load_tokenizer(config), config)
    shown = services.token_stats(selection, str(model), 48, **services.config_tokenization(config))
    plain = services.token_stats(selection, str(model), 48)
    assert shown["train"]["lengths"] == measured["train"]["lengths"] == [n + 2 for n in plain["train"]["lengths"]], "'summarize' and ':' before each document"


def test_the_ner_inspector_labels_sub_words_as_the_train_forms_option_says(client, models, tmp_path):
    """With the Train form's "Label every sub-word token" on, training labels a word's later sub-tokens (an entity's with
    its I- tag), but the inspector still showed them ignored. It shows the labels `tokenize` trains on, and is made
    again when the option changes there."""
    path, model = tmp_path / "ner.jsonl", models["token-classification"]
    write_jsonl(path, [{"tokens": [RARE_NAME, *r["tokens"][1:]], "ner_tags": ["B-person", *r["ner_tags"][1:]]} for r in make_ner_records(40)])  # a person of several sub-tokens first
    load(client, "token-classification", path)
    shown = {}
    for label_all in (False, True):
        row, trained = trained_on("token-classification", path, model, max_seq_length=32, label_all_tokens=label_all)
        expected = ["" if label == -100 else trained["label_names"][label] for label in trained["labels"]]
        summary, _, details, _ = client.predict(model_name_or_path=str(model), max_length=32, split="train", index=row, text="", train_form={"label_all_tokens": label_all}, api_name="/inspect_tokens")
        assert [r["id"] for r in rows(details)] == trained["input_ids"] and [r["label"] for r in rows(details)] == expected, (label_all, rows(details))
        shown[label_all] = (summary, expected)
    assert "I-person" in shown[True][1] and "I-person" not in shown[False][1], "the person's later sub-tokens learn I-person with the option on"
    # The page shows the inspection made with the option on; the option is turned off on the Train form.
    _, _, details, _ = inspect_again(client, model, 32, row, {"label_all_tokens": False}, shown[True][0])
    assert [r["label"] for r in rows(details)] == shown[False][1]


def test_the_plan_shows_the_warnings_that_need_no_download(client, data_dir, models, tmp_path):
    """Estimate warned of a T5 trained without its summarization prefix, a multilingual model without languages, or a
    length past a rotary model's positions, but the plan, seen before Estimate, said only that the steps were few.
    It says these too: they read the model's config files where they are, never the network."""
    import shutil

    from finetuner.estimate import prefix_warning, rotary_warning

    t5 = shutil.copytree(models["seq2seq"], tmp_path / "t5-with-prefix")
    config = json.loads((t5 / "config.json").read_text())
    (t5 / "config.json").write_text(json.dumps({**config, "task_specific_params": {"summarization": {"prefix": "summarize: "}}}))
    load(client, "seq2seq", data_dir / "docs.jsonl")
    options = {"task": "seq2seq", "model_name_or_path": str(t5), "max_seq_length": 48, "num_train_epochs": 1}
    plan = client.predict(**options, source_prefix="", api_name="/training_plan")
    warned = prefix_warning(RunConfig.from_dict({"task": "seq2seq", "model_name_or_path": str(t5)}))
    assert warned and f"⚠️ {warned}" in plan, plan
    assert "summarization prefix" not in client.predict(**options, source_prefix="summarize: ", api_name="/training_plan")

    load(client, "causal-lm", data_dir / "lm.jsonl")
    options = {"task": "causal-lm", "model_name_or_path": str(models["causal-lm"]), "num_train_epochs": 1}
    plan = client.predict(**options, max_seq_length=512, api_name="/training_plan")  # the tiny LLaMA learned 256 positions
    warned = rotary_warning(RunConfig.from_dict({"task": "causal-lm", "model_name_or_path": str(models["causal-lm"]), "max_seq_length": 512}))
    assert warned and f"⚠️ {warned}" in plan, plan
    assert "rotary" not in client.predict(**options, max_seq_length=128, api_name="/training_plan")
