"""The Try tab's chat: what the model reads of the conversation shown."""

from __future__ import annotations

from finetuner.ui.inference_tab import _shown, plain_messages


def test_an_empty_answer_goes_back_empty_not_as_the_note_shown_in_its_place():
    """The chat shows a note where the model generated nothing; the next turn fed that note to the model as its own answer."""
    shown = [
        _shown({"role": "user", "content": "hi"}),
        _shown({"role": "assistant", "content": "(the model ended its answer at once: it generated no text)"}),
        _shown({"role": "user", "content": "hello?"}),
    ]
    assert plain_messages(shown) == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}, {"role": "user", "content": "hello?"}]


def test_text_parts_are_joined_and_other_messages_left_out():
    history = [
        {"role": "user", "content": [{"type": "text", "text": "what colour"}, {"type": "text", "text": "is the sky?"}]},
        {"role": "assistant", "content": [{"type": "file", "file": {"path": "x.png"}}]},
        {"role": "tool", "content": "ignored"},
    ]
    assert plain_messages(history) == [{"role": "user", "content": "what colour\nis the sky?"}]
