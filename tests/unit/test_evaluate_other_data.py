"""Evaluating a run on other data whose columns are not the run's: the message says to rename the file's
columns to the run's, named, not to set a training option (`summary_column_name`, ...) that `evaluate` does
not have. Training keeps its messages, which name those options. A run in a read-only runs folder is evaluated
into the folder --output_dir names, and nothing is written into the run."""

from __future__ import annotations

import errno
import json

import pandas as pd
import pytest

import support
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


# A read-only runs folder (a share of past runs): `evaluate` writes where --output_dir says, and says that the
# results are not in the run; without --output_dir it says to give one, before loading the model.
SENTIMENT = {"label_names": ["negative", "positive"], "text_columns": ["text"], "label_column": "label"}


@pytest.fixture
def sentiment_run(tmp_path, tiny_model_dir, sentiment_frame):
    run = support.completed_run(tmp_path / "runs", "shared", task="text-classification", model_dir=tiny_model_dir, data_report=SENTIMENT)
    sentiment_frame.head(10).to_csv(tmp_path / "holdout.csv", index=False)
    return run, tmp_path / "holdout.csv"


def files(folder) -> dict:
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def evaluate(run, *args) -> int:
    return cli.main(["--runs_dir", str(run.path.parent), "evaluate", run.id, *args])


def test_a_read_only_run_says_to_give_an_output_folder(sentiment_run, monkeypatch, capsys):
    """The CLI failed with a traceback: OSError: [Errno 30] Read-only file system: '.../eval/extra'."""
    run, holdout = sentiment_run
    before = files(run.path)
    support.refuse_writes(monkeypatch, run.path.parent, errno.EROFS, folder_writable=False)
    assert evaluate(run, "--test_file", str(holdout)) == 2
    assert capsys.readouterr().err == (
        f"error: Run shared's folder {run.path} is read-only, so this evaluation cannot be saved into it. "
        "Give a folder you can write for its report and predictions: evaluate's --output_dir (out_dir in Python).\n"
    )
    assert files(run.path) == before


def test_a_read_only_run_is_evaluated_into_the_output_folder(sentiment_run, tmp_path, monkeypatch, capsys):
    run, holdout = sentiment_run
    before = files(run.path)
    support.refuse_writes(monkeypatch, run.path.parent, errno.EROFS, folder_writable=False)
    out = tmp_path / "results" / "shared"
    assert evaluate(run, "--test_file", str(holdout), "--output_dir", str(out)) == 0
    printed = capsys.readouterr().out
    assert printed.endswith(f"Report and predictions written to {out}, not into run shared: its folder {run.path} is read-only.\n"), printed
    assert "holdout 95% intervals: accuracy " in printed
    assert len(pd.read_csv(out / "predictions_holdout.csv")) == 10
    assert "test_accuracy" in json.loads((out / "results_holdout.json").read_text())
    assert files(run.path) == before, "nothing written into the read-only run's folder"


def test_a_writable_run_given_an_output_folder_is_left_as_it_was(sentiment_run, tmp_path, capsys):
    run, holdout = sentiment_run
    before = files(run.path)
    out = tmp_path / "results"
    assert evaluate(run, "--test_file", str(holdout), "--output_dir", str(out)) == 0
    assert capsys.readouterr().out.endswith(f"Report and predictions written to {out} (--output_dir), not into run shared's folder.\n")
    assert (out / "report_holdout.json").is_file() and files(run.path) == before


def test_an_output_folder_that_is_a_file_is_refused(sentiment_run, tmp_path, capsys):
    run, holdout = sentiment_run
    (tmp_path / "taken").write_text("")
    assert evaluate(run, "--test_file", str(holdout), "--output_dir", str(tmp_path / "taken")) == 2
    assert f"--output_dir '{tmp_path / 'taken'}' is a file; give a folder for the report and predictions." in capsys.readouterr().err


@pytest.mark.parametrize("state", ["failed", "training"])
def test_a_run_that_is_not_completed_is_refused_before_its_output_folder_is_made(tmp_path, capsys, state):
    """`evaluate --output_dir` made the folder before it checked the run, so a refused run left an empty folder behind."""
    run, other, _ = completed_run(tmp_path, "text-classification")
    run.update_status(state=state)
    out = tmp_path / "results" / "done"
    assert cli.main(["--runs_dir", str(run.path.parent), "evaluate", run.id, "--test_file", str(other), "--output_dir", str(out)]) == 2
    assert f"error: Run done is {state}; only a completed run can be evaluated." in capsys.readouterr().err
    assert not (tmp_path / "results").exists(), "no folder left behind"


def test_data_refused_after_the_output_folder_is_made_leaves_no_empty_folder(tmp_path, capsys):
    """Other data the run cannot read is refused once the folders exist: those made for it go again; one that was there stays."""
    run, other, _ = completed_run(tmp_path, "seq2seq")
    (tmp_path / "kept").mkdir()
    out = tmp_path / "kept" / "results" / "done"
    assert cli.main(["--runs_dir", str(run.path.parent), "evaluate", run.id, "--test_file", str(other), "--output_dir", str(out)]) == 2
    assert "Rename its columns to the run's: document, summary" in capsys.readouterr().err
    assert (tmp_path / "kept").is_dir() and not (tmp_path / "kept" / "results").exists()
