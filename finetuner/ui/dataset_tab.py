"""Dataset tab: choose the task and the data, check it, and see what the tokenizer makes of it.

Endpoints: `/load_dataset` (task + source -> preview, columns, plots, checks) and `/inspect_tokens`
(one example as token chips, and the token-length histogram of every split). Both go through the task's
own hooks (`prepare_data`, `data_report`, `length_statistics`, `inspect_example`), so what is shown is
exactly what training will use.
"""

import gradio as gr

from .. import plots
from ..config import RunConfig, field_help
from ..errors import DataError
from ..tasks import TASKS
from . import render, services
from .handlers import ui_errors
from .studio import StudioContext

FILE_TYPES = [".csv", ".tsv", ".json", ".jsonl", ".parquet"]
TASK_DATA = {
    "text-classification": "A table with a text column (or two, for sentence pairs) and a label column.",
    "token-classification": "One sentence per row: a list of words and a list of tags (B-/I-/O), e.g. JSONL with `tokens` and `ner_tags`.",
    "seq2seq": "A document column and a summary column (e.g. `document`, `summary`).",
    "causal-lm": "A prompt and a completion per row (`prompt`/`completion`, `instruction`/`input`/`output`), or chat `messages`.",
}


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
                summary = gr.Markdown("Loading the example dataset…")
                checks = gr.Markdown()
        with gr.Row() as column_row:
            text_column = gr.Dropdown([services.AUTO], value=services.AUTO, label="Text column", elem_id="text_column", allow_custom_value=True, info="The text the model reads.")
            text_pair_column = gr.Dropdown([services.NO_PAIR], value=services.NO_PAIR, label="Second text column", elem_id="text_pair_column", allow_custom_value=True, info="For sentence pairs (e.g. premise + hypothesis); leave '(none)' otherwise.")
            label_column = gr.Dropdown([services.AUTO], value=services.AUTO, label="Label column", elem_id="label_column", allow_custom_value=True, info="The class to predict.")
        preview = gr.Dataframe(label="Preview (first rows of the training data)", interactive=False, wrap=True, max_height=320)
        with gr.Row():
            label_plot = gr.Plot(label="Label distribution", show_label=False)
            length_plot = gr.Plot(label="Text lengths", show_label=False)

        gr.Markdown("### Tokenization inspector\nWhat the model will actually read: pick a model and an example, and see its tokens, ids, masks and labels, and where `max_length` cuts.")
        with gr.Row():
            inspect_model = gr.Dropdown(services.model_choices(ctx.runs_dir), value=defaults["model_name_or_path"], label="Model (tokenizer)", allow_custom_value=True, info="A Hub model id or a local folder; the bundled model works offline.", scale=3)
            inspect_max_length = gr.Number(value=defaults["max_seq_length"], label="max_length", precision=0, info="Longest input in tokens; longer inputs are cut.", scale=1)
        with gr.Row():
            inspect_split = gr.Dropdown(["train"], value="train", label="Split", scale=1)
            inspect_index = gr.Number(value=0, label="Example number", precision=0, info="Row of the split, from 0.", scale=1)
            inspect_text = gr.Textbox(value="", label="Or type a text", placeholder="Leave empty to use the example above (text classification only)", scale=3)
        inspect_button = gr.Button("Inspect tokens", variant="secondary")
        token_info = gr.Markdown()
        chips = gr.HTML()
        with gr.Accordion("Token details (id, attention mask, token type id, label)", open=False):
            token_details = gr.Dataframe(interactive=False, max_height=300)
        token_plot = gr.Plot(label="Token lengths per split", show_label=False)

    ctx.components.update(dataset_summary=summary, inspect_model=inspect_model, data_task=task)

    @ui_errors
    def load_dataset(task, source, train_file, validation_file, test_file, hub_dataset, hub_config, hub_split, text_column, text_pair_column, label_column):
        """Load a dataset for a task (the example, uploaded files or a Hub id) and check it; returns preview, columns, plots and checks."""
        classification = task == services.DEFAULT_TASK
        selection = services.make_selection(
            source, train_file=train_file, validation_file=validation_file, test_file=test_file,
            dataset_name=hub_dataset, dataset_config_name=hub_config, split=hub_split,
            text_column=text_column if classification else None, text_pair_column=text_pair_column if classification else None,
            label_column=label_column if classification else None, runs_dir=ctx.runs_dir, task=task,
        )
        frames = services.raw_frames(selection)
        columns = [str(c) for c in frames["train"].columns]
        for chosen in selection.get("text_column_names", []) + [selection.get("label_column_name")]:
            if chosen and chosen not in columns:
                raise DataError(f"There is no column '{chosen}'. The columns are: {', '.join(columns)}.")
        data = services.prepared(selection)
        report = services.data_report(selection, data)
        label_names = list(getattr(data, "label_names", []) or [])
        if classification:
            selection = {**selection, "text_column_names": data.text_columns, "label_column_name": data.label_column}
            column_text = {"text": " + ".join(data.text_columns), "label": data.label_column}
            column_updates = (
                gr.Dropdown(choices=columns, value=data.text_columns[0]),
                gr.Dropdown(choices=[services.NO_PAIR, *columns], value=data.text_columns[1] if data.has_pairs else services.NO_PAIR),
                gr.Dropdown(choices=columns, value=data.label_column),
            )
        else:
            column_text = dict(getattr(data, "columns", {}) or {})
            column_updates = (gr.skip(), gr.skip(), gr.skip())
        table = frames["train"].head(services.MAX_PREVIEW_ROWS).astype(str)
        wide = [c for value in column_text.values() for c in str(value).split(" + ")]
        return (
            selection,
            render.dataset_summary(selection.get("name", ""), report, label_names, column_text, TASKS[task].title),
            render.data_checks(report.get("warnings", [])),
            gr.Row(visible=classification),
            *column_updates,
            gr.Dataframe(value=table, column_widths=services.column_widths(columns, wide)),
            plots.label_distribution(report.get("class_counts") or {}, label_names or None) if report.get("class_counts") else plots.empty("No classes to count: this task learns to write text."),
            plots.text_lengths(services.word_lengths(data.splits, task)),
            gr.Dropdown(choices=list(data.splits), value="train"),
            gr.Number(value=0, info=f"Row of the split, from 0 (train has {len(data.splits['train']):,} rows)."),
        )

    load_outputs = [ctx.dataset, summary, checks, column_row, text_column, text_pair_column, label_column, preview, label_plot, length_plot, inspect_split, inspect_index]
    load_inputs = [task, source, train_file, validation_file, test_file, hub_dataset, hub_config, hub_split, text_column, text_pair_column, label_column]
    load_button.click(load_dataset, load_inputs, load_outputs, api_name="load_dataset")

    def load_new_file(task, source, train_file, validation_file, test_file):
        """A just-uploaded training file, with its columns detected afresh."""
        return load_dataset(task, services.SOURCE_FILE, train_file, validation_file, test_file, "", "", "train", services.AUTO, services.NO_PAIR, services.AUTO)

    train_file.upload(load_new_file, load_inputs[:5], load_outputs, api_name="load_uploaded_dataset", api_visibility="undocumented")
    for dropdown in (text_column, text_pair_column, label_column):
        dropdown.input(load_dataset, load_inputs, load_outputs, api_name=f"load_dataset_with_{dropdown.elem_id or 'columns'}", api_visibility="private")

    def choose_source(choice):
        """Show the fields of the chosen source; columns go back to auto-detection."""
        return (gr.Group(visible=choice == services.SOURCE_FILE), gr.Group(visible=choice == services.SOURCE_HUB), *reset_columns())

    source.change(choose_source, source, [file_group, hub_group, text_column, text_pair_column, label_column], api_name="choose_source", api_visibility="private")
    for new_data in (train_file, hub_dataset):
        new_data.change(reset_columns, None, [text_column, text_pair_column, label_column], api_name="reset_columns", api_visibility="private")

    def choose_task(name):
        """What data the task needs; its default model and max_length for the inspector."""
        from ..tasks import default_model  # noqa: PLC0415

        return TASK_DATA.get(name, ""), gr.Dropdown(value=default_model(name)), gr.Number(value=TASKS[name].default_max_seq_length)

    task.input(choose_task, task, [task_note, inspect_model, inspect_max_length], api_name="choose_data_task", api_visibility="private")

    def load_example():
        """The example dataset, loaded as the page opens so a new user sees data at once."""
        return load_dataset(services.DEFAULT_TASK, services.SOURCE_EXAMPLE, None, None, None, "", "", "train", services.AUTO, services.NO_PAIR, services.AUTO)

    ctx.demo.load(load_example, None, load_outputs, api_name="load_example_dataset", api_visibility="undocumented")

    @ui_errors
    def inspect_tokens(model_name_or_path, max_length, split, index, text, selection):
        """Tokenize one example (or a typed text) as training will; returns chips, summary, details and the token-length histogram."""
        model = (model_name_or_path or "").strip()
        if not model:
            raise DataError("Choose a model whose tokenizer to use.")
        max_length = int(max_length or 0)
        if not 8 <= max_length <= 8192:
            raise DataError(f"max_length must be between 8 and 8192 tokens, got {max_length}.")
        selection = selection or services.default_selection()
        task = services.task_of(selection)
        label = None
        label_names = None
        if text and text.strip():
            if task != services.DEFAULT_TASK:
                raise DataError("A typed text can be inspected for text classification; for this task, pick an example of the data.")
            row = {"text": text}
        else:
            data = services.prepared(selection)
            if split not in data.splits:
                raise DataError(f"The dataset has no split '{split}'; it has: {', '.join(data.splits)}.")
            rows = data.splits[split]
            index = int(index or 0)
            if not 0 <= index < len(rows):
                raise DataError(f"Example number {index} is out of range: the {split} split has rows 0 to {len(rows) - 1}.")
            row = dict(rows[index])
            label_names = list(getattr(data, "label_names", []) or []) or None
            if task == services.DEFAULT_TASK:
                label = data.label_names[row["label"]]
        inspection = services.inspect_row(selection, model, max_length, row, label_names=label_names)
        stats = services.token_stats(selection, model, max_length)
        return (
            render.token_summary(inspection, label),
            render.token_chips(inspection),
            render.token_frame(inspection),
            plots.token_lengths(stats, max_length),
        )

    inspect_button.click(
        inspect_tokens,
        [inspect_model, inspect_max_length, inspect_split, inspect_index, inspect_text, ctx.dataset],
        [token_info, chips, token_details, token_plot],
        api_name="inspect_tokens",
    )


def reset_columns():
    return gr.Dropdown(value=services.AUTO), gr.Dropdown(value=services.NO_PAIR), gr.Dropdown(value=services.AUTO)
