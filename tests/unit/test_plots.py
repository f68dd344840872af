"""Plots are pure functions of plain data: right traces, right numbers, and an explanatory empty chart
when there is nothing to draw."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest

from finetuner import plots
from finetuner.follow import curves

BINARY_REPORT = {
    "label_names": ["negative", "positive"],
    "confusion_matrix": [[8, 2], [1, 9]],
    "per_class": [
        {"label": "negative", "precision": 0.889, "recall": 0.8, "f1": 0.842, "specificity": 0.9, "support": 10},
        {"label": "positive", "precision": 0.818, "recall": 0.9, "f1": 0.857, "specificity": 0.8, "support": 10},
    ],
    "roc_curve": {"fpr": [0, 0.1, 1], "tpr": [0, 0.9, 1], "thresholds": [1.0, 0.5, 0.0], "auc": 0.91},
    "pr_curve": {"precision": [0.5, 0.82, 1.0], "recall": [1.0, 0.9, 0.0], "thresholds": [0.1, 0.5], "average_precision": 0.88},
}


def empty_message(fig: go.Figure) -> str:
    return fig.layout.annotations[0].text if fig.layout.annotations and not fig.data else ""


def test_label_distribution_groups_splits_in_label_order():
    fig = plots.label_distribution({"train": {"positive": 6, "negative": 4}, "test": {"negative": 1, "positive": 1}}, ["negative", "positive"])
    assert [trace.name for trace in fig.data] == ["train", "test"]
    assert list(fig.data[0].x) == ["negative", "positive"] and list(fig.data[0].y) == [4, 6]
    assert fig.layout.barmode == "group"
    assert "No data" in empty_message(plots.label_distribution({}))


def test_token_lengths_marks_max_length_and_truncated_share():
    stats = {"train": {"lengths": [5, 9, 12, 30], "truncated_share": 0.25}, "validation": {"lengths": [6, 7], "truncated_share": 0.0}}
    fig = plots.token_lengths(stats, max_length=16)
    assert [trace.type for trace in fig.data] == ["histogram", "histogram"]
    assert any(shape.x0 == 16 for shape in fig.layout.shapes), "a line at max_length"
    assert "train: 25.0% truncated" in fig.layout.title.text
    assert fig.data[0].xbins.size >= 1, "integer lengths get whole-number bins"
    assert "inspect" in empty_message(plots.token_lengths({}, 16))


def test_token_lengths_count_the_examples_left_without_an_answer():
    """A causal LM's examples whose prompt fills max_length are left out of training: the chart said only how many were truncated."""
    stats = {"train": {"lengths": [5, 30, 40], "truncated_share": 2 / 3, "answers_cut_off": 1}, "validation": {"lengths": [6], "truncated_share": 0.0, "answers_cut_off": 0}}
    title = plots.token_lengths(stats, max_length=16).layout.title.text
    assert "train: 66.7% truncated, 1 left out (no answer left)" in title
    assert title.endswith("validation: 0.0% truncated"), "a split that loses none says nothing of it"


def test_text_lengths_overlays_splits():
    fig = plots.text_lengths({"train": [3, 4, 5], "test": [4]})
    assert fig.layout.barmode == "overlay" and len(fig.data) == 2


def test_training_curves_from_events():
    events = [
        {"type": "log", "step": 1, "epoch": 0.1, "metrics": {"loss": 0.7, "learning_rate": 1e-4}},
        {"type": "log", "step": 2, "epoch": 0.2, "metrics": {"loss": 0.6, "learning_rate": 9e-5}},
        {"type": "eval", "step": 2, "epoch": 0.2, "metrics": {"eval_loss": 0.65, "eval_accuracy": 0.7, "eval_f1_macro": 0.68}},
        {"type": "log", "step": 2, "epoch": 1.0, "metrics": {"train_runtime": 3.0, "train_loss": 0.65}},  # the summary: no point
    ]
    train, evals = curves(events)
    fig = plots.training_curves(train, evals)
    names = [trace.name for trace in fig.data]
    assert names == ["train loss", "eval loss", "accuracy", "f1_macro"]
    assert list(fig.data[0].y) == [0.7, 0.6]
    assert "first logged steps" in empty_message(plots.training_curves([], []))


def test_validation_accuracy_is_drawn_with_its_interval_band():
    evals = [{"step": s, "eval_loss": 0.5, "eval_accuracy": a, "eval_accuracy_interval": [a - 0.03, a + 0.02]} for s, a in ((10, 0.79), (20, 0.81))]
    fig = plots.training_curves([], evals)
    upper, lower, line = (trace for trace in fig.data if trace.xaxis == "x2")
    assert [*upper.y, *lower.y, *line.y] == pytest.approx([0.81, 0.83, 0.76, 0.78, 0.79, 0.81])
    assert lower.fill == "tonexty" and lower.name == "accuracy 95% interval" and not upper.showlegend
    assert [t.name for t in plots.training_curves([], [{k: v for k, v in p.items() if k != "eval_accuracy_interval"} for p in evals]).data] == ["eval loss", "accuracy"], "no interval, no band"


def test_resumed_runs_keep_the_latest_value_per_step():
    events = [
        {"type": "log", "step": 5, "metrics": {"loss": 0.9}},
        {"type": "log", "step": 5, "metrics": {"loss": 0.5}},
    ]
    train, _ = curves(events)
    assert [p["loss"] for p in train] == [0.5]


def test_compare_curves_shares_axes_per_run():
    points = ([{"step": 1, "loss": 0.7}], [{"step": 1, "eval_loss": 0.6, "eval_f1_macro": 0.5}])
    fig = plots.compare_curves({"A": points, "B": points})
    assert len(fig.data) == 6
    assert {trace.legendgroup for trace in fig.data} == {"A", "B"}


def test_confusion_matrix_counts_and_normalised():
    fig = plots.confusion_matrix(BINARY_REPORT)
    heat = fig.data[0]
    assert heat.type == "heatmap" and list(heat.x) == ["negative", "positive"]
    assert list(heat.text[0]) == ["8", "2"]
    normalised = plots.confusion_matrix(BINARY_REPORT, normalize=True).data[0]
    assert normalised.z[1][1] == pytest.approx(0.9) and normalised.text[1][1] == "90%"


def test_confusion_matrix_colours_each_row_by_its_share():
    """NER: O holds most words. Coloured by count, the B-person row's 6 of 10 wrong were as pale as empty
    cells beside O's 950; coloured by the row's share, they show."""
    report = {"confusion_matrix": [[950, 10], [6, 4]], "label_names": ["O", "B-person"]}
    heat = plots.confusion_matrix(report).data[0]
    assert [list(row) for row in heat.text] == [["950", "10"], ["6", "4"]], "the cells still say the counts"
    assert heat.z[1][0] == pytest.approx(0.6) and heat.z[0][0] == pytest.approx(950 / 960) and (heat.zmin, heat.zmax) == (0, 1)


def test_roc_and_pr_curves_carry_their_areas():
    roc = plots.roc_curve(BINARY_REPORT)
    assert "AUC 0.910" in roc.layout.title.text and list(roc.data[1].x) == [0, 0.1, 1]
    pr = plots.pr_curve(BINARY_REPORT)
    assert "AP 0.880" in pr.layout.title.text
    multiclass = {**BINARY_REPORT, "roc_curve": None, "pr_curve": None}
    assert "binary" in empty_message(plots.roc_curve(multiclass))
    assert "binary" in empty_message(plots.pr_curve(multiclass))


def test_per_class_f1_and_baselines():
    fig = plots.per_class_f1(BINARY_REPORT)
    assert list(fig.data[0].y) == [0.842, 0.857]
    fig = plots.baselines({"accuracy": 0.85, "f1_macro": 0.84}, {"majority": {"accuracy": 0.5, "f1_macro": 0.33}, "tfidf_logreg": {"accuracy": 0.7, "f1_macro": 0.69}})
    bars = {(trace.name, x): y for trace in fig.data for x, y in zip(trace.x, trace.y)}
    assert [x for (name, x) in bars if name == "accuracy"] == ["fine-tuned model", "majority class", "TF-IDF + logistic regression"]
    assert [y for (name, _), y in bars.items() if name == "f1_macro"] == [0.84, 0.33, 0.69]
    assert {trace.offsetgroup for trace in fig.data if trace.name == "f1_macro"} == {"f1_macro"}, "the model's and the baselines' F1 bars side by side"
    assert [trace.name for trace in fig.data if trace.showlegend] == ["accuracy", "f1_macro"], "one legend entry per metric"
    assert all(trace.error_y.array is None for trace in fig.data), "no interval in the report: no error bar"
    fig = plots.baselines({"accuracy": 0.85, "f1_macro": 0.84}, {"majority": {"accuracy": 0.5}}, model_intervals={"accuracy": [0.8, 0.88]})
    model_accuracy, baseline_accuracy, model_f1, _ = figure_json(fig)["data"]
    assert (model_accuracy["error_y"]["array"], model_accuracy["error_y"]["arrayminus"]) == ([pytest.approx(0.03)], [pytest.approx(0.05)])
    assert "error_y" not in baseline_accuracy and "error_y" not in model_f1, "only the model's scores with an interval get a bar"


def test_figures_serialise_to_json():
    for fig in (plots.confusion_matrix(BINARY_REPORT), plots.roc_curve(BINARY_REPORT), plots.empty("nothing")):
        assert fig.to_json()


HTML_LABEL = "<b>x</b>"
SHOWN = "&lt;b&gt;x&lt;/b&gt;"  # what plotly decodes back to the characters <b>x</b>


def figure_json(fig: go.Figure) -> dict:
    return json.loads(fig.to_json())


@pytest.mark.parametrize(
    "figure",
    [
        lambda: plots.label_distribution({"train": {HTML_LABEL: 3, "y": 2}}),
        lambda: plots.confusion_matrix({**BINARY_REPORT, "label_names": ["y", HTML_LABEL]}),
        lambda: plots.roc_curve({**BINARY_REPORT, "label_names": ["y", HTML_LABEL]}),
        lambda: plots.pr_curve({**BINARY_REPORT, "label_names": ["y", HTML_LABEL]}),
        lambda: plots.per_class_f1({"per_class": [{**row, "label": name} for row, name in zip(BINARY_REPORT["per_class"], ["y", HTML_LABEL])]}),
        lambda: plots.per_entity_f1({"per_type": [{"type": HTML_LABEL, "precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}]}),
        lambda: plots.text_lengths({HTML_LABEL: [3, 4]}),
        lambda: plots.token_lengths({HTML_LABEL: {"lengths": [3, 4], "truncated_share": 0.0}}, max_length=8),
        lambda: plots.compare_curves({HTML_LABEL: ([{"step": 1, "loss": 0.5}], [])}),
    ],
)
def test_data_derived_names_are_escaped_not_rendered(figure):
    """Plotly renders <b>, <br> or <a href> in chart text; a label from the data shows as written instead."""
    shown = json.dumps(figure_json(figure()))
    assert SHOWN in shown
    assert HTML_LABEL not in shown


def test_escaped_labels_keep_their_counts():
    fig = figure_json(plots.label_distribution({"train": {HTML_LABEL: 3, "y": 2}}))
    assert fig["data"][0]["x"] == [SHOWN, "y"] and fig["data"][0]["y"] == [3, 2]


NER_REPORT = {
    "metrics": {"precision": 0.8, "recall": 0.6, "f1": 0.686, "accuracy": 0.9},
    "per_type": [
        {"type": "location", "precision": 0.5, "recall": 0.25, "f1": 0.333, "support": 4},
        {"type": "person", "precision": 1.0, "recall": 0.8, "f1": 0.889, "support": 5},
    ],
}
COMPARISON = {
    "validation": {"base": {"loss": 6.0, "perplexity": 403.4}, "fine_tuned": {"loss": 1.0, "perplexity": 2.72}},
    "general_text": {"base": {"perplexity": 600.0}, "fine_tuned": {"perplexity": 660.0}, "perplexity_change": 0.1},
}


def test_per_entity_f1_has_one_bar_per_type_and_the_overall_line():
    fig = plots.per_entity_f1(NER_REPORT)
    assert len(fig.data) == 1 and list(fig.data[0].x) == ["location", "person"] and list(fig.data[0].y) == [0.333, 0.889]
    assert [c[2] for c in fig.data[0].customdata] == [4, 5]
    assert [shape.y0 for shape in fig.layout.shapes] == [0.686]
    as_mapping = {"per_type": {"person": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}}}
    assert list(plots.per_entity_f1(as_mapping).data[0].x) == ["person"], "per_type as a mapping too"
    assert "No entity scores" in empty_message(plots.per_entity_f1({}))


def test_per_entity_f1_of_many_types_is_horizontal_lowest_first():
    """Few-NERD's 66 fine types as upright bars left no room for their names: one row per type instead."""
    types = [f"type-{i:02d}" for i in range(30)]
    report = {"metrics": {"f1": 0.5}, "per_type": [{"type": t, "precision": 0.5, "recall": 0.5, "f1": (i * 7 % 30) / 30, "support": 3} for i, t in enumerate(types)]}
    fig = plots.per_entity_f1(report)
    (bars,) = fig.data
    assert bars.orientation == "h" and len(bars.y) == 30 and list(bars.x) == sorted(bars.x), "lowest F1 first"
    assert fig.layout.height >= 30 * 18 and "lowest first" in fig.layout.title.text
    assert [shape.x0 for shape in fig.layout.shapes] == [0.5], "the overall F1 as a vertical line"
    assert plots.per_entity_f1(NER_REPORT).data[0].orientation in (None, "v"), "two types: upright bars as before"


def test_perplexity_comparison_sets_base_against_fine_tuned():
    fig = plots.perplexity_comparison(COMPARISON)
    assert [trace.name for trace in fig.data] == ["base model", "fine-tuned"]
    assert list(fig.data[0].x) == ["validation (your data)", "general text (forgetting)"]
    assert list(fig.data[0].y) == [403.4, 600.0] and list(fig.data[1].y) == [2.72, 660.0]
    assert fig.layout.yaxis.type == "log" and "+10.0%" in fig.layout.title.text
    only_validation = {"validation": COMPARISON["validation"]}
    assert list(plots.perplexity_comparison(only_validation).data[0].x) == ["validation (your data)"]
    assert "No before/after" in empty_message(plots.perplexity_comparison({}))


def test_entity_counts_and_task_baselines():
    fig = plots.label_distribution({"train": {"person": 5, "location": 3}}, None, title="Entities per type", axis="entity type", unit="entities")
    assert fig.layout.title.text == "Entities per type" and fig.layout.xaxis.title.text == "entity type"
    assert list(fig.data[0].x) == ["location", "person"] and list(fig.data[0].y) == [3, 5]
    fig = plots.baselines({"rouge1": 0.4, "rouge2": 0.2, "rougeL": 0.38}, {"lead_1": {"rouge1": 0.3, "rouge2": 0.1, "rougeL": 0.29}}, metrics=("rouge1", "rouge2", "rougeL"))
    rouge_l = {x: y for trace in fig.data if trace.name == "rougeL" for x, y in zip(trace.x, trace.y)}
    assert rouge_l == {"fine-tuned model": 0.38, "Lead-1 (first sentence)": 0.29}


# ---------------------------------------------------------------- many classes (BANKING77 has 77)

MANY = [f"intent_{i:02d}_{'x' * (i % 5)}" for i in range(30)]


def many_class_report(k: int = 30) -> dict:
    """k classes; class i is confused with class i+1 (i + 1 times), so the biggest mistakes are known."""
    names = MANY[:k]
    matrix = [[0] * k for _ in range(k)]
    for i in range(k):
        matrix[i][i] = 10
        matrix[i][(i + 1) % k] = i + 1
    per_class = [{"label": n, "precision": 0.5, "recall": 0.5, "f1": round(1 - i / k, 3), "support": 10 + i + 1} for i, n in enumerate(names)]
    return {"label_names": names, "confusion_matrix": matrix, "per_class": per_class}


def test_label_distribution_of_many_classes_has_a_row_per_class_and_grows():
    counts = {"train": {name: 5 + i for i, name in enumerate(MANY)}, "validation": {name: 1 for name in MANY}}
    fig = plots.label_distribution(counts, MANY)
    assert [trace.orientation for trace in fig.data] == ["h", "h"]
    assert list(fig.data[0].y) == MANY and list(fig.data[0].x) == [5 + i for i in range(30)], "every class named, in label order"
    assert fig.layout.yaxis.dtick == 1 and fig.layout.yaxis.autorange == "reversed", "no class label dropped, the first on top"
    assert fig.layout.height >= 30 * 20, "at least 20 px per class"
    assert fig.layout.barmode == "stack" and fig.layout.height <= 110 + 30 * 20, "the splits share their class's row: one bar per class, not three"
    assert fig.layout.legend.traceorder == "normal", "the splits listed train first"
    few = plots.label_distribution({"train": {"a": 1, "b": 2}})
    assert few.data[0].orientation in (None, "v") and few.layout.height == plots.HEIGHT


def test_per_class_f1_of_many_classes_is_horizontal_lowest_first():
    fig = plots.per_class_f1(many_class_report())
    (bars,) = fig.data
    assert bars.orientation == "h" and list(bars.y) == list(reversed(MANY)), "lowest F1 first"
    assert list(bars.x) == sorted(bars.x)
    assert fig.layout.height >= 30 * 18 and "lowest first" in fig.layout.title.text
    assert plots.per_class_f1(BINARY_REPORT).data[0].orientation in (None, "v"), "two classes: upright bars as before"


def test_confusion_matrix_of_many_classes_shows_the_most_frequent_mistakes():
    fig = plots.confusion_matrix(many_class_report())
    (bars,) = fig.data
    assert bars.type == "bar" and bars.orientation == "h"
    assert len(bars.y) == plots.MAX_CONFUSED_PAIRS and list(bars.x) == list(range(30, 5, -1)), "the 25 biggest off-diagonal cells, largest first"
    assert bars.y[0] == f"{MANY[29]}<br>→ {MANY[0]}", "true label, then the predicted one"
    assert "most frequent mistakes" in fig.layout.title.text and "30 classes" in fig.layout.title.text
    assert bars.customdata[0][0] == pytest.approx(30 / 40), "the share of the true class in the hover"
    small = plots.confusion_matrix(many_class_report(plots.MAX_MATRIX))
    assert small.data[0].type == "heatmap" and small.layout.height > plots.HEIGHT, "up to 20 classes: a heatmap, taller than a chart"
    perfect = {"label_names": MANY, "confusion_matrix": [[5 if i == j else 0 for j in range(30)] for i in range(30)]}
    assert "No mistakes" in empty_message(plots.confusion_matrix(perfect))


def test_confused_pairs_escape_label_names():
    report = many_class_report()
    report["label_names"] = [HTML_LABEL, *MANY[1:]]
    shown = json.dumps(figure_json(plots.confusion_matrix(report)))
    assert SHOWN in shown and HTML_LABEL not in shown


def test_confusion_matrix_names_every_class_however_long_its_name():
    """BANKING77's class names (up to 48 characters) on a half-page chart: written whole, they took the margins,
    left the cells a sliver and the browser named only every other class. Each axis now names every class in at
    most 22 characters, cut in the middle so that names sharing a start still differ; the hover has them whole."""
    names = ["balance_not_updated_after_cheque_or_cash_deposit", "balance_not_updated_after_bank_transfer", "card_payment_fee_charged", "refund"]
    report = {"confusion_matrix": [[3, 1, 0, 0], [1, 3, 0, 0], [0, 0, 4, 0], [0, 0, 1, 3]], "label_names": names}
    fig = plots.confusion_matrix(report)
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        assert list(axis.tickvals) == names
        assert list(axis.ticktext) == ["balance_no…ash_deposit", "balance_no…nk_transfer", "card_payme…fee_charged", "refund"]
        assert all(len(tick) <= plots.TICK_CHARS for tick in axis.ticktext)
    assert list(fig.data[0].y) == names  # what the hover names
