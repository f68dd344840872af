"""Dataset tab: choose the data, check it, and see what the tokenizer makes of it.

Endpoints: `/load_dataset` (source -> preview, columns, plots, checks) and `/inspect_tokens` (one
example as token chips, and the token-length histogram of every split).
"""

import gradio as gr

from .. import plots
from ..config import RunConfig, field_help
from ..errors import DataError
from . import render, services
from .handlers import ui_errors
from .studio import StudioContext

FILE_TYPES = [".csv", ".tsv", ".json", ".jsonl", ".parquet"]


def build_dataset_tab(ctx: StudioContext) -> None:
    defaults = RunConfig().to_dict()
    with gr.Tab("1 · Data", id="data"):
        gr.Markdown("### Choose your data\nA table with a text column and a label column. The example is ready to use; or upload your own files, or name a dataset on the Hugging Face Hub.")
        with gr.Row():
            with gr.Column(scale=2):
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
        with gr.Row():
            text_column = gr.Dropdown([services.AUTO], value=services.AUTO, label="Text column", allow_custom_value=True, info="The text the model reads.")
            text_pair_column = gr.Dropdown([services.NO_PAIR], value=services.NO_PAIR, label="Second text column", allow_custom_value=True, info="For sentence pairs (e.g. premise + hypothesis); leave '(none)' otherwise.")
            label_column = gr.Dropdown([services.AUTO], value=services.AUTO, label="Label column", allow_custom_value=True, info="The class to predict.")
        preview = gr.Dataframe(label="Preview (first rows of the training data)", interactive=False, wrap=True, max_height=320)
        with gr.Row():
            label_plot = gr.Plot(label="Label distribution", show_label=False)
            length_plot = gr.Plot(label="Text lengths", show_label=False)

        gr.Markdown("### Tokenization inspector\nWhat the model will actually read: pick a model and an example, and see its tokens, ids, attention mask and token type ids, and where `max_length` cuts.")
        with gr.Row():
            inspect_model = gr.Dropdown(services.model_choices(ctx.runs_dir), value=defaults["model_name_or_path"], label="Model (tokenizer)", allow_custom_value=True, info="A Hub model id or a local folder; the bundled model works offline.", scale=3)
            inspect_max_length = gr.Number(value=defaults["max_seq_length"], label="max_length", precision=0, info=field_help("max_seq_length"), scale=1)
        with gr.Row():
            inspect_split = gr.Dropdown(["train"], value="train", label="Split", scale=1)
            inspect_index = gr.Number(value=0, label="Example number", precision=0, info="Row of the split, from 0.", scale=1)
            inspect_text = gr.Textbox(value="", label="Or type a text", placeholder="Leave empty to use the example above", scale=3)
        inspect_button = gr.Button("Inspect tokens", variant="secondary")
        token_info = gr.Markdown()
        chips = gr.HTML()
        with gr.Accordion("Token details (id, attention mask, token type id)", open=False):
            token_details = gr.Dataframe(headers=["position", "token", "id", "attention_mask", "token_type_id", "special"], interactive=False, max_height=300)
        token_plot = gr.Plot(label="Token lengths per split", show_label=False)

    ctx.components.update(dataset_summary=summary, inspect_model=inspect_model)

    @ui_errors
    def load_dataset(source, train_file, validation_file, test_file, hub_dataset, hub_config, hub_split, text_column, text_pair_column, label_column):
        """Load a dataset (the example, uploaded files or a Hub id) and check it; returns preview, columns, plots and checks."""
        selection = services.make_selection(
            source, train_file=train_file, validation_file=validation_file, test_file=test_file,
            dataset_name=hub_dataset, dataset_config_name=hub_config, split=hub_split,
            text_column=text_column, text_pair_column=text_pair_column, label_column=label_column, runs_dir=ctx.runs_dir,
        )
        frames = services.raw_frames(selection)
        columns = [str(c) for c in frames["train"].columns]
        for chosen in selection.get("text_column_names", []) + [selection.get("label_column_name")]:
            if chosen and chosen not in columns:
                raise DataError(f"There is no column '{chosen}'. The columns are: {', '.join(columns)}.")
        data = services.prepared(selection)
        report = data.report.to_dict()
        selection = {**selection, "text_column_names": data.text_columns, "label_column_name": data.label_column}
        lengths = services.word_lengths(data.splits)
        splits = list(data.splits)
        return (
            selection,
            render.dataset_summary(selection.get("name", ""), report, data.label_names, data.text_columns, data.label_column),
            render.data_checks(report.get("warnings", [])),
            gr.Dropdown(choices=columns, value=data.text_columns[0]),
            gr.Dropdown(choices=[services.NO_PAIR, *columns], value=data.text_columns[1] if data.has_pairs else services.NO_PAIR),
            gr.Dropdown(choices=columns, value=data.label_column),
            gr.Dataframe(value=frames["train"].head(services.MAX_PREVIEW_ROWS).astype(str), column_widths=services.column_widths(columns, data.text_columns)),
            plots.label_distribution(report["class_counts"], data.label_names),
            plots.text_lengths(lengths),
            gr.Dropdown(choices=splits, value="train"),
            gr.Number(value=0, info=f"Row of the split, from 0 (train has {len(data.splits['train']):,} rows)."),
        )

    load_outputs = [ctx.dataset, summary, checks, text_column, text_pair_column, label_column, preview, label_plot, length_plot, inspect_split, inspect_index]
    load_inputs = [source, train_file, validation_file, test_file, hub_dataset, hub_config, hub_split, text_column, text_pair_column, label_column]
    load_button.click(load_dataset, load_inputs, load_outputs, api_name="load_dataset")

    def load_new_file(source, train_file, validation_file, test_file):
        """A just-uploaded training file, with its columns detected afresh."""
        return load_dataset(services.SOURCE_FILE, train_file, validation_file, test_file, "", "", "train", services.AUTO, services.NO_PAIR, services.AUTO)

    train_file.upload(load_new_file, load_inputs[:4], load_outputs, api_name="load_uploaded_dataset", api_visibility="undocumented")
    for dropdown in (text_column, text_pair_column, label_column):
        dropdown.input(load_dataset, load_inputs, load_outputs, api_name=f"set_{dropdown.label.lower().replace(' ', '_')}", api_visibility="undocumented")

    def choose_source(choice):
        """Show the fields of the chosen source; columns go back to auto-detection."""
        return (
            gr.Group(visible=choice == services.SOURCE_FILE),
            gr.Group(visible=choice == services.SOURCE_HUB),
            gr.Dropdown(value=services.AUTO),
            gr.Dropdown(value=services.NO_PAIR),
            gr.Dropdown(value=services.AUTO),
        )

    column_resets = [file_group, hub_group, text_column, text_pair_column, label_column]
    source.change(choose_source, source, column_resets, api_name="choose_source", api_visibility="private")
    for new_data in (train_file, hub_dataset):
        new_data.change(reset_columns, None, [text_column, text_pair_column, label_column], api_visibility="private")

    def load_example():
        """The example dataset, loaded as the page opens so a new user sees data at once."""
        return load_dataset(services.SOURCE_EXAMPLE, None, None, None, "", "", "train", services.AUTO, services.NO_PAIR, services.AUTO)

    ctx.demo.load(load_example, None, load_outputs, api_name="load_example_dataset", api_visibility="undocumented")

    @ui_errors
    def inspect_tokens(model_name_or_path, max_length, split, index, text, selection):
        """Tokenize one example (or a typed text) with the model's tokenizer; returns chips, summary, details and the token-length histogram."""
        from ..tokenization import inspect_example  # noqa: PLC0415 - loads transformers

        model = (model_name_or_path or "").strip()
        if not model:
            raise DataError("Choose a model whose tokenizer to use.")
        max_length = int(max_length or 0)
        if not 8 <= max_length <= 8192:
            raise DataError(f"max_length must be between 8 and 8192 tokens, got {max_length}.")
        tokenizer = services.tokenizer(model)
        label = None
        if text and text.strip():
            first, second = text, None
        else:
            data = services.prepared(selection)
            if split not in data.splits:
                raise DataError(f"The dataset has no split '{split}'; it has: {', '.join(data.splits)}.")
            rows = data.splits[split]
            index = int(index or 0)
            if not 0 <= index < len(rows):
                raise DataError(f"Example number {index} is out of range: the {split} split has rows 0 to {len(rows) - 1}.")
            row = rows[index]
            first, second = row["text"], row.get("text_pair")
            label = data.label_names[row["label"]]
        inspection = inspect_example(tokenizer, first, second, max_length=max_length)
        stats = services.token_stats(selection, model, max_length)
        return (
            render.token_summary(inspection, label),
            render.token_chips(inspection),
            render.token_table(inspection),
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
