"""The Evaluate, Try-it and Runs views of a classifier with many classes (BANKING77 has 77): rows that can be
read (the likeliest labels in one column, not one probability column per class), charts with every class named,
long texts that do not push the predictions out of view, and the Runs tab's labels, differences and empty state."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from gradio_client import Client, handle_file

from support import build_tiny_model, free_port
from finetuner.config import RunConfig
from finetuner.runs import COMPLETED, RunStore
from finetuner.train import run_training

CLASSES = [f"intent_number_{i:02d}" for i in range(24)]


def value(update):
    return update.get("value", update) if isinstance(update, dict) and "__type__" in update else update


def table(output) -> pd.DataFrame:
    output = value(output)
    return pd.DataFrame(output["data"], columns=output["headers"])


def figure(output) -> dict:
    return json.loads(value(output)["plot"])


@pytest.fixture(scope="module")
def many_run(studio, tmp_path_factory):
    """A 24-class run trained for one short epoch: it gets most test examples wrong, which is what is shown."""
    _, runs_dir = studio
    folder = tmp_path_factory.mktemp("many")
    rows = [{"text": f"question {i} about topic{k} please", "label": CLASSES[k]} for k in range(len(CLASSES)) for i in range(10)]
    data = folder / "intents.csv"
    pd.DataFrame(rows).sample(frac=1, random_state=0).to_csv(data, index=False)
    model = build_tiny_model(folder / "bert", [r["text"] for r in rows])
    config = RunConfig.from_dict({
        "model_name_or_path": str(model), "train_file": str(data), "max_seq_length": 16, "num_train_epochs": 1,
        "per_device_train_batch_size": 32, "learning_rate": 1e-3, "logging_steps": 1, "warmup_steps": 0,
    })
    run = RunStore(runs_dir).create(config)
    assert run_training(run) == COMPLETED, run.status()
    return run


def test_misclassified_rows_show_the_likeliest_labels_not_every_probability(client, many_run):
    headline, _, per_class, _, confusion, f1, roc, _, _, wrong, predictions = client.predict(many_run.id, "test", api_name="/evaluation_report")
    wrong = table(wrong)
    assert list(wrong.columns) == ["text", "label", "predicted", "confidence", "top probabilities"], "5 columns, not 24 prob_ ones"
    assert len(wrong) and f"{len(wrong)} misclassified shown" in headline
    for _, row in wrong.iterrows():
        top = [part.rsplit(" ", 1) for part in row["top probabilities"].split(" · ")]
        assert len(top) == 3 and top[0][0] == row["predicted"] and float(top[0][1]) == pytest.approx(row["confidence"], abs=1e-3)
        assert [float(p) for _, p in top] == sorted((float(p) for _, p in top), reverse=True)
    every = pd.read_csv(predictions)
    assert [c for c in every.columns if c.startswith("prob_")] == [f"prob_{name}" for name in CLASSES], "the CSV keeps every class's probability"
    assert len(table(per_class)) == len(CLASSES)

    bars = figure(f1)["data"][0]
    assert bars["orientation"] == "h" and sorted(bars["y"]) == CLASSES, "every class named on its own row"
    assert figure(f1)["layout"]["height"] >= 18 * len(CLASSES)
    pairs = figure(confusion)
    assert pairs["data"][0]["type"] == "bar" and all("<br>→ " in y for y in pairs["data"][0]["y"]), "24 classes: the most frequent mistakes, true → predicted"
    assert "24 classes" in pairs["layout"]["title"]["text"]
    assert "binary" in figure(roc)["layout"]["annotations"][0]["text"], "no ROC curve (its panel is hidden on the page)"


def test_a_long_text_leaves_the_predictions_in_view(client, many_run, tmp_path):
    data = tmp_path / "long.csv"
    pd.DataFrame({"text": ["x" * 5000, "question about topic3 please"]}).to_csv(data, index=False)
    preview, csv_path = client.predict(many_run.id, handle_file(str(data)), "", api_name="/predict_file")
    shown = table(preview)
    assert list(shown.columns) == ["predicted", "confidence", "top probabilities", "text"], "the model's columns first, the text last"
    assert len(shown["text"][0]) == 300 and shown["text"][0].endswith("…") and shown["text"][1] == "question about topic3 please"
    complete = pd.read_csv(csv_path)
    assert len(complete["text"][0]) == 5000 and sum(c.startswith("prob_") for c in complete.columns) == len(CLASSES), "the CSV stays whole"


def test_run_labels_name_the_split_of_their_score(client, many_run):
    runs, picker, *_ = client.predict(api_name="/list_runs")
    test_score = table(runs).set_index("run").loc[many_run.id, "test"]
    labels = [label for label, run_id in picker["choices"] if run_id == many_run.id]
    assert labels == [f"{many_run.id} · completed · test accuracy {test_score:.3f}"], "the score the Evaluate tab's headline shows first, named"


def test_compare_names_the_same_run_and_keeps_both_columns_narrow(client, studio, many_run):
    paired, _, _ = client.predict(many_run.id, many_run.id, api_name="/compare_runs")
    assert paired == f"Run A and run B are the same run ({many_run.id}): there is nothing to compare. Choose two different runs."
    _, runs_dir = studio
    upload = runs_dir / "uploads" / "0123456789abcdef" / "intents.csv"
    other = RunStore(runs_dir).create(RunConfig.from_dict({**many_run.config().to_dict(), "train_file": str(upload)}))
    _, _, diff = client.predict(many_run.id, other.id, api_name="/compare_runs")
    rows = table(diff).set_index("option")
    folder = Path(many_run.config().data.train_file).parent.name
    assert rows.loc["train_file"].tolist() == [f"…/{folder}/intents.csv", "…/0123456789abcdef/intents.csv"], "two files named alike: as few parts as tell them apart"


def test_an_empty_runs_folder_says_how_to_start_and_raises_nothing(tmp_path):
    from finetuner.ui.studio import build_studio

    demo = build_studio(tmp_path / "runs")
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        runs, picker, _, _, note = client.predict(api_name="/list_runs")
        assert table(runs).empty and picker["choices"] == []
        assert note["visible"] is True and note["value"].startswith("**No runs yet.**") and "Start training" in note["value"]
        assert client.predict("", api_name="/run_details") == ("", "", "", None), "no run chosen: nothing shown, no error"
    finally:
        demo.close()
