"""The Evaluate tab's headline says what the scores cover: the classes a macro average left out, and the
NER sentences read in windows (or, in an older report, the words max_seq_length cut off), and the rows of other data left out for having no label."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finetuner.evaluation import classification_report
from finetuner.ui.evaluation_tab import _headline


def test_headline_names_the_classes_a_split_lacks():
    report = classification_report([0, 0, 1], np.eye(3)[[0, 0, 1]], ["cat", "dog", "bird"])
    line = _headline("run-1", "test", "text-classification", ("accuracy", "f1_macro"), report, report["metrics"], pd.DataFrame(), {}, pd.DataFrame())
    assert "f1_macro **1.000**" in line
    assert "macro averages over the 2 classes present, not bird (absent, never predicted)" in line


def test_ner_headline_counts_the_words_cut_off():
    report = {"true_entities": 7, "truncated_words": 12, "metrics": {"f1": 0.5}}
    predictions = pd.DataFrame({"text": ["a b", "c d"], "correct": [True, True]})
    line = _headline("run-1", "test", "token-classification", ("f1",), report, report["metrics"], predictions, {}, pd.DataFrame())
    assert "(2 sentences, 7 entities; 12 words past max_seq_length, scored as predicted O)" in line


def test_ner_headline_says_long_sentences_were_read_in_windows():
    report = {"true_entities": 7, "long_sentences": 1, "metrics": {"f1": 0.5}}
    predictions = pd.DataFrame({"text": ["a b", "c d"], "correct": [True, True]})
    line = _headline("run-1", "test", "token-classification", ("f1",), report, report["metrics"], predictions, {}, pd.DataFrame())
    assert "(2 sentences, 7 entities; 1 longer than max_seq_length, read in overlapping windows as prediction reads them)" in line


def test_headline_counts_the_rows_left_out_for_having_no_label():
    report = {**classification_report([0, 1], np.eye(2)[[0, 1]], ["neg", "pos"]), "rows_left_out": 3}
    line = _headline("run-1", "extra:holdout", "text-classification", ("accuracy",), report, report["metrics"], pd.DataFrame(), {}, pd.DataFrame())
    assert "**run-1** on **holdout** (2 examples; 3 rows without a label or reference left out): accuracy **1.000**" in line
