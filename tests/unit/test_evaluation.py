"""Metrics are checked against values computed by hand from known confusion matrices, not against
scikit-learn itself, so a wrong averaging or label convention would show."""

import json

import numpy as np
import pytest

from finetuner.errors import DataError
from finetuner.evaluation import (
    MAX_CURVE_POINTS,
    baselines,
    classification_metrics,
    classification_report,
    metric_intervals,
    misclassified,
    predictions_frame,
    softmax,
)

BINARY = ["neg", "pos"]
THREE = ["a", "b", "c"]


def one_hot_probs(predicted, k, confidence=0.8):
    """Probabilities whose argmax is `predicted`, the rest spread evenly."""
    probs = np.full((len(predicted), k), (1 - confidence) / (k - 1))
    probs[np.arange(len(predicted)), predicted] = confidence
    return probs


def binary_case():
    """TP=20, FN=5, FP=3, TN=72."""
    labels = [1] * 20 + [1] * 5 + [0] * 3 + [0] * 72
    predicted = [1] * 20 + [0] * 5 + [1] * 3 + [0] * 72
    return labels, one_hot_probs(predicted, 2, confidence=0.9)


def three_class_case():
    """Confusion matrix (rows true a/b/c, columns predicted):
    a: 4 1 0   b: 2 3 1   c: 0 1 3."""
    rows = {0: [0] * 4 + [1], 1: [0] * 2 + [1] * 3 + [2], 2: [1] + [2] * 3}
    labels = [true for true, predicted in rows.items() for _ in predicted]
    predicted = [p for predicted in rows.values() for p in predicted]
    return labels, one_hot_probs(predicted, 3)


def test_binary_metrics_match_hand_computed_counts():
    labels, probs = binary_case()
    m = classification_metrics(labels, probs, BINARY)
    assert m["accuracy"] == pytest.approx(0.92)
    assert m["precision"] == pytest.approx(20 / 23)
    assert m["recall"] == pytest.approx(0.80)
    assert m["specificity"] == pytest.approx(0.96)
    assert m["f1"] == pytest.approx(40 / 48)
    # Class 0 seen one-vs-rest: precision 72/77, recall 72/75, F1 144/152, specificity 20/25.
    assert m["precision_macro"] == pytest.approx((20 / 23 + 72 / 77) / 2)
    assert m["recall_macro"] == pytest.approx((0.80 + 0.96) / 2)
    assert m["f1_macro"] == pytest.approx((40 / 48 + 144 / 152) / 2)
    assert m["specificity_macro"] == pytest.approx((0.96 + 0.80) / 2)
    assert m["precision_weighted"] == pytest.approx((25 * 20 / 23 + 75 * 72 / 77) / 100)
    assert m["recall_weighted"] == pytest.approx(0.92)
    assert m["f1_weighted"] == pytest.approx((25 * 40 / 48 + 75 * 144 / 152) / 100)
    # Every positive scores 0.9 or 0.1, as do negatives: AUC from the 2x2 table of ties.
    assert m["roc_auc"] == pytest.approx((20 * 72 + 20 * 3 * 0.5 + 5 * 72 * 0.5) / (25 * 75))
    assert all(type(v) is float for v in m.values())


def test_accuracy_interval_is_the_wilson_interval_computed_by_hand():
    labels, probs = binary_case()  # 92 of 100 right
    report = classification_report(labels, probs, BINARY)
    # z = 1.96: centre (0.92 + z²/200) / (1 + z²/100) = 0.9045, half-width z·√(0.92·0.08/100 + z²/40000) / (1 + z²/100) = 0.0544
    assert report["intervals"]["accuracy"] == pytest.approx([0.8500, 0.9589], abs=1e-4)
    assert report["interval_level"] == 0.95
    all_right = metric_intervals(np.ones(32, dtype=int), np.ones(32, dtype=int), 2)["accuracy"]
    assert all_right == pytest.approx([0.8928, 1.0], abs=1e-4), "32 of 32 right is not 'certainly 1.0'"


def test_bootstrap_intervals_match_resampling_the_examples():
    """Drawing confusion-matrix cells is drawing examples: the same interval as a plain bootstrap over rows
    scored by scikit-learn, and every interval holds its score."""
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(7)
    y_true = rng.integers(0, 5, 400)
    y_pred = np.where(rng.random(400) < 0.7, y_true, rng.integers(0, 5, 400))
    rows = rng.integers(0, 400, (1000, 400))
    resampled = [f1_score(y_true[r], y_pred[r], labels=range(5), average="macro", zero_division=0) for r in rows]
    intervals = metric_intervals(y_true, y_pred, 5)
    assert intervals["f1_macro"] == pytest.approx(np.percentile(resampled, [2.5, 97.5]), abs=0.01)
    assert 0.05 < intervals["f1_macro"][1] - intervals["f1_macro"][0] < 0.15, "400 examples: a few points either side"
    scores = classification_metrics(y_true, one_hot_probs(y_pred, 5), list("abcde"))
    assert set(intervals) == set(scores), "every score the confusion matrix decides has one"
    assert all(low <= scores[name] <= high for name, (low, high) in intervals.items())
    assert metric_intervals(y_true, y_pred, 5) == intervals, "the same interval every time"
    binary = metric_intervals(*map(np.array, ([1] * 25 + [0] * 75, [1] * 20 + [0] * 5 + [1] * 3 + [0] * 72)), 2)
    assert {"f1", "precision", "recall", "specificity"} <= set(binary) and "roc_auc" not in binary, "no interval from the matrix for ranking metrics"


def test_three_class_report_matches_hand_computed_confusion_matrix():
    labels, probs = three_class_case()
    report = classification_report(labels, probs, THREE)
    assert report["confusion_matrix"] == [[4, 1, 0], [2, 3, 1], [0, 1, 3]]
    assert report["label_names"] == THREE

    precision = [4 / 6, 3 / 5, 3 / 4]
    recall = [4 / 5, 3 / 6, 3 / 4]
    f1 = [8 / 11, 6 / 11, 6 / 8]
    specificity = [8 / 10, 7 / 9, 10 / 11]
    support = [5, 6, 4]
    for row, name, p, r, f, s, n in zip(report["per_class"], THREE, precision, recall, f1, specificity, support):
        assert row["label"] == name
        assert row["precision"] == pytest.approx(p)
        assert row["recall"] == pytest.approx(r)
        assert row["f1"] == pytest.approx(f)
        assert row["specificity"] == pytest.approx(s)
        assert row["support"] == n

    m = report["metrics"]
    assert m["accuracy"] == pytest.approx(10 / 15)
    assert m["precision_macro"] == pytest.approx(np.mean(precision))
    assert m["recall_macro"] == pytest.approx(np.mean(recall))
    assert m["f1_macro"] == pytest.approx(np.mean(f1))
    assert m["specificity_macro"] == pytest.approx(np.mean(specificity))
    assert m["precision_weighted"] == pytest.approx(np.dot(precision, support) / 15)
    assert m["recall_weighted"] == pytest.approx(10 / 15)
    assert m["f1_weighted"] == pytest.approx(np.dot(f1, support) / 15)
    # Binary-only keys and curves are absent for three classes.
    for key in ("precision", "recall", "f1", "specificity", "roc_auc", "average_precision"):
        assert key not in m
    assert "roc_curve" not in report and "pr_curve" not in report


def test_roc_auc_and_average_precision_on_a_known_ordering():
    # Descending scores: 0.8 pos, 0.6 neg, 0.4 pos, 0.1 neg -> 3 of 4 pos/neg pairs ordered right.
    labels = [0, 0, 1, 1]
    scores = np.array([0.1, 0.6, 0.4, 0.8])
    probs = np.column_stack([1 - scores, scores])
    report = classification_report(labels, probs, BINARY)
    assert report["metrics"]["roc_auc"] == pytest.approx(0.75)
    assert report["roc_curve"]["auc"] == pytest.approx(0.75)
    # AP = 0.5 * precision@1 (1) + 0.5 * precision@3 (2/3).
    assert report["metrics"]["average_precision"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert report["pr_curve"]["average_precision"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    roc = report["roc_curve"]
    assert roc["fpr"][0] == 0 and roc["tpr"][0] == 0 and roc["fpr"][-1] == 1 and roc["tpr"][-1] == 1
    assert len(roc["fpr"]) == len(roc["tpr"]) == len(roc["thresholds"])
    assert roc["thresholds"][0] == 1.0  # scikit-learn's +inf, made JSON-safe
    pr = report["pr_curve"]
    assert len(pr["precision"]) == len(pr["recall"]) == len(pr["thresholds"]) + 1


def test_single_class_labels_do_not_crash_and_leave_out_ranking_metrics():
    labels = [1, 1, 1]
    probs = one_hot_probs([1, 0, 1], 2)
    report = classification_report(labels, probs, BINARY)
    m = report["metrics"]
    assert "roc_auc" not in m and "average_precision" not in m
    assert "roc_curve" not in report and "pr_curve" not in report
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["specificity"] == 0.0  # no negatives at all: zero_division=0


def test_a_class_absent_from_the_split_and_never_predicted_is_left_out_of_macro_averages():
    """A perfect model on a split without class c: its macro scores are 1, as scikit-learn's are (they were
    2/3, class c counted as 0); c stays in the per-class table with support 0, named as absent."""
    from sklearn.metrics import f1_score, precision_score, recall_score

    labels = [0, 0, 1]  # class "c" absent from this small split
    probs = one_hot_probs([0, 0, 1], 3)
    report = classification_report(labels, probs, THREE)
    m = report["metrics"]
    assert m["accuracy"] == 1.0
    assert m["recall_macro"] == m["precision_macro"] == m["f1_macro"] == m["specificity_macro"] == 1.0
    assert m["f1_macro"] == f1_score(labels, [0, 0, 1], average="macro")
    assert all(report["intervals"][name] == [1.0, 1.0] for name in ("precision_macro", "recall_macro", "f1_macro"))
    assert len(report["per_class"]) == 3 and report["per_class"][2]["support"] == 0
    assert report["confusion_matrix"] == [[2, 0, 0], [0, 1, 0], [0, 0, 0]]
    assert report["absent_classes"] == ["c"]
    wrong = [0, 2, 1]  # c predicted once though absent: a false alarm still costs
    scores = classification_metrics(labels, one_hot_probs(wrong, 3), THREE)
    assert scores["f1_macro"] == pytest.approx(f1_score(labels, wrong, average="macro"))
    assert scores["precision_macro"] == pytest.approx(precision_score(labels, wrong, average="macro", zero_division=0))
    assert scores["recall_macro"] == pytest.approx(recall_score(labels, wrong, average="macro", zero_division=0))


def test_report_is_strict_json():
    labels, probs = binary_case()
    text = json.dumps(classification_report(labels, probs, BINARY), allow_nan=False)
    assert json.loads(text)["metrics"]["accuracy"] == pytest.approx(0.92)
    json.dumps(classification_report(*three_class_case(), THREE), allow_nan=False)


def test_curves_are_thinned_keeping_endpoints():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 3000)
    scores = np.clip(labels * 0.2 + rng.random(3000) * 0.8, 0, 1)
    report = classification_report(labels, np.column_stack([1 - scores, scores]), BINARY)
    roc, pr = report["roc_curve"], report["pr_curve"]
    assert len(roc["fpr"]) <= MAX_CURVE_POINTS and len(pr["precision"]) <= MAX_CURVE_POINTS
    assert (roc["fpr"][0], roc["tpr"][0], roc["fpr"][-1], roc["tpr"][-1]) == (0, 0, 1, 1)
    assert pr["recall"][0] == 1 and pr["recall"][-1] == 0 and pr["precision"][-1] == 1
    assert len(pr["thresholds"]) == len(pr["precision"]) - 1


def test_predictions_frame_and_misclassified_order():
    texts = ["t0", "t1", "t2", "t3"]
    pairs = ["p0", "p1", "p2", "p3"]
    labels = [0, 1, 0, 1]
    probs = np.array([[0.9, 0.1], [0.7, 0.3], [0.4, 0.6], [0.2, 0.8]])
    frame = predictions_frame(texts, labels, probs, BINARY, text_pairs=pairs)
    assert list(frame.columns) == [
        "text", "text_pair", "label", "predicted", "confidence", "correct", "prob_neg", "prob_pos"
    ]
    assert list(frame["label"]) == ["neg", "pos", "neg", "pos"]
    assert list(frame["predicted"]) == ["neg", "neg", "pos", "pos"]
    assert list(frame["confidence"]) == pytest.approx([0.9, 0.7, 0.6, 0.8])
    assert list(frame["correct"]) == [True, False, False, True]
    assert list(frame["prob_pos"]) == pytest.approx([0.1, 0.3, 0.6, 0.8])

    wrong = misclassified(frame)
    assert list(wrong["text"]) == ["t1", "t2"]  # 0.7 wrong before 0.6 wrong

    assert "text_pair" not in predictions_frame(texts, labels, probs, BINARY).columns


def test_majority_baseline_scores_the_majority_share():
    train_texts = ["x one", "x two", "x three", "y four"]
    train_labels = [0, 0, 0, 1]
    eval_sets = {"validation": (["a", "b", "c", "d", "e"], [0, 1, 1, 0, 0]), "test": (["f", "g"], [1, 1])}
    result = baselines(train_texts, train_labels, eval_sets, BINARY)
    assert result["majority"]["validation"]["accuracy"] == pytest.approx(3 / 5)
    assert result["majority"]["test"]["accuracy"] == 0.0
    assert result["majority"]["validation"]["recall"] == 0.0


def _sentiment_texts(n, rng):
    fillers = ["movie", "film", "plot", "actor", "scene", "story", "ending", "music"]
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = list(rng.choice(fillers, 4)) + ["good" if label else "bad"]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def test_tfidf_baseline_beats_majority_on_separable_texts():
    rng = np.random.default_rng(1)
    train = _sentiment_texts(60, rng)
    evaluation = _sentiment_texts(20, rng)
    result = baselines(*train, {"validation": evaluation}, BINARY, seed=0)
    assert result["majority"]["validation"]["accuracy"] == pytest.approx(0.5)
    assert result["tfidf_logreg"]["validation"]["accuracy"] == 1.0
    json.dumps(result, allow_nan=False)


def test_tfidf_baseline_maps_seen_classes_into_all_columns():
    # Class "b" never occurs in training; the eval split has it, so recall of b is 0, not a crash.
    train_texts = ["apple pie", "apple tart", "cherry cake", "cherry jam"]
    train_labels = [0, 0, 2, 2]
    result = baselines(train_texts, train_labels, {"test": (["apple crumble", "cherry", "apple"], [0, 2, 1])}, THREE)
    assert result["tfidf_logreg"]["test"]["accuracy"] == pytest.approx(2 / 3)


def test_the_models_gain_over_each_baseline_is_paired_on_the_same_examples():
    from finetuner.intervals import describe_gain, wilson

    texts, labels = ["good film"] * 30 + ["bad film"] * 10, [1] * 30 + [0] * 10
    right_where_majority_is_wrong = [True] * 30 + [True] * 6 + [False] * 4  # 36 of 40; the majority class gets 30
    result = baselines(texts, labels, {"test": (texts, labels)}, BINARY, model_correct={"test": right_where_majority_is_wrong})
    majority = result["majority"]["test"]
    assert majority["model_accuracy_gain"] == pytest.approx(36 / 40 - 30 / 40)
    # Every example the majority class gets right, the model gets right too: the gain is the share of the 6
    # others, and its bootstrap interval that of a proportion of 6 in 40.
    assert [majority["model_accuracy_gain_low"], majority["model_accuracy_gain_high"]] == pytest.approx(wilson(6, 40), abs=0.05)
    assert describe_gain("the majority class", majority).startswith("accuracy +0.150 over the majority class (95% interval +0.")
    tfidf = result["tfidf_logreg"]["test"]  # it separates the two texts perfectly: the model is 4 examples behind
    assert tfidf["accuracy"] == 1.0 and tfidf["model_accuracy_gain"] == pytest.approx(-0.1)
    assert describe_gain("TF-IDF", tfidf).startswith("accuracy -0.100 against TF-IDF: below it (95% interval -0.")
    same = baselines(texts, labels, {"test": (texts, labels)}, BINARY, model_correct={"test": [True] * 30 + [False] * 10})["majority"]["test"]
    assert same["model_accuracy_gain"] == 0 and same["model_accuracy_gain_low"] == same["model_accuracy_gain_high"] == 0, "the same outcomes: no difference at all"
    assert describe_gain("the majority class", same) == "accuracy +0.000 against the majority class: right and wrong on exactly the same examples"
    assert "model_accuracy_gain" not in baselines(texts, labels, {"test": (texts, labels)}, BINARY)["majority"]["test"], "nothing to compare without the model's outcomes"
    with pytest.raises(DataError, match="model_correct"):
        baselines(texts, labels, {"test": (texts, labels)}, BINARY, model_correct={"test": [True]})


def test_tfidf_baseline_is_left_out_with_a_single_training_class():
    result = baselines(["good one", "good two"], [1, 1], {"validation": (["good", "bad"], [1, 0])}, BINARY)
    assert set(result) == {"majority"}
    assert result["majority"]["validation"]["accuracy"] == 0.5


def test_softmax_is_stable_and_row_wise():
    probs = softmax(np.array([[1000.0, 1000.0], [0.0, np.log(3.0)], [-1000.0, 0.0]]))
    assert probs == pytest.approx(np.array([[0.5, 0.5], [0.25, 0.75], [0.0, 1.0]]))
    assert np.isfinite(probs).all()


@pytest.mark.parametrize(
    "labels, probs, names, message",
    [
        ([0, 1], np.full((3, 2), 0.5), BINARY, "2 labels but 3 rows"),
        ([], np.zeros((0, 2)), BINARY, "empty"),
        ([0, 1], np.full((2, 3), 1 / 3), BINARY, "one column per label"),
        ([0, 2], np.full((2, 2), 0.5), BINARY, "outside 0..1"),
        ([0, -100], np.full((2, 2), 0.5), BINARY, "unlabelled rows"),
        ([0.0, 1.0], np.full((2, 2), 0.5), BINARY, "integer class indices"),
        ([0, 1], np.array([[np.nan, 0.5], [0.5, 0.5]]), BINARY, "NaN"),
        ([0], np.ones((1, 1)), ["only"], "at least two label names"),
        ([0, 1], np.full((2, 2), 0.5), ["x", "x"], "unique"),
    ],
)
def test_bad_metric_inputs_raise_data_error(labels, probs, names, message):
    with pytest.raises(DataError, match=message):
        classification_metrics(labels, probs, names)


def test_bad_text_inputs_raise_data_error():
    probs = np.full((2, 2), 0.5)
    with pytest.raises(DataError, match="1 texts but 2 labels"):
        predictions_frame(["only one"], [0, 1], probs, BINARY)
    with pytest.raises(DataError, match="3 text_pairs but 2 labels"):
        predictions_frame(["a", "b"], [0, 1], probs, BINARY, text_pairs=["x", "y", "z"])
    with pytest.raises(DataError, match="row 1 is None"):
        baselines(["fine", None], [0, 1], {}, BINARY)
    with pytest.raises(DataError, match="eval split 'validation'"):
        baselines(["a text", "b text"], [0, 1], {"validation": (["x"], [0, 1])}, BINARY)
