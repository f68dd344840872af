"""Evaluation tab: how good is a finished run, where does it fail, and what would a cheap model score?

Endpoints: `/evaluation_report` (a run's split: tables, confusion matrix, ROC/PR, per-class F1,
baselines, misclassified examples, predictions CSV) and `/evaluate_run` (score the run's model on
another labelled file or Hub split, then show that report).
"""

import shutil
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from .. import plots
from ..errors import DataError
from ..runs import read_json
from ..tasks import TASKS
from . import services
from .dataset_tab import FILE_TYPES
from .handlers import ui_errors
from .studio import StudioContext

HEADLINE = ("accuracy", "f1_macro", "precision_macro", "recall_macro", "f1_weighted", "roc_auc", "average_precision", "loss")
MAX_MISCLASSIFIED = 200


def build_evaluation_tab(ctx: StudioContext) -> None:
    with gr.Tab("3 · Evaluate", id="evaluate") as tab:
        gr.Markdown("### Evaluate a finished run\nScores on held-out data, where the model is confused, and how it compares with simple baselines.")
        with gr.Row():
            run_picker = gr.Dropdown([], label="Run", info="Completed runs.", scale=3, allow_custom_value=True)
            split_picker = gr.Dropdown([], label="Split", info="The run's test or validation split, or data you evaluated it on.", scale=2, allow_custom_value=True)
            show_button = gr.Button("Show evaluation", variant="primary", scale=1)
        headline = gr.Markdown()
        with gr.Row():
            metrics_table = gr.Dataframe(label="Final metrics (model vs baselines)", interactive=False)
            per_class_table = gr.Dataframe(label="Per class", interactive=False)
        epoch_table = gr.Dataframe(label="During training (validation, per evaluation)", interactive=False)
        with gr.Row():
            confusion_plot = gr.Plot(label="Confusion matrix", show_label=False)
            f1_plot = gr.Plot(label="F1 per class", show_label=False)
        with gr.Row():
            roc_plot = gr.Plot(label="ROC curve", show_label=False)
            pr_plot = gr.Plot(label="Precision-recall curve", show_label=False)
        baseline_plot = gr.Plot(label="Baselines", show_label=False)
        misclassified_table = gr.Dataframe(label="Misclassified examples, most confident first", interactive=False, wrap=True, max_height=400)
        predictions_file = gr.File(label="All predictions (CSV)", interactive=False)
        with gr.Accordion("Evaluate on other data", open=False):
            gr.Markdown("A labelled file with the same text and label columns, or a Hub dataset split. The results appear as a new entry under *Split*.")
            with gr.Row():
                other_file = gr.File(label="Labelled file", file_types=FILE_TYPES)
                with gr.Column():
                    other_dataset = gr.Textbox(value="", label="or Hub dataset id", placeholder="stanfordnlp/sst2")
                    with gr.Row():
                        other_config = gr.Textbox(value="", label="Configuration", placeholder="(default)")
                        other_split = gr.Textbox(label="Split", value="test")
            evaluate_button = gr.Button("Evaluate")

    outputs = [headline, metrics_table, per_class_table, epoch_table, confusion_plot, f1_plot, roc_plot, pr_plot, baseline_plot, misclassified_table, predictions_file]

    @ui_errors
    def evaluation_report(run_id, split):
        """Everything about one evaluated split of a run: metrics, per-class scores, plots, baselines, errors and predictions."""
        if not run_id:
            raise DataError("Choose a completed run first (train one in the Train tab).")
        run = ctx.store.get(run_id)
        splits = [key for _, key in services.evaluation_splits(run)]
        if not splits:
            raise DataError(f"Run {run.id} has no evaluation yet (it is {run.state}). Wait for it to complete.")
        split = split if split in splits else splits[0]
        task = TASKS.get(run.config().model.task, TASKS["text-classification"])
        files = services.evaluation_files(run, split)
        report, predictions = files["report"], files["predictions"]
        metrics = dict(report.get("metrics", {}))
        if report.get("loss") is not None:
            metrics["loss"] = report["loss"]
        baselines = read_json(run.eval_dir / "baselines.json", {}) or {}
        baseline_split = {name: values.get(split, {}) for name, values in baselines.items() if isinstance(values, dict) and isinstance(values.get(split), dict)}
        names = [n for n in dict.fromkeys([*task.headline, *HEADLINE]) if isinstance(metrics.get(n), (int, float))]
        table = pd.DataFrame(
            [[name, _r(metrics.get(name)), *(_r(b.get(name)) for b in baseline_split.values())] for name in names],
            columns=["metric", "model", *(_BASELINE.get(n, n) for n in baseline_split)],
        )
        rows = services.per_class_rows(report)
        per_class = pd.DataFrame(rows).round(4) if rows else pd.DataFrame()
        chart_report = {**report, "per_class": rows}
        if not report.get("confusion_matrix") and report.get("tag_confusion_matrix"):
            chart_report["confusion_matrix"] = report["tag_confusion_matrix"]
        wrong, title = services.mistakes(predictions)
        wrong = wrong.head(MAX_MISCLASSIFIED).round(4)
        download = None
        if files["predictions_path"] is not None:
            download = Path(tempfile.mkdtemp(prefix="finetuner-predictions-")) / f"{files['predictions_path'].stem}_{run.id}.csv"
            shutil.copyfile(files["predictions_path"], download)
        examples = report.get("examples") or sum(r.get("support", 0) for r in report.get("per_class", []))
        shown = ", ".join(f"{name} **{metrics[name]:.3f}**" for name in task.headline if isinstance(metrics.get(name), (int, float)))
        line = f"**{run.id}** on **{split.replace('extra:', '')}**" + (f" ({examples:,} examples)" if examples else "") + f": {shown}"
        if "tfidf_logreg" in baseline_split:
            line += f" · TF-IDF baseline macro F1 {baseline_split['tfidf_logreg'].get('f1_macro', 0):.3f}"
        if "correct" in predictions:
            line += f" · {len(wrong):,} misclassified shown" if len(wrong) else " · no mistakes"
        text_columns = [c for c in ("text", "text_pair", "document", "prompt", "reference", "generated") if c in wrong.columns]
        return (
            line,
            table,
            per_class,
            services.epoch_metrics(run, tuple(dict.fromkeys(["loss", *task.headline, *HEADLINE]))),
            plots.confusion_matrix(chart_report),
            plots.per_class_f1(chart_report),
            plots.roc_curve(report),
            plots.pr_curve(report),
            plots.baselines(metrics, baseline_split) if baseline_split else plots.empty("No baselines for this split."),
            gr.Dataframe(value=wrong, label=title, column_widths=services.column_widths(list(wrong.columns), text_columns) if len(wrong.columns) else None),
            str(download) if download else None,
        )

    show_button.click(evaluation_report, [run_picker, split_picker], outputs, api_name="evaluation_report")

    @ui_errors
    def choose_run(run_id):
        """The evaluated splits of a run; shows the first."""
        if not run_id:
            return gr.Dropdown(choices=[], value=None), *[gr.skip()] * len(outputs)
        run = ctx.store.get(run_id)
        choices = services.evaluation_splits(run)
        value = choices[0][1] if choices else None
        return gr.Dropdown(choices=choices, value=value), *evaluation_report(run_id, value)

    run_picker.input(choose_run, run_picker, [split_picker, *outputs], api_name="choose_evaluation_run", api_visibility="undocumented")
    split_picker.input(evaluation_report, [run_picker, split_picker], outputs, api_name="choose_evaluation_split", api_visibility="private")

    @ui_errors
    def evaluate_run(run_id, test_file, dataset_name, dataset_config_name, split):
        """Evaluate a completed run's model on a labelled file or a Hub dataset split; returns the new split's report."""
        from ..evaluate_run import evaluate_run as evaluate  # noqa: PLC0415 - loads torch

        if not run_id:
            raise DataError("Choose a completed run first.")
        run = ctx.store.get(run_id)
        if not test_file and not (dataset_name or "").strip():
            raise DataError("Upload a labelled file or enter a Hub dataset id to evaluate on.")
        path = services.store_upload(test_file, ctx.runs_dir) if test_file else None
        result = evaluate(run, test_file=path, dataset_name=(dataset_name or "").strip() or None, dataset_config_name=(dataset_config_name or "").strip() or None, split=(split or "test").strip())
        key = f"extra:{result['name']}"
        return gr.Dropdown(choices=services.evaluation_splits(run), value=key), *evaluation_report(run.id, key)

    evaluate_button.click(evaluate_run, [run_picker, other_file, other_dataset, other_config, other_split], [split_picker, *outputs], api_name="evaluate_run", concurrency_limit=1, concurrency_id="heavy")

    def refresh(current_run, chosen):
        """Completed runs; the page's current run preselected when it is completed."""
        choices = services.run_choices(ctx.store, completed_only=True)
        ids = [value for _, value in choices]
        value = chosen if chosen in ids else (current_run if current_run in ids else (ids[0] if ids else None))
        if value is None:
            return gr.Dropdown(choices=choices, value=None), gr.Dropdown(choices=[], value=None), *[gr.skip()] * len(outputs)
        if value == chosen:
            return gr.Dropdown(choices=choices, value=value), gr.skip(), *[gr.skip()] * len(outputs)
        splits = services.evaluation_splits(ctx.store.get(value))
        split = splits[0][1] if splits else None
        try:
            shown = evaluation_report(value, split)
        except gr.Error:
            shown = [gr.skip()] * len(outputs)
        return gr.Dropdown(choices=choices, value=value), gr.Dropdown(choices=splits, value=split), *shown

    tab.select(refresh, [ctx.current_run, run_picker], [run_picker, split_picker, *outputs], api_name="refresh_evaluation", api_visibility="private")


_BASELINE = {"majority": "majority class", "tfidf_logreg": "TF-IDF + logistic regression"}


def _r(value):
    return round(value, 4) if isinstance(value, (int, float)) else None
