"""Pure functions from run files and dicts to plotly figures: the studio's charts, also usable in notebooks.

Every function takes plain data (a data report, length statistics, curve points, an evaluation report)
and returns a `plotly.graph_objects.Figure`; none reads files or imports torch. When there is nothing to
draw (no eval yet, a multiclass task has no ROC curve), `empty()` returns a figure that says why, so a
view never shows a blank box or an error. Text that comes from the data (label, class, entity-type,
split and run names) goes through `_text`, because plotly renders a few HTML tags in chart text.
"""

from __future__ import annotations

import html
import math
from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .tasks import baseline_name

# One colour per split / series, the same on every chart.
SPLIT_COLORS = {"train": "#4f46e5", "validation": "#f59e0b", "test": "#10b981"}
SERIES = ["#4f46e5", "#f59e0b", "#10b981", "#ef4444", "#06b6d4", "#a855f7", "#84cc16", "#ec4899"]
HEIGHT = 340
# Past this many classes, bars lie horizontally (one row per class, the chart as tall as they need) so
# every class name is written out; past MAX_MATRIX classes a heatmap's cells are too small to read, and the
# confusion matrix shows its most frequent mistakes instead.
MANY_CLASSES = 12
MAX_MATRIX = 20
MAX_CONFUSED_PAIRS = 25


def _rows_height(rows: int, per_row: int) -> int:
    """A horizontal chart's height: room for each row's bar(s) and the title and axis."""
    return max(HEIGHT, 110 + rows * per_row)


def _layout(fig: go.Figure, title: str | None = None, *, height: int = HEIGHT, legend_below: bool = False, **extra: Any) -> go.Figure:
    legend = {"orientation": "h", "yanchor": "top", "y": -0.2, "xanchor": "left", "x": 0} if legend_below else {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1}
    fig.update_layout(
        template="plotly_white",
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}} if title else None,
        height=height,
        margin={"l": 55, "r": 20, "t": 50 if title else 30, "b": 45},
        legend=legend,
        font={"size": 12},
        **extra,
    )
    return fig


def empty(message: str, *, height: int = HEIGHT) -> go.Figure:
    """A blank chart with a sentence in the middle."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 14, "color": "#6b7280"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, height=height)


def _integer_bins(series: Mapping[str, Sequence[int]], target: int = 40) -> dict[str, float]:
    """Histogram bins one or more whole units wide, so integer lengths never fall between bars."""
    arrays = [_lengths(values) for values in series.values() if len(values)]
    if not arrays:
        return {}
    low, high = min(int(a.min()) for a in arrays), max(int(a.max()) for a in arrays)
    width = max(1, -(-(high - low + 1) // target))
    return {"start": low - 0.5, "end": high + 0.5, "size": width}


def _lengths(values: Sequence[int]) -> np.ndarray:
    """Lengths as an array for a histogram's x: plotly checks a list value by value (a second for SST-2's 67,349
    texts) and sends it as JSON numbers; an array it takes as is and sends as packed binary, which plotly.js reads."""
    return np.asarray(values, dtype=np.int64)


def _text(value: Any) -> str:
    """A data-derived name as chart text: plotly renders some HTML (<b>, <br>, <a href>) in titles, ticks,
    legends and hovers, and decodes &lt; &gt; &amp;, so escaping shows the name exactly as written."""
    return html.escape(str(value), quote=False)


def _split_color(split: str, index: int) -> str:
    return SPLIT_COLORS.get(split, SERIES[index % len(SERIES)])


# ---------------------------------------------------------------- data


def label_distribution(class_counts: Mapping[str, Mapping[str, int]], label_names: Sequence[str] | None = None, *, title: str = "Label distribution", axis: str = "label", unit: str = "examples") -> go.Figure:
    """Examples per class, one bar group per class and one colour per split (`DataReport.class_counts`).
    More than `MANY_CLASSES` classes: horizontal bars, one row per class in label order with the splits
    stacked in it (grouped, 77 classes made a chart 2,500 px tall), the chart as tall as the classes need,
    so no class name is dropped; `many_classes` says when, for a page that lays such a chart out wide.

    NER data reports count entities per type: `title="Entities per type", axis="entity type", unit="entities"`.
    """
    if not class_counts:
        return empty("No data loaded yet.")
    labels = list(label_names or sorted({label for counts in class_counts.values() for label in counts}))
    across = many_classes(labels)
    fig = go.Figure()
    for i, (split, counts) in enumerate(class_counts.items()):
        total = sum(counts.values()) or 1
        values = [counts.get(label, 0) for label in labels]
        names = [_text(label) for label in labels]
        fig.add_bar(
            name=_text(split),
            x=values if across else names,
            y=names if across else values,
            orientation="h" if across else "v",
            marker_color=_split_color(split, i),
            customdata=[v / total for v in values],
            hovertemplate=("%{y}: %{x}" if across else "%{x}: %{y}") + " (%{customdata:.0%} of " + _text(split) + ")<extra></extra>",
        )
    fig.update_layout(barmode="stack" if across else "group", legend_traceorder="normal")  # stacked, plotly lists the splits last first
    if across:
        fig.update_yaxes(title=axis, type="category", autorange="reversed", automargin=True, dtick=1)
        fig.update_xaxes(title=unit, side="top")
        return _layout(fig, title, height=_rows_height(len(labels), 20))
    fig.update_xaxes(title=axis, type="category")
    fig.update_yaxes(title=unit)
    return _layout(fig, title)


def many_classes(labels: Sequence[Any]) -> bool:
    """Whether `label_distribution` draws these classes as a tall chart of one row per class."""
    return len(labels) > MANY_CLASSES


def text_lengths(lengths: Mapping[str, Sequence[int]], *, unit: str = "words") -> go.Figure:
    """Overlaid histograms of text lengths per split."""
    if not lengths or not any(len(v) for v in lengths.values()):
        return empty("No texts to measure.")
    fig = go.Figure()
    bins = _integer_bins(lengths)
    for i, (split, values) in enumerate(lengths.items()):
        fig.add_histogram(x=_lengths(values), name=_text(split), marker_color=_split_color(split, i), opacity=0.65, xbins=bins)
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title=f"length in {unit}")
    fig.update_yaxes(title="texts")
    return _layout(fig, f"Text length ({unit})")


def token_lengths(stats: Mapping[str, Mapping[str, Any]], max_length: int) -> go.Figure:
    """Histogram of token lengths per split (from the task's `length_statistics`), with the max_length
    line and the share of each split that truncation cuts; of a split measured on a sample (`sampled_from`,
    its size), the title says so."""
    if not stats or not any(s.get("lengths") for s in stats.values()):
        return empty("No token lengths yet: inspect a model's tokenizer first.")
    fig = go.Figure()
    notes = []
    bins = _integer_bins({split: s.get("lengths", []) for split, s in stats.items()}, target=50)
    for i, (split, s) in enumerate(stats.items()):
        fig.add_histogram(x=_lengths(s.get("lengths", [])), name=_text(split), marker_color=_split_color(split, i), opacity=0.65, xbins=bins)
        left_out = f", {s['answers_cut_off']} left out (no answer left)" if s.get("answers_cut_off") else ""  # causal LM
        sampled = f" (a random {s['count']:,} of {s['sampled_from']:,})" if s.get("sampled_from") else ""
        notes.append(f"{_text(split)}: {s.get('truncated_share', 0):.1%} truncated{left_out}{sampled}")
    fig.add_vline(x=max_length, line_dash="dash", line_color="#ef4444", annotation_text=f"max_length {max_length}", annotation_position="top right")
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title="tokens per example (special tokens included)")
    fig.update_yaxes(title="examples")
    return _layout(fig, "Token lengths · " + " · ".join(notes))


# ---------------------------------------------------------------- training

LOSS_COLORS = {"train": "#4f46e5", "eval": "#f59e0b"}


def training_curves(train: Sequence[Mapping[str, Any]], evals: Sequence[Mapping[str, Any]], *, metrics: Sequence[str] = ("eval_accuracy", "eval_f1_macro")) -> go.Figure:
    """Live train and eval loss (left) and eval metrics (right) against the optimizer step.

    `train` and `evals` are the point lists of `finetuner.follow.curves(events)`; an eval point's
    `<metric>_interval` ([low, high], which the run follower adds to validation accuracy and NER logs for its F1) is drawn as a band.
    """
    if not train and not evals:
        return empty("Curves appear after the first logged steps.")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Validation metrics"), horizontal_spacing=0.1)
    if train:
        fig.add_scatter(x=[p["step"] for p in train], y=[p.get("loss") for p in train], name="train loss", mode="lines+markers", line={"color": LOSS_COLORS["train"]}, marker={"size": 4}, row=1, col=1)
    if evals:
        fig.add_scatter(x=[p["step"] for p in evals], y=[p.get("eval_loss") for p in evals], name="eval loss", mode="lines+markers", line={"color": LOSS_COLORS["eval"]}, row=1, col=1)
        for i, name in enumerate(m for m in metrics if any(m in p for p in evals)):
            color = SERIES[(i + 2) % len(SERIES)]
            banded = [p for p in evals if p.get(f"{name}_interval")]
            if banded:  # the 95% interval as a shaded band under the line: steps inside one band may not differ
                steps = [p["step"] for p in banded]
                fig.add_scatter(x=steps, y=[p[f"{name}_interval"][1] for p in banded], mode="lines", line={"width": 0}, hoverinfo="skip", showlegend=False, row=1, col=2)
                fig.add_scatter(x=steps, y=[p[f"{name}_interval"][0] for p in banded], mode="lines", line={"width": 0}, fill="tonexty", fillcolor=_translucent(color), hoverinfo="skip", name=f"{name.removeprefix('eval_')} 95% interval", row=1, col=2)
            fig.add_scatter(x=[p["step"] for p in evals], y=[p.get(name) for p in evals], name=name.removeprefix("eval_"), mode="lines+markers", line={"color": color}, row=1, col=2)
    else:
        fig.add_annotation(text="no evaluation yet", x=0.5, y=0.5, xref="x2 domain", yref="y2 domain", showarrow=False, font={"color": "#6b7280"})
    fig.update_xaxes(title="step")
    fig.update_yaxes(title="loss", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    return _layout(fig, height=380, legend_below=True)


def _translucent(color: str, alpha: float = 0.18) -> str:
    """'#2563eb' -> 'rgba(37, 99, 235, 0.18)': a band in a line's own colour."""
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def compare_curves(runs: Mapping[str, tuple[Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]]], *, metric: str = "eval_f1_macro") -> go.Figure:
    """Two (or more) runs on shared axes: loss (train solid, eval dashed) and one eval metric.

    `runs` maps a run name to its `(train, evals)` points.
    """
    if not runs:
        return empty("Pick two runs to compare.")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss (solid: train, dashed: eval)", metric.removeprefix("eval_")), horizontal_spacing=0.1)
    for i, (name, (train, evals)) in enumerate(runs.items()):
        name = _text(name)
        color = SERIES[i % len(SERIES)]
        if train:
            fig.add_scatter(x=[p["step"] for p in train], y=[p.get("loss") for p in train], name=f"{name} train", legendgroup=name, line={"color": color}, row=1, col=1)
        if evals:
            fig.add_scatter(x=[p["step"] for p in evals], y=[p.get("eval_loss") for p in evals], name=f"{name} eval", legendgroup=name, line={"color": color, "dash": "dash"}, row=1, col=1)
            fig.add_scatter(x=[p["step"] for p in evals], y=[p.get(metric) for p in evals], name=f"{name} {metric.removeprefix('eval_')}", legendgroup=name, mode="lines+markers", line={"color": color}, row=1, col=2)
    fig.update_xaxes(title="step")
    return _layout(fig, height=400, legend_below=True)


# ---------------------------------------------------------------- evaluation


def confusion_matrix(report: Mapping[str, Any], *, normalize: bool = False, title: str = "Confusion matrix", max_classes: int = MAX_MATRIX) -> go.Figure:
    """Heatmap of the confusion matrix (rows: true label, columns: predicted), counts in the cells (shares
    with `normalize`), each cell coloured by its share of its true class: coloured by count, NER's O row
    (most words) left every other tag's row white, its mistakes unseen.

    With more than `max_classes` classes the cells would be too small to read: the chart shows the most
    frequent mistakes instead (`confused_pairs`)."""
    matrix = report.get("confusion_matrix")
    names = [_text(n) for n in report.get("label_names", [])]
    if not matrix:
        return empty("No confusion matrix for this split.")
    if len(names) > max_classes:
        return confused_pairs(report, title=title)
    shares = [[v / (sum(row) or 1) for v in row] for row in matrix]
    text = [[f"{share:.0%}" if normalize else f"{v}" for v, share in zip(row, share_row)] for row, share_row in zip(matrix, shares)]
    fig = go.Figure(
        go.Heatmap(
            z=shares,
            zmin=0,
            zmax=1,
            x=names,
            y=names,
            text=text,
            customdata=[[[v, share] for v, share in zip(row, share_row)] for row, share_row in zip(matrix, shares)],
            texttemplate="%{text}",
            colorscale="Blues",
            hovertemplate="true %{y}, predicted %{x}: %{customdata[0]} (%{customdata[1]:.0%} of true %{y})<extra></extra>",
            showscale=False,
        )
    )
    # Axis labels cut in the middle (the hover names each cell in full): whole, BANKING77's names of up to 48
    # characters took the margins of a half-page chart, left the cells a sliver and every other class unnamed.
    ticks = [_tick(n) for n in report.get("label_names", [])]
    fig.update_xaxes(title="predicted", type="category", side="bottom", automargin=True, tickvals=names, ticktext=ticks)
    fig.update_yaxes(title="true", type="category", autorange="reversed", automargin=True, tickvals=names, ticktext=ticks)
    longest = max(len(str(n)) for n in report.get("label_names", [])) if names else 0
    size = max(HEIGHT, min(720, 40 * len(names) + 160)) + 6 * min(longest, TICK_CHARS)  # and room below for the names, turned
    return _layout(fig, title, height=size)


# A category's name on an axis is cut to this many characters, in the middle (`_tick`).
TICK_CHARS = 22


def _tick(value: Any) -> str:
    """A long name as an axis label: its start and end around '…' (names that share a prefix, such as
    'balance_not_updated_after_cheque_or_cash_deposit' and '..._after_bank_transfer', still differ), escaped."""
    name = str(value)
    if len(name) > TICK_CHARS:
        head = (TICK_CHARS - 1) // 2
        name = name[:head] + "…" + name[-(TICK_CHARS - 1 - head):]
    return _text(name)


def confused_pairs(report: Mapping[str, Any], *, limit: int = MAX_CONFUSED_PAIRS, title: str = "Confusion matrix") -> go.Figure:
    """The confusion matrix's largest off-diagonal cells as horizontal bars, 'true → predicted', most
    frequent first, with each mistake's share of its true class in the hover: the readable part of a matrix
    with too many classes to draw."""
    matrix = report.get("confusion_matrix") or []
    names = [str(n) for n in report.get("label_names", [])]
    cells = [
        (count, i, j) for i, row in enumerate(matrix) for j, count in enumerate(row)
        if i != j and count and i < len(names) and j < len(names)
    ]
    if not cells:
        return empty("No mistakes on this split: nothing was confused.")
    cells.sort(key=lambda cell: (-cell[0], cell[1], cell[2]))
    shown = cells[:limit]
    totals = [sum(row) or 1 for row in matrix]
    fig = go.Figure(
        go.Bar(
            x=[count for count, _, _ in shown],
            y=[f"{_text(names[i])}<br>→ {_text(names[j])}" for _, i, j in shown],  # true, then predicted below it
            orientation="h",
            marker_color=SERIES[3],
            text=[str(count) for count, _, _ in shown],
            textposition="outside",
            cliponaxis=False,
            customdata=[[count / totals[i], totals[i]] for count, i, _ in shown],
            hovertemplate="true %{y}: %{x} examples (%{customdata[0]:.0%} of the %{customdata[1]} of this true class)<extra></extra>",
        )
    )
    fig.update_xaxes(side="top", range=[0, shown[0][0] * 1.15])
    fig.update_yaxes(type="category", autorange="reversed", automargin=True, dtick=1, tickfont={"size": 11})
    heading = (
        f"{title}: the most frequent mistakes<br><sup>true label, then → the predicted one · {len(shown)} of {len(cells):,} confused pairs · "
        f"{len(names)} classes, too many for a readable matrix</sup>"
    )
    fig = _layout(fig, heading, height=_rows_height(len(shown), 34))
    fig.update_layout(margin={"t": 95})
    return fig


def roc_curve(report: Mapping[str, Any]) -> go.Figure:
    """ROC curve with its AUC (binary tasks); an explanatory empty chart otherwise."""
    roc = report.get("roc_curve")
    if not roc:
        return empty("ROC curves are drawn for binary tasks with both classes present.")
    positive = _text((report.get("label_names") or ["", "positive class"])[-1])
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#9ca3af"}, name="chance", hoverinfo="skip")
    fig.add_scatter(
        x=roc["fpr"], y=roc["tpr"], mode="lines", name=f"model (AUC {roc['auc']:.3f})", line={"color": SERIES[0], "width": 2},
        customdata=roc.get("thresholds"), hovertemplate="FPR %{x:.3f}, TPR %{y:.3f}<br>threshold %{customdata:.3f}<extra></extra>",
    )
    fig.update_xaxes(title="false positive rate", range=[0, 1])
    fig.update_yaxes(title="true positive rate", range=[0, 1.02])
    return _layout(fig, f"ROC curve · positive class '{positive}' · AUC {roc['auc']:.3f}")


def pr_curve(report: Mapping[str, Any]) -> go.Figure:
    """Precision-recall curve with average precision (binary tasks)."""
    pr = report.get("pr_curve")
    if not pr:
        return empty("Precision-recall curves are drawn for binary tasks with both classes present.")
    positive = _text((report.get("label_names") or ["", "positive class"])[-1])
    fig = go.Figure()
    fig.add_scatter(x=pr["recall"], y=pr["precision"], mode="lines", name=f"model (AP {pr['average_precision']:.3f})", line={"color": SERIES[1], "width": 2})
    fig.update_xaxes(title="recall", range=[0, 1])
    fig.update_yaxes(title="precision", range=[0, 1.02])
    return _layout(fig, f"Precision-recall · positive class '{positive}' · AP {pr['average_precision']:.3f}")


def per_class_f1(report: Mapping[str, Any]) -> go.Figure:
    """F1 per class as bars, with precision, recall and support in the hover. More than `MANY_CLASSES`
    classes: horizontal bars, lowest F1 first, the chart as tall as the classes need."""
    rows = report.get("per_class") or []
    if not rows:
        return empty("No per-class scores for this split.")
    across = len(rows) > MANY_CLASSES
    if across:
        rows = sorted(rows, key=lambda r: (r["f1"], str(r["label"])))
    names, scores = [_text(r["label"]) for r in rows], [r["f1"] for r in rows]
    fig = go.Figure(
        go.Bar(
            x=scores if across else names,
            y=names if across else scores,
            orientation="h" if across else "v",
            marker_color=SERIES[0],
            text=[f"{r['f1']:.2f}" for r in rows],
            textposition="outside",
            customdata=[[r["precision"], r["recall"], r["support"]] for r in rows],
            hovertemplate=("%{y}: F1 %{x:.3f}" if across else "%{x}: F1 %{y:.3f}") + "<br>precision %{customdata[0]:.3f}, recall %{customdata[1]:.3f}<br>support %{customdata[2]}<extra></extra>",
        )
    )
    if across:
        fig.update_yaxes(type="category", autorange="reversed", automargin=True, dtick=1)
        fig.update_xaxes(title="F1", range=[0, 1.1], side="top")
        return _layout(fig, "F1 per class, lowest first", height=_rows_height(len(rows), 18))
    fig.update_xaxes(title="class", type="category")
    fig.update_yaxes(title="F1", range=[0, 1.1])
    return _layout(fig, "F1 per class")


def _per_type_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`report["per_type"]` (NER) as rows with a `type` key, whether written as a list or a mapping."""
    per_type = report.get("per_type") or []
    if isinstance(per_type, Mapping):
        return [{"type": str(name), **values} for name, values in per_type.items()]
    return [{**row, "type": str(row.get("type", row.get("label", "")))} for row in per_type]


def per_entity_f1(report: Mapping[str, Any]) -> go.Figure:
    """Entity-level F1 per entity type (NER), one bar per type from `report["per_type"]`, with precision,
    recall and the number of true entities in the hover, and the overall (micro) F1 as a dashed line. More
    than `MANY_CLASSES` types (Few-NERD has 66): horizontal bars, lowest F1 first, as `per_class_f1` draws them."""
    rows = _per_type_rows(report)
    if not rows:
        return empty("No entity scores for this split.")
    across = len(rows) > MANY_CLASSES
    if across:
        rows = sorted(rows, key=lambda r: (r.get("f1") or 0.0, r["type"]))
    names, scores = [_text(r["type"]) for r in rows], [r.get("f1") for r in rows]
    fig = go.Figure(
        go.Bar(
            x=scores if across else names,
            y=names if across else scores,
            orientation="h" if across else "v",
            name="F1",
            marker_color=SERIES[0],
            text=[f"{r['f1']:.2f}" if isinstance(r.get("f1"), (int, float)) else "" for r in rows],
            textposition="outside",
            customdata=[[r.get("precision"), r.get("recall"), r.get("support")] for r in rows],
            hovertemplate=("%{y}: F1 %{x:.3f}" if across else "%{x}: F1 %{y:.3f}") + "<br>precision %{customdata[0]:.3f}, recall %{customdata[1]:.3f}<br>%{customdata[2]} true entities<extra></extra>",
        )
    )
    overall = (report.get("metrics") or {}).get("f1")
    if isinstance(overall, (int, float)):
        line = {"line_dash": "dash", "line_color": "#ef4444", "annotation_text": f"overall F1 {overall:.2f}"}
        if across:
            fig.add_vline(x=overall, annotation_position="bottom right", **line)
        else:
            fig.add_hline(y=overall, annotation_position="top left", **line)
    if across:
        fig.update_yaxes(type="category", autorange="reversed", automargin=True, dtick=1)
        fig.update_xaxes(title="entity F1", range=[0, 1.1], side="top")
        return _layout(fig, "Entity F1 per type, lowest first", height=_rows_height(len(rows), 18))
    fig.update_xaxes(title="entity type", type="category")
    fig.update_yaxes(title="entity F1", range=[0, 1.1])
    return _layout(fig, "Entity F1 per type")


COMPARISON_PARTS = {"validation": "validation (your data)", "general_text": "general text (forgetting)"}


def perplexity_comparison(comparison: Mapping[str, Any]) -> go.Figure:
    """Causal LM before and after: the base model's and the fine-tuned model's perplexity on the validation
    split and on the general-text sample (`eval/comparison.json`), on a log axis. Perplexity falling on
    validation is what fine-tuning gained; rising on general text is what the model forgot."""
    parts = [(key, comparison.get(key) or {}) for key in COMPARISON_PARTS]
    parts = [(key, part) for key, part in parts if any(isinstance((part.get(side) or {}).get("perplexity"), (int, float)) for side in ("base", "fine_tuned"))]
    if not parts:
        return empty("No before/after comparison for this run.")
    fig = go.Figure()
    for i, (side, name) in enumerate((("base", "base model"), ("fine_tuned", "fine-tuned"))):
        values = [(part.get(side) or {}).get("perplexity") for _, part in parts]
        fig.add_bar(
            name=name,
            x=[COMPARISON_PARTS[key] for key, _ in parts],
            y=values,
            marker_color=SERIES[i],
            text=[f"{v:,.1f}" if isinstance(v, (int, float)) else "" for v in values],
            textposition="outside",
            hovertemplate="%{x}<br>" + name + ": perplexity %{y:,.2f}<extra></extra>",
        )
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")
    # Log axis from perplexity 1 (a perfect model), so bars of 2.7 and 600 both read, and start at the same floor.
    highest = max((v for trace in fig.data for v in trace.y if isinstance(v, (int, float)) and v > 0), default=10.0)
    fig.update_yaxes(title="perplexity (log scale, lower is better)", type="log", range=[0, math.log10(max(highest, 1.0)) + 0.25])
    title = "Perplexity before and after fine-tuning"
    change = (comparison.get("general_text") or {}).get("perplexity_change")
    if isinstance(change, (int, float)):
        title += f" · general text {change:+.1%}"
    return _layout(fig, title)


def baselines(
    model_metrics: Mapping[str, float],
    baseline_metrics: Mapping[str, Mapping[str, float]],
    *,
    metrics: Sequence[str] = ("accuracy", "f1_macro"),
    model_intervals: Mapping[str, Sequence[float]] | None = None,
) -> go.Figure:
    """The model beside the cheap baselines on the same split, the model's bars with their confidence
    intervals where the report has them (`finetuner.intervals`).

    `model_metrics` uses plain names (accuracy, f1_macro); `baseline_metrics` maps a baseline name
    (majority, tfidf_logreg) to its metrics on that split.
    """
    models = {"fine-tuned model": model_metrics, **{baseline_name(k): v for k, v in baseline_metrics.items()}}
    if not model_metrics and not baseline_metrics:
        return empty("No baselines for this split.")
    fig = go.Figure()
    model, others = list(models)[:1], list(models)[1:]
    for i, name in enumerate(metrics):
        for shown, interval in ((model, (model_intervals or {}).get(name)), (others, None)):
            if not shown:
                continue
            values = [models[m].get(name) for m in shown]
            fig.add_bar(  # one trace for the model (with its interval), one for the baselines, side by side as one metric
                name=name,
                x=shown,
                y=values,
                marker_color=SERIES[i % len(SERIES)],
                text=[f"{v:.2f}" if isinstance(v, (int, float)) else "" for v in values],
                textposition="outside",
                offsetgroup=name,
                legendgroup=name,
                showlegend=shown is model,
                error_y=_interval_bar(values[0], interval),
            )
    fig.update_layout(barmode="group")
    fig.update_yaxes(range=[0, 1.1])
    return _layout(fig, "Model vs baselines")


def _interval_bar(value: float | None, interval: Sequence[float] | None) -> dict | None:
    """An error bar spanning a score's confidence interval, or none."""
    if not isinstance(value, (int, float)) or not interval or len(interval) != 2:
        return None
    return {"type": "data", "symmetric": False, "array": [interval[1] - value], "arrayminus": [value - interval[0]], "color": "#111827", "thickness": 1.5}

