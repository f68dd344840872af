"""Confidence intervals for evaluation scores: how far a score measured on a few hundred examples can be read.

On SST-2's 872 validation sentences, models that differ only in their seed score 0.81 to 0.83
(benchmarks/sst2_seeds.py); a score shown without its interval invites reading such differences as real.
Two methods, both deterministic (a fixed seed), both offline:

* `wilson`: the Wilson score interval of a proportion (accuracy). It stays honest near 0 and 1 on small
  sets, where the textbook normal interval collapses (32 right of 32 is not "certainly 1.0").
* `bootstrap_totals` + `percentile_interval`: the percentile bootstrap for scores built from per-example
  counts (F1 from true positives, predictions and true items; a mean ROUGE from per-example values).
  Drawing n examples with replacement gives each a multinomial count, so a resample's totals are one
  matrix product, and 2,000 resamples take milliseconds.
"""

from __future__ import annotations

import numpy as np

LEVEL = 0.95
RESAMPLES = 2000
SEED = 0


def wilson(successes: int, n: int, level: float = LEVEL) -> list[float]:
    """[low, high] of the proportion successes / n."""
    from scipy.stats import norm  # noqa: PLC0415 - scikit-learn's own dependency

    z = float(norm.ppf((1 + level) / 2))
    share = successes / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [float(max(0.0, centre - half)), float(min(1.0, centre + half))]


def bootstrap_totals(per_example: np.ndarray, *, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """Column totals of `per_example` (n examples x m counts) in each of `resamples` resamples of its rows
    with replacement: a (resamples, m) array."""
    per_example = np.asarray(per_example, dtype=np.float64)
    n = len(per_example)
    draws = np.random.default_rng(seed).multinomial(n, np.full(n, 1 / n), size=resamples)
    return draws @ per_example


def percentile_interval(samples: np.ndarray, level: float = LEVEL) -> list[float]:
    """[low, high]: the central `level` share of a score's bootstrap samples."""
    low, high = np.percentile(samples, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return [float(low), float(high)]


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (the metrics' zero_division=0)."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator, dtype=np.float64), where=denominator > 0)
