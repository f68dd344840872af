"""The model card of a finished run: Hub metadata, model-index results, the story of the run, and images.

`build_card(run, CardOptions(...))` reads only the run folder (config, data report, token statistics,
events, evaluation reports, baselines) and returns a `CardBundle`: the README text, made with
`huggingface_hub.ModelCard`/`ModelCardData` so the Hub shows its license, base model, datasets, tags and
evaluation results, and the PNG images it links to (training curve, confusion matrix). Nothing is
written anywhere; `finetuner.hub.push_run` uploads the bundle, the studio previews it.

What the card never shows: local paths of the machine that trained (only file names), tokens, and
(for local data files) the user's own texts: examples in the card come from public Hub datasets only.
Images are drawn with matplotlib (headless, no browser needed), imported only when a card is built.
"""

from __future__ import annotations

import difflib
import io
import math
import re
import time
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .config import RunConfig, default_model_path
from .errors import ConfigError, RunError
from .inference import no_model_message
from .runs import COMPLETED, Run, read_json
from .tasks import TASKS, baseline_name, curve_metrics

BUNDLED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
BUNDLED_MODEL_LICENSE = "apache-2.0"
HUB_RECORD = "hub.json"  # in a run folder: where its model and demo Space were pushed (finetuner.hub writes it)
# In a card's metadata: the run whose model the repo holds, so that a push under a default name can tell
# another run's model (which it must not replace) from this run's own (which it updates).
RUN_METADATA_KEY = "finetuner_run"
CURVE_IMAGE = "images/training_curve.png"
CONFUSION_IMAGE = "images/confusion_matrix.png"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$|^[A-Za-z0-9][\w.-]*$")
# key -> (display name, Hub metric type, metric args). The Hub groups model-index results by type.
METRICS = {
    "accuracy": ("Accuracy", "accuracy", None),
    "f1_macro": ("F1 (macro)", "f1", {"average": "macro"}),
    "precision_macro": ("Precision (macro)", "precision", {"average": "macro"}),
    "recall_macro": ("Recall (macro)", "recall", {"average": "macro"}),
    "f1_weighted": ("F1 (weighted)", "f1", {"average": "weighted"}),
    "roc_auc": ("ROC AUC", "roc_auc", None),
    "average_precision": ("Average precision", "average_precision", None),
    "f1": ("F1", "f1", None),
    "precision": ("Precision", "precision", None),
    "recall": ("Recall", "recall", None),
    "rouge1": ("ROUGE-1", "rouge", None),
    "rouge2": ("ROUGE-2", "rouge", None),
    "rougeL": ("ROUGE-L", "rouge", None),
    "rougeLsum": ("ROUGE-Lsum", "rouge", None),
    "bleu": ("BLEU", "bleu", None),
    "perplexity": ("Perplexity", "perplexity", None),
    "mean_token_accuracy": ("Mean token accuracy", "accuracy", None),
    "loss": ("Loss", "loss", None),
}
CLASSIFICATION_HEADLINE = ("accuracy", "f1_macro", "precision_macro", "recall_macro")
CLASSIFICATION_TABLE = CLASSIFICATION_HEADLINE + ("f1_weighted", "roc_auc", "average_precision")
NOT_IN_MODEL_INDEX = ("loss", "gen_len")
# Per pipeline tag: what the model does, in a sentence.
TASK_PHRASES = {
    "text-classification": "classifies {kind} into {n} labels ({labels})",
    "token-classification": "tags each word of a text with one of {n} labels ({labels})",
    "text-generation": "follows instructions and generates text",
    "summarization": "writes a summary of a text",
    "text2text-generation": "turns a text into another text",
}
# What each baseline (baselines.json's keys) is, as the card says it after the baseline's name.
BASELINE_NOTES = {
    "majority": "always predicts the training split's most frequent label",
    "tfidf_logreg": "is trained on the same training split (a model that does not beat it is not yet worth its size)",
    "most_frequent_tag": "tags each word with its most frequent tag in the training split",
    "lead_1": "takes each document's first sentence as its summary",
    "base_model": "answers the same prompts",
}
FRAMEWORKS = (("Transformers", "transformers"), ("PyTorch", "torch"), ("Datasets", "datasets"), ("Tokenizers", "tokenizers"), ("huggingface_hub", "huggingface_hub"))


@dataclass
class CardOptions:
    """What the run folder cannot know: where the model goes and how its author wants it described."""

    repo_id: str | None = None  # "user/name": the usage snippet and the model-index name use it
    license: str | None = None  # a Hub license id (apache-2.0, mit, ...); the bundled model's own when empty
    license_name: str | None = None  # license 'other': an id for it (my-license-1.0), as the Hub asks
    license_link: str | None = None  # license 'other': where to read it (a URL, or LICENSE for a file in the repo)
    language: list[str] | str | None = None  # ISO 639-1 codes, e.g. "en"
    description: str | None = None  # a paragraph written by the author, shown first
    base_model: str | None = None  # Hub id of the base model when training used a local folder
    dataset_id: str | None = None  # Hub dataset id of the training data when it was a local file
    tags: list[str] = field(default_factory=list)
    example_texts: list[str] | None = None  # for the usage snippet and the demo Space
    adapter: bool = False  # a LoRA run pushed as its adapter (library_name: peft), not as merged weights


@dataclass
class CardBundle:
    """A card ready to push: `text` is README.md; `images` maps paths in the repo to PNG bytes."""

    text: str
    images: dict[str, bytes]
    metadata: dict[str, Any]
    example_texts: list[str]

    @property
    def body(self) -> str:
        """The card without its YAML header, for a Markdown preview."""
        return re.sub(r"^---\n.*?\n---\n", "", self.text, count=1, flags=re.S)


def build_card(run: Run, options: CardOptions | None = None, *, images: bool = True) -> CardBundle:
    """The model card of a completed run. Raises `RunError` when the run has no final model."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData  # noqa: PLC0415 - not needed at start-up

    options = options or CardOptions()
    check_options(options)
    if run.state != COMPLETED or not run.model_dir.is_dir():
        raise RunError(no_model_message(run))
    facts = _RunFacts.read(run)
    config = facts.config
    base_model = options.base_model or hub_base_model(config.model.model_name_or_path)
    if options.adapter:
        adapter_base_model(run, options)  # raises when there is no adapter, or its base is not on the Hub
    dataset_id = options.dataset_id or config.data.dataset_name
    model_name = (options.repo_id or run.id).split("/")[-1]
    license_ = options.license or (BUNDLED_MODEL_LICENSE if base_model == BUNDLED_MODEL_ID else None)
    language = [options.language] if isinstance(options.language, str) else (list(options.language) if options.language else None)
    split, metrics = facts.headline_split()
    dataset_label = dataset_id or facts.data_file_name or "the training data"

    pipeline_tag = facts.pipeline_tag
    dataset_type, dataset_name = (dataset_id, dataset_id) if dataset_id else local_dataset(facts.data_file_name)
    eval_results = []
    for key in facts.headline_metrics():
        if key in metrics and key not in NOT_IN_MODEL_INDEX and math.isfinite(metrics[key]):  # a diverged run's NaN is no result
            name, metric_type, args = METRICS.get(key, (key, key, None))
            eval_results.append(
                EvalResult(
                    task_type=pipeline_tag,
                    task_name=facts.task_title,
                    dataset_type=dataset_type,
                    dataset_name=dataset_name,
                    dataset_config=config.data.dataset_config_name if dataset_id else None,
                    dataset_split=facts.published_split(split),
                    metric_type=metric_type,
                    metric_name=name,
                    metric_value=round(float(metrics[key]), 4),
                    metric_args=args,
                )
            )
    card_data = ModelCardData(
        model_name=model_name,
        base_model=base_model,
        datasets=[dataset_id] if dataset_id else None,
        language=language,
        license=license_,
        license_name=options.license_name if license_ == "other" else None,
        license_link=options.license_link if license_ == "other" else None,
        library_name="peft" if options.adapter else "transformers",
        pipeline_tag=pipeline_tag,
        tags=_unique([pipeline_tag, "finetuner", *(["lora"] if facts.lora else []), *(["peft"] if options.adapter else []), *options.tags]),
        metrics=_unique([r.metric_type for r in eval_results]) or None,
        eval_results=eval_results or None,
        **{RUN_METADATA_KEY: run.id},
    )
    examples = options.example_texts or facts.public_examples(dataset_id is not None and dataset_id == config.data.dataset_name) or [PLACEHOLDER_EXAMPLES.get(pipeline_tag, PLACEHOLDER_EXAMPLES["text-classification"])]
    rendered_images: dict[str, bytes] = {}
    if images:
        curve = training_curve_png(facts.events, metrics=curve_metrics(config.model.task))
        if curve:
            rendered_images[CURVE_IMAGE] = curve
        report = facts.report(split)
        matrix = (report or {}).get("confusion_matrix") or (report or {}).get("tag_confusion_matrix")
        if matrix and (report or {}).get("label_names"):
            rendered_images[CONFUSION_IMAGE] = confusion_matrix_png(matrix, report["label_names"])
    body = _Body(facts, options, base_model=base_model, dataset_label=dataset_label, dataset_id=dataset_id, split=split, metrics=metrics, examples=examples, images=rendered_images).render()
    card = ModelCard(f"---\n{card_data.to_yaml()}\n---\n\n{body}")
    return CardBundle(text=str(card), images=rendered_images, metadata=card.data.to_dict(), example_texts=examples)


def local_dataset(file_name: str | None) -> tuple[str, str]:
    """(type, name) of model-index's dataset for training data from a local file. The Hub's model-index wants a Hub
    dataset id as the type, and huggingface_hub's parser requires one; a file's slug (imdb.csv: `imdb`) is often a
    real Hub dataset, which the Hub would link the card to. A colon is in no Hub id, so `local:imdb.csv` names the
    file and can be taken for no dataset."""
    file = file_name or "training data"
    return f"local:{file}", f"{file} (local file)"


LICENSES_URL = "https://huggingface.co/docs/hub/repositories-licenses"
LICENSE_ID = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")  # the shape of every Hub license id
# The license ids the Hub accepts in a card's `license:` (the table at LICENSES_URL, hub-docs
# docs/hub/repositories-licenses.md). A license that is in none: 'other'.
HUB_LICENSES = (
    "apache-2.0", "mit", "openrail", "bigscience-openrail-m", "creativeml-openrail-m", "bigscience-bloom-rail-1.0", "bigcode-openrail-m",
    "afl-3.0", "artistic-2.0", "bsl-1.0", "bsd", "bsd-2-clause", "bsd-3-clause", "bsd-3-clause-clear", "c-uda", "cc", "cc0-1.0",
    "cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0", "cc-by-sa-3.0", "cc-by-sa-4.0", "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0",
    "cc-by-nd-4.0", "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0",
    "cdla-sharing-1.0", "cdla-permissive-1.0", "cdla-permissive-2.0", "wtfpl", "ecl-2.0", "epl-1.0", "epl-2.0", "etalab-2.0", "eupl-1.1", "eupl-1.2",
    "agpl-3.0", "gfdl", "gpl", "gpl-2.0", "gpl-3.0", "lgpl", "lgpl-2.1", "lgpl-3.0", "isc", "h-research", "intel-research", "lppl-1.3c", "ms-pl", "apple-ascl", "apple-amlr", "mpl-2.0", "odc-by",
    "odbl", "openmdw-1.0", "openrail++", "osl-3.0", "postgresql", "ofl-1.1", "ncsa", "unlicense", "zlib", "pddl", "lgpl-lr", "deepfloyd-if-license",
    "fair-noncommercial-research-license", "llama2", "llama3", "llama3.1", "llama3.2", "llama3.3", "llama4", "grok2-community", "gemma", "unknown", "other",
)


def check_options(options: CardOptions) -> None:
    """Refuse card details typed by the user that the Hub would reject or link to nowhere (a folder as the base
    model, a file name as the dataset, a license not shaped as an id), with what to give instead, before anything is
    uploaded. Which ids the Hub takes is the Hub's to judge (`hub.check_card_with_hub`): a list kept here would
    refuse an id the Hub added since."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id  # noqa: PLC0415

    for value, what, example in ((options.base_model, "Base model", "google-bert/bert-base-uncased"), (options.dataset_id, "Dataset", "stanfordnlp/imdb")):
        try:
            if value:
                validate_repo_id(value)
        except HFValidationError:
            raise ConfigError(
                f"{what} '{value}' is not a Hub id: give it as on the Hub, 'namespace/name' (e.g. '{example}'), or leave it empty"
                + (" when the data is not on the Hub." if what == "Dataset" else ".")
            ) from None
    if options.license and not LICENSE_ID.match(options.license):
        raise ConfigError(f"License '{options.license}' is not a Hub license id{_did_you_mean(options.license)}: use one of {LICENSES_URL} (e.g. apache-2.0, mit), or 'other'.")
    if (options.license_name or options.license_link) and options.license != "other":
        given = f"license '{options.license}' is a Hub id, which needs neither" if options.license else "no license was given"
        raise ConfigError(
            f"A license name and link describe a license that is not on the Hub's list, given with the license 'other' ({given}): "
            "pass --license other with them (on the Hub tab: License 'other'), or leave them out."
        )


def _did_you_mean(license_: str) -> str:
    """' (did you mean x or y?)' for the ids of `HUB_LICENSES` close to `license_` (a near miss: 'apache2', 'MIT'), else ''."""
    close = difflib.get_close_matches(license_.lower(), HUB_LICENSES, n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def _license_key(license_: str) -> str:
    """`license_` without case, spacing, punctuation and the words 'the', 'license', 'version': 'Apache License,
    Version 2.0', 'Apache 2.0' and 'apache-2.0' are one key, as are 'MIT License' and 'mit'."""
    words = re.sub(r"\b(the|licen[cs]e|version)\b", " ", license_.lower())
    return re.sub(r"[^a-z0-9.+]", "", words)


def hub_license_id(license_: str) -> str | None:
    """The Hub license id `license_` is written for when it is that id written otherwise ('Apache 2.0', 'MIT License',
    'CC BY 4.0') and no other id of `HUB_LICENSES` is written so; None when none is, or several are (ambiguous)."""
    if license_ in HUB_LICENSES:
        return license_
    matches = [hub_id for hub_id in HUB_LICENSES if _license_key(hub_id) == _license_key(license_)]
    return matches[0] if len(matches) == 1 else None


def other_license_warning(options: CardOptions) -> str | None:
    """What a card with `license: other` lacks that the Hub asks for (LICENSES_URL: "set a name for it in
    `license_name`"; the card template: `license_link`, a URL or a LICENSE file in the repo). The Hub takes the card
    without them, but it shows no license then. None when nothing is missing."""
    if options.license != "other" or (options.license_name and options.license_link):
        return None
    missing = " and ".join(what for what, value in (("its name (--license_name, an id such as my-license-1.0)", options.license_name), ("where to read it (--license_link, a URL)", options.license_link)) if not value)
    return (
        f"License 'other' says only that the license is not on the Hub's list: the Hub asks for {missing}, "
        "or the model page shows the license only as 'other' (on the Hub tab: License name, License link)."
    )


def license_warning(license_: str | None) -> str | None:
    """Why the Hub may refuse `license_`: it is none of the ids `HUB_LICENSES` lists (the Hub may have added it
    since), with the close ones. Said by an offline card preview; a push asks the Hub itself."""
    if not license_ or license_ in HUB_LICENSES:
        return None
    return (
        f"License '{license_}' is not a Hub license id that finetuner knows{_did_you_mean(license_)}"
        + f": the Hub refuses a card with an unknown id. Use one of those listed at {LICENSES_URL} (e.g. apache-2.0, mit, cc-by-4.0), or 'other' for a license that is not there."
    )


ADAPTER_DIR = "adapter"  # <run>/adapter/: a LoRA run's adapters and tokenizer (tasks/causal_lm.py save_model)
# A chat template's thinking switch set as training set it (`_RunFacts.thinking_switch`), in the snippet's calls.
THINKING_OFF = ", enable_thinking=False"
THINKING_OFF_PIPELINE = ', tokenizer_encode_kwargs={"enable_thinking": False}'


def adapter_dir(run: Run) -> Path | None:
    """The run's saved LoRA adapter folder, or None when it was not trained with LoRA."""
    folder = run.path / ADAPTER_DIR
    return folder if (folder / "adapter_config.json").is_file() else None


def adapter_base_model(run: Run, options: CardOptions | None = None) -> str:
    """The Hub id a finished run's adapter is loaded on top of (see `planned_adapter_base`)."""
    if adapter_dir(run) is None:
        raise RunError(f"Run {run.id} was not trained with LoRA (it has no adapter/ folder), so there is no adapter to push: push the full model.")
    return planned_adapter_base(run.config(), run.id, options)


def planned_adapter_base(config: RunConfig, run_id: str, options: CardOptions | None = None) -> str:
    """The Hub id this run's adapter will be loaded on top of, known before training (push when finished).
    An adapter is useless without its base, so a base that is only a local folder (unknown on the Hub)
    is an error that says what to do."""
    if not config.model.use_lora:
        raise RunError(f"Run {run_id} does not train with LoRA, so it has no adapter to push: push the full model.")
    model = config.model.model_name_or_path
    base = (options.base_model if options else None) or hub_base_model(model)
    if not base:
        raise RunError(
            f"An adapter is loaded on top of its base model, which must be on the Hub, but run {run_id} started from the local folder "
            f"'{Path(model).name}'. Give the base model's Hub id (--base_model, or 'Base model on the Hub' under the Hub tab's Model card details), or push the merged model."
        )
    return base


def hub_base_model(model_name_or_path: str) -> str | None:
    """The Hub id of the model a run started from, or None when it was a local folder of unknown origin.
    Another run's final model (training went on from an earlier run, as the studio offers) stands for the
    repo that run's model was pushed to, else for that run's own base."""
    path = Path(model_name_or_path)
    if path.exists():
        if path.resolve() == Path(default_model_path()).resolve():
            return BUNDLED_MODEL_ID
        if path.name == "model" and (path.parent / "config.yaml").is_file():
            earlier = Run(path.parent)
            pushed = (read_json(earlier.path / HUB_RECORD, {}) or {}).get("model") or {}
            if pushed.get("repo_id") and not pushed.get("adapter"):
                return pushed["repo_id"]
            return hub_base_model(earlier.config().model.model_name_or_path)
        return None
    return model_name_or_path if _HUB_ID.match(model_name_or_path) and "/" in model_name_or_path else None


def public_config(config: RunConfig) -> dict[str, Any]:
    """The run's config as published: local paths become file names (a server's paths are nobody's business)."""
    values = config.to_dict()
    for key in ("train_file", "validation_file", "test_file"):  # always local files (a Hub dataset is dataset_name)
        if values.get(key):
            values[key] = Path(str(values[key])).name
    for key in ("model_name_or_path", "tokenizer_name"):  # a Hub id, or a folder (which may since have gone)
        value = values.get(key)
        if value and public_value(str(value)) != value:
            values[key] = hub_base_model(str(value)) if key == "model_name_or_path" and hub_base_model(str(value)) else Path(str(value)).name
    if values.get("extra_training_args"):
        values["extra_training_args"] = {k: public_value(v) for k, v in values["extra_training_args"].items()}
    return values


def public_value(value: Any) -> Any:
    """A TrainingArguments value as published: a path (logging_dir, a deepspeed file, ...) becomes its name."""
    if isinstance(value, str) and value and (Path(value).is_absolute() or value.startswith("~") or Path(value).exists()):
        return Path(value).name
    return value


# ----------------------------------------------------------------------------- run facts


@dataclass
class _RunFacts:
    run: Run
    config: RunConfig
    status: dict[str, Any]
    data_report: dict[str, Any]
    token_stats: dict[str, Any]
    results: dict[str, dict[str, Any]]
    baselines: dict[str, Any]
    events: list[dict[str, Any]]
    model_info: dict[str, Any]

    @classmethod
    def read(cls, run: Run) -> "_RunFacts":
        results = {path.stem: read_json(path, {}) or {} for path in run.eval_dir.glob("*_results.json")}
        return cls(
            run=run,
            config=run.config(),
            status=run.status(),
            data_report=read_json(run.path / "data_report.json", {}) or {},
            token_stats=read_json(run.path / "token_stats.json", {}) or {},
            results=results,
            baselines=read_json(run.eval_dir / "baselines.json", {}) or {},
            events=run.events(),
            model_info=read_json(run.path / "model_info.json", {}) or {},
        )

    @property
    def info(self):
        return TASKS.get(self.config.model.task)

    @property
    def pipeline_tag(self) -> str:
        return self.info.pipeline_tag if self.info else "text-classification"

    @property
    def task_title(self) -> str:
        return self.info.title if self.info else "Text classification"

    @property
    def classification(self) -> bool:
        return self.pipeline_tag == "text-classification"

    @property
    def best_checkpoint_kept(self) -> bool:
        """Whether validation chose the final weights (evaluations during training and load_best_model_at_end on)."""
        t = self.config.training
        return t.eval_strategy != "no" and str((t.extra_training_args or {}).get("load_best_model_at_end", True)).lower() not in ("false", "0", "no")

    @property
    def lora(self) -> bool:
        return bool(getattr(self.config.model, "use_lora", False)) or (self.run.path / "adapter").is_dir()

    @property
    def thinking_switch(self) -> bool:
        """Whether the run's chat template has a thinking switch (Qwen3's `enable_thinking`). finetuner trains and
        asks such a model with thinking off (`causal_lm.render`); a snippet that leaves it on prompts the model with
        an opening it never learned to answer."""
        folders = (self.run.path / ADAPTER_DIR, self.run.model_dir)
        files = [folder / name for folder in folders for name in ("chat_template.jinja", "tokenizer_config.json")]
        return any("enable_thinking" in path.read_text(encoding="utf-8", errors="replace") for path in files if path.is_file())

    def headline_metrics(self) -> tuple[str, ...]:
        if self.classification:
            return CLASSIFICATION_HEADLINE
        return tuple(self.info.headline) if self.info else ()

    def table_metrics(self) -> tuple[str, ...]:
        """The task's metrics, then the headline ones it lacks (a causal LM's ROUGE-L and BLEU): every score the
        model-index reports is in the table too."""
        if self.classification:
            return CLASSIFICATION_TABLE
        return tuple(m for m in _unique([*self.info.metrics, *self.info.headline]) if m != "loss") if self.info else ()

    @property
    def label_names(self) -> list[str]:
        return [str(n) for n in self.data_report.get("label_names") or []]

    @property
    def data_file_name(self) -> str | None:
        return Path(self.config.data.train_file).name if self.config.data.train_file else None

    def split_metrics(self, split: str) -> dict[str, float]:
        prefix, name = ("test", "test_results") if split == "test" else ("eval", "eval_results")
        raw = self.results.get(name) or {}
        return {k[len(prefix) + 1 :]: v for k, v in raw.items() if k.startswith(prefix + "_") and isinstance(v, (int, float))}

    def headline_split(self) -> tuple[str, dict[str, float]]:
        """Test when there is one (it never chose a checkpoint), else validation."""
        for split in ("test", "validation"):
            metrics = self.split_metrics(split)
            if metrics:
                return split, metrics
        return "test", {}

    def published_split(self, split: str) -> str:
        """The split's name in the model-index. The Hub shows and compares results by dataset and split name, and
        rows finetuner held out of the training data are not the dataset's own split of that name: they say so."""
        return f"{split} (split from train)" if split in (self.data_report.get("created_splits") or []) else split

    def report(self, split: str) -> dict[str, Any] | None:
        return read_json(self.run.eval_dir / f"report_{split}.json", None)

    def public_examples(self, allowed: bool) -> list[str]:
        """A few model inputs for the usage snippet and the demo Space: only from a public Hub dataset, never
        from a user's file. They are the inputs of the evaluation's own files: a classifier's or tagger's
        `predictions_<split>.csv` (`text`), a summarizer's `generations_<split>.csv` (`document`) or a causal
        LM's (`prompt`)."""
        if not allowed:
            return []
        import csv  # noqa: PLC0415

        files = [self.run.eval_dir / f"{kind}_{split}.csv" for split in ("test", "validation") for kind in ("predictions", "generations")]
        path = next((f for f in files if f.is_file()), None)
        if path is None:
            return []
        with open(path, encoding="utf-8", newline="") as handle:
            rows = [row for _, row in zip(range(3), csv.DictReader(handle))]
        texts = [next((row[c] for c in EXAMPLE_COLUMNS if row.get(c)), "") for row in rows]
        return [t if len(t) <= 200 else t[:197] + "..." for t in texts if t]


# The model's input in an evaluation file: classification and NER predictions, summaries, causal-LM generations.
EXAMPLE_COLUMNS = ("text", "document", "prompt")

PLACEHOLDER_EXAMPLES = {
    "text-classification": "Replace this with a text to classify.",
    "token-classification": "Ada Lovelace worked with Charles Babbage in London.",
    "text-generation": "Write a haiku about fine-tuning.",
    "summarization": "Replace this with a long text to summarize.",
}


# ----------------------------------------------------------------------------- the Markdown body


class _Body:
    def __init__(self, facts: _RunFacts, options: CardOptions, *, base_model, dataset_label, dataset_id, split, metrics, examples, images):
        self.f, self.o = facts, options
        self.base_model, self.dataset_label, self.dataset_id = base_model, dataset_label, dataset_id
        self.split, self.metrics, self.examples, self.images = split, metrics, examples, images
        self.repo_id = options.repo_id or f"<your-username>/{facts.run.id}"
        self.pairs = "text_pair" in (facts.data_report.get("text_columns") or []) or len(facts.data_report.get("text_columns") or []) == 2

    def render(self) -> str:
        parts = [
            self.title(),
            self.usage(),
            self.intended_uses(),
            self.training_data(),
            self.training_procedure(),
            self.evaluation(),
            self.frameworks(),
        ]
        return "\n\n".join(p.strip() for p in parts if p) + "\n"

    def title(self) -> str:
        f, labels = self.f, self.f.label_names
        base = f"[{self.base_model}](https://huggingface.co/{self.base_model})" if self.base_model else f"`{Path(f.config.model.model_name_or_path).name}`"
        data = f"[{self.dataset_id}](https://huggingface.co/datasets/{self.dataset_id})" if self.dataset_id else f"`{_md(self.dataset_label)}`"
        phrase = TASK_PHRASES.get(f.pipeline_tag, "was fine-tuned for " + f.task_title.lower()).format(
            kind="sentence pairs" if self.pairs else "texts",
            n=len(labels),
            labels=", ".join(f"`{_md(n)}`" for n in labels[:20]) + (", ..." if len(labels) > 20 else ""),
        )
        lines = [f"# {_md(self.repo_id.split('/')[-1])}", ""]
        if self.o.description:
            lines += [self.o.description.strip(), ""]
        if self.o.adapter:
            m = f.config.model
            lines.append(
                f"This repository holds LoRA adapters (rank {m.lora_r}, alpha {m.lora_alpha}) for {base}: loaded on top of that base model "
                f"with [peft](https://huggingface.co/docs/peft), it {phrase}. It was trained on {data}. Only the adapters are here, not the base model's weights."
            )
        else:
            lora = " with LoRA (the adapter is merged into these weights)" if f.lora else ""
            lines.append(f"This model is a fine-tuned version of {base} that {phrase}, trained on {data}{lora}.")
        if self.metrics:
            finite = [k for k in f.headline_metrics() if k in self.metrics and math.isfinite(self.metrics[k])]
            shown = [k for k in finite if k != "loss"][:2] or finite[:1]
            summary = ", ".join(f"{_in_sentence(METRICS.get(k, (k,))[0])} **{self.metrics[k]:.4f}**" for k in shown)
            interval = ""
            report = f.report(self.split) or {}
            n = sum(int(row.get("support", 0)) for row in report.get("per_class", []))
            acc = self.metrics.get("accuracy")
            if f.classification and acc is not None and n:
                from .intervals import interval_text  # noqa: PLC0415 - numpy

                # The evaluation's own interval, as in the table below; runs from before reports kept one get an estimate.
                span = interval_text((report.get("intervals") or {}).get("accuracy")) or f"about ±{_ci(acc, n):.3f}"
                interval = f" (95% interval for accuracy {span} on {n} examples)"
            if summary:
                lines.append(f"\nOn the held-out {self.split} split it reaches {summary}{interval}.")
            tfidf = (f.baselines.get("tfidf_logreg") or {}).get(self.split) or {}
            if "f1_macro" in tfidf and "f1_macro" in self.metrics:
                diff = self.metrics["f1_macro"] - tfidf["f1_macro"]
                lines.append(f"A TF-IDF + logistic regression baseline scores {tfidf['f1_macro']:.4f} macro F1 on the same split ({'+' if diff >= 0 else ''}{diff:.4f} for this model).")
        lines.append(f"\nTrained with finetuner {__version__}.")
        return "\n".join(lines)

    def usage(self) -> str:
        tag = self.f.pipeline_tag
        example = self.examples[0] if self.examples else PLACEHOLDER_EXAMPLES.get(tag, "")
        if self.o.adapter:
            return self.adapter_usage(example)
        if tag in ("summarization", "text2text-generation"):
            return self.seq2seq_usage(example)
        model = f'model="{self.repo_id}"'
        if tag == "token-classification":
            # "first": each word takes its first sub-token's tag, the one training taught; the studio tags words so too.
            code = [f'tagger = pipeline("token-classification", {model}, aggregation_strategy="first")', f"print(tagger({example!r}))"]
        elif tag == "text-generation":
            code = [
                f'generator = pipeline("text-generation", {model})',
                f'messages = [{{"role": "user", "content": {example!r}}}]',
                'print(generator(messages, max_new_tokens=128' + THINKING_OFF_PIPELINE * self.f.thinking_switch + ')[0]["generated_text"][-1]["content"])',
            ]
        elif self.pairs:  # truncation: a text longer than the model reads is cut, not refused with a tensor size error
            code = [f'classifier = pipeline("text-classification", {model}, truncation=True)', f'print(classifier({{"text": {example!r}, "text_pair": "A second text."}}))']
        else:
            code = [
                f'classifier = pipeline("text-classification", {model}, truncation=True)',
                f"print(classifier({example!r}))",
                "# every label's probability:",
                f"print(classifier({example!r}, top_k=None))",
            ]
        return "\n".join(
            ["## How to use", "", "```python", "from transformers import pipeline", "", *code, "```", "", "For a private repository, log in first (`hf auth login`) or pass `token=...` to `pipeline`."]
        )

    def seq2seq_usage(self, example: str) -> str:
        """Transformers 5 has no summarization pipeline: the tokenizer and model, with the run's source prefix."""
        m = self.f.config.model
        prefix = m.source_prefix
        source = f"{prefix!r} + {example!r}" if prefix else repr(example)
        # A multilingual model's languages (saved with its tokenizer too), named where a reader changes them; generation
        # starts with the target language's code as in training (generation_config.json).
        languages = "".join(f", {name}={value!r}" for name, value in (("src_lang", m.source_lang), ("tgt_lang", m.target_lang)) if value)
        code = [
            "from transformers import AutoModelForSeq2SeqLM, AutoTokenizer",
            "",
            f'tokenizer = AutoTokenizer.from_pretrained("{self.repo_id}"{languages})' + ("  # the languages the model was trained in" if languages else ""),
            f'model = AutoModelForSeq2SeqLM.from_pretrained("{self.repo_id}")',
            f'inputs = tokenizer({source}, truncation=True, return_tensors="pt")',
            f"outputs = model.generate(**inputs, max_new_tokens={self.f.config.model.generation_max_new_tokens})  # as long as the run's summaries",
            "print(tokenizer.decode(outputs[0], skip_special_tokens=True))",
        ]
        note = (
            ["The tokenizer marks each input and output with its language's code (saved with it; named above to be changed); `generate` "
             "starts the output with its code as in training (the model's generation_config.json).", ""]
            if languages else []
        )
        return "\n".join(
            ["## How to use", "", "```python", *code, "```", "", *note, "For a private repository, log in first (`hf auth login`) or pass `token=...` to `from_pretrained`."]
        )

    def adapter_usage(self, example: str) -> str:
        """Load the base model from the Hub with the adapters on top (peft reads the base id from adapter_config.json)."""
        code = [
            "from peft import AutoPeftModelForCausalLM",
            "from transformers import AutoTokenizer",
            "",
            f'model = AutoPeftModelForCausalLM.from_pretrained("{self.repo_id}")  # downloads the base model {self.base_model} too',
            f'tokenizer = AutoTokenizer.from_pretrained("{self.repo_id}")',
            f'messages = [{{"role": "user", "content": {example!r}}}]',
            'inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True' + THINKING_OFF * self.f.thinking_switch + ', return_tensors="pt", return_dict=True)',
            "outputs = model.generate(**inputs, max_new_tokens=128)",
            'print(tokenizer.decode(outputs[0][inputs["input_ids"].shape[-1]:], skip_special_tokens=True))',
            "",
            "# or merge the adapters into the base weights once, for faster inference without peft:",
            "merged = model.merge_and_unload()",
        ]
        return "\n".join(
            ["## How to use", "", "Install `peft` and `transformers`, then:", "", "```python", *code, "```", "", "For a private repository, log in first (`hf auth login`) or pass `token=...` to `from_pretrained`."]
        )

    def intended_uses(self) -> str:
        f = self.f
        train_n = (f.data_report.get("split_sizes") or {}).get("train")
        max_len = f.config.model.max_seq_length
        truncated = (f.token_stats.get("train") or {}).get("truncated_share")
        if f.classification:
            purpose = (
                f"Use it to sort {'pairs of texts' if self.pairs else 'texts'} like those in its training data into the labels above. "
                "It cannot answer with a label it was not trained on, and it always picks one of them, even for unrelated input: "
                "check the probability (`top_k=None`) before acting on a prediction."
            )
        elif f.pipeline_tag == "token-classification":
            purpose = "Use it to find and label spans in texts like those in its training data. It knows only the labels above; check its output on your own texts before relying on it."
        else:
            purpose = "Use it for inputs like those in its training data. Generated text can be fluent and wrong: check it before relying on it, and do not use it where a wrong answer causes harm."
        lines = [
            "## Intended uses and limitations",
            "",
            purpose,
            "",
            f"- It was trained on {train_n if train_n is not None else 'an unknown number of'} examples; inputs unlike them (another domain, language or style) may be handled poorly.",
            f"- Inputs longer than {max_len} tokens are truncated" + ("." if truncated is None else " (no training text was that long)." if truncated == 0 else f" ({truncated * 100:.1f}% of the training texts were)."),
            "- It inherits the biases of its base model and of its training data. Evaluate it on your own data before relying on it, and keep a human in the loop for decisions that matter.",
        ]
        sizes = f.data_report.get("split_sizes") or {}
        if sizes.get(self.split, 1000) < 200:
            lines.append(f"- The {self.split} split is small ({sizes.get(self.split)} examples), so the scores below are rough estimates.")
        return "\n".join(lines)

    def training_data(self) -> str:
        f, report = self.f, self.f.data_report
        source = f"the Hub dataset [{self.dataset_id}](https://huggingface.co/datasets/{self.dataset_id})" + (f" (configuration `{f.config.data.dataset_config_name}`)" if f.config.data.dataset_config_name else "") if self.dataset_id else f"the file `{_md(self.dataset_label)}`"
        lines = ["## Training data", "", f"The model was trained on {source}."]
        columns = report.get("text_columns") or []
        if columns:
            lines.append(f"Text column{'s' if len(columns) > 1 else ''}: {', '.join(f'`{_md(c)}`' for c in columns)}; label column: `{_md(report.get('label_column') or 'label')}`.")
        sizes, counts = report.get("split_sizes") or {}, report.get("class_counts") or {}
        if sizes:
            # Classes as the data report counts them (labels for classification, entity types for NER).
            counted = _unique([str(k) for split_counts in counts.values() if isinstance(split_counts, dict) for k in split_counts])
            ordered = [n for n in f.label_names if n in counted] + [n for n in counted if n not in f.label_names]
            labels = ordered[:12]
            lines += ["", "| Split | Examples |" + "".join(f" {_md(n)} |" for n in labels), "|---|---:|" + "---:|" * len(labels)]
            for split, size in sizes.items():
                lines.append(f"| {split} | {size} |" + "".join(f" {(counts.get(split) or {}).get(n, 0)} |" for n in labels))
            if len(ordered) > 12:
                lines.append(f"\n({len(ordered) - 12} more classes not shown.)")
        warnings = report.get("warnings") or []
        if warnings:
            lines.append("")
            lines += [f"- {_md(str(w))}" for w in warnings]
        stats = f.token_stats.get("train")
        if stats:
            lines.append(
                f"\nTraining texts are {stats.get('mean', 0):.0f} tokens long on average (95th percentile {stats.get('p95', 0):.0f}, "
                f"longest {stats.get('max', 0)}); {stats.get('truncated', 0)} of {stats.get('count', 0)} were cut at {f.config.model.max_seq_length} tokens."
            )
        return "\n".join(lines)

    def _head_learning_rate(self) -> str:
        """The rate and the weights it trained: a checkpoint already fine-tuned for these labels brings its head,
        and then nothing trains at it (runs from before model_info.json named the weights say only the rate)."""
        rate, new = self.f.config.training.head_learning_rate, self.f.model_info.get("new_weights")
        if new is None:
            return f"{rate} (weights new to the checkpoint)"
        if not new:
            return f"{rate}, unused: the checkpoint already had a head for these labels"
        shown = ", ".join(new[:4]) + (f" and {len(new) - 4} more" if len(new) > 4 else "")
        return f"{rate} for the weights new to the checkpoint: {shown}"

    def training_procedure(self) -> str:
        f, t = self.f, self.f.config.training
        effective = t.per_device_train_batch_size * t.gradient_accumulation_steps
        rows = [
            ("learning_rate", t.learning_rate),
            *([("head_learning_rate", self._head_learning_rate())] if t.head_learning_rate is not None else []),
            ("per_device_train_batch_size", t.per_device_train_batch_size),
            ("gradient_accumulation_steps", t.gradient_accumulation_steps),
            ("effective batch size (per device)", effective),
            ("per_device_eval_batch_size", t.per_device_eval_batch_size),
            ("num_train_epochs", t.num_train_epochs if t.max_steps <= 0 else f"{t.num_train_epochs} (max_steps {t.max_steps} takes precedence)"),
            ("max_steps", t.max_steps),
            ("lr_scheduler_type", t.lr_scheduler_type),
            ("warmup_steps", f"{t.warmup_steps} (share of all steps)" if 0 < t.warmup_steps < 1 else t.warmup_steps),
            ("weight_decay", t.weight_decay),
            ("optimizer", (t.extra_training_args or {}).get("optim", "adamw_torch_fused (Trainer default)")),
            ("max_seq_length", f.config.model.max_seq_length),
            ("freeze_embeddings", f.config.model.freeze_embeddings),
            ("train_sampling_strategy", t.train_sampling_strategy),
            ("eval_strategy", t.eval_strategy + (f" (every {t.eval_steps} steps)" if t.eval_strategy == "steps" else "")),
            ("metric_for_best_model", t.metric_for_best_model),
            ("early_stopping_patience", t.early_stopping_patience if t.early_stopping_patience else "off"),
            ("seed", t.seed),
        ]
        rows += [(k, public_value(v)) for k, v in sorted((t.extra_training_args or {}).items()) if k != "optim"]
        train = f.results.get("train_results") or {}
        done = []
        if f.status.get("step"):
            done.append(f"{f.status['step']} optimizer steps")
        if f.status.get("epoch"):
            done.append(f"{f.status['epoch']:.2f} epochs")
        if train.get("train_runtime"):  # the Trainer's, of the last session; a resumed run's earlier ones beside it
            done.append(f"{_duration(train['train_runtime'] + (f.status.get('earlier_training_seconds') or 0.0))} of training")
        but = ""
        if f.config.model.freeze_embeddings:
            tied = "" if f.pipeline_tag in ("text-classification", "token-classification") else ", with any output layer tied to them"
            but = f" but the input word embeddings (kept as pretrained{tied})"
        lines = [
            "## Training procedure",
            "",
            "Fine-tuned with the Hugging Face `Trainer`: "
            + ("LoRA adapters were trained on the frozen base model; this repository holds the adapters only. " if f.lora and self.o.adapter else "LoRA adapters were trained on the frozen base model, then merged into its weights. " if f.lora else f"a new classification head on the pretrained encoder, all weights trained{but}. " if f.pipeline_tag in ("text-classification", "token-classification") else f"all weights of the pretrained model trained{but}. ")
            + ("The best checkpoint by validation " + f"`{t.metric_for_best_model}` was kept." if f.best_checkpoint_kept else ""),
        ]
        if done:
            lines.append(f"The run took {', '.join(done)}.")
        lines += ["", "### Hyperparameters", "", "| Option | Value |", "|---|---|"]
        lines += [f"| {_md(str(k))} | {_md(str(v))} |" for k, v in rows]
        evals = [e for e in f.events if e.get("type") == "eval"]
        if evals:
            last_loss: dict[int, float] = {}
            for e in f.events:
                if e.get("type") == "log" and "loss" in (e.get("metrics") or {}):
                    last_loss[e["step"]] = e["metrics"]["loss"]
            shown = [k for k in f.headline_metrics() if k != "loss" and any(f"eval_{k}" in (e.get("metrics") or {}) for e in evals)][:3]
            header = " | ".join(METRICS.get(k, (k,))[0] for k in shown)
            lines += ["", "### Training results", "", f"| Epoch | Step | Training loss | Validation loss |{' ' + header + ' |' if shown else ''}", "|---:|---:|---:|---:|" + "---:|" * len(shown)]
            for e in evals[-50:]:
                m, step = e.get("metrics") or {}, e.get("step", 0)
                train_loss = next((last_loss[s] for s in sorted(last_loss, reverse=True) if s <= step), None)
                values = "".join(f" {_num(m.get(f'eval_{k}'))} |" for k in shown)
                lines.append(f"| {_num(e.get('epoch'), 2)} | {step} | {_num(train_loss)} | {_num(m.get('eval_loss'))} |{values}")
        if CURVE_IMAGE in self.images:
            caption = "Training and validation loss, and validation metrics, by step" if evals else "Training loss by step (no evaluation during training)"
            lines += ["", f"![{caption}]({CURVE_IMAGE})"]
        return "\n".join(lines)

    def evaluation(self) -> str:
        f = self.f
        from .intervals import describe_gain, interval_text  # noqa: PLC0415 - numpy

        lines, method = ["## Evaluation"], None
        for split in ("test", "validation"):
            metrics = f.split_metrics(split)
            if not metrics:
                continue
            baselines = {name: (values or {}).get(split) or {} for name, values in f.baselines.items() if isinstance(values, dict) and (values or {}).get(split)}
            note = (
                " (held out: never used for training or choosing the checkpoint)" if split == "test"
                else " (used to choose the best checkpoint, so slightly optimistic)" if f.best_checkpoint_kept
                else " (held out from training; scored after it)"
            )
            names = [_capitalized(baseline_name(name)) for name in baselines]
            report = f.report(split) or {}
            intervals = report.get("intervals") or {}
            method = method or (report.get("interval_method") if intervals else None)
            spans = [f"{report.get('interval_level', 0.95):.0%} interval"] if intervals else []
            lines += ["", f"### {split.title()} split{note}", "", "| Metric | This model |" + "".join(f" {_md(n)} |" for n in [*spans, *names]), "|---|---:|" + "---:|" * (len(spans) + len(names))]
            for key in (*f.table_metrics(), "loss"):
                if key in metrics:
                    value = f"**{_num(metrics[key])}**" if baselines and key != "loss" else _num(metrics[key])
                    span = [interval_text(intervals.get(key))] if intervals else []
                    lines.append(f"| {METRICS.get(key, (key,))[0]} | {value} |" + "".join(f" {cell} |" for cell in span) + "".join(f" {_num(b.get(key)) if key != 'loss' else ''} |" for b in baselines.values()))
            gains = [describe_gain(baseline_name(name), values) for name, values in baselines.items()]
            if any(gains):
                lines += ["", f"Against the baselines, on the same {split} examples (a paired bootstrap): " + "; ".join(_md(g) for g in gains if g) + "."]
            rows = report.get("per_class") or report.get("per_type") or []
            if rows and isinstance(rows, list):
                kind = "class" if report.get("per_class") else "entity type"
                lines += ["", f"Per {kind} ({split}):", "", f"| {kind.capitalize()} | Precision | Recall | F1 | Support |", "|---|---:|---:|---:|---:|"]
                for row in rows:
                    lines.append(f"| {_md(row.get('label', row.get('type', '?')))} | {_num(row.get('precision'))} | {_num(row.get('recall'))} | {_num(row.get('f1'))} | {row.get('support', '')} |")
        if method:
            lines += ["", f"Intervals: {_md(method)}. An interval is the range a score would likely take on another sample of the same size: a difference smaller than its width may be chance."]
        if CONFUSION_IMAGE in self.images:
            lines += ["", f"![Confusion matrix on the {self.split} split: rows are true labels, columns predictions]({CONFUSION_IMAGE})"]
        described = [f"{_capitalized(baseline_name(name))} {BASELINE_NOTES[name]}" for name in f.baselines if name in BASELINE_NOTES]
        if described:
            lines += ["", "Baselines: " + "; ".join(described) + ". The model's scores mean something only above theirs."]
        if len(lines) <= 3:
            return ""
        return "\n".join(lines)

    def frameworks(self) -> str:
        lines = ["## Framework versions", "", f"- finetuner {__version__}"]
        for name, dist in FRAMEWORKS:
            try:
                lines.append(f"- {name} {importlib_metadata.version(dist)}")
            except importlib_metadata.PackageNotFoundError:
                continue
        lines.append(f"\nCard written {time.strftime('%Y-%m-%d')} by finetuner from the run `{self.f.run.id}`.")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- images


def training_curve_png(events: Sequence[dict[str, Any]], *, metrics: Sequence[str] = ("accuracy", "f1_macro")) -> bytes | None:
    """Training loss and validation loss by step (left), up to two validation metrics (right)."""
    train = [(e["step"], e["metrics"]["loss"]) for e in events if e.get("type") == "log" and isinstance((e.get("metrics") or {}).get("loss"), (int, float))]
    evals = [(e["step"], e.get("metrics") or {}) for e in events if e.get("type") == "eval"]
    if not train and not evals:
        return None
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=110)
    if train:
        left.plot(*zip(*train), color="#4f46e5", label="training loss", linewidth=1.6)
    eval_loss = [(s, m["eval_loss"]) for s, m in evals if isinstance(m.get("eval_loss"), (int, float))]
    if eval_loss:
        left.plot(*zip(*eval_loss), color="#f59e0b", marker="o", label="validation loss", linewidth=1.6)
    left.set(xlabel="step", ylabel="loss", title="Loss")
    left.legend(frameon=False)
    plotted = []
    for key, color in zip(metrics, ("#10b981", "#ef4444")):
        points = [(s, m[f"eval_{key}"]) for s, m in evals if isinstance(m.get(f"eval_{key}"), (int, float))]
        if points:
            right.plot(*zip(*points), marker="o", label=METRICS.get(key, (key,))[0], color=color, linewidth=1.6)
            plotted += [v for _, v in points]
    right.set(xlabel="step", title="Validation metrics")
    if plotted and 0 <= min(plotted) and max(plotted) <= 1:
        right.set_ylim(0, 1.02)
    if plotted:
        right.legend(frameon=False)
    else:
        right.text(0.5, 0.5, "no evaluation during training", ha="center", va="center", transform=right.transAxes, color="#6b7280")
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def confusion_matrix_png(matrix: Sequence[Sequence[int]], label_names: Sequence[str]) -> bytes:
    """Counts, coloured by the share of each true label (row), so small classes stay readable."""
    import numpy as np  # noqa: PLC0415

    plt = _pyplot()
    counts = np.asarray(matrix, dtype=float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    k = len(label_names)
    size = min(3.0 + 0.45 * k, 14)
    fig, ax = plt.subplots(figsize=(size + 1.2, size), dpi=110)
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    names = [n if len(n) <= 18 else n[:17] + "…" for n in map(str, label_names)]
    ax.set_xticks(range(k), names, rotation=45 if k > 3 else 0, ha="right" if k > 3 else "center")
    ax.set_yticks(range(k), names)
    ax.set(xlabel="predicted", ylabel="true label", title="Confusion matrix")
    if k <= 25:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", color="white" if shares[i, j] > 0.6 else "#111827", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true label")
    return _png(fig)


def _pyplot():
    import matplotlib  # noqa: PLC0415 - only when a card is built

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    # No timestamp in the PNG: the same run gives the same bytes, so a second push uploads nothing new.
    fig.savefig(buffer, format="png", metadata={"Software": None})
    import matplotlib.pyplot as plt  # noqa: PLC0415

    plt.close(fig)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- small helpers


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell or inline code."""
    return str(text).replace("|", "\\|").replace("\n", " ").replace("`", "'")


def _in_sentence(name: str) -> str:
    """'Accuracy' -> 'accuracy' mid-sentence; 'F1 (macro)', 'ROUGE-L' and 'BLEU' keep their capitals."""
    return name[0].lower() + name[1:] if len(name) > 1 and name[1].islower() else name


def _capitalized(name: str) -> str:
    """'majority class' -> 'Majority class', for a table's header."""
    return name[:1].upper() + name[1:]


def _num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, (int, float)):
        return f"{value:.{digits}f}"
    return str(value)


def _ci(p: float, n: int) -> float:
    """Half-width of a normal-approximation 95% interval for an accuracy p on n examples."""
    return 1.96 * math.sqrt(max(p * (1 - p), 0.25 / max(n, 1)) / max(n, 1))


def _duration(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _unique(values: Sequence[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value and value not in seen:
            seen.append(value)
    return seen
