"""Token classification (named-entity recognition): one tag per word, BIO scheme, entity-level scores.

Data are sentences given as words with one tag each (CoNLL style). Words are cut into sub-word tokens by
the model's tokenizer; each word's tag goes on its first sub-token and the others are ignored by the loss
(label -100), or, with `label_all_tokens`, carry the entity's inside tag (`inside_map`). Training reads a
sentence up to `max_seq_length`. Evaluation always scores words, by their first sub-token, so the two
settings are judged alike, and it reads every word of a sentence as prediction does: a longer sentence in
overlapping windows (`window_options`), each word from the window prediction tags it in (`window_owners`),
so evaluation and prediction agree on the same model and text. Scores follow seqeval (see `finetuner.metrics_text`).
"""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import data as data_module
from ..config import DataConfig, RunConfig
from ..errors import DataError
from ..runs import write_json_atomic
from .base import EVALUATION_ONLY, in_order, predict_shortest_first, shortest_first, before_training, cache_key, cached_map, check_tokenization, fits_model, length_settings, measured_statistics, model_lengths, load_with_new_head, save_model, with_head_learning_rate  # noqa: F401

PIPELINE_TAG = "token-classification"
AUTO_MODEL = "AutoModelForTokenClassification"
# label_all_tokens labels a word's later sub-tokens (`tokenize`, `inspect_example`); it changes no token count.
TOKENIZATION_OPTIONS = ("label_all_tokens",)
LENGTH_OPTIONS: tuple[str, ...] = ()
IGNORED = -100
WORDS = re.compile(r"[@#]?\w+(?:[-'’.]\w+)*|[^\w\s]")


# ---------------------------------------------------------------- data


def prepare_data(config: RunConfig) -> data_module.TaskData:
    return data_module.prepare_token_data(config.data, seed=config.training.seed)


def data_report(prepared: data_module.TaskData) -> dict[str, Any]:
    return prepared.report


def evaluation_data(frame, data_report: dict[str, Any], config: RunConfig):
    """Another tagged file or split, with the run's tag ids; tags the model does not know are an error."""
    import datasets  # noqa: PLC0415

    names = list(data_report["label_names"])
    columns = DataConfig(
        tokens_column_name=(data_report.get("text_columns") or [None])[0] if (data_report.get("text_columns") or [None])[0] in frame.columns else None,
        tags_column_name=data_report.get("label_column") if data_report.get("label_column") in frame.columns else None,
    )
    tokens, tags = data_module.resolve_token_columns(frame, columns)
    normalised, _ = data_module.normalise_token_frame(frame, tokens, tags, "evaluation")
    unknown = sorted({t for row in normalised["tags"] for t in row} - set(names))
    if unknown:
        raise DataError(f"The data has tag(s) {', '.join(map(repr, unknown[:5]))} that the model does not know; it knows: {', '.join(names)}.")
    index = {n: i for i, n in enumerate(names)}
    return datasets.Dataset.from_dict({"tokens": list(normalised["tokens"]), "tags": [[index[t] for t in row] for row in normalised["tags"]]})


# ---------------------------------------------------------------- tokens


def load_tokenizer(config: RunConfig, *, token: str | None = None):
    """The model's fast tokenizer, reading each word after a space as the model read words in mid-sentence
    (byte-level BPE: RoBERTa, GPT-2, ModernBERT, Llama 3, Qwen)."""
    from ..tokenization import load_tokenizer as load  # noqa: PLC0415

    m = config.model
    return _words_after_spaces(functools.partial(load, m.tokenizer_name or m.model_name_or_path, revision=m.model_revision, trust_remote_code=m.trust_remote_code, token=token))


def load_trained_tokenizer(model_path, *, token: str | None = None):
    """A trained model's tokenizer, reading words as its training did, for its predictor and evaluate_run.

    One that records add_prefix_space=True was loaded so for training and saved after it: RoBERTa's and
    GPT-2's classes apply the option as they load; a generic one's backend is read as saved, with the space
    `_space_before_each_word` put before each word or, trained before finetuner put it there, without it.
    It is read as saved, so a run is scored and predicted as it was trained. Any other (a Qwen2 class,
    which rebuilds its normalizer as it loads; a model trained elsewhere) is read as `load_tokenizer` reads it."""
    from ..tokenization import load_tokenizer as load  # noqa: PLC0415

    loader = functools.partial(load, str(model_path), token=token)
    tokenizer = loader()
    return tokenizer if getattr(tokenizer, "add_prefix_space", None) is True else _words_after_spaces(loader, tokenizer)


def _words_after_spaces(load, tokenizer=None):
    """`load()`'s tokenizer (or `tokenizer`, loaded by it), reading each word after a space: loaded again with
    add_prefix_space=True where the class applies it, then `_space_before_each_word`."""
    tokenizer = load() if tokenizer is None else tokenizer
    if getattr(tokenizer, "add_prefix_space", None) is False and not _bytes_after_split(tokenizer):
        tokenizer = load(add_prefix_space=True)
    _space_before_each_word(tokenizer)
    return tokenizer


def _space_before_each_word(tokenizer) -> None:
    """Make a byte-level tokenizer put one space before each word, as `add_prefix_space=True` asks.

    The sentence comes as words (`is_split_into_words`), each tokenized on its own: without the space,
    "visited" in mid-sentence became 'vis', 'ited' where the model was pretrained on 'Ġvisited'. RoBERTa's
    and GPT-2's tokenizer classes apply the option; the generic one (ModernBERT's, and any tokenizer saved
    as PreTrainedTokenizerFast) only records it, so its ByteLevel pre-tokenizer is set to add the space.
    A pre-tokenizer that splits before its byte-level step (Llama 3's, Qwen's) would add it before every
    piece of a word too ("don't" as 'Ġdon', 'Ġ', "'t"; "2023" as 'Ġ2', 'Ġ0'...): there the normalizer
    puts the space before each word, which the split then keeps with the word's first piece as in running
    text ('Ġdon', "'t"), and the byte-level step adds none."""
    from tokenizers import normalizers, pre_tokenizers  # noqa: PLC0415

    backend = tokenizer.backend_tokenizer
    step = backend.pre_tokenizer
    if isinstance(step, pre_tokenizers.ByteLevel) and not step.add_prefix_space:
        step.add_prefix_space = True
    byte_steps = _bytes_after_split(tokenizer)
    if not byte_steps:
        return
    for byte_step in byte_steps:
        byte_step.add_prefix_space = False
    if backend.normalizer is None:
        backend.normalizer = normalizers.Prepend(" ")
    elif not backend.normalizer.normalize_str("a").startswith(" "):  # not already (a run's saved tokenizer)
        backend.normalizer = normalizers.Sequence([backend.normalizer, normalizers.Prepend(" ")])


def _bytes_after_split(tokenizer) -> list:
    """The ByteLevel steps of a pre-tokenizer that runs steps in sequence (Llama 3's and Qwen's: a regex
    Split, then ByteLevel); none for any other."""
    from tokenizers import pre_tokenizers  # noqa: PLC0415

    sequence = tokenizer.backend_tokenizer.pre_tokenizer
    if not isinstance(sequence, pre_tokenizers.Sequence):
        return []
    steps = []
    while True:
        try:
            steps.append(sequence[len(steps)])
        except IndexError:
            return [step for step in steps if isinstance(step, pre_tokenizers.ByteLevel)]


def align_labels(word_ids: Sequence[int | None], tags: Sequence[int], *, label_all_tokens: bool, inside: dict[int, int]) -> list[int]:
    """One label per sub-token: the word's tag on its first sub-token; the rest -100, or (label_all_tokens)
    the tag `inside` maps it to (`inside_map`)."""
    labels, previous = [], None
    for word in word_ids:
        if word is None:
            labels.append(IGNORED)
        elif word != previous:
            labels.append(int(tags[word]))
        else:
            labels.append(inside.get(int(tags[word]), int(tags[word])) if label_all_tokens else IGNORED)
        previous = word
    return labels


def inside_map(label_names: Sequence[str]) -> dict[int, int]:
    """The tag a word's later sub-tokens learn under `label_all_tokens`: I- of the word's entity type for
    any entity tag (B-, E-, S- of IOBES; L-, U- of BILOU), where the tag set has that I- tag.

    The first sub-token keeps the word's own tag, the one prediction reads; the later ones are within the
    entity, neither its start nor (the word going on) its end. Copied, an S- or E- tag would be taught
    mid-word as if the entity ended at each piece; transformers' `run_ner.py` makes B- into I- alike."""
    index = {n: i for i, n in enumerate(label_names)}
    return {i: index[f"I-{n[2:]}"] for i, n in enumerate(label_names) if n[:2] in ("B-", "E-", "S-", "L-", "U-") and f"I-{n[2:]}" in index}


def window_options(tokenizer, max_length: int) -> dict[str, Any]:
    """The tokenizer options that read a sentence in windows of `max_length` sub-tokens (at most the
    tokenizer's own limit) overlapping by a quarter of it: prediction and evaluation read long sentences
    alike, so they tag them alike."""
    length = min(max_length, tokenizer.model_max_length)
    return {"truncation": True, "max_length": length, "stride": length // 4, "return_overflowing_tokens": True}


def window_owners(owners: Sequence[int], windows: Sequence[Sequence[int | None]]) -> list[dict[int, int]]:
    """Per window of a tokenizer's overflowing output (`owners`: each window's sentence; `windows`: each
    window's word ids), the words tagged from it, each at its first sub-token's position.

    Each word is tagged in exactly one window: the one where its first sub-token sits farthest from an edge
    (the earlier one on a tie), so it sees the most context on both sides. A window may start inside a word
    whose first sub-token the window before holds: at the edge, that piece never wins."""
    best: dict[tuple[int, int], tuple[int, int, int]] = {}  # (sentence, word) -> (margin, window, position)
    for window, (sentence, word_ids) in enumerate(zip(owners, windows)):
        positions = [(position, word) for position, word in enumerate(word_ids) if word is not None and word >= 0]
        if not positions:
            continue
        first_position, last_position = positions[0][0], positions[-1][0]
        firsts: dict[int, int] = {}
        for position, word in positions:
            firsts.setdefault(word, position)
        for word, position in firsts.items():
            margin = min(position - first_position, last_position - position)
            if (sentence, word) not in best or margin > best[sentence, word][0]:
                best[sentence, word] = (margin, window, position)
    owned: list[dict[int, int]] = [{} for _ in owners]
    for (_, word), (_, window, position) in best.items():
        owned[window][word] = position
    return owned


def tokenize(splits, tokenizer, config: RunConfig, *, label_names: list[str], fingerprint: str | None = None, cache_dir: Path | None = None):
    """input_ids, attention_mask, labels (aligned to sub-tokens) and word_ids (-1 for special tokens), per split.

    The training split is a row per sentence, cut at max_seq_length; `label_all_tokens` changes it only.
    Any other split is read as prediction reads it (`_encode_windows`): a row per window, each word
    labelled at its first sub-token in one window, so its scores are per word and cover every word.
    Training keeps a row per sentence, so that a run's number of examples, steps and epochs, and what a
    resumed run continues, stay what they were; the run's token lengths (token_stats.json) show how many
    sentences the cut shortens.
    """
    from ..tokenization import tokenizer_signature  # noqa: PLC0415

    mapping = inside_map(label_names)
    max_length = config.model.max_seq_length
    out = {}
    for role, split in splits.items():
        if role == "train":
            label_all = config.model.label_all_tokens
            encode = functools.partial(_encode_truncated, tokenizer=tokenizer, max_length=max_length, inside=mapping if label_all else None)
            key = cache_key(fingerprint, tokenizer_signature(tokenizer), max_length, label_all, sorted(mapping.items()) if label_all else None, "ner") if fingerprint else None
            out.update(cached_map({role: split}, encode, key=key, cache_dir=cache_dir))
        else:
            encode = functools.partial(_encode_windows, tokenizer=tokenizer, max_length=max_length)
            key = cache_key(fingerprint, tokenizer_signature(tokenizer), max_length, "ner-windows") if fingerprint else None
            out.update(cached_map({role: split}, encode, key=key, cache_dir=cache_dir, remove_columns=True, with_indices=True))
    return out


def _encode_truncated(batch, *, tokenizer, max_length: int, inside: dict[int, int] | None):
    """A row per sentence cut at `max_length`; later sub-tokens labelled by `inside` when given (label_all_tokens)."""
    encoded = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length)
    encoded["labels"], encoded["word_ids"] = [], []
    for i, tags in enumerate(batch["tags"]):
        word_ids = encoded.word_ids(i)
        encoded["labels"].append(align_labels(word_ids, tags, label_all_tokens=inside is not None, inside=inside or {}))
        encoded["word_ids"].append([-1 if w is None else w for w in word_ids])
    return encoded


def _encode_windows(batch, indices, *, tokenizer, max_length: int):
    """A row per window (`window_options`), each word's tag on its first sub-token in the window that
    `window_owners` picks, -100 elsewhere; with `sentence` (the sentence's row in the split) and the
    sentence's `tokens` and `tags`, so `every_word` stitches the windows' predictions back into sentences."""
    encoded = tokenizer(batch["tokens"], is_split_into_words=True, **window_options(tokenizer, max_length))
    owners = encoded.pop("overflow_to_sample_mapping")
    word_ids = [encoded.word_ids(window) for window in range(len(owners))]
    labels = []
    for window, (sentence, owned) in enumerate(zip(owners, window_owners(owners, word_ids))):
        row = [IGNORED] * len(word_ids[window])
        for word, position in owned.items():
            row[position] = int(batch["tags"][sentence][word])
        labels.append(row)
    encoded["labels"] = labels
    encoded["word_ids"] = [[-1 if w is None else w for w in ids] for ids in word_ids]
    encoded["sentence"] = [indices[sentence] for sentence in owners]
    encoded["tokens"] = [batch["tokens"][sentence] for sentence in owners]
    encoded["tags"] = [batch["tags"][sentence] for sentence in owners]
    return encoded


LENGTH_COLUMNS = ("tokens",)  # the words of a sentence: all its sub-token count comes from


def measure_lengths(columns: dict[str, list], tokenizer, config: RunConfig) -> list[int]:
    """Each sentence's sub-token count, special tokens included, untruncated."""
    return [len(ids) for ids in tokenizer(columns["tokens"], is_split_into_words=True, truncation=False, verbose=False)["input_ids"]]


def length_statistics(splits, tokenizer, config: RunConfig, *, memo: dict | None = None) -> dict[str, dict[str, Any]]:
    """Sub-token counts per sentence (special tokens included, untruncated) against max_seq_length; `memo`: see `base.measured_statistics`."""
    return measured_statistics(splits, tokenizer, config, columns=LENGTH_COLUMNS, measure=measure_lengths, memo=memo)


def inspect_example(tokenizer, example: dict[str, Any], config: RunConfig, *, label_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Each word's tag against its sub-tokens, and the label each sub-token is trained on.

    `example` holds `tokens` (words) and `tags` (names, or ids into `label_names`). Returns `tokens` (sub-tokens),
    `word_ids`, `labels` (the tag name each sub-token learns, None where ignored), `words` (per word: its tag,
    its sub-tokens, and whether truncation cut it off), and the counts.
    """
    words = [str(w) for w in example["tokens"]]
    tags = [label_names[t] if label_names is not None and not isinstance(t, str) else str(t) for t in example["tags"]]
    if len(words) != len(tags):
        raise DataError(f"The example has {len(words)} words but {len(tags)} tags.")
    names = list(label_names) if label_names is not None else data_module.tag_names(set(tags))
    index = {n: i for i, n in enumerate(names)}
    encoded = tokenizer(words, is_split_into_words=True, truncation=True, max_length=config.model.max_seq_length)
    word_ids = encoded.word_ids()
    labels = align_labels(word_ids, [index[t] for t in tags], label_all_tokens=config.model.label_all_tokens, inside=inside_map(names))
    sub_tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    pieces: dict[int, list[str]] = defaultdict(list)
    for piece, word in zip(sub_tokens, word_ids):
        if word is not None:
            pieces[word].append(piece)
    untruncated = len(tokenizer(words, is_split_into_words=True, truncation=False, verbose=False)["input_ids"])
    return {
        "tokens": sub_tokens,
        "input_ids": list(encoded["input_ids"]),
        "word_ids": list(word_ids),
        "labels": [None if label == IGNORED else names[label] for label in labels],
        "words": [{"word": w, "tag": t, "sub_tokens": pieces.get(i, []), "truncated": i not in pieces} for i, (w, t) in enumerate(zip(words, tags))],
        "num_tokens": len(sub_tokens),
        "num_tokens_untruncated": untruncated,
        "truncated": untruncated > len(sub_tokens),
        "truncated_words": sum(1 for i in range(len(words)) if i not in pieces),
        "max_length": config.model.max_seq_length,
    }


# ---------------------------------------------------------------- model and trainer


def build_model(config: RunConfig, label_names: list[str], *, token: str | None = None):
    """The pretrained encoder with a fresh token-classification head sized for the tag set."""
    from transformers import AutoModelForTokenClassification  # noqa: PLC0415 - heavy

    return load_with_new_head(AutoModelForTokenClassification, config, label_names, token=token)


def word_level(predictions: np.ndarray, labels: np.ndarray, label_names: Sequence[str]) -> tuple[list[list[str]], list[list[str]]]:
    """(true tags, predicted tags) per sentence, at the positions that carry a label (first sub-tokens in evaluation)."""
    predicted_ids = predictions.argmax(-1) if predictions.ndim == 3 else predictions
    true, predicted = [], []
    for row_predictions, row_labels in zip(predicted_ids, labels):
        keep = row_labels != IGNORED
        true.append([label_names[int(i)] for i in row_labels[keep]])
        predicted.append([label_names[int(i)] for i in row_predictions[keep]])
    return true, predicted


def every_word(predictions: np.ndarray, labels: np.ndarray, windows, label_names: Sequence[str]) -> tuple[list[list[str]], list[list[str]]]:
    """(true tags, predicted tags) of every word of each sentence, the sentences in their split's order.

    `windows`: the rows predicted, in their order, with their `sentence` (the sentence's row in its split),
    `word_ids` and `tags` (the sentence's). A word is predicted at the sub-token that carries its label, in
    the one window that labels it (`_encode_windows`); a word made of no sub-token at all (a lone U+FE0F)
    is predicted O, as prediction tags it. `word_level` alone would leave such words out of the scores."""
    predicted_ids = predictions.argmax(-1) if predictions.ndim == 3 else predictions
    found: dict[int, dict[int, str]] = {}
    true_tags: dict[int, list[str]] = {}
    for row_predictions, row_labels, word_ids, tags, sentence in zip(predicted_ids, labels, windows["word_ids"], windows["tags"], windows["sentence"]):
        words = found.setdefault(sentence, {})
        true_tags[sentence] = [label_names[int(t)] for t in tags]
        for position, word in enumerate(word_ids):
            if word >= 0 and word not in words and row_labels[position] != IGNORED:
                words[word] = label_names[int(row_predictions[position])]
    order = sorted(true_tags)
    return [true_tags[s] for s in order], [[found[s].get(word, "O") for word in range(len(true_tags[s]))] for s in order]


def compute_metrics_fn(label_names: list[str], sentences=None):
    """Entity precision/recall/F1 and word accuracy for the Trainer's evaluations during training, and
    F1's 95% interval over the sentences (`f1_interval`, [low, high]): the live curve's band, so that a rise
    between two evaluations smaller than it is not read as a better model. With `sentences` (the evaluated
    windows in their order, with `sentence`, `word_ids` and `tags`), every word of every sentence is scored
    (`every_word`)."""
    from ..metrics_text import entity_intervals, entity_metrics  # noqa: PLC0415

    def compute(prediction) -> dict[str, float | list[float]]:
        predictions, labels = np.asarray(prediction.predictions), np.asarray(prediction.label_ids)
        if sentences is not None and len(sentences) == len(labels):
            true, predicted = every_word(predictions, labels, sentences, label_names)
        else:
            true, predicted = word_level(predictions, labels, label_names)
        scores = entity_metrics(true, predicted)
        interval = entity_intervals(true, predicted).get("f1")
        return {**{k: scores[k] for k in ("precision", "recall", "f1", "accuracy")}, **({"f1_interval": interval} if interval else {})}

    return compute


def build_trainer(config: RunConfig, *, model, tokenizer, label_names: list[str], train_dataset, eval_dataset, output_dir: Path, callbacks: list, for_training: bool = True):
    from transformers import DataCollatorForTokenClassification, Trainer  # noqa: PLC0415 - heavy

    from ..train import training_arguments  # noqa: PLC0415

    args = training_arguments(config, output_dir, **({} if for_training else EVALUATION_ONLY))
    evaluating = shortest_first(eval_dataset) if eval_dataset is not None and args.eval_strategy != "no" else None  # its scores do not depend on row order
    return in_order(with_head_learning_rate(Trainer, config.training.head_learning_rate), keep_evaluations=True)(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=evaluating,
        processing_class=tokenizer,
        data_collator=DataCollatorForTokenClassification(tokenizer),  # pads labels with -100
        compute_metrics=compute_metrics_fn(label_names, _sentences(evaluating)),
        callbacks=callbacks,
    )


def _sentences(dataset):
    """The rows' `sentence`, `word_ids` and `tags` that `every_word` reads (None without a dataset, or one lacking them)."""
    columns = ["sentence", "word_ids", "tags"]
    if dataset is None or not set(columns) <= set(dataset.column_names):
        return None
    return dataset.select_columns(columns)


# ---------------------------------------------------------------- evaluation


def evaluate_split(trainer, dataset, *, split: str, label_names: list[str], out_dir: Path, prefix: str, config: RunConfig | None = None) -> dict[str, Any]:
    """Predict a split (its windows: `tokenize`); write `report_<split>.json` (overall and per-type scores,
    tag confusion) and `predictions_<split>.csv` (one sentence per row: words, true and predicted tags and
    entities)."""
    from sklearn.metrics import confusion_matrix  # noqa: PLC0415

    from .. import intervals  # noqa: PLC0415
    from ..metrics_text import entity_intervals, entity_metrics, entity_spans  # noqa: PLC0415

    trainer.compute_metrics = compute_metrics_fn(label_names, _sentences(shortest_first(dataset)))  # the rows as predicted
    output = predict_shortest_first(trainer, dataset, prefix=prefix, evaluated_in_training=split == "validation")
    true, predicted = every_word(output.predictions, output.label_ids, dataset, label_names)
    scores = entity_metrics(true, predicted)
    windows = Counter(dataset["sentence"])
    first_window: dict[int, list[str]] = {}
    for sentence, tokens in zip(dataset["sentence"], dataset["tokens"]):
        first_window.setdefault(sentence, tokens)
    words = [first_window[sentence] for sentence in sorted(first_window)]
    flat_true, flat_predicted = [t for row in true for t in row], [t for row in predicted for t in row]
    report = {
        "task": "token-classification",
        "metrics": {k: scores[k] for k in ("precision", "recall", "f1", "accuracy")},
        **intervals.report_fields(entity_intervals(true, predicted), intervals.bootstrap_method("sentences")),
        "per_type": scores["per_type"],
        "true_entities": scores["true_entities"],
        "predicted_entities": scores["predicted_entities"],
        "label_names": list(label_names),
        "tag_confusion_matrix": confusion_matrix(flat_true, flat_predicted, labels=list(label_names)).tolist(),
        "long_sentences": sum(count > 1 for count in windows.values()),  # read in several windows, as prediction reads them
        "loss": output.metrics.get(f"{prefix}_loss"),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / f"report_{split}.json", report)  # the studio may read it while it is written

    def entities(sentence: list[str], tags: list[str]) -> str:
        return "; ".join(f"{' '.join(sentence[s:e])} [{kind}]" for kind, s, e in entity_spans(tags))

    import pandas as pd  # noqa: PLC0415

    rows = []
    for sentence, true_tags, predicted_tags in zip(words, true, predicted):
        rows.append(
            {
                "text": " ".join(sentence),
                "tags": " ".join(true_tags),
                "predicted": " ".join(predicted_tags),
                "entities": entities(sentence, true_tags),
                "predicted_entities": entities(sentence, predicted_tags),
                "errors": sum(a != b for a, b in zip(true_tags, predicted_tags)),
                "correct": true_tags == predicted_tags,
            }
        )
    pd.DataFrame(rows).to_csv(out_dir / f"predictions_{split}.csv", index=False)
    return output.metrics


def after_training(trainer, splits, config: RunConfig, *, label_names: list[str], out_dir: Path) -> None:
    """A dictionary baseline: each word gets the tag it had most often in train (O when unseen).
    A fine-tuned model that does not beat it has learned little beyond memorising names. With the model's
    entity F1 gain over it on the same sentences and its paired interval (`intervals.gain_keys`), from
    `predictions_<split>.csv`."""
    import pandas as pd  # noqa: PLC0415

    from ..intervals import paired_gain  # noqa: PLC0415
    from ..metrics_text import entity_counts, entity_f1, entity_metrics  # noqa: PLC0415

    counts: dict[str, Counter] = defaultdict(Counter)
    for words, tags in zip(splits["train"]["tokens"], splits["train"]["tags"]):
        for word, tag in zip(words, tags):
            counts[word.lower()][label_names[tag]] += 1
    lookup = {word: tags.most_common(1)[0][0] for word, tags in counts.items()}
    result: dict[str, dict[str, Any]] = {"most_frequent_tag": {}}
    for role in ("validation", "test"):
        if role in splits:
            true = [[label_names[t] for t in tags] for tags in splits[role]["tags"]]
            predicted = [_repair_bio([lookup.get(w.lower(), "O") for w in words]) for words in splits[role]["tokens"]]
            scores = entity_metrics(true, predicted)
            result["most_frequent_tag"][role] = {k: scores[k] for k in ("precision", "recall", "f1", "accuracy")}
            written = out_dir / f"predictions_{role}.csv"
            model = pd.read_csv(written, dtype=str, keep_default_na=False) if written.is_file() else None
            if model is not None and list(model["text"]) == [" ".join(words) for words in splits[role]["tokens"]]:
                seen = [str(tags).split() for tags in model["tags"]]
                baseline = entity_counts(seen, predicted)
                result["most_frequent_tag"][role].update(paired_gain("f1", entity_counts(seen, [str(p).split() for p in model["predicted"]]), baseline, entity_f1))
    write_json_atomic(out_dir / "baselines.json", result)


def _repair_bio(tags: list[str]) -> list[str]:
    """Word-by-word lookup can yield I-x after O; make it B-x so the baseline's entities are well-formed."""
    repaired, previous = [], "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        repaired.append(tag)
        previous = tag
    return repaired


# ---------------------------------------------------------------- inference


def prediction_inputs(frame, data_report: dict[str, Any], *, text_column: str | None = None, source: str = "the file") -> dict[str, Any]:
    """Each row of a file to predict on, as a sentence to tag: from a words column (the named one, the run's
    own, or one named like tokens or words) as training reads it, a list of words or a string split on
    whitespace, so a file in the training format is tagged word for word; from any other column, raw text,
    split into words as a typed text is."""
    trained = (data_report.get("text_columns") or [None])[0]
    lower = {str(c).lower(): c for c in frame.columns}
    chosen = data_module.chosen_columns(frame, text_column, source)
    column = chosen[0] if chosen else trained if trained in frame.columns else next((lower[n] for n in data_module.TOKENS_NAMES if n in lower), None)
    if column is None:
        column = (data_module.detect_columns(frame)[0] or [None])[0]
    if column is None:
        looked = [f"the run's words column {trained!r}"] if trained else []
        raise data_module.no_column_error(
            "words or text", source, frame, [*looked, f"a words column ({', '.join(data_module.TOKENS_NAMES)})", f"a text column ({', '.join(data_module.TEXT_NAMES)})"]
        )
    words_column = column == trained or str(column).lower() in data_module.TOKENS_NAMES
    texts: list[str | list[str]] = []
    for value, text in zip(frame[column], data_module.column_texts(frame, column)):
        words = data_module.sentence_words(value) if words_column or not isinstance(value, str) else None
        texts.append(text if words is None else words)
    return {"texts": texts}


def split_words(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) of a raw text, with punctuation as separate words (the CoNLL convention)."""
    return [(m.group(), m.start(), m.end()) for m in WORDS.finditer(text)]


def _word_offsets(words: Sequence[str]) -> list[tuple[str, int, int]]:
    """(word, start, end) of pre-split words in the text they make joined by spaces."""
    offsets, start = [], 0
    for word in map(str, words):
        offsets.append((word, start, start + len(word)))
        start += len(word) + 1
    return offsets


class TokenClassificationPredictor:
    """Entities in raw texts: words are found with `split_words`, tagged by their first sub-token, and
    grouped into entities (seqeval's rules); each entity has character offsets into the text."""

    task = "token-classification"

    def __init__(self, model_path: str, *, max_length: int = 512, token: str | None = None):
        from transformers import AutoModelForTokenClassification  # noqa: PLC0415

        from ..tokenization import load_failure_message  # noqa: PLC0415
        from .base import device  # noqa: PLC0415

        self.tokenizer = load_trained_tokenizer(model_path, token=token)
        try:
            self.model = AutoModelForTokenClassification.from_pretrained(model_path, token=token)
        except Exception as error:  # noqa: BLE001
            from ..errors import ModelLoadError  # noqa: PLC0415

            raise ModelLoadError(load_failure_message("model", model_path, error)) from error
        self.device = device()
        self.model.to(self.device).eval()
        self.max_length = min(max_length, self.tokenizer.model_max_length)
        self.label_names = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]

    def tag_words(self, sentences: Sequence[Sequence[str]], *, batch_size: int = 32) -> list[list[tuple[str, float]]]:
        """(tag, probability) per word. A sentence longer than max_length is read in windows that overlap by a
        quarter of it (`window_options`), and each word is tagged in the window where its first sub-token sits
        farthest from an edge (`window_owners`), so a long text is tagged to its end, never cut off, as
        evaluation scores it; a word of no sub-token gets ('O', 1.0)."""
        import torch  # noqa: PLC0415

        results = []
        for start in range(0, len(sentences), batch_size):
            batch = [list(s) for s in sentences[start : start + batch_size]]
            encoded = self.tokenizer(batch, is_split_into_words=True, **window_options(self.tokenizer, self.max_length), padding=True, return_tensors="pt")
            owners = encoded.pop("overflow_to_sample_mapping").tolist()
            with torch.inference_mode():
                probabilities = torch.softmax(self.model(**encoded.to(self.device)).logits.float(), dim=-1).cpu().numpy()
            found: list[dict[int, tuple[str, float]]] = [{} for _ in batch]  # word -> (tag, probability)
            owned = window_owners(owners, [encoded.word_ids(window) for window in range(len(owners))])
            for window, (sentence, words) in enumerate(zip(owners, owned)):
                for word, position in words.items():
                    best = int(probabilities[window, position].argmax())
                    found[sentence][word] = (self.label_names[best], float(probabilities[window, position, best]))
            for words, tagged in zip(batch, found):
                results.append([tagged.get(word, ("O", 1.0)) for word in range(len(words))])
        return results

    def predict(self, texts: Sequence[str | Sequence[str]]) -> list[dict[str, Any]]:
        """Per text: `words`, `tags`, and `entities` [{"type", "text", "start", "end", "score"}] (character offsets).

        A text may also be given as its words (a list, as in the training data): they are tagged as they are,
        not split again, and `text` is the words joined by spaces, which the offsets point into."""
        from ..metrics_text import entity_spans  # noqa: PLC0415

        if isinstance(texts, str):
            raise DataError("predict() takes a list of texts; wrap a single text in a list.")
        given = list(texts)
        texts = [text if isinstance(text, str) else " ".join(map(str, text)) for text in given]
        split = [split_words(text) if isinstance(text, str) else _word_offsets(text) for text in given]
        tagged = self.tag_words([[w for w, _, _ in words] for words in split]) if texts else []
        results = []
        for text, words, tags in zip(texts, split, tagged):
            names = _repair_bio([t for t, _ in tags])
            entities = [
                {
                    "type": kind,
                    "text": text[words[s][1] : words[e - 1][2]],
                    "start": words[s][1],
                    "end": words[e - 1][2],
                    "score": float(np.mean([p for _, p in tags[s:e]])),
                }
                for kind, s, e in entity_spans(names)
            ]
            results.append({"text": text, "words": [w for w, _, _ in words], "tags": names, "entities": entities})
        return results

    def records(self, texts: Sequence[str], **options) -> list[dict[str, Any]]:
        return [{"text": r["text"], "entities": r["entities"]} for r in self.predict(texts)]

    def highlighted(self, text: str) -> dict[str, Any]:
        """One text's entities in the value format of `gr.HighlightedText`: {"text", "entities": [{"entity", "start", "end"}]}."""
        (result,) = self.predict([text])
        return {"text": text, "entities": [{"entity": e["type"], "start": e["start"], "end": e["end"]} for e in result["entities"]]}

    def output_columns(self, texts: Sequence[str], **options) -> dict[str, list]:
        results = self.predict(texts)
        return {
            "entities": ["; ".join(f"{e['text']} [{e['type']}]" for e in r["entities"]) for r in results],
            "tags": [" ".join(r["tags"]) for r in results],
        }


def load_predictor(model_path: str, *, max_length: int = 512, token: str | None = None) -> TokenClassificationPredictor:
    return TokenClassificationPredictor(model_path, max_length=max_length, token=token)
