"""Two runs compared on the same examples: the paired accuracy difference, and why there is none."""

from __future__ import annotations

import pandas as pd
import pytest

from finetuner.cli import main
from finetuner.compare import describe, paired_accuracy
from finetuner.config import RunConfig
from finetuner.intervals import wilson
from finetuner.runs import RunStore

TEXTS = [f"review number {i}" for i in range(60)]
LABELS = ["positive" if i % 2 else "negative" for i in range(60)]


def run_with_predictions(store, correct, *, texts=TEXTS, split="test", learning_rate=5e-5, columns=("text", "label", "correct")):
    run = store.create(RunConfig.from_dict({"train_file": "reviews.csv", "learning_rate": learning_rate}))
    run.eval_dir.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"text": texts, "label": LABELS[: len(texts)], "correct": correct})
    frame[list(columns)].to_csv(run.eval_dir / f"predictions_{split}.csv", index=False)
    return run


def test_b_against_a_on_the_same_examples(tmp_path):
    store = RunStore(tmp_path / "runs")
    a = run_with_predictions(store, [True] * 45 + [False] * 15)
    b = run_with_predictions(store, [True] * 54 + [False] * 6, learning_rate=1e-4)  # right on all A's 45, and on 9 more
    comparison = paired_accuracy(a, b)
    assert (comparison["split"], comparison["examples"], comparison["a_accuracy"], comparison["b_accuracy"]) == ("test", 60, 0.75, 0.9)
    assert comparison["model_accuracy_gain"] == pytest.approx(0.15)
    # B wins on 9 examples and loses on none: the interval is that of a share of 9 in 60, well above 0.
    assert [comparison["model_accuracy_gain_low"], comparison["model_accuracy_gain_high"]] == pytest.approx(wilson(9, 60), abs=0.04)
    assert describe(comparison).startswith("On the same 60 test examples, run B's accuracy +0.150 over run A (95% interval +0.")
    assert describe(comparison).endswith("(A 0.750, B 0.900; a paired bootstrap).")
    swapped = paired_accuracy(a, run_with_predictions(store, [True] * 44 + [False, True] + [False] * 14))  # one example won, one lost
    assert "run B's accuracy +0.000 against run A: not clearly different (95% interval -0." in describe(swapped)
    same = paired_accuracy(a, run_with_predictions(store, [True] * 45 + [False] * 15))
    assert "run B's accuracy +0.000 against run A: right and wrong on exactly the same examples (A 0.750, B 0.750" in describe(same)


def test_runs_that_cannot_be_paired_say_why(tmp_path):
    store = RunStore(tmp_path / "runs")
    a = run_with_predictions(store, [True] * 60)
    other_data = run_with_predictions(store, [True] * 50, texts=TEXTS[:50])
    assert describe(paired_accuracy(a, other_data)) == "No paired comparison: their test splits hold different examples (60 and 50 rows), so there is nothing to pair."
    ner = run_with_predictions(store, [True] * 60, columns=("text", "correct"))
    assert "only classification runs" in describe(paired_accuracy(a, ner))
    unfinished = store.create(RunConfig.from_dict({"train_file": "reviews.csv"}))
    assert "no predictions on a test or validation split" in describe(paired_accuracy(a, unfinished))
    on_validation = run_with_predictions(store, [False] * 60, split="validation")
    assert "no predictions" in describe(paired_accuracy(a, on_validation)), "A has test predictions, B only validation ones: no split in common"


def test_cli_compare_prints_the_differences_and_the_paired_accuracy(tmp_path, capsys):
    store = RunStore(tmp_path / "runs")
    a = run_with_predictions(store, [True] * 45 + [False] * 15)
    b = run_with_predictions(store, [True] * 54 + [False] * 6, learning_rate=1e-4)
    assert main(["--runs_dir", str(tmp_path / "runs"), "compare", a.id, b.id]) == 0
    out = capsys.readouterr().out
    assert "Options that differ (A -> B):\n  learning_rate: 5e-05 -> 0.0001\n" in out
    assert "On the same 60 test examples, run B's accuracy +0.150 over run A" in out
