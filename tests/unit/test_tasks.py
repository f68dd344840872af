"""The task registry: every task implements the same hooks, and the config and CLI know every task."""

from __future__ import annotations


import pytest

from finetuner.cli import build_parser, config_from_args
from finetuner.config import RunConfig, field_help
from finetuner.tasks import TASKS, default_model, get_task
from finetuner.tasks.base import CONSTANTS, HOOKS


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_implements_every_hook(name):
    module = get_task(name)
    missing = [hook for hook in (*HOOKS, *CONSTANTS) if not hasattr(module, hook)]
    assert not missing, f"{name} lacks {missing}"
    assert module.PIPELINE_TAG == TASKS[name].pipeline_tag


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_has_valid_defaults(name):
    info = TASKS[name]
    config = RunConfig.from_dict({"task": name})
    assert config.model.model_name_or_path == default_model(name)
    assert config.training.metric_for_best_model == info.default_metric in info.metrics
    assert config.model.max_seq_length == info.default_max_seq_length
    assert RunConfig.from_dict(config.to_dict()) == config, "the resolved defaults round-trip"


def test_the_four_tasks_and_their_hub_tags():
    assert {n: t.pipeline_tag for n, t in TASKS.items()} == {
        "text-classification": "text-classification",
        "token-classification": "token-classification",
        "causal-lm": "text-generation",
        "seq2seq": "summarization",
    }


def test_cli_flags_reach_the_new_fields():
    parser = build_parser()
    args, unknown = parser.parse_known_args(
        ["train", "--task", "causal-lm", "--use_lora", "--lora_r", "8", "--lora_target_modules", "q_proj,v_proj", "--packing", "true", "--completion_only_loss", "false", "--train_file", "x.jsonl"]
    )
    args.config_file = None
    config = config_from_args(args, unknown)
    assert config.model.use_lora and config.model.lora_r == 8 and config.model.lora_target_modules == ["q_proj", "v_proj"]
    assert config.training.packing and not config.training.completion_only_loss
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--task", "image-generation"])


def test_new_fields_have_help():
    for name in ("tokens_column_name", "prompt_column_name", "document_column_name", "use_lora", "lora_r", "packing", "label_all_tokens", "generation_max_new_tokens", "max_target_length"):
        assert field_help(name)
