"""Try it's views answer a text sent by their button or by the keyboard (Enter; Shift+Enter in a box of several
lines). As two events, both were answered at once, in either order, and the older answer could show last beside
the newer text (or two chat answers streamed into one conversation). Each view has one event for both, and a text
sent while it runs goes once it is done (`always_last`), so the last text's answer shows. tests/e2e shows it in a
browser for text classification; this checks the wiring of each view."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from finetuner.ui.studio import build_studio

    return build_studio(tmp_path_factory.mktemp("runs"))


@pytest.mark.parametrize(("endpoint", "button", "box"), [
    ("predict", "Classify", "Text to classify"),
    ("predict_entities", "Find entities", "Text to tag"),
    ("generate", "Send", "Your message"),
])
def test_the_button_and_the_keyboard_are_one_event_that_answers_the_last_text(demo, endpoint, button, box):
    fns = list(demo.fns.values())
    event = next(fn for fn in fns if fn.api_name == endpoint)
    assert [fn.api_name for fn in fns if fn.fn is event.fn] == [endpoint]  # the one event that runs the view's model
    assert event.trigger_mode == "always_last"
    shown = {"click": lambda block: block.value, "submit": lambda block: block.label}
    assert sorted((name, shown[name](demo.blocks[target])) for target, name in event.targets) == [("click", button), ("submit", box)]
