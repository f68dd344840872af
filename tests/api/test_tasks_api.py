"""The Try-it endpoints of the three newer tasks, end to end through gradio_client as an API user works:
upload data for the task, start a run on a tiny model built here, follow it to completion, read its
evaluation, then use it: entities come back highlighted, the chat streams its answer, the summarizer
writes a summary. Bad input (no run, empty or too long text, a run of another task) gets a clear message.

The three runs are started together (they queue: one training at a time) and shared by the module."""

from __future__ import annotations


import json

import pandas as pd
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from finetuner.inference import MODEL_LOAD_LOCK
from finetuner.runs import RunStore
from finetuner.tasks import get_task
from support import build_tiny_model, copied_run, follow_to_end
from task_fixtures import CHATML, build_tiny_causal_lm, build_tiny_t5, make_instruction_records, make_ner_records, make_summary_records, write_jsonl

COMMON = {"learning_rate": 5e-3, "per_device_train_batch_size": 8, "logging_steps": 2, "warmup_steps": 0, "eval_strategy": "no"}
OPTIONS = {  # few steps; evaluation once, at the end (what /evaluation_report shows); NER's each epoch too, for its curves
    "token-classification": {**COMMON, "max_seq_length": 32, "num_train_epochs": 2, "eval_strategy": "epoch"},
    "causal-lm": {**COMMON, "max_seq_length": 64, "num_train_epochs": 2},
    "seq2seq": {**COMMON, "max_seq_length": 48, "num_train_epochs": 4},
}
# Shorter generation at evaluation, where the Train tab offers the task's own options.
TASK_OPTIONS = {
    "causal-lm": {"generation_max_new_tokens": 8, "generation_num_samples": 4},
    "seq2seq": {"generation_max_new_tokens": 10, "max_target_length": 12},
}
TRY_IT = {"/predict_entities", "/generate", "/summarize", "/predict", "/predict_file"}


def spans(highlighted) -> list[tuple[str, str | None]]:
    """(text, entity type or None) of a HighlightedText value as gradio_client returns it."""
    value = highlighted.get("value", highlighted) if isinstance(highlighted, dict) else highlighted
    return [(item["token"], item["class_or_confidence"]) for item in value]


def message_text(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


@pytest.fixture(scope="module")
def task_data(tmp_path_factory):
    """Per task: (model folder, training file), all made here."""
    from finetuner.tasks.causal_lm import GENERAL_TEXT

    folder = tmp_path_factory.mktemp("tasks-api")
    ner = make_ner_records(160)
    lm = make_instruction_records(96)
    docs = make_summary_records(100)
    return {
        "token-classification": (
            build_tiny_model(folder / "ner-model", [" ".join(r["tokens"]) for r in make_ner_records(200, seed=1)]),
            write_jsonl(folder / "ner.jsonl", ner),
        ),
        "causal-lm": (
            build_tiny_causal_lm(folder / "lm-model", [r["instruction"] + " " + r["output"] for r in lm] + GENERAL_TEXT.read_text().splitlines(), chat_template=CHATML),
            write_jsonl(folder / "instructions.jsonl", lm),
        ),
        "seq2seq": (build_tiny_t5(folder / "s2s-model", [r["document"] for r in docs]), write_jsonl(folder / "docs.jsonl", docs)),
    }


@pytest.fixture(scope="module")
def started(studio, task_data) -> dict[str, str]:
    """Each task's data loaded and its run started, each from its own API session: task -> run id."""
    run_ids = {}
    for task, (model_dir, data_file) in task_data.items():
        client = Client(studio[0], verbose=False)
        accepted = {p["parameter_name"] for p in client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/start_training"]["parameters"]}
        options = {**OPTIONS[task], **{k: v for k, v in TASK_OPTIONS.get(task, {}).items() if k in accepted}}
        summary, *_ = client.predict(task=task, source="Upload files", train_file=handle_file(str(data_file)), validation_file=None, test_file=None, api_name="/load_dataset")
        assert data_file.name in summary
        run_id, _, _ = client.predict(model_name_or_path=str(model_dir), task=task, **options, api_name="/start_training")
        run_ids[task] = run_id
    return run_ids


def completed(studio, started, task: str) -> str:
    """Follow the task's run through /follow_run until it ends; it must complete."""
    final = follow_to_end(Client(studio[0], verbose=False), started[task])
    assert final and final["state"] == "completed", final
    return started[task]


def saved_model(studio, run_id):
    """The run's saved model loaded afresh from disk (the studio's own predictors are cached in this process)."""
    run = RunStore(studio[1]).get(run_id)
    config = run.config()
    with MODEL_LOAD_LOCK:  # model loads in one process go one at a time
        return get_task(config.model.task).load_predictor(str(run.model_dir), max_length=config.model.max_seq_length)


@pytest.fixture(scope="module")
def ner_run(studio, started):
    return completed(studio, started, "token-classification")


@pytest.fixture(scope="module")
def lm_run(studio, started):
    return completed(studio, started, "causal-lm")


@pytest.fixture(scope="module")
def s2s_run(studio, started):
    return completed(studio, started, "seq2seq")


def test_try_it_endpoints_are_named(client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert TRY_IT <= set(endpoints)
    names = [p["parameter_name"] for p in endpoints["/generate"]["parameters"]]
    assert names == ["run_id", "message", "history", "temperature", "top_p", "max_new_tokens"]
    assert [p["parameter_name"] for p in endpoints["/summarize"]["parameters"]] == ["run_id", "document", "max_new_tokens", "num_beams"]


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda c, runs: c.predict("", "alice visited paris", api_name="/predict_entities"), "choose a completed run first"),
        (lambda c, runs: c.predict("", "hello", [], 0.0, 1.0, 8, api_name="/generate"), "choose a completed run first"),
        (lambda c, runs: c.predict("", "a document", 16, 1, api_name="/summarize"), "choose a completed run first"),
        (lambda c, runs: c.predict("", "a review", api_name="/predict"), "choose a completed run first"),
        (lambda c, runs: c.predict(runs["token-classification"], "   ", api_name="/predict_entities"), "type a sentence to tag"),
        (lambda c, runs: c.predict(runs["causal-lm"], "", [], 0.0, 1.0, 8, api_name="/generate"), "type a message"),
        (lambda c, runs: c.predict(runs["seq2seq"], "\n", 16, 1, api_name="/summarize"), "type a document to summarize"),
        (lambda c, runs: c.predict(runs["token-classification"], "alice " * 5000, api_name="/predict_entities"), "at most 20,000"),
        (lambda c, runs: c.predict(runs["seq2seq"], "x" * 20_001, 16, 1, api_name="/summarize"), "at most 20,000"),
        (lambda c, runs: c.predict(runs["token-classification"], "a document", 16, 1, api_name="/summarize"), "trained for named-entity recognition"),
        (lambda c, runs: c.predict(runs["seq2seq"], "hello", [], 0.0, 1.0, 8, api_name="/generate"), "use /summarize"),
        (lambda c, runs: c.predict(runs["causal-lm"], "alice visited paris", api_name="/predict_entities"), "use /generate"),
        (lambda c, runs: c.predict(runs["token-classification"], "a review", api_name="/predict"), "not text classification"),
        (lambda c, runs: c.predict("no-such-run", "alice", api_name="/predict_entities"), "no run 'no-such-run'"),
        (lambda c, runs: c.predict(runs["causal-lm"], "hello", [], 5.0, 1.0, 8, api_name="/generate"), "maximum"),
    ],
)
def test_bad_input_gets_a_clear_message(client, started, call, words):
    """Checked before the model is loaded, so these run while the runs train."""
    with pytest.raises(AppError) as raised:
        call(client, started)
    assert words in str(raised.value).lower()
    assert "Traceback" not in str(raised.value)


def test_three_models_load_side_by_side(studio, ner_run, lm_run, s2s_run):
    """Three visitors try three models at once, each loaded for the first time: each gets its answer (models
    load one at a time; side by side, transformers' loading breaks and tied-weight models stop loading)."""
    clients = [Client(studio[0], verbose=False) for _ in range(3)]
    jobs = [
        clients[0].submit(ner_run, "bob loves rome", api_name="/predict_entities"),
        clients[1].submit(lm_run, "what colour is the grass?", [], 0.0, 1.0, 6, api_name="/generate"),
        clients[2].submit(s2s_run, "the team won in the morning .", 8, 1, api_name="/summarize"),
    ]
    highlighted, _ = jobs[0].result(timeout=300)
    conversation, _ = jobs[1].result(timeout=300)
    summary = jobs[2].result(timeout=300)
    assert any(label for _, label in spans(highlighted))
    assert message_text(conversation[-1]).strip() and summary.strip()


def test_entities_come_back_highlighted(client, ner_run, tmp_path):
    headline, *_ = client.predict(ner_run, "test", api_name="/evaluation_report")
    assert "f1" in headline.lower()

    text = "alice visited paris today"
    highlighted, table = client.predict(ner_run, text, api_name="/predict_entities")
    found = spans(highlighted)
    assert "".join(token for token, _ in found) == text, "the highlighted spans cover the whole text, in order"
    assert ("alice", "person") in found and ("paris", "location") in found, found
    rows = pd.DataFrame(table["data"], columns=table["headers"])
    assert list(rows.columns) == ["entity", "type", "score", "start", "end"]
    assert {("alice", "person"), ("paris", "location")} <= set(zip(rows["entity"], rows["type"]))
    assert all(text[start:end] == entity for entity, start, end in zip(rows["entity"], rows["start"], rows["end"]))
    assert rows["score"].between(0, 1).all()

    two_words = spans(client.predict(ner_run, "carol smith left new york", api_name="/predict_entities")[0])
    assert ("carol smith", "person") in two_words and ("new york", "location") in two_words, two_words

    sentences = tmp_path / "sentences.csv"
    pd.DataFrame({"text": ["bob loves rome", "erin jones saw tokyo again"]}).to_csv(sentences, index=False)
    preview, csv_path = client.predict(ner_run, handle_file(str(sentences)), "", api_name="/predict_file")
    preview = preview.get("value", preview)
    assert preview["headers"][:2] == ["entities", "tags"], "the model's columns first"
    assert "bob [person]" in pd.read_csv(csv_path)["entities"][0]


def test_a_ner_run_is_followed_by_its_entity_f1(client, ner_run):
    job = client.submit(ner_run, api_name="/follow_run")
    snap, card, curves, *_ = next(iter(job))
    job.cancel()
    assert snap["task"] == "token-classification" and "eval f1 <b>" in card
    names = {trace.get("name") for trace in json.loads(curves["plot"])["data"]}
    assert {"f1", "precision"} <= names and "accuracy" not in names, names


def test_runs_of_another_task_compare_on_its_own_metric(client, studio, ner_run, s2s_run):
    listed = client.predict(api_name="/list_runs")[0]
    listed = listed.get("value", listed)
    runs = pd.DataFrame(listed["data"], columns=listed["headers"]).set_index("run")
    test_f1, test_rouge = (RunStore(studio[1]).get(r).status()["metrics"][key] for r, key in ((ner_run, "test_f1"), (s2s_run, "test_rougeL")))
    assert (runs.loc[ner_run, "metric"], runs.loc[ner_run, "test"]) == ("f1", round(test_f1, 3)), "the Runs list reads NER by its entity F1"
    assert (runs.loc[s2s_run, "metric"], runs.loc[s2s_run, "test"]) == ("rougeL", round(test_rouge, 3)), "summarization by the ROUGE-L its runs are compared by"
    copy = copied_run(RunStore(studio[1]).get(ner_run)).id  # the same predictions under another run
    paired, curves, _ = client.predict(ner_run, copy, api_name="/compare_runs")
    assert "test sentences, run B's entity F1 +0.000 against run A: found the same entities in every sentence" in paired, paired
    names = {trace.get("name") for trace in json.loads(curves["plot"])["data"]}
    assert f"A {ner_run} f1" in names, "NER's curves show its entity F1, not a classifier's macro F1"


def test_chat_streams_the_answer(client, studio, lm_run):
    headline, *_ = client.predict(lm_run, "test", api_name="/evaluation_report")
    assert "perplexity" in headline.lower()

    job = client.submit(lm_run, "what colour is the sky?", [], 0.0, 1.0, 12, api_name="/generate")
    job.result()
    updates = [conversation for conversation, _ in job.outputs()]
    answers = [message_text(c[-1]) for c in updates if c and c[-1]["role"] == "assistant"]
    assert len(answers) > 1 and len(set(answers)) > 1, f"the answer streams in pieces, not at once: {answers}"
    assert all(later.startswith(earlier) for earlier, later in zip(answers, answers[1:])), "each update extends the last"
    final = updates[-1]
    assert [m["role"] for m in final] == ["user", "assistant"]
    assert message_text(final[0]) == "what colour is the sky?"
    assert message_text(final[1]).strip(), "the final answer is not empty"
    greedy = saved_model(studio, lm_run).chat([{"role": "user", "content": "what colour is the sky?"}], max_new_tokens=12)
    assert message_text(final[1]) == greedy, "temperature 0 streams the saved model's own greedy answer"
    # The box is cleared once, as the message joins the conversation; later updates leave it alone (gradio_client
    # reads a skipped output as a bare update), so a next message typed while the answer streams stays. Set to ""
    # at every piece, it was wiped as the user typed.
    boxes = [box for _, box in job.outputs()]
    assert boxes[0] == "", "the first update clears the message box"
    assert boxes[1:] and all(box == {"__type__": "update"} for box in boxes[1:]), f"later updates leave the box as it is: {boxes}"

    # A second turn: the conversation returned is sent back with the new message.
    again = client.submit(lm_run, "what colour is the snow?", final, 0.7, 0.9, 12, api_name="/generate")
    conversation, _ = again.result()
    assert [m["role"] for m in conversation] == ["user", "assistant", "user", "assistant"]
    assert message_text(conversation[1]) == message_text(final[1]), "earlier turns are kept as they were"
    assert message_text(conversation[-1]).strip()


def test_summary_comes_back(client, studio, s2s_run):
    headline, *_ = client.predict(s2s_run, "test", api_name="/evaluation_report")
    assert "rouge" in headline.lower()
    documents = ["the dog slept in the morning near the river without warning .", "the cat won as expected after a long day ."]
    summary = client.predict(s2s_run, documents[0], 16, 1, api_name="/summarize")
    beams = client.predict(s2s_run, documents[1], 16, 3, api_name="/summarize")
    model = saved_model(studio, s2s_run)
    assert summary.strip() and summary == model.generate(documents[:1], max_new_tokens=16)[0], "the saved model's own greedy summary"
    assert beams.strip() and beams == model.generate(documents[1:], max_new_tokens=16, num_beams=3)[0], "the saved model's beam-search summary"


@pytest.mark.parametrize("problem", ["an encoder for summarization", "a model folder without its tokenizer"])
def test_start_refuses_what_the_model_cannot_train_before_a_run_exists(studio, task_data, tmp_path, problem):
    """The encoder failed the run once started (the training process loaded the model only then); the folder without
    tokenizer files trained a run to its end on a tokenizer transformers made from config.json alone, which read every
    word as unknown. Start now says what is wrong and starts none, and Estimate says it too."""
    import shutil

    if problem == "an encoder for summarization":
        task, model_dir = "seq2seq", task_data["token-classification"][0]
        said = "is not the kind of model the seq2seq task trains: it needs an encoder-decoder model"
    else:
        task, model_dir = "token-classification", shutil.copytree(task_data["token-classification"][0], tmp_path / "weights-only")
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            (model_dir / name).unlink(missing_ok=True)
        said = "has no tokenizer files (tokenizer.json, or the vocabulary)"
    client = Client(studio[0], verbose=False)
    client.predict(task=task, source="Upload files", train_file=handle_file(str(task_data[task][1])), validation_file=None, test_file=None, api_name="/load_dataset")
    runs = set(studio[1].iterdir()) if studio[1].exists() else set()
    for endpoint in ("/estimate_training", "/start_training"):
        with pytest.raises(AppError) as raised:
            client.predict(model_name_or_path=str(model_dir), task=task, **OPTIONS[task], api_name=endpoint)
        assert said in str(raised.value) and "Traceback" not in str(raised.value), (endpoint, str(raised.value))
    assert (set(studio[1].iterdir()) if studio[1].exists() else set()) == runs, "no failed run is left behind"
