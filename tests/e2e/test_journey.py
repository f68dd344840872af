"""A new user's whole journey in a real browser, by visible labels: data, tokens, train, evaluate (also on
another uploaded file), try it (one text and a whole file), a reload while a run trains, stop and resume,
the runs list (two runs compared, the CLI command, the config file) and the Hub tab's card preview; bad
input answered on the page without breaking it. Screenshots of every tab go to test-artifacts/."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from playwright.sync_api import expect

from support import make_sentiment_frame

TRAIN_COMMAND = re.compile(r"python -m finetuner (--runs_dir \S+ )?train --")  # the headless command, with its options
FIRST_EPOCHS, SECOND_EPOCHS = 4, 80  # the second run (12 steps an epoch) trains long enough to reload, look and stop: 20 epochs ended in 5 s on a fast VM, before the reload did


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def toast(page, words: str):
    """The error message shown on the page (a toast), found by its words."""
    return page.locator(".toast-body").filter(has_text=re.compile(re.escape(words), re.IGNORECASE)).first


def dismiss_toasts(page) -> None:
    for close in page.locator(".toast-close").all():
        if close.is_visible():
            close.click()


def block(scope, label: str):
    """The component block (an upload, a file, a code box, a table) with this label, inside `scope`."""
    return scope.get_by_text(label, exact=True).locator("xpath=ancestor::div[contains(@class,'block')][1]")


def upload_block(page, label: str):
    """The file upload block with this label."""
    return block(page, label)


def file_input(scope, label: str):
    return block(scope, label).locator("input[type=file]")


def set_number(page, label: str, value) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Tab")


def download(page, scope, label: str, filename) -> tuple[str, str]:
    """Download the file `filename` (a name or a pattern) shown by the file block with this label: the name
    the browser saves it under and its text."""
    row = block(scope, label).get_by_role("row").filter(has=page.get_by_role("cell", name=filename))
    with page.expect_download() as info:
        row.get_by_role("link").click()
    saved = info.value
    return saved.suggested_filename, Path(saved.path()).read_text(encoding="utf-8")


def progress_step(page) -> int:
    """The step the live run's progress card shows."""
    match = re.search(r"step (\d+)/", page.locator(".ft-progress").inner_text())
    assert match, page.locator(".ft-progress").inner_text()
    return int(match.group(1))


def wait_for_step_after(page, step: int) -> None:
    """Wait until the progress card shows a step beyond `step` (the run is visibly training on)."""
    page.wait_for_function(
        """(step) => {
            const card = document.querySelector('.ft-progress');
            const match = card && card.innerText.match(/step (\\d+)\\//);
            return match !== null && Number(match[1]) > step;
        }""",
        arg=step,
    )


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

    first_run = train_first_run(page, screenshot, tiny_model_dir)
    evaluate(page, screenshot, tmp_path)
    try_it(page, screenshot, tmp_path)
    second_run = reload_stop_and_resume(page, screenshot, first_run, tiny_model_dir)
    runs_list(page, screenshot, first_run, second_run)
    hub(page, screenshot, second_run)


def train_first_run(page, screenshot, tiny_model_dir) -> str:
    """An impossible value first, then a real run on the tiny model; the options reproduced headless."""
    open_tab(page, "2 · Train")
    panel = page.get_by_role("tabpanel")
    for label, value in (("Learning rate", "0.00005"), ("Batch size", "16")):
        expect(page.get_by_label(label, exact=True)).to_have_value(value)  # text classification's own, filled in when the page opened
    expect(page.get_by_label("Max length (tokens)", exact=True)).to_have_value("8")  # the inspector's: one max length for both tabs
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
    set_number(page, "Epochs", FIRST_EPOCHS)
    set_number(page, "Warm-up", 0)
    page.get_by_role("button", name="Estimate time and memory").click()
    expect(page.get_by_text("Estimate", exact=True)).to_be_visible()
    expect(page.get_by_text("Steps: 48").first).to_be_visible()

    # The same training from a terminal: the command and the config file.
    panel.get_by_text("Reproduce without the browser").click()
    panel.get_by_role("button", name="Copy as CLI command").click()
    expect(block(panel, "CLI command")).to_contain_text(TRAIN_COMMAND)
    expect(block(panel, "CLI command")).to_contain_text(str(tiny_model_dir))
    panel.get_by_role("button", name="Download config").click()
    name, text = download(page, panel, "config.yaml", "config.yaml")
    assert name == "config.yaml"
    assert f"num_train_epochs: {FIRST_EPOCHS}" in text and "learning_rate: 0.003" in text, text

    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text(re.compile(r"Started run \*?\*?[\w.-]+"))).to_be_visible()
    expect(page.locator(".ft-state").filter(has_text=re.compile("Training|Completed"))).to_be_visible(timeout=120_000)
    screenshot("2-train-live")
    expect(page.locator(".ft-state").filter(has_text="Completed")).to_be_visible(timeout=240_000)
    expect(page.locator(".ft-progress")).to_contain_text("100%")
    run_id = page.locator(".ft-progress span[style*='monospace']").first.inner_text()
    expect(page.get_by_label("Log")).to_have_value(re.compile("evaluation at step"))
    screenshot("2-train")
    return run_id


def evaluate(page, screenshot, tmp_path) -> None:
    """The finished run is preselected; then it is evaluated on another uploaded file."""
    open_tab(page, "3 · Evaluate")
    panel = page.get_by_role("tabpanel")
    expect(panel.get_by_text(re.compile(r"misclassified shown|no mistakes"))).to_be_visible(timeout=120_000)
    expect(panel.get_by_text("Misclassified examples, most confident first")).to_be_visible()
    expect(panel.get_by_text(re.compile(r"predictions_.*\.csv"))).to_be_visible()

    holdout = tmp_path / "holdout.csv"
    make_sentiment_frame(30, seed=7).to_csv(holdout, index=False)  # new reviews, the same two labels
    panel.get_by_text("Evaluate on other data").click()
    file_input(panel, "Labelled file").set_input_files(str(holdout))
    expect(block(panel, "Labelled file").get_by_role("cell", name="holdout.csv")).to_be_visible()
    panel.get_by_role("button", name="Evaluate", exact=True).click()
    expect(panel.get_by_text(re.compile(r"on holdout \(30 examples\): accuracy \d"))).to_be_visible(timeout=120_000)
    expect(panel.get_by_label("Split", exact=True).first).to_have_value("other data: holdout")
    metrics = block(panel, "Final metrics (model vs baselines)")
    expect(metrics.get_by_role("gridcell", name="accuracy", exact=True).first).to_be_visible()
    predictions = block(panel, "All predictions or generations (CSV)")
    expect(predictions.get_by_role("cell", name=re.compile(r"^predictions_holdout_.+\.csv$"))).to_be_visible()
    screenshot("3-evaluate")


def try_it(page, screenshot, tmp_path) -> None:
    """Label probabilities for a typed text, then a whole uploaded file classified, with a CSV to download."""
    open_tab(page, "4 · Try it")
    panel = page.get_by_role("tabpanel")
    page.get_by_label("Text to classify").fill("the film was wonderful and the cast felt wonderful")
    page.get_by_role("button", name="Classify", exact=True).click()
    expect(page.locator("[data-testid='label-output-value']").first).to_be_visible(timeout=120_000)

    texts = ["the plot was wonderful", "the acting felt awful", "a wonderful cast", "an awful, awful ending"]
    batch = tmp_path / "to_classify.csv"
    pd.DataFrame({"review": texts}).to_csv(batch, index=False)
    panel.get_by_text("Classify a file").click()
    file_input(panel, "File with a text column").set_input_files(str(batch))
    expect(block(panel, "File with a text column").get_by_role("cell", name="to_classify.csv")).to_be_visible()
    panel.get_by_role("button", name="Classify file").click()
    preview = block(panel, "Predictions (first rows; long texts cut, the CSV has them whole)")
    expect(preview.get_by_role("gridcell", name="an awful, awful ending")).to_be_visible(timeout=120_000)
    expect(preview.get_by_role("columnheader", name=re.compile("predicted")).first).to_be_visible()
    name, text = download(page, panel, "Predictions (CSV)", re.compile(r"\.csv$"))
    assert name == "predictions_to_classify.csv"
    rows = text.splitlines()
    assert len(rows) == 1 + len(texts) and "predicted" in rows[0] and "confidence" in rows[0], text
    screenshot("4-try-it")


def reload_stop_and_resume(page, screenshot, first_run: str, tiny_model_dir) -> str:
    """A longer run: a reload while it trains shows the same live run, the same data and the same options;
    Stop checkpoints it, Resume completes it."""
    open_tab(page, "2 · Train")
    panel = page.get_by_role("tabpanel")
    set_number(page, "Epochs", SECOND_EPOCHS)
    page.get_by_role("button", name="Start training").click()
    started = page.get_by_text(re.compile(rf"Started run (?!{re.escape(first_run)})[\w.-]+"))
    expect(started).to_be_visible()
    notice = started.inner_text()
    match = re.search(r"Started run (\S+?)\.?(\s|$)", notice)
    assert match, notice
    run_id = match.group(1)
    total = SECOND_EPOCHS * 12
    expect(page.locator(".ft-progress")).to_contain_text(run_id)
    expect(page.locator(".ft-progress")).to_contain_text(re.compile(rf"step [1-9]\d*/{total}"), timeout=120_000)

    # Closing the tab loses nothing: after a reload the page follows the same run, still training.
    page.reload()
    open_tab(page, "2 · Train")
    panel = page.get_by_role("tabpanel")
    expect(page.locator(".ft-progress")).to_contain_text(run_id)
    expect(page.locator(".ft-state").filter(has_text="Training")).to_be_visible()
    expect(page.locator(".ft-progress")).to_contain_text(re.compile(rf"step \d+/{total}"))
    wait_for_step_after(page, progress_step(page))
    expect(page.locator(".ft-state").filter(has_text="Training")).to_be_visible()
    # The form shows the options the user had set, not the page's defaults.
    for label, value in (("Model", str(tiny_model_dir)), ("Learning rate", "0.003"), ("Batch size", "8"), ("Max length (tokens)", "32"), ("Epochs", str(SECOND_EPOCHS))):
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
    expect(panel.get_by_text("reviews.csv")).to_be_visible()  # the Train tab's note on the data it trains on
    screenshot("2-train-reloaded")
    # The Data tab shows the uploaded data again, with its columns.
    open_tab(page, "1 · Data")
    expect(page.get_by_text("120 rows")).to_be_visible()
    expect(page.get_by_text("Loaded before the page was reloaded")).to_be_visible()
    expect(page.get_by_label("Label column", exact=True)).to_have_value("label")
    open_tab(page, "2 · Train")

    # Stop: a checkpoint, then the run stops; Resume continues from that checkpoint to the end.
    stop = panel.get_by_role("button", name="Stop", exact=True)
    expect(stop).to_be_enabled()
    stop.click()
    expect(panel.get_by_text(re.compile(rf"Stop requested for run {re.escape(run_id)}: it saves a checkpoint"))).to_be_visible()
    expect(page.locator(".ft-state").filter(has_text="Stopped")).to_be_visible(timeout=120_000)
    card = page.locator(".ft-progress")
    expect(card).to_contain_text(re.compile(r"Stopped at step \d+"))
    stopped_at = int(re.search(r"Stopped at step (\d+)", card.inner_text()).group(1))
    assert 0 < stopped_at < total
    expect(card).to_contain_text("Press Resume to continue from the last checkpoint")
    expect(page.get_by_label("Log")).to_have_value(re.compile(rf"checkpoint saved at step {stopped_at}\b"))
    screenshot("2-train-stopped")
    resume = panel.get_by_role("button", name="Resume", exact=True)
    expect(resume).to_be_enabled()
    resume.click()
    expect(panel.get_by_text(re.compile(rf"Resumed run {re.escape(run_id)} from its last checkpoint"))).to_be_visible()
    expect(page.get_by_label("Log")).to_have_value(re.compile(rf"resuming from checkpoint-{stopped_at}\."), timeout=120_000)
    expect(page.locator(".ft-state").filter(has_text="Completed")).to_be_visible(timeout=300_000)
    expect(card).to_contain_text(run_id)
    expect(card).to_contain_text(f"step {total}/{total}")

    # Train again from this run: its settings come back on the form.
    set_number(page, "Epochs", 9)
    panel.get_by_role("button", name="Use its settings").click()
    expect(panel.get_by_text(re.compile(rf"The form holds run {re.escape(run_id)}'s settings"))).to_be_visible()
    expect(page.get_by_label("Epochs", exact=True)).to_have_value(str(SECOND_EPOCHS))
    expect(page.get_by_label("Model", exact=True)).to_have_value(str(tiny_model_dir))
    open_tab(page, "1 · Data")
    expect(page.get_by_text("Loaded for that run")).to_be_visible()  # and its data on the Data tab
    expect(page.get_by_text("120 rows")).to_be_visible()
    open_tab(page, "2 · Train")
    return run_id


def runs_list(page, screenshot, first_run: str, second_run: str) -> None:
    """Both runs listed; one run's CLI command and config file; the two compared; the first one's settings
    back on the Train tab."""
    open_tab(page, "Runs")
    panel = page.get_by_role("tabpanel")
    table = block(panel, "Runs")
    expect(table.get_by_role("gridcell", name=first_run)).to_be_visible()
    expect(table.get_by_role("gridcell", name=second_run)).to_be_visible()

    # The page's run is shown: how to reproduce it headless.
    expect(panel.get_by_label("Run", exact=True)).to_have_value(re.compile(re.escape(second_run)))
    cli = block(panel, "Copy as CLI command")
    expect(cli).to_contain_text(TRAIN_COMMAND)
    expect(cli).to_contain_text(f"python -m finetuner train {second_run}.yaml")
    name, text = download(page, panel, "Download config", f"{second_run}.yaml")
    assert name == f"{second_run}.yaml"
    assert f"num_train_epochs: {SECOND_EPOCHS}" in text, text

    # Compare: the two newest runs are preselected; their accuracy on the same test examples, curves side by
    # side and the option that differed.
    expect(panel.get_by_label("Run A", exact=True)).to_have_value(re.compile(re.escape(first_run)))
    expect(panel.get_by_label("Run B", exact=True)).to_have_value(re.compile(re.escape(second_run)))
    panel.get_by_role("button", name="Compare", exact=True).click()
    expect(panel.get_by_text(re.compile(r"On the same \d+ test examples, run B's accuracy [+-]\d\.\d{3} .*\(A \d\.\d{3}, B \d\.\d{3}; a paired bootstrap\)"))).to_be_visible()
    diff = block(panel, "Config differences (a long path by its last parts: config.yaml has it whole)")
    row = diff.get_by_role("row").filter(has_text="num_train_epochs")
    expect(row).to_have_count(1)
    cells = [re.compile(rf"^\s*{value}\s*$") for value in ("num_train_epochs", rf"{FIRST_EPOCHS}(\.0)?", rf"{SECOND_EPOCHS}(\.0)?")]
    expect(row.get_by_role("gridcell")).to_have_text(cells)
    curves = block(panel, "Curves")
    expect(curves.locator(".js-plotly-plot")).to_be_visible()
    expect(curves).to_contain_text(f"A {first_run}")
    expect(curves).to_contain_text(f"B {second_run}")
    screenshot("5-runs")

    # Train again like the first run: its settings go to the Train tab's form.
    picker = panel.get_by_label("Run", exact=True)
    picker.fill(first_run)
    picker.press("Enter")
    panel.get_by_role("button", name="Use its settings").click()
    expect(toast(page, f"settings of run {first_run}")).to_be_visible()
    dismiss_toasts(page)
    open_tab(page, "2 · Train")
    expect(page.get_by_label("Epochs", exact=True)).to_have_value(str(FIRST_EPOCHS))


def hub(page, screenshot, run_id: str) -> None:
    """The Hub tab offers the newest run and previews its model card, with its real metrics, without a token."""
    open_tab(page, "Hub")
    panel = page.get_by_role("tabpanel").first  # the card preview has tabs of its own
    expect(panel.get_by_text("Publish to the Hugging Face Hub")).to_be_visible()
    # the list was filled while this run trained: opening the tab shows its state now
    expect(panel.get_by_label("Run", exact=True)).to_have_value(re.compile(re.escape(run_id) + ".*completed"))
    panel.get_by_role("button", name="Preview card").click()
    expect(panel.get_by_text(re.compile("This model is a fine-tuned version of")).first).to_be_visible(timeout=120_000)
    expect(panel.get_by_text(re.compile(r"On the held-out \w+ split it reaches")).first).to_be_visible()
    screenshot("6-hub")
