"""The run config: validated on construction with messages a user can act on; YAML/JSON round trip."""

from __future__ import annotations

import dataclasses
import re

import pytest
import yaml

from finetuner.config import RunConfig, field_help
from finetuner.tasks import TASKS
from finetuner.errors import ConfigError


def test_defaults_are_valid_and_point_at_the_bundled_model():
    config = RunConfig()
    assert config.model.model_name_or_path.endswith("model")
    assert config.training.train_sampling_strategy == "group_by_length"


@pytest.mark.parametrize(
    ("task", "learning_rate", "batch_size"),
    [("text-classification", 5e-5, 16), ("token-classification", 1e-4, 32), ("causal-lm", 1e-4, 32), ("seq2seq", 1e-4, 32)],
)
def test_each_task_fills_in_its_own_training_defaults(task, learning_rate, batch_size):
    config = RunConfig.from_dict({"task": task})
    assert (config.training.learning_rate, config.training.per_device_train_batch_size) == (learning_rate, batch_size)
    chosen = RunConfig.from_dict({"task": task, "learning_rate": 3e-4, "per_device_train_batch_size": 4})
    assert (chosen.training.learning_rate, chosen.training.per_device_train_batch_size) == (3e-4, 4)


def test_a_saved_config_keeps_the_filled_in_defaults(tmp_path, monkeypatch):
    """A run's frozen config says what it trained with, so a later change of the task's defaults cannot change it."""
    RunConfig().save(tmp_path / "config.yaml")
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert (saved["learning_rate"], saved["per_device_train_batch_size"]) == (5e-5, 16)
    changed = dataclasses.replace(TASKS["text-classification"], default_learning_rate=1e-3, default_train_batch_size=64)
    monkeypatch.setitem(TASKS, "text-classification", changed)
    loaded = RunConfig.load(tmp_path / "config.yaml")
    assert (loaded.training.learning_rate, loaded.training.per_device_train_batch_size) == (5e-5, 16)
    assert RunConfig().training.learning_rate == 1e-3, "a new config does take the changed default"


def test_a_new_head_has_its_own_learning_rate_where_a_task_has_one():
    assert RunConfig().training.head_learning_rate == 5e-3, "text classification's head trains at 5e-3 by default"
    assert RunConfig.from_dict({"task": "token-classification"}).training.head_learning_rate == 5e-3, "and NER's"
    assert "the task's default (5e-3)" in field_help("head_learning_rate")
    assert RunConfig.from_dict({"task": "causal-lm"}).training.head_learning_rate is None, "no new head: no such rate"
    assert RunConfig.from_dict({"task": "token-classification", "head_learning_rate": 1e-3}).training.head_learning_rate == 1e-3
    with pytest.raises(ConfigError, match="head_learning_rate applies to the text-classification and token-classification tasks, not to causal-lm; leave it empty or change the task"):
        RunConfig.from_dict({"task": "causal-lm", "head_learning_rate": 1e-3})
    with pytest.raises(ConfigError, match="head_learning_rate must be greater than 0 and at most 1"):
        RunConfig.from_dict({"head_learning_rate": 2})


def test_a_run_frozen_before_the_head_learning_rate_keeps_training_its_head_at_the_learning_rate(tmp_path):
    """Its checkpoints' optimizer state has no group for a head: resuming with one would fail, and it would not reproduce."""
    from finetuner.runs import RunStore

    run = RunStore(tmp_path).create(RunConfig())
    assert run.config().training.head_learning_rate == 5e-3
    frozen = yaml.safe_load(run.config_path.read_text())
    del frozen["head_learning_rate"]
    run.config_path.write_text(yaml.safe_dump(frozen))
    assert run.config().training.head_learning_rate == 5e-5, "its learning rate"
    run.config().replace(per_device_train_batch_size=8).save(run.config_path)  # as a retry with a smaller batch does
    assert run.config().training.head_learning_rate == 5e-5, "still so once saved again"


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_round_trip(tmp_path, suffix):
    config = RunConfig.from_dict({"train_file": "a.csv", "learning_rate": 3e-5, "text_column_names": "q,a", "fp16": False, "optim": "adamw_torch"})
    path = tmp_path / f"config{suffix}"
    config.save(path)
    loaded = RunConfig.load(path)
    assert loaded == config
    assert loaded.data.text_column_names == ["q", "a"]
    assert loaded.training.extra_training_args == {"fp16": False, "optim": "adamw_torch"}


def test_nested_sections_are_accepted():
    config = RunConfig.from_dict({"training": {"num_train_epochs": 2}, "model": {"max_seq_length": 64}})
    assert config.training.num_train_epochs == 2 and config.model.max_seq_length == 64


def test_strings_from_a_form_are_coerced():
    config = RunConfig.from_dict({"learning_rate": "2e-5", "per_device_train_batch_size": "8", "trust_remote_code": "false", "early_stopping_patience": ""})
    assert config.training.learning_rate == 2e-5
    assert config.training.per_device_train_batch_size == 8
    assert config.model.trust_remote_code is False
    assert config.training.early_stopping_patience is None



def test_early_stopping_patience_0_never_stops_early_as_the_form_says():
    """The form's help says '0 = never stop early': a config file may say so too, even without evaluations."""
    config = RunConfig.from_dict({"early_stopping_patience": 0, "eval_strategy": "no"})
    assert not config.training.early_stopping_patience


@pytest.mark.parametrize(
    "values, words",
    [
        ({"learning_rate": 0}, "learning_rate must be greater than 0"),
        ({"learning_rate": 5}, "far too large"),
        ({"per_device_train_batch_size": -1}, "per_device_train_batch_size must be greater than 0"),
        ({"num_train_epochs": 0}, "num_train_epochs must be greater than 0"),
        ({"lr_scheduler_type": "zigzag"}, "lr_scheduler_type 'zigzag' is not one of"),
        ({"eval_strategy": "steps"}, "needs eval_steps"),
        ({"eval_strategy": "steps", "eval_steps": -5}, "eval_steps must be a whole number of optimizer steps, 1 or more (0 or empty: unset), got -5"),
        ({"early_stopping_patience": 2, "eval_strategy": "no"}, "early stopping needs evaluations"),
        ({"early_stopping_patience": -1}, "early_stopping_patience must be 1 or more; 0 or empty never stops early"),
        ({"max_seq_length": 4}, "max_seq_length must be between 8 and 8192"),
        ({"task": "image-generation"}, "Unknown task 'image-generation'"),
        ({"validation_split_ratio": 1.5}, "validation_split_ratio must be between 0 and 1"),
        ({"text_column_names": "a,b,c"}, "give one text column, or two"),
        ({"dataset_name": "x/y", "train_file": "a.csv"}, "not both"),
        ({"learning_rat": 1e-5}, "Did you mean 'learning_rate'?"),
        ({"hub_token": "hf_secret"}, "must not hold a token"),
        ({"push_to_hub": True, "hub_model_id": "me/model"}, "hub_model_id, push_to_hub cannot be passed to the Trainer"),
        ({"per_device_train_batch_size": "eight"}, "per_device_train_batch_size expects int, got 'eight'"),
        ({"num_train_epochs": [1, 2]}, "num_train_epochs expects float, got [1, 2]"),
        ({"freeze_embeddings": {"yes": 1}}, "freeze_embeddings expects bool, got {'yes': 1}"),
        ({"max_steps": 0}, "max_steps must be -1 (train for num_train_epochs) or at least 1, got 0"),
        ({"num_train_epochs": "inf"}, "num_train_epochs must be a finite number, got inf"),
        ({"learning_rate": "nan"}, "learning_rate must be a finite number, got nan"),
        ({"seed": -1}, "seed must be a whole number from 0 to 4,294,967,295 (2**32 - 1), got -1"),  # the data split failed inside the run
        ({"seed": 2**32}, "seed must be a whole number from 0 to 4,294,967,295 (2**32 - 1), got 4294967296"),
    ],
)
def test_invalid_values_say_what_to_fix(values, words):
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict(values)
    assert words in str(info.value)


def test_token_never_in_the_error_message():
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict({"token": "hf_canary_value"})
    assert "hf_canary_value" not in str(info.value)


def test_every_field_has_help():
    for name in RunConfig().to_dict():
        assert field_help(name), name


@pytest.mark.parametrize(
    ("name", "attribute"),
    [("learning_rate", "default_learning_rate"), ("per_device_train_batch_size", "default_train_batch_size"), ("max_seq_length", "default_max_seq_length"), ("metric_for_best_model", "default_metric")],
)
def test_help_names_every_tasks_own_default(name, attribute):
    """The help of an option that defaults to the task's own value says those values in words: each must be current."""
    from finetuner.tasks import TASKS

    words = field_help(name)
    for task, info in TASKS.items():
        value = getattr(info, attribute)
        if isinstance(value, float):  # as people write learning rates: 5e-5
            mantissa, exponent = f"{value:e}".split("e")
            value = f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
        shown = str(value)
        assert re.search(rf"(?<![\w.]){re.escape(shown)}(?![\w.])", words), f"{task}'s {name} {shown} is not in its help: {words}"


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        RunConfig.load(tmp_path / "nope.yaml")


def test_bf16_is_accepted_without_a_gpu(tmp_path):
    """`--bf16 true` on a machine without a GPU trains with CPU autocast instead of failing in TrainingArguments."""
    import torch

    from finetuner.train import training_arguments

    config = RunConfig.from_dict({"train_file": "reviews.csv", "bf16": True})
    assert config.training.extra_training_args == {"bf16": True}
    args = training_arguments(config, tmp_path)
    assert args.bf16 and (torch.cuda.is_available() or args.use_cpu)


@pytest.mark.parametrize(
    "values, words",
    [
        ({"num_train_epochs": 1, "extra_training_args": {"num_train_epochs": 5}}, "num_train_epochs has its own option; set it there (num_train_epochs: 5)"),
        ({"extra_training_args": {"learning_rate": 1e-3}}, "learning_rate has its own option"),
        ({"extra_training_args": {"output_dir": "/tmp/elsewhere"}}, "output_dir cannot be set: a run keeps its checkpoints in its own folder"),
        ({"eval_steps": 50}, "eval_steps 50 applies only with eval_strategy 'steps' (it is 'epoch')"),
    ],
)
def test_options_the_trainer_would_take_otherwise_than_the_config_says_are_refused_before_launch(values, words):
    """The run would train with another value than its config, plan, estimate and card show (an extra TrainingArgument
    overriding a field, an eval_steps the Trainer ignores), or keep its checkpoints where Resume never looks."""
    from finetuner.train import check_options

    config = RunConfig.from_dict({"train_file": "reviews.csv", **values})
    with pytest.raises(ConfigError) as info:
        check_options(config)
    assert words in str(info.value)


def test_numbers_written_as_people_write_them_are_numbers(tmp_path):
    """PyYAML reads 1e-8 as a string (YAML 1.1 wants 1.0e-8): a config file, the form's extra TrainingArguments and a
    CLI flag's value take it as the float it is, as JSON and YAML 1.2 do; a quoted one stays a string."""
    from finetuner.cli import _passthrough
    from finetuner.train import check_options
    from finetuner.ui.services import parse_extra_args

    path = tmp_path / "config.yaml"
    path.write_text("train_file: reviews.csv\nlearning_rate: 1e-4\nadam_epsilon: 1e-8\nextra_training_args:\n  max_grad_norm: 5E-1\n  run_name: '1e3'\n")
    config = RunConfig.load(path)
    assert config.training.learning_rate == 1e-4
    assert config.training.extra_training_args == {"adam_epsilon": 1e-8, "max_grad_norm": 0.5, "run_name": "1e3"}
    check_options(config)  # it said: adam_epsilon expects float, got '1e-8'
    assert parse_extra_args("adam_epsilon: 1e-8") == {"adam_epsilon": 1e-8}
    assert _passthrough(["--adam_epsilon", "1e-8"]) == {"adam_epsilon": 1e-8}


def test_the_checks_before_launch_say_at_once_that_an_uncached_hub_model_cannot_be_reached(tmp_path, monkeypatch):
    """Start, Estimate and the CLI check the options before launch; with the Hub unreachable (a local port nothing
    listens on) and the model not in the cache, the check of the model's kind read its config.json through
    huggingface_hub's retries (about 29 s) and then said only that the Hub is unreachable."""
    import time

    import huggingface_hub.constants as constants

    from finetuner.errors import ModelLoadError
    from finetuner.train import check_options
    from support import free_port

    address = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # tests/conftest.py turns it on
    monkeypatch.setattr(constants, "ENDPOINT", address)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", address + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf_cache"))  # empty: nothing cached
    started = time.monotonic()
    with pytest.raises(ModelLoadError, match=r"the Hugging Face Hub cannot be reached from here \(ConnectError\), and the model is not in the local cache"):
        check_options(RunConfig.from_dict({"model_name_or_path": "someone/not-cached-either", "train_file": str(tmp_path / "data.csv")}))
    assert time.monotonic() - started < 12, "huggingface_hub's retries were waited out"


def test_no_is_the_strategy_transformers_documents_not_false(tmp_path):
    """YAML 1.1 reads no, yes, on and off as booleans: `save_strategy: no` became False and the run was refused
    with "False is not a valid SaveStrategy", `eval_strategy: no` with "eval_strategy 'False' is not one of"."""
    path = tmp_path / "config.yaml"
    path.write_text("train_file: reviews.csv\neval_strategy: no\nsave_strategy: no\nlogging_strategy: no\nbf16: no\ndisable_tqdm: yes\nfreeze_embeddings: on\n")
    config = RunConfig.load(path)
    assert config.training.eval_strategy == "no"
    assert config.model.freeze_embeddings is True
    assert config.training.extra_training_args == {"save_strategy": "no", "logging_strategy": "no", "bf16": False, "disable_tqdm": True}


def test_cli_flags_say_no_as_transformers_scripts_do(tmp_path):
    """`--save_strategy no` (a value transformers' example scripts take) saves nothing; `--bf16 no` turns bf16 off."""
    from finetuner.cli import build_parser, config_from_args
    from finetuner.train import training_arguments

    args, unknown = build_parser().parse_known_args(["train", "--train_file", "reviews.csv", "--eval_strategy", "no", "--save_strategy", "no", "--bf16", "no"])
    args.config_file = None
    config = config_from_args(args, unknown)
    trainer_args = training_arguments(config, tmp_path)
    assert (trainer_args.eval_strategy, trainer_args.save_strategy, trainer_args.bf16) == ("no", "no", False)
    assert RunConfig.from_dict(config.to_dict()) == config, "and the saved config reads back the same"
