"""Out of memory is recoverable: the run fails with advice a user can act on, and one call retries it with
a batch size that fits. Also the launch command a run with several processes uses.

The out-of-memory errors here are raised by a callback with PyTorch's own messages, so the tests need no
machine that actually runs out of memory; the retry then really runs the Trainer's `auto_find_batch_size`.
"""

from __future__ import annotations

import sys

import pytest
from transformers import TrainerCallback

from finetuner.config import RunConfig
from finetuner.errors import ConfigError, RunError
from finetuner.launcher import (
    can_retry_with_smaller_batch,
    command_text,
    launch_command,
    prepare_smaller_batch_retry,
    retry_with_auto_batch_size,
    wait_for_end,
)
from finetuner.runs import COMPLETED, FAILED, RunStore
from finetuner.train import _claim_failure, _fail, is_out_of_memory, out_of_memory_details, run_training

CPU_OOM = "DefaultCPUAllocator: can't allocate memory: you tried to allocate 3221225472 bytes. Error code 12 (Cannot allocate memory)"
CUDA_OOM = "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 15.77 GiB of which 1.02 GiB is free."


def config(model_dir, data_file, **overrides) -> RunConfig:
    values = {"model_name_or_path": str(model_dir), "train_file": str(data_file), "max_seq_length": 32, "per_device_train_batch_size": 16,
              "max_steps": 3, "eval_strategy": "no", "logging_steps": 1, "warmup_steps": 0, **overrides}
    return RunConfig.from_dict(values)


def evaluation_loop():  # a frame with the Trainer's name: the error happened while evaluating
    raise RuntimeError(CUDA_OOM)


@pytest.mark.parametrize(
    "error, expected",
    [
        (RuntimeError(CPU_OOM), True),
        (RuntimeError(CUDA_OOM), True),
        (RuntimeError("MPS backend out of memory (MPS allocated: 8.00 GB)"), True),
        (MemoryError(), True),
        (type("OutOfMemoryError", (RuntimeError,), {})("boom"), True),
        (ValueError("labels out of range"), False),
        (RuntimeError("Expected all tensors to be on the same device"), False),
    ],
)
def test_out_of_memory_is_recognised(error, expected):
    assert is_out_of_memory(error) is expected


def test_the_phase_of_an_out_of_memory_error():
    with pytest.raises(RuntimeError) as in_evaluation:
        evaluation_loop()
    assert out_of_memory_details(in_evaluation.value) == {"phase": "evaluation"}
    with pytest.raises(RuntimeError) as in_training:
        raise RuntimeError(CPU_OOM)
    assert out_of_memory_details(in_training.value) == {"phase": "training"}
    assert out_of_memory_details(ValueError("no")) is None


def test_a_failed_run_says_what_to_do(tmp_path, tiny_model_dir, sentiment_csv):
    run = RunStore(tmp_path / "runs").create(config(tiny_model_dir, sentiment_csv))
    with pytest.raises(RuntimeError) as raised:
        raise RuntimeError(CUDA_OOM)
    assert _fail(run, raised.value) == FAILED
    status = run.status()
    assert status["state"] == FAILED and status["out_of_memory"] == {"phase": "training"}
    for advice in ("per_device_train_batch_size", "gradient_accumulation_steps", "activation_checkpointing", "LoRA", "auto_find_batch_size"):
        assert advice in status["error"]
    assert "Traceback" not in status["error"]
    assert can_retry_with_smaller_batch(run)


def test_retry_config_one_process(tmp_path, tiny_model_dir, sentiment_csv):
    run = RunStore(tmp_path / "runs").create(config(tiny_model_dir, sentiment_csv))
    run.update_status(state=FAILED, out_of_memory={"phase": "evaluation"}, processes=1)
    what = prepare_smaller_batch_retry(run)
    retried = run.config()
    assert retried.training.extra_training_args["auto_find_batch_size"] is True
    assert retried.training.per_device_train_batch_size == 16, "the Trainer searches from the configured size"
    assert retried.training.per_device_eval_batch_size == 32, "an evaluation OOM halves the evaluation batch"
    assert "auto_find_batch_size" in what and any(what in e.get("text", "") for e in run.events())


def test_retry_config_several_processes_keeps_the_effective_batch(tmp_path, tiny_model_dir, sentiment_csv):
    run = RunStore(tmp_path / "runs").create(config(tiny_model_dir, sentiment_csv, gradient_accumulation_steps=2))
    run.update_status(state=FAILED, out_of_memory={"phase": "training"}, processes=2)
    prepare_smaller_batch_retry(run, processes=2)
    t = run.config().training
    assert (t.per_device_train_batch_size, t.gradient_accumulation_steps) == (8, 4)
    assert "auto_find_batch_size" not in t.extra_training_args, "processes cannot search for a batch size together"
    run.path.joinpath("config.yaml").write_text(run.config_path.read_text().replace("per_device_train_batch_size: 8", "per_device_train_batch_size: 1"), encoding="utf-8")
    with pytest.raises(RunError, match="activation_checkpointing"):
        prepare_smaller_batch_retry(run, processes=2)


def test_only_an_ended_run_is_retried(tmp_path, tiny_model_dir, sentiment_csv):
    run = RunStore(tmp_path / "runs").create(config(tiny_model_dir, sentiment_csv))
    run.update_status(state=COMPLETED)
    with pytest.raises(RunError, match="completed"):
        retry_with_auto_batch_size(run)
    assert not can_retry_with_smaller_batch(run)


def test_first_failing_process_records_the_cause(tmp_path, tiny_model_dir, sentiment_csv):
    run = RunStore(tmp_path / "runs").create(config(tiny_model_dir, sentiment_csv))
    assert _claim_failure(run) is True
    assert _claim_failure(run) is False, "a process that fails because another left keeps quiet"


class OutOfMemoryAbove(TrainerCallback):
    """Raises PyTorch's CPU out-of-memory error at any step whose batch is larger than `limit`."""

    def __init__(self, limit):
        self.limit = limit

    def on_step_begin(self, args, state, control, **kwargs):
        if state.train_batch_size > self.limit:
            raise RuntimeError(CPU_OOM)


def test_out_of_memory_then_retry_finds_a_batch_size_that_fits(tmp_path, tiny_model_dir, sentiment_csv):
    run = RunStore(tmp_path / "runs").create(config(tiny_model_dir, sentiment_csv))
    assert run_training(run, callbacks=[OutOfMemoryAbove(12)]) == FAILED
    assert run.status()["out_of_memory"] == {"phase": "training"}

    prepare_smaller_batch_retry(run)  # what the studio's button and `resume --auto_find_batch_size` do
    # A limit two reductions below the configured 16: the search steps down more than once (each step a fresh
    # attempt of the Trainer), without the many more a lower limit would cost.
    assert run_training(run, resume=True, callbacks=[OutOfMemoryAbove(12)]) == COMPLETED, run.status()
    tried = [e["per_device_train_batch_size"] for e in run.events() if e["type"] == "train_begin"]
    assert tried[:2] == [16, 16] and tried[-1] <= 12 < tried[-2] and len(tried) >= 4, tried  # first run, then the search: 16, 14, 12
    status = run.status()
    assert status["state"] == COMPLETED and status["per_device_train_batch_size"] == tried[-1] and status["step"] == 3


def test_one_click_retry_launches_the_run_again(tmp_path, tiny_model_dir, sentiment_csv):
    run = RunStore(tmp_path / "runs").create(config(tiny_model_dir, sentiment_csv))
    try:
        raise RuntimeError(CPU_OOM)
    except RuntimeError as error:
        _fail(run, error)
    retry_with_auto_batch_size(run)
    assert wait_for_end(run, timeout=300)
    assert run.status()["state"] == COMPLETED, run.log_path.read_text()[-2000:]
    assert run.config().training.extra_training_args == {"auto_find_batch_size": True}


def test_launch_commands():
    assert launch_command("runs/x") == [sys.executable, "-m", "finetuner", "train", "--run_dir", "runs/x"]
    two = launch_command("runs/x", processes=2, resume=True)
    assert command_text(two) == "torchrun --standalone --nproc_per_node 2 -m finetuner train --run_dir runs/x --resume"
    accelerate = launch_command("runs/x", processes=4, launcher="accelerate")
    assert command_text(accelerate) == "accelerate launch --num_processes 4 --multi_gpu -m finetuner train --run_dir runs/x"
    fsdp = launch_command("runs/x", processes=2, launcher="accelerate", accelerate_config="fsdp.yaml")
    assert "--config_file fsdp.yaml" in command_text(fsdp) and "--multi_gpu" not in fsdp
    for bad in (0, -1, "two", 1000):
        with pytest.raises(ConfigError, match="processes"):
            launch_command("runs/x", processes=bad)
    with pytest.raises(ConfigError, match="torchrun, accelerate"):
        launch_command("runs/x", processes=2, launcher="mpirun")


def test_cli_resume_with_auto_find_batch_size(tmp_path, tiny_model_dir, sentiment_csv, capsys):
    from finetuner.cli import main

    store = RunStore(tmp_path / "runs")
    run = store.create(config(tiny_model_dir, sentiment_csv))
    run.update_status(state=FAILED, out_of_memory={"phase": "training"})
    assert main(["--runs_dir", str(store.root), "resume", run.id, "--auto_find_batch_size"]) == 0
    assert "auto_find_batch_size" in capsys.readouterr().out
    assert run.status()["state"] == COMPLETED and run.config().training.extra_training_args["auto_find_batch_size"] is True
