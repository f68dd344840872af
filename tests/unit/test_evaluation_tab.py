"""The Evaluate tab's headline says what the scores cover: the NER words that max_seq_length cut off."""

from __future__ import annotations

import pandas as pd

from finetuner.ui.evaluation_tab import _headline


def test_ner_headline_counts_the_words_cut_off():
    report = {"true_entities": 7, "truncated_words": 12, "metrics": {"f1": 0.5}}
    predictions = pd.DataFrame({"text": ["a b", "c d"], "correct": [True, True]})
    line = _headline("run-1", "test", "token-classification", ("f1",), report, report["metrics"], predictions, {}, pd.DataFrame())
    assert "(2 sentences, 7 entities; 12 words past max_seq_length, scored as predicted O)" in line
