"""A CPU training step reuses the memory the previous step freed, as CUDA's caching allocator does on a GPU."""

from __future__ import annotations

import resource

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, TrainerCallback

from finetuner.config import RunConfig
from finetuner.runs import COMPLETED, RunStore
from finetuner.train import run_training
from support import save_seeded

WORDS = 300_000  # a 300,000 x 32 word table: its float32 gradient (38 MB) is over glibc's 32 MiB mmap threshold


class PageFaults(TrainerCallback):
    """Minor page faults of this process at the end of each training step."""

    def __init__(self):
        self.at_step: dict[int, int] = {}

    def on_step_end(self, args, state, control, **kwargs):
        self.at_step[state.global_step] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@pytest.mark.skipif(torch.cuda.is_available(), reason="the gradients of a GPU run are in its memory, not the process's")
def test_a_cpu_step_does_not_fault_in_its_gradient_pages_again(tmp_path, tiny_model_dir, sentiment_csv):
    """glibc gave each freed block over 32 MiB back to the OS, so every step faulted the word table's gradient
    in again, page by page (9,400 faults here; 21,000 a step on the bundled model, a fifth of its CPU time)."""
    model_dir = tmp_path / "wide"
    save_seeded(BertForSequenceClassification, BertConfig.from_pretrained(tiny_model_dir, vocab_size=WORDS), model_dir)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (model_dir / name).write_bytes((tiny_model_dir / name).read_bytes())
    run = RunStore(tmp_path / "runs").create(RunConfig.from_dict({
        "model_name_or_path": str(model_dir), "train_file": str(sentiment_csv), "max_seq_length": 32, "per_device_train_batch_size": 8,
        "eval_strategy": "no", "max_steps": 8, "bf16": False,
    }))
    faults = PageFaults()
    assert run_training(run, callbacks=[faults]) == COMPLETED, run.status()
    per_step = (faults.at_step[8] - faults.at_step[3]) / 5
    gradient_pages = WORDS * 32 * 4 // resource.getpagesize()
    assert per_step < gradient_pages / 5, f"{per_step:.0f} page faults a step; the word table's gradient alone is {gradient_pages} pages"
