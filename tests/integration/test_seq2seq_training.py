"""Summarization end to end on a tiny T5: loss falls, ROUGE/BLEU match the written generations, the model
reloads with its prefix and summarizes, other data can be scored, and SciTLDR goes through."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

from support import copied_run, require_shared_data
from finetuner.card import build_card
from finetuner.compare import paired_comparison
from finetuner.config import RunConfig
from finetuner.evaluate_run import evaluate_run
from finetuner.inference import load_predictor
from finetuner.metrics_text import generation_metrics
from finetuner.runs import COMPLETED, FAILED, RunStore
from finetuner.train import run_training
from task_fixtures import build_tiny_bart, build_tiny_gpt2, build_tiny_t5, make_summary_records, write_jsonl


def s2s_config(model_dir, data_file, **overrides) -> RunConfig:
    values = {
        "task": "seq2seq",
        "model_name_or_path": str(model_dir),
        "train_file": str(data_file),
        "max_seq_length": 48,
        "max_target_length": 12,
        "generation_max_new_tokens": 10,
        "source_prefix": "summarize: ",
        "learning_rate": 5e-3,
        "per_device_train_batch_size": 8,
        "num_train_epochs": 4,
        "logging_steps": 2,
        "warmup_steps": 0,
        **overrides,
    }
    return RunConfig.from_dict(values)


@pytest.fixture(scope="module")
def s2s_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("s2s")
    records = make_summary_records(100)
    model_dir = build_tiny_t5(folder / "model", [r["document"] for r in records] + ["summarize :"])
    run = RunStore(folder / "runs").create(s2s_config(model_dir, write_jsonl(folder / "docs.jsonl", records)))
    assert run_training(run) == COMPLETED, run.status()
    return run


def test_loss_falls_and_every_evaluation_generates(s2s_run):
    losses = [e["metrics"]["loss"] for e in s2s_run.events() if e["type"] == "log" and "loss" in e["metrics"]]
    assert len(losses) >= 10 and sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 * 0.8
    evals = [e["metrics"] for e in s2s_run.events() if e["type"] == "eval"]
    assert len(evals) == 4 and all({"eval_rouge1", "eval_rouge2", "eval_rougeL", "eval_bleu", "eval_gen_len"} <= set(m) for m in evals)


def test_scores_match_the_written_generations(s2s_run):
    test = s2s_run.metrics("test")
    generations = pd.read_csv(s2s_run.eval_dir / "generations_test.csv", keep_default_na=False)
    assert len(generations) == 10 and list(generations.columns) == ["document", "reference", "generated", "rougeL"]
    recomputed = generation_metrics(list(generations["generated"]), list(generations["reference"]))
    for key in ("rouge1", "rouge2", "rougeL", "rougeLsum", "bleu"):
        assert test[f"test_{key}"] == pytest.approx(recomputed[key])
    assert generations["rougeL"].mean() == pytest.approx(test["test_rougeL"])
    assert paired_comparison(s2s_run, copied_run(s2s_run))["a"] == pytest.approx(test["test_rougeL"]), "the Runs tab pairs runs on these rows"
    report = json.loads((s2s_run.eval_dir / "report_test.json").read_text())
    assert all(report["intervals"][key][0] <= test[f"test_{key}"] <= report["intervals"][key][1] for key in ("rouge1", "rouge2", "rougeL", "rougeLsum"))
    original = {r["document"]: r["summary"] for r in make_summary_records(100)}
    assert all(original[d] == r for d, r in zip(generations["document"], generations["reference"])), "rows stay aligned"
    baselines = json.loads((s2s_run.eval_dir / "baselines.json").read_text())
    lead = baselines["lead_1"]["test"]
    assert lead["rouge1"] > 0 and set(lead) >= {"rouge1", "rouge2", "rougeL", "bleu"}
    assert lead["model_rougeL_gain"] == pytest.approx(test["test_rougeL"] - lead["rougeL"]), "the model's ROUGE-L gain over Lead-1 on the same documents"
    assert lead["model_rougeL_gain_low"] <= lead["model_rougeL_gain"] <= lead["model_rougeL_gain_high"]
    assert set(s2s_run.status()["metrics"]) >= {"eval_rouge1", "eval_rougeL", "eval_bleu", "test_rougeL"}


def test_the_card_names_the_lead_1_baseline(s2s_run):
    card = build_card(s2s_run, images=False).text
    assert "| Lead-1 (first sentence) |" in card, "the baseline's column is named as on the Evaluate tab"
    assert "Against the baselines, on the same test examples (a paired bootstrap): ROUGE-L " in card


def test_reloaded_model_keeps_its_prefix_and_summarizes(s2s_run):
    config = json.loads((s2s_run.model_dir / "config.json").read_text())
    assert config["prefix"] == "summarize: "
    predictor = load_predictor(s2s_run.id, runs_dir=s2s_run.path.parent)
    assert predictor.source_prefix == "summarize: " and predictor.max_new_tokens == 10
    (record,) = predictor.records(["the dog grew in the morning near the river ."])
    assert isinstance(record["summary"], str) and record["text"].startswith("the dog")
    assert len(predictor.tokenizer(record["summary"])["input_ids"]) <= 12


def test_generation_has_one_length_and_predicting_warns_of_none(s2s_run):
    """transformers' Seq2SeqTrainer filled in max_length 20 while evaluating: every later generate warned that
    both max_new_tokens and max_length were set, and the saved generation config kept it."""
    saved = json.loads((s2s_run.model_dir / "generation_config.json").read_text())
    assert saved["max_new_tokens"] == 10 and saved.get("max_length") is None
    warnings: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = warnings.append
    logging.getLogger("transformers").addHandler(handler)
    try:
        load_predictor(s2s_run.id, runs_dir=s2s_run.path.parent).records(["the dog grew in the morning near the river ."] * 3)
    finally:
        logging.getLogger("transformers").removeHandler(handler)
    assert not [r.getMessage() for r in warnings if "max_length" in r.getMessage()]


def test_evaluate_on_another_file(s2s_run, tmp_path):
    other = write_jsonl(tmp_path / "other.jsonl", make_summary_records(6, seed=3))
    result = evaluate_run(s2s_run, test_file=str(other))
    assert {"test_rougeL", "test_bleu", "test_loss"} <= set(result["metrics"])
    assert len(pd.read_csv(s2s_run.eval_dir / "extra" / "generations_other.csv")) == 6


def test_default_model_offline_fails_the_run_with_advice(tmp_path):
    config = RunConfig.from_dict({"task": "seq2seq", "train_file": str(write_jsonl(tmp_path / "d.jsonl", make_summary_records(20)))})
    run = RunStore(tmp_path / "runs").create(config)
    assert run_training(run) == FAILED
    error = run.status()["error"]
    assert "google/flan-t5-small" in error and "unreachable" in error and "local" in error and "Traceback" not in error


@pytest.mark.parametrize("problem", ["a decoder-only model", "summaries cut to the end token", "summaries past the decoder's positions"])
def test_cli_train_refuses_before_a_run_exists_what_the_model_cannot_train_on(tmp_path, capsys, problem):
    """A decoder-only model failed the run when the training process loaded it; summaries longer than BART's decoder
    positions failed it at the first batch holding one (IndexError); max_target_length 1 trained a model on end tokens
    alone and completed, its summaries empty. Now `train` exits 2 with what to change, and no run folder exists."""
    from finetuner.cli import main

    records = make_summary_records(24)
    texts = [r["document"] for r in records] + ["summarize :"]
    options = ["--max_seq_length", "16"]
    if problem == "a decoder-only model":
        model_dir = build_tiny_gpt2(tmp_path / "gpt2", texts)
        said = "is not the kind of model the seq2seq task trains: it needs an encoder-decoder model such as T5, FLAN-T5 or BART"
    elif problem == "summaries cut to the end token":
        model_dir = build_tiny_t5(tmp_path / "t5", texts)
        options += ["--max_target_length", "1"]
        said = "No summary of train keeps any of its text within max_target_length 1"
    else:
        model_dir = build_tiny_bart(tmp_path / "bart", texts, positions=16)
        records = [{"document": r["document"], "summary": f"{r['document']} {r['document']}"} for r in records]  # 20 tokens and more
        options += ["--max_target_length", "32", "--generation_max_new_tokens", "8"]
        said = "max_target_length 32 is longer than"
    data = write_jsonl(tmp_path / "docs.jsonl", records)
    code = main(["--runs_dir", str(tmp_path / "runs"), "train", "--task", "seq2seq", "--model_name_or_path", str(model_dir), "--train_file", str(data), "--num_train_epochs", "1", *options])
    err = capsys.readouterr().err
    assert code == 2 and said in err and "Traceback" not in err, err
    assert not (tmp_path / "runs").exists(), "no failed run is left behind"


def test_scitldr_subset(tmp_path):
    scitldr = require_shared_data("scitldr")
    frame = pd.read_json(scitldr / "train.jsonl", lines=True).head(200)
    model_dir = build_tiny_t5(tmp_path / "model", list(frame["document"]) + list(frame["summary"]))
    config = s2s_config(
        model_dir, scitldr / "train.jsonl", validation_file=str(scitldr / "validation.jsonl"), test_split_ratio=0,
        max_train_samples=64, max_eval_samples=16, num_train_epochs=1, max_seq_length=128, max_target_length=32, generation_max_new_tokens=24,
    )
    run = RunStore(tmp_path / "runs").create(config)
    assert run_training(run) == COMPLETED, run.status()
    generations = pd.read_csv(run.eval_dir / "generations_validation.csv", keep_default_na=False)
    assert len(generations) == 16
    metrics = run.metrics("validation")
    assert metrics["eval_rougeL"] == pytest.approx(generation_metrics(list(generations["generated"]), list(generations["reference"]))["rougeL"])
    stats = json.loads((run.path / "token_stats.json").read_text())
    assert stats["train"]["truncated"] > 0, "SciTLDR abstracts run past 128 tokens: the statistics say so"
    assert stats["train"]["target"]["mean"] > 10
