"""Offline classification metrics, prediction tables and cheap baselines.

Everything here is numpy + scikit-learn: `evaluate.load` fetches metric scripts from the Hub, which a
studio running offline (or behind a proxy) cannot reach, and these few metrics do not need it. The
module imports neither torch nor transformers, so the studio can show a finished run's results without
loading a deep-learning stack.

Conventions shared by every function:

* `labels` are class indices `0..k-1`; `probabilities` is an `(n, k)` array (softmax of the logits);
  `label_names[i]` names class `i`, so `k == len(label_names)`.
* Predictions are the argmax of the probabilities.
* Macro averages run over the classes that occur in the labels or the predictions (scikit-learn's
  default): a class a small split lacks and the model never predicts has no score, and counting it as
  0 made a perfect model on a split without one of 3 classes score macro F1 0.67. A class predicted but
  absent scores 0 (`zero_division=0`), so false alarms still cost. The per-class table and the
  confusion matrix keep every class; the report names those left out of the averages (`absent_classes`).
* Binary tasks (k == 2) treat class index 1 as the positive class.
* Return values are plain Python floats, ints, lists and dicts, so they can be written with
  `json.dump` and handed to the HF Trainer's `compute_metrics` as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

from . import intervals
from .errors import DataError

MAX_CURVE_POINTS = 500


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (row-wise for an `(n, k)` array).

    The row maximum is subtracted first so that large logits do not overflow `exp`.
    """
    logits = np.asarray(logits, dtype=np.float64)
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def classification_metrics(
    labels: Sequence[int], probabilities: np.ndarray, label_names: Sequence[str]
) -> dict[str, float]:
    """Scalar metrics of one evaluation: accuracy, macro and weighted precision/recall/F1, macro
    specificity; for binary tasks also the positive class's precision/recall/F1/specificity and, when
    both classes occur in `labels`, `roc_auc` and `average_precision` (both are undefined with a single
    class, so they are left out rather than reported as a misleading number).
    """
    y_true, probs = _validated(labels, probabilities, label_names)
    return _metrics(y_true, probs)


def classification_report(
    labels: Sequence[int], probabilities: np.ndarray, label_names: Sequence[str]
) -> dict:
    """Everything the evaluation page shows: the scalar `metrics` with their `intervals` (see
    `metric_intervals`), a `per_class` table, the `confusion_matrix` (rows = true label, columns =
    predicted), `absent_classes` (the classes neither in the labels nor predicted, left out of the macro
    averages) and, for binary tasks with both classes present, the `roc_curve` and `pr_curve` for plotting.

    Curves are thinned to about `MAX_CURVE_POINTS` points so the report stays small on large eval sets.
    `pr_curve["thresholds"]` has one entry fewer than its `precision`/`recall` lists, as in
    scikit-learn: the last point (recall 0, precision 1) has no threshold.
    """
    y_true, probs = _validated(labels, probabilities, label_names)
    k = probs.shape[1]
    y_pred = probs.argmax(axis=1)
    precision, recall, f1, specificity, support = _per_class(y_true, y_pred, k)
    scored = set(_scored(y_true, y_pred).tolist())
    report = {
        "metrics": _metrics(y_true, probs),
        **intervals.report_fields(
            metric_intervals(y_true, y_pred, k),
            f"accuracy: the Wilson score interval; the others: {intervals.bootstrap_method('examples')}",
        ),
        "per_class": [
            {
                "label": str(label_names[i]),
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "specificity": float(specificity[i]),
                "support": int(support[i]),
            }
            for i in range(k)
        ],
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=range(k)).tolist(),
        "label_names": [str(name) for name in label_names],
        "absent_classes": [str(label_names[i]) for i in range(k) if i not in scored],
    }
    if k == 2 and _both_classes(y_true):
        scores = probs[:, 1]
        fpr, tpr, roc_thresholds = roc_curve(y_true, scores, drop_intermediate=True)
        keep = _thin(len(fpr))
        report["roc_curve"] = {
            "fpr": fpr[keep].tolist(),
            "tpr": tpr[keep].tolist(),
            "thresholds": _finite(roc_thresholds[keep]),
            "auc": float(roc_auc_score(y_true, scores)),
        }
        pr_precision, pr_recall, pr_thresholds = precision_recall_curve(y_true, scores)
        keep = _thin(len(pr_precision))
        report["pr_curve"] = {
            "precision": pr_precision[keep].tolist(),
            "recall": pr_recall[keep].tolist(),
            "thresholds": _finite(pr_thresholds[keep[:-1]]),
            "average_precision": float(average_precision_score(y_true, scores)),
        }
    return report


def metric_intervals(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> dict[str, list[float]]:
    """95% confidence intervals (`intervals.LEVEL`), `{metric: [low, high]}`, for the metrics the confusion matrix decides
    (see `finetuner.intervals`): Wilson for accuracy, a percentile bootstrap over the examples for
    precision, recall, F1 and specificity (macro, weighted, the positive class's). Drawing n examples
    with replacement is drawing the confusion matrix's cells from their observed shares, so the
    resamples are drawn per cell, not per example, and take milliseconds even for many classes. ROC AUC
    and average precision depend on the scores, not only on the matrix, and get none.
    """
    n = len(y_true)
    if n == 0:
        return {}
    found = {"accuracy": intervals.wilson(int(np.sum(y_true == y_pred)), n)}
    cells = confusion_matrix(y_true, y_pred, labels=range(k)).ravel()
    seen = np.flatnonzero(cells)
    true_class, predicted_class = np.divmod(seen, k)
    one_hot = np.eye(k)
    per_cell = np.hstack([one_hot[true_class], one_hot[predicted_class], one_hot[true_class] * (true_class == predicted_class)[:, None]])
    draws = np.random.default_rng(intervals.SEED).multinomial(n, cells[seen] / n, size=intervals.RESAMPLES)
    support, predicted, hits = np.split(draws @ per_cell, 3, axis=1)
    precision, recall = intervals.ratio(hits, predicted), intervals.ratio(hits, support)
    f1 = intervals.ratio(2 * hits, predicted + support)
    specificity = intervals.ratio(n - support - (predicted - hits), n - support)
    scored = (support + predicted) > 0  # each resample's macro averages run over its own classes, as scikit-learn's would

    def macro(values: np.ndarray) -> np.ndarray:
        return (values * scored).sum(axis=1) / scored.sum(axis=1)

    samples = {
        "precision_macro": macro(precision),
        "recall_macro": macro(recall),
        "f1_macro": macro(f1),
        "precision_weighted": (precision * support).sum(axis=1) / n,
        "recall_weighted": (recall * support).sum(axis=1) / n,
        "f1_weighted": (f1 * support).sum(axis=1) / n,
        "specificity_macro": macro(specificity),
    }
    if k == 2:
        samples.update(precision=precision[:, 1], recall=recall[:, 1], f1=f1[:, 1], specificity=specificity[:, 1])
    return found | {name: intervals.percentile_interval(values) for name, values in samples.items()}


def predictions_frame(
    texts: Sequence[str],
    labels: Sequence[int],
    probabilities: np.ndarray,
    label_names: Sequence[str],
    text_pairs: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per example, with label names rather than indices, for the downloadable CSV and the
    misclassified-examples browser: `text`, (`text_pair`), `label`, `predicted`, `confidence` (the
    highest probability), `correct`, then `prob_<label name>` for every class.
    """
    y_true, probs = _validated(labels, probabilities, label_names)
    _check_length("texts", texts, len(y_true))
    names = np.array([str(name) for name in label_names], dtype=object)
    y_pred = probs.argmax(axis=1)
    columns: dict[str, object] = {"text": list(texts)}
    if text_pairs is not None:
        _check_length("text_pairs", text_pairs, len(y_true))
        columns["text_pair"] = list(text_pairs)
    columns["label"] = names[y_true]
    columns["predicted"] = names[y_pred]
    columns["confidence"] = probs.max(axis=1)
    columns["correct"] = y_true == y_pred
    for i, name in enumerate(names):
        columns[f"prob_{name}"] = probs[:, i]
    return pd.DataFrame(columns)


def misclassified(frame: pd.DataFrame) -> pd.DataFrame:
    """The wrong rows of a `predictions_frame`, most confidently wrong first: those are the likeliest
    label errors in the data, or the model's most telling mistakes."""
    wrong = frame[~frame["correct"]]
    return wrong.sort_values("confidence", ascending=False, kind="stable")


def baselines(
    train_texts: Sequence[str],
    train_labels: Sequence[int],
    eval_sets: Mapping[str, tuple[Sequence[str], Sequence[int]]],
    label_names: Sequence[str],
    seed: int = 42,
    model_correct: Mapping[str, Sequence[bool]] | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Scores of two cheap models on each eval split, so a fine-tuned model's numbers have a floor to
    be read against: `{"majority": {split: metrics}, "tfidf_logreg": {split: metrics}}`.

    With `model_correct` (per split, whether the fine-tuned model got each example right, in the
    split's order), each baseline's metrics on that split also hold `model_accuracy_gain`, the model's
    accuracy minus the baseline's, and its paired bootstrap interval `model_accuracy_gain_low` /
    `_high` (`intervals.paired_gains`).

    * `majority` always predicts the most frequent training label (the lowest index on a tie).
    * `tfidf_logreg` is word uni+bigram TF-IDF with logistic regression: seconds to train on CPU, and
      often hard to beat on small datasets. It is left out of the result (no key) when it cannot
      be trained: when the training labels hold a single class (logistic regression needs two), or
      when the texts have no word tokens at all (empty vocabulary). A baseline that cannot exist is
      not an error in the user's run, so this does not raise.

    Text pairs are the caller's to join into one string per example.
    """
    k = _check_label_names(label_names)
    y_train = _check_labels("train_labels", train_labels, k)
    _check_texts("train_texts", train_texts, len(y_train))
    splits = {}
    for split, (texts, labels) in eval_sets.items():
        y_split = _check_labels(f"labels of eval split {split!r}", labels, k)
        _check_texts(f"texts of eval split {split!r}", texts, len(y_split))
        splits[split] = (list(texts), y_split)

    majority_class = int(np.bincount(y_train, minlength=k).argmax())
    result: dict[str, dict[str, dict[str, float]]] = {"majority": {}}
    correct: dict[str, dict[str, np.ndarray]] = {split: {} for split in splits}
    for split, (_, y_split) in splits.items():
        probs = np.zeros((len(y_split), k))
        probs[:, majority_class] = 1.0
        result["majority"][split] = _metrics(y_split, probs)
        correct[split]["majority"] = y_split == majority_class

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, max_features=100_000)
    try:
        features = vectorizer.fit_transform(list(train_texts)) if _both_classes(y_train) else None
    except ValueError:  # "empty vocabulary": no token of two or more word characters in any text
        features = None
    if features is not None:
        model = LogisticRegression(C=1.0, max_iter=1000, random_state=seed).fit(features, y_train)
        result["tfidf_logreg"] = {}
        for split, (texts, y_split) in splits.items():
            # The model only knows the classes it saw in training: put its columns where they belong.
            probs = np.zeros((len(y_split), k))
            probs[:, model.classes_] = model.predict_proba(vectorizer.transform(texts))
            result["tfidf_logreg"][split] = _metrics(y_split, probs)
            correct[split]["tfidf_logreg"] = probs.argmax(axis=1) == y_split
    for split, model_right in (model_correct or {}).items():
        if split in correct:
            _check_length(f"model_correct of eval split {split!r}", model_right, len(splits[split][1]))
            names = list(correct[split])
            gains = intervals.paired_gains(np.column_stack([model_right, *(correct[split][name] for name in names)]))
            for name, gain in zip(names, gains):
                result[name][split].update(gain)
    return result


def _metrics(y_true: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    k = probs.shape[1]
    y_pred = probs.argmax(axis=1)
    precision, recall, f1, specificity, support = _per_class(y_true, y_pred, k)
    scored = _scored(y_true, y_pred)
    metrics = {
        "accuracy": float(np.mean(y_true == y_pred)),
        "precision_macro": float(precision[scored].mean()),
        "recall_macro": float(recall[scored].mean()),
        "f1_macro": float(f1[scored].mean()),
        "precision_weighted": float(np.average(precision, weights=support)),
        "recall_weighted": float(np.average(recall, weights=support)),
        "f1_weighted": float(np.average(f1, weights=support)),
        "specificity_macro": float(specificity[scored].mean()),
    }
    if k == 2:
        metrics.update(
            precision=float(precision[1]),
            recall=float(recall[1]),
            f1=float(f1[1]),
            specificity=float(specificity[1]),
        )
        if _both_classes(y_true):
            metrics["roc_auc"] = float(roc_auc_score(y_true, probs[:, 1]))
            metrics["average_precision"] = float(average_precision_score(y_true, probs[:, 1]))
    return metrics


def _per_class(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Per-class precision, recall, F1, specificity (one-vs-rest TN / (TN + FP)) and support."""
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=range(k), average=None, zero_division=0
    )
    matrix = confusion_matrix(y_true, y_pred, labels=range(k))
    false_positives = matrix.sum(axis=0) - np.diag(matrix)
    true_negatives = matrix.sum() - matrix.sum(axis=0) - matrix.sum(axis=1) + np.diag(matrix)
    negatives = true_negatives + false_positives
    specificity = np.divide(true_negatives, negatives, out=np.zeros(k), where=negatives > 0)
    return precision, recall, f1, specificity, support


def _scored(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """The classes macro averages run over: those in the labels or the predictions (see the module's conventions)."""
    return np.union1d(y_true, y_pred)


def _both_classes(y_true: np.ndarray) -> bool:
    return len(np.unique(y_true)) > 1


def _thin(length: int) -> np.ndarray:
    """Indices of at most `MAX_CURVE_POINTS` evenly spaced points, always keeping the first and last."""
    if length <= MAX_CURVE_POINTS:
        return np.arange(length)
    return np.unique(np.linspace(0, length - 1, MAX_CURVE_POINTS).round().astype(int))


def _finite(thresholds: np.ndarray) -> list[float]:
    """scikit-learn starts the ROC thresholds at +inf, which JSON cannot hold; a probability never
    exceeds 1, so 1.0 marks the same "predict nothing positive" point."""
    return np.where(np.isfinite(thresholds), thresholds, 1.0).tolist()


def _validated(
    labels: Sequence[int], probabilities: np.ndarray, label_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    k = _check_label_names(label_names)
    y_true = _check_labels("labels", labels, k)
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != k:
        raise DataError(
            f"probabilities have shape {probs.shape}, but there are {k} labels ({list(label_names)}): "
            f"pass an (n_examples, {k}) array, one column per label in label order"
        )
    if probs.shape[0] != len(y_true):
        raise DataError(
            f"{len(y_true)} labels but {probs.shape[0]} rows of probabilities: pass one row per labelled example"
        )
    if not np.isfinite(probs).all():
        raise DataError(
            "probabilities contain NaN or infinity: the model's outputs diverged; "
            "retrain with a lower learning rate (or enable gradient clipping)"
        )
    return y_true, probs


def _check_label_names(label_names: Sequence[str]) -> int:
    names = [str(name) for name in label_names]
    if len(names) < 2:
        raise DataError(f"classification needs at least two label names, got {names}")
    if len(set(names)) != len(names):
        raise DataError(f"label names must be unique, got {names}")
    return len(names)


def _check_labels(what: str, labels: Sequence[int], k: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) == 0:
        raise DataError(f"{what} is empty (or not a flat list): evaluation needs at least one labelled example")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{what} must be integer class indices 0..{k - 1}, got values of type {y.dtype}")
    if y.min() < 0 or y.max() >= k:
        bad = sorted({int(v) for v in y[(y < 0) | (y >= k)]})[:5]
        raise DataError(
            f"{what} contain indices {bad} outside 0..{k - 1} ({k} labels): unlabelled rows (-1/-100) "
            "must be removed before evaluation, and label_names must list every class"
        )
    return y.astype(np.int64)


def _check_length(what: str, values: Sequence, n: int) -> None:
    if len(values) != n:
        raise DataError(f"{len(values)} {what} but {n} labels: pass one entry per example")


def _check_texts(what: str, texts: Sequence[str], n: int) -> None:
    _check_length(what, texts, n)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(
                f"{what}: row {i} is {text!r} ({type(text).__name__}), not a string; fill or drop missing texts"
            )
