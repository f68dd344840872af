"""The estimate for several processes, and the measured rate it takes from the most similar earlier run
(the constants themselves are checked against measured runs by benchmarks/estimate_accuracy.py)."""

from __future__ import annotations

import json

import pytest

from finetuner.config import RunConfig, default_model_path
from finetuner.estimate import Machine, ParameterCount, count_parameters, estimate_training, measured_rate

MACHINE = Machine("cpu", "CPU, 2 cores", 8 * 2**30, 40e9)
PARAMS = ParameterCount(total=22_000_000, embedding=12_000_000, hidden_size=384, num_layers=6, num_heads=12)


def config(**values) -> RunConfig:
    return RunConfig.from_dict({"train_file": "x.csv", **values})


GPUS = Machine("cuda", "GPU", 80 * 2**30, 20e12)
FIXED = 15 + PARAMS.total * 4 / 200e6  # start-up and loading the weights


def test_several_processes_split_the_steps_not_the_memory():
    lengths = [64] * 512
    one = estimate_training(config(per_device_train_batch_size=16), train_lengths=lengths, machine=GPUS, parameters=PARAMS)
    two = estimate_training(config(per_device_train_batch_size=16), train_lengths=lengths, machine=GPUS, parameters=PARAMS, processes=2)
    assert (one.total_steps, two.total_steps) == (96, 48)
    assert (one.batch_size, two.batch_size) == (16, 32), "the effective batch counts every process"
    assert two.memory_bytes == one.memory_bytes, "memory is per device"
    compute_one, compute_two = one.seconds - FIXED, two.seconds - FIXED
    assert compute_two == pytest.approx(compute_one / 2, rel=0.05)


def test_processes_on_a_cpu_share_its_cores_and_memory():
    lengths = [64] * 512
    one = estimate_training(config(per_device_train_batch_size=16), train_lengths=lengths, machine=MACHINE, parameters=PARAMS)
    two = estimate_training(config(per_device_train_batch_size=16), train_lengths=lengths, machine=MACHINE, parameters=PARAMS, processes=2)
    assert (one.total_steps, two.total_steps) == (96, 48)
    assert two.seconds == pytest.approx(one.seconds, rel=0.05), "the same cores do the same work"
    assert two.memory_bytes == 2 * one.memory_bytes and two.memory_breakdown["other processes"] == one.memory_bytes
    assert any("share its cores" in w for w in two.warnings) and not any("share its cores" in w for w in one.warnings)


def test_lora_trains_fewer_weights():
    lengths = [64] * 512
    full = estimate_training(config(per_device_train_batch_size=16), train_lengths=lengths, machine=GPUS, parameters=PARAMS)
    lora = estimate_training(config(per_device_train_batch_size=16), train_lengths=lengths, machine=GPUS, parameters=PARAMS, trainable_parameters=PARAMS.total // 100)
    assert lora.memory_breakdown["optimizer"] == 8 * (PARAMS.total // 100) and lora.memory_breakdown["weights"] == full.memory_breakdown["weights"]
    assert (lora.seconds - FIXED) == pytest.approx((full.seconds - FIXED) * (6 - 2 * 0.99) / 6, rel=0.02), "no weight gradients for frozen weights"


def write_run(root, name, *, batch, length, tokens_per_second, processes=1, model=None):
    run = root / name
    run.mkdir(parents=True)
    model = model or default_model_path()
    (run / "config.yaml").write_text(f"model_name_or_path: {model}\nper_device_train_batch_size: {batch}\nmax_seq_length: {length}\n")
    (run / "status.json").write_text(json.dumps({"processes": processes}))
    (run / "events.jsonl").write_text(json.dumps({"type": "log", "step": 10, "tokens_per_second": tokens_per_second, "metrics": {}}) + "\n")


def test_the_rate_comes_from_the_most_similar_run(tmp_path):
    compute = count_parameters(default_model_path()).compute("text-classification")
    write_run(tmp_path, "a-same-shape", batch=32, length=128, tokens_per_second=1000.0)
    write_run(tmp_path, "b-other-shape", batch=8, length=32, tokens_per_second=300.0)  # newest, but smaller matrices
    rate, source = measured_rate(tmp_path, like=config(per_device_train_batch_size=32, max_seq_length=128))
    assert rate == pytest.approx(1000.0 * 6 * compute) and "a-same-shape" in source
    rate, source = measured_rate(tmp_path)
    assert "b-other-shape" in source, "without a config to match, the newest run"


def test_a_cpu_run_on_several_processes_measured_the_whole_machine(tmp_path):
    """Its processes shared the cores, so their tokens/s together is this machine's rate, as for one process."""
    compute = count_parameters(default_model_path()).compute("text-classification")
    write_run(tmp_path, "two", batch=32, length=128, tokens_per_second=2000.0, processes=2)
    rate, _ = measured_rate(tmp_path)
    assert rate == pytest.approx(2000.0 * 6 * compute)
