"""Mixed precision by default where the hardware computes bf16 fast, the user's choice always first,
and the estimate before launch following the same choice."""

from __future__ import annotations

import json

import pytest

from finetuner.config import RunConfig, default_model_path
from finetuner.estimate import CPU_BF16_SPEEDUP, STARTUP_SECONDS, Machine, ParameterCount, estimate_training
from finetuner.precision import chosen_precision, cpu_has_fast_bf16

PARAMS = ParameterCount(total=22_000_000, embedding=12_000_000, hidden_size=384, num_layers=6, num_heads=12)


@pytest.mark.parametrize(
    ("options", "fast_bf16", "expected"),
    [
        ({}, True, "bf16"),
        ({}, False, "fp32"),
        ({"bf16": False}, True, "fp32"),
        ({"fp16": False}, True, "fp32"),
        ({"bf16": True}, False, "bf16"),
        ({"fp16": True}, True, "fp16"),
    ],
)
def test_the_users_choice_first_then_bf16_where_fast(options, fast_bf16, expected):
    assert chosen_precision(options, fast_bf16=fast_bf16) == expected


def test_bf16_units_are_read_from_the_cpu_flags(tmp_path):
    sapphire_rapids = tmp_path / "spr"
    sapphire_rapids.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n")
    zen4 = tmp_path / "zen4"
    zen4.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_vnni avx512_bf16 avx512_vpopcntdq\n")
    older = tmp_path / "icelake"
    older.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_vnni\n")
    assert cpu_has_fast_bf16(sapphire_rapids)
    assert cpu_has_fast_bf16(zen4), "AVX-512 BF16 (AMD Zen 4): bf16 dot products in hardware"
    assert not cpu_has_fast_bf16(older)
    assert not cpu_has_fast_bf16(tmp_path / "no-such-file"), "no /proc (macOS): float32"


def test_training_arguments_follow_the_choice(tmp_path):
    import torch

    from finetuner.train import training_arguments

    default = training_arguments(RunConfig.from_dict({"train_file": "x.csv"}), tmp_path)
    fast = torch.cuda.is_bf16_supported() if torch.cuda.is_available() else cpu_has_fast_bf16()
    assert default.bf16 == fast and not default.fp16
    off = training_arguments(RunConfig.from_dict({"train_file": "x.csv", "bf16": False}), tmp_path)
    assert not off.bf16 and not off.fp16


def test_estimate_follows_the_precision():
    """On a benchmarked CPU, bf16 is estimated faster (by the speed-up measured on the SST-2 benchmark) and lighter."""
    machine = Machine("cpu", "CPU, 2 cores", 8 * 2**30, 40e9, benchmarked=True)
    lengths = [30] * 512

    def estimate(bf16: bool):
        config = RunConfig.from_dict({"train_file": "x.csv", "bf16": bf16})
        return estimate_training(config, train_lengths=lengths, machine=machine, parameters=PARAMS)

    half, full = estimate(True), estimate(False)
    assert (half.precision, full.precision) == ("bf16", "fp32")
    default = RunConfig.from_dict({"train_file": "x.csv"})
    assert estimate_training(default, train_lengths=lengths, machine=Machine("cpu", "AMX CPU", 8 * 2**30, 40e9, fast_bf16=True), parameters=PARAMS).precision == "bf16"
    assert estimate_training(default, train_lengths=lengths, machine=machine, parameters=PARAMS).precision == "fp32"
    compute = lambda e: e.seconds - STARTUP_SECONDS - PARAMS.total * 4 / 200e6  # noqa: E731 - minus start-up and loading
    assert compute(full) / compute(half) == pytest.approx(CPU_BF16_SPEEDUP, rel=0.2)  # the matmul benchmark is rerun per shape
    assert half.memory_breakdown["activations"] < full.memory_breakdown["activations"]


def test_a_measured_float32_run_is_scaled_for_a_bf16_estimate(tmp_path):
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(f"model_name_or_path: {default_model_path()}\n")
    events = [
        {"type": "train_begin", "step": 0, "precision": "fp32"},
        {"type": "log", "step": 10, "tokens_per_second": 200.0, "metrics": {"loss": 0.5}},
    ]
    (run / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    machine = Machine("cpu", "CPU, 2 cores", 8 * 2**30, 40e9)

    def estimate(bf16: bool):
        config = RunConfig.from_dict({"train_file": "x.csv", "bf16": bf16})
        return estimate_training(config, train_lengths=[30] * 512, runs_dir=tmp_path / "runs", machine=machine)

    half, full = estimate(True), estimate(False)
    assert "r1, fp32" in full.rate_source and "scaled to bf16" in half.rate_source
    assert half.seconds < full.seconds
