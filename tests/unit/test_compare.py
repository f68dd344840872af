"""Two runs compared on the same examples: the paired difference of accuracy, entity F1 or ROUGE-L, and why
there is none."""

from __future__ import annotations

import pandas as pd
import pytest

from finetuner.cli import main
from finetuner.compare import describe, paired_comparison
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
    comparison = paired_comparison(a, b)
    assert (comparison["split"], comparison["examples"], comparison["metric"], comparison["a"], comparison["b"]) == ("test", 60, "accuracy", 0.75, 0.9)
    assert comparison["difference"] == pytest.approx(0.15)
    # B wins on 9 examples and loses on none: the interval is that of a share of 9 in 60, well above 0.
    assert [comparison["low"], comparison["high"]] == pytest.approx(wilson(9, 60), abs=0.04)
    assert describe(comparison).startswith("On the same 60 test examples, run B's accuracy +0.150 over run A (95% interval +0.")
    assert describe(comparison).endswith("(A 0.750, B 0.900; a paired bootstrap).")
    swapped = paired_comparison(a, run_with_predictions(store, [True] * 44 + [False, True] + [False] * 14))  # one example won, one lost
    assert "run B's accuracy +0.000 against run A: not clearly different (95% interval -0." in describe(swapped)
    same = paired_comparison(a, run_with_predictions(store, [True] * 45 + [False] * 15))
    assert "run B's accuracy +0.000 against run A: right and wrong on exactly the same examples (A 0.750, B 0.750" in describe(same)


def test_runs_that_cannot_be_paired_say_why(tmp_path):
    store = RunStore(tmp_path / "runs")
    a = run_with_predictions(store, [True] * 60)
    other_data = run_with_predictions(store, [True] * 50, texts=TEXTS[:50])
    assert describe(paired_comparison(a, other_data)) == "No paired comparison: their test splits hold different examples (60 and 50 rows), so there is nothing to pair."
    both_splits = [run_with_predictions(store, [True] * rows, texts=TEXTS[:rows]) for rows in (60, 50)]
    for run, rows in zip(both_splits, (40, 30)):  # their validation splits differ too: each split is named
        pd.DataFrame({"text": TEXTS[:rows], "label": LABELS[:rows], "correct": [True] * rows}).to_csv(run.eval_dir / "predictions_validation.csv", index=False)
    assert describe(paired_comparison(*both_splits)) == (
        "No paired comparison: their test splits hold different examples (60 and 50 rows), and their validation splits hold different "
        "examples (40 and 30 rows), so there is nothing to pair."
    )
    ner = ner_run(store, [["O", "O", "O"]] * 60, texts=TEXTS)
    assert describe(paired_comparison(a, ner)) == "No paired comparison: the two runs are not of the same task, so their scores do not measure the same thing."
    unfinished = store.create(RunConfig.from_dict({"train_file": "reviews.csv"}))
    assert "no per-example results on a test or validation split" in describe(paired_comparison(a, unfinished))
    on_validation = run_with_predictions(store, [False] * 60, split="validation")
    assert "no per-example results" in describe(paired_comparison(a, on_validation)), "A has test predictions, B only validation ones: no split in common"


SENTENCES = [f"Ada met Bob in Paris on day {i}" for i in range(40)]
TRUE_TAGS = ["B-PER O B-PER O B-LOC O O O".split()] * 40


def ner_run(store, predicted, *, texts=SENTENCES, true=TRUE_TAGS):
    """A token-classification run's predictions file: one sentence per row, true and predicted tags."""
    run = store.create(RunConfig.from_dict({"task": "token-classification", "train_file": "ner.jsonl"}))
    run.eval_dir.mkdir(parents=True, exist_ok=True)
    rows = [{"text": t, "tags": " ".join(y), "predicted": " ".join(p), "correct": y == p} for t, y, p in zip(texts, true, predicted)]
    pd.DataFrame(rows).to_csv(run.eval_dir / "predictions_test.csv", index=False)
    return run


def test_ner_runs_compare_entity_f1_on_the_same_sentences(tmp_path):
    store = RunStore(tmp_path / "runs")
    misses_paris = "B-PER O B-PER O O O O O".split()  # 2 of 3 entities
    a = ner_run(store, [misses_paris] * 30 + [TRUE_TAGS[0]] * 10)
    b = ner_run(store, [TRUE_TAGS[0]] * 40)
    comparison = paired_comparison(a, b)
    true_entities, a_found = 120, 2 * 30 + 3 * 10
    a_f1 = 2 * a_found / (a_found + true_entities)  # every entity A predicts is right: precision 1
    assert (comparison["metric"], comparison["unit"], comparison["examples"]) == ("entity F1", "sentences", 40)
    assert (comparison["a"], comparison["b"]) == pytest.approx((a_f1, 1.0))
    assert comparison["difference"] == pytest.approx(1 - a_f1) and 0 < comparison["low"] < comparison["difference"] < comparison["high"]
    assert describe(comparison).startswith(f"On the same 40 test sentences, run B's entity F1 +{1 - a_f1:.3f} over run A (95% interval +0.")
    assert "found the same entities in every sentence" in describe(paired_comparison(b, ner_run(store, [TRUE_TAGS[0]] * 40)))


def generation_run(store, rouge_l, *, split="validation", task="seq2seq"):
    run = store.create(RunConfig.from_dict({"task": task, "model_name_or_path": "t5", "train_file": "docs.jsonl"}))
    run.eval_dir.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"document": [f"document {i}" for i in range(len(rouge_l))], "reference": [f"summary {i}" for i in range(len(rouge_l))], "generated": "", "rougeL": rouge_l})
    frame.to_csv(run.eval_dir / f"generations_{split}.csv", index=False)
    return run


def test_generation_runs_compare_rouge_l_on_the_same_texts(tmp_path):
    store = RunStore(tmp_path / "runs")
    a = generation_run(store, [0.2, 0.4] * 10)
    b = generation_run(store, [0.25, 0.41] * 10)
    comparison = paired_comparison(a, b)
    assert (comparison["split"], comparison["metric"], comparison["examples"]) == ("validation", "ROUGE-L", 20)
    assert comparison["difference"] == pytest.approx(0.03)
    # Each text gains 0.05 or 0.01: every resample's mean gain lies between them, however wide A's and B's own spreads.
    assert 0.01 <= comparison["low"] < comparison["high"] <= 0.05
    assert "run B's ROUGE-L +0.030 over run A" in describe(comparison)
    shorter = generation_run(store, [0.2] * 5)
    assert "their validation splits hold different examples (20 and 5 rows)" in describe(paired_comparison(a, shorter))


def test_cli_compare_prints_the_differences_and_the_paired_comparison(tmp_path, capsys):
    store = RunStore(tmp_path / "runs")
    a = run_with_predictions(store, [True] * 45 + [False] * 15)
    b = run_with_predictions(store, [True] * 54 + [False] * 6, learning_rate=1e-4)
    assert main(["--runs_dir", str(tmp_path / "runs"), "compare", a.id, b.id]) == 0
    out = capsys.readouterr().out
    assert "Options that differ (A -> B):\n  learning_rate: 5e-05 -> 0.0001\n" in out
    assert "On the same 60 test examples, run B's accuracy +0.150 over run A" in out


def test_a_run_compared_with_itself_is_named_the_same_run(tmp_path, capsys):
    store = RunStore(tmp_path / "runs")
    a = run_with_predictions(store, [True] * 45 + [False] * 15)
    said = describe(paired_comparison(a, store.get(a.id)))
    assert said == f"Run A and run B are the same run ({a.id}): there is nothing to compare. Choose two different runs."
    assert main(["--runs_dir", str(tmp_path / "runs"), "compare", a.id, str(a.path)]) == 2
    said = capsys.readouterr()
    assert "the same run" in said.err and "Choose two different runs." in said.err and "bootstrap" not in said.out + said.err


def test_summarization_and_instruction_tuning_are_not_paired(tmp_path):
    """Both write ROUGE-L generations; the same texts scored alike still make no comparison across tasks."""
    store = RunStore(tmp_path / "runs")
    summaries, answers = generation_run(store, [0.2, 0.4] * 10), generation_run(store, [0.2, 0.4] * 10, task="causal-lm")
    assert describe(paired_comparison(summaries, answers)) == "No paired comparison: the two runs are not of the same task, so their scores do not measure the same thing."


def test_the_options_that_differ_leave_out_those_neither_task_uses():
    from finetuner.compare import config_diff

    summaries = RunConfig.from_dict({"task": "seq2seq", "model_name_or_path": "t5", "train_file": "docs.jsonl", "max_target_length": 32})
    answers = RunConfig.from_dict({"task": "causal-lm", "model_name_or_path": "lm", "train_file": "docs.jsonl", "generation_num_samples": 8})
    rows = {name: (a, b) for name, a, b in config_diff(summaries, answers)}
    assert rows["task"] == ("seq2seq", "causal-lm") and rows["max_target_length"] == ("32", "64"), "summarization's own option, used by one of them"
    classifiers = [RunConfig.from_dict({"train_file": "x.csv", "max_target_length": n}) for n in (64, 32)]
    assert config_diff(*classifiers) == [], "an option no classifier uses makes no difference between two"


def test_the_runs_table_lists_each_task_by_the_score_its_runs_are_compared_by(tmp_path):
    """The Runs table showed a summarization run's ROUGE-1 while comparing two of them paired their ROUGE-L: the
    score a run is listed by and the one it is compared by are now the same (`tasks.headline_score`)."""
    from finetuner.ui.services import run_label, runs_table

    store = RunStore(tmp_path / "runs")
    pairs = {
        "seq2seq": [generation_run(store, [0.2, 0.4] * 10), generation_run(store, [0.25, 0.41] * 10)],
        "text-classification": [run_with_predictions(store, [True] * 45 + [False] * 15), run_with_predictions(store, [True] * 60)],
        "token-classification": [ner_run(store, [TRUE_TAGS[0]] * 40), ner_run(store, [TRUE_TAGS[0]] * 40)],
    }
    for task, (a, b) in pairs.items():
        comparison = paired_comparison(a, b)
        for run, score in ((a, comparison["a"]), (b, comparison["b"])):
            run.update_status(state="completed", metrics={f"test_{comparison['key']}": score, "test_rouge1": 0.9, "test_loss": 1.5})
        table = runs_table(store, [a, b]).set_index("run")
        assert list(table["metric"]) == [comparison["key"]] * 2, task
        assert list(table["test"]) == [round(comparison["a"], 3), round(comparison["b"], 3)], task
    a, b = pairs["seq2seq"]
    assert list(runs_table(store, [a]).iloc[0][["metric", "test"]]) == ["rougeL", 0.3]
    assert run_label(a).endswith("· test rougeL 0.300")
