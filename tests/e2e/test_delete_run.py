"""The Runs tab's Delete in a real browser: it asks first; answered No, the run stays; Yes, it goes."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from support import completed_run


def test_delete_asks_first(page, studio, tiny_model_dir):
    run = completed_run(studio[1], "old-run", task="text-classification", model_dir=tiny_model_dir)
    page.get_by_role("tab", name="Runs").click()
    panel = page.get_by_role("tabpanel")
    expect(panel.get_by_label("Run", exact=True)).to_have_value(re.compile("old-run"))
    delete = panel.get_by_role("button", name="Delete")
    expect(delete).to_be_enabled()

    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    delete.click()
    expect(page.locator(".progress-text")).to_have_count(0)  # the event has run
    expect(panel.get_by_label("Run", exact=True)).to_have_value(re.compile("old-run"))
    assert asked == ["Delete run old-run? Its folder (model, checkpoints, evaluation) is removed for good."]
    assert run.path.is_dir(), "answered No: nothing is deleted"

    page.once("dialog", lambda dialog: dialog.accept())
    delete.click()
    expect(panel.get_by_text("Deleted run old-run.")).to_be_visible()
    assert not run.path.exists()
    expect(page.get_by_text("No runs yet.")).to_be_visible()
