"""The CLI as a user runs it: `python -m finetuner train|predict|evaluate|runs|status`, exit codes and messages."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from finetuner.cli import main
from support import cache_hub_model, hub_dropping_connections

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**(env or os.environ), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "finetuner", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, tiny_model_dir, sentiment_frame):
    folder = tmp_path_factory.mktemp("cli")
    sentiment_frame.to_csv(folder / "reviews.csv", index=False)
    config = {"model_name_or_path": str(tiny_model_dir), "max_seq_length": 32, "per_device_train_batch_size": 8, "learning_rate": 3e-3}
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    result = cli(
        "train", "config.yaml", "--train_file", "reviews.csv", "--num_train_epochs", "3", "--warmup_steps", "0",
        "--output_dir", "runs/first", "--max_grad_norm", "0.5", "--optim", "adamw_torch", cwd=folder,
    )
    return folder, result


def test_train_writes_trainer_style_results(cli_run):
    folder, result = cli_run
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Run first" in result.stdout and "completed" in result.stdout
    eval_results = json.loads((folder / "runs/first/eval/eval_results.json").read_text())
    test_results = json.loads((folder / "runs/first/eval/test_results.json").read_text())
    assert {"eval_accuracy", "eval_f1_macro", "eval_loss"} <= set(eval_results)
    assert {"test_accuracy", "test_f1_macro"} <= set(test_results)
    frozen = yaml.safe_load((folder / "runs/first/config.yaml").read_text())
    assert frozen["num_train_epochs"] == 3.0 and frozen["extra_training_args"] == {"max_grad_norm": 0.5, "optim": "adamw_torch"}
    assert frozen["train_file"] == str((folder / "reviews.csv").resolve()), "given as reviews.csv: found from anywhere"
    assert "%|" in result.stderr, "a progress bar is shown"
    shown = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    low, high = (float(v) for v in shown["test 95% intervals"].split(", ")[0].removeprefix("accuracy ").split("-"))
    assert low <= test_results["test_accuracy"] <= high and high - low > 0.05, "the test accuracy with its interval (a few dozen examples: a wide one)"
    assert re.search(r"^test: accuracy [+-]\d\.\d{3} (over|against) majority class", result.stdout, re.M), "what the model gained over the baselines"
    # 96 training rows at batches of 8 for 3 epochs: 36 steps, and the advice on how many would do.
    assert "warning: Only 36 optimizer steps (12 an epoch): a pretrained model usually needs a hundred or more to learn a task" in result.stderr
    assert "Train 13 epochs (156 steps)" in result.stderr
    assert "data: validation was split from train (12 rows, stratified by label" in result.stderr, "the data checks' warnings, before training"
    assert result.stderr.index("warning: Only 36") < result.stderr.index("/36 ["), "said before the training starts, and again in the summary"


def test_predict_texts_and_file(cli_run):
    folder, _ = cli_run
    result = cli("--runs_dir", "runs", "predict", "first", "the film was wonderful", "the plot was dreadful", cwd=folder)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["text"] for line in lines] == ["the film was wonderful", "the plot was dreadful"]
    assert sum(lines[0]["probabilities"].values()) == pytest.approx(1.0)
    pd.DataFrame({"text": ["the cast was fun", "the ending felt dull"]}).to_csv(folder / "new.csv", index=False)
    result = cli("--runs_dir", "runs", "predict", "first", "--input_file", "new.csv", "--output_file", "out.csv", cwd=folder)
    assert result.returncode == 0, result.stderr[-2000:]
    out = pd.read_csv(folder / "out.csv")
    assert list(out.columns) == ["text", "predicted", "confidence", "prob_negative", "prob_positive"]


def test_evaluate_on_another_file(cli_run, sentiment_frame):
    folder, _ = cli_run
    holdout = sentiment_frame.tail(30).copy()
    holdout.iloc[:3, holdout.columns.get_loc("label")] = None  # rows still to be labelled
    holdout.to_csv(folder / "holdout.csv", index=False)
    result = cli("--runs_dir", "runs", "evaluate", "first", "--test_file", "holdout.csv", cwd=folder)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "3 row(s) without a label or reference (tags, summary, answer) were left out of the scores." in result.stdout
    assert json.loads((folder / "runs/first/eval/extra/report_holdout.json").read_text())["rows_left_out"] == 3, "the Evaluate tab's headline reads it"
    assert len(pd.read_csv(folder / "runs/first/eval/extra/predictions_holdout.csv")) == 27
    metrics = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert "test_accuracy" in metrics and not any("preparation" in key for key in metrics), "the keys test_results.json has"
    assert "holdout 95% intervals: accuracy " in result.stdout
    assert (folder / "runs/first/eval/extra/predictions_holdout.csv").is_file()
    own = cli("--runs_dir", str(folder / "runs"), "evaluate", "first", cwd=folder.parent)  # elsewhere: its relative --train_file was frozen absolute
    assert own.returncode == 0 and (folder / "runs/first/eval/extra/results_test.json").is_file(), own.stderr[-2000:]
    sentiment_frame.head(10).to_csv(folder / "test.csv", index=False)
    named_test = cli("--runs_dir", "runs", "evaluate", "first", "--test_file", "test.csv", cwd=folder)
    assert named_test.returncode == 0 and "test-file 95% intervals" in named_test.stdout, named_test.stderr[-2000:]
    assert json.loads((folder / "runs/first/eval/extra/results_test.json").read_text())["test_accuracy"] == json.loads(own.stdout[: own.stdout.rindex("}") + 1])["test_accuracy"], "a file named test.csv leaves the run's own test results alone"


def test_runs_and_status(cli_run, capsys):
    folder, _ = cli_run
    assert main(["--runs_dir", str(folder / "runs"), "runs"]) == 0
    assert "first\tcompleted\teval_accuracy=" in capsys.readouterr().out
    assert main(["--runs_dir", str(folder / "runs"), "status", "first"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "completed"
    assert main(["status", "first", "--runs_dir", str(folder / "runs")]) == 0, "--runs_dir after the command too"
    assert json.loads(capsys.readouterr().out)["state"] == "completed"
    assert main(["status", str(folder / "runs/first")]) == 0, "a run folder by its path, wherever --output_dir put it"
    assert json.loads(capsys.readouterr().out)["state"] == "completed"
    assert main(["status", str(folder / "elsewhere/first")]) == 2
    assert "No run folder at" in capsys.readouterr().err
    assert main(["resume", "first", "--runs_dir", str(folder / "runs")]) == 2
    err = capsys.readouterr().err
    assert "Run first is completed; only a stopped, interrupted or failed run can be resumed" in err and "start a new run with its settings" in err


def test_output_into_a_closed_pipe_ends_quietly(cli_run):
    """`python -m finetuner runs | head -1`: the reader has gone before the listing is written."""
    folder, _ = cli_run
    read, write = os.pipe()
    os.close(read)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "finetuner", "runs"], cwd=folder, env=env, stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    os.close(write)
    assert result.returncode == 0 and result.stderr == "", result.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["train", "--train_file", "nope.csv"], "train_file 'nope.csv' does not exist"),
        (["train", "--num_train_epochs", "2"], "No data given: add --train_file FILE (CSV, TSV, JSON, JSONL or Parquet) or --dataset_name ID (a Hub dataset), or a config file that names one."),
        (["train", "--train_file", "{data}", "--learning_rate", "-1"], "learning_rate must be greater than 0"),
        (["train", "--train_file", "{data}", "--not_an_option", "3"], "Unknown option '--not_an_option'"),
        (["train", "--train_file", "{data}", "--label_column_name", "stars"], "no column 'stars'"),
        (["train", "--train_file", "{data}", "--max_grad_norm", "abc"], "max_grad_norm expects float, got 'abc'"),
        (["train", "--train_file", "{data}", "--save_strategy", "steps"], "save_strategy 'steps' differs from eval_strategy 'epoch'"),
        (["train", "--train_file", "{data}", "--max_steps", "0"], "max_steps must be -1"),
        # Each failed only inside the run, after training: a shape mismatch, a KeyError, a collator's ValueError.
        (["train", "--train_file", "{data}", "--dataloader_drop_last"], "dataloader_drop_last true drops the last incomplete batch of every evaluation too"),
        (["train", "--train_file", "{data}", "--prediction_loss_only", "true"], "prediction_loss_only true skips the predictions that every score but the loss is computed from: the text-classification run would fail. Leave it out."),
        (["train", "--train_file", "{data}", "--remove_unused_columns", "false"], "remove_unused_columns false hands the data's text columns to the batch collator"),
        (["train", "--train_file", "{data}", "--batch_eval_metrics"], "batch_eval_metrics true scores each evaluation batch alone"),
        (["train", "--train_file", "{data}", "--packing_strategy", "bfd"], "packing_strategy is an option of TRL's SFTTrainer, which trains causal LM runs only: the text-classification run would ignore it."),
        (["train", "--train_file", "{data}", "--eval_do_concat_batches", "false"], "eval_do_concat_batches false hands the metrics a list of batches"),
        (["train", "--train_file", "{data}", "--model_name_or_path", "/no/such/model"], "Could not load the model '/no/such/model': there is no such folder."),
        (["train", "--train_file", "{data}", "--max_seq_length", "1000"], "max_seq_length 1000 is longer than"),
        (["train", "--train_file", "{data}", "--lora_r", "8"], "--lora_r applies to the causal-lm task, and this run's task is text-classification (the default; --task chooses another)"),
        (["train", "--train_file", "{folder}"], "train_file '{folder}' is a folder, not a data file: give the path of a file in it (CSV, TSV, JSON, JSONL or Parquet). It holds reviews.csv."),
        (["train", "--train_file", "{data}", "--learning-rate", "1e-4"], "Unknown option '--learning-rate': it is neither a finetuner option nor a TrainingArguments option. Did you mean --learning_rate?"),
        (["train", "{data}"], "a data file goes with --train_file: --train_file {data}."),
        (["status", "missing-run"], "No run 'missing-run'"),
        (["predict", "missing-run", "hello"], "missing-run"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(tmp_path, sentiment_csv, capsys, args, words):
    names = {"data": sentiment_csv, "folder": sentiment_csv.parent}
    code = main(["--runs_dir", str(tmp_path / "runs"), *[a.format(**names) for a in args]])
    words = words.format(**names)
    err = capsys.readouterr().err
    assert code == 2
    assert words in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists() or args[0] != "train", "no run folder is left behind"


def test_a_hub_dataset_while_the_hub_is_unreachable_names_the_cli_flag_for_a_local_file(tmp_path, capsys, monkeypatch):
    """"Upload a file instead" told a CLI user to do what only the studio can."""
    import datasets

    def unreachable(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'someone/reviews' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    assert main(["--runs_dir", str(tmp_path / "runs"), "train", "--dataset_name", "someone/reviews"]) == 2
    err = capsys.readouterr().err
    assert "The Hugging Face Hub is unreachable, so 'someone/reviews' cannot be downloaded. Use a local data file instead (in the studio, upload it; in the CLI, --train_file, or evaluate's --test_file)." in err
    assert not (tmp_path / "runs").exists(), "no run folder is left behind"


def test_an_option_transformers_5_removed_is_not_taken_for_another(tmp_path, sentiment_csv, capsys):
    """run_classification.py users pass --overwrite_output_dir (gone from TrainingArguments in transformers 5): it is
    unknown, and not "did you mean --output_dir?", which names the run's folder, not whether to overwrite it."""
    from finetuner.config import RunConfig
    from finetuner.errors import ConfigError

    assert main(["--runs_dir", str(tmp_path / "runs"), "train", "--train_file", str(sentiment_csv), "--overwrite_output_dir"]) == 2
    err = capsys.readouterr().err
    assert "Unknown option '--overwrite_output_dir'" in err and "output_dir?" not in err
    with pytest.raises(ConfigError) as refused:
        RunConfig.from_dict({"train_file": "x.csv", "overwrite_output_dir": True})
    assert str(refused.value) == "Unknown option 'overwrite_output_dir'.", "a config file's key alike"


def test_a_run_folder_given_as_the_model_names_its_model_folder(cli_run, capsys):
    """`--model_name_or_path runs/first` (to train on from a run) said "Should have a `model_type` key in its config.json"."""
    folder, _ = cli_run
    code = main(["--runs_dir", str(folder / "again"), "train", "--train_file", str(folder / "reviews.csv"), "--model_name_or_path", str(folder / "runs/first")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"it is a run folder; its trained model is in '{folder / 'runs/first/model'}'. Give that folder." in err
    assert not (folder / "again").exists(), "no run folder is left behind"


def test_a_run_that_fails_exits_1_and_says_why(tmp_path, sentiment_csv, tiny_model_dir, capsys):
    # A model folder with its tokenizer but no weights: the checks before training pass, loading the model fails.
    model = tmp_path / "no-weights"
    model.mkdir()
    for file in tiny_model_dir.iterdir():
        if file.suffix != ".safetensors":
            (model / file.name).write_bytes(file.read_bytes())
    code = main(["train", "--train_file", str(sentiment_csv), "--model_name_or_path", str(model), "--output_dir", str(tmp_path / "runs/x")])
    captured = capsys.readouterr()
    assert code == 1
    assert "Run x: failed.\n" in captured.out, "said once"
    assert str(model) in captured.err and "Traceback" not in captured.err, "a model error shows its message, not the frames above it"
    log = (tmp_path / "runs/x/train.log").read_text(encoding="utf-8")
    assert "Traceback" in log, "the traceback is kept in the run's log"


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--learning_rate" in out and "--text_column_names" in out and "10%" in out
    said = " ".join(out.split())
    assert "Any other transformers TrainingArguments option passes through as a flag (--max_grad_norm 0.5" in said, "the flags the list cannot show"
    assert "A YAML or JSON config file with the same names as these flags may come first; flags override it." in said
    assert "Exit codes: 0 done, 1 the run failed (the reason is printed), 2 bad input (the message says what to fix), 3 stopped." in said


@pytest.mark.parametrize("command", ["train", "status", "predict", "evaluate"])
def test_each_commands_help_gives_the_runs_folders_true_default(capsys, command):
    """`status --help` said "(default: runs)" where FINETUNER_RUNS_DIR, or a Space's /data/runs, comes first."""
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--runs_dir RUNS_DIR Folder that holds the run folders (default: FINETUNER_RUNS_DIR, else /data/runs on a Space" in out


# ---------------------------------------------------------------- predict: argument order and user errors


@pytest.fixture(scope="module")
def predict_runs(tmp_path_factory, tiny_model_dir):
    """A runs folder with a completed classifier, a completed causal LM and a failed run (none trained: what is
    checked is what predict accepts and says)."""
    from support import completed_run
    from task_fixtures import CHATML, build_tiny_causal_lm

    runs = tmp_path_factory.mktemp("predict") / "runs"
    completed_run(runs, "classifier", task="text-classification", model_dir=tiny_model_dir, data_report={"text_columns": ["text"], "label_column": "label", "label_names": ["LABEL_0", "LABEL_1"]})
    chat_model = build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-chat"), ["what colour is snow? white.", "what colour is coal? black."], chat_template=CHATML)
    completed_run(runs, "chat", task="causal-lm", model_dir=chat_model, data_report={"text_columns": ["prompt"], "source_format": "prompt/completion"})
    completed_run(runs, "broken", task="text-classification", model_dir=tiny_model_dir, state="failed", error="Out of memory during training.\nmore detail")
    return runs


@pytest.mark.parametrize("where", ["after the texts", "before the run"])
def test_predict_takes_runs_dir_after_the_command(predict_runs, tmp_path, capsys, monkeypatch, where):
    """`--runs_dir` may come before or after the command (README); predict refused it after: "Unknown option(s): --runs_dir"."""
    monkeypatch.chdir(tmp_path)  # no runs/ here: the run is found only in the folder --runs_dir names
    args = ["predict", "classifier", "a fine film", "--runs_dir", str(predict_runs)] if where == "after the texts" else ["predict", "--runs_dir", str(predict_runs), "classifier", "a fine film"]
    assert main(args) == 0, capsys.readouterr().err
    assert [json.loads(line)["text"] for line in capsys.readouterr().out.splitlines()] == ["a fine film"]


def test_predict_takes_options_before_and_after_the_texts(predict_runs):
    result = cli("--runs_dir", str(predict_runs), "predict", "chat", "--max_new_tokens", "2", "what colour is snow?", "--temperature", "0", "what colour is coal?", cwd=predict_runs.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    assert [json.loads(line)["prompt"] for line in result.stdout.splitlines()] == ["what colour is snow?", "what colour is coal?"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["predict", "chat", "x", "--max_new_tokens", "-3"], "--max_new_tokens must be 1 or more (the most tokens to generate); it is -3."),
        (["predict", "chat", "--max_new_tokens", "0", "x"], "--max_new_tokens must be 1 or more (the most tokens to generate); it is 0."),
        (["predict", "classifier", "--input_file", "{data}", "--output_file", "{missing}/o.csv"], "Cannot write --output_file '{missing}/o.csv': the folder '{missing}' does not exist."),
        (["predict", "classifier", "x", "--output_file", "o.csv"], "--output_file writes the predictions of --input_file"),
        (["predict", "classifier", "x", "--text_column_name", "review"], "--text_column_name names the column(s) of --input_file to predict on"),
        (["predict", "classifier", "x", "--input_file", "{data}"], "Give texts to predict on or --input_file, not both."),
        (["predict", "nosuchrun", "x"], "No run 'nosuchrun' in {runs}, no local folder by that name, and "),
        (["predict", "broken", "x"], "Run broken failed (Out of memory during training.), so it has no trained model. Fix the cause, then resume it"),
        (["predict", "classifier", "--input_file", "{empty}"], "'empty.csv' is empty: it has no rows. Check that it is the right file"),
        (["evaluate", "classifier", "--test_file", "{empty}"], "'empty.csv' is empty: it has no rows. Check that it is the right file"),
        (["evaluate", "classifier", "--test_file", "{data}", "--dataset_name", "stanfordnlp/sst2"], "Give --test_file or --dataset_name to evaluate on, not both."),
        (["evaluate", "classifier", "--test_file", "{data}", "--split", "validation"], "--split chooses from the Hub dataset of --dataset_name; give --dataset_name too."),
        (["evaluate", "classifier", "--test_fle", "{data}"], "Unknown option(s): --test_fle {data}. Did you mean --test_file? See `python -m finetuner evaluate --help`."),
        (["evaluate", "classifier", "--test_file", "{folder}"], "'{folder}' is a folder, not a data file: give the path of a file in it"),
        (["predict", "classifier", "--input_file", "{folder}"], "'{folder}' is a folder, not a data file: give the path of a file in it"),
        (["predict", "classifier", "a fine film", ""], "Text 2 of 2 is empty: there is nothing to predict on."),
        (["predict", "classifier", "   "], "Text 1 of 1 is empty: there is nothing to predict on."),
        (["predict", "classifier", "x", "--max_new_tokens", "5"], "--max_new_tokens applies to generative models (causal LM and seq2seq); classifier is a text-classification model. Leave it out."),
        (["predict", "classifier", "x", "--temperature", "0.7"], "--temperature applies to causal LM models, which sample; classifier is a text-classification model. Leave it out."),
        (["predict", "classifier", "--input_file", "{data}", "--top_p", "0.9"], "--top_p applies to causal LM models, which sample; classifier is a text-classification model."),
    ],
)
def test_predict_user_errors_exit_2_with_a_message(predict_runs, tmp_path, sentiment_csv, capsys, args, words):
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    names = {"data": sentiment_csv, "missing": tmp_path / "nonexistent_dir", "empty": tmp_path / "empty.csv", "runs": predict_runs, "folder": tmp_path}
    code = main(["--runs_dir", str(predict_runs), *[a.format(**names) for a in args]])
    captured = capsys.readouterr()
    assert code == 2
    assert words.format(**names) in captured.err and "Traceback" not in captured.err
    assert "predictions" not in captured.out, "nothing was predicted"


# ---------------------------------------------------------------- predict with a Hub id while the Hub cannot be reached


def hub_unreachable(tmp_path: Path) -> dict:
    """The environment of a user whose Hub cannot be reached, without HF_HUB_OFFLINE set: the Hub's address is a
    local port nothing listens on (refused as a network that is down refuses), with a model cache of its own."""
    from support import free_port

    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    return {**env, "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}", "HF_HOME": str(tmp_path / "hf")}


@pytest.mark.parametrize(
    "name, words",
    [
        (
            "someone/no-such-model",
            "No run 'someone/no-such-model' in {runs}, no local folder by that name, and the Hugging Face Hub, where it could be "
            "a model id, cannot be reached. Check your connection or proxy (HTTPS_PROXY); working offline, set HF_HUB_OFFLINE=1",
        ),
        ("./no-such-folder", "No run folder or model folder at './no-such-folder'."),  # a path, never a Hub id: not asked of the Hub
    ],
)
def test_predict_on_a_name_found_nowhere_fails_at_once_when_the_hub_is_unreachable(tmp_path, name, words):
    result = cli("predict", name, "hello", cwd=tmp_path, env=hub_unreachable(tmp_path))
    assert result.returncode == 2
    assert words.format(runs=tmp_path / "runs") in result.stderr
    assert "Retrying" not in result.stderr and "Traceback" not in result.stderr, "no wait for huggingface_hub's retries (over a minute)"


def test_train_with_a_hub_model_fails_at_once_when_the_hub_is_unreachable(tmp_path, sentiment_csv):
    result = cli("train", "--train_file", str(sentiment_csv), "--model_name_or_path", "someone/no-such-model", cwd=tmp_path, env=hub_unreachable(tmp_path))
    assert result.returncode == 2
    assert (
        "error: Could not download the model 'someone/no-such-model': the Hugging Face Hub cannot be reached from here (ConnectError), "
        "and the model is not in the local cache."
    ) in result.stderr
    assert "Retrying" not in result.stderr and not (tmp_path / "runs").exists()


def test_predict_with_a_cached_hub_model_uses_the_cache_when_the_hub_is_unreachable(tmp_path, tiny_model_dir):
    env = hub_unreachable(tmp_path)
    cache_hub_model(Path(env["HF_HOME"]) / "hub", tiny_model_dir)
    result = cli("predict", "someone/tiny", "the film was great", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["label"] in ("LABEL_0", "LABEL_1")
    assert "Retrying" not in result.stderr, "its optional files (adapter, chat template) are not asked of the Hub 6 times each (minutes)"


@pytest.mark.parametrize("started_by", ["train", "launcher"])
def test_training_a_cached_hub_model_reads_the_cache_when_the_hub_is_unreachable(tmp_path, tiny_model_dir, sentiment_csv, started_by):
    """`train` with a Hub id, and the process the studio's launcher starts on a run folder (`train --run_dir`):
    with the model in the cache, training reads it from there at once, after one request to the Hub, where
    loading it by its id asked the Hub for each of its files with huggingface_hub's retries (minutes) and
    failed on the tokenizer's chat-template listing. The run's config keeps the Hub id."""
    from finetuner.config import RunConfig
    from finetuner.launcher import launch_command
    from finetuner.runs import RunStore

    options = {"model_name_or_path": "someone/tiny", "max_seq_length": 32, "num_train_epochs": 1}
    with hub_dropping_connections() as (address, made):
        env = {**hub_unreachable(tmp_path), "HF_ENDPOINT": address}
        cache_hub_model(Path(env["HF_HOME"]) / "hub", tiny_model_dir)
        if started_by == "train":
            result = cli("train", "--train_file", str(sentiment_csv), *(f"--{k}={v}" for k, v in options.items()), "--output_dir", "runs/r", cwd=tmp_path, env=env)
        else:
            run = RunStore(tmp_path / "runs").create(RunConfig.from_dict({"train_file": str(sentiment_csv), **options}), run_id="r")
            result = cli(*launch_command(run.path)[3:], cwd=tmp_path, env=env)  # `python -m finetuner` + `train --run_dir RUN`
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Retrying" not in result.stderr
    assert len(made) <= 2, f"{len(made)} connections to the Hub: one request (a closed connection is opened again once), not retries for each file"
    run = RunStore(tmp_path / "runs").get("r")
    assert run.state == "completed" and run.config().model.model_name_or_path == "someone/tiny"
    said = [event.get("text") for event in run.events() if event.get("type") == "message"] + result.stderr.splitlines()
    assert "The Hugging Face Hub cannot be reached: someone/tiny is read from the local cache (HF_HUB_OFFLINE=1 for this run)." in said


def test_train_push_to_hub_says_the_hub_cannot_be_reached_when_the_model_is_read_from_the_cache(tmp_path, tiny_model_dir, sentiment_csv):
    """Training sets HF_HUB_OFFLINE=1 for itself when the Hub cannot be reached and the model is in the cache; the
    token check then failed with "unset HF_HUB_OFFLINE if it is set" (the user had not) and "your run is still on
    disk" (no run was made)."""
    env = {**hub_unreachable(tmp_path), "HF_TOKEN": "hf_" + "a" * 34}
    cache_hub_model(Path(env["HF_HOME"]) / "hub", tiny_model_dir)
    result = cli("train", "--train_file", str(sentiment_csv), "--model_name_or_path", "someone/tiny", "--max_seq_length", "32", "--push_to_hub", cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stderr[-3000:]
    error = result.stderr.splitlines()[-1]
    assert error.startswith(f"error: The Hugging Face Hub cannot be reached ({env['HF_ENDPOINT']}), so the push cannot be checked or done. "), error
    assert error.endswith(
        "Train without --push_to_hub now and push the finished run later with `python -m finetuner push RUN_ID`, "
        "or start again once the Hub can be reached (check your connection or proxy, HTTPS_PROXY)."
    ), error
    assert "HF_HUB_OFFLINE if" not in result.stderr and "still on disk" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists(), "it failed before a run was made"
