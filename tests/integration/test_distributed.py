"""Two training processes on the CPU (torchrun, gloo backend) train one run.

What must hold: the run trains to completion; its folder looks as if one process wrote it (each event
once, one model); its final metrics match a single-process run on the same data; a stop reaches both
processes at the same step and the run resumes on two processes; the command line under
`accelerate launch` creates one run folder, not one per process.

Tolerance of the match: the two runs see the same 16 examples per optimizer step (8 per process x 2
vs 16 in one process, sequential sampling of the same shuffled order) with dropout off, so they differ
only by float rounding in the gradient all-reduce: logged losses within 0.01, accuracy within one of
the 12 validation examples.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from support import free_port

from finetuner.config import RunConfig
from finetuner.follow import follow
from finetuner.inference import load_predictor
from finetuner.launcher import resume_training, start_training, stop_training, wait_for_end
from finetuner.runs import COMPLETED, STOPPED, RunStore
from finetuner.train import run_training, train_lock_path

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 480  # seconds; two processes importing torch on a busy 2-core machine are slow to start


@pytest.fixture(scope="module")
def no_dropout_model(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny BERT without dropout: one and two processes then compute the same function."""
    from transformers import AutoConfig, AutoTokenizer, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-bert-no-dropout")
    config = AutoConfig.from_pretrained(tiny_model_dir, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    BertForSequenceClassification.from_pretrained(tiny_model_dir, config=config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(folder)
    return folder


def config_for(model_dir: Path, data_file: Path, **overrides) -> RunConfig:
    values = {
        "model_name_or_path": str(model_dir),
        "train_file": str(data_file),
        "max_seq_length": 32,
        "learning_rate": 3e-3,
        "per_device_train_batch_size": 8,
        "num_train_epochs": 8,
        "logging_steps": 4,
        "warmup_steps": 0,
        "train_sampling_strategy": "random",  # group_by_length's mega-batches depend on the per-device batch size
        **overrides,
    }
    return RunConfig.from_dict(values)


def train_losses(run) -> dict[int, float]:
    return {e["step"]: e["metrics"]["loss"] for e in run.events() if e["type"] == "log" and "loss" in e["metrics"]}


@pytest.fixture(scope="module")
def data_file(tmp_path_factory, sentiment_frame) -> Path:
    path = tmp_path_factory.mktemp("distributed-data") / "reviews.csv"
    sentiment_frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory, no_dropout_model, data_file):
    store = RunStore(tmp_path_factory.mktemp("two") / "runs")
    run = start_training(store, config_for(no_dropout_model, data_file), processes=2)
    assert wait_for_end(run, timeout=RUN_TIMEOUT), "the two-process run did not end"
    return run


@pytest.fixture(scope="module")
def one_process_run(tmp_path_factory, no_dropout_model, data_file):
    run = RunStore(tmp_path_factory.mktemp("one") / "runs").create(config_for(no_dropout_model, data_file, per_device_train_batch_size=16))
    assert run_training(run) == COMPLETED, run.status()
    return run


def test_two_processes_train_to_completion(two_process_run):
    status = two_process_run.status()
    assert status["state"] == COMPLETED, (status, two_process_run.log_path.read_text()[-3000:])
    assert status["processes"] == 2 and status["step"] == 48
    assert status["command"].startswith("torchrun --standalone --nproc_per_node 2 -m finetuner train --run_dir ")
    assert "on 2 processes" in " ".join(e.get("text", "") for e in two_process_run.events())


def test_events_and_model_are_written_once(two_process_run, one_process_run):
    kinds = collections.Counter(e["type"] for e in two_process_run.events())
    assert kinds == collections.Counter(e["type"] for e in one_process_run.events()), "the same events as one process, none twice"
    assert kinds["train_begin"] == 1 and kinds["status"] == 2 and kinds["checkpoint"] == 8
    steps = [e["step"] for e in two_process_run.events() if e["type"] == "log" and "loss" in e["metrics"]]
    assert len(steps) == len(set(steps))
    assert sorted(p.name for p in two_process_run.model_dir.iterdir()) == sorted(p.name for p in one_process_run.model_dir.iterdir())
    predictor = load_predictor(str(two_process_run.model_dir))
    (scores,) = predictor.predict(["the film was wonderful and the cast felt wonderful"])
    assert set(scores) == {"negative", "positive"} and sum(scores.values()) == pytest.approx(1.0)
    checkpoint = two_process_run.latest_checkpoint()
    assert {"rng_state_0.pth", "rng_state_1.pth"} <= {p.name for p in checkpoint.iterdir()}, "each process saved its random state"
    leftovers = list(Path(tempfile.gettempdir()).glob(f"finetuner-{two_process_run.id}-rank*"))
    assert leftovers == [], "the other process's scratch folder is removed"


def test_final_metrics_match_one_process(two_process_run, one_process_run):
    two, one = train_losses(two_process_run), train_losses(one_process_run)
    assert two.keys() == one.keys()
    assert max(abs(two[s] - one[s]) for s in one) < 0.01, "the loss is not scaled by the number of processes"
    for split, prefix in (("validation", "eval"), ("test", "test")):
        a, b = two_process_run.metrics(split), one_process_run.metrics(split)
        assert abs(a[f"{prefix}_accuracy"] - b[f"{prefix}_accuracy"]) <= 1 / 12 + 1e-9, (split, a, b)
        assert abs(a[f"{prefix}_loss"] - b[f"{prefix}_loss"]) < 0.01, (split, a, b)
    assert one_process_run.metrics("validation")["eval_accuracy"] >= 0.75, "the runs learned something to compare"
    predictions = pd.read_csv(two_process_run.eval_dir / "predictions_validation.csv")
    assert len(predictions) == 12 and predictions["text"].is_unique, "predictions gathered from both processes, each example once"


def test_stop_reaches_both_processes_and_the_run_resumes(tmp_path, no_dropout_model, data_file, capsys):
    import fcntl
    import os

    from finetuner.cli import main

    store = RunStore(tmp_path / "runs")
    # Another training holds the queue: the two processes wait together, then start when it is released.
    queue = os.open(train_lock_path(), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(queue, fcntl.LOCK_EX)
    run = start_training(store, config_for(no_dropout_model, data_file, max_steps=3000, eval_strategy="no", logging_steps=5), processes=2)
    try:
        for snap in follow(run, timeout=RUN_TIMEOUT):
            if (snap["message"] or "").startswith("Waiting") or snap["done"]:
                break
        assert run.state == "queued", run.status()
    finally:
        os.close(queue)
    released_at = time.time()
    for snap in follow(run, timeout=RUN_TIMEOUT):
        if snap["step"] >= 5 or snap["done"]:
            break
    assert run.state == "running", run.status()
    assert run.status()["started_at"] >= released_at

    assert stop_training(run, wait=True, timeout=RUN_TIMEOUT) == STOPPED, run.log_path.read_text()[-3000:]
    assert not run.is_alive(), "both processes and their launcher have exited"
    status = run.status()
    checkpoint = run.latest_checkpoint()
    assert checkpoint is not None and checkpoint.name == f"checkpoint-{status['step']}"
    assert {"rng_state_0.pth", "rng_state_1.pth"} <= {p.name for p in checkpoint.iterdir()}, "both stopped at the same step"
    assert [e["state"] for e in run.events() if e["type"] == "status"] == ["running", "stopped"]

    stopped_at = status["step"]
    run.config_path.write_text(run.config_path.read_text().replace("max_steps: 3000", f"max_steps: {stopped_at + 4}"), encoding="utf-8")
    assert main(["--runs_dir", str(tmp_path / "runs"), "resume", run.id]) == 2, "one process would go on with half the batch"
    assert f"Resume it on 2 process(es): `torchrun --standalone --nproc_per_node 2 -m finetuner resume {run.path}`" in capsys.readouterr().err
    resume_training(run)  # on as many processes as before
    assert wait_for_end(run, timeout=RUN_TIMEOUT)
    status = run.status()
    assert status["state"] == COMPLETED, run.log_path.read_text()[-3000:]
    assert status["processes"] == 2 and status["step"] == stopped_at + 4
    resumed = [e for e in run.events() if e["type"] == "train_begin"][-1]
    assert resumed["step"] == stopped_at, "training continued from the checkpoint"
    assert run.model_dir.is_dir()


def test_accelerate_launch_creates_one_run_folder(tmp_path, no_dropout_model, data_file):
    config_file = tmp_path / "config.yaml"
    config_for(no_dropout_model, data_file, max_steps=4, eval_strategy="no").save(config_file)
    runs = tmp_path / "runs"
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--main_process_port", str(free_port()),
        "-m", "finetuner", "--runs_dir", str(runs), "train", str(config_file),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    (run,) = RunStore(runs).list()
    status = run.status()
    assert status["state"] == COMPLETED and status["processes"] == 2 and status["step"] == 4
    assert result.stdout.count(f"Run {run.id} in ") == 1, "only the main process announces the run"
    assert json.loads((run.eval_dir / "test_results.json").read_text())["test_accuracy"] is not None


def test_fsdp_shards_the_model_and_saves_it_whole(tmp_path, no_dropout_model, data_file, one_process_run):
    """FSDP through the Trainer's own options (docs/distributed.md), here on 2 CPU processes."""
    fsdp = {"fsdp": True, "fsdp_config": {"transformer_layer_cls_to_wrap": ["BertLayer"]}}
    run = start_training(RunStore(tmp_path / "runs"), config_for(no_dropout_model, data_file, max_steps=6, eval_strategy="no", extra_training_args=fsdp), processes=2)
    assert wait_for_end(run, timeout=RUN_TIMEOUT)
    assert run.status()["state"] == COMPLETED, run.log_path.read_text()[-3000:]
    import torch

    args = torch.load(run.model_dir / "training_args.bin", weights_only=False)
    assert args.fsdp and args.world_size == 2
    assert (run.model_dir / "model.safetensors").stat().st_size == (one_process_run.model_dir / "model.safetensors").stat().st_size, "a full model, not a shard"
    assert load_predictor(str(run.model_dir)).predict(["the plot was dreadful"])[0].keys() == {"negative", "positive"}


def _other_task(task: str, folder: Path) -> RunConfig:
    """A tiny model and data for each task besides text classification (as their own integration tests build them)."""
    from support import build_tiny_model
    from task_fixtures import build_tiny_causal_lm, build_tiny_t5, make_instruction_records, make_ner_records, make_summary_records, write_jsonl

    common = {"per_device_train_batch_size": 8, "max_steps": 4, "eval_strategy": "epoch", "logging_steps": 2, "warmup_steps": 0, "learning_rate": 5e-3}
    if task == "token-classification":
        pairs = make_ner_records(160)
        records = [{key: pairs[i][key] + pairs[i + 1][key] for key in ("tokens", "ner_tags")} for i in range(0, 160, 2)]
        model = build_tiny_model(folder / "model", [" ".join(r["tokens"]) for r in records])
        values = {"train_file": str(write_jsonl(folder / "ner.jsonl", records)), "max_seq_length": 8}  # 6 words a window: sentences of 6 to 14 are evaluated in windows
    elif task == "causal-lm":
        from finetuner.tasks.causal_lm import GENERAL_TEXT

        records = make_instruction_records(64)
        model = build_tiny_causal_lm(folder / "model", [r["instruction"] + " " + r["output"] for r in records] + GENERAL_TEXT.read_text().splitlines())
        values = {"train_file": str(write_jsonl(folder / "data.jsonl", records)), "max_seq_length": 64, "generation_max_new_tokens": 6, "generation_num_samples": 4, "use_lora": True}
    else:
        records = make_summary_records(64)
        model = build_tiny_t5(folder / "model", [r["document"] for r in records] + ["summarize :"])
        values = {"train_file": str(write_jsonl(folder / "docs.jsonl", records)), "max_seq_length": 48, "max_target_length": 12, "generation_max_new_tokens": 8, "source_prefix": "summarize: "}
    return RunConfig.from_dict({"task": task, "model_name_or_path": str(model), **common, **values})


@pytest.mark.parametrize("task", ["token-classification", "causal-lm", "seq2seq"])
def test_every_task_trains_on_two_processes(task, tmp_path):
    run = start_training(RunStore(tmp_path / "runs"), _other_task(task, tmp_path), processes=2)
    assert wait_for_end(run, timeout=RUN_TIMEOUT)
    status = run.status()
    assert status["state"] == COMPLETED and status["processes"] == 2, run.log_path.read_text()[-3000:]
    kinds = collections.Counter(e["type"] for e in run.events())
    assert kinds["train_begin"] == 1 and kinds["status"] == 2 and kinds["eval"] >= 1
    assert run.metrics("validation") and (run.model_dir / "config.json").is_file()
    if task == "token-classification":  # windows predicted on two processes are stitched back into whole sentences
        sentences = json.loads((run.path / "data_report.json").read_text())["split_sizes"]["validation"]
        predictions = pd.read_csv(run.eval_dir / "predictions_validation.csv")
        assert len(predictions) == sentences and predictions["tags"].str.split().map(len).tolist() == predictions["text"].str.split().map(len).tolist()
        assert json.loads((run.eval_dir / "report_validation.json").read_text())["long_sentences"] > 0
