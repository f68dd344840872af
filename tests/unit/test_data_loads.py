"""The session's data loads on the Data tab: the one started last is the one the page shows, whichever
finishes last. Gradio runs the events of different listeners at once, so each test starts two of the
studio's own handlers in threads, holds one of them inside its data preparation with an event the test
controls, and applies their results to a page in the order they finish, as the browser does."""

from __future__ import annotations

import copy
import threading
from pathlib import Path

import pandas as pd
import pytest

from support import HeldData

SKIP = {"__type__": "update"}  # gr.skip(): the output stays as it is


class Page:
    """What the browser shows: each output's latest value, as the handlers' results arrive."""

    def __init__(self):
        self.values = {}

    def apply(self, fn, result) -> None:
        for component, value in zip(fn.outputs, result, strict=True):
            if value != SKIP:
                self.values[component._id] = getattr(value, "value", value)

    def __getitem__(self, component):
        return self.values.get(component._id)


def race(page: Page, held: HeldData, slow, fast) -> None:
    """`slow` (handler, arguments) started in a thread and held in its data preparation, `fast` started after it
    and run to its end, then `slow` released to end: their results reach the page in the order they end."""
    (slow_fn, slow_arguments), (fast_fn, fast_arguments) = slow, fast
    ended = {}
    thread = threading.Thread(target=lambda: ended.setdefault("result", slow_fn.fn(*slow_arguments)), daemon=True)
    thread.start()
    assert held.entered.wait(timeout=60)
    page.apply(fast_fn, fast_fn.fn(*fast_arguments))
    held.release()
    thread.join(timeout=60)
    page.apply(slow_fn, ended["result"])


@pytest.fixture
def studio(tmp_path):
    from finetuner.ui.studio import build_studio

    demo = build_studio(tmp_path / "runs")
    fns = {fn.api_name: fn for fn in demo.fns.values()}
    session = {}  # each State's value in this session, as Gradio keeps it: one object that every event gets

    def state(component):
        return session.setdefault(component._id, copy.deepcopy(component.value))

    return tmp_path / "runs", fns, state


def file_load(fns, state, path, train_form=None):
    """The Data tab's Load with an uploaded training file: the handler and its arguments, as the page sends them."""
    from finetuner.ui import services

    fn = fns["load_dataset"]
    fields = [fn.inputs[0].value, services.SOURCE_FILE, str(path), None, None, "", "", "train", services.AUTO, services.NO_PAIR, services.AUTO]
    pickers = [services.AUTO] * (len(fn.inputs) - len(fields) - 4)  # then the selection, the Train form, the Hub tab's token, the loads
    return fn, (*fields, *pickers, state(fn.inputs[-4]), train_form, None, "", state(fn.inputs[-1]))


@pytest.fixture
def before_csv(tmp_path, sentiment_csv) -> Path:
    """Other data than the run's: the reviews twice over (240 rows)."""
    path = tmp_path / "before.csv"
    pd.concat([pd.read_csv(sentiment_csv)] * 2, ignore_index=True).to_csv(path, index=False)
    return path


@pytest.fixture
def run_id(studio, sentiment_csv, tiny_model_dir) -> str:
    """A finished run on reviews.csv (120 rows) at seed 7."""
    from finetuner.config import RunConfig
    from finetuner.runs import COMPLETED, RunStore

    run = RunStore(studio[0]).create(RunConfig.from_dict({"model_name_or_path": str(tiny_model_dir), "train_file": str(sentiment_csv), "seed": 7}))
    run.update_status(state=COMPLETED)
    return run.id


def ended(call):
    """`call` (handler, arguments) run to its end: (handler, result) for `Page.apply`."""
    fn, arguments = call
    return fn, fn.fn(*arguments)


def use_settings(fns, state, run_id):
    """The Train tab's "Use its settings" on `run_id`, on a local studio (no request): handler and arguments."""
    fn = fns["use_run_settings"]
    return fn, (run_id, state(fn.inputs[1]), None, None, None)


def re_split(fns, state, page, seed):
    """The Data tab's re-split after the Train form's seed became `seed`, with what the page holds: handler and arguments."""
    fn = fns["follow_train_split"]
    selection, _, shown, loads, _token = fn.inputs
    return fn, (page[selection], {"seed": seed}, page[shown], state(loads))


def test_a_load_started_before_use_its_settings_and_finished_after_it_leaves_the_runs_data(studio, before_csv, run_id, monkeypatch):
    """Load on the Data tab, then "Use its settings" on a run before that load ends: the run's data finishes
    first, the Data tab's load last. The page and the data a run trains on stay the run's (before, the load
    that finished last won, and the Train form held the run's settings over other data)."""
    _, fns, state = studio
    held, page = HeldData(monkeypatch, "before.csv"), Page()
    load, arguments = file_load(fns, state, before_csv)
    selection, summary = load.outputs[:2]

    race(page, held, (load, arguments), use_settings(fns, state, run_id))

    assert page[selection]["name"] == "reviews.csv"
    assert "**reviews.csv** · 120 rows" in page[summary]
    assert "at seed **7**" in page[summary]


def test_use_its_settings_overtaken_by_a_load_says_that_load_stays(studio, before_csv, run_id, monkeypatch):
    """"Use its settings", then Load on the Data tab before the run's data is read: the user's later load is the
    data on the page, and the notice says so rather than promising the run's data."""
    _, fns, state = studio
    held, page = HeldData(monkeypatch, "reviews.csv"), Page()
    load, arguments = file_load(fns, state, before_csv)
    selection, summary = load.outputs[:2]
    use, use_arguments = use_settings(fns, state, run_id)

    race(page, held, (use, use_arguments), (load, arguments))

    assert page[selection]["name"] == "before.csv"
    assert "**before.csv** · 240 rows" in page[summary]
    notice = page[use.outputs[-1]]
    assert f"The form holds run **{run_id}**'s settings" in notice
    assert notice.endswith("But the data loaded on the Data tab meanwhile stays: a run started now trains on that.")


def test_a_seed_changed_while_data_loads_keeps_the_load_and_splits_it_at_that_seed(studio, before_csv, sentiment_csv, monkeypatch):
    """A load on the Data tab, and meanwhile another seed on the Train tab: the re-split of the data shown before
    neither sets the load aside nor shows the old data; the load's data shows, and is split again at the new seed
    (its own split was made at the seed it started with)."""
    _, fns, state = studio
    page = Page()
    page.apply(*ended(file_load(fns, state, sentiment_csv, train_form={"seed": 42})))  # the data shown before: reviews.csv at seed 42
    held = HeldData(monkeypatch, "before.csv")
    load, arguments = file_load(fns, state, before_csv, train_form={"seed": 42})
    selection, summary = load.outputs[:2]

    follow = fns["follow_train_split"]
    race(page, held, (load, arguments), re_split(fns, state, page, seed=7))
    assert page[selection]["name"] == "before.csv"
    assert "**before.csv** · 240 rows" in page[summary]

    # The splits shown changed (the load's seed, 42): Gradio calls the re-split again, which now splits at 7.
    shown = follow.inputs[2]
    assert (shown._id, "change") in follow.targets
    page.apply(*ended(re_split(fns, state, page, seed=7)))
    assert "**before.csv** · 240 rows" in page[summary]
    assert "at seed **7**" in page[summary]
    assert page[shown]["seed"] == 7


def test_a_re_split_started_before_a_load_and_finished_after_it_leaves_the_loads_data(studio, before_csv, sentiment_csv, monkeypatch):
    """Another seed on the Train tab starts a re-split of the data shown; a load started meanwhile ends first: the
    re-split of the data before does not cover the loaded data's summary and charts."""
    _, fns, state = studio
    page = Page()
    page.apply(*ended(file_load(fns, state, before_csv, train_form={"seed": 42})))  # the data shown before: before.csv at seed 42
    held = HeldData(monkeypatch, "before.csv", seed=7)
    load, arguments = file_load(fns, state, sentiment_csv, train_form={"seed": 7})
    selection, summary = load.outputs[:2]

    race(page, held, re_split(fns, state, page, seed=7), (load, arguments))

    assert page[selection]["name"] == "reviews.csv"
    assert "**reviews.csv** · 120 rows" in page[summary]
    assert "at seed **7**" in page[summary]


def column_pick(fns, state, page, path, label_column):
    """The Data tab's Label column picked in its dropdown, `path` loaded on `page`: handler and arguments."""
    fn = fns["load_dataset_with_label_column"]
    _, arguments = file_load(fns, state, path)
    arguments = list(arguments)
    arguments[10] = label_column  # task, source, 3 files, 3 Hub fields, text, pair, label
    arguments[-5] = page[fn.outputs[0]]  # the data in use (then the Train form, the two tokens, the loads)
    return fn, tuple(arguments)


def test_a_refused_column_pick_says_so_once_though_the_dropdown_fires_twice(studio, sentiment_csv):
    """Gradio 6's dropdown fires `.input` twice for one mouse pick (seen in Chromium: two requests at once). The
    label column picked as the text column was refused twice, so the page showed the message twice ("Error (2)")
    and read the file twice; the second, the same request again with nothing loaded between, now does nothing."""
    import gradio as gr

    _, fns, state = studio
    page = Page()
    page.apply(*ended(file_load(fns, state, sentiment_csv)))
    fn, arguments = column_pick(fns, state, page, sentiment_csv, "text")
    messages = []
    for _ in range(2):
        try:
            page.apply(fn, fn.fn(*arguments))
        except gr.Error as error:
            messages.append(error.message)
    assert messages == ["Column 'text' cannot be both the text and the label. The data loaded before stays in use: reviews.csv."]


def test_a_column_pick_fired_twice_loads_once_and_a_later_pick_loads_again(studio, sentiment_csv, before_csv):
    """A good pick's second firing leaves the page as the first made it (every output skipped); once another load
    has run, the same pick loads again."""
    _, fns, state = studio
    page = Page()
    page.apply(*ended(file_load(fns, state, sentiment_csv)))
    fn, arguments = column_pick(fns, state, page, sentiment_csv, "label")
    summary = fn.outputs[1]
    assert "**reviews.csv** · 120 rows" in fn.fn(*arguments)[1]
    assert fn.fn(*arguments) == [SKIP] * len(fn.outputs)

    page.apply(*ended(file_load(fns, state, before_csv)))
    assert "**before.csv** · 240 rows" in page[summary]
    page.apply(fn, fn.fn(*arguments))
    assert "**reviews.csv** · 120 rows" in page[summary]


def test_choosing_the_task_a_refused_upload_asked_for_reads_that_upload(studio, tmp_path):
    """A NER file uploaded under text classification is refused with "choose the token-classification task".
    Choosing it then read the data loaded before (the example) under NER, failed, and said to upload a file,
    while the refused file sat in the upload box; it now reads that file."""
    from gradio.exceptions import Error

    from finetuner.ui import services
    from task_fixtures import make_ner_records, write_jsonl

    _, fns, state = studio
    ner = write_jsonl(tmp_path / "ner.jsonl", make_ner_records(60))
    upload = fns["load_uploaded_dataset"]
    with pytest.raises(Error, match="choose the token-classification task"):
        upload.fn("text-classification", services.SOURCE_FILE, str(ner), None, None, None, None, state(upload.inputs[-1]))

    choose = fns["read_data_for_task"]
    task, current, form, loads, *_ = choose.inputs
    page = Page()
    page.apply(choose, choose.fn("token-classification", current.value, None, state(loads), services.SOURCE_FILE, str(ner), None, None))
    selection, summary = choose.outputs[:2]
    assert page[selection]["name"] == "ner.jsonl" and page[selection]["task"] == "token-classification"
    assert page[summary].startswith("**ner.jsonl** · 60 rows")


def test_choosing_a_task_that_reads_neither_the_data_nor_the_upload_says_so(studio, tmp_path):
    """Neither the loaded example nor the file in the box is summarization data: the example stays, and the note says why."""
    from finetuner.ui import services
    from task_fixtures import make_ner_records, write_jsonl

    _, fns, state = studio
    ner = write_jsonl(tmp_path / "ner.jsonl", make_ner_records(60))
    choose = fns["read_data_for_task"]
    _, current, _, loads, *_ = choose.inputs
    result = choose.fn("seq2seq", current.value, None, state(loads), services.SOURCE_FILE, str(ner), None, None)
    assert result[0] == SKIP, "the data loaded before stays"
    assert any(isinstance(value, str) and value.startswith("⚠ Example") for value in result)


def test_a_test_file_added_after_the_training_file_was_loaded_is_read(studio, sentiment_csv, tmp_path):
    """After a reload (or "Use its settings") the upload boxes are empty while the data is still the file loaded
    before. A test file put in its box then and loaded was set aside: the test split stayed split from train."""
    from support import make_sentiment_frame

    _, fns, state = studio
    page = Page()
    load, arguments = file_load(fns, state, sentiment_csv)
    page.apply(load, load.fn(*arguments))
    selection, summary = load.outputs[:2]
    assert "test **12** (split from train)" in page[summary]

    holdout = tmp_path / "holdout.csv"
    make_sentiment_frame(30, seed=7).to_csv(holdout, index=False)
    _, arguments = file_load(fns, state, None)
    arguments = list(arguments)
    arguments[2], arguments[4] = None, str(holdout)  # the training file's box is empty, the test file's holds the new file
    arguments[-5] = page[selection]  # the data loaded before
    page.apply(load, load.fn(*arguments))
    assert page[selection]["name"] == "reviews.csv" and Path(page[selection].get("test_file") or "").name == "holdout.csv"
    assert "test **30**" in page[summary] and "test **30** (split from train)" not in page[summary]
