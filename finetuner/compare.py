"""Two runs compared: the options where their configs differ and, where both were evaluated on the same
examples, B's score minus A's there: accuracy (classification), entity F1 (NER), or ROUGE-L of the
generated text (summarization, causal LM).

Two runs a seed apart differ by a point of accuracy on a few hundred examples as often as not
(benchmarks/sst2_seeds.py). Their two scores side by side cannot say whether B is better than A; the
difference on the same examples, with a paired interval (`intervals.paired_difference`), can.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from .config import RunConfig
from .intervals import describe_difference, mean_score, paired_difference
from .metrics_text import entity_counts, entity_f1
from .runs import Run
from .tasks import task_uses


def config_diff(a: RunConfig, b: RunConfig) -> list[list[str]]:
    """Rows (option, value in A, value in B) for the options that differ, leaving out a task's own options
    that neither run's task uses (a summarization run's max_target_length beside a causal LM's)."""
    left, right = a.to_dict(), b.to_dict()
    tasks = (a.model.task, b.model.task)
    rows = []
    for name in left:
        if left[name] != right.get(name) and any(task_uses(task, name) for task in tasks):
            rows.append([name, _show(left[name]), _show(right.get(name))])
    return rows


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


@dataclass(frozen=True)
class _Pairing:
    """How one task's per-example evaluation file is paired: the columns that say it is this task's, the
    columns that must match row by row for two runs to have seen the same examples, the per-example counts
    and the score made of their totals. `key` is that score's name in a run's metrics: the task's headline score
    (`tasks.headline_score`, which the Runs table shows), for every task but instruction tuning, whose loss has no
    per-example record (its generated sample's ROUGE-L is paired)."""

    file: str
    columns: frozenset[str]
    same_rows: tuple[str, ...]
    key: str
    metric: str
    unit: str
    alike: str
    counts: Callable[[Any], Any]
    score: Callable[[Any, int], Any]


def _entity_counts(frame):
    return entity_counts([str(t).split() for t in frame["tags"]], [str(p).split() for p in frame["predicted"]])


PAIRINGS = (
    _Pairing("predictions", frozenset({"text", "label", "correct"}), ("text", "label"), "accuracy", "accuracy", "examples",
             "right and wrong on exactly the same examples", lambda f: f["correct"].astype(bool).to_numpy()[:, None], mean_score),
    _Pairing("predictions", frozenset({"text", "tags", "predicted"}), ("text", "tags"), "f1", "entity F1", "sentences",
             "found the same entities in every sentence", _entity_counts, entity_f1),
    _Pairing("generations", frozenset({"reference", "generated", "rougeL"}), ("reference",), "rougeL", "ROUGE-L", "generated texts",
             "scored alike on every text", lambda f: f["rougeL"].astype(float).to_numpy()[:, None], mean_score),
)


NOT_THE_SAME_TASK = "No paired comparison: the two runs are not of the same task, so their scores do not measure the same thing."
SAME_RUN = "Run A and run B are the same run ({run}): there is nothing to compare. Choose two different runs."


def paired_comparison(run_a: Run, run_b: Run) -> dict[str, Any]:
    """B's score minus A's on their test split (else validation), when both were evaluated on the same
    examples: `{"split", "examples", "key", "metric", "unit", "alike", "a", "b", "difference", "low", "high"}`;
    otherwise `{"reason": why there is no paired comparison}` (also when A and B are the same run)."""
    import pandas as pd  # noqa: PLC0415

    if run_a.path.resolve() == run_b.path.resolve():  # not two runs that happen to agree on every example
        return {"reason": SAME_RUN.format(run=run_a.id)}
    if run_a.config().model.task != run_b.config().model.task:  # summarization and causal LM write alike generations
        return {"reason": NOT_THE_SAME_TASK}
    differing: list[str] = []  # the splits both runs have, with other examples in each
    for split in ("test", "validation"):
        for file in dict.fromkeys(p.file for p in PAIRINGS):
            paths = [run.eval_dir / f"{file}_{split}.csv" for run in (run_a, run_b)]
            if not all(path.is_file() for path in paths):
                continue
            a, b = (pd.read_csv(path, keep_default_na=False) for path in paths)
            kinds = [next((p for p in PAIRINGS if p.file == file and p.columns <= set(frame.columns)), None) for frame in (a, b)]
            if None in kinds or kinds[0] != kinds[1]:
                return {"reason": NOT_THE_SAME_TASK}
            pairing = kinds[0]
            same_rows = [column for column in (*a.columns[:1], *pairing.same_rows) if column in b.columns]
            if len(a) != len(b) or not all(a[c].astype(str).equals(b[c].astype(str)) for c in dict.fromkeys(same_rows)):
                differing.append(f"{split} splits hold different examples ({len(a):,} and {len(b):,} rows)")
                continue
            counts_a, counts_b = pairing.counts(a), pairing.counts(b)
            difference, low, high = paired_difference(counts_b, counts_a, pairing.score)
            scores = [float(pairing.score(counts.sum(axis=0)[None, :], len(counts))[0]) for counts in (counts_a, counts_b)]
            return {"split": split, "examples": len(a), "key": pairing.key, "metric": pairing.metric, "unit": pairing.unit, "alike": pairing.alike,
                    "a": scores[0], "b": scores[1], "difference": difference, "low": low, "high": high}
    if not differing:
        return {"reason": "No paired comparison: they have no per-example results on a test or validation split (completed runs have them)."}
    return {"reason": f"No paired comparison: their {', and their '.join(differing)}, so there is nothing to pair."}


def describe(comparison: dict[str, Any]) -> str:
    """One sentence: what the paired comparison says, or why there is none."""
    if "reason" in comparison:
        return comparison["reason"]
    said = describe_difference(comparison["metric"], "run A", comparison["difference"], comparison["low"], comparison["high"], alike=comparison["alike"])
    return (
        f"On the same {comparison['examples']:,} {comparison['split']} {comparison['unit']}, run B's "
        f"{said} (A {comparison['a']:.3f}, B {comparison['b']:.3f}; a paired bootstrap)."
    )
