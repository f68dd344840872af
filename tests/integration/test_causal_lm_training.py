"""Instruction tuning end to end on a tiny LLaMA: full fine-tuning and LoRA, the before/after comparison,
generations scored as written, a model that reloads and chats (streaming), the CLI, and GSM8K."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from support import ROOT, copied_run, require_shared_data
from finetuner.compare import paired_comparison
from finetuner.config import RunConfig
from finetuner.evaluate_run import evaluate_run
from finetuner.inference import load_predictor
from finetuner.metrics_text import generation_metrics
from finetuner.runs import COMPLETED, RunStore
from finetuner.tasks.causal_lm import GENERAL_TEXT
from finetuner.train import check_options, run_training
from task_fixtures import CHATML, build_tiny_causal_lm, make_instruction_records, write_jsonl


def lm_config(model_dir, data_file, **overrides) -> RunConfig:
    values = {
        "task": "causal-lm",
        "model_name_or_path": str(model_dir),
        "train_file": str(data_file),
        "max_seq_length": 64,
        "generation_max_new_tokens": 10,
        "generation_num_samples": 6,
        "learning_rate": 5e-3,
        "per_device_train_batch_size": 8,
        "num_train_epochs": 5,
        "logging_steps": 2,
        "warmup_steps": 0,
        **overrides,
    }
    return RunConfig.from_dict(values)


@pytest.fixture(scope="module")
def lm_setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lm")
    records = make_instruction_records(96)
    texts = [r["instruction"] + " " + r["output"] for r in records] + GENERAL_TEXT.read_text().splitlines()
    return build_tiny_causal_lm(folder / "model", texts), write_jsonl(folder / "data.jsonl", records), folder


@pytest.fixture(scope="module")
def full_run(lm_setup):
    model_dir, data, folder = lm_setup
    run = RunStore(folder / "runs").create(lm_config(model_dir, data))
    assert run_training(run) == COMPLETED, run.status()
    return run


@pytest.fixture(scope="module")
def lora_run(lm_setup):
    model_dir, data, folder = lm_setup
    run = RunStore(folder / "lora-runs").create(lm_config(model_dir, data, use_lora=True, lora_r=8, lora_alpha=16, learning_rate=1e-2, num_train_epochs=3))
    assert run_training(run) == COMPLETED, run.status()
    return run


def losses(run):
    return [e["metrics"]["loss"] for e in run.events() if e["type"] == "log" and "loss" in e["metrics"]]


def test_loss_falls_and_perplexity_is_its_exponential(full_run):
    values = losses(full_run)
    assert len(values) >= 10 and sum(values[-3:]) / 3 < sum(values[:3]) / 3 * 0.5
    evals = [e["metrics"] for e in full_run.events() if e["type"] == "eval"]
    assert len(evals) == 5 and evals[-1]["eval_loss"] < evals[0]["eval_loss"]
    for metrics in evals:
        assert metrics["eval_perplexity"] == pytest.approx(math.exp(metrics["eval_loss"]))
    validation = full_run.metrics("validation")
    assert validation["eval_perplexity"] == pytest.approx(math.exp(validation["eval_loss"]))
    assert validation["eval_perplexity"] < 10, "the answer follows from the question: perplexity falls from hundreds"


def test_generations_are_scored_as_written_beside_the_references(full_run):
    generations = pd.read_csv(full_run.eval_dir / "generations_test.csv", keep_default_na=False)
    assert list(generations.columns) == ["prompt", "reference", "generated", "rougeL"] and len(generations) == 6
    test = full_run.metrics("test")
    recomputed = generation_metrics(list(generations["generated"]), list(generations["reference"]))
    for key in ("rouge1", "rouge2", "rougeL", "bleu"):
        assert test[f"test_{key}"] == pytest.approx(recomputed[key])
    assert generations["prompt"].str.startswith("what colour is the").all()
    report = json.loads((full_run.eval_dir / "report_test.json").read_text())
    low, high = report["intervals"]["rougeL"]
    assert low <= test["test_rougeL"] <= high and "bleu" not in report["intervals"], "ROUGE-L of 6 answers, with its interval; BLEU has none"
    assert "bootstrap over the generated answers" in report["interval_method"]
    itself = paired_comparison(full_run, copied_run(full_run))  # the Runs tab reads the generations back as the report scored them
    assert (itself["metric"], itself["examples"], itself["a"]) == ("ROUGE-L", 6, pytest.approx(test["test_rougeL"]))
    validation = pd.read_csv(full_run.eval_dir / "generations_validation.csv", keep_default_na=False)
    assert "base_generated" in validation.columns, "the base model's answers sit beside the fine-tuned ones"


def test_before_and_after_comparison_shows_gain_and_forgetting(full_run):
    comparison = json.loads((full_run.eval_dir / "comparison.json").read_text())
    validation = comparison["validation"]
    assert validation["fine_tuned"]["perplexity"] < validation["base"]["perplexity"] / 10
    assert {"rougeL", "bleu"} <= set(validation["base"]) and {"rougeL", "bleu"} <= set(validation["fine_tuned"])
    general = comparison["general_text"]
    assert general["base"]["tokens"] == general["fine_tuned"]["tokens"] > 500
    assert general["perplexity_change"] == pytest.approx(general["fine_tuned"]["perplexity"] / general["base"]["perplexity"] - 1)
    baselines = json.loads((full_run.eval_dir / "baselines.json").read_text())
    assert baselines["base_model"]["validation"]["perplexity"] == validation["base"]["perplexity"]
    base = baselines["base_model"]["validation"]
    assert base["model_rougeL_gain"] == pytest.approx(validation["fine_tuned"]["rougeL"] - validation["base"]["rougeL"]), "answer by answer on the same prompts"
    assert base["model_rougeL_gain_low"] <= base["model_rougeL_gain"] <= base["model_rougeL_gain_high"]
    status = full_run.status()
    assert {"eval_loss", "eval_perplexity", "eval_rougeL", "eval_bleu", "test_perplexity"} <= set(status["metrics"])


def test_reloaded_model_answers_and_streams(full_run):
    predictor = load_predictor(full_run.id, runs_dir=full_run.path.parent)
    assert predictor.plain_template and predictor.max_new_tokens == 10
    messages = [{"role": "user", "content": "what colour is the snow?"}]
    answer = predictor.chat(messages)
    steps = list(predictor.stream(messages))
    assert steps and steps[-1] == answer, "greedy streaming ends with the same answer"
    assert all(later.startswith(earlier.rstrip()) for earlier, later in zip(steps, steps[1:]))
    sampled = predictor.chat(messages, temperature=0.8, top_p=0.9, max_new_tokens=4)
    assert isinstance(sampled, str) and len(predictor.tokenizer(sampled, add_special_tokens=False)["input_ids"]) <= 4


def test_cli_generates(full_run):
    result = subprocess.run(
        [sys.executable, "-m", "finetuner", "--runs_dir", str(full_run.path.parent), "predict", full_run.id, "what colour is the sky?", "--max_new_tokens", "6"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["prompt"] == "what colour is the sky?"
    expected = load_predictor(full_run.id, runs_dir=full_run.path.parent).generate(["what colour is the sky?"], max_new_tokens=6)[0]
    assert record["generated"] == expected, "the CLI prints the answer the reloaded model gives"


def test_lora_trains_a_small_share_and_exports_a_merged_model(lora_run):
    info = json.loads((lora_run.path / "model_info.json").read_text())
    assert 0 < info["trainable_share"] < 0.5 and info["trainable_parameters"] < info["total_parameters"]
    message = next(e["text"] for e in lora_run.events() if e["type"] == "message" and e["text"].startswith("Training ") and "parameters" in e["text"])
    assert f"{info['trainable_parameters']:,}" in message
    from finetuner.tasks.causal_lm import parameter_counts

    assert parameter_counts(lora_run.config()) == {k: info[k] for k in ("trainable_parameters", "total_parameters", "trainable_share")}, "known before training"
    assert (lora_run.path / "adapter" / "adapter_model.safetensors").is_file()
    assert not (lora_run.model_dir / "adapter_config.json").exists(), "model/ holds the merged model, not an adapter"
    values = losses(lora_run)
    assert sum(values[-3:]) / 3 < sum(values[:3]) / 3
    predictor = load_predictor(str(lora_run.model_dir))
    assert isinstance(predictor.chat([{"role": "user", "content": "what colour is the sky?"}]), str)


def test_evaluate_a_lora_run_on_another_file(lora_run, tmp_path):
    other = write_jsonl(tmp_path / "other.jsonl", [{"prompt": r["instruction"], "completion": r["output"]} for r in make_instruction_records(5, seed=9)])
    result = evaluate_run(lora_run, test_file=str(other))
    assert {"test_loss", "test_perplexity", "test_rougeL", "test_bleu"} <= set(result["metrics"])
    assert len(pd.read_csv(lora_run.eval_dir / "extra" / "generations_other.csv")) == 5


@pytest.mark.parametrize("extra", [{}, {"packing_strategy": "bfd", "shuffle_dataset": True, "dataset_num_proc": 2}], ids=["wrapped", "bfd"])
def test_packing_trains(lm_setup, tmp_path, extra):
    """With the run's "wrapped" packing, and with the SFTTrainer's own packing options set among the extra
    TrainingArguments (best fit, padding-free; the Data tab's inspector and the plan follow them): Start's checks take them."""
    model_dir, data, _ = lm_setup
    config = lm_config(model_dir, data, packing=True, num_train_epochs=1, generation_num_samples=0, max_seq_length=128, extra_training_args=extra)
    check_options(config)
    run = RunStore(tmp_path / "runs").create(config)
    assert run_training(run) == COMPLETED, run.status()
    examples = json.loads((run.path / "data_report.json").read_text())["split_sizes"]["train"]
    batch = run.config().training.per_device_train_batch_size
    assert run.status()["step"] < examples / batch, "packed: fewer sequences than examples"
    assert run.metrics("validation")["eval_perplexity"] > 1


def test_prompts_too_long_for_max_seq_length_are_left_out_saying_so(lm_setup, tmp_path):
    """Validation prompts that fill max_seq_length are said in the log, and the base model answers the same prompts
    as the fine-tuned one (it answered the left-out ones, so no gain could be computed and its answers sat beside others)."""
    model_dir, data, _ = lm_setup
    records = make_instruction_records(8, seed=3)
    long = {"instruction": "what colour is the sky? " * 12, "input": "", "output": "the sky is blue."}
    validation = write_jsonl(tmp_path / "validation.jsonl", [long, *records[:4], long, *records[4:]])
    run = RunStore(tmp_path / "runs").create(lm_config(model_dir, data, validation_file=str(validation), test_split_ratio=0, num_train_epochs=1, generation_num_samples=6))
    assert run_training(run) == COMPLETED, run.status()
    warnings = [e["text"] for e in run.events() if e["type"] == "message" and e.get("warning")]
    assert any(w.startswith("validation: 2 of 10 example(s) left out: their prompt fills max_seq_length 64") for w in warnings), warnings
    tuned, base = (pd.read_csv(run.eval_dir / name, keep_default_na=False) for name in ("generations_validation.csv", "base_generations_validation.csv"))
    assert list(tuned["prompt"]) == list(base["prompt"]) == [r["instruction"] for r in records[:6]]
    assert "model_rougeL_gain" in json.loads((run.eval_dir / "baselines.json").read_text())["base_model"]["validation"]


@pytest.mark.parametrize("problem", ["a template that refuses system turns", "validation prompts that fill max_seq_length"])
def test_cli_train_refuses_before_a_run_exists_what_the_model_s_tokenizer_cannot_train_on(lm_setup, tmp_path, capsys, problem):
    """Both used to be found inside the run, which then failed and stayed behind as a failed run (exit 1); now `train`
    exits 2 with what to change, and no run folder exists."""
    from finetuner.cli import main

    model_dir, data, _ = lm_setup
    records = make_instruction_records(24, seed=5)
    options = ["--max_seq_length", "64"]
    if problem.startswith("a template"):
        gemma_like = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" + CHATML
        model_dir = build_tiny_causal_lm(tmp_path / "gemma-like", [r["instruction"] + " " + r["output"] for r in records], chat_template=gemma_like)
        chats = [[{"role": "user", "content": r["instruction"]}, {"role": "assistant", "content": r["output"]}] for r in records]
        chats[17].insert(0, {"role": "system", "content": "answer in a few words"})  # one conversation of 24
        data = write_jsonl(tmp_path / "chats.jsonl", [{"messages": chat} for chat in chats])
        said = "The model's chat template refused a conversation (roles: system, user): System role not supported."
    else:
        long = {"instruction": "what colour is the sky? " * 12, "input": "", "output": "the sky is blue."}
        options += ["--validation_file", str(write_jsonl(tmp_path / "validation.jsonl", [long] * 5))]
        said = "None of the 5 example(s) of validation keeps any of its answer within max_seq_length 64"
    code = main(["--runs_dir", str(tmp_path / "runs"), "train", "--task", "causal-lm", "--model_name_or_path", str(model_dir), "--train_file", str(data), "--test_split_ratio", "0", *options])
    err = capsys.readouterr().err
    assert code == 2 and said in err and "Traceback" not in err, err
    assert not (tmp_path / "runs").exists(), "no failed run is left behind"


def test_gsm8k_subset(tmp_path):
    gsm8k = require_shared_data("gsm8k")
    frame = pd.read_json(gsm8k / "train.jsonl", lines=True).head(120)
    model_dir = build_tiny_causal_lm(tmp_path / "model", list(frame["instruction"]) + list(frame["output"]))
    config = lm_config(
        model_dir, gsm8k / "train.jsonl", test_file=str(gsm8k / "test.jsonl"), max_train_samples=48, max_eval_samples=8, max_predict_samples=8,
        num_train_epochs=1, max_seq_length=256, generation_max_new_tokens=16, generation_num_samples=4, per_device_train_batch_size=8,
    )
    run = RunStore(tmp_path / "runs").create(config)
    assert run_training(run) == COMPLETED, run.status()
    report = json.loads((run.path / "data_report.json").read_text())
    assert report["source_format"] == "instruction/input/output" and report["split_sizes"]["train"] == 48
    stats = json.loads((run.path / "token_stats.json").read_text())
    assert stats["train"]["max"] > 100 and "answers_cut_off" in stats["train"]
    generations = pd.read_csv(run.eval_dir / "generations_test.csv", keep_default_na=False)
    assert len(generations) == 4 and generations["reference"].str.contains("####").all()
    assert run.metrics("test")["test_rougeL"] == pytest.approx(generation_metrics(list(generations["generated"]), list(generations["reference"]))["rougeL"])


def test_closing_a_stream_stops_generation(full_run):
    """A chat's Stop button closes the stream: the model must not go on generating the rest of the answer."""
    import threading

    from finetuner.tasks.causal_lm import GENERATION_THREAD

    predictor = load_predictor(full_run.id, runs_dir=full_run.path.parent)
    calls = []
    forward = predictor.model.forward
    predictor.model.forward = lambda *args, **kwargs: calls.append(1) or forward(*args, **kwargs)
    eos = predictor.model.generation_config.eos_token_id
    predictor.model.generation_config.eos_token_id = None  # the answer could only end at max_new_tokens
    try:
        stream = predictor.stream([{"role": "user", "content": "what colour is the snow?"}], max_new_tokens=400)
        next(stream)
        stream.close()
        assert not any(t.name == GENERATION_THREAD for t in threading.enumerate()), "generation ended with the stream"
        assert len(calls) < 400
    finally:
        predictor.model.forward, predictor.model.generation_config.eos_token_id = forward, eos


def test_cli_train_warns_of_max_seq_length_past_a_rotary_models_positions(lm_setup, tmp_path, capsys):
    """A LLaMA has rotary positions, no table to index past: max_seq_length 64 on one trained on 32 positions trained
    without a word, on positions it never learned. `train` now warns, before training and again with the outcome."""
    from finetuner.cli import main

    model_dir, data, _ = lm_setup
    short = tmp_path / "short-context"
    shutil.copytree(model_dir, short)
    config = json.loads((short / "config.json").read_text())
    (short / "config.json").write_text(json.dumps({**config, "max_position_embeddings": 32}))
    code = main(["--runs_dir", str(tmp_path / "runs"), "train", "--task", "causal-lm", "--model_name_or_path", str(short), "--train_file", str(data),
                 "--max_seq_length", "64", "--max_steps", "2", "--generation_num_samples", "0", "--test_split_ratio", "0"])
    err = capsys.readouterr().err
    said = f"max_seq_length 64 is longer than {short} reads well: it was trained on 32 positions (max_position_embeddings)"
    assert code == 0 and err.count(said) == 2 and "Set max_seq_length to 32 or less" in err, err
