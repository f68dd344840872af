"""Task registry: each task is one module in this package; the registry describes them without importing them.

A task module implements the hooks listed in `finetuner.tasks.base.HOOKS` (data, tokenizer, features,
model, trainer, evaluation, export, inference). The generic training loop (`finetuner.train`), the
evaluation of a finished run (`finetuner.evaluate_run`) and inference (`finetuner.inference`) call only
those hooks, so adding a task is one module, one line here and one test fixture.

`TaskInfo` holds what the config, the CLI and the studio need *before* anything heavy is imported: the
task's title, its Hub `pipeline_tag`, its default model and the metrics it reports. Importing this
package imports nothing heavy, so the config can validate task names at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from types import ModuleType


@dataclass(frozen=True)
class TaskInfo:
    name: str
    module: str
    title: str
    pipeline_tag: str
    # A Hub id, or "" for the bundled offline encoder (`finetuner.config.default_model_path()`).
    default_model: str
    default_metric: str
    # Metrics every evaluation during training reports (without the `eval_` prefix): the choices of metric_for_best_model.
    metrics: tuple[str, ...]
    # The metrics a user looks at first, in the run list and the status (final evaluation included). The first
    # is the task's one score (`headline_score`): the Runs table and run labels show it, and two runs of the task are
    # compared by it where their per-example results hold it (`finetuner.compare`).
    headline: tuple[str, ...]
    # Optional features the task supports, so the config can refuse options that would be ignored.
    features: frozenset[str] = field(default_factory=frozenset)
    # True when the default model must come from the Hub (no pretrained generative model is bundled).
    needs_hub_default: bool = False
    default_max_seq_length: int = 128
    # The task's training defaults, for what the user leaves empty (text classification's differ: see below).
    default_learning_rate: float = 1e-4
    default_train_batch_size: int = 32
    # The learning rate of a fresh head (None: the learning rate; see tasks.base.with_head_learning_rate).
    default_head_learning_rate: float | None = None


TASKS: dict[str, TaskInfo] = {
    "text-classification": TaskInfo(
        name="text-classification",
        module="finetuner.tasks.text_classification",
        title="Text classification",
        pipeline_tag="text-classification",
        default_model="",
        default_metric="f1_macro",
        metrics=("f1_macro", "accuracy", "loss", "precision_macro", "recall_macro", "f1_weighted", "roc_auc", "average_precision"),
        headline=("accuracy", "f1_macro", "loss"),
        # Half the batch and learning rate of the others: twice the optimizer steps, which a few thousand
        # sentences need (SST-2, 5 seeds: 0.821 against 0.815 at batch 32 and 1e-4; benchmarks/sst2_seeds.py).
        default_learning_rate=5e-5,
        default_train_batch_size=16,
        # Its new head at 5e-3: 0.87 test accuracy instead of 0.46 after 3,000 BANKING77 sentences (benchmarks/head_learning_rate.py).
        default_head_learning_rate=5e-3,
        features=frozenset({"new_head"}),
    ),
    "token-classification": TaskInfo(
        name="token-classification",
        module="finetuner.tasks.token_classification",
        title="Named-entity recognition (token classification)",
        pipeline_tag="token-classification",
        default_model="",
        default_metric="f1",
        metrics=("f1", "precision", "recall", "accuracy", "loss"),
        headline=("f1", "precision", "recall", "accuracy", "loss"),
        features=frozenset({"label_all_tokens", "new_head"}),
        # Its new head at 5e-3 on WNUT-17 (benchmarks/head_learning_rate.py, 3 seeds): best validation F1 +0.04 at
        # every seed, reached sooner; test F1 +0.014 on average, within the seeds' spread.
        default_head_learning_rate=5e-3,
    ),
    "causal-lm": TaskInfo(
        name="causal-lm",
        module="finetuner.tasks.causal_lm",
        title="Instruction tuning (causal language model)",
        pipeline_tag="text-generation",
        default_model="HuggingFaceTB/SmolLM2-135M-Instruct",
        default_metric="loss",
        metrics=("loss", "perplexity", "mean_token_accuracy"),
        headline=("loss", "perplexity", "rougeL", "bleu"),
        features=frozenset({"lora", "packing", "completion_only_loss", "generation"}),
        needs_hub_default=True,
        default_max_seq_length=512,
    ),
    "seq2seq": TaskInfo(
        name="seq2seq",
        module="finetuner.tasks.seq2seq",
        title="Summarization (sequence-to-sequence)",
        pipeline_tag="summarization",
        default_model="google/flan-t5-small",
        default_metric="rougeL",
        metrics=("rougeL", "rouge1", "rouge2", "rougeLsum", "bleu", "loss", "gen_len"),
        headline=("rougeL", "rouge1", "rouge2", "bleu", "loss"),
        features=frozenset({"generation", "target_length"}),
        needs_hub_default=True,
        default_max_seq_length=512,
    ),
}

# Options only some tasks use: the config field and the task feature (`TaskInfo.features`) that uses it. The
# Train tab shows each with its tasks only; a comparison of two runs leaves out those neither run's task uses.
OPTION_FEATURES = {
    "head_learning_rate": "new_head",
    "label_all_tokens": "label_all_tokens",
    "use_lora": "lora", "lora_r": "lora", "lora_alpha": "lora", "lora_dropout": "lora", "lora_target_modules": "lora",
    "packing": "packing", "completion_only_loss": "completion_only_loss",
    "generation_max_new_tokens": "generation", "generation_num_samples": "completion_only_loss",  # sampled generations: causal LM only
    "max_target_length": "target_length", "source_prefix": "target_length",
    "source_lang": "target_length", "target_lang": "target_length", "forced_bos_token": "target_length",
}


def task_uses(task: str, option: str) -> bool:
    """Whether `task` uses config field `option` (every task uses the options outside OPTION_FEATURES)."""
    return option not in OPTION_FEATURES or (task in TASKS and OPTION_FEATURES[option] in TASKS[task].features)


# The data columns only one task reads (the Data tab shows each with its task): `--tokens_column_name` would be
# ignored by a text classifier as `--lora_r` would.
COLUMN_TASKS = {
    "text_column_names": "text-classification", "label_column_name": "text-classification",
    "tokens_column_name": "token-classification", "tags_column_name": "token-classification",
    "prompt_column_name": "causal-lm", "completion_column_name": "causal-lm", "input_column_name": "causal-lm",
    "document_column_name": "seq2seq", "summary_column_name": "seq2seq",
}


def tasks_reading(option: str) -> list[str]:
    """The tasks whose runs read config field `option`: a data column's own task, a task option's (OPTION_FEATURES), else every task."""
    if option in COLUMN_TASKS:
        return [COLUMN_TASKS[option]]
    return [name for name in TASKS if task_uses(name, option)]


def ignores(config, option: str) -> bool:
    """Whether a run of `config` trains without config field `option`: another task's data column or option, or a
    LoRA setting without use_lora. The CLI refuses such a flag; the studio's Reproduce command leaves it out."""
    return config.model.task not in tasks_reading(option) or (option.startswith("lora_") and not config.model.use_lora)


# The baselines the tasks score beside the model (baselines.json's keys), named as a sentence says them:
# the Evaluate tab, its plots, the model card and the CLI all read this one map.
BASELINE_NAMES = {
    "majority": "majority class",
    "tfidf_logreg": "TF-IDF + logistic regression",
    "most_frequent_tag": "most frequent tag per word",
    "lead_1": "Lead-1 (first sentence)",
    "base_model": "base model (before fine-tuning)",
}


def baseline_name(key: str) -> str:
    """A baseline's name for people ('tfidf_logreg' -> 'TF-IDF + logistic regression'); unknown keys readable too."""
    return BASELINE_NAMES.get(key, key.replace("_", " "))


def headline_score(task: str) -> str:
    """The score a run of `task` is listed and compared by: a classifier's accuracy, NER's entity f1, summarization's
    rougeL, instruction tuning's loss (its comparison pairs the ROUGE-L of its generated sample instead: a loss per
    example is not kept)."""
    return TASKS[task].headline[0]


def curve_metrics(task: str) -> tuple[str, ...]:
    """The scores (0 to 1) every evaluation of `task` reports, two at most, drawn beside the loss on its
    training curves: a classifier's macro F1 and accuracy, NER's entity F1 and precision, summarization's
    ROUGE-L and ROUGE-1, instruction tuning's token accuracy."""
    return tuple(m for m in TASKS[task].metrics if m not in ("loss", "perplexity", "gen_len"))[:2]


def get_task(name: str) -> ModuleType:
    """The module that implements task `name`."""
    return import_module(TASKS[name].module)


def task_info(name: str) -> TaskInfo:
    return TASKS[name]


def default_model(task: str) -> str:
    """The model a task starts from when the user did not choose one."""
    chosen = TASKS[task].default_model
    if chosen:
        return chosen
    from ..config import default_model_path  # noqa: PLC0415 - config imports this package lazily too

    return default_model_path()
