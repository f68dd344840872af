"""Sequence-to-sequence summarization: an encoder-decoder model (T5, BART, ...) learns document -> summary.

Training uses transformers' `Seq2SeqTrainer` with `predict_with_generate`, so every evaluation generates
summaries and scores them with ROUGE-1/2/L/Lsum and BLEU (`finetuner.metrics_text`). The inputs are
`source_prefix + document` cut at `max_seq_length`; targets are cut at `max_target_length`; generation
stops after `generation_max_new_tokens`. A Lead-1 baseline (the document's first sentence) gives the
scores a floor.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from .. import data as data_module
from ..config import DataConfig, RunConfig
from ..errors import ConfigError, DataError
from ..runs import write_json_atomic
from .base import EVALUATION_ONLY, before_training, in_order, cache_key, cached_map, device, length_summary, load_pretrained, measured_statistics, load_trained_tokenizer, predict_in_order  # noqa: F401
from .base import load_tokenizer as load_base_tokenizer
from .base import save_model as save_model_and_tokenizer
from .base import wrong_kind_message

PIPELINE_TAG = "summarization"
AUTO_MODEL = "AutoModelForSeq2SeqLM"
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(?:\s|$)", re.S)


# ---------------------------------------------------------------- data


def prepare_data(config: RunConfig) -> data_module.TaskData:
    return data_module.prepare_document_data(config.data, seed=config.training.seed)


def data_report(prepared: data_module.TaskData) -> dict[str, Any]:
    return prepared.report


def evaluation_data(frame, data_report: dict[str, Any], config: RunConfig):
    import datasets  # noqa: PLC0415

    document = (data_report.get("text_columns") or [None])[0]
    summary = data_report.get("label_column")
    columns = DataConfig(document_column_name=document if document in frame.columns else None, summary_column_name=summary if summary in frame.columns else None)
    document, summary = data_module.resolve_document_columns(frame, columns)
    normalised, _ = data_module.normalise_document_frame(frame, document, summary)
    return datasets.Dataset.from_pandas(normalised, preserve_index=False)


def prediction_inputs(frame, data_report: dict[str, Any], *, text_column: str | None = None, source: str = "the file") -> dict[str, Any]:
    """The document of each row of a file to predict on: the named column, else the run's own document column
    when the file has it, else one named as training finds documents (document, article, text, ...)."""
    trained = (data_report.get("text_columns") or [None])[0]
    lower = {str(c).lower(): c for c in frame.columns}
    chosen = data_module.chosen_columns(frame, text_column, source)
    names = list(dict.fromkeys(first for first, _ in data_module.DOCUMENT_PAIRS))
    column = chosen[0] if chosen else trained if trained in frame.columns else next((lower[n] for n in names if n in lower), None)
    column = column or (data_module.detect_columns(frame)[0] or [None])[0]
    if column is None:
        looked = [f"the run's document column {trained!r}"] if trained else []
        raise data_module.no_column_error("document", source, frame, [*looked, f"a column named {', '.join(names)}", "a column of strings"])
    return {"texts": data_module.column_texts(frame, column)}


# ---------------------------------------------------------------- languages


class LanguageFamily(NamedTuple):
    name: str  # what its users call it
    default: str  # the code its class marks texts with when none is given or saved (transformers' src_lang default)
    examples: tuple[str, ...]  # a few of its other codes


# The multilingual tokenizers, by transformers' class name ("Fast" dropped): the one place that says which families
# mark texts with a language code (`src_lang`, `tgt_lang`), their default and a few codes, for what is said before a
# tokenizer is loaded (the estimate's warning reads a saved tokenizer_config.json) and in the messages here. A loaded
# tokenizer's full list is `language_codes`'s (tests check this table against it).
MULTILINGUAL_TOKENIZERS = {
    "MBartTokenizer": LanguageFamily("mBART", "en_XX", ("de_DE", "ro_RO")),
    "MBart50Tokenizer": LanguageFamily("mBART-50", "en_XX", ("de_DE", "ro_RO")),
    "NllbTokenizer": LanguageFamily("NLLB", "eng_Latn", ("fra_Latn", "deu_Latn")),
    "M2M100Tokenizer": LanguageFamily("M2M100", "en", ("fr", "de")),
}


def language_family(tokenizer_class: str | None) -> LanguageFamily | None:
    """The multilingual family of a tokenizer class name (a saved tokenizer_config.json's `tokenizer_class`, or a
    loaded tokenizer's type name, fast or not); None for a tokenizer that marks no language."""
    return MULTILINGUAL_TOKENIZERS.get(str(tokenizer_class or "").removesuffix("Fast"))


def language_codes(tokenizer) -> list[str]:
    """The language codes a multilingual tokenizer (mBART's, mBART-50's, NLLB's, M2M100's) marks texts with, in its
    own order; [] for any other tokenizer. Its `src_lang` and `tgt_lang` take one of these."""
    import sys  # noqa: PLC0415

    if not isinstance(getattr(type(tokenizer), "src_lang", None), property):
        return []
    named = getattr(tokenizer, "lang_code_to_id", None) or getattr(tokenizer, "lang_code_to_token", None) or {}
    known = getattr(sys.modules.get(type(tokenizer).__module__), "FAIRSEQ_LANGUAGE_CODES", None) or []
    if isinstance(known, dict):  # M2M100's: one list per language set
        known = [code for codes in known.values() for code in codes]
    codes = list(dict.fromkeys([*named, *known]))
    return [code for code in codes if code in named or _language_token_id(tokenizer, code) is not None]


def _language_token_id(tokenizer, code: str) -> int | None:
    """The token id a code marks texts with (M2M100's 'en' is the token '__en__'); None where the vocabulary lacks it."""
    get = getattr(tokenizer, "get_lang_id", None)
    try:
        token_id = get(code) if get else tokenizer.convert_tokens_to_ids(code)
    except (KeyError, ValueError):
        return None
    return None if token_id is None or token_id == tokenizer.unk_token_id else int(token_id)


def _own_languages(tokenizer) -> tuple[str, str | None]:
    """The tokenizer's languages as loaded (as saved with it, else its class's default), kept at the first change:
    a tokenizer the studio caches serves runs with and without languages of their own."""
    return tokenizer.__dict__.setdefault("_finetuner_own_languages", (tokenizer.src_lang, tokenizer.tgt_lang))


def set_languages(tokenizer, config: RunConfig):
    """Give the tokenizer the run's source_lang and target_lang (the tokenizer's own where the run sets none), so that
    documents and summaries are marked with those codes; a code the tokenizer lacks, or a language given for a
    tokenizer that has none, is refused with a ConfigError that says what it knows. Returns the tokenizer."""
    m = config.model
    codes = language_codes(tokenizer)
    given = {"source_lang": m.source_lang, "target_lang": m.target_lang}
    if not codes:
        named = [f"{name} {value!r}" for name, value in given.items() if value]
        if named:
            raise ConfigError(
                f"{' and '.join(named)} given, but the tokenizer of {m.tokenizer_name or m.model_name_or_path} ({type(tokenizer).__name__}) marks no "
                f"language: only multilingual ones ({', '.join(family.name for family in MULTILINGUAL_TOKENIZERS.values())}) read language codes. Leave source_lang and target_lang empty for this model."
            )
        return tokenizer
    for name, value in given.items():
        if value and value not in codes:
            raise ConfigError(
                f"{name} {value!r} is not a language code of the tokenizer of {m.tokenizer_name or m.model_name_or_path} ({type(tokenizer).__name__}): "
                f"it knows {len(codes)} codes, such as {', '.join(codes[:8])}."
            )
    source, target = _own_languages(tokenizer)
    tokenizer.src_lang = m.source_lang or source
    tokenizer.tgt_lang = m.target_lang or target  # None: the tokenizer marks summaries with src_lang
    return tokenizer


# Held while a tokenizer that marks texts with languages is given the run's languages and tokenizes: marking changes
# the tokenizer itself (src_lang, tgt_lang, and each `text_target` call's switch to target mode and back), and the
# studio shares one cached tokenizer between requests that run at once (the inspector, the token lengths, Start).
_MARKING = threading.RLock()


@contextmanager
def marked(tokenizer, config: RunConfig):
    """`set_languages`, kept until the block's tokenization is done; a tokenizer that does not change to mark texts
    (T5's, BART's) is not held."""
    with _MARKING if hasattr(tokenizer, "_switch_to_target_mode") else nullcontext():
        yield set_languages(tokenizer, config)


def load_tokenizer(config: RunConfig, *, token: str | None = None):
    """The model's tokenizer with the run's languages (`set_languages`), as training saves it with the model."""
    return set_languages(load_base_tokenizer(config, token=token), config)


def forced_first_token(tokenizer, config: RunConfig) -> int | None:
    """The token generation must write first to start as training did: forced_bos_token when set, else the target
    language code where the tokenizer starts every summary with it (mBART-50's, NLLB's, M2M100's); None where the
    summaries start with their text (mBART cc25 ends them with the code, which starts the decoder instead)."""
    m = config.model
    if m.forced_bos_token:
        token_id = tokenizer.convert_tokens_to_ids(m.forced_bos_token)
        if token_id is None or token_id == tokenizer.unk_token_id:
            raise ConfigError(f"forced_bos_token {m.forced_bos_token!r} is not a token of the tokenizer of {m.tokenizer_name or m.model_name_or_path}.")
        return int(token_id)
    codes = {_language_token_id(tokenizer, code) for code in language_codes(tokenizer)}
    labels = tokenizer(text_target="a")["input_ids"]
    return int(labels[0]) if labels and labels[0] in codes else None


def start_in_target_language(model, tokenizer, config: RunConfig) -> None:
    """Make `generate` write first what training put first (`forced_first_token`); a language code an earlier run
    forced that this run's summaries do not start with is dropped."""
    generation = model.generation_config
    forced = forced_first_token(tokenizer, config)
    codes = {_language_token_id(tokenizer, code) for code in language_codes(tokenizer)}
    if forced is not None or generation.forced_bos_token_id in codes:
        generation.forced_bos_token_id = forced


# ---------------------------------------------------------------- tokens


def _sources(batch: dict[str, list], config: RunConfig) -> list[str]:
    return [config.model.source_prefix + text for text in batch["document"]]


def _encode(batch: dict[str, list], tokenizer, config: RunConfig):
    """What the model reads (the prefixed documents, cut at max_seq_length) and learns (`labels`: the summaries, cut at max_target_length)."""
    m = config.model
    encoded = tokenizer(_sources(batch, config), truncation=True, max_length=m.max_seq_length)
    encoded["labels"] = tokenizer(text_target=batch["summary"], truncation=True, max_length=m.max_target_length)["input_ids"]
    return encoded


def tokenize(splits, tokenizer, config: RunConfig, *, label_names: list[str] | None = None, fingerprint: str | None = None, cache_dir: Path | None = None):
    """input_ids and attention_mask of the (prefixed) documents, labels = the summaries' token ids."""
    from ..tokenization import tokenizer_signature  # noqa: PLC0415

    m = config.model
    set_languages(tokenizer, config)

    def encode(batch):
        return _encode(batch, tokenizer, config)

    languages = (tokenizer.src_lang, tokenizer.tgt_lang) if language_codes(tokenizer) else None
    key = cache_key(fingerprint, tokenizer_signature(tokenizer), m.max_seq_length, m.max_target_length, m.source_prefix, "seq2seq", *([repr(languages)] if languages else [])) if fingerprint else None
    return cached_map(splits, encode, key=key, cache_dir=cache_dir)


# Rows `check_tokenization` encodes at a time: the first batch of a split that trains settles it.
CHECKED_ROWS = 100


def check_tokenization(splits, tokenizer, config: RunConfig) -> None:
    """Refuse before a run exists a split that would train or score on nothing, without an error to say so: one
    whose every summary max_target_length cuts down to special tokens (the end-of-sequence token alone: the model
    learns to stop at once, and every summary it writes is empty), or whose every document the source prefix
    fills up to max_seq_length (the model never reads a document). Rows are encoded a hundred at a time until
    one keeps both; that is the first batch unless the settings leave nothing."""
    with marked(tokenizer, config):
        _check_tokenization(splits, tokenizer, config)


def _check_tokenization(splits, tokenizer, config: RunConfig) -> None:
    m = config.model
    special = set(tokenizer.all_special_ids)
    prefix = len(tokenizer(m.source_prefix, add_special_tokens=False)["input_ids"]) if m.source_prefix else 0
    for role, split in splits.items():
        read = summarized = False
        for batch in split.select_columns(["document", "summary"]).iter(batch_size=CHECKED_ROWS):
            encoded = _encode(batch, tokenizer, config)
            read = read or any(_text_tokens(ids, special) > prefix for ids in encoded["input_ids"])
            summarized = summarized or any(_text_tokens(ids, special) for ids in encoded["labels"])
            if read and summarized:
                break
        if len(split) and not summarized:
            raise DataError(
                f"No summary of {role} keeps any of its text within max_target_length {m.max_target_length}: cut there, each is only "
                "special tokens (the end-of-sequence token), so the model would learn to write nothing. Raise max_target_length "
                "(the Data tab's token lengths show the summaries' lengths)."
            )
        if len(split) and not read:
            raise DataError(
                f"No document of {role} keeps any of its text within max_seq_length {m.max_seq_length}: the source prefix "
                f"{m.source_prefix!r} ({prefix} tokens) fills it, so the model would never read a document. Raise max_seq_length, or shorten the prefix."
            )


def _text_tokens(ids: Sequence[int], special: set[int]) -> int:
    return sum(1 for token in ids if token not in special)


def fits_model(model_config) -> bool:
    """An encoder-decoder (transformers' seq2seq auto class also builds speech models that are none)."""
    return bool(getattr(model_config, "is_encoder_decoder", False))


def model_lengths(config: RunConfig) -> dict[str, int]:
    """The documents, and on the decoder's side the summaries learned and the summaries generated (the decoder
    reads each generated token at the next position)."""
    m = config.model
    return {"max_seq_length": m.max_seq_length, "max_target_length": m.max_target_length, "generation_max_new_tokens": m.generation_max_new_tokens}


LENGTH_COLUMNS = ("document", "summary")
# The options that change a document's or summary's tokens (`inspect_example`), and all of them their lengths:
# `length_settings`' prefix and language codes are measured, and max_target_length cuts the summaries' counts.
TOKENIZATION_OPTIONS = ("source_prefix", "max_target_length", "source_lang", "target_lang")
LENGTH_OPTIONS = TOKENIZATION_OPTIONS


def length_settings(config: RunConfig) -> tuple:
    """The source prefix is read before every document, and the language codes mark documents and summaries: part of
    their measured lengths."""
    return (config.model.source_prefix, config.model.source_lang, config.model.target_lang)


def measure_lengths(columns: dict[str, list], tokenizer, config: RunConfig) -> list[tuple[int, int]]:
    """Each example's (prefixed document, summary) token counts, untruncated, with the run's language codes."""
    with marked(tokenizer, config):
        sources = tokenizer(_sources({"document": columns["document"]}, config), truncation=False, verbose=False)["input_ids"]
        targets = tokenizer(text_target=columns["summary"], truncation=False, verbose=False)["input_ids"]
    return [(len(source), len(target)) for source, target in zip(sources, targets)]


def summarize_lengths(measured: list[tuple[int, int]], config: RunConfig) -> dict[str, Any]:
    stats = length_summary([source for source, _ in measured], config.model.max_seq_length)
    target = length_summary([target for _, target in measured], config.model.max_target_length)
    stats["target"] = {k: v for k, v in target.items() if k != "lengths"}
    return stats


def length_statistics(splits, tokenizer, config: RunConfig, *, memo: dict | None = None) -> dict[str, dict[str, Any]]:
    """Document lengths against max_seq_length; each split's `target` holds the summaries' against max_target_length.
    `memo`: see `base.measured_statistics`."""
    return measured_statistics(splits, tokenizer, config, columns=LENGTH_COLUMNS, measure=measure_lengths, summarize=summarize_lengths, memo=memo)


def inspect_example(tokenizer, example: dict[str, Any], config: RunConfig) -> dict[str, Any]:
    """The encoder's input tokens and the decoder's target tokens, with what truncation cut from each."""
    m = config.model
    source = m.source_prefix + example["document"]
    with marked(tokenizer, config):
        encoded = tokenizer(source, truncation=True, max_length=m.max_seq_length)
        target = tokenizer(text_target=example["summary"], truncation=True, max_length=m.max_target_length)
        full_source = len(tokenizer(source, truncation=False, verbose=False)["input_ids"])
        full_target = len(tokenizer(text_target=example["summary"], truncation=False, verbose=False)["input_ids"])
    return {
        "tokens": tokenizer.convert_ids_to_tokens(encoded["input_ids"]),
        "input_ids": list(encoded["input_ids"]),
        "attention_mask": list(encoded["attention_mask"]),
        "target_tokens": tokenizer.convert_ids_to_tokens(target["input_ids"]),
        "labels": list(target["input_ids"]),
        "num_tokens": len(encoded["input_ids"]),
        "num_tokens_untruncated": full_source,
        "truncated": full_source > len(encoded["input_ids"]),
        "target_truncated": full_target > len(target["input_ids"]),
        "rendered": source,
        "max_length": m.max_seq_length,
        "max_target_length": m.max_target_length,
    }


# ---------------------------------------------------------------- model and trainer


def build_model(config: RunConfig, label_names: list[str] | None = None, *, token: str | None = None):
    from transformers import AutoModelForSeq2SeqLM  # noqa: PLC0415 - heavy

    model = load_pretrained(AutoModelForSeq2SeqLM, config, token=token)
    if not fits_model(model.config):
        from ..errors import ModelLoadError  # noqa: PLC0415

        raise ModelLoadError(wrong_kind_message(config))
    generation = model.generation_config
    generation.max_new_tokens = config.model.generation_max_new_tokens
    # The pretrained task's length bounds and beam search (bart-large-cnn's: 56 to 142 tokens, 4 beams with a length
    # penalty) are not this run's: generation_max_new_tokens sets the length, and evaluation, Try it and the Hub
    # snippet all decode greedily (transformers' defaults).
    generation.update(max_length=None, min_length=None, num_beams=None, length_penalty=None, early_stopping=None)
    return model


def save_model(trainer, tokenizer, config: RunConfig, *, model_dir: Path, run_dir: Path) -> None:
    """Model and tokenizer; the source prefix goes into the model config's `prefix` (where the predictor,
    the card's snippet and the demo Space read it), generation_config.json keeps the generation length, and the
    tokenizer's model_max_length is max_seq_length, so that the snippet's and the Space's `truncation=True` cut a
    document where training, evaluation and the predictor cut it."""
    trainer.model.config.prefix = config.model.source_prefix or None  # not the base model's: one trained with another prefix had it
    tokenizer.model_max_length = config.model.max_seq_length
    save_model_and_tokenizer(trainer, tokenizer, config, model_dir=model_dir, run_dir=run_dir)


def decode(tokenizer, ids: np.ndarray) -> list[str]:
    """Token ids to texts; -100 (ignored label positions) is read as padding."""
    ids = np.where(np.asarray(ids) < 0, tokenizer.pad_token_id, np.asarray(ids))
    return [text.strip() for text in tokenizer.batch_decode(ids, skip_special_tokens=True)]


def compute_metrics_fn(tokenizer, references: Sequence[str] | None = None):
    """ROUGE/BLEU of the generated summaries against the reference texts as written in the data (the labels'
    token ids, truncated at max_target_length and normalised by the tokenizer, only when those are unknown)."""
    from ..metrics_text import generation_metrics  # noqa: PLC0415

    def compute(prediction) -> dict[str, float]:
        generated_ids = np.asarray(prediction.predictions)
        generated = decode(tokenizer, generated_ids)
        truth = list(references) if references is not None and len(references) == len(generated) else decode(tokenizer, prediction.label_ids)
        scores = generation_metrics(generated, truth)
        special = set(tokenizer.all_special_ids)
        scores["gen_len"] = float(np.mean([sum(1 for t in row if t >= 0 and t not in special) for row in generated_ids]))
        return scores

    return compute


def build_trainer(config: RunConfig, *, model, tokenizer, label_names: list[str] | None = None, train_dataset, eval_dataset, output_dir: Path, callbacks: list, for_training: bool = True):
    from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments  # noqa: PLC0415 - heavy

    from ..train import training_arguments  # noqa: PLC0415

    args = training_arguments(config, output_dir, args_class=Seq2SeqTrainingArguments, predict_with_generate=True, **({} if for_training else EVALUATION_ONLY))
    set_languages(tokenizer, config)
    start_generation_as_trained(model, tokenizer)  # mBART cc25: the decoder starts with target_lang's code
    start_in_target_language(model, tokenizer, config)  # mBART-50, NLLB: target_lang's code is forced first
    evaluating = eval_dataset if args.eval_strategy != "no" else None
    return in_order(_keeping_generation_length(Seq2SeqTrainer))(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=evaluating,
        processing_class=tokenizer,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100),
        compute_metrics=compute_metrics_fn(tokenizer, list(evaluating["summary"]) if evaluating is not None else None),
        callbacks=callbacks,
    )


def start_generation_as_trained(model, tokenizer) -> None:
    """Make `generate` start the decoder with the token training starts it with. Training shifts the labels right
    (the model's own `prepare_decoder_input_ids_from_labels`); mBART's shift puts the labels' language code first
    (`... </s> en_XX` is read as `en_XX ...`), while mbart-large-cc25 names no decoder start token and `generate`
    began with `<s>`, a start the fine-tuned decoder never saw. T5's, BART's, Pegasus's and Marian's agree already."""
    import torch  # noqa: PLC0415

    prepare = getattr(model, "prepare_decoder_input_ids_from_labels", None)
    labels = tokenizer(text_target="a")["input_ids"]
    if prepare is None or not labels:
        return
    first = int(prepare(labels=torch.tensor([labels]))[0, 0])
    if first != model.generation_config.decoder_start_token_id:
        model.generation_config.decoder_start_token_id = first


def _keeping_generation_length(trainer_class):
    """A Seq2SeqTrainer that leaves the model's generation length as `build_model` set it.

    transformers 5's `Seq2SeqTrainer.prediction_step` fills the model's generation config with the library's
    defaults after each batch, `max_length` 20 among them: beside `max_new_tokens` it made every later
    `generate` warn that both are set (each evaluation batch in the run's log, each prediction), and the
    saved generation_config.json carried it."""

    class KeepingGenerationLength(trainer_class):
        def prediction_step(self, model, inputs, *args, **kwargs):
            max_length = self.model.generation_config.max_length
            try:
                return super().prediction_step(model, inputs, *args, **kwargs)
            finally:
                self.model.generation_config.max_length = max_length

    return KeepingGenerationLength


# ---------------------------------------------------------------- evaluation


def evaluate_split(trainer, dataset, *, split: str, label_names: list[str] | None = None, out_dir: Path, prefix: str, config: RunConfig | None = None) -> dict[str, Any]:
    """Generate a summary for every document; write `generations_<split>.csv` (document, reference,
    generated, per-row ROUGE-L) and `report_<split>.json`; return Trainer-style metrics."""
    import pandas as pd  # noqa: PLC0415

    from .. import intervals  # noqa: PLC0415
    from ..metrics_text import rouge_intervals, rouge_per_example  # noqa: PLC0415

    tokenizer = trainer.processing_class
    references = list(dataset["summary"])
    trainer.compute_metrics = compute_metrics_fn(tokenizer, references)
    output = predict_in_order(trainer, dataset, prefix=prefix)
    generated = decode(tokenizer, output.predictions)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"document": list(dataset["document"]), "reference": references, "generated": generated})
    rouge = rouge_per_example(generated, references)
    frame["rougeL"] = rouge["rougeL"]
    frame.to_csv(out_dir / f"generations_{split}.csv", index=False)
    metrics = {k.removeprefix(f"{prefix}_"): v for k, v in output.metrics.items()}
    report = {"task": "seq2seq", "metrics": metrics, **intervals.report_fields(rouge_intervals(rouge), f"ROUGE: {intervals.bootstrap_method('examples')}; BLEU, a corpus score, has none"), "examples": len(frame), "loss": output.metrics.get(f"{prefix}_loss")}
    write_json_atomic(out_dir / f"report_{split}.json", report)  # the studio may read it while it is written
    return output.metrics


def lead_sentence(document: str) -> str:
    """The document's first sentence (the whole text when it has no sentence end)."""
    match = _FIRST_SENTENCE.match(document.strip())
    return match.group(1) if match else document.strip()


def after_training(trainer, splits, config: RunConfig, *, label_names: list[str] | None = None, out_dir: Path) -> None:
    """Lead-1, the classic extractive baseline: the document's first sentence as its summary; with the
    model's ROUGE-L gain over it on the same documents and its paired interval (`intervals.gain_keys`),
    from the per-document ROUGE-L of `generations_<split>.csv`."""
    import pandas as pd  # noqa: PLC0415

    from ..intervals import paired_gain  # noqa: PLC0415
    from ..metrics_text import generation_metrics, rouge_per_example  # noqa: PLC0415

    result: dict[str, dict[str, Any]] = {"lead_1": {}}
    for role in ("validation", "test"):
        if role in splits:
            split = splits[role]
            leads, references = [lead_sentence(d) for d in split["document"]], list(split["summary"])
            scores = generation_metrics(leads, references)
            written = out_dir / f"generations_{role}.csv"
            model = pd.read_csv(written, dtype={"document": str}, keep_default_na=False) if written.is_file() else None
            if model is not None and list(model["document"]) == list(split["document"]):  # the same documents, in order
                scores.update(paired_gain("rougeL", model["rougeL"], rouge_per_example(leads, references)["rougeL"]))
            result["lead_1"][role] = scores
    write_json_atomic(out_dir / "baselines.json", result)


# ---------------------------------------------------------------- inference


class Seq2SeqPredictor:
    """Summaries (or any target text) generated by an encoder-decoder model."""

    task = "seq2seq"

    def __init__(self, model_path: str, *, max_length: int = 512, token: str | None = None):
        from transformers import AutoModelForSeq2SeqLM  # noqa: PLC0415

        config = RunConfig.from_dict({"task": "seq2seq", "model_name_or_path": model_path})
        self.tokenizer = load_trained_tokenizer(model_path, token=token)
        self.model = load_pretrained(AutoModelForSeq2SeqLM, config, token=token)
        self.device = device()
        self.model.to(self.device).eval()
        self.max_length = min(max_length, self.tokenizer.model_max_length)
        self.source_prefix = getattr(self.model.config, "prefix", None) or ""  # written by save_model
        self.max_new_tokens = self.model.generation_config.max_new_tokens or 128
        self.model.generation_config.max_length = None  # a model saved by an earlier finetuner kept 20: generate would warn
        start_generation_as_trained(self.model, self.tokenizer)  # an mBART model that names no decoder start: cc25, or a run saved before

    def generate(self, texts: Sequence[str], *, max_new_tokens: int | None = None, num_beams: int = 1, batch_size: int = 16, **options) -> list[str]:
        import torch  # noqa: PLC0415

        if isinstance(texts, str):
            raise DataError("generate() takes a list of texts; wrap a single text in a list.")
        if max_new_tokens is not None and max_new_tokens < 1:
            raise DataError(f"max_new_tokens must be 1 or more (the most tokens to generate); it is {max_new_tokens}.")
        if num_beams < 1:
            raise DataError(f"num_beams must be 1 or more (1 is greedy decoding); it is {num_beams}.")
        out: list[str] = []
        for start in range(0, len(texts), batch_size):
            batch = [self.source_prefix + t for t in texts[start : start + batch_size]]
            inputs = self.tokenizer(batch, truncation=True, max_length=self.max_length, padding=True, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                ids = self.model.generate(**inputs, max_new_tokens=max_new_tokens or self.max_new_tokens, num_beams=num_beams, do_sample=False)
            out.extend(decode(self.tokenizer, ids.cpu().numpy()))
        return out

    def records(self, texts: Sequence[str], **options) -> list[dict[str, Any]]:
        return [{"text": t, "summary": s} for t, s in zip(texts, self.generate(texts, **_generation_options(options)))]

    def output_columns(self, texts: Sequence[str], **options) -> dict[str, list]:
        return {"summary": self.generate(texts, **_generation_options(options))}


def _generation_options(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k in ("max_new_tokens", "num_beams") and v is not None}


def load_predictor(model_path: str, *, max_length: int = 512, token: str | None = None) -> Seq2SeqPredictor:
    return Seq2SeqPredictor(model_path, max_length=max_length, token=token)
