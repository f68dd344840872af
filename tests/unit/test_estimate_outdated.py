"""The Train tab's estimate is of the options and data it was made for. It stayed on the page after they changed:
seen after a summarization run, its 100 steps, 4 epochs and tiny T5's memory beside an instruction-tuning plan of 75
steps in 3 epochs on GSM8K. A change of an option, of the number of processes or of the data now clears it."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def wiring(tmp_path_factory):
    from finetuner.ui.studio import build_studio

    demo = build_studio(tmp_path_factory.mktemp("runs"))
    fns = list(demo.fns.values())
    estimate = next(fn for fn in fns if fn.api_name == "estimate_training")
    box = estimate.outputs[0]
    return fns, estimate, box


def clearing(fns, box, component):
    """The events a change of `component` starts that set the estimate box, and what each sets it to: in the
    browser, at the change (tests/e2e shows why and that it does)."""
    events = [fn for fn in fns if (component._id, "change") in fn.targets and [o._id for o in fn.outputs] == [box._id]]
    return [json.loads(fn.js.removeprefix("() => ")) if fn.fn is None else fn for fn in events]


@pytest.mark.parametrize("label", ["Epochs", "Batch size", "Max length (tokens)", "Model", "Task", "Packing", "LoRA adapters (parameter-efficient fine-tuning)"])
def test_a_changed_option_clears_the_estimate(wiring, label):
    fns, estimate, box = wiring
    field = next(c for c in estimate.inputs if getattr(c, "label", None) == label)
    assert clearing(fns, box, field) == [""]


def test_other_data_clears_the_estimate(wiring):
    fns, estimate, box = wiring
    data = estimate.inputs[-2]  # [*form, processes, the loaded data, the Hub tab's token]
    assert isinstance(data.value, (dict, type(None))) and clearing(fns, box, data) == [""]
