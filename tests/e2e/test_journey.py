"""A new user's whole journey in a real browser, by visible labels: data, tokens, train, evaluate, try it,
runs; bad input answered on the page without breaking it; a reload shows the same run.
Screenshots of every tab go to test-artifacts/."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def toast(page, words: str):
    """The error message shown on the page (a toast), found by its words."""
    return page.locator(".toast-body").filter(has_text=re.compile(re.escape(words), re.IGNORECASE)).first


def dismiss_toasts(page) -> None:
    for close in page.locator(".toast-close").all():
        if close.is_visible():
            close.click()


def upload_block(page, label: str):
    """The file upload block with this label."""
    return page.get_by_text(label, exact=True).locator("xpath=ancestor::div[contains(@class,'block')][1]")


def file_input(page, label: str):
    return upload_block(page, label).locator("input[type=file]")


def set_number(page, label: str, value) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Tab")


def test_new_user_journey(page, screenshot, tiny_model_dir, sentiment_csv, tmp_path):
    # Data: the example is loaded as the page opens.
    expect(page.get_by_text("2 classes").first).to_be_visible()
    expect(page.get_by_text("Data checks")).to_be_visible()

    # A missing Hub id is explained, and the page keeps working.
    page.get_by_role("radio", name="Hugging Face Hub").click()
    expect(page.get_by_label("Hub dataset id")).to_be_visible()
    page.get_by_role("button", name="Load dataset").click()
    expect(toast(page, "Enter a Hugging Face dataset id")).to_be_visible()
    dismiss_toasts(page)

    # A malformed upload is explained too.
    page.get_by_role("radio", name="Upload files").click()
    expect(page.get_by_text("Training file", exact=True)).to_be_visible()
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b'text,label\n"a review,positive\n\xff\xfe\n')
    file_input(page, "Training file").set_input_files(str(broken))
    expect(toast(page, "UTF-8")).to_be_visible()
    dismiss_toasts(page)

    # A good upload: preview, columns, plots.
    upload_block(page, "Training file").get_by_role("button", name="Clear").click()
    file_input(page, "Training file").set_input_files(str(sentiment_csv))
    expect(page.get_by_text("reviews.csv").first).to_be_visible()
    expect(page.get_by_text("120 rows")).to_be_visible()

    # An unknown column is refused with the columns that exist.
    label_column = page.get_by_label("Label column", exact=True)
    label_column.fill("sentiment")
    label_column.press("Enter")
    page.get_by_role("button", name="Load dataset").click()
    expect(toast(page, "no column 'sentiment'")).to_be_visible()
    dismiss_toasts(page)
    label_column.fill("label")
    label_column.press("Enter")

    # Tokenization inspector with the tiny model, cut at 8 tokens.
    model_box = page.get_by_label("Model (tokenizer)", exact=True)
    model_box.fill(str(tiny_model_dir))
    model_box.press("Enter")
    set_number(page, "max_length", 8)
    page.get_by_role("button", name="Inspect tokens").click()
    expect(page.locator(".ft-chip").first).to_be_visible()
    expect(page.locator(".ft-chip").filter(has_text="[CLS]").first).to_be_visible()
    expect(page.locator(".ft-cut")).to_be_visible()
    screenshot("1-data")

    # Train: an impossible value first, then a real run on the tiny model.
    open_tab(page, "2 · Train")
    model = page.get_by_label("Model", exact=True)
    model.fill(str(tiny_model_dir))
    model.press("Enter")
    set_number(page, "Learning rate", 5)
    page.get_by_role("button", name="Start training").click()
    expect(toast(page, "is far too large")).to_be_visible()
    dismiss_toasts(page)
    set_number(page, "Learning rate", 0.003)
    set_number(page, "Max length (tokens)", 32)
    set_number(page, "Batch size", 8)
    set_number(page, "Epochs", 4)
    set_number(page, "Warm-up", 0)
    page.get_by_role("button", name="Estimate time and memory").click()
    expect(page.get_by_text("Estimate", exact=True)).to_be_visible()
    expect(page.get_by_text("Steps: 48").first).to_be_visible()
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text(re.compile(r"Started run \*?\*?[\w.-]+"))).to_be_visible()
    expect(page.locator(".ft-state").filter(has_text=re.compile("Training|Completed"))).to_be_visible(timeout=120_000)
    screenshot("2-train-live")
    expect(page.locator(".ft-state").filter(has_text="Completed")).to_be_visible(timeout=240_000)
    expect(page.locator(".ft-progress")).to_contain_text("100%")
    run_id = page.locator(".ft-progress span[style*='monospace']").first.inner_text()
    expect(page.get_by_label("Log")).to_have_value(re.compile("evaluation at step"))
    screenshot("2-train")

    # Evaluate: the finished run is preselected.
    open_tab(page, "3 · Evaluate")
    panel = page.get_by_role("tabpanel")
    expect(panel.get_by_text(re.compile(r"misclassified shown|no mistakes"))).to_be_visible(timeout=120_000)
    expect(panel.get_by_text("Misclassified examples, most confident first")).to_be_visible()
    expect(panel.get_by_text(re.compile(r"predictions_.*\.csv"))).to_be_visible()
    screenshot("3-evaluate")

    # Try it: label probabilities for a typed text.
    open_tab(page, "4 · Try it")
    page.get_by_label("Text to classify").fill("the film was wonderful and the cast felt wonderful")
    page.get_by_role("button", name="Classify", exact=True).click()
    expect(page.locator("[data-testid='label-output-value']").first).to_be_visible(timeout=120_000)
    screenshot("4-try-it")

    # Runs: the run is listed with its config and CLI command.
    open_tab(page, "Runs")
    panel = page.get_by_role("tabpanel")
    expect(panel.get_by_role("gridcell", name=run_id)).to_be_visible()
    expect(panel.get_by_text("python -m finetuner").first).to_be_visible()
    screenshot("5-runs")

    # Closing the tab loses nothing: a reload follows the same run.
    page.reload()
    open_tab(page, "2 · Train")
    expect(page.locator(".ft-progress")).to_contain_text(run_id)
    expect(page.locator(".ft-state").filter(has_text="Completed")).to_be_visible()
