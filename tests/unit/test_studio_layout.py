"""The studio's tab bar holds its tabs alone: a component made directly inside gr.Tabs (outside any gr.Tab)
becomes a tab button of its own in the browser, and the buttons after it take the wrong labels (after a click
on Train, the Evaluate tab's button read '2 · Train' and could not be reached)."""

from __future__ import annotations

import gradio as gr

from finetuner.ui.studio import build_studio


def tab_bars(block):
    for child in getattr(block, "children", None) or []:
        if isinstance(child, gr.Tabs):
            yield child
        yield from tab_bars(child)


def test_every_tab_bar_holds_only_tabs(tmp_path):
    bars = list(tab_bars(build_studio(str(tmp_path / "runs"))))
    labels = [[getattr(child, "label", type(child).__name__) for child in bar.children] for bar in bars]
    assert labels[0] == ["1 · Data", "2 · Train", "3 · Evaluate", "4 · Try it", "Runs", "Hub"], labels
    for bar, names in zip(bars, labels):
        assert all(isinstance(child, gr.Tab) for child in bar.children), names
