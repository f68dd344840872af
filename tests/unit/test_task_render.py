"""What the Data and Evaluate tabs render for NER, causal LM and seq2seq, from the engine's own dicts:
tables with the right rows, escaped text, words against their sub-tokens, the answer marked in the template."""

from __future__ import annotations

import pandas as pd
import pytest

from finetuner.ui import render

NER_INSPECTION = {
    "tokens": ["[CLS]", "tokyo", "##rome", "visited", "paris", "[SEP]"],
    "input_ids": [2, 40, 41, 42, 43, 3],
    "word_ids": [None, 0, 0, 1, 2, None],
    "labels": [None, "B-person", None, "O", "B-location", None],
    "words": [
        {"word": "tokyorome", "tag": "B-person", "sub_tokens": ["tokyo", "##rome"], "truncated": False},
        {"word": "visited", "tag": "O", "sub_tokens": ["visited"], "truncated": False},
        {"word": "<b>paris</b>", "tag": "B-location", "sub_tokens": ["paris"], "truncated": False},
    ],
    "num_tokens": 6, "num_tokens_untruncated": 6, "truncated": False, "truncated_words": 0, "max_length": 32,
}


def test_word_tags_show_each_words_tag_over_its_sub_tokens():
    html = render.word_tags(NER_INSPECTION)
    assert html.count('class="ft-word"') == 3
    assert "tokyo → <b>B-person</b>" in html and "##rome <i>ignored</i>" in html, "the first sub-token carries the tag, the rest are ignored"
    assert "&lt;b&gt;paris&lt;/b&gt;" in html and "<b>paris</b>" not in html, "words are escaped"
    assert "location" in html and "person" in html, "entity types in the legend"
    assert render.word_tags({"tokens": []}) == ""
    summary = render.token_summary({**NER_INSPECTION, "truncated_words": 1})
    assert "3 words" in summary and "1 cut off" in summary


def test_rendered_text_marks_the_loss_span_and_escapes():
    text = "### Instruction:\nwhat <colour>?\n\n### Response:\nred</s>"
    start = text.index("red")
    html = render.rendered_text({"rendered": text, "loss_mask": [0, 1], "template": "plain", "loss_spans": [(start, len(text))]})
    assert '<mark class="ft-loss"' in html and ">red&lt;/s&gt;</mark>" in html
    assert "&lt;colour&gt;" in html and "<colour>" not in html
    seq2seq = render.rendered_text({"rendered": "summarize: a text"})
    assert "encoder" in seq2seq and "ft-loss" not in seq2seq
    assert render.rendered_text({}) == ""


def test_metric_table_per_task_with_baselines_and_meaning():
    table = render.metric_table("token-classification", {"f1": 0.5, "precision": 0.6, "recall": 0.4, "accuracy": 0.9, "runtime": 1.0}, {"most_frequent_tag": {"f1": 0.3}})
    assert list(table["metric"]) == ["f1", "precision", "recall", "accuracy"] and list(table.columns) == ["metric", "model", "most frequent tag per word", "what it measures"]
    assert table.iloc[0]["most frequent tag per word"] == 0.3 and "entity" in table.iloc[0]["what it measures"]
    table = render.metric_table("text-classification", {"accuracy": 0.92, "roc_auc": 0.9}, {"majority": {"accuracy": 0.75}}, {"accuracy": [0.85, 0.9589]})
    assert list(table.columns) == ["metric", "model", "95% interval", "majority class", "what it measures"]
    assert list(table["95% interval"]) == ["0.850 – 0.959", ""], "no interval for ROC AUC"
    table = render.metric_table("seq2seq", {"rouge1": 0.41234567, "rouge2": 0.2, "rougeL": 0.4, "bleu": 12.0, "loss": 2.0})
    assert list(table["metric"]) == ["rouge1", "rouge2", "rougeL", "bleu", "loss"] and table.iloc[0]["model"] == 0.4123


def test_comparison_and_generations_tables():
    comparison = {
        "validation": {"base": {"loss": 6.0, "perplexity": 400.0, "rougeL": 0.0}, "fine_tuned": {"loss": 1.0, "perplexity": 2.5, "rougeL": 0.5}},
        "general_text": {"base": {"loss": 6.4, "perplexity": 600.0}, "fine_tuned": {"loss": 6.5, "perplexity": 660.0}},
    }
    table = render.comparison_table(comparison).set_index("measure")
    assert table.loc["perplexity on validation", "base model"] == 400.0 and table.loc["perplexity on validation", "fine-tuned"] == 2.5
    assert table.loc["perplexity on general text", "change"] == "+10.0%"
    assert table.loc["rougeL on validation answers", "change"] == "+0.500"
    assert render.comparison_table({}).empty
    assert "+10.0%" in render.forgetting_note(comparison) and "forgot" in render.forgetting_note(comparison)
    frame = pd.DataFrame({"prompt": ["q1", "q2"], "reference": ["a1", "a2"], "generated": ["g1", "g2"], "rougeL": [0.12345, 1.0], "base_generated": ["b1", "b2"]})
    shown = render.generations_table(frame)
    assert list(shown.columns) == ["prompt", "reference", "generated", "base model (before)", "ROUGE-L"]
    assert list(shown["ROUGE-L"]) == [pytest.approx(0.123), 1.0]
    assert len(render.generations_table(frame, limit=1)) == 1
