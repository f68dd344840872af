"""Dataset tab: choose the task and the data, check it, and see what the tokenizer makes of it.

Endpoints: `/load_dataset` (task + source -> preview, columns, plots, checks) and `/inspect_tokens`
(one example as token chips, and the token-length histogram of every split). The inspector's `index` is
the example's row in its file, as the preview's `#` column numbers the training file: the splits the tool
holds out of that file are shuffled, so a place in a split would not be the row a user sees. Both go through the task's
own hooks (`prepare_data`, `data_report`, `length_statistics`, `inspect_example`), so what is shown is
exactly what training will use: data without its own validation or test split is split at the Train
form's seed and shares (both endpoints take the form's values as `train_form`, as the page keeps them;
left out, the form's defaults), and shown again when they change there. The inspector's model and
max_length are the Train tab's Model and Max length on the page (either tab's edit changes both), and an
inspection on the page is made again when they, the split options, the Train form's options that change the
task's tokens (its module's `TOKENIZATION_OPTIONS`, `services.option_names`: a causal LM's completion-only loss, a seq2seq source prefix, summary
length and languages, NER sub-token labels) or the data change (`inspect_again`).

Each task has its own column pickers (text/label; words/tags for NER; prompt or chat messages and
completion for causal LM; document/summary for seq2seq), shown for the chosen task: `/load_dataset` takes
them as `text_column`, ..., `tokens_column`, `tags_column`, `prompt_column`, `completion_column`,
`input_column`, `document_column`, `summary_column` ('(auto-detect)' by default) and returns the detected or chosen ones
last, in that order (after a note that is empty once the data has loaded). The inspector shows NER words' tags against their sub-tokens, and a causal-LM
example rendered with its template, the part that carries loss marked. A typed text (text classification) takes a
second text, `text_pair`, in a box shown for sentence-pair data: the pair encoded as training encodes one.
"""

import functools
import inspect
import threading
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from .. import plots
from ..config import RunConfig, field_help
from ..errors import DataError
from ..hub_reads import digest
from ..tasks import TASKS
from . import ownership, render, services, tables
from .handlers import ui_errors
from .studio import StudioContext

FILE_TYPES = [".csv", ".tsv", ".json", ".jsonl", ".parquet", ".conll"]
TASK_DATA = {
    "text-classification": "A table with a text column (or two, for sentence pairs) and a label column.",
    "token-classification": "One sentence per row: a list of words and a list of tags (B-/I-/O), e.g. JSONL with `tokens` and `ner_tags`.",
    "seq2seq": "A document column and a summary column (e.g. `document`, `summary`).",
    "causal-lm": "A prompt and a completion per row (`prompt`/`completion`, `instruction`/`input`/`output`, `instruction`/`context`/`response`), or chat `messages`.",
}


# The classes and text-length charts' row, and its class when a chart of many classes needs the page's width.
CHARTS, CHARTS_STACKED = "ft-charts", "ft-charts-stacked"

# The column pickers of the tasks other than text classification: (DataConfig field, label), in the
# order `/load_dataset` takes and returns them.
TASK_COLUMNS = {
    "token-classification": (("tokens_column_name", "Words column"), ("tags_column_name", "Tags column")),
    "causal-lm": (("prompt_column_name", "Prompt (or messages) column"), ("completion_column_name", "Completion (answer) column"), ("input_column_name", "Input (context) column")),
    "seq2seq": (("document_column_name", "Document column"), ("summary_column_name", "Summary column")),
}
PICKER_FIELDS = [field_name for fields in TASK_COLUMNS.values() for field_name, _ in fields]
# A chat `messages` column holds prompt and answer together: then there is no completion column.
OPTIONAL_COLUMNS = ("completion_column_name",)


# The preview's first column, the row of the file: the number the inspector's Row takes.
ROW_COLUMN = "#"
ROW_INFO = "The row of the split's file, from 0: the preview's # column for the training file."


# Numbers the session's data loads as they start and end (`latest_only`, `idle_number`).
_numbering = threading.Lock()


def latest_only(loads: dict, load: Callable[[], Any], request: Any = None) -> Any:
    """`load()` as the session's newest data load: its result, or None where another data load of the session
    started while it ran (the later one is what the user last asked for). `loads` is the session's `data_loads`
    State, a dict Gradio hands each event as the same object. Gradio runs the events of different listeners at
    once (each listener is its own concurrency group), so without this the load that finished last won: data
    loaded on the Data tab just before "Use its settings" could finish after the run's data and leave the Data
    tab, and training, on it.

    `request` (any value that compares equal for the same choice, or None) names what is asked: where it equals
    the request of the session's newest load, nothing started since, that load is already the answer, and this one
    does nothing (None). A mouse pick in one of Gradio 6's dropdowns fires its `.input` twice: the data was loaded
    twice over, and a refused pick showed its message twice."""
    with _numbering:
        if request is not None and loads.get("request") == (request, loads["started"]):
            return None
        loads["started"] = number = loads["started"] + 1
        loads["request"] = (request, number)
    try:
        result = load()
    finally:
        with _numbering:
            if loads["started"] == number:
                loads["ended"] = number
    return result if loads["started"] == number else None


def idle_number(loads: dict) -> int | None:
    """The number of the session's newest data load (`latest_only`) where it has ended, else None (it runs)."""
    with _numbering:
        return loads["started"] if loads["ended"] == loads["started"] else None


def task_choices() -> list[tuple[str, str]]:
    return [(info.title, name) for name, info in TASKS.items()]


def build_dataset_tab(ctx: StudioContext) -> None:
    defaults = RunConfig().to_dict()
    with gr.Tab("1 · Data", id="data"):
        gr.Markdown("### Choose your data\nThe example is ready to use; or upload your own files, or name a dataset on the Hugging Face Hub.")
        with gr.Row():
            with gr.Column(scale=2):
                task = gr.Dropdown(task_choices(), value=services.DEFAULT_TASK, label="Task", info="What the model learns to do; it decides which columns the data needs.")
                task_note = gr.Markdown(TASK_DATA[services.DEFAULT_TASK])
                source = gr.Radio(list(services.SOURCES), value=services.SOURCE_EXAMPLE, label="Source", info="Where the training data comes from.")
                with gr.Group(visible=False) as file_group:
                    kept_files = gr.Markdown(visible=False)  # after a reload: the files loaded before it
                    train_file = gr.File(label="Training file", file_types=FILE_TYPES)
                    with gr.Accordion("Validation and test files (optional: otherwise split from the training file)", open=False):
                        validation_file = gr.File(label="Validation file", file_types=FILE_TYPES)
                        test_file = gr.File(label="Test file", file_types=FILE_TYPES)
                with gr.Group(visible=False) as hub_group:
                    hub_dataset = gr.Textbox(value="", label="Hub dataset id", placeholder="stanfordnlp/sst2", info=field_help("dataset_name"))
                    with gr.Row():
                        hub_config = gr.Textbox(value="", label="Configuration", placeholder="(default)", info=field_help("dataset_config_name"))
                        hub_split = gr.Textbox(label="Training split", value="train", info=field_help("train_split_name"))
                load_button = gr.Button("Load dataset", variant="primary")
            with gr.Column(scale=3):
                # Why the data shown is not what was just asked for: a load that failed, a task the data does not fit.
                load_note = gr.Markdown(elem_classes="ft-load-note")
                summary = gr.Markdown("Loading the example dataset…")
                checks = gr.Markdown()
        # The columns each task reads, one row of pickers per task, shown for the chosen task: auto-detected
        # values are filled in after loading; choosing another column reloads the data with it.
        with gr.Row(visible=services.DEFAULT_TASK == "text-classification") as column_row:
            text_column = gr.Dropdown([services.AUTO], value=services.AUTO, label="Text column", elem_id="text_column", allow_custom_value=True, info="The text the model reads.")
            text_pair_column = gr.Dropdown([services.NO_PAIR], value=services.NO_PAIR, label="Second text column", elem_id="text_pair_column", allow_custom_value=True, info="For sentence pairs (e.g. premise + hypothesis); leave '(none)' otherwise.")
            label_column = gr.Dropdown([services.AUTO], value=services.AUTO, label="Label column", elem_id="label_column", allow_custom_value=True, info="The class to predict.")
        task_rows, task_pickers = {}, {}
        for name, fields in TASK_COLUMNS.items():
            with gr.Row(visible=name == services.DEFAULT_TASK) as row:
                for field_name, label in fields:
                    first = [services.AUTO] + ([services.NO_PAIR] if field_name in OPTIONAL_COLUMNS else [])
                    task_pickers[field_name] = gr.Dropdown(first, value=services.AUTO, label=label, elem_id=field_name, allow_custom_value=True, info=_sentence(field_help(field_name).split(": ", 1)[-1]))
            task_rows[name] = row
        pickers = list(task_pickers.values())
        picker_rows = [task_rows[name] for name in TASK_COLUMNS]
        preview = gr.Dataframe(label="Preview (first rows of the training file; # is the row the inspector below takes)", interactive=False, wrap=True, max_height=320)
        # Side by side; with many classes (a chart of one row per class) stacked, the text lengths first: see CSS.
        with gr.Row(elem_classes=[CHARTS]) as charts:
            label_plot = gr.Plot(label="Label distribution", show_label=False)
            length_plot = gr.Plot(label="Text lengths", show_label=False)

        gr.Markdown(
            "### Tokenization inspector\nWhat a run started now feeds the model: pick an example and see its tokens, ids, masks and labels, "
            "and where `max_length` cuts. The model and max_length are the Train tab's: changing them here changes them there, and the other way round."
        )
        with gr.Row():
            inspect_model = gr.Dropdown(services.model_choices(ctx.runs_dir), value=defaults["model_name_or_path"], label="Model (tokenizer)", allow_custom_value=True, info="The Train tab's Model: a Hub model id or a local folder; the bundled model works offline.", scale=3)
            inspect_max_length = gr.Number(value=defaults["max_seq_length"], label="max_length", precision=0, info="The Train tab's Max length: longer inputs are cut.", scale=1)
        with gr.Row():
            inspect_split = gr.Dropdown(["train"], value="train", label="Split", info="Validation and test split from the training file share its rows.", scale=1)
            inspect_index = gr.Number(value=0, label="Row", precision=0, info=ROW_INFO, scale=1)
            inspect_text = gr.Textbox(value="", label="Or type a text", placeholder="Leave empty to use the example above", scale=3)  # text classification only: hidden for the other tasks
            # Shown for sentence-pair data: the typed pair encoded as training encodes one ([SEP], token type ids).
            inspect_text_pair = gr.Textbox(value="", label="Second text", placeholder="The pair's second text (e.g. the hypothesis)", visible=False, scale=3)
        inspect_button = gr.Button("Inspect tokens", variant="secondary")
        token_info = gr.Markdown()
        chips = gr.HTML()
        with gr.Accordion("Token details (id, attention mask, token type id, label)", open=False):
            token_details = gr.Dataframe(interactive=False, max_height=300)
        token_plot = gr.Plot(label="Token lengths per split", show_label=False)
        split_shown = gr.State(None)  # the seed and shares the splits shown were made with; None until the page's first load
        inspected_with = gr.State(None)  # what the inspection shown was made with (`inspection_key`; with FAILED: a glance that failed); None before the first
        data_loads = gr.State({"started": 0, "ended": 0})  # the numbers of the session's newest data load started and ended (`latest_only`)

    # The Train tab keeps the inspector's model and max_length its own (see its `build_training_tab`).
    ctx.components.update(dataset_summary=summary, inspector_fields=(inspect_model, inspect_max_length), data_task=task, data_loads=data_loads)

    def still_in_use(current=None, **_) -> str | None:
        """After a failed load: the data loaded before stays the one in use (the Train tab trains on it)."""
        return f"The data loaded before stays in use: {current['name']}." if isinstance(current, dict) and current.get("name") else None

    @ownership.reads_as_visitor
    def read_dataset(
        task, source, train_file, validation_file, test_file, hub_dataset, hub_config, hub_split, text_column, text_pair_column, label_column,
        tokens_column=services.AUTO, tags_column=services.AUTO, prompt_column=services.AUTO, completion_column=services.AUTO,
        input_column=services.AUTO, document_column=services.AUTO, summary_column=services.AUTO, current=None, train_form=None,
        oauth_token: gr.OAuthToken | None = None, typed_token: str | None = None,
    ):
        """Load a dataset for a task (the example, uploaded files or a Hub id) and check it; returns preview, columns, plots and checks.

        Each task reads its own columns (text/label; words/tags; prompt/completion/input or messages; document/summary):
        '(auto-detect)' finds them by their usual names, any other value names the column to use. With 'Upload
        files' and no new training file, the files this session loaded last are read again (after a reload the
        upload boxes are empty, while the data is still those files), with a validation or test file given now. Data without its own validation or test
        split is split as a run started from the Train form (`train_form`, its values) would split it: at its
        seed, with its validation and test shares (`services.split_options`). A private Hub dataset loads with the
        visitor's own token (one typed in the Hub tab, `typed_token`; else their sign-in, or an API client's `oauth_token`),
        which reads it for them alone.
        """
        if source == services.SOURCE_FILE and not train_file and (current or {}).get("source") == services.SOURCE_FILE:
            # A validation or test file put in its box now (after a reload, say) is read with them: it was set aside.
            train_file, validation_file, test_file = current.get("train_file"), validation_file or current.get("validation_file"), test_file or current.get("test_file")
        classification = task == services.DEFAULT_TASK
        selection = services.make_selection(
            source, train_file=train_file, validation_file=validation_file, test_file=test_file,
            dataset_name=hub_dataset, dataset_config_name=hub_config, split=hub_split,
            text_column=text_column if classification else None, text_pair_column=text_pair_column if classification else None,
            label_column=label_column if classification else None, runs_dir=ctx.runs_dir, task=task,
        )
        chosen = dict(zip(PICKER_FIELDS, (tokens_column, tags_column, prompt_column, completion_column, input_column, document_column, summary_column)))
        overrides = {name: value for name, value in chosen.items() if name in dict(TASK_COLUMNS.get(task, ())) and value and value not in (services.AUTO, services.NO_PAIR)}
        selection = {**selection, **overrides}
        frames = services.raw_frames(selection)
        columns = [str(c) for c in frames["train"].columns]
        for name in [*selection.get("text_column_names", []), selection.get("label_column_name"), *overrides.values()]:
            if name and name not in columns:
                raise DataError(f"There is no column '{name}'. The columns are: {', '.join(columns)}.")
        options = services.split_options(train_form)
        data, shown = split_view(task, selection, options)
        picker_updates = [gr.skip()] * len(PICKER_FIELDS)
        column_text = columns_shown(task, data)
        if classification:
            selection = {**selection, "text_column_names": data.text_columns, "label_column_name": data.label_column}
            column_updates = (
                gr.Dropdown(choices=columns, value=data.text_columns[0]),
                gr.Dropdown(choices=[services.NO_PAIR, *columns], value=data.text_columns[1] if data.has_pairs else services.NO_PAIR),
                gr.Dropdown(choices=columns, value=data.label_column),
            )
        else:
            column_updates = (gr.skip(), gr.skip(), gr.skip())
            detected = detected_columns(task, column_text)
            selection = {**selection, **{name: value for name, value in detected.items() if value}}
            picker_updates = [
                gr.Dropdown(choices=([services.NO_PAIR] if name in OPTIONAL_COLUMNS else []) + columns, value=detected[name] or services.NO_PAIR) if name in detected else gr.skip()
                for name in PICKER_FIELDS
            ]
        table = numbered(preview_frame(frames["train"].head(services.MAX_PREVIEW_ROWS)))
        wide = [c for value in column_text.values() for c in str(value).split(" + ")]
        summary_text, checks_text, counts_plot, lengths_plot, split_choices, charts_row = shown
        return (
            selection,
            summary_text,
            checks_text,
            gr.Row(visible=classification),
            *column_updates,
            gr.Dataframe(value=table, column_widths=preview_widths(columns, wide)),
            counts_plot,
            lengths_plot,
            split_choices,
            gr.Number(value=0, info=f"{ROW_INFO} The training file has rows 0 to {len(frames['train']) - 1:,}."),
            gr.Textbox(visible=classification),  # a typed text is text classification's only
            gr.Textbox(visible=classification and data.has_pairs, value=""),
            *[gr.Row(visible=name == task) for name in TASK_COLUMNS],
            "",  # loaded: no note on an earlier failure
            *picker_updates,
            charts_row,
            options,
        )

    def split_view(task: str, selection: dict, options: dict):
        """The prepared data and what the Data tab shows of its splits (summary, checks, class and length charts,
        the inspector's splits), split as `options` (`services.split_options`) split it."""
        data = services.prepared(services.split_selection(selection, options), seed=options["seed"])
        report = services.data_report(selection, data)
        label_names = list(getattr(data, "label_names", []) or [])
        column_text = columns_shown(task, data)
        counted = {name for counts in (report.get("class_counts") or {}).values() for name in counts}
        if task == "token-classification":
            counts_plot = plots.label_distribution(report.get("class_counts") or {}, None, title="Entities per type", axis="entity type", unit="entities")
        elif report.get("class_counts"):
            counts_plot = plots.label_distribution(report["class_counts"], label_names or None)
        else:
            counts_plot = plots.empty("No classes to count: this task learns to write text.")
        summary_text = render.dataset_summary(selection.get("name", ""), report, label_names, column_text, TASKS[task].title, label_word="tags" if task == "token-classification" else "classes")
        carved = services.carved_splits(data)
        if carved:
            summary_text += "\n\n" + split_note(carved, options)
        temporary = services.temporary_upload_note(selection, ctx.runs_dir)
        if temporary:
            summary_text += f"\n\n{TEMPORARY} {render.md_escape(temporary)}"
        return data, (
            summary_text,
            render.data_checks(report.get("warnings", []), balanced=BALANCE_CHECKED.get(task)),
            counts_plot,
            plots.text_lengths(services.word_lengths(data.splits, task)),
            gr.Dropdown(choices=list(data.splits), value="train"),
            gr.Row(elem_classes=[CHARTS, CHARTS_STACKED] if plots.many_classes(counted) else [CHARTS]),
        )

    load_dataset = ui_errors(note=still_in_use)(read_dataset)
    load_outputs = [
        ctx.dataset, summary, checks, column_row, text_column, text_pair_column, label_column, preview, label_plot, length_plot, inspect_split, inspect_index,
        inspect_text, inspect_text_pair, *picker_rows, load_note, *pickers, charts, split_shown,
    ]
    # A failed load marks the summary alone (the data still in use), not every output, and says why until the next action.
    loading = dict(show_progress_on=[summary, load_note])

    def newest(handler, outputs, once_per_choice: bool = False):
        """`handler` as a data load of the session (`latest_only`), its last input the session's `data_loads`:
        where another load started while it ran, `outputs` are left to that one. `once_per_choice`: the same
        arguments twice in a row load once (`latest_only`'s `request`: a dropdown's doubled `.input`). Its signature
        is the handler's and `loads`, so that Gradio names the endpoint's parameters as the handler does."""
        @functools.wraps(handler)
        def event(*arguments):
            *arguments, loads = arguments
            request = repr(arguments) if once_per_choice else None
            result = latest_only(loads, lambda: handler(*arguments), request)
            return [gr.skip()] * len(outputs) if result is None else result

        signature = inspect.signature(handler)
        loads = inspect.Parameter("loads", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)
        event.__signature__ = signature.replace(parameters=[*signature.parameters.values(), loads])
        return event

    def load_failed(current):
        """After a failed load (its message stays on the page until closed): which data is still in use."""
        name = (current or services.default_selection()).get("name")
        return f"⚠ **Not loaded**: the message at the top right says why. **{render.md_escape(name)}** stays in use.", gr.skip()

    def on_failure(event) -> None:
        event.failure(load_failed, ctx.dataset, [load_note, summary], api_visibility="private", show_progress="hidden")
    load_inputs = [task, source, train_file, validation_file, test_file, hub_dataset, hub_config, hub_split, text_column, text_pair_column, label_column, *pickers, ctx.dataset, ctx.saved_form, ctx.hub_token, data_loads]
    load_chosen = newest(load_dataset, load_outputs)
    on_failure(load_button.click(load_chosen, load_inputs, load_outputs, api_name="load_dataset", **loading))

    @ui_errors(note=still_in_use)
    def load_new_file(task, source, train_file, validation_file, test_file, current=None, train_form=None):
        """A just-uploaded training file, with its columns detected afresh."""
        return read_dataset(task, services.SOURCE_FILE, train_file, validation_file, test_file, "", "", "train", services.AUTO, services.NO_PAIR, services.AUTO, current=current, train_form=train_form)

    on_failure(train_file.upload(newest(load_new_file, load_outputs), [*load_inputs[:5], ctx.dataset, ctx.saved_form, data_loads], load_outputs, api_name="load_uploaded_dataset", api_visibility="undocumented", **loading))
    load_picked = newest(load_dataset, load_outputs, once_per_choice=True)
    for dropdown in (text_column, text_pair_column, label_column, *pickers):
        on_failure(dropdown.input(load_picked, load_inputs, load_outputs, api_name=f"load_dataset_with_{dropdown.elem_id or 'columns'}", api_visibility="private", trigger_mode="always_last", **loading))

    def reset_all_columns():
        return (*reset_columns(), *[gr.Dropdown(value=services.AUTO) for _ in pickers])

    def choose_source(choice):
        """Show the fields of the chosen source; columns go back to auto-detection."""
        return (gr.Group(visible=choice == services.SOURCE_FILE), gr.Group(visible=choice == services.SOURCE_HUB), *reset_all_columns(), gr.Markdown(visible=False))

    # `.input`, the user's own choices: a reload's restored data sets these fields and keeps its columns.
    source.input(choose_source, source, [file_group, hub_group, text_column, text_pair_column, label_column, *pickers, kept_files], api_name="choose_source", api_visibility="private", trigger_mode="always_last")
    hub_dataset.input(reset_all_columns, None, [text_column, text_pair_column, label_column, *pickers], api_name="reset_columns", api_visibility="private")
    train_file.change(lambda: (*reset_all_columns(), gr.Markdown(visible=False)), None, [text_column, text_pair_column, label_column, *pickers, kept_files], api_name="reset_columns_on_upload", api_visibility="private")

    def choose_task(name):
        """What data the task needs and the column pickers it reads. (Its model and max_length reach the
        inspector from the Train tab, which sets the task's own when a user chooses a task on either tab.)"""
        return (TASK_DATA.get(name, ""), gr.Row(visible=name == services.DEFAULT_TASK), *[gr.Row(visible=name == other) for other in TASK_COLUMNS])

    # `.change`, not `.input`: the Train tab sets this task too, and the pickers must follow it.
    task.change(choose_task, task, [task_note, column_row, *picker_rows], api_name="choose_data_task", api_visibility="private")

    @ui_errors
    def read_for_task(
        task, current, train_form, loads, source=None, train_file=None, validation_file=None, test_file=None,
        oauth_token: gr.OAuthToken | None = None, typed_token: str | None = None,
    ):
        """The loaded data read again under the chosen task: its columns detected afresh, its preview and checks.
        Where the task cannot read it and 'Upload files' has a file in the training box (one just refused under
        the task before, whose message said to choose this task), that file is read instead. Data the task cannot
        read stays loaded, and the note above its summary says so and what to do. Only a reading is a data load
        (`latest_only`): a task the data is already read for changes nothing."""
        selection = current or services.default_selection()
        def kept(note: str | None):
            return [note if output is load_note and note is not None else gr.skip() for output in load_outputs]

        if services.task_of(selection) == task:  # already read so (a restored selection sets the task too)
            return kept("")
        fields = services.selection_fields(selection)
        names = ("source", "train_file", "validation_file", "test_file", "dataset_name", "dataset_config_name", "split")
        boxed = {**fields, "source": source, "train_file": train_file, "validation_file": validation_file, "test_file": test_file}

        def read():
            for chosen in [fields, boxed] if source == services.SOURCE_FILE and train_file else [fields]:
                try:
                    return read_dataset(
                        task, *(chosen[name] for name in names), services.AUTO, services.NO_PAIR, services.AUTO,
                        train_form=train_form, oauth_token=oauth_token, typed_token=typed_token,
                    )
                except DataError:
                    pass
            return kept("⚠ " + render.md_escape(services.task_mismatch(selection, task)))

        result = latest_only(loads, read)
        return kept(None) if result is None else result

    task.change(read_for_task, [task, ctx.dataset, ctx.saved_form, data_loads, source, train_file, validation_file, test_file, ctx.hub_token], load_outputs, api_name="read_data_for_task", api_visibility="private", **loading)

    def load_example(train_form=None):
        """The example dataset, loaded as the page opens so a new user sees data at once."""
        return load_dataset(services.DEFAULT_TASK, services.SOURCE_EXAMPLE, None, None, None, "", "", "train", services.AUTO, services.NO_PAIR, services.AUTO, train_form=train_form)

    ctx.dataset.change(lambda selection: selection, ctx.dataset, ctx.saved_dataset, api_name="remember_dataset", api_visibility="private", show_progress="hidden")
    source_fields = [task, source, file_group, hub_group, hub_dataset, hub_config, hub_split, kept_files]

    def show_selection(selection: dict, when: str, train_form=None, oauth_token=None, typed_token=None):
        """Load a selection made before (`when`: kept over a reload, or an earlier run's), with the Data tab's
        fields set to it. The upload boxes stay empty: a note names the files loaded."""
        fields = services.selection_fields(selection)
        shown = load_dataset(
            *(fields[name] for name in ("task", "source", "train_file", "validation_file", "test_file", "dataset_name", "dataset_config_name", "split", "text_column", "text_pair_column", "label_column")),
            *(selection.get(name) or services.AUTO for name in PICKER_FIELDS), train_form=train_form, oauth_token=oauth_token, typed_token=typed_token,
        )
        files = fields["source"] == services.SOURCE_FILE
        names = ", ".join(render.md_code(Path(fields[name]).name) for name in ("train_file", "validation_file", "test_file") if fields[name])
        return (
            *shown, fields["task"], fields["source"], gr.Group(visible=files), gr.Group(visible=fields["source"] == services.SOURCE_HUB),
            fields["dataset_name"], fields["dataset_config_name"], fields["split"],
            gr.Markdown(f"Loaded {when}: {names}. Upload a file to replace it.", visible=files),
        )

    def reopen_dataset(saved, train_form=None, oauth_token: gr.OAuthToken | None = None):
        """On page open: the data this browser had loaded before (a reload keeps it), else the example. Kept
        data that cannot be loaded again (an upload deleted since) gives way to the example, with a warning."""
        if isinstance(saved, dict):
            try:
                return show_selection(saved, "before the page was reloaded", train_form, oauth_token)
            except gr.Error as error:
                gr.Warning(f"The data loaded before the page was reloaded ({saved.get('name', '?')}) could not be loaded again: {error.message} The example is shown instead.")
        return (*load_example(train_form), *[gr.skip()] * len(source_fields))

    ctx.demo.load(newest(reopen_dataset, [*load_outputs, *source_fields]), [ctx.saved_dataset, ctx.saved_form, data_loads], [*load_outputs, *source_fields], api_name="reopen_dataset", api_visibility="private")

    def load_run_data(selection: dict, train_form: dict, loads: dict, oauth_token=None, typed_token=None):
        """A run's data, split as its settings (`train_form`) split it, as a data load of the session (`latest_only`):
        None where another load started while it ran. "Use its settings" on the Train and Runs tabs loads it in the
        event that puts those settings on the form. In an event of its own it raced the Data tab's re-split of the
        data shown before for the new seed (`follow_train_form`), which could finish last and leave the old data's
        summary and charts over the run's data."""
        return latest_only(loads, lambda: show_selection(selection, "for that run", train_form, oauth_token, typed_token))

    ctx.components["load_run_data"] = (load_run_data, [*load_outputs, *source_fields])

    @ui_errors
    @ownership.reads_as_visitor
    def follow_train_form(selection, train_form, shown, loads, oauth_token: gr.OAuthToken | None = None, typed_token: str | None = None):
        """After a change on the Train form: where the seed, a split share or the training-example limit changed,
        the splits shown again as a run started now makes them; the data and its columns stay as loaded. Data
        those options cannot split stays shown as before, and the note above its summary says why.

        A re-split takes no number among the session's data loads (`latest_only`): a seed changed on the Train tab
        must not set aside data the user is loading, which would leave the page, and training, on the data before.
        While a load runs, the page is left to it, and the splits shown are marked as made with other options
        (`shown` {}): when the load ends with the options it started with, that change calls this again. A load
        started while this one ran read the form as changed, so the page is left to it as well."""
        options = services.split_options(train_form)
        unchanged = [gr.skip()] * len(split_outputs)
        if shown is None or options == shown:  # None: the page is opening, and its first load reads the form's options itself
            return unchanged
        seen = idle_number(loads)
        if seen is None:
            return [*unchanged[:-2], {}, gr.skip()]
        selection = selection or services.default_selection()
        try:
            _, view = split_view(services.task_of(selection), selection, options)
        except DataError as error:
            result = [*unchanged[:-1], f"⚠ With the Train tab's options: {render.md_escape(str(error))}"]
        else:
            result = [*view, options, ""]
        return result if loads["started"] == seen else unchanged

    split_outputs = [summary, checks, label_plot, length_plot, inspect_split, charts, split_shown, load_note]
    gr.on([ctx.saved_form.change, split_shown.change], follow_train_form, [ctx.dataset, ctx.saved_form, split_shown, data_loads, ctx.hub_token], split_outputs, api_name="follow_train_split", api_visibility="private", show_progress="hidden")

    @ui_errors
    @ownership.reads_as_visitor
    def inspect_tokens(
        model_name_or_path, max_length, split, index, text, selection, text_pair="", train_form=None,
        request: gr.Request = None, profile: gr.OAuthProfile | None = None, oauth_token: gr.OAuthToken | None = None, typed_token: str | None = None,
    ):
        """Tokenize one example (row `index` of `split`'s file, as the preview numbers it; or a typed text, with
        `text_pair` its pair's second text for sentence-pair data) as training will; returns summary, chips, details
        and the token-length histogram. The splits are those a run started from the Train form (`train_form`)
        makes: its seed and shares (`services.split_options`); the tokens as its task's options say (`services.tokenization_options`)."""
        owner = ownership.quiet_visitor(ctx, request, profile, oauth_token)
        return inspection(model_name_or_path, max_length, split, index, text, selection, text_pair, train_form, owner=owner, measured=True)

    @ui_errors
    @ownership.reads_as_visitor
    def glance_tokens(
        model_name_or_path, max_length, split, index, text, selection, text_pair="", train_form=None,
        request: gr.Request = None, profile: gr.OAuthProfile | None = None, oauth_token: gr.OAuthToken | None = None, typed_token: str | None = None,
    ):
        """`inspect_tokens` of the example alone, made as data and a model are known: its tokens need only the
        tokenizer (cached), not every split's token lengths nor, with packing, the whole train split packed, which
        "Inspect tokens" measures."""
        owner = ownership.quiet_visitor(ctx, request, profile, oauth_token)
        return inspection(model_name_or_path, max_length, split, index, text, selection, text_pair, train_form, owner=owner, measured=False)

    def inspection(model_name_or_path, max_length, split, index, text, selection, text_pair, train_form, *, owner: str | None, measured: bool):
        """`inspect_tokens`' outputs; `measured`: with the token lengths of every split and, with packing, where
        the example lands (else the chart and the packing line say that "Inspect tokens" measures them)."""
        selection, options, model, max_length = inspection_inputs(selection, train_form, model_name_or_path, max_length)
        if not model:
            raise DataError("Choose a model whose tokenizer to use.")
        if not 8 <= max_length <= 8192:
            raise DataError(f"max_length must be between 8 and 8192 tokens, got {max_length}.")
        split_data = services.split_selection(selection, options)
        task = services.task_of(selection)
        label = None
        label_names = None
        where = ""
        found = place = data = None
        text, text_pair = text or "", text_pair or ""
        if text.strip() or text_pair.strip():
            if task != services.DEFAULT_TASK:
                raise DataError("A typed text can be inspected for text classification; for this task, pick an example of the data.")
            if not text.strip():
                raise DataError("Type the pair's first text too: the second text box holds the second text of the pair.")
            row = {"text": text, **({"text_pair": text_pair} if text_pair.strip() else {})}
        else:
            data = services.prepared(split_data, seed=options["seed"])
            index = int(index or 0)
            found, place = services.example_at_row(selection, data, split, index)
            row = dict(data.splits[found][place])
            carved = services.carved_splits(data)
            where = f"Row {index} of the {'training' if found in ('train', *carved) else found} file · in the **{found}** split" + (f" (held out at seed {options['seed']}, the Train tab's: a run started now never trains on it)" if found in carved else "")
            label_names = list(getattr(data, "label_names", []) or []) or None
            if task == services.DEFAULT_TASK:
                label = data.label_names[row["label"]]
        # On a shared studio the tokenizer comes from a Hub id, the bundled model or one of the visitor's own runs (`owner`).
        # The Train form's options that change the tokens (`services.option_names`: a causal LM's loss, a seq2seq
        # prefix, summary length and languages, NER sub-token labels); None where it sets none: the task's default.
        settings = services.tokenization_options(task, train_form)
        inspection = services.inspect_row(selection, model, max_length, row, label_names=label_names, runs_dir=ctx.runs_dir, owner=owner, **settings)
        if inspection.get("loss_mask") is not None and inspection.get("rendered"):
            inspection = {**inspection, "loss_spans": loss_spans(services.tokenizer(model, task), inspection)}
        packing = packing_setting(task, train_form)
        packed = ""  # with the Train form's packing on: the packed sequences the example lands in (training packs; evaluation does not)
        if packing.get("packing") and found is not None:
            if found != "train":
                packed = f"\n\n**Packing** is on for training only: evaluation reads each example of {found} alone."
            elif measured:
                packed = "\n\n" + render.packing_summary(services.packing_row(split_data, model, max_length, place, seed=options["seed"], arguments=packing.get("packing_arguments"), runs_dir=ctx.runs_dir, owner=owner), data.rows.get("train"))
            else:
                packed = f"\n\n{PACKING_ON_DEMAND}"
        if measured:
            stats = services.token_stats(split_data, model, max_length, seed=options["seed"], runs_dir=ctx.runs_dir, owner=owner, **settings)
            lengths = plots.token_lengths(stats, max_length)
        else:
            lengths = plots.empty(LENGTHS_ON_DEMAND)
        key = inspection_key(selection, options, model, max_length, {**settings, **packing})
        return (
            (where + "\n\n" if where else "") + render.token_summary(inspection, label) + f" · tokenizer of {render.md_code(model)}" + packed,
            render.inspection_html(inspection),
            render.token_frame(inspection),
            lengths,
            key if measured else {**key, GLANCE: True},
        )

    inspect_inputs = [inspect_model, inspect_max_length, inspect_split, inspect_index, inspect_text, ctx.dataset, inspect_text_pair, ctx.saved_form]
    inspect_outputs = [token_info, chips, token_details, token_plot, inspected_with]
    inspect_button.click(inspect_tokens, [*inspect_inputs, ctx.hub_token], inspect_outputs, api_name="inspect_tokens")

    def inspect_again(
        model_name_or_path, max_length, split, index, text, selection, text_pair, train_form, inspected, shown_summary,
        request: gr.Request = None, profile: gr.OAuthProfile | None = None, oauth_token: gr.OAuthToken | None = None, typed_token: str | None = None,
    ):
        """The inspection on the page (`shown_summary` its summary), made again with the same example where what
        it was made with (`inspected`) is no longer what a run started now uses: the Train tab's model, max
        length, seed, shares or an option that changes the task's tokens, or the data. Where it cannot be made again (a model that does not
        load, a row the new data lacks), it stays, marked out of date with the reason.

        Before any inspection (`inspected` None: a page just opened, or data loaded before "Inspect tokens" was
        pressed), and after one that was a glance, the example's tokens alone (`glance_tokens`): row 0's as soon as
        the data and a model are known, its tokenizer (cached) the only cost; the token lengths of every split and the
        packing wait for the button. A glance that cannot be made says why in the inspector, with no pop-up."""
        selection, options, model, length = inspection_inputs(selection, train_form, model_name_or_path, max_length)
        task = services.task_of(selection)
        key = inspection_key(selection, options, model, length, {**services.tokenization_options(task, train_form), **packing_setting(task, train_form)})
        # Who reads the model: a glance that failed is not tried again for the same visitor and token (`FAILED`).
        reading = [ownership.quiet_visitor(ctx, request, profile, oauth_token), digest(ownership.visitor_token(oauth_token, typed_token) or "")]
        failed = inspected is not None and FAILED in inspected
        glanced = inspected is None or failed or bool(inspected.get(GLANCE))
        if failed and inspected[FAILED] == reading and {k: v for k, v in inspected.items() if k != FAILED} == key:
            return [gr.skip()] * len(inspect_outputs)  # its reason stays shown; the model, max length, data or an option changed tries again
        if inspected is not None and not failed and key == {k: v for k, v in inspected.items() if k != GLANCE}:
            return [gr.skip()] * len(inspect_outputs)
        try:
            return (glance_tokens if glanced else inspect_tokens)(model_name_or_path, max_length, split, index, text, selection, text_pair, train_form, request, profile, oauth_token, typed_token)
        except gr.Error as error:
            if inspected is None or failed:  # nothing shown yet: the glance says why it shows nothing, without a pop-up at each load
                return [f"{NOT_INSPECTED} {render.md_escape(error.message)}", *[gr.skip()] * (len(inspect_outputs) - 2), {**key, FAILED: reading}]
            stale = (
                f"{STALE} the inspection below was made with model {render.md_code(inspected['model'])} and max_length {inspected['max_length']}, "
                f"and could not be made again with those now in use (the Train tab's, with its split options, and the data loaded): {render.md_escape(error.message)}"
            )
            return [f"{stale}\n\n{without_stale_note(shown_summary)}", *[gr.skip()] * (len(inspect_outputs) - 1)]

    # After each change that changes what a run started now feeds the model; the splits shown again for new options set `split_shown`.
    gr.on(
        [inspect_model.change, inspect_max_length.change, ctx.saved_form.change, ctx.dataset.change, split_shown.change],
        inspect_again, [*inspect_inputs, inspected_with, token_info, ctx.hub_token], inspect_outputs,
        api_name="inspect_again", api_visibility="undocumented", trigger_mode="always_last", show_progress="hidden",
    )


# What the data report checks the balance of, by task (the generative tasks have no classes).
BALANCE_CHECKED = {"text-classification": "classes", "token-classification": "entity types"}
# The first words of the Data tab's note on uploads kept in the temporary folder (`services.temporary_upload_note`).
TEMPORARY = "⚠ **Kept in a temporary folder**:"
# The first words of the note on an inspection that could not be made again after a change.
STALE = "⚠ **Out of date**:"
# Shown as data and a model are known (`glance_tokens`): the example's tokens; what measures more waits for the button.
NOT_INSPECTED = "No tokens shown: the example could not be inspected with the model and data in use:"
LENGTHS_ON_DEMAND = "Press Inspect tokens to measure the token lengths of every split."
PACKING_ON_DEMAND = "**Packing** is on: press **Inspect tokens** to see the packed sequences this example lands in (TRL packs the whole train split to find them)."
GLANCE = "glance"  # in `inspected_with`: the inspection shown is a glance (no token lengths, no packing), made again as one
# In `inspected_with`: no inspection is shown, a glance with these inputs failed (a model id mistyped, one that does not load),
# for this visitor and token; a change of the Train form that leaves them as they were does not try it (a Hub request) again.
FAILED = "failed"


def inspection_inputs(selection, train_form, model_name_or_path, max_length) -> tuple[dict, dict, str, int]:
    """The inspector's inputs as an inspection uses them: the selection (the example's by default), the
    split options of the Train form, the model named, and max_length as a whole number (0 when unset)."""
    try:
        length = int(max_length or 0)
    except (TypeError, ValueError):
        length = 0
    return selection or services.default_selection(), services.split_options(train_form), (model_name_or_path or "").strip(), length


def inspection_key(selection: dict, options: dict, model: str, max_length: int, settings: dict | None = None) -> dict:
    """What an inspection was made with: when any of it changes, the inspection on the page is made again. `settings`:
    the Train form's options that change the task's tokens (`services.tokenization_options`)."""
    return {"data": selection, **options, "model": model, "max_length": max_length, **(settings or {})}


def packing_setting(task: str, train_form: dict | None) -> dict:
    """The Train form's packing, for a causal LM, with its extra TrainingArguments that change how TRL packs
    (`services.packing_arguments`: a shuffle before packing, the packing strategy, dataset_num_proc's shards): they change what the inspector says of an
    example (the packed sequences it lands in), not its tokens, so they key the inspection (`inspection_key`) beside
    the task's options."""
    if task != "causal-lm":
        return {}
    packing = bool((train_form or {}).get("packing"))
    arguments = services.packing_arguments(train_form) if packing else {}
    return {"packing": packing, **({"packing_arguments": arguments} if arguments else {})}


def without_stale_note(summary: str | None) -> str:
    """An inspection's summary without the out-of-date note put before it after an earlier change."""
    summary = summary or ""
    return summary.split("\n\n", 1)[-1] if summary.startswith(STALE) else summary


def loss_spans(tokenizer, inspection: dict) -> list[tuple[int, int]]:
    """Character ranges of the rendered causal-LM text whose tokens carry loss, so the inspector can mark
    the answer in the text itself. Empty when the rendered text does not tokenize back to the same ids
    (the token chips still show the loss tokens)."""
    try:
        encoded = tokenizer(inspection["rendered"], add_special_tokens=False, return_offsets_mapping=True)
    except (NotImplementedError, ValueError, TypeError):  # a slow tokenizer has no offsets
        return []
    ids, mask = list(inspection["input_ids"]), list(inspection["loss_mask"])
    if list(encoded["input_ids"][: len(ids)]) != ids:
        return []
    spans: list[tuple[int, int]] = []
    for (start, end), in_loss, previous in zip(encoded["offset_mapping"], mask, [0, *mask]):
        if not in_loss or end <= start:
            continue
        if previous and spans:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def columns_shown(task: str, data) -> dict[str, str]:
    """The columns the task's data preparation read, by role ('text': 'premise + hypothesis', 'label': ...)."""
    if task == services.DEFAULT_TASK:
        return {"text": " + ".join(data.text_columns), "label": data.label_column}
    return dict(getattr(data, "columns", {}) or {})


def split_note(carved: list[str], options: dict) -> str:
    """Which options held `carved` out of the training file: the Train tab's, so these are the splits a run
    started now trains and evaluates on, and a change there changes them here."""
    shares = {"validation": options["validation_split_ratio"], "test": options["test_split_ratio"]}
    held = " and ".join(f"{role} ({shares[role]:.0%} of the rows)" for role in carved)
    limit = f"; training keeps {options['max_train_samples']:,} examples (Max training examples)" if options.get("max_train_samples") else ""
    return (
        f"{held.capitalize()} held out of the training file at seed **{options['seed']}**{limit}: the Train tab's options, "
        "so these are the splits a run started now trains and evaluates on. Another seed or share there holds out other rows."
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def detected_columns(task: str, columns: dict[str, str]) -> dict[str, str | None]:
    """The DataConfig column fields of a task from the columns its data preparation resolved
    (`TaskData.columns`): what the pickers show and the run's config records."""
    if task == "token-classification":
        return {"tokens_column_name": columns.get("tokens"), "tags_column_name": columns.get("tags")}
    if task == "causal-lm":
        if "messages" in columns:  # a chat column holds the prompt and the answer
            return {"prompt_column_name": columns["messages"], "completion_column_name": None, "input_column_name": None}
        return {"prompt_column_name": columns.get("prompt"), "completion_column_name": columns.get("completion"), "input_column_name": columns.get("input")}
    if task == "seq2seq":
        return {"document_column_name": columns.get("document"), "summary_column_name": columns.get("summary")}
    return {}


def _cell(value) -> str:
    """A preview cell as text: a list of words or tags joined by spaces, chat messages as 'role: content'."""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        items = list(value)
        if items and all(isinstance(v, dict) for v in items):
            return " | ".join(f"{v.get('role', v.get('from', '?'))}: {v.get('content', v.get('value', ''))}" for v in items)
        return " ".join(str(v) for v in items)
    return "" if value is None else str(value)


def preview_frame(frame):
    """The first rows as text, lists (NER words and tags, chat messages) readable rather than Python reprs."""
    return frame.apply(lambda column: column.map(_cell)).astype(str) if len(frame.columns) else frame


def numbered(table):
    """The preview with the file's row numbers first, under `#` (`# row` where the file has a `#` column of its own)."""
    table = table.copy()
    table.insert(0, ROW_COLUMN if ROW_COLUMN not in table.columns else f"{ROW_COLUMN} row", range(len(table)))
    return table


def preview_widths(columns: list[str], wide: list[str]) -> list[str]:
    """The preview's column widths: the row number in 5% of the table, the file's columns as
    `tables.column_widths` shares them out in the rest."""
    return ["5%", *(f"{float(width.rstrip('%')) * 0.95:.1f}%" for width in tables.column_widths(columns, wide))]


def reset_columns():
    return gr.Dropdown(value=services.AUTO), gr.Dropdown(value=services.NO_PAIR), gr.Dropdown(value=services.AUTO)
