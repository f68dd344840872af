"""The Try it tab's clickable examples are the chosen run's own test inputs: the fixed movie reviews were
offered to every classifier, a banking-intent model's included."""

from __future__ import annotations

import pandas as pd

from finetuner.config import RunConfig
from finetuner.runs import COMPLETED, RunStore

QUESTIONS = ["Why was I charged twice?", "My card has not arrived yet.", "Where is my cash deposit?", "Why is there a fee?", "Cancel this direct debit."]


def classification_examples(show, run_id):
    """What choosing `run_id` sets the text classification view's examples to (the run picker's handler)."""
    updates = dict(zip((block._id for block in show.outputs), show.fn(run_id, None, None, None)))
    ids = [block._id for block in show.outputs if getattr(block, "label", None) == "Example inputs"]
    assert len(ids) == 1, "choosing a run sets the text classification view's examples"
    return updates[ids[0]]


def test_a_runs_examples_are_its_own_test_texts(tmp_path, sentiment_csv, tiny_model_dir):
    from finetuner.ui import inference_tab
    from finetuner.ui.studio import build_studio

    runs_dir = tmp_path / "runs"
    demo = build_studio(runs_dir)
    show = next(fn for fn in demo.fns.values() if fn.api_name == "show_inference_run")
    run = RunStore(runs_dir).create(RunConfig.from_dict({"model_name_or_path": str(tiny_model_dir), "train_file": str(sentiment_csv)}))
    run.update_status(state=COMPLETED)
    run.eval_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"text": QUESTIONS, "label": ["twice"] * 5, "predicted": ["twice"] * 5}).to_csv(run.eval_dir / "predictions_test.csv", index=False)

    examples = classification_examples(show, run.id)
    assert examples.samples == [[text] for text in QUESTIONS[:4]]
    assert examples.label == "Examples from the run's test split"

    # A run without evaluated examples (none written yet): the fixed ones, under their own label.
    (run.eval_dir / "predictions_test.csv").unlink()
    examples = classification_examples(show, run.id)
    assert examples.samples == [[text] for text in inference_tab.EXAMPLES]
    assert examples.label == "Example inputs"


def test_the_file_column_help_says_what_the_runs_task_reads(tmp_path, tiny_model_dir):
    """The Try it tab's batch-file column box spoke of sentence pairs for every run, a summarizer's and an NER
    model's included: it now names the columns the chosen run's task reads, the run's own first."""
    import json

    from finetuner.ui.studio import build_studio

    runs_dir = tmp_path / "runs"
    demo = build_studio(runs_dir)
    show = next(fn for fn in demo.fns.values() if fn.api_name == "show_inference_run")
    store = RunStore(runs_dir)

    def column_box(task, text_columns):
        run = store.create(RunConfig.from_dict({"task": task, "model_name_or_path": str(tiny_model_dir), "train_file": "data.jsonl"}))
        run.update_status(state=COMPLETED)
        (run.path / "data_report.json").write_text(json.dumps({"text_columns": text_columns}))
        boxes = [(block, update) for block, update in zip(show.outputs, show.fn(run.id, None, None, None)) if str(getattr(block, "label", "")).endswith(" column")]
        assert len(boxes) == 1
        block, update = boxes[0]
        return update.label, block.info if update.info is None else update.info  # an update without info keeps the box's own

    label, info = column_box("token-classification", ["tokens"])
    assert label == "Text column" and "words column (tokens)" in info and "pair" not in info
    label, info = column_box("seq2seq", ["article"])
    assert label == "Document column" and "document column (article)" in info and "pair" not in info
    label, info = column_box("causal-lm", ["instruction", "input"])
    assert label == "Prompt column" and "prompt column (instruction, with the input column input)" in info and "pair" not in info
    _, info = column_box("text-classification", ["premise", "hypothesis"])
    assert "trained on sentence pairs" in info and "(premise and hypothesis)" in info
    _, info = column_box("text-classification", ["review"])
    assert "text column (review)" in info and "pair" not in info
