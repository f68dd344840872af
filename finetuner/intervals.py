"""Confidence intervals for evaluation scores: how far a score measured on a few hundred examples can be read.

On SST-2's 872 validation sentences, models that differ only in their seed score 0.81 to 0.83
(benchmarks/sst2_seeds.py); a score shown without its interval invites reading such differences as real.
Two methods, both deterministic (a fixed seed), both offline, numpy only:

* `wilson`: the Wilson score interval of a proportion (accuracy). It stays honest near 0 and 1 on small
  sets, where the textbook normal interval collapses (32 right of 32 is not "certainly 1.0").
* `bootstrap_totals` + `percentile_interval`: the percentile bootstrap for scores built from per-example
  counts (F1 from true positives, predictions and true items; a mean ROUGE from per-example values;
  the difference between two models' accuracies on the same examples). A resample needs only the
  totals of the examples it draws, so 2,000 resamples of a few thousand examples take milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from statistics import NormalDist

import numpy as np

LEVEL = 0.95
RESAMPLES = 2000
SEED = 0


def wilson(successes: int, n: int, level: float = LEVEL) -> list[float]:
    """[low, high] of the proportion successes / n."""
    z = NormalDist().inv_cdf((1 + level) / 2)
    share = successes / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [float(max(0.0, centre - half)), float(min(1.0, centre + half))]


def bootstrap_totals(per_example: np.ndarray, *, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """Column totals of `per_example` (n examples x m counts) in each of `resamples` resamples of its rows
    with replacement: a (resamples, m) array. Each resample is a row of how many times it drew each
    example, times `per_example`; they are drawn a few hundred at a time, so that a split of tens of
    thousands of examples needs tens of megabytes, not gigabytes (67,000 examples: about 3 s)."""
    per_example = np.asarray(per_example, dtype=np.float64)
    n = len(per_example)
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // n)
    totals = []
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        drawn = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]  # each resample's rows, offset to its own block
        totals.append(np.bincount(drawn.ravel(), minlength=size * n).reshape(size, n) @ per_example)
    return np.concatenate(totals)


def percentile_interval(samples: np.ndarray, level: float = LEVEL) -> list[float]:
    """[low, high]: the central `level` share of a score's bootstrap samples."""
    low, high = np.percentile(samples, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return [float(low), float(high)]


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (the metrics' zero_division=0)."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator, dtype=np.float64), where=denominator > 0)


def interval_text(interval: Sequence[float] | None) -> str:
    """[0.7786, 0.8311] -> '0.779 – 0.831'; '' where a score has none (ROC AUC, loss)."""
    if not interval or len(interval) != 2:
        return ""
    return f"{interval[0]:.3f} – {interval[1]:.3f}"


def report_fields(found: dict[str, list[float]], method: str) -> dict[str, object]:
    """What an evaluation report (`report_<split>.json`) keeps of its intervals: the Evaluate tab, the model
    card and the CLI read them from there, and quote `method`."""
    return {"intervals": found, "interval_level": LEVEL, "interval_method": method}


def bootstrap_method(unit: str) -> str:
    """How a bootstrap interval was drawn, in words: 'a percentile bootstrap over the sentences (2,000 resamples)'."""
    return f"a percentile bootstrap over the {unit} ({RESAMPLES:,} resamples)"


def gain_keys(metric: str) -> tuple[str, str, str]:
    """Where a baseline's scores (baselines.json) keep the model's gain over it in `metric`, with its interval."""
    return (f"model_{metric}_gain", f"model_{metric}_gain_low", f"model_{metric}_gain_high")


GAIN_KEYS = gain_keys("accuracy")
# The gains a task may store beside a baseline: accuracy (classification), entity F1 (NER), ROUGE-L
# (summarization against Lead-1, causal LM against the base model).
GAINED = {"accuracy": "accuracy", "f1": "entity F1", "rougeL": "ROUGE-L"}


def paired_gains(outcomes: np.ndarray) -> list[dict[str, float]]:
    """For `outcomes` (n examples x m models, whether each got each example right): the first model's
    accuracy minus each other's, with a paired bootstrap interval (`GAIN_KEYS`). Each resample keeps
    every drawn example's outcomes for all the models, so the interval is that of the difference itself,
    much narrower than the two accuracies' own intervals side by side."""
    outcomes = np.asarray(outcomes, dtype=np.float64)
    shares = bootstrap_totals(outcomes) / len(outcomes)
    means = outcomes.mean(axis=0)
    return [dict(zip(GAIN_KEYS, (float(means[0] - means[j]), *percentile_interval(shares[:, 0] - shares[:, j])))) for j in range(1, outcomes.shape[1])]


def paired_difference(b: np.ndarray, a: np.ndarray, score: Callable[[np.ndarray, int], np.ndarray]) -> list[float]:
    """[difference, low, high] of score(B) - score(A) on the same examples, with a paired bootstrap
    interval. `b` and `a` hold per-example counts (n x m each, row i the same example); `score` turns
    column totals (r x m) over n examples into r scores. Each resample draws an example for both runs."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n, m = b.shape
    totals = bootstrap_totals(np.hstack([b, a]))
    point = score(b.sum(axis=0)[None, :], n) - score(a.sum(axis=0)[None, :], n)
    return [float(point[0]), *percentile_interval(score(totals[:, :m], n) - score(totals[:, m:], n))]


def mean_score(totals: np.ndarray, n: int) -> np.ndarray:
    """The mean of a per-example score (accuracy's right/wrong, ROUGE-L) from its totals: `paired_difference`'s `score`."""
    return totals[:, 0] / n


def paired_gain(metric: str, model: np.ndarray, baseline: np.ndarray, score: Callable[[np.ndarray, int], np.ndarray] = mean_score) -> dict[str, float]:
    """The model's gain over a baseline on the same examples, under `gain_keys(metric)`, for baselines.json.
    `model` and `baseline` are per-example counts (one column for a mean score)."""
    model, baseline = np.asarray(model, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    model, baseline = (x[:, None] if x.ndim == 1 else x for x in (model, baseline))
    return dict(zip(gain_keys(metric), paired_difference(model, baseline, score)))


def describe_gain(other: str, metrics: Mapping[str, float]) -> str | None:
    """What a model's gain over the baseline `other` says, in words: the first of `GAINED` that `metrics`
    (the baseline's scores on a split) holds, with its paired interval; None when it holds none."""
    for metric, name in GAINED.items():
        gain, low, high = (metrics.get(key) for key in gain_keys(metric))
        if gain is not None and low is not None and high is not None:
            alike = "right and wrong on exactly the same examples" if metric == "accuracy" else "scored alike on every example"
            return describe_difference(name, other, gain, low, high, alike=alike)
    return None


def describe_difference(metric: str, other: str, difference: float, low: float, high: float, *, alike: str = "scored alike on every example") -> str:
    """'accuracy +0.150 over run A (95% interval +0.067 to +0.233)': a paired difference and its interval in
    words; `alike` says what a difference of exactly 0 with a zero-width interval means."""
    if low == high == difference == 0:  # no example where the two differ
        return f"{metric} {difference:+.3f} against {other}: {alike}"
    interval = f"{LEVEL:.0%} interval {low:+.3f} to {high:+.3f}"
    if low > 0:
        return f"{metric} {difference:+.3f} over {other} ({interval})"
    if high < 0:
        return f"{metric} {difference:+.3f} against {other}: below it ({interval})"
    return f"{metric} {difference:+.3f} against {other}: not clearly different ({interval}, which holds 0)"
