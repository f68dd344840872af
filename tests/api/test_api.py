"""The studio's public API, end to end through gradio_client on a tiny model built by the tests:
load data, inspect tokens, start, follow to completion, evaluate, predict; stop, queue and resume;
bad input answered with a clear message."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from support import endless_data_loading, free_port, make_sentiment_frame

REQUIRED = {"/load_dataset", "/inspect_tokens", "/start_training", "/follow_run", "/stop_training", "/resume_training", "/list_runs", "/evaluate_run", "/predict"}
TINY_OPTIONS = {
    "max_seq_length": 32,
    "learning_rate": 3e-3,
    "per_device_train_batch_size": 8,
    "num_train_epochs": 4,  # 48 steps: enough for the tiny model to learn the sentiment words
    "logging_steps": 1,
    "warmup_steps": 0,
}


def load_file(client, path, **columns):
    return client.predict(
        task="text-classification",
        source="Upload files", train_file=handle_file(str(path)), validation_file=None, test_file=None, api_name="/load_dataset", **columns
    )


def start(client, model_dir, **options) -> str:
    run_id, _, _ = client.predict(model_name_or_path=str(model_dir), **{**TINY_OPTIONS, **options}, api_name="/start_training")
    return run_id


def follow(client, run_id, until=lambda snap: snap["done"], *, with_html: bool = False) -> list:
    """Snapshots streamed by /follow_run until `until` holds (or the run ends); with the progress HTML."""
    job = client.submit(run_id, api_name="/follow_run")
    seen = []
    for outputs in job:
        snap = outputs[0]
        if snap:
            seen.append((snap, outputs[1]) if with_html else snap)
            if until(snap) or snap["done"]:
                break
    job.cancel()
    return seen


def figure(plot: dict) -> dict:
    """The plotly figure of a gr.Plot output, as a client receives it."""
    return json.loads(plot["plot"])


def table(value: dict) -> pd.DataFrame:
    """A gr.Dataframe output (plain, or an update carrying its value) as a DataFrame."""
    value = value.get("value", value)
    return pd.DataFrame(value["data"], columns=value["headers"])


@pytest.fixture(scope="module")
def completed_run(studio, tiny_model_dir, reviews_csv) -> tuple[str, list]:
    """A run trained to completion through the API, and the snapshots /follow_run streamed for it."""
    from gradio_client import Client

    client = Client(studio[0], verbose=False)
    load_file(client, reviews_csv)
    run_id = start(client, tiny_model_dir)
    return run_id, follow(client, run_id)


def test_every_action_is_a_named_endpoint(client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert REQUIRED <= set(endpoints)
    names = [p["parameter_name"] for p in endpoints["/start_training"]["parameters"]]
    assert {"model_name_or_path", "learning_rate", "per_device_train_batch_size", "num_train_epochs", "early_stopping_patience"} <= set(names)
    assert "selection" not in names and "request" not in names, "session state and the request stay out of the API"


def test_app_starts_without_torch_and_loads_it_with_the_first_request(tmp_path):
    """`python app.py` serves the page before torch is loaded (it is up in seconds); the first request that
    needs a model library then imports it and works."""
    import subprocess

    from gradio_client import Client

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--runs-dir", str(tmp_path / "runs")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
    )
    try:
        for line in server.stdout:  # wait for the server to say it is listening
            if "Running on local URL" in line:
                break
        else:
            pytest.fail(f"app.py exited with {server.wait()} before serving")

        def torch_mapped() -> bool:
            return "libtorch" in Path(f"/proc/{server.pid}/maps").read_text()

        assert not torch_mapped(), "starting the app loaded torch"
        summary, *_ = Client(f"http://127.0.0.1:{port}", verbose=False).predict(
            train_file=None, validation_file=None, test_file=None, api_name="/load_dataset"
        )
        assert "movie reviews" in summary
        assert torch_mapped(), "the first request imports the model libraries"
    finally:
        server.terminate()
        server.wait()


def test_load_the_example_and_a_file(client, reviews_csv):
    summary, checks, text_column, pair_column, label_column, preview, label_plot, length_plot, *_ = client.predict(
        train_file=None, validation_file=None, test_file=None, api_name="/load_dataset"
    )
    assert "movie reviews" in summary and "2 classes" in summary
    assert "Data checks" in checks
    from finetuner.ui.services import EXAMPLE_DATASET

    bars = figure(label_plot)["data"]
    assert {bar["name"] for bar in bars} == {"train", "validation", "test"}
    shown = {label: sum(bar["y"][bar["x"].index(label)] for bar in bars) for label in bars[0]["x"]}
    assert shown == pd.read_csv(EXAMPLE_DATASET)["label"].value_counts().to_dict(), "the bars add up to the example's class counts"
    summary, checks, text_column, _, label_column, preview, *_ = load_file(client, reviews_csv)
    assert "120 rows" in summary and "reviews.csv" in summary
    assert text_column["value"] == "text" and label_column["value"] == "label"
    preview = preview.get("value", preview)  # a table update (value + column widths)
    assert preview["headers"] == ["#", "text", "label"] and len(preview["data"]) == 50
    assert [row[0] for row in preview["data"][:3]] == [0, 1, 2], "the file's rows, numbered as the inspector takes them"


def test_the_inspectors_row_is_the_previews_row(client, tiny_model_dir, reviews_csv):
    """Row k in the inspector is row k of the preview, wherever the split put it (here in a held-out split)."""
    from finetuner.ui.services import prepared

    *_, preview = load_file(client, reviews_csv)[:6]
    preview = preview.get("value", preview)
    held_out = set(prepared({"train_file": str(reviews_csv)}).rows["validation"])
    number, text, label = next(row for row in preview["data"] if row[0] in held_out)
    summary, _, details, _ = client.predict(model_name_or_path=str(tiny_model_dir), max_length=32, split="train", index=number, text="", api_name="/inspect_tokens")
    assert f"Row {number} of the training file · in the **validation** split" in summary and "held out at seed 42, the Train tab's: a run started now never trains on it" in summary
    assert f"label `{label}`" in summary
    _, _, typed, _ = client.predict(model_name_or_path=str(tiny_model_dir), max_length=32, split="train", index=0, text=text, api_name="/inspect_tokens")
    assert [row[1] for row in details["data"]] == [row[1] for row in typed["data"]], "the same text as the preview's row"
    with pytest.raises(AppError, match="Row 500 is out of range: the training file has rows 0 to 119"):
        client.predict(model_name_or_path=str(tiny_model_dir), max_length=32, split="train", index=500, text="", api_name="/inspect_tokens")


def test_the_data_tab_splits_at_the_train_tabs_seed(client, tiny_model_dir, reviews_csv):
    """The rows the Data tab and its inspector show held out are those a run with the Train form's seed holds
    out: with seed 7 (not the default 42) the summary says so, and a row only seed 7 holds out is marked held out."""
    from finetuner.config import RunConfig
    from finetuner.tasks import get_task

    def held_out(seed: int) -> set[int]:  # what training splits off: the task's own preparation under the run's config
        config = RunConfig.from_dict({"train_file": str(reviews_csv), "seed": seed, "validation_split_ratio": 0.2})
        return set(get_task("text-classification").prepare_data(config).rows["validation"])

    form = {"seed": 7, "validation_split_ratio": 0.2}
    summary, *_ = load_file(client, reviews_csv, train_form=form)
    assert "validation **24** (split from train)" in summary, summary
    assert "Validation (20% of the rows) and test (10% of the rows) held out of the training file at seed **7**" in summary, summary
    only_at_7 = min(held_out(7) - held_out(42))
    only_at_42 = min(held_out(42) - held_out(7))
    inspect = dict(model_name_or_path=str(tiny_model_dir), max_length=32, split="train", text="", api_name="/inspect_tokens")
    shown, *_ = client.predict(index=only_at_7, train_form=form, **inspect)
    assert f"Row {only_at_7} of the training file · in the **validation** split (held out at seed 7, the Train tab's: a run started now never trains on it)" in shown, shown
    shown, *_ = client.predict(index=only_at_42, train_form=form, **inspect)
    assert f"Row {only_at_42} of the training file · in the **train** split" in shown, shown


def test_the_inspection_shown_follows_the_train_tabs_model_and_max_length(client, tiny_model_dir, reviews_csv, tmp_path):
    """The page gives the inspector the Train tab's model and max length as they change there; the inspection
    on the page is then made again with them (the token lengths too), not left describing the old ones. A
    model that does not load leaves it marked out of date, with why; unchanged values leave it as it is."""
    load_file(client, reviews_csv)

    def again(model, max_length: int, shown: str) -> tuple:
        """What the page asks after a change: the inspector's inputs (the form's values left out), and the summary shown."""
        return client.predict(str(model), max_length, "train", 3, "", "", None, shown, "", api_name="/inspect_again")  # the last: the Hub tab's token field

    shown, *_ = client.predict(model_name_or_path=str(tiny_model_dir), max_length=32, split="train", index=3, text="", api_name="/inspect_tokens")
    assert "max_length 32 · fits without truncation" in shown and f"tokenizer of `{tiny_model_dir}`" in shown, shown

    redone, chips, _, plot = again(tiny_model_dir, 8, shown)
    assert "max_length 8 · ✂ **truncated**" in redone and "✂" in chips, redone
    assert "max_length 8" in json.dumps(figure(plot)["layout"]), "the token-length histogram marks the new max_length"
    unchanged, *_ = again(tiny_model_dir, 8, redone)
    assert unchanged == {"__type__": "update"}, "nothing changed: nothing made again (the page keeps what it shows)"

    missing = tmp_path / "no-such-model"
    stale, *_ = again(missing, 8, redone)
    assert stale.startswith(f"⚠ **Out of date**: the inspection below was made with model `{tiny_model_dir}` and max_length 8"), stale
    assert "no-such-model" in stale and stale.endswith(redone), "the reason, then the inspection still shown"
    assert again(missing, 8, stale)[0].count("Out of date") == 1, "one note, not one more per change"


def test_a_new_upload_shows_row_0_s_tokens_before_inspect_tokens_is_pressed(client, tiny_model_dir, reviews_csv, tmp_path, monkeypatch):
    """After a load the inspector stayed empty until "Inspect tokens" was pressed. What the page asks after each
    load (/inspect_again, nothing inspected yet) now shows row 0's tokens with the model in use; measuring every
    split's token lengths waits for the button (the chart says so), and the button still draws them."""
    from finetuner.ui import services

    load_file(client, reviews_csv)
    measured = []
    monkeypatch.setattr(services, "_token_stats", lambda *a: measured.append(a) or {})  # the studio runs in this process

    def after_load(model, max_length: int, shown: str = "") -> tuple:
        return client.predict(str(model), max_length, "train", 0, "", "", None, shown, "", api_name="/inspect_again")

    missing = tmp_path / "no-such-model"
    note, chips, *_ = after_load(missing, 32)
    assert note.startswith("No tokens shown: the example could not be inspected with the model and data in use:") and "no-such-model" in note, note
    assert chips.get("__type__") == "update", "no pop-up: the chips are left as they are"

    shown, chips, details, plot = after_load(tiny_model_dir, 32, note)
    assert shown.startswith("Row 0 of the training file · in the **train** split") and f"tokenizer of `{tiny_model_dir}`" in shown, shown
    assert "ft-tokens" in chips and len(table(details)) == int(re.search(r"\*\*(\d+) tokens\*\*", shown).group(1))
    assert "Press Inspect tokens to measure the token lengths of every split." in json.dumps(figure(plot)), "the chart waits for the button"
    assert not measured, "no split measured at each load"
    redone, *_ = after_load(tiny_model_dir, 8, shown)
    assert "max_length 8 · ✂ **truncated**" in redone, "a glance follows the Train tab's max_length too"

    monkeypatch.undo()
    full = client.predict(model_name_or_path=str(tiny_model_dir), max_length=32, split="train", index=0, text="", api_name="/inspect_tokens")
    assert "Press Inspect tokens" not in json.dumps(figure(full[3])) and figure(full[3])["data"], "the button measures them"


def test_the_inspection_made_again_with_an_uncached_hub_model_says_at_once_that_the_hub_is_unreachable(client, tiny_model_dir, reviews_csv, tmp_path, monkeypatch):
    """The Hub's address is a local port nothing listens on, as a network that is down refuses. A change of the Train
    tab's model to a Hub id not in the cache waited out huggingface_hub's retries for its config.json (about 24 s,
    no progress shown), then said only that the Hub is unreachable: one request now tells, and the note says why."""
    import huggingface_hub.constants as constants

    address = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # tests/conftest.py turns it on
    monkeypatch.setattr(constants, "ENDPOINT", address)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", address + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf_cache"))  # empty: nothing cached
    load_file(client, reviews_csv)
    shown, *_ = client.predict(model_name_or_path=str(tiny_model_dir), max_length=32, split="train", index=3, text="", api_name="/inspect_tokens")
    started = time.monotonic()
    stale, *_ = client.predict("someone/not-cached", 32, "train", 3, "", "", None, shown, "", api_name="/inspect_again")
    waited = time.monotonic() - started
    assert stale.startswith(f"⚠ **Out of date**: the inspection below was made with model `{tiny_model_dir}`"), stale
    assert (
        "Could not download the model 'someone/not-cached': the Hugging Face Hub cannot be reached from here (ConnectError), and the model is not in the local cache."
    ) in stale, stale
    assert waited < 12, f"{waited:.0f} s: huggingface_hub's retries were waited out"


TYPED_TEXT, PAIR_BOX = 10, 11  # /load_dataset's outputs: the inspector's typed-text boxes, after its split and row


def test_the_inspector_encodes_a_typed_sentence_pair(client, tiny_model_dir, reviews_csv, tmp_path):
    """Sentence-pair data offers a second box for typed text: the pair is encoded as training encodes it, the
    second text after [SEP] with token type 1. Data of one text column hides that box."""
    loaded = load_file(client, reviews_csv)
    assert loaded[TYPED_TEXT]["visible"] is True and loaded[PAIR_BOX]["visible"] is False, "one text column: no second box"
    path = tmp_path / "pairs.csv"
    pairs = pd.DataFrame({"premise": ["a man is eating", "the sun shines", "a dog runs"] * 8, "hypothesis": ["someone eats", "it rains", "an animal moves"] * 8, "label": ["yes", "no", "yes"] * 8})
    pairs.to_csv(path, index=False)
    pair_box = load_file(client, path, text_column="premise", text_pair_column="hypothesis", label_column="label")[PAIR_BOX]
    assert pair_box["visible"] is True
    summary, chips, details, _ = client.predict(
        model_name_or_path=str(tiny_model_dir), max_length=32, split="train", index=0, text="a man is eating", text_pair="someone eats", api_name="/inspect_tokens"
    )
    tokens = [row[1] for row in details["data"]]
    types = dict(zip(details["headers"], zip(*details["data"])))["token_type_ids"]
    assert tokens.count("[SEP]") == 2 and tokens[-1] == "[SEP]"
    second = tokens.index("[SEP]") + 1
    assert set(types[:second]) == {0} and set(types[second:]) == {1}, "the second text has token type 1"
    assert "second text (token_type_id 1)" in chips
    with pytest.raises(AppError, match="Type the pair's first text too"):
        client.predict(model_name_or_path=str(tiny_model_dir), max_length=32, split="train", index=0, text="", text_pair="someone eats", api_name="/inspect_tokens")


def test_the_inspector_reads_a_cached_hub_tokenizer_when_the_hub_is_unreachable(client, tiny_model_dir, tmp_path, monkeypatch):
    """A Hub id whose model is in the local cache, the Hub unreachable (HF_HUB_OFFLINE unset): the inspector
    reads its tokenizer from the cache after one request, where asking the Hub for each of its files (with
    huggingface_hub's retries) took half a minute and failed on the tokenizer's chat-template listing."""
    import huggingface_hub.constants as constants

    from support import cache_hub_model, hub_dropping_connections

    cache_hub_model(tmp_path / "hub", tiny_model_dir)
    with hub_dropping_connections() as (address, made):
        for name, value in {"ENDPOINT": address, "HUGGINGFACE_CO_URL_TEMPLATE": address + "/{repo_id}/resolve/{revision}/{filename}", "HF_HUB_OFFLINE": False, "HF_HUB_CACHE": str(tmp_path / "hub")}.items():
            monkeypatch.setattr(constants, name, value)  # the studio runs in this process: its huggingface_hub sees them
        summary, chips, *_ = client.predict(model_name_or_path="someone/tiny", max_length=32, split="train", index=0, text="the film was great", api_name="/inspect_tokens")
    assert "fits without truncation" in summary and "[SEP]" in chips
    assert len(made) <= 4, f"{len(made)} connections to the Hub: one request for the tokenizer and one for the model's positions (each reopened once), no retries"


def test_inspect_tokens_shows_chips_escaped(client, tiny_model_dir, tmp_path):
    path = tmp_path / "html.csv"
    texts = [f"<b>bold</b> & <script>alert({i})</script> great film" for i in range(6)] + [f"<i>dull</i> plot <script>x({i})</script> boring" for i in range(6)]
    frame = pd.DataFrame({"text": texts, "label": ["positive"] * 6 + ["negative"] * 6})
    frame.to_csv(path, index=False)
    load_file(client, path)
    summary, chips, details, plot = client.predict(model_name_or_path=str(tiny_model_dir), max_length=8, split="train", index=0, text="", api_name="/inspect_tokens")
    assert "truncated" in summary
    assert "[CLS]" in chips and "[SEP]" in chips and "✂" in chips
    assert "<script>" not in chips and "&lt;" in chips, "dataset text is escaped, never live HTML"
    assert [row[1] for row in details["data"]][:1] == ["[CLS]"]
    summary, chips, *_ = client.predict(model_name_or_path=str(tiny_model_dir), max_length=32, split="train", index=0, text="the film was great", api_name="/inspect_tokens")
    assert "fits without truncation" in summary
    with pytest.raises(AppError, match="max_seq_length 200 is longer than .* it has positions for 128 tokens"):  # the tiny model's table
        client.predict(model_name_or_path=str(tiny_model_dir), max_length=200, split="train", index=0, text="the film was great", api_name="/inspect_tokens")


def test_train_follow_evaluate_predict(client, completed_run, tiny_model_dir, reviews_csv, tmp_path):
    load_file(client, reviews_csv)
    plan = client.predict(model_name_or_path=str(tiny_model_dir), **TINY_OPTIONS, api_name="/training_plan")
    assert plan.startswith("**Plan:** 96 training examples: 12 optimizer steps an epoch at an effective batch of 8, 48 in 4 epochs."), plan
    assert "Only 48 optimizer steps" in plan, "the advice shows before Estimate or Start"
    enough = client.predict(model_name_or_path=str(tiny_model_dir), **{**TINY_OPTIONS, "per_device_train_batch_size": 4, "gradient_accumulation_steps": 2, "num_train_epochs": 13}, api_name="/training_plan")
    assert "12 optimizer steps an epoch at an effective batch of 8, 156 in 13 epochs." in enough and "Only" not in enough
    assert client.predict(model_name_or_path=str(tiny_model_dir), **{**TINY_OPTIONS, "per_device_train_batch_size": 0}, api_name="/training_plan") == "", "a bad option: no plan (Start says why)"
    estimate = client.predict(model_name_or_path=str(tiny_model_dir), **TINY_OPTIONS, api_name="/estimate_training")
    assert "Steps" in estimate and "48" in estimate  # 96 training rows / batch 8 x 4 epochs
    run_id, snaps = completed_run
    final = snaps[-1]
    assert final["state"] == "completed", final
    assert final["fraction"] == 1.0 and final["train"] and len(final["eval"]) == 4
    assert any("evaluation at step" in line for line in final["log"])
    assert len(snaps) >= 2, "progress is streamed, not only the end"

    headline, metrics, per_class, epochs, confusion, f1, roc, pr, baselines, wrong, predictions = client.predict(run_id, "test", api_name="/evaluation_report")
    shown = re.search(r"accuracy \*\*([01]\.\d+)\*\*", headline)
    assert shown, f"the headline shows the accuracy: {headline}"
    assert float(shown.group(1)) >= 0.75, f"the sentiment word decides the label: the studio's run learns it ({headline})"
    assert "majority class" in metrics["headers"]
    accuracy_row = dict(zip(metrics["headers"], next(row for row in metrics["data"] if row[0] == "accuracy")))
    low, high = map(float, accuracy_row["95% interval"].split(" – "))
    assert low <= accuracy_row["model"] <= high and high - low > 0.2, "the score with its interval: 12 examples make it wide"
    assert {"label", "precision", "recall", "f1", "support"} <= set(per_class["headers"])
    assert len(epochs["data"]) == 4
    assert pd.read_csv(predictions).shape[0] == 12
    (heatmap,) = figure(confusion)["data"]
    assert heatmap["type"] == "heatmap" and list(heatmap["x"]) == list(heatmap["y"]) == ["negative", "positive"]
    assert [bar["x"] for bar in figure(f1)["data"]] == [["negative", "positive"]]
    assert "AUC" in figure(roc)["layout"]["title"]["text"] and "AP" in figure(pr)["layout"]["title"]["text"]
    accuracy_bars = [trace for trace in figure(baselines)["data"] if trace["name"] == "accuracy"]
    assert {"fine-tuned model", "majority class", "TF-IDF + logistic regression"} == {x for trace in accuracy_bars for x in trace["x"]}
    assert accuracy_bars[0]["error_y"]["arrayminus"][0] > 0.1, "the model's accuracy on 12 examples, with its interval"

    # Another file whose labels are the opposite of what the sentiment word says: the model gets them wrong.
    other = tmp_path / "other.csv"
    flipped = make_sentiment_frame(rows=10, seed=1)
    flipped["label"] = flipped["label"].map({"positive": "negative", "negative": "positive"})
    flipped.to_csv(other, index=False)
    splits, headline, *_, wrong, _ = client.predict(run_id, handle_file(str(other)), "", "", "test", api_name="/evaluate_run")
    assert splits["value"] == "extra:other" and "10 examples" in headline
    wrong = table(wrong)
    assert len(wrong) >= 8 and (wrong["label"] != wrong["predicted"]).all()
    assert wrong["confidence"].is_monotonic_decreasing, "misclassified examples, most confident first"
    assert f"{len(wrong)} misclassified shown" in headline

    probabilities, record = client.predict(run_id, "the film was wonderful and fun", api_name="/predict")
    assert {c["label"] for c in probabilities["confidences"]} == {"negative", "positive"}
    assert record["label"] in ("negative", "positive") and sum(record["probabilities"].values()) == pytest.approx(1.0)
    preview, csv_path = client.predict(run_id, handle_file(str(other)), "", api_name="/predict_file")
    assert list(table(preview).columns[:4]) == ["predicted", "confidence", "prob_negative", "prob_positive"], "two classes: a probability column each, after the prediction"
    assert len(pd.read_csv(csv_path)) == 10

    command = client.predict(model_name_or_path=str(tiny_model_dir), **TINY_OPTIONS, api_name="/cli_command")
    assert command.startswith("python -m finetuner") and "--learning_rate 0.003" in command and "--train_file" in command


def test_evaluating_on_a_file_without_the_runs_columns_says_to_rename_them(client, completed_run, tmp_path):
    """Evaluate has no column options: the message names the run's columns to rename the file's to."""
    other = tmp_path / "reviews_only.csv"
    pd.DataFrame({"review": ["a fine film", "a dull plot"]}).to_csv(other, index=False)
    with pytest.raises(AppError) as raised:
        client.predict(completed_run[0], handle_file(str(other)), "", "", "test", api_name="/evaluate_run")
    message = str(raised.value)
    assert "The file 'reviews_only.csv' lacks the columns this run was trained on; its columns are: review." in message
    assert "Rename its columns to the run's: text, label" in message and "column_name" not in message

def test_list_and_compare_two_runs(client, completed_run, tiny_model_dir, reviews_csv):
    first = completed_run[0]
    load_file(client, reviews_csv)
    second, _, note = client.predict(model_name_or_path=str(tiny_model_dir), **{**TINY_OPTIONS, "learning_rate": 1e-3}, api_name="/start_training")
    assert note.startswith(f"Started run **{second}**") and "optimizer steps" not in note, "the plan above Start already gives the advice"
    final = follow(client, second)[-1]
    assert final["state"] == "completed"
    assert any("Only 48 optimizer steps (12 an epoch)" in line and "Train 13 epochs (156 steps)" in line for line in final["log"]), "96 training rows at 8 a step, 4 epochs: the run's log keeps the advice"

    runs, *_ = client.predict(api_name="/list_runs")
    runs = table(runs).set_index("run")
    assert runs.loc[[first, second], "state"].tolist() == ["completed", "completed"]
    assert runs.loc[[first, second], "metric"].tolist() == ["accuracy", "accuracy"] and runs.loc[[first, second], "test"].between(0, 1).all(), "each run shows its test accuracy"

    paired, curves, diff = client.predict(first, second, api_name="/compare_runs")
    a, b = runs.loc[[first, second], "test"]
    assert paired.startswith("On the same 12 test examples, run B's accuracy ") and f"(A {a:.3f}, B {b:.3f}; a paired bootstrap)" in paired, paired
    traces = figure(curves)["data"]
    for letter, run_id in (("A", first), ("B", second)):
        assert {t["name"] for t in traces if t["legendgroup"] == f"{letter} {run_id}"} == {f"{letter} {run_id} {curve}" for curve in ("train", "eval", "f1_macro")}
    assert len({t["legendgroup"] for t in traces}) == 2, "one set of curves per run"
    assert table(diff).values.tolist() == [["learning_rate", "0.003", "0.001"]]


def test_stop_queue_and_resume(client, studio, completed_run, tiny_model_dir, reviews_csv):
    from finetuner.runs import RunStore

    load_file(client, reviews_csv)
    first = start(client, tiny_model_dir, num_train_epochs=500, eval_strategy="no", logging_steps=5)
    follow(client, first, until=lambda snap: snap["state"] == "running" and snap["step"] >= 5)
    began = time.monotonic()
    client.predict(api_name="/list_runs")
    client.predict(model_name_or_path=str(tiny_model_dir), max_length=32, split="train", index=1, text="", api_name="/inspect_tokens")
    client.predict(completed_run[0], "the film was wonderful and fun", api_name="/predict")
    assert time.monotonic() - began < 20, "browsing and inference stay responsive while a run trains in its own process"
    second = start(client, tiny_model_dir, num_train_epochs=1)
    snap, html = follow(client, second, until=lambda snap: "waiting for another training" in (snap.get("message") or "").lower(), with_html=True)[-1]
    assert snap["state"] == "queued", "one training at a time: the second launch waits"
    assert f"waiting for run {first} to finish" in html
    assert "stopped before it started" in client.predict(second, api_name="/stop_training")

    assert "saves a checkpoint" in client.predict(first, api_name="/stop_training")
    stopped = follow(client, first)[-1]
    assert stopped["state"] == "stopped", stopped
    stopped_at = stopped["step"]
    assert 0 < stopped_at < stopped["total_steps"]

    resumed_id, message = client.predict(first, api_name="/resume_training")
    assert resumed_id == first and "Resumed" in message
    follow(client, first, until=lambda snap: snap["state"] == "running" and snap["step"] > stopped_at)
    events = RunStore(studio[1]).get(first).events()
    resumed_at = max(i for i, e in enumerate(events) if e["type"] == "status" and e.get("resume"))
    begin = next(e for e in events[resumed_at:] if e["type"] == "train_begin")
    assert begin["step"] == stopped_at, "resume continues from the checkpoint, not from step 0"
    client.predict(first, api_name="/stop_training")
    assert follow(client, first)[-1]["state"] == "stopped"


def test_a_stop_while_the_run_loads_its_data_says_there_is_no_checkpoint_yet(client, studio, tiny_model_dir, reviews_csv, tmp_path, monkeypatch):
    """A stop before training began ends the run at once: the notice said it saves a checkpoint first."""
    from finetuner.runs import RunStore

    load_file(client, reviews_csv)
    endless_data_loading(tmp_path, monkeypatch)  # the run's process never finishes reading its data
    run_id = start(client, tiny_model_dir, num_train_epochs=1)
    try:
        follow(client, run_id, until=lambda snap: snap["phase"] == "preparing")
        notice = client.predict(run_id, api_name="/stop_training")
        assert "no checkpoint yet" in notice and "saves a checkpoint" not in notice, notice
        assert follow(client, run_id)[-1]["state"] == "stopped"
    finally:
        run = RunStore(studio[1]).get(run_id)
        if run.is_alive():  # this test failed: its process would wait for its data forever
            os.kill(run.raw_status()["pid"], signal.SIGKILL)


def test_progress_moves_between_logs_and_the_stop_notice_goes_once_stopped(client, tiny_model_dir, reviews_csv):
    """No loss is logged after the first step (logging_steps past the end) and nothing evaluated, yet the card's step, bar and clock
    move as training moves; the 'Stop requested' notice is replaced once the run has stopped."""
    load_file(client, reviews_csv)
    run_id = start(client, tiny_model_dir, num_train_epochs=500, eval_strategy="no", logging_steps=100_000)
    job = client.submit(run_id, api_name="/follow_run")
    moving, stopping, final = [], None, None
    for snap, html, *_, notice in job:
        if not snap:
            continue
        if snap["state"] == "running" and snap["step"] > 0 and stopping is None:
            moving.append((snap, html))
            if len({s["step"] for s, _ in moving}) >= 3:
                stopping = client.predict(run_id, api_name="/stop_training")
        if snap["done"]:
            final = (snap, notice)
            break
    job.cancel()
    assert "saves a checkpoint" in stopping
    steps = [s["step"] for s, _ in moving]
    assert steps == sorted(steps) and len(set(steps)) >= 3, steps
    for snap, html in moving:
        assert [p["step"] for p in snap["train"]] in ([], [1]), "only the first step logged: the progress comes from the step written at each step end"
        assert f"step {snap['step']}/{snap['total_steps']}" in html and f"<b>{snap['fraction']:.0%}</b>" in html and "elapsed" in html
    clocks = [s["elapsed_seconds"] for s, _ in moving]
    assert clocks == sorted(clocks) and clocks[-1] > clocks[0], "the elapsed time runs"
    snap, notice = final
    assert snap["state"] == "stopped" and notice == "", "the notice of the stop in progress goes once the run has stopped"


def test_stop_is_answered_while_another_session_prepares_a_start(studio, reviews_csv, tiny_model_dir, monkeypatch):
    """A start prepares its data before launching (a Hub dataset may download): a stop from another
    session meanwhile is answered at once, not queued behind it."""
    from gradio_client import Client

    from finetuner.config import RunConfig
    from finetuner.runs import RunStore
    from finetuner.ui import services

    starter, stopper = Client(studio[0], verbose=False), Client(studio[0], verbose=False)
    load_file(starter, reviews_csv)
    config = RunConfig.from_dict({"model_name_or_path": str(tiny_model_dir), "train_file": str(reviews_csv), **TINY_OPTIONS})
    training = RunStore(studio[1]).create(config)
    training.update_status(state="running")
    alive = training.hold_alive_lock()  # this test stands in for its training process

    preparing, release, real_prepared = threading.Event(), threading.Event(), services.prepared

    def slow_prepared(*args, **kwargs):
        preparing.set()
        release.wait(timeout=300)  # until the stop has been answered
        return real_prepared(*args, **kwargs)

    monkeypatch.setattr(services, "prepared", slow_prepared)
    starting = starter.submit(model_name_or_path=str(tiny_model_dir), **TINY_OPTIONS, api_name="/start_training")
    try:
        assert preparing.wait(timeout=120), "the start reached its data preparation"
        answer = stopper.submit(training.id, api_name="/stop_training").result(timeout=60)
        assert f"Stop requested for run **{training.id}**" in answer and training.cancel_path.is_file()
        assert not starting.done(), "the start was still preparing when the stop was answered"
    finally:
        release.set()
        os.close(alive)
    started, *_ = starting.result(timeout=120)
    assert follow(starter, started)[-1]["state"] == "completed"


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda c, csv, model: load_file(c, csv, label_column="sentiment"), "no column 'sentiment'"),
        (lambda c, csv, model: c.predict(source="Hugging Face Hub", train_file=None, validation_file=None, test_file=None, hub_dataset="", api_name="/load_dataset"), "Enter a Hugging Face dataset id"),
        (lambda c, csv, model: c.predict(source="Upload files", train_file=None, validation_file=None, test_file=None, api_name="/load_dataset"), "Upload a training file first"),
        (lambda c, csv, model: start(c, model, learning_rate=5), "learning_rate 5"),
        (lambda c, csv, model: start(c, model, per_device_train_batch_size=0), "per_device_train_batch_size must be greater than 0"),
        (lambda c, csv, model: start(c, "/no/such/model"), "does not exist"),
        (lambda c, csv, model: c.predict("no-such-run", "hello", api_name="/predict"), "No run 'no-such-run'"),
        (lambda c, csv, model: c.predict("", api_name="/resume_training"), "Choose a run"),
    ],
)
def test_bad_input_gets_a_clear_message(client, reviews_csv, tiny_model_dir, call, words):
    with pytest.raises(AppError) as raised:
        call(client, reviews_csv, tiny_model_dir)
    assert words.lower() in str(raised.value).lower()
    assert "Traceback" not in str(raised.value)


def test_malformed_upload_gets_a_clear_message(client, tmp_path):
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b'text,label\n"unclosed quote,positive\nfine,negative\n\xff\xfe')
    with pytest.raises(AppError) as raised:
        load_file(client, broken)
    assert "UTF-8" in str(raised.value) or "well-formed" in str(raised.value)
    summary, *_ = client.predict(train_file=None, validation_file=None, test_file=None, api_name="/load_dataset")
    assert "movie reviews" in summary, "after an error the session still works"


def test_a_failed_load_says_which_data_stays_in_use(client, reviews_csv, tmp_path):
    """A file that cannot be read is refused with its reason and the name of the data still loaded (the
    Train tab trains on it); the message stays on the page until closed."""
    load_file(client, reviews_csv)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(AppError) as raised:
        load_file(client, empty)
    assert "The data loaded before stays in use: reviews.csv." in str(raised.value)
    assert raised.value.duration is None, "the reason stays until the user closes it"
    summary, *_ = client.predict(task="text-classification", source="Upload files", train_file=None, validation_file=None, test_file=None, api_name="/load_dataset")
    assert "reviews.csv" in summary, "the data loaded before is still the session's"


def test_data_of_another_task_is_refused_in_words(client, tiny_model_dir):
    """The example (text classification) with Summarization chosen: Estimate says what does not fit and what
    to do, not which config option lacks a column."""
    client.predict(task="text-classification", source="Example dataset", train_file=None, validation_file=None, test_file=None, api_name="/load_dataset")
    with pytest.raises(AppError) as raised:
        client.predict(model_name_or_path=str(tiny_model_dir), task="seq2seq", api_name="/estimate_training")
    message = str(raised.value)
    assert "does not fit summarization: its columns (text, label) hold no document/summary pair" in message, message
    assert "or choose Text classification again" in message and "document_column_name" not in message


def test_loading_again_without_a_new_upload_reads_the_files_loaded_before(client, reviews_csv):
    """After a reload the upload boxes are empty while the page still has the uploaded data: loading again
    (say, with another column chosen) reads the files loaded before, not nothing."""
    load_file(client, reviews_csv)
    summary, _, text_column, _, label_column, *_ = client.predict(
        task="text-classification", source="Upload files", train_file=None, validation_file=None, test_file=None,
        text_column="text", label_column="label", api_name="/load_dataset",
    )
    assert "reviews.csv" in summary and "120 rows" in summary
    assert text_column["value"] == "text" and label_column["value"] == "label"


def test_sessions_do_not_share_data(studio, reviews_csv, tiny_model_dir):
    from gradio_client import Client

    first, second = Client(studio[0], verbose=False), Client(studio[0], verbose=False)
    load_file(first, reviews_csv)
    command_first = first.predict(model_name_or_path=str(tiny_model_dir), api_name="/cli_command")
    command_second = second.predict(model_name_or_path=str(tiny_model_dir), api_name="/cli_command")
    assert "reviews.csv" in command_first
    assert "movie_reviews.csv" in command_second, "the other session still has the example dataset"


def test_uploads_are_kept_for_reproducibility(client, studio, reviews_csv):
    load_file(client, reviews_csv)
    command = client.predict(model_name_or_path="some/model", api_name="/cli_command")
    uploads = studio[1] / "uploads"
    kept = list(uploads.glob("*/reviews.csv"))
    assert len(kept) == 1 and str(kept[0]) in command


def test_out_of_memory_failure_offers_a_retry(client, studio, tiny_model_dir, reviews_csv):
    from finetuner.config import RunConfig
    from finetuner.runs import RunStore

    config = RunConfig.from_dict({"model_name_or_path": str(tiny_model_dir), "train_file": str(reviews_csv), **TINY_OPTIONS, "num_train_epochs": 1})
    run = RunStore(studio[1]).create(config)
    run.update_status(state="failed", error="Out of memory.", out_of_memory={"phase": "training"})
    job = client.submit(run.id, api_name="/follow_run")
    (snap, *_), = list(job)
    assert snap["state"] == "failed"
    run_id, message = client.predict(run.id, api_name="/retry_smaller_batch")
    assert run_id == run.id and "smaller batch" in message
    assert run.config().training.extra_training_args.get("auto_find_batch_size") is True
    assert follow(client, run.id)[-1]["state"] == "completed"


def test_run_details_show_an_error_literally(client, studio, tiny_model_dir, reviews_csv):
    from finetuner.config import RunConfig
    from finetuner.runs import RunStore

    config = RunConfig.from_dict({"model_name_or_path": str(tiny_model_dir), "train_file": str(reviews_csv), **TINY_OPTIONS})
    run = RunStore(studio[1]).create(config)
    run.update_status(state="failed", error="No column '<img src=x onerror=alert(1)>' in **my_data**.")
    details, *_ = client.predict(run.id, api_name="/run_details")
    assert r"\<img src=x onerror=alert(1)\>" in details and r"\*\*my\_data\*\*" in details
    assert "<" not in details.replace("\\<", "") and "**my_data**" not in details, "an error is shown as text, never as HTML or Markdown"
