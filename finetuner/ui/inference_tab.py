"""Try-it tab: label probabilities for a typed text, and batch predictions for a file.

Endpoints: `/predict` (text -> {label: probability}) and `/predict_file` (file -> table + CSV).
Models are loaded once per run and cached by the engine, so typing stays fast while a run trains.
"""

import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from ..errors import DataError
from . import services
from .dataset_tab import FILE_TYPES
from .handlers import ui_errors
from .studio import StudioContext

EXAMPLES = [
    "A moving, beautifully acted film that stayed with me for days.",
    "Two hours of my life I will never get back.",
    "The plot was thin, but the soundtrack almost saved it.",
    "I laughed, I cried, and I would happily watch it again tomorrow.",
]
MAX_TEXT_CHARS = 20_000


def build_inference_tab(ctx: StudioContext) -> None:
    with gr.Tab("4 · Try it", id="try") as tab:
        gr.Markdown("### Try a trained model\nType a text and see what the model makes of it (the probability of each label, the entities, or the generated text), or run it on a whole file.")
        with gr.Row():
            run_picker = gr.Dropdown([], label="Model from run", info="Completed runs.", scale=3, allow_custom_value=True)
            refresh_button = gr.Button("↻", size="sm", scale=0, min_width=40)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                text = gr.Textbox(value="", label="Text to classify", lines=4, placeholder="Type or paste a text…")
                classify_button = gr.Button("Classify", variant="primary")
                gr.Examples(EXAMPLES, inputs=text, label="Example inputs")
                run_examples = gr.Dropdown([], label="Or a text from the run's test split", info="Pick one to copy it into the box.", allow_custom_value=True)
            with gr.Column(scale=2):
                probabilities = gr.Label(label="Label probabilities", num_top_classes=10)
                output = gr.JSON(label="Model output")
        with gr.Accordion("Classify a file", open=False):
            with gr.Row():
                batch_file = gr.File(label="File with a text column", file_types=FILE_TYPES)
                text_column = gr.Textbox(value="", label="Text column", placeholder="auto-detect", info="Leave empty to detect it.")
            batch_button = gr.Button("Classify file")
            batch_preview = gr.Dataframe(label="Predictions (first rows)", interactive=False, wrap=True, max_height=360)
            batch_download = gr.File(label="Predictions (CSV)", interactive=False)

    @ui_errors
    def predict(run_id, text):
        """A completed run's model on one text: label probabilities (classification) and the model's output record (every task)."""
        from ..inference import load_predictor  # noqa: PLC0415 - loads torch

        if not run_id:
            raise DataError("Choose a completed run first (train one in the Train tab).")
        if not (text or "").strip():
            raise DataError("Type a text to classify.")
        if len(text) > MAX_TEXT_CHARS:
            raise DataError(f"The text has {len(text):,} characters; paste at most {MAX_TEXT_CHARS:,}.")
        predictor = load_predictor(str(ctx.store.get(run_id).path), runs_dir=ctx.runs_dir)
        record = predictor.records([text])[0] if hasattr(predictor, "records") else {"text": text, "probabilities": predictor.predict([text])[0]}
        probabilities = record.get("probabilities")
        return (probabilities if probabilities else None), record

    classify_button.click(predict, [run_picker, text], [probabilities, output], api_name="predict", concurrency_limit=2, concurrency_id="inference")
    text.submit(predict, [run_picker, text], [probabilities, output], api_name="predict_on_enter", api_visibility="private", concurrency_id="inference")

    @ui_errors
    def predict_file(run_id, file, text_column):
        """Predictions for every row of an uploaded file; returns the first rows and a CSV to download."""
        from ..inference import load_predictor, predict_file as predict_rows  # noqa: PLC0415 - loads torch

        if not run_id:
            raise DataError("Choose a completed run first.")
        if not file:
            raise DataError("Upload a file with a text column (CSV, TSV, JSON, JSONL or Parquet).")
        predictor = load_predictor(str(ctx.store.get(run_id).path), runs_dir=ctx.runs_dir)
        frame = predict_rows(predictor, file, text_column=(text_column or "").strip() or None)
        out = Path(tempfile.mkdtemp(prefix="finetuner-batch-")) / f"predictions_{Path(file).stem}.csv"
        frame.to_csv(out, index=False)
        return frame.head(100).round(4), str(out)

    batch_button.click(predict_file, [run_picker, batch_file, text_column], [batch_preview, batch_download], api_name="predict_file", concurrency_limit=1, concurrency_id="heavy")

    def test_examples(run_id) -> list[str]:
        if not run_id:
            return []
        try:
            run = ctx.store.get(run_id)
            path = run.eval_dir / "predictions_test.csv"
            if not path.is_file():
                path = run.eval_dir / "predictions_validation.csv"
            frame = pd.read_csv(path, keep_default_na=False, nrows=200)
        except Exception:  # noqa: BLE001 - examples are a convenience
            return []
        return [str(t) for t in frame["text"].head(20)]

    def refresh(current_run, chosen):
        choices = services.run_choices(ctx.store, completed_only=True)
        ids = [value for _, value in choices]
        value = chosen if chosen in ids else (current_run if current_run in ids else (ids[0] if ids else None))
        return gr.Dropdown(choices=choices, value=value), gr.Dropdown(choices=test_examples(value), value=None)

    tab.select(refresh, [ctx.current_run, run_picker], [run_picker, run_examples], api_name="refresh_inference_runs", api_visibility="private")
    refresh_button.click(refresh, [ctx.current_run, run_picker], [run_picker, run_examples], api_name="refresh_inference_runs_button", api_visibility="private")
    run_picker.input(lambda run_id: gr.Dropdown(choices=test_examples(run_id), value=None), run_picker, run_examples, api_name="run_test_examples", api_visibility="private")
    run_examples.input(lambda chosen: chosen or gr.skip(), run_examples, text, api_name="use_test_example", api_visibility="private")
