"""NER end to end on a tiny BERT: loss falls, entity scores match the written predictions, the model
reloads and finds entities in raw text, other data can be scored, and the CLI does all of it."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from support import ROOT, build_tiny_model, copied_run, require_shared_data
from finetuner import plots
from finetuner.card import build_card
from finetuner.compare import paired_comparison
from finetuner.config import RunConfig
from finetuner.errors import DataError
from finetuner.evaluate_run import evaluate_run
from finetuner.follow import RunFollower
from finetuner.inference import load_predictor
from finetuner.metrics_text import entity_metrics
from finetuner.runs import COMPLETED, RunStore
from finetuner.tasks import curve_metrics
from finetuner.train import run_training
from task_fixtures import build_tiny_bart, build_tiny_gpt2, make_ner_records, write_jsonl


def ner_config(model_dir, data_file, **overrides) -> RunConfig:
    values = {
        "task": "token-classification",
        "model_name_or_path": str(model_dir),
        "train_file": str(data_file),
        "max_seq_length": 32,
        "learning_rate": 3e-3,
        "per_device_train_batch_size": 8,
        "num_train_epochs": 3,
        "logging_steps": 2,
        "warmup_steps": 0,
        **overrides,
    }
    return RunConfig.from_dict(values)


@pytest.fixture(scope="module")
def ner_model_dir(tmp_path_factory):
    records = make_ner_records(200, seed=1)
    return build_tiny_model(tmp_path_factory.mktemp("tiny-ner"), [" ".join(r["tokens"]) for r in records])


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory, ner_model_dir):
    folder = tmp_path_factory.mktemp("ner")
    data = write_jsonl(folder / "ner.jsonl", make_ner_records(160))
    run = RunStore(folder / "runs").create(ner_config(ner_model_dir, data))
    assert run_training(run) == COMPLETED, run.status()
    return run


def test_loss_falls_and_entity_scores_are_logged(ner_run):
    losses = [e["metrics"]["loss"] for e in ner_run.events() if e["type"] == "log" and "loss" in e["metrics"]]
    assert len(losses) >= 10 and sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    evals = [e["metrics"] for e in ner_run.events() if e["type"] == "eval"]
    assert len(evals) == 3 and all({"eval_f1", "eval_precision", "eval_recall", "eval_accuracy"} <= set(m) for m in evals)
    assert all(m["eval_f1_interval"][0] <= m["eval_f1"] <= m["eval_f1_interval"][1] for m in evals), "each evaluation's F1 with its interval"
    snap = RunFollower(ner_run).poll()
    figure = plots.training_curves(snap["train"], snap["eval"], metrics=[f"eval_{m}" for m in curve_metrics("token-classification")])
    band = [trace for trace in figure.data if trace.name == "f1 95% interval"]
    assert band and list(band[0].y) == [m["eval_f1_interval"][0] for m in evals], "the live F1 curve carries its band"
    info = json.loads((ner_run.path / "model_info.json").read_text())
    assert info["trainable_parameters"] == info["total_parameters"] > 0, "full fine-tuning trains every weight"


def test_scores_match_the_written_predictions(ner_run):
    test = ner_run.metrics("test")
    predictions = pd.read_csv(ner_run.eval_dir / "predictions_test.csv")
    assert len(predictions) == 16
    recomputed = entity_metrics([t.split() for t in predictions["tags"]], [t.split() for t in predictions["predicted"]])
    for key in ("precision", "recall", "f1", "accuracy"):
        assert test[f"test_{key}"] == pytest.approx(recomputed[key])
    assert test["test_f1"] >= 0.8, "person and location follow from the words: a tiny model learns them"
    original = {" ".join(r["tokens"]): " ".join(r["ner_tags"]) for r in make_ner_records(160)}
    assert all(original[text] == tags for text, tags in zip(predictions["text"], predictions["tags"])), "rows stay aligned with their sentences"
    report = json.loads((ner_run.eval_dir / "report_test.json").read_text())
    assert {row["type"] for row in report["per_type"]} == {"person", "location"}
    assert sum(row["support"] for row in report["per_type"]) == report["true_entities"] == 32
    assert report["label_names"][0] == "O" and len(report["tag_confusion_matrix"]) == 5
    assert all(report["intervals"][key][0] <= test[f"test_{key}"] <= report["intervals"][key][1] for key in ("precision", "recall", "f1", "accuracy"))
    assert test["test_f1_interval"] == pytest.approx(report["intervals"]["f1"]), "the Trainer's interval is the report's"
    assert "bootstrap over the sentences" in report["interval_method"], "16 sentences, each drawn whole"
    itself = paired_comparison(ner_run, copied_run(ner_run))  # the Runs tab reads the predictions file back as the report scored it
    assert (itself["metric"], itself["examples"], itself["a"]) == ("entity F1", 16, pytest.approx(test["test_f1"]))
    baselines = json.loads((ner_run.eval_dir / "baselines.json").read_text())
    assert set(baselines["most_frequent_tag"]) == {"validation", "test"}
    lookup = baselines["most_frequent_tag"]["test"]
    assert report["long_sentences"] == 0 and lookup["model_f1_gain"] == pytest.approx(test["test_f1"] - lookup["f1"]), "the gain on the same sentences"
    assert lookup["model_f1_gain_low"] <= lookup["model_f1_gain"] <= lookup["model_f1_gain_high"]
    card = build_card(ner_run, images=False).text
    assert f"Against the baselines, on the same test examples (a paired bootstrap): entity F1 {lookup['model_f1_gain']:+.3f}" in card
    status = ner_run.status()
    assert status["metrics"]["eval_f1"] == ner_run.metrics("validation")["eval_f1"]
    data_report = json.loads((ner_run.path / "data_report.json").read_text())
    assert data_report["label_names"] == ["O", "B-location", "I-location", "B-person", "I-person"]


def test_reloaded_model_finds_entities_in_raw_text(ner_run):
    predictor = load_predictor(ner_run.id, runs_dir=ner_run.path.parent)
    (result,) = predictor.predict(["carol smith visited new york today."])
    assert result["words"] == ["carol", "smith", "visited", "new", "york", "today", "."]
    found = {(e["type"], e["text"]) for e in result["entities"]}
    assert found == {("person", "carol smith"), ("location", "new york")}
    for entity in result["entities"]:
        assert result["text"][entity["start"] : entity["end"]] == entity["text"] and 0 < entity["score"] <= 1
    shown = predictor.highlighted("bob loves rome")
    assert shown == {"text": "bob loves rome", "entities": [{"entity": "person", "start": 0, "end": 3}, {"entity": "location", "start": 10, "end": 14}]}


def test_a_text_longer_than_max_seq_length_is_tagged_to_its_end(ner_run):
    """The run's max_seq_length is 32 sub-tokens; a text of 48 words is read in overlapping windows, so the
    entities at its end are found too (they were tagged O, cut off)."""
    predictor = load_predictor(ner_run.id, runs_dir=ner_run.path.parent)
    text = " ".join(["bob loves rome ."] * 12)
    (result,) = predictor.predict([text])
    assert len(result["tags"]) == 48 and [(e["type"], e["text"]) for e in result["entities"]] == [("person", "bob"), ("location", "rome")] * 12
    assert result["entities"][-1]["end"] == len(text) - 2, "the last entity: 'rome' before the final ' .'"
    (short,) = predictor.predict(["bob loves rome ."])
    spans = [[(e["type"], e["start"], e["end"]) for e in r["entities"]] for r in (short, result)]
    assert spans[0] == spans[1][:2], "a text that fits is tagged as before"


def test_evaluate_on_another_file_and_refuse_unknown_tags(ner_run, tmp_path):
    other = write_jsonl(tmp_path / "other.jsonl", make_ner_records(20, seed=7))
    result = evaluate_run(ner_run, test_file=str(other))
    assert result["name"] == "other" and result["metrics"]["test_f1"] >= 0.8
    assert len(pd.read_csv(ner_run.eval_dir / "extra" / "predictions_other.csv")) == 20
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"tokens": ["acme"], "ner_tags": ["B-corporation"]}])
    with pytest.raises(DataError, match="'B-corporation' that the model does not know"):
        evaluate_run(ner_run, test_file=str(bad))


def test_two_files_of_one_name_keep_both_evaluations(ner_run, tmp_path):
    """eval.jsonl from two folders: the second's results go beside the first's, which they overwrote; the
    first file evaluated again takes its own name back."""
    first = write_jsonl(tmp_path / "eval.jsonl", make_ner_records(10, seed=3))
    (tmp_path / "later").mkdir()
    second = write_jsonl(tmp_path / "later" / "eval.jsonl", make_ner_records(14, seed=4))
    names = [evaluate_run(ner_run, test_file=str(path))["name"] for path in (first, second, first)]
    assert names == ["eval", "eval-2", "eval"]
    extra = ner_run.eval_dir / "extra"
    assert [len(pd.read_csv(extra / f"predictions_{name}.csv")) for name in ("eval", "eval-2")] == [10, 14]


def test_cli_predicts_entities(ner_run):
    result = subprocess.run(
        [sys.executable, "-m", "finetuner", "--runs_dir", str(ner_run.path.parent), "predict", ner_run.id, "bob loves rome"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["text"] == "bob loves rome"
    assert [(e["type"], e["text"]) for e in record["entities"]] == [("person", "bob"), ("location", "rome")]


def test_wnut17_with_the_bundled_encoder(tmp_path):
    """Real data: 13 string BIO tags, 6 types. A test can afford only a few dozen steps, too few for
    entity F1 on WNUT's rare entities, so it checks what must hold at any quality: the files load, every
    tag is known, and the scores are those of the written predictions."""
    wnut = require_shared_data("wnut17")
    config = RunConfig.from_dict(
        {
            "task": "token-classification",
            "train_file": str(wnut / "train.jsonl"),
            "validation_file": str(wnut / "validation.jsonl"),
            "test_split_ratio": 0,
            "max_train_samples": 320,
            "max_eval_samples": 100,
            "num_train_epochs": 1,
            "per_device_train_batch_size": 16,
            "max_seq_length": 48,
        }
    )
    run = RunStore(tmp_path / "runs").create(config)
    assert run_training(run) == COMPLETED, run.status()
    metrics = run.metrics("validation")
    predictions = pd.read_csv(run.eval_dir / "predictions_validation.csv")
    assert len(predictions) == 100
    true, predicted = [t.split() for t in predictions["tags"]], [str(t).split() for t in predictions["predicted"]]
    recomputed = entity_metrics(true, predicted)
    for key in ("precision", "recall", "f1", "accuracy"):
        assert metrics[f"eval_{key}"] == pytest.approx(recomputed[key])
    report = json.loads((run.eval_dir / "report_validation.json").read_text())
    assert len(report["label_names"]) == 13
    assert {row["type"] for row in report["per_type"]} <= {"corporation", "creative-work", "group", "location", "person", "product"}
    share_o = sum(t == "O" for row in true for t in row) / sum(map(len, true))
    assert metrics["eval_accuracy"] >= share_o - 0.01, "at least as good as tagging every word O"


def test_long_sentences_are_evaluated_as_prediction_tags_them(tmp_path, ner_model_dir):
    """Sentences three times as long as max_seq_length lets through: evaluation reads them in overlapping
    windows as prediction does, so the test report's tags are the predictor's, word for word, on every
    word (they were O past the cut, the entities there counted as missed), one row per sentence; the
    evaluations during training and `evaluate` score them alike."""
    records = make_ner_records(162)
    joined = [
        {"tokens": sum((r["tokens"] for r in records[i : i + 3]), []), "ner_tags": sum((r["ner_tags"] for r in records[i : i + 3]), [])}
        for i in range(0, len(records), 3)
    ]
    data = write_jsonl(tmp_path / "long.jsonl", joined)
    run = RunStore(tmp_path / "runs").create(ner_config(ner_model_dir, data, max_seq_length=12, bf16=False))  # float32, as the predictor computes
    assert run_training(run) == COMPLETED, run.status()
    original = {" ".join(r["tokens"]): " ".join(r["ner_tags"]) for r in joined}
    predictions = pd.read_csv(run.eval_dir / "predictions_test.csv")
    assert len(predictions) == round(len(joined) * 0.1), "one row per sentence, not per window"
    assert all(original[text] == tags for text, tags in zip(predictions["text"], predictions["tags"])), "every word's true tag is in the file"
    predictor = load_predictor(run.id, runs_dir=run.path.parent)
    tagged = predictor.tag_words([text.split() for text in predictions["text"]])
    assert [" ".join(tag for tag, _ in tags) for tags in tagged] == list(predictions["predicted"]), "evaluation tags every word as prediction does"
    seen = 10  # [CLS], 10 words of one sub-token each (the tokenizer learned these words), [SEP]: the old cut
    assert any(tag != "O" for tags in predictions["predicted"] for tag in tags.split()[seen:]), "entities past the cut are found"
    report = json.loads((run.eval_dir / "report_test.json").read_text())
    assert report["long_sentences"] == len(predictions) and "truncated_words" not in report
    assert report["true_entities"] == sum(tag.startswith("B-") for tags in predictions["tags"] for tag in tags.split()), "each true entity is counted"
    recomputed = entity_metrics([t.split() for t in predictions["tags"]], [t.split() for t in predictions["predicted"]])
    assert report["metrics"]["recall"] == pytest.approx(recomputed["recall"]) and recomputed["recall"] > 0.8, "a tiny model finds the names in every window"
    validation = json.loads((run.eval_dir / "report_validation.json").read_text())
    last_evaluation = [e["metrics"] for e in run.events() if e["type"] == "eval"][-1]
    assert last_evaluation["eval_f1"] == pytest.approx(validation["metrics"]["f1"]), "training's evaluations score whole sentences too"
    again = evaluate_run(run)
    rescored = pd.read_csv(run.eval_dir / "extra" / f"predictions_{again['name']}.csv")
    assert list(rescored["predicted"]) == list(predictions["predicted"]) and again["metrics"]["test_f1"] == pytest.approx(report["metrics"]["f1"])


def test_a_tokenizer_without_a_padding_token_trains(tmp_path):
    """GPT-2's tokenizer (Llama's too) has no padding token: the collator's first batch stopped the run ("Asking to pad
    but the tokenizer does not have a padding token"). It now pads with the end-of-text token, masked out, and the
    saved tokenizer keeps it, so the model predicts in batches too."""
    records = make_ner_records(48)
    model_dir = build_tiny_gpt2(tmp_path / "gpt2", [" ".join(r["tokens"]) for r in records], pad_token=False)
    run = RunStore(tmp_path / "runs").create(ner_config(model_dir, write_jsonl(tmp_path / "ner.jsonl", records), num_train_epochs=1))
    assert run_training(run) == COMPLETED, run.status()
    predictor = load_predictor(str(run.model_dir))
    assert len(predictor.records(["alice visited paris", "carol smith loves new york again"])) == 2


def test_cli_train_refuses_a_model_that_has_no_token_classification_head_before_a_run_exists(tmp_path, capsys):
    """BART has no token-classification model in transformers: the training process found that when it loaded the
    weights, and the run failed; now `train` says so and exits 2, leaving no run folder."""
    from finetuner.cli import main

    records = make_ner_records(24)
    model_dir = build_tiny_bart(tmp_path / "bart", [" ".join(r["tokens"]) for r in records])
    data = write_jsonl(tmp_path / "ner.jsonl", records)
    code = main(["--runs_dir", str(tmp_path / "runs"), "train", "--task", "token-classification", "--model_name_or_path", str(model_dir), "--train_file", str(data), "--max_seq_length", "32"])
    err = capsys.readouterr().err
    assert code == 2 and "is not the kind of model the token-classification task trains" in err and "Traceback" not in err, err
    assert not (tmp_path / "runs").exists(), "no failed run is left behind"
