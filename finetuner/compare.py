"""Two runs compared: the options where their configs differ and, for classification, their accuracy
on the examples both were evaluated on.

Two runs a seed apart differ by a point of accuracy on a few hundred examples as often as not
(benchmarks/sst2_seeds.py). Their two scores side by side cannot say whether B is better than A; the
difference on the same examples, with a paired interval (`intervals.paired_gains`), can.
"""

from __future__ import annotations

import json
from typing import Any

from .config import RunConfig
from .runs import Run


def config_diff(a: RunConfig, b: RunConfig) -> list[list[str]]:
    """Rows (option, value in A, value in B) for the options that differ."""
    left, right = a.to_dict(), b.to_dict()
    rows = []
    for name in left:
        if left[name] != right.get(name):
            rows.append([name, _show(left[name]), _show(right.get(name))])
    return rows


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


def paired_accuracy(run_a: Run, run_b: Run) -> dict[str, Any]:
    """B's accuracy minus A's on their test split (else validation), when both predicted the same
    examples with the same labels: `{"split", "examples", "a_accuracy", "b_accuracy", **GAIN_KEYS}`;
    otherwise `{"reason": why there is no paired comparison}`."""
    import numpy as np  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415

    from .intervals import paired_gains  # noqa: PLC0415

    reason = "they have no predictions on a test or validation split (only completed classification runs do)."
    for split in ("test", "validation"):
        paths = [run.eval_dir / f"predictions_{split}.csv" for run in (run_a, run_b)]
        if not all(path.is_file() for path in paths):
            continue
        a, b = (pd.read_csv(path, keep_default_na=False) for path in paths)
        if not {"text", "label", "correct"} <= set(a.columns) & set(b.columns):
            return {"reason": "No paired comparison: only classification runs are compared example by example."}
        if len(a) != len(b) or not (a["text"].equals(b["text"]) and a["label"].astype(str).equals(b["label"].astype(str))):
            reason = f"their {split} splits hold different examples ({len(a):,} and {len(b):,} rows), so there is nothing to pair."
            continue
        outcomes = np.column_stack([b["correct"].astype(bool), a["correct"].astype(bool)])
        (gain,) = paired_gains(outcomes)
        return {"split": split, "examples": len(a), "a_accuracy": float(outcomes[:, 1].mean()), "b_accuracy": float(outcomes[:, 0].mean()), **gain}
    return {"reason": f"No paired comparison: {reason}"}


def describe(comparison: dict[str, Any]) -> str:
    """One sentence: what the paired comparison says, or why there is none."""
    from .intervals import describe_gain  # noqa: PLC0415

    if "reason" in comparison:
        return comparison["reason"]
    return (
        f"On the same {comparison['examples']:,} {comparison['split']} examples, run B's "
        f"{describe_gain('run A', comparison)} (A {comparison['a_accuracy']:.3f}, B {comparison['b_accuracy']:.3f}; a paired bootstrap)."
    )
