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


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--lora_r", "8"], "--lora_r applies to the causal-lm task, and this run's task is text-classification (the default; --task chooses another), which would ignore it. Leave --lora_r out, or give --task causal-lm."),
        (["--task", "causal-lm", "--lora_alpha", "8"], "--lora_alpha sets the LoRA adapters, which train only with --use_lora: add --use_lora, or leave --lora_alpha out."),
        (["--summary_column_name", "tldr"], "--summary_column_name applies to the seq2seq task"),
        (["--task", "seq2seq", "--text_column_names", "doc"], "--text_column_names applies to the text-classification task, and this run's task is seq2seq, which would ignore it."),
        (["--task", "token-classification", "--generation_max_new_tokens", "20"], "--generation_max_new_tokens applies to the causal-lm and seq2seq tasks"),
        (["--source_prefix", "summarize: "], "--source_prefix applies to the seq2seq task"),
    ],
)
def test_a_flag_the_task_would_ignore_is_refused(flags, words):
    """`train --lora_r 8` on a classifier trained for minutes as if the flag had been taken, then dropped it."""
    from finetuner.errors import ConfigError

    args, unknown = build_parser().parse_known_args(["train", "--train_file", "x.csv", *flags])
    args.config_file = None
    with pytest.raises(ConfigError) as refused:
        config_from_args(args, unknown)
    assert words in str(refused.value)


def test_a_config_file_may_hold_every_task_option(tmp_path):
    """The studio's config file holds every option, other tasks' too: only flags typed on the command line are refused."""
    from finetuner.errors import ConfigError
    from finetuner.ui import services

    (tmp_path / "seq2seq.yaml").write_text("train_file: x.csv\ntask: seq2seq\n", encoding="utf-8")
    args, unknown = build_parser().parse_known_args(["train", "--lora_r", "8"])
    args.config_file = str(tmp_path / "seq2seq.yaml")
    with pytest.raises(ConfigError) as refused:
        config_from_args(args, unknown)
    assert "this run's task is seq2seq, which would ignore it" in str(refused.value), "the file chose the task: not 'the default'"
    (tmp_path / "config.yaml").write_text("train_file: x.csv\nlora_r: 8\nsummary_column_name: tldr\n", encoding="utf-8")
    args, unknown = build_parser().parse_known_args(["train", "--learning_rate", "1e-4"])
    args.config_file = str(tmp_path / "config.yaml")
    config = config_from_args(args, unknown)
    assert config.model.lora_r == 8 and config.training.learning_rate == 1e-4
    command = services.cli_command(config)
    assert "--lora_r" not in command and "--summary_column_name" not in command, "the studio's command names only what the task reads"
    import shlex

    args, unknown = build_parser().parse_known_args(shlex.split(command)[3:])
    args.config_file = None
    assert config_from_args(args, unknown).training.learning_rate == 1e-4, "and the CLI takes it"


def test_new_fields_have_help():
    for name in ("tokens_column_name", "prompt_column_name", "document_column_name", "use_lora", "lora_r", "packing", "label_all_tokens", "generation_max_new_tokens", "max_target_length"):
        assert field_help(name)


@pytest.mark.parametrize(
    ("kind", "options", "limit"),
    [
        ("BertConfig", {"max_position_embeddings": 128}, 128),
        ("RobertaConfig", {"max_position_embeddings": 66, "pad_token_id": 1}, 64),  # two rows go to padding
        ("GPT2Config", {"n_positions": 96}, 96),
        ("BartConfig", {"max_position_embeddings": 80}, 80),  # its table has two rows of offset
        ("T5Config", {}, None),  # relative positions: no hard limit
        ("LlamaConfig", {"max_position_embeddings": 64}, None),  # rotary: no table
    ],
)
def test_how_many_positions_a_model_reads(kind, options, limit):
    import torch
    import transformers

    from finetuner.tasks.base import position_limit

    small = {"vocab_size": 100, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32, "d_model": 16, "encoder_layers": 1, "decoder_layers": 1,
             "encoder_attention_heads": 2, "decoder_attention_heads": 2, "num_layers": 1, "num_heads": 2, "d_ff": 32, "d_kv": 8, "n_embd": 16, "n_layer": 1, "n_head": 2}
    config = getattr(transformers, kind)(**{**small, **options})
    with torch.device("meta"):
        model = transformers.AutoModel.from_config(config)
    assert position_limit(model) == limit


def test_a_max_length_longer_than_the_model_reads_is_refused_before_training():
    from finetuner.config import RunConfig
    from finetuner.errors import ConfigError
    from finetuner.tasks.base import check_max_length

    check_max_length(RunConfig.from_dict({"train_file": "x.csv", "max_seq_length": 512}))  # the bundled model's own limit
    with pytest.raises(ConfigError, match="max_seq_length 1000 is longer than .* can read: it has positions for 512 tokens. Set max_seq_length to 512 or less"):
        check_max_length(RunConfig.from_dict({"train_file": "x.csv", "max_seq_length": 1000}))


@pytest.mark.parametrize("name", list(TASKS))
def test_each_task_declares_the_options_that_change_its_tokens_and_the_studio_reads_them_there(name):
    """One owner of "which options change the tokens": the task module, beside its `inspect_example` and
    `length_statistics`. The studio's inspector and token-length chart read them from it, and take each as a keyword."""
    import inspect

    from finetuner.tasks import task_uses
    from finetuner.ui import services

    module = get_task(name)
    fields = set(RunConfig().to_dict())
    assert set(module.LENGTH_OPTIONS) <= set(module.TOKENIZATION_OPTIONS)
    for option in module.TOKENIZATION_OPTIONS:
        assert option in fields and task_uses(name, option), option
        for call in (services.inspect_row, services.token_stats):
            assert inspect.signature(call).parameters[option].kind is inspect.Parameter.KEYWORD_ONLY, (call.__name__, option)
    assert services.option_names(name) == module.TOKENIZATION_OPTIONS
    assert services.option_names(name, lengths=True) == module.LENGTH_OPTIONS
    assert set(services.tokenization_options(name, {"label_all_tokens": True, "source_prefix": "summarize: "})) == set(module.TOKENIZATION_OPTIONS)


@pytest.mark.parametrize("call", ["inspect_row", "token_stats"])
def test_a_misspelt_tokenization_option_is_pythons_own_error(call):
    """The inspector's options are keyword parameters: a typo is the TypeError any Python call gives (before
    anything is read), and token lengths no longer ignore it silently."""
    from finetuner.ui import services

    selection = {**services.default_selection(), "task": "seq2seq"}
    with pytest.raises(TypeError, match=rf"{call}\(\) got an unexpected keyword argument 'source_prefx'"):
        getattr(services, call)(selection, "no/such-model", 32, *([{}] if call == "inspect_row" else []), source_prefx="summarize: ")
