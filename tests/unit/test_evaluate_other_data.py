"""Evaluating a run on other data whose columns are not the run's: the message says to rename the file's
columns to the run's, named, not to set a training option (`summary_column_name`, ...) that `evaluate` does
not have. Training keeps its messages, which name those options."""

from __future__ import annotations

import json

import pytest

from finetuner import cli
from finetuner.config import DataConfig, RunConfig
from finetuner.data import prepare_document_data
from finetuner.errors import DataError
from finetuner.evaluate_run import evaluate_run
from finetuner.runs import COMPLETED, RunStore

# task -> (the columns the run trained on, as its data_report.json records them; a row of other data without them)
TRAINED = {
    "seq2seq": ({"text_columns": ["document"], "label_column": "summary"}, {"body": "A long text.", "tldr": "Short."}),
    "text-classification": ({"text_columns": ["review"], "label_column": "sentiment", "label_names": ["neg", "pos"]}, {"comment": "Fine."}),
    "token-classification": ({"text_columns": ["words"], "label_column": "ner"}, {"sentence": "Ada Lovelace", "entities": "B-PER I-PER"}),
    "causal-lm": ({"text_columns": ["question"], "label_column": "answer"}, {"query": "Why?", "reply": "Because."}),
}


def completed_run(tmp_path, task: str):
    report, row = TRAINED[task]
    run = RunStore(tmp_path / "runs").create(RunConfig.from_dict({"task": task}), run_id="done")
    run.update_status(state=COMPLETED)
    (run.path / "data_report.json").write_text(json.dumps({"label_names": ["O", "B-PER", "I-PER"], **report}))
    other = tmp_path / "other.jsonl"
    other.write_text("\n".join(json.dumps(row) for _ in range(4)) + "\n")
    return run, other, report


@pytest.mark.parametrize("task", list(TRAINED))
def test_other_data_without_the_runs_columns_says_to_rename_them(tmp_path, task):
    run, other, report = completed_run(tmp_path, task)
    with pytest.raises(DataError) as caught:
        evaluate_run(run, test_file=str(other))
    message = str(caught.value)
    trained = ", ".join(dict.fromkeys([*report["text_columns"], report["label_column"]]))
    assert message.startswith("The file 'other.jsonl' lacks the columns this run was trained on")
    assert f"Rename its columns to the run's: {trained}" in message, message
    assert "column_name" not in message, "evaluate has no such option"


def test_the_cli_says_it_too(tmp_path, capsys):
    run, other, _ = completed_run(tmp_path, "seq2seq")
    assert cli.main(["--runs_dir", str(run.path.parent), "evaluate", run.id, "--test_file", str(other)]) == 2
    error = capsys.readouterr().err
    assert "Rename its columns to the run's: document, summary" in error and "summary_column_name" not in error


def test_training_still_names_the_option(tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps(TRAINED["seq2seq"][1]) + "\n")
    with pytest.raises(DataError, match="No document column found among: body, tldr. Set document_column_name to the right column."):
        prepare_document_data(DataConfig(train_file=str(train)))


def test_other_data_is_read_as_the_runs_saved_tokenizer_reads_it_as_prediction_does(tmp_path, sentiment_frame, monkeypatch):
    """A GPT-2 pair classifier trained before finetuner put a separator between a pair's texts saved a tokenizer
    that joins them: prediction read pairs so, but evaluating other data added the separator, so the same pairs
    got other probabilities in the evaluation's predictions than in the Predict tab's."""
    import numpy as np
    import pandas as pd
    from transformers import AutoConfig, GPT2ForSequenceClassification

    from finetuner.inference import Predictor
    from support import completed_run, save_seeded
    from task_fixtures import build_tiny_gpt2

    folder = build_tiny_gpt2(tmp_path / "gpt2", list(sentiment_frame["text"]))
    config = AutoConfig.from_pretrained(folder)
    config.id2label, config.label2id = {0: "neg", 1: "pos"}, {"neg": 0, "pos": 1}
    save_seeded(GPT2ForSequenceClassification, config, folder)
    report = {"text_columns": ["premise", "hypothesis"], "label_column": "label", "label_names": ["neg", "pos"]}
    run = completed_run(tmp_path / "runs", "old-pairs", task="text-classification", model_dir=folder, data_report=report)
    texts = list(sentiment_frame["text"][:6])
    pairs = pd.DataFrame({"premise": texts, "hypothesis": texts[::-1], "label": ["neg", "pos"] * 3})
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    monkeypatch.setattr("finetuner.train.cpu_has_fast_bf16", lambda: False)  # in float32, as the Predictor computes
    result = evaluate_run(run, test_file=str(tmp_path / "pairs.csv"))
    scored = pd.read_csv(f"{result['out_dir']}/predictions_{result['name']}.csv")
    predicted = Predictor(str(run.model_dir)).predict(list(pairs["premise"]), list(pairs["hypothesis"]))
    assert list(scored["text_pair"]) == list(pairs["hypothesis"])
    np.testing.assert_allclose(scored["prob_pos"], [p["pos"] for p in predicted], rtol=1e-5)
