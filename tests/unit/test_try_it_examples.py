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
