"""Two views in a real browser: the Runs tab of an empty runs folder (a note on how to start, no error on
opening or refreshing), and Try it clearing its answer when the next input is refused (the old answer
would read as the answer to the new input)."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import expect

from support import free_port
from finetuner.config import RunConfig
from finetuner.runs import COMPLETED, RunStore


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """(url, runs_dir) of a studio over an empty runs folder."""
    from finetuner.ui.studio import build_studio, launch_options

    runs_dir = tmp_path_factory.mktemp("views") / "runs"
    demo = build_studio(runs_dir)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True, **launch_options())
    yield demo.local_url, runs_dir
    demo.close()


@pytest.fixture(scope="module")
def studio_url(studio):
    """This module's studio for conftest's `page`."""
    return studio[0]


def no_pending(page):
    """Wait until no event is running on the page (Gradio's status trackers are hidden)."""
    expect(page.locator(".progress-text")).to_have_count(0)


def test_an_empty_runs_tab_says_how_to_start_without_an_error(page):
    page.get_by_role("tab", name="Runs").click()
    expect(page.get_by_text("No runs yet.")).to_be_visible()
    no_pending(page)
    page.get_by_role("button", name="↻ Refresh").click()
    no_pending(page)
    expect(page.get_by_text("No runs yet.")).to_be_visible()
    expect(page.locator(".toast-body")).to_have_count(0)
    expect(page.get_by_text("Error", exact=True)).to_have_count(0)


def test_try_it_clears_its_answer_when_the_next_text_is_refused(page, studio, tiny_model_dir):
    store = RunStore(studio[1])
    run = store.create(RunConfig.from_dict({"model_name_or_path": str(tiny_model_dir), "train_file": "reviews.csv", "max_seq_length": 32}))
    shutil.copytree(tiny_model_dir, run.model_dir)  # an untrained head is enough: any answer will do
    run.update_status(state=COMPLETED)
    page.get_by_role("tab", name="4 · Try it").click()
    answer = page.locator(".block", has_text="Model output")
    page.get_by_label("Text to classify").fill("the film was great")
    page.get_by_role("button", name="Classify", exact=True).click()
    expect(answer.get_by_text("probabilities")).to_be_visible()
    page.get_by_label("Text to classify").fill("")
    page.get_by_role("button", name="Classify", exact=True).click()
    expect(page.locator(".toast-body").filter(has_text="Type a text to classify first")).to_be_visible()
    expect(answer.get_by_text("probabilities")).to_have_count(0)
