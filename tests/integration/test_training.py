"""Training a tiny model for real: loss falls, events are written, the model reloads and predicts;
stop saves a checkpoint and resume continues from it; a dead process shows as interrupted."""

from __future__ import annotations

import json
import os
import signal

import pandas as pd
import pytest
import torch
from transformers import TrainerCallback

from finetuner.card import _duration as card_duration
from finetuner.card import build_card
from finetuner.config import RunConfig
from finetuner.follow import follow
from finetuner.inference import load_predictor
from finetuner.launcher import resume_training, start_training, stop_training, wait_for_end
from finetuner.precision import cpu_has_fast_bf16
from finetuner.runs import COMPLETED, FAILED, INTERRUPTED, STOPPED, RunStore, trained_seconds
from finetuner.train import WAITING_MESSAGE, run_training
from support import stop_at_step


def tiny_config(model_dir, data_file, **overrides) -> RunConfig:
    values = {
        "model_name_or_path": str(model_dir),
        "train_file": str(data_file),
        "max_seq_length": 32,
        "learning_rate": 3e-3,
        "per_device_train_batch_size": 8,
        "num_train_epochs": 4,
        "logging_steps": 1,
        "warmup_steps": 0,
        **overrides,
    }
    return RunConfig.from_dict(values)


def losses(run) -> list[float]:
    return [e["metrics"]["loss"] for e in run.events() if e["type"] == "log" and "loss" in e["metrics"]]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tiny_model_dir, sentiment_frame):
    folder = tmp_path_factory.mktemp("trained")
    data = folder / "reviews.csv"
    sentiment_frame.to_csv(data, index=False)
    run = RunStore(folder / "runs").create(tiny_config(tiny_model_dir, data))
    assert run_training(run) == COMPLETED, run.status()
    return run


def test_loss_falls_and_events_are_written(trained_run):
    values = losses(trained_run)
    assert len(values) >= 10
    assert sum(values[-3:]) / 3 < sum(values[:3]) / 3
    kinds = {e["type"] for e in trained_run.events()}
    assert {"train_begin", "log", "eval", "checkpoint", "status"} <= kinds
    begin = next(e for e in trained_run.events() if e["type"] == "train_begin")
    fast_bf16 = torch.cuda.is_bf16_supported() if torch.cuda.is_available() else cpu_has_fast_bf16()
    assert begin["precision"] == ("bf16" if fast_bf16 else "fp32"), "bf16 by default where the hardware computes it fast"
    log = next(e for e in trained_run.events() if e["type"] == "log" and e["step"] > 2)
    assert log["eta_seconds"] is not None and log["tokens_per_second"] > 0 and "learning_rate" in log["metrics"]
    evals = [e for e in trained_run.events() if e["type"] == "eval"]
    assert len(evals) == 4 and all("eval_accuracy" in e["metrics"] for e in evals)


def test_results_are_written_with_trainer_keys(trained_run):
    validation, test = trained_run.metrics("validation"), trained_run.metrics("test")
    assert {"eval_loss", "eval_accuracy", "eval_f1_macro", "eval_roc_auc"} <= set(validation)
    assert {"test_loss", "test_accuracy", "test_f1_macro"} <= set(test)
    assert validation["eval_accuracy"] >= 0.75, "the sentiment word decides the label: a tiny model learns it"
    report = json.loads((trained_run.eval_dir / "report_test.json").read_text())
    assert sum(map(sum, report["confusion_matrix"])) == 12
    predictions = pd.read_csv(trained_run.eval_dir / "predictions_test.csv")
    assert list(predictions.columns[:4]) == ["text", "label", "predicted", "confidence"]
    baselines = json.loads((trained_run.eval_dir / "baselines.json").read_text())
    assert baselines["majority"]["test"]["accuracy"] == pytest.approx(0.5)
    status = trained_run.status()
    assert status["state"] == COMPLETED and status["metrics"]["eval_accuracy"] == validation["eval_accuracy"]


def test_the_card_gives_each_score_its_interval(trained_run):
    """12 test examples: the card must not let a score look more certain than that."""
    report = json.loads((trained_run.eval_dir / "report_test.json").read_text())
    low, high = report["intervals"]["accuracy"]
    assert low <= trained_run.metrics("test")["test_accuracy"] <= high and high - low > 0.2
    card = build_card(trained_run, images=False).text
    test_table = card[card.index("### Test split") : card.index("### Validation split")]
    assert "| Metric | This model | 95% interval | Majority class | TF-IDF + logistic regression |" in test_table, test_table
    assert f"| {low:.3f} – {high:.3f} |" in test_table.split("| Accuracy |")[1].splitlines()[0], test_table
    baselines = json.loads((trained_run.eval_dir / "baselines.json").read_text())
    majority = baselines["majority"]["test"]
    assert majority["model_accuracy_gain"] == pytest.approx(trained_run.metrics("test")["test_accuracy"] - majority["accuracy"])
    assert majority["model_accuracy_gain_low"] <= majority["model_accuracy_gain"] <= majority["model_accuracy_gain_high"]
    assert f"Against the baselines, on the same test examples (a paired bootstrap): accuracy {majority['model_accuracy_gain']:+.3f}" in card
    assert "Intervals: accuracy: the Wilson score interval; the others: a percentile bootstrap over the examples (2,000 resamples)." in card


def test_saved_model_reloads_and_predicts(trained_run):
    predictor = load_predictor(trained_run.id, runs_dir=trained_run.path.parent)
    (good, bad) = predictor.predict(["the film was wonderful and the cast felt wonderful", "the plot was dreadful and the story felt dreadful"])
    assert set(good) == {"negative", "positive"} and sum(good.values()) == pytest.approx(1.0)
    assert good["positive"] > 0.5 > bad["positive"]
    config = json.loads((trained_run.model_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    assert (trained_run.model_dir / "model.safetensors").is_file()


def test_frozen_word_embeddings_stay_as_they_were(tiny_model_dir, tmp_path, sentiment_csv):
    from safetensors.torch import load_file

    run = RunStore(tmp_path / "runs").create(tiny_config(tiny_model_dir, sentiment_csv, freeze_embeddings=True, max_steps=3, eval_strategy="no"))
    assert run_training(run) == COMPLETED, run.status()
    start, end = load_file(tiny_model_dir / "model.safetensors"), load_file(run.model_dir / "model.safetensors")
    word, query = "bert.embeddings.word_embeddings.weight", "bert.encoder.layer.0.attention.self.query.weight"
    assert torch.equal(start[word], end[word]), "the vocabulary table is frozen"
    assert not torch.equal(start[query], end[query]), "the rest trains"
    info = json.loads((run.path / "model_info.json").read_text())
    assert info["trainable_parameters"] == info["total_parameters"] - start[word].numel()
    card = build_card(run, images=False).text
    assert "all weights trained but the input word embeddings (kept as pretrained)." in card and "| freeze_embeddings | True |" in card, "the model card says so"


def test_freezing_a_model_that_hides_its_embeddings_fails_the_run_clearly(tiny_model_dir, tmp_path, sentiment_csv, monkeypatch):
    from transformers import BertForSequenceClassification

    def hidden(self):
        raise NotImplementedError

    monkeypatch.setattr(BertForSequenceClassification, "get_input_embeddings", hidden)  # as some remote-code models do
    run = RunStore(tmp_path / "runs").create(tiny_config(tiny_model_dir, sentiment_csv, freeze_embeddings=True, max_steps=1, eval_strategy="no"))
    assert run_training(run) == FAILED
    assert "does not expose its input embeddings; turn the option off" in run.status()["error"]


def test_by_default_every_weight_trains(trained_run, tiny_model_dir):
    from safetensors.torch import load_file

    word = "bert.embeddings.word_embeddings.weight"
    assert not torch.equal(load_file(tiny_model_dir / "model.safetensors")[word], load_file(trained_run.model_dir / "model.safetensors")[word])


def test_stop_checkpoints_and_resume_continues(tmp_path, tiny_model_dir, sentiment_csv):
    run = RunStore(tmp_path / "runs").create(tiny_config(tiny_model_dir, sentiment_csv, max_steps=12, eval_strategy="no"))
    assert run_training(run, callbacks=[stop_at_step(run, 5)]) == STOPPED
    assert run.status()["state"] == STOPPED
    checkpoint = run.latest_checkpoint()
    assert checkpoint is not None and checkpoint.name == "checkpoint-6"
    assert (checkpoint / "optimizer.pt").is_file() and (checkpoint / "scheduler.pt").is_file()
    assert not run.model_dir.exists()

    first = trained_seconds(run.events())
    assert first > 0

    assert run_training(run, resume=True) == COMPLETED
    assert run.status()["earlier_training_seconds"] == first, "the first session's training time, kept for the run's duration and card"
    runtime = json.loads((run.path / "eval" / "train_results.json").read_text())["train_runtime"]
    assert f"{card_duration(runtime + first)} of training" in build_card(run, images=False).text
    steps = [e["step"] for e in run.events() if e["type"] == "log" and "loss" in e["metrics"]]
    assert steps[:6] == [1, 2, 3, 4, 5, 6] and steps[6] == 7, "resume picks up after the checkpoint"
    assert max(steps) == 12
    assert run.status()["state"] == COMPLETED and run.model_dir.is_dir()


def test_resume_refuses_a_config_changed_where_it_would_not_take_effect_and_takes_a_longer_run(tmp_path, tiny_model_dir, sentiment_csv):
    """A resumed run gets its learning rate back from the checkpoint's optimizer and scheduler state: a new one in
    config.yaml would be silently ignored, so it is refused with what to do; more steps are taken, and logged."""
    from finetuner.errors import RunError
    from finetuner.resuming import check_resumable

    run = RunStore(tmp_path / "runs").create(tiny_config(tiny_model_dir, sentiment_csv, max_steps=12, eval_strategy="no"))
    assert run_training(run, callbacks=[stop_at_step(run, 5)]) == STOPPED
    frozen = run.config_path.read_text(encoding="utf-8")
    run.config_path.write_text(frozen.replace("learning_rate: 0.003", "learning_rate: 0.0001").replace("seed: 42", "seed: 7"), encoding="utf-8")
    with pytest.raises(RunError) as refused:
        check_resumable(run)
    message = str(refused.value)
    assert "config.yaml changed since its last checkpoint (checkpoint-6): learning_rate 0.003 -> 0.0001, seed 42 -> 7." in message
    assert "would not take effect" in message and "Put these back to resume, or train with them as a new run" in message

    run.config_path.write_text(frozen.replace("max_steps: 12", "max_steps: 16"), encoding="utf-8")
    check_resumable(run)
    assert run_training(run, resume=True) == COMPLETED, run.status()
    assert "Resuming from checkpoint-6 with changed options: max_steps 12 -> 16." in [e.get("text") for e in run.events()]
    assert run.status()["step"] == 16


def test_resuming_checkpoints_without_optimizer_state_says_the_schedule_starts_again(tmp_path, tiny_model_dir, sentiment_csv):
    """save_only_model saves disk, but a resume then restarts AdamW and the learning-rate schedule (warm-up and all)
    with no word from the Trainer: the run's log says so."""
    from finetuner.resuming import check_resumable

    run = RunStore(tmp_path / "runs").create(tiny_config(tiny_model_dir, sentiment_csv, max_steps=12, eval_strategy="no", save_only_model=True))
    assert run_training(run, callbacks=[stop_at_step(run, 5)]) == STOPPED
    check_resumable(run)
    warnings = [e["text"] for e in run.events() if e.get("warning")]
    assert warnings == [
        "checkpoint-6 holds the model's weights only (save_only_model: true): the resumed run starts AdamW's moments and the learning-rate "
        "schedule, warm-up included, again from the beginning. Leave save_only_model out to resume a run as it was."
    ]


def test_a_checkpoint_whose_save_was_cut_short_is_passed_over_on_resume(tmp_path, tiny_model_dir, sentiment_csv):
    """Killed while saving (the out-of-memory killer, a full disk), a run leaves a checkpoint folder without
    the trainer state the Trainer writes last: Resume continues from the newest complete one."""
    import shutil

    run = RunStore(tmp_path / "runs").create(tiny_config(tiny_model_dir, sentiment_csv, max_steps=12, eval_strategy="no"))
    assert run_training(run, callbacks=[stop_at_step(run, 5)]) == STOPPED
    cut_short = run.checkpoints_dir / "checkpoint-9"
    shutil.copytree(run.checkpoints_dir / "checkpoint-6", cut_short)
    (cut_short / "trainer_state.json").unlink()
    (cut_short / "optimizer.pt").write_bytes((cut_short / "optimizer.pt").read_bytes()[:100])
    run.update_status(state="running", step=9)  # no process holds it: the run shows as interrupted
    assert run.state == INTERRUPTED

    assert run_training(run, resume=True) == COMPLETED, run.status()
    assert any("resuming from checkpoint-6" in e.get("text", "") for e in run.events())


def test_a_stop_mid_epoch_neither_evaluates_nor_changes_the_run(trained_run, tmp_path, tiny_model_dir, sentiment_frame):
    """Evaluating each epoch (the default), a stop in the middle of one saves its checkpoint and stops: no
    evaluation at a fractional epoch (a curve point, a say in the best checkpoint and early stopping, the
    whole validation split to score before stopping), and the resumed run trains as the uninterrupted one."""
    data = tmp_path / "reviews.csv"
    sentiment_frame.to_csv(data, index=False)
    run = RunStore(tmp_path / "runs").create(tiny_config(tiny_model_dir, data))
    assert run_training(run, callbacks=[stop_at_step(run, 5)]) == STOPPED
    assert [e["step"] for e in run.events() if e["type"] == "eval"] == [], "no evaluation at the stop"
    assert [e["step"] for e in run.events() if e["type"] == "checkpoint"] == [6], "one checkpoint, saved once"

    assert run_training(run, resume=True) == COMPLETED
    assert [e["step"] for e in run.events() if e["type"] == "eval"] == [e["step"] for e in trained_run.events() if e["type"] == "eval"]
    resumed = {e["step"]: e["metrics"]["loss"] for e in run.events() if e["type"] == "log" and "loss" in e["metrics"]}
    uninterrupted = {e["step"]: e["metrics"]["loss"] for e in trained_run.events() if e["type"] == "log" and "loss" in e["metrics"]}
    assert resumed == pytest.approx(uninterrupted, abs=1e-6), "stop and resume give the same run"


def test_launched_run_survives_and_killed_run_is_interrupted_then_resumes(tmp_path, tiny_model_dir, sentiment_csv):
    store = RunStore(tmp_path / "runs")
    run = start_training(store, tiny_config(tiny_model_dir, sentiment_csv, max_steps=400, eval_strategy="no", logging_steps=50))
    assert run.is_alive() and run.state in ("queued", "running")
    os.kill(run.raw_status()["pid"], signal.SIGKILL)
    assert wait_for_end(run, timeout=60)
    assert run.state == INTERRUPTED
    assert "resume" in run.status()["message"]

    run.path.joinpath("config.yaml").write_text(
        run.config_path.read_text().replace("max_steps: 400", "max_steps: 6"), encoding="utf-8"
    )
    resume_training(run)
    assert wait_for_end(run, timeout=300)
    assert run.state == COMPLETED, run.status()


def test_stop_a_launched_run(tmp_path, tiny_model_dir, sentiment_csv):
    run = start_training(RunStore(tmp_path / "runs"), tiny_config(tiny_model_dir, sentiment_csv, max_steps=100000, eval_strategy="no", logging_steps=100))
    assert stop_training(run, wait=True, timeout=120) == STOPPED
    assert not run.is_alive()


def test_a_run_stopped_by_the_machine_says_so_and_resumes(tmp_path, tiny_model_dir, sentiment_csv):
    """A Space restarting sends SIGTERM: the run checkpoints and stops, and says nobody pressed Stop."""
    run = start_training(RunStore(tmp_path / "runs"), tiny_config(tiny_model_dir, sentiment_csv, max_steps=100000, eval_strategy="no", logging_steps=1))
    assert any(snap["step"] >= 1 for snap in follow(run, timeout=120)), run.log_path.read_text()[-3000:]
    os.kill(run.raw_status()["pid"], signal.SIGTERM)
    assert wait_for_end(run, 120)
    status = run.status()
    assert status["state"] == STOPPED and "SIGTERM from outside" in status["message"] and "resume" in status["message"], status
    assert run.latest_checkpoint() is not None


def test_one_training_at_a_time(tmp_path, tiny_model_dir, sentiment_csv):
    store = RunStore(tmp_path / "runs")
    config = tiny_config(tiny_model_dir, sentiment_csv, max_steps=4, eval_strategy="no")
    first, second = start_training(store, config), start_training(store, config)
    assert wait_for_end(first, timeout=300) and wait_for_end(second, timeout=300)
    assert first.state == second.state == COMPLETED
    spans = []
    for run in (first, second):
        status = run.status()
        spans.append((status["started_at"], status["ended_at"]))
    spans.sort()
    assert spans[0][1] <= spans[1][0], "the second run started only after the first ended"


class LaunchAnotherAndWait(TrainerCallback):
    """Once this training holds the queue, launches `config` in another runs folder and waits (until its
    stream ends) to see it queued behind this one."""

    def __init__(self, store, config):
        self.store, self.config = store, config
        self.other, self.seen = None, []

    def on_train_begin(self, args, state, control, **kwargs):
        self.other = start_training(self.store, self.config)
        for snap in follow(self.other, timeout=300):
            self.seen.append((snap["state"], snap["message"]))
            if snap["message"] == WAITING_MESSAGE:
                break


def test_one_training_at_a_time_on_the_machine_whatever_the_runs_folder(tmp_path, tiny_model_dir, sentiment_csv, monkeypatch):
    monkeypatch.setenv("FINETUNER_LOCK_DIR", str(tmp_path / "locks"))  # this test's own machine queue
    config = tiny_config(tiny_model_dir, sentiment_csv, max_steps=4, eval_strategy="no")
    first = RunStore(tmp_path / "studio-a").create(config)
    launch = LaunchAnotherAndWait(RunStore(tmp_path / "studio-b"), config)
    assert run_training(first, callbacks=[launch]) == COMPLETED, first.status()
    second = launch.other
    assert launch.seen[-1] == ("queued", WAITING_MESSAGE), f"the run in the other folder did not wait: {launch.seen}"
    assert wait_for_end(second, timeout=300) and second.state == COMPLETED, second.status()
    assert second.status()["started_at"] >= first.status()["ended_at"], "it started only after the first ended"
    assert f"{WAITING_MESSAGE} Run {second.id} starts when it ends" in second.log_path.read_text(encoding="utf-8"), "a terminal shows the wait too"


def test_a_max_length_past_the_model_s_positions_fails_before_training(tmp_path, tiny_model_dir, sentiment_csv):
    """A run launched without the studio's or the CLI's checks (the Python API): it fails once the model is loaded, not at its first long batch."""
    run = RunStore(tmp_path / "runs").create(tiny_config(tiny_model_dir, sentiment_csv, max_seq_length=200))
    assert run_training(run) == FAILED
    assert "max_seq_length 200 is longer than" in run.status()["error"] and "positions for 128 tokens" in run.status()["error"]
    assert not any(e["type"] == "log" for e in run.events()), "no step was trained"


def test_a_model_that_does_not_exist_fails_the_run_clearly(tmp_path, sentiment_csv):
    run = RunStore(tmp_path / "runs").create(tiny_config("no-such-user/no-such-model", sentiment_csv))
    assert run_training(run) == FAILED
    status = run.status()
    assert "no-such-user/no-such-model" in status["error"] and "Traceback" not in status["error"]


def test_a_model_whose_tokenizer_has_no_padding_token_trains_and_predicts_in_batches(tmp_path, sentiment_frame):
    """GPT-2's tokenizer (Llama's too) has no padding token: the collator's first batch stopped the run ("Asking to
    pad but the tokenizer does not have a padding token"), and the model cannot find each text's last token in a
    padded batch without a pad id. Both now use the end-of-text token, which the saved model keeps."""
    from task_fixtures import build_tiny_gpt2

    model_dir = build_tiny_gpt2(tmp_path / "gpt2", list(sentiment_frame["text"]), pad_token=False)
    data = tmp_path / "reviews.csv"
    sentiment_frame.to_csv(data, index=False)
    run = RunStore(tmp_path / "runs").create(tiny_config(model_dir, data, num_train_epochs=1))
    assert run_training(run) == COMPLETED, run.status()
    texts = ["a great film", "dull and far too long for what it is"]
    predictor = load_predictor(str(run.model_dir))
    batched = predictor.predict(texts)
    one_by_one = [predictor.predict([text])[0] for text in texts]
    for together, alone in zip(batched, one_by_one):
        assert together == pytest.approx(alone, abs=1e-4), "padding changes no text's probabilities"


def test_a_decoder_model_trained_on_pairs_is_given_them_separated_in_prediction_and_the_hub_pipeline(tmp_path, sentiment_frame):
    """GPT-2's tokenizer joined a pair's texts with nothing between them: the model could not see where the first
    ends. The end-of-text token separates them in training, and the saved tokenizer keeps it, so the predictor and
    transformers' pipeline (the demo Space's, the card's snippet) read each pair as training did."""
    from transformers import pipeline

    from task_fixtures import build_tiny_gpt2

    model_dir = build_tiny_gpt2(tmp_path / "gpt2", list(sentiment_frame["text"]), pad_token=False)
    pairs = pd.DataFrame({"premise": sentiment_frame["text"], "hypothesis": sentiment_frame["text"].iloc[::-1].to_numpy(), "label": sentiment_frame["label"]})
    data = tmp_path / "pairs.csv"
    pairs.to_csv(data, index=False)
    run = RunStore(tmp_path / "runs").create(tiny_config(model_dir, data, num_train_epochs=1))
    assert run_training(run) == COMPLETED, run.status()
    assert json.loads((run.path / "data_report.json").read_text())["text_columns"] == ["premise", "hypothesis"]
    predictor = load_predictor(str(run.model_dir))
    tokens = predictor.tokenizer.convert_ids_to_tokens(predictor.tokenizer("great", "the")["input_ids"])
    assert tokens == ["great", "</s>", "the"]
    premises, hypotheses = ["a great film", "dull and far too long for what it is"], ["the cast was fun", "bland"]
    batched = predictor.predict(premises, hypotheses)
    for premise, hypothesis, together in zip(premises, hypotheses, batched):
        assert together == pytest.approx(predictor.predict([premise], [hypothesis])[0], abs=1e-4), "padding changes no pair's probabilities"
    classify = pipeline("text-classification", model=str(run.model_dir), top_k=None)
    from_pipeline = {s["label"]: s["score"] for s in classify({"text": premises[0], "text_pair": hypotheses[0]})}
    assert from_pipeline == pytest.approx(batched[0], abs=1e-4)
