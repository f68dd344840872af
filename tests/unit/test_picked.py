"""Gradio 6's dropdown sends `.input` at every blur as well as on a choice, and twice for a mouse pick. The pickers
whose handler sets other fields (the Task box on both tabs: the task's model, learning rate, batch size, max length;
the Evaluate tab's run and split; Try it's examples) run it on a choice only (`handlers.picked`): tests/e2e shows
the Task box in a browser; this checks that each of the others is wired the same way, and that an `.input` the
browser marks as no choice changes nothing."""

from __future__ import annotations

import gradio as gr
import pytest

from finetuner.ui.handlers import picked

PICKERS = {  # endpoint -> the picker's label, and its place among the event's inputs
    "choose_task": ("Task", 0),
    "sync_task_from_data": ("Task", 0),
    "choose_evaluation_run": ("Run", 0),
    "choose_evaluation_split": ("Split", 1),
    "use_test_example": ("Or a text from the run's test split", 1),
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from finetuner.ui.studio import build_studio

    return build_studio(tmp_path_factory.mktemp("runs"))


@pytest.mark.parametrize("endpoint", sorted(PICKERS))
def test_each_picker_runs_its_handler_on_a_choice_only(demo, endpoint):
    label, position = PICKERS[endpoint]
    fns = list(demo.fns.values())
    event = next(fn for fn in fns if fn.api_name == endpoint)
    box = event.inputs[position]
    assert box.label == label and isinstance(box, gr.Dropdown)
    assert f"values[{position}] === seen[" in event.js, "the browser sends no choice as None"
    focus = [fn for fn in fns if (box._id, "focus") in fn.targets and fn.fn is None]
    assert len(focus) == 1 and "finetunerFocused" in focus[0].js, "the box's value is noted when it gets focus"
    arguments = [None] * len(event.inputs)
    assert event.fn(*arguments) in (gr.skip(), [gr.skip()] * len(event.outputs)), "no choice: every output stays"


def test_no_choice_runs_nothing_and_a_choice_runs_the_handler():
    with gr.Blocks():
        box, out = gr.Dropdown(["a", "b"]), gr.Textbox()
        calls = []
        event = picked(box, lambda value: calls.append(value) or value.upper(), [out])
    assert event["fn"](None) == gr.skip() and calls == []
    assert event["fn"]("b") == "B" and calls == ["b"]
