"""Offline metrics of the token-classification and text-generation tasks, by their reference implementations.

`evaluate.load(...)` fetches metric scripts from the Hub, which an offline studio cannot reach, so the
libraries those scripts wrap are called directly:

* **Entities** (`entity_metrics`, with `entity_intervals`): `seqeval` in its default mode, the conventions of the CoNLL `conlleval`
  script (BIO, IOBES, and BILOU read as IOBES): an entity is a maximal run of B-/I- tags of one type (an I- tag after O or after another type
  starts a new entity); a predicted entity counts only if its type, start and end all match a true one.
  Precision, recall and F1 are micro-averaged over entities; `accuracy` is per word, `O` included.
* **ROUGE** (`rouge_scores`, per example `rouge_per_example`, with `rouge_intervals`): Google's `rouge-score`, F-measures of ROUGE-1, ROUGE-2, ROUGE-L (longest common
  subsequence over the whole text) and ROUGE-Lsum (the summary-level LCS over sentences), with the Porter
  stemmer, as Hugging Face's summarization example reports them; each is the mean over examples, 0-1.
  Words are rouge-score's (lower case, letters and digits, stems of words over 3 letters) in every script
  (`WordTokenizer`), and Chinese and Japanese characters count one by one.
* **BLEU** (`bleu_score`): `sacrebleu`'s corpus BLEU (13a tokenization, exponential brevity penalty), 0-100
  as sacreBLEU prints it.
* **Perplexity** (`perplexity`): exp of the mean negative log-likelihood per predicted token.

Nothing here imports torch or transformers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from .errors import DataError

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_IDEOGRAPHS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # kana and CJK ideographs: written without spaces
_WORD = re.compile(f"[{_IDEOGRAPHS}]|[^\\W_{_IDEOGRAPHS}]+")


class WordTokenizer:
    """rouge-score's own tokenization with the letters of every script. Its default keeps [a-z0-9] alone, so a
    Russian or Greek summary scored 0 however right it was, and a German one lost its words' umlauted parts;
    on ASCII text the words are the same. Kana and ideographs, written without spaces, are one token each."""

    def __init__(self):
        from nltk.stem import porter  # noqa: PLC0415 - rouge-score's stemmer

        self._stemmer = porter.PorterStemmer()

    def tokenize(self, text: str) -> list[str]:
        return [self._stemmer.stem(word) if len(word) > 3 else word for word in _WORD.findall(text.lower())]


def entity_metrics(true_tags: Sequence[Sequence[str]], predicted_tags: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Entity-level scores of tag sequences (one list of tags per sentence, same lengths).

    Returns `{"precision", "recall", "f1", "accuracy", "per_type": [{"type", "precision", "recall", "f1", "support"}],
    "true_entities", "predicted_entities"}`; `support` counts the true entities of a type. A type that is
    never predicted and never true does not appear; a score whose denominator is 0 is 0.
    """
    from seqeval.metrics import accuracy_score, classification_report  # noqa: PLC0415

    true_tags, predicted_tags = [_seqeval_tags(s) for s in true_tags], [_seqeval_tags(s) for s in predicted_tags]
    if len(true_tags) != len(predicted_tags):
        raise DataError(f"{len(true_tags)} true tag sequences but {len(predicted_tags)} predicted: pass one per sentence.")
    for i, (true, predicted) in enumerate(zip(true_tags, predicted_tags)):
        if len(true) != len(predicted):
            raise DataError(f"Sentence {i} has {len(true)} true tags but {len(predicted)} predicted: pass one tag per word.")
    if not any(true_tags):
        raise DataError("There are no tagged words to evaluate.")
    report = classification_report(true_tags, predicted_tags, output_dict=True, zero_division=0)
    per_type = [
        {"type": name, "precision": float(row["precision"]), "recall": float(row["recall"]), "f1": float(row["f1-score"]), "support": int(row["support"])}
        for name, row in report.items()
        if name not in ("micro avg", "macro avg", "weighted avg")
    ]
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "accuracy": float(accuracy_score(true_tags, predicted_tags)),
        "per_type": sorted(per_type, key=lambda row: row["type"]),
        "true_entities": sum(len(entity_spans(s)) for s in true_tags),
        "predicted_entities": sum(len(entity_spans(s)) for s in predicted_tags),
    }


def entity_intervals(true_tags: Sequence[Sequence[str]], predicted_tags: Sequence[Sequence[str]]) -> dict[str, list[float]]:
    """Confidence intervals of `entity_metrics`' precision, recall, F1 and word accuracy: a percentile
    bootstrap over the sentences (`finetuner.intervals`). The sentence is the unit drawn, not the word or
    the entity: the words of one sentence are not independent samples."""
    import numpy as np  # noqa: PLC0415

    from . import intervals  # noqa: PLC0415

    if not true_tags:
        return {}
    words = [[sum(t == p for t, p in zip(true, predicted)), len(true)] for true, predicted in zip(true_tags, predicted_tags)]
    hits, predicted, true, right, words = intervals.bootstrap_totals(np.hstack([entity_counts(true_tags, predicted_tags), np.array(words)])).T
    samples = {
        "precision": intervals.ratio(hits, predicted),
        "recall": intervals.ratio(hits, true),
        "f1": intervals.ratio(2 * hits, predicted + true),
        "accuracy": intervals.ratio(right, words),
    }
    return {name: intervals.percentile_interval(values) for name, values in samples.items()}


def entity_counts(true_tags: Sequence[Sequence[str]], predicted_tags: Sequence[Sequence[str]]):
    """Per sentence: entities found exactly, entities predicted, true entities (n x 3). Their totals make
    seqeval's micro precision, recall and F1 (`entity_f1`), so resampling sentences resamples the scores."""
    import numpy as np  # noqa: PLC0415

    rows = []
    for true, predicted in zip(true_tags, predicted_tags):
        true_spans, predicted_spans = set(entity_spans(true)), set(entity_spans(predicted))
        rows.append([len(true_spans & predicted_spans), len(predicted_spans), len(true_spans)])
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def entity_f1(totals, n: int | None = None):
    """Micro entity F1 from `entity_counts` totals (r x 3): one value per row (`n`, the sentences, is unused:
    the signature `intervals.paired_difference` expects)."""
    from .intervals import ratio  # noqa: PLC0415

    return ratio(2 * totals[:, 0], totals[:, 1] + totals[:, 2])


def entity_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The entities of one tag sequence as (type, first word, last word + 1), with seqeval's conventions."""
    from seqeval.metrics.sequence_labeling import get_entities  # noqa: PLC0415

    return [(kind, start, end + 1) for kind, start, end in get_entities(_seqeval_tags(tags))]


def _seqeval_tags(tags: Sequence[str]) -> list[str]:
    """Tags as seqeval reads them. It knows BIO and IOBES; BILOU's L- (last) and U- (unit) are IOBES's E- and
    S-, and read as they are seqeval took them for no entity ('U-PER U-PER' was one entity of two words)."""
    return [f"{'E' if tag[0] == 'L' else 'S'}{tag[1:]}" if tag[:2] in ("L-", "U-") else tag for tag in map(str, tags)]


def rouge_scores(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1/2/L/Lsum F-measures (0-1) of generated texts against one reference each."""
    return {kind: sum(values) / len(values) for kind, values in rouge_per_example(predictions, references).items()}


def rouge_per_example(predictions: Sequence[str], references: Sequence[str]) -> dict[str, list[float]]:
    """Each generated text's ROUGE-1/2/L/Lsum F-measures against its reference."""
    from rouge_score import rouge_scorer  # noqa: PLC0415

    _check_pairs(predictions, references)
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=WordTokenizer())
    found: dict[str, list[float]] = {kind: [] for kind in ROUGE_TYPES}
    for prediction, reference in zip(predictions, references):
        # rougeLsum splits on newlines: put each sentence on its own line (nltk's punkt data is not available offline).
        scores = scorer.score(_sentence_lines(reference), _sentence_lines(prediction))
        for kind in ROUGE_TYPES:
            found[kind].append(scores[kind].fmeasure)
    return found


def rouge_intervals(per_example: dict[str, list[float]]) -> dict[str, list[float]]:
    """Confidence intervals of the mean ROUGE scores (`rouge_per_example`'s lists): a percentile bootstrap
    over the examples (`finetuner.intervals`). BLEU, a corpus score, gets none."""
    import numpy as np  # noqa: PLC0415

    from . import intervals  # noqa: PLC0415

    kinds = list(per_example)
    values = np.array([per_example[kind] for kind in kinds]).T
    means = intervals.bootstrap_totals(values) / len(values)
    return {kind: intervals.percentile_interval(means[:, i]) for i, kind in enumerate(kinds)}


def bleu_score(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (0-100) of generated texts against one reference each."""
    import sacrebleu  # noqa: PLC0415

    _check_pairs(predictions, references)
    return float(sacrebleu.corpus_bleu(list(predictions), [list(references)]).score)


def generation_metrics(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """ROUGE-1/2/L/Lsum, BLEU and the mean generated length in words, for the Trainer and the reports."""
    return {
        **rouge_scores(predictions, references),
        "bleu": bleu_score(predictions, references),
        "gen_words": float(sum(len(p.split()) for p in predictions) / len(predictions)),
    }


def perplexity(mean_negative_log_likelihood: float) -> float:
    """exp(mean NLL per token); infinity when the loss overflows, never an error."""
    try:
        return math.exp(mean_negative_log_likelihood)
    except OverflowError:
        return math.inf


def _sentence_lines(text: str) -> str:
    return "\n".join(part for part in _SENTENCE_END.split(text.strip()) if part)


def _check_pairs(predictions: Sequence[str], references: Sequence[str]) -> None:
    if len(predictions) != len(references):
        raise DataError(f"{len(predictions)} generated texts but {len(references)} references: pass one reference per text.")
    if not predictions:
        raise DataError("There are no generated texts to score.")
