"""Evaluation tab: how good is a finished run, where does it fail, and what would a cheap model score?

Endpoints: `/evaluation_report` (a run's split: tables, charts, baselines, the examples worth reading,
predictions CSV), `/evaluation_comparison` (a causal-LM run's base model against the fine-tuned one) and
`/evaluate_run` (score the run's model on another labelled file or Hub split, then show that report).

What is shown follows the run's task, from the files its evaluation wrote to `eval/`:

* text classification: metrics beside the majority and TF-IDF baselines, per class, confusion matrix
  (many classes: the most frequent mistakes), ROC and precision-recall curves (binary; hidden otherwise),
  misclassified examples, most confident first (many classes: the three likeliest labels in one column
  instead of one probability column per class; the CSV keeps them all);
* NER: entity-level precision/recall/F1 and word accuracy beside the most-frequent-tag baseline, the
  per-entity-type table and F1 bars, the tag confusion matrix, sentences with tagging errors;
* causal LM: loss, perplexity, ROUGE/BLEU of the generated sample, the generations beside their
  references (and the base model's), and base vs fine-tuned perplexity on validation and on general
  text (forgetting);
* seq2seq: ROUGE-1/2/L/Lsum and BLEU beside Lead-1, the generated summaries beside the references.

`/evaluation_report` returns the same eleven values for every task (a chart or table a task does not
have comes back empty and is hidden on the page).
"""

import shutil
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from .. import access, plots
from ..errors import DataError
from ..runs import COMPARISON_FILE, read_json
from ..tasks import TASKS
from . import ownership, render, services, tables
from .dataset_tab import FILE_TYPES
from .handlers import picked, ui_errors
from .studio import StudioContext

# Tasks whose evaluation writes generations (generations_<split>.csv) rather than per-example labels.
GENERATIVE = ("causal-lm", "seq2seq")
# The metrics drawn beside each task's baselines (on one 0-1 axis; BLEU, 0-100, stays in the table).
BASELINE_METRICS = {
    "text-classification": ("accuracy", "f1_macro"),
    "token-classification": ("f1", "precision", "recall"),
    "seq2seq": ("rouge1", "rouge2", "rougeL"),
}
HEADLINE = ("accuracy", "f1_macro", "precision_macro", "recall_macro", "f1_weighted", "roc_auc", "average_precision", "loss")
MAX_MISCLASSIFIED = 200
# The first words of the headline's note on an evaluation kept in the temporary folder (`services.temporary_evaluation_note`).
NOT_SAVED = "⚠ **Not saved in the run**:"


def build_evaluation_tab(ctx: StudioContext) -> None:
    with gr.Tab("3 · Evaluate", id="evaluate") as tab:
        gr.Markdown("### Evaluate a finished run\nScores on held-out data, where the model is confused, and how it compares with simple baselines.")
        with gr.Row():
            run_picker = gr.Dropdown([], label="Run", info="Completed runs.", scale=3, allow_custom_value=True)
            split_picker = gr.Dropdown([], label="Split", info="The run's test or validation split, or data you evaluated it on.", scale=2, allow_custom_value=True)
            show_button = gr.Button("Show evaluation", variant="primary", scale=1)
        headline = gr.Markdown()
        # What each task's evaluation wrote decides what is shown: the containers below are shown or hidden
        # for the chosen run's task (see VIEWS); being layout, they are not part of the API's outputs.
        metrics_table = gr.Dataframe(label="Final metrics (model vs baselines)", interactive=False, wrap=True)
        with gr.Accordion("Per class", open=True) as per_class_box:  # NER: per entity type
            per_class_table = gr.Dataframe(label="Scores per class or entity type", show_label=False, interactive=False)
        epoch_table = gr.Dataframe(label="During training (validation, per evaluation)", interactive=False)
        with gr.Row() as label_charts:  # classification and NER
            confusion_plot = gr.Plot(label="Confusion matrix", show_label=False)
            f1_plot = gr.Plot(label="F1 per class", show_label=False)
        with gr.Row() as curve_charts:  # binary classification
            roc_plot = gr.Plot(label="ROC curve", show_label=False)
            pr_plot = gr.Plot(label="Precision-recall curve", show_label=False)
        with gr.Column() as baseline_box:  # every task with a cheap baseline (causal LM: the comparison below)
            baseline_plot = gr.Plot(label="Baselines", show_label=False)
        with gr.Group(visible=False) as comparison_box:  # causal LM
            gr.Markdown(
                "#### Before and after fine-tuning\nThe base model against the fine-tuned one: perplexity falling on your validation data is what "
                "fine-tuning gained; perplexity rising on a general-text sample is what the model forgot (LoRA usually forgets less)."
            )
            with gr.Row():
                comparison_table = gr.Dataframe(label="Base model vs fine-tuned", interactive=False)
                comparison_plot = gr.Plot(label="Perplexity before and after", show_label=False)
        misclassified_table = gr.Dataframe(label="Misclassified examples, most confident first", interactive=False, wrap=True, max_height=400, elem_classes="ft-wrap-anywhere")
        predictions_file = gr.File(label="All predictions or generations (CSV)", interactive=False)
        with gr.Accordion("Evaluate on other data", open=False):
            gr.Markdown(
                "A file with the same columns as the run's training data (text and label; words and tags; prompt and answer; "
                "document and summary), or a Hub dataset split. The results appear as a new entry under *Split*."
            )
            with gr.Row():
                other_file = gr.File(label="Labelled file", file_types=FILE_TYPES)
                with gr.Column():
                    other_dataset = gr.Textbox(value="", label="or Hub dataset id", placeholder="stanfordnlp/sst2")
                    with gr.Row():
                        other_config = gr.Textbox(value="", label="Configuration", placeholder="(default)")
                        other_split = gr.Textbox(label="Split", value="test")
            evaluate_button = gr.Button("Evaluate")

    views = [per_class_box, label_charts, curve_charts, baseline_box, comparison_box]
    outputs = [headline, metrics_table, per_class_table, epoch_table, confusion_plot, f1_plot, roc_plot, pr_plot, baseline_plot, misclassified_table, predictions_file, *views]

    @ui_errors
    def evaluation_report(run_id, split, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """Everything about one evaluated split of a run: metrics, per-class scores, plots, baselines, errors and predictions."""
        if not run_id:
            raise DataError("Choose a completed run first (train one in the Train tab).")
        run = ownership.owned_run(ctx, run_id, request, profile, oauth_token)
        splits = [key for _, key in services.evaluation_splits(run)]
        if not splits:
            raise DataError(f"Run {run.id} has no evaluation yet (it is {run.state}). Wait for it to complete.")
        split = split if split in splits else splits[0]
        task_name = run.config().model.task
        task = TASKS.get(task_name, TASKS["text-classification"])
        files = services.evaluation_files(run, split)
        report, predictions = files["report"], files["predictions"]
        metrics = dict(report.get("metrics", {}))
        if report.get("loss") is not None:
            metrics["loss"] = report["loss"]
        baselines = read_json(run.eval_dir / "baselines.json", {}) or {}
        baseline_split = {name: values.get(split, {}) for name, values in baselines.items() if isinstance(values, dict) and isinstance(values.get(split), dict)}
        generative = task_name in GENERATIVE
        download = None
        if files["predictions_path"] is not None:
            download = Path(tempfile.mkdtemp(prefix="finetuner-predictions-")) / f"{files['predictions_path'].stem}_{run.id}.csv"
            shutil.copyfile(files["predictions_path"], download)
        if generative:
            examples_table = render.generations_table(predictions, limit=MAX_MISCLASSIFIED)
            title = f"Generations: the reference beside the model's output ({len(examples_table):,} of {len(predictions):,} shown)" if len(predictions) else "No generations were written for this split."
        else:
            examples_table, title = tables.mistakes(predictions)
            examples_table = examples_table.head(MAX_MISCLASSIFIED).round(4)
        line = _headline(run.id, split, task_name, task.headline, report, metrics, predictions, baseline_split, examples_table)
        if task_name == "causal-lm":
            note = render.forgetting_note(read_json(run.eval_dir / COMPARISON_FILE, {}) or {})
            line += f" · {note}" if note else ""
        if split.startswith(f"{services.TEMPORARY_EVALUATION}:"):
            line += f"\n\n{NOT_SAVED} {render.md_escape(services.temporary_evaluation_note(run))}"
        wide = [c for c in ("text", "text_pair", "document", "prompt", "reference", "generated", "base model (before)", "entities", "predicted_entities") if c in examples_table.columns]
        empty = plots.empty("Not drawn for this task.")
        if task_name == "token-classification":
            per_class = render.per_type_table(report)
            tags = {"confusion_matrix": report.get("tag_confusion_matrix"), "label_names": report.get("label_names", [])}
            confusion = plots.confusion_matrix(tags, title="Tag confusion (words, by first sub-token)")
            f1_chart = plots.per_entity_f1(report)
        elif generative:
            per_class, confusion, f1_chart = pd.DataFrame(), empty, empty
        else:
            rows = tables.per_class_rows(report)
            per_class = pd.DataFrame(rows).round(4) if rows else pd.DataFrame()
            chart_report = {**report, "per_class": rows}
            confusion, f1_chart = plots.confusion_matrix(chart_report), plots.per_class_f1(chart_report)
        baseline_metrics = BASELINE_METRICS.get(task_name)
        return (
            line,
            render.metric_table(task_name, metrics, baseline_split, report.get("intervals"), report.get("interval_level", 0.95)),
            per_class,
            services.epoch_metrics(run, tuple(dict.fromkeys(["loss", *task.headline, *task.metrics, *HEADLINE]))),
            confusion,
            f1_chart,
            plots.roc_curve(report) if not generative else empty,
            plots.pr_curve(report) if not generative else empty,
            plots.baselines(metrics, baseline_split, metrics=baseline_metrics, model_intervals=report.get("intervals")) if baseline_split and baseline_metrics else plots.empty("No baselines for this split."),
            gr.Dataframe(value=examples_table, label=title, column_widths=tables.predictions_widths(list(examples_table.columns), wide) if len(examples_table.columns) else None),
            str(download) if download else None,
            gr.Accordion(label="Per entity type (entity-level scores)" if task_name == "token-classification" else "Per class", visible=not generative),
            gr.Row(visible=not generative),
            gr.Row(visible=task_name == "text-classification" and bool(report.get("roc_curve") or report.get("pr_curve"))),  # binary only
            gr.Column(visible=task_name != "causal-lm"),
            gr.Group(visible=task_name == "causal-lm"),
        )

    @ui_errors
    def evaluation_comparison(run_id, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """A causal-LM run's base model against its fine-tuned model (eval/comparison.json): perplexity and loss on the
        validation split and on a general-text sample (forgetting), and the generation scores; a table and a chart."""
        if not run_id:
            raise DataError("Choose a completed run first (train one in the Train tab).")
        run = ownership.owned_run(ctx, run_id, request, profile, oauth_token)
        comparison = read_json(run.eval_dir / COMPARISON_FILE, {}) or {}
        if not comparison:
            task_name = run.config().model.task
            why = "it is still training" if run.state != "completed" else "only causal-LM runs are scored against their base model" if task_name != "causal-lm" else "its evaluation wrote none"
            return render.comparison_table({}), plots.empty(f"No before/after comparison for run {run.id}: {why}.")
        return render.comparison_table(comparison), plots.perplexity_comparison(comparison)

    def quiet_comparison(run_id, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """The comparison after another view chose a run: nothing shown (no second error) when it cannot be read."""
        try:
            return evaluation_comparison(run_id, request, profile, oauth_token)
        except gr.Error:
            return gr.skip(), gr.skip()

    comparison_outputs = [comparison_table, comparison_plot]
    show_button.click(evaluation_report, [run_picker, split_picker], outputs, api_name="evaluation_report").success(
        evaluation_comparison, run_picker, comparison_outputs, api_name="evaluation_comparison"
    )

    @ui_errors
    def choose_run(run_id, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """The evaluated splits of a run; shows the first."""
        if not run_id:
            return gr.Dropdown(choices=[], value=None), *[gr.skip()] * len(outputs)
        run = ownership.owned_run(ctx, run_id, request, profile, oauth_token)
        choices = services.evaluation_splits(run)
        value = choices[0][1] if choices else None
        return gr.Dropdown(choices=choices, value=value), *evaluation_report(run_id, value, request, profile, oauth_token)

    run_picker.input(inputs=run_picker, **picked(run_picker, choose_run, [split_picker, *outputs]), api_name="choose_evaluation_run", api_visibility="undocumented", trigger_mode="always_last").success(
        quiet_comparison, run_picker, comparison_outputs, api_name="choose_evaluation_comparison", api_visibility="private"
    )
    split_picker.input(inputs=[run_picker, split_picker], **picked(split_picker, evaluation_report, outputs, position=1), api_name="choose_evaluation_split", api_visibility="private", trigger_mode="always_last")

    @ui_errors(note=lambda **_: "The report below is still the one shown before.")
    @ownership.reads_as_visitor
    def evaluate_run(run_id, test_file, dataset_name, dataset_config_name, split, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None, typed_token: str | None = None):
        """Evaluate a completed run's model on a labelled file or a Hub dataset split; returns the new split's report."""
        from ..evaluate_run import evaluate_run as evaluate  # noqa: PLC0415 - loads torch

        if not run_id:
            raise DataError("Choose a completed run first.")
        run = ownership.owned_run(ctx, run_id, request, profile, oauth_token)
        if not test_file and not (dataset_name or "").strip():
            raise DataError("Upload a labelled file or enter a Hub dataset id to evaluate on.")
        access.check_locations(runs_dir=ctx.runs_dir, data_files=[test_file], dataset_name=dataset_name)  # shared: uploads and Hub ids only
        path = services.store_upload(test_file, ctx.runs_dir) if test_file else None
        out_dir = services.other_data_folder(run)  # None: the run's own folder; a read-only one's go to a temporary folder
        result = evaluate(run, test_file=path, dataset_name=(dataset_name or "").strip() or None, dataset_config_name=(dataset_config_name or "").strip() or None, split=(split or "test").strip(), out_dir=out_dir)
        key = f"{'extra' if out_dir is None else services.TEMPORARY_EVALUATION}:{result['name']}"
        return gr.Dropdown(choices=services.evaluation_splits(run), value=key), *evaluation_report(run.id, key, request, profile, oauth_token)

    evaluate_button.click(evaluate_run, [run_picker, other_file, other_dataset, other_config, other_split, ctx.hub_token], [split_picker, *outputs], api_name="evaluate_run", concurrency_limit=1, concurrency_id="heavy",
        show_progress_on=[headline],  # a failure marks the headline alone, not every table and plot of the report still shown
    )

    def refresh(current_run, chosen, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """Completed runs (on a shared studio: this visitor's own); the page's current run preselected when it is completed."""
        choices = ownership.run_choices(ctx, ownership.quiet_visitor(ctx, request, profile, oauth_token), completed_only=True)
        ids = [value for _, value in choices]
        value = chosen if chosen in ids else (current_run if current_run in ids else (ids[0] if ids else None))
        if value is None:
            return gr.Dropdown(choices=choices, value=None), gr.Dropdown(choices=[], value=None), *[gr.skip()] * len(outputs)
        if value == chosen:
            return gr.Dropdown(choices=choices, value=value), gr.skip(), *[gr.skip()] * len(outputs)
        splits = services.evaluation_splits(ctx.store.get(value))
        split = splits[0][1] if splits else None
        try:
            shown = evaluation_report(value, split, request, profile, oauth_token)
        except gr.Error:
            shown = [gr.skip()] * len(outputs)
        return gr.Dropdown(choices=choices, value=value), gr.Dropdown(choices=splits, value=split), *shown

    tab.select(refresh, [ctx.current_run, run_picker], [run_picker, split_picker, *outputs], api_name="refresh_evaluation", api_visibility="undocumented").then(
        quiet_comparison, run_picker, comparison_outputs, api_name="refresh_evaluation_comparison", api_visibility="private"
    )


def _headline(run_id, split, task_name, headline_names, report, metrics, predictions, baseline_split, examples_table) -> str:
    """One line: the run, the split and its size, the task's headline metrics, the strongest baseline, and
    what the table below holds."""
    if task_name == "token-classification":
        size = f"{len(predictions):,} sentences, {report['true_entities']:,} entities" if "true_entities" in report and len(predictions) else ""
        if report.get("long_sentences"):
            size += f"; {report['long_sentences']:,} longer than max_seq_length, read in overlapping windows as prediction reads them"
        if report.get("truncated_words"):  # a report written before evaluation read long sentences in windows
            size += f"; {report['truncated_words']:,} words past max_seq_length, scored as predicted O"
    elif task_name == "causal-lm":
        size = f"{report['examples']:,} examples, {report.get('generated_examples', 0):,} answers generated" if report.get("examples") else ""
    else:
        examples = report.get("examples") or sum(r.get("support", 0) for r in report.get("per_class", []))
        size = f"{examples:,} examples" if examples else ""
        absent = report.get("absent_classes") or []
        if absent and size:
            named = ", ".join(render.md_escape(str(name)) for name in absent[:5]) + (f" and {len(absent) - 5:,} more" if len(absent) > 5 else "")
            size += f"; macro averages over the {len(report.get('label_names', [])) - len(absent):,} classes present, not {named} (absent, never predicted)"
    if report.get("rows_left_out"):
        size += f"{'; ' if size else ''}{report['rows_left_out']:,} rows without a label or reference left out"
    shown = ", ".join(f"{name} **{metrics[name]:.3f}**" for name in headline_names if isinstance(metrics.get(name), (int, float)))
    line = f"**{render.md_escape(run_id)}** on **{render.md_escape(split.partition(':')[2] or split)}**" + (f" ({size})" if size else "") + f": {shown}"
    from ..intervals import describe_gain  # noqa: PLC0415

    for name, label, key in (("tfidf_logreg", "TF-IDF baseline macro F1", "f1_macro"), ("most_frequent_tag", "most-frequent-tag baseline F1", "f1"), ("lead_1", "Lead-1 baseline ROUGE-L", "rougeL"), ("base_model", "base model ROUGE-L", "rougeL")):
        if name in baseline_split:
            line += f" · {label} {baseline_split[name].get(key, 0):.3f}"
            gain = describe_gain("it", baseline_split[name])
            line += f", model {gain}" if gain else ""
    if "correct" in predictions:
        if task_name == "token-classification":
            line += f" · {len(examples_table):,} sentences with tagging errors shown" if len(examples_table) else " · no tagging errors"
        else:
            line += f" · {len(examples_table):,} misclassified shown" if len(examples_table) else " · no mistakes"
    return line
