"""What the studio streams and shows, without a browser: the follower's snapshots from a run folder, and
the HTML/Markdown built from them (dataset text always escaped)."""

from __future__ import annotations

import json
import os
import threading

import pytest

from finetuner import compare, launcher
from finetuner.config import RunConfig
from finetuner.follow import RunFollower, curves, describe_event, follow
from finetuner.intervals import wilson
from finetuner.runs import Run, RunStore
from finetuner.ui import render, services


def new_run(tmp_path):
    return RunStore(tmp_path / "runs").create(RunConfig.from_dict({"train_file": "x.csv"}))


def test_follower_reads_only_new_complete_lines(tmp_path):
    run = new_run(tmp_path)
    fd = run.hold_alive_lock()  # this test process plays the training process
    try:
        run.update_status(state="running", step=0, total_steps=10)
        follower = RunFollower(run)
        first = follower.poll()
        assert first["state"] == "running" and first["fraction"] == 0.0 and not first["done"]
        assert follower.poll() is None, "nothing changed: no snapshot"
        run.append_event("log", step=5, max_steps=10, epoch=0.5, eta_seconds=30.0, tokens_per_second=100.0, metrics={"loss": 0.5, "learning_rate": 1e-4})
        with open(run.events_path, "a") as handle:
            handle.write('{"type": "log", "step": 6')  # a line still being written
        run.update_status(step=5, eta_seconds=30.0)
        snap = follower.poll()
        assert snap["step"] == 5 and snap["fraction"] == 0.5 and snap["latest_loss"] == 0.5
        assert snap["eta_seconds"] <= 30.0 and snap["tokens_per_second"] == 100.0
        assert follower.events_read == 1 and any("step 5/10" in line for line in snap["log"])
        with open(run.events_path, "a") as handle:
            handle.write(', "max_steps": 10, "metrics": {"loss": 0.4}}\n')
        assert follower.poll()["latest_loss"] == 0.4
    finally:
        os.close(fd)
    # The process is gone without finishing: the follower says so and ends.
    snap = follower.poll()
    assert snap["state"] == "interrupted" and snap["done"]


def test_a_run_that_ends_between_two_reads_still_shows_its_last_evaluation(tmp_path, monkeypatch):
    """The follower reads the status and the new events one after the other; the run may end in between."""
    run = new_run(tmp_path)
    fd = run.hold_alive_lock()
    run.update_status(state="running", step=1, total_steps=2)
    read_status, ended = Run.status, []

    def ending_meanwhile(self):
        if not ended:
            run.append_event("eval", step=2, max_steps=2, epoch=1.0, metrics={"eval_loss": 0.4, "eval_accuracy": 0.9})
            run.update_status(state="completed", step=2, message="Finished.")
            os.close(fd)
            ended.append(True)
        return read_status(self)

    monkeypatch.setattr(Run, "status", ending_meanwhile)  # the run ends just as its status is read
    final = list(follow(run, poll_interval=0.01, timeout=10))[-1]
    assert final["state"] == "completed" and [e["eval_accuracy"] for e in final["eval"]] == [0.9], "the final view holds the final evaluation"


def test_validation_accuracy_comes_with_its_wilson_interval(tmp_path):
    run = new_run(tmp_path)
    (run.path / "data_report.json").write_text(json.dumps({"split_sizes": {"train": 800, "validation": 100}}))
    run.append_event("eval", step=10, metrics={"eval_loss": 0.4, "eval_accuracy": 0.92})
    run.update_status(state="completed")
    (point,) = RunFollower(run).poll()["eval"]
    assert point["eval_accuracy_interval"] == pytest.approx(wilson(92, 100)), "92 of the 100 validation examples right"
    ner = RunStore(tmp_path / "runs").create(RunConfig.from_dict({"task": "token-classification", "train_file": "x.jsonl"}))
    (ner.path / "data_report.json").write_text(json.dumps({"split_sizes": {"train": 800, "validation": 100}}))
    ner.append_event("eval", step=10, metrics={"eval_loss": 0.4, "eval_accuracy": 0.92})
    ner.update_status(state="completed")
    assert "eval_accuracy_interval" not in RunFollower(ner).poll()["eval"][0], "NER's accuracy counts words, not the 100 sentences"


def test_a_resumed_runs_elapsed_time_counts_its_sessions_before_this_one(tmp_path):
    import time

    run = new_run(tmp_path)
    fd = run.hold_alive_lock()
    try:
        run.update_status(state="running", step=5, total_steps=10, started_at=time.time() - 30, earlier_training_seconds=100.0)
        training = RunFollower(run).poll()["elapsed_seconds"]
    finally:
        os.close(fd)
    run.append_event("log", step=10, max_steps=10, elapsed_seconds=40.0, metrics={"loss": 0.5})
    run.update_status(state="completed", step=10)
    ended = RunFollower(run).poll()
    assert 130 <= training < 140, "this session's 30 s after the 100 s of the sessions before"
    assert ended["elapsed_seconds"] == 140.0 and "elapsed 2 min 20 s" in render.progress_card(ended)


def test_a_resumed_run_that_ends_before_its_first_log_counts_its_earlier_sessions_once(tmp_path):
    """A resume that fails (or is stopped) before training logs anything: the last logged elapsed time is the session
    before's, which earlier_training_seconds already holds; the card said twice that time."""
    run = new_run(tmp_path)
    run.append_event("status", state="running", resume=False)
    run.append_event("log", step=10, max_steps=20, elapsed_seconds=46.0, metrics={"loss": 0.5})
    run.append_event("status", state="stopped", step=10)
    run.append_event("status", state="running", resume=True)
    run.append_event("status", state="failed", error="Out of memory.")
    run.update_status(state="failed", step=10, earlier_training_seconds=46.0)
    snap = RunFollower(run).poll()
    assert snap["elapsed_seconds"] == 46.0 and "elapsed 46 s" in render.progress_card(snap)


def test_the_log_says_a_stopped_run_ended_before_its_last_step():
    summary = {"type": "log", "time": 0, "max_steps": 100, "metrics": {"train_loss": 0.5, "train_runtime": 46.2}}
    assert describe_event({**summary, "step": 40}).endswith("Training ended at step 40 of 100: mean loss 0.5000 in 46 s.")
    assert describe_event({**summary, "step": 100}).endswith("Training done: mean loss 0.5000 in 46 s.")


def test_a_long_run_streams_a_thinned_train_curve_read_once(tmp_path):
    """A follower folds each poll's new lines into what it read before: after 3,000 logged steps read in two
    parts it shows what a follower reading them at once shows, a train curve of at most 1,000 points that
    keeps the newest, every evaluation, and the log's last lines; the run's own file keeps every point."""
    run = new_run(tmp_path)
    fd = run.hold_alive_lock()
    try:
        run.update_status(state="running", total_steps=3000)
        follower = RunFollower(run, log_lines=5)
        for part in (range(1, 1501), range(1501, 3001)):
            for step in part:
                run.append_event("log", step=step, max_steps=3000, metrics={"loss": 1.0 / step})
                if step % 1000 == 0:
                    run.append_event("eval", step=step, max_steps=3000, metrics={"eval_loss": 0.5, "eval_accuracy": step / 4000})
            run.update_status(step=part[-1])
            snap = follower.poll()
        fresh = RunFollower(run, log_lines=5).poll()
    finally:
        os.close(fd)
    steps = [point["step"] for point in snap["train"]]
    assert len(steps) <= 1000 and steps[0] == 1 and steps[-1] == 3000 and steps == sorted(steps)
    assert snap["latest_loss"] == pytest.approx(1 / 3000)
    assert [point["eval_accuracy"] for point in snap["eval"]] == [0.25, 0.5, 0.75]
    assert len(snap["log"]) == 5 and "step 3000/3000" in snap["log"][-2] and "evaluation at step 3000" in snap["log"][-1]
    assert {k: snap[k] for k in ("train", "eval", "log", "step")} == {k: fresh[k] for k in ("train", "eval", "log", "step")}
    assert len(curves(run.events())[0]) == 3000


def test_follow_streams_until_the_run_ends(tmp_path):
    run = new_run(tmp_path)
    fd = run.hold_alive_lock()
    run.update_status(state="running", step=0, total_steps=2)

    def train():
        for step in (1, 2):
            run.append_event("log", step=step, max_steps=2, metrics={"loss": 1.0 / step})
            run.update_status(step=step)
        run.append_event("eval", step=2, max_steps=2, epoch=1.0, metrics={"eval_loss": 0.4, "eval_accuracy": 0.9})
        run.update_status(state="completed", message="Finished.", metrics={"eval_accuracy": 0.9})
        os.close(fd)

    trainer = threading.Timer(0.2, train)
    trainer.start()
    snaps = list(follow(run, poll_interval=0.05, timeout=30))
    trainer.join()
    assert snaps[0]["state"] == "running"
    assert snaps[-1]["state"] == "completed" and snaps[-1]["done"] and snaps[-1]["fraction"] == 1.0
    assert [p["step"] for p in snaps[-1]["train"]] == [1, 2] and snaps[-1]["eval"][0]["eval_accuracy"] == 0.9
    json.dumps(snaps[-1])  # plain JSON for the API


def test_follow_of_a_finished_run_yields_once(tmp_path):
    run = new_run(tmp_path)
    run.update_status(state="failed", error="Out of memory. Try a smaller batch.")
    (snap,) = list(follow(run, poll_interval=0.01, timeout=5))
    assert snap["state"] == "failed" and snap["error"].startswith("Out of memory")


def test_progress_moves_between_logs(tmp_path):
    """The training process writes its step at every step end (at most once a second), not only at each log:
    the view's step, fraction and ETA move with it, and the elapsed time runs from the session's start."""
    from types import SimpleNamespace

    from finetuner import callbacks

    run = new_run(tmp_path)
    fd = run.hold_alive_lock()
    try:
        started = __import__("time").time() - 30  # this session began 30 s ago
        run.update_status(state="running", started_at=started, phase="training", message="Training.")
        events = callbacks.RunEventsCallback(run)
        args, control = SimpleNamespace(world_size=1, num_train_epochs=1, bf16=False, fp16=False), SimpleNamespace(should_save=False, should_training_stop=False)
        state = SimpleNamespace(global_step=0, max_steps=48, epoch=0.0, num_input_tokens_seen=0, train_batch_size=8, is_world_process_zero=True)
        events.on_train_begin(args, state, control)
        follower = RunFollower(run, heartbeat=0.0)
        first = follower.poll()
        assert (first["step"], first["eta_seconds"]) == (0, None), "no ETA before the first step"
        state.global_step, state.epoch = 1, 1 / 48
        events.on_step_end(args, state, control)  # logging_steps is 10: no log at step 1
        snap = follower.poll()
        assert (snap["step"], snap["total_steps"]) == (1, 48) and snap["fraction"] == pytest.approx(1 / 48)
        assert snap["eta_seconds"] is not None and snap["eta_seconds"] > 0
        assert 30 <= snap["elapsed_seconds"] < 60, "elapsed counts from the session's start, now"
        state.global_step = 2
        events.on_step_end(args, state, control)
        assert run.raw_status()["step"] == 1, "a step within a second of the last write is not written"
        events._status_written -= callbacks.STATUS_INTERVAL_SECONDS  # a second later
        state.global_step = 3
        events.on_step_end(args, state, control)
        assert follower.poll()["step"] == 3
        later = follower.poll()
        assert later is not None and later["elapsed_seconds"] >= snap["elapsed_seconds"], "with a heartbeat the clock moves though nothing changed"
        quiet = RunFollower(run)
        quiet.poll()
        assert quiet.poll() is None, "without a heartbeat: a snapshot only on a change"
    finally:
        os.close(fd)


def test_finishing_a_run_says_what_it_does_past_its_last_step(tmp_path):
    """After the last step the final evaluation and the baselines take a while: the card says so, without an ETA."""
    run = new_run(tmp_path)
    fd = run.hold_alive_lock()
    try:
        run.update_status(state="running", started_at=1.0, step=48, total_steps=48, eta_seconds=0.0, progress_at=2.0,
                          phase="finishing", message="Saving the model and evaluating on validation and test…")
        snap = RunFollower(run).poll()
        assert snap["fraction"] == 1.0 and snap["eta_seconds"] is None and snap["phase"] == "finishing"
        html = render.progress_card(snap)
        assert "Finishing" in html and html.count("Saving the model and evaluating on validation and test…") == 1 and "ETA" not in html
    finally:
        os.close(fd)


def test_a_resumed_run_shows_no_stale_eta_or_elapsed_time(tmp_path):
    """Resumed, a run waits (queued) with its last session's status: no ETA 0 s, no old elapsed time."""
    run = new_run(tmp_path)
    run.append_event("log", step=20, max_steps=48, elapsed_seconds=37.0, eta_seconds=50.0, metrics={"loss": 0.5})
    run.update_status(state="stopped", step=20, total_steps=48, eta_seconds=50.0, started_at=1.0, ended_at=40.0, message="Stopped at step 20; resume to continue.")
    stopped = RunFollower(run).poll()
    assert stopped["elapsed_seconds"] == 37.0 and stopped["eta_seconds"] is None
    assert "elapsed 37 s" in render.progress_card(stopped)
    fd = run.hold_alive_lock()  # the resumed process, still queued
    try:
        run.update_status(state="queued", ended_at=None, error=None, message="Resuming.")  # its ETA still the last session's
        snap = RunFollower(run).poll()
        assert snap["eta_seconds"] is None and snap["elapsed_seconds"] is None
        html = render.progress_card(snap)
        assert "ETA" not in html and "elapsed" not in html
    finally:
        os.close(fd)


def test_token_chips_escape_dataset_text():
    inspection = {
        "tokens": ["[CLS]", "<script>", "&", "[SEP]"],
        "input_ids": [101, 7, 8, 102],
        "attention_mask": [1, 1, 1, 1],
        "token_type_ids": [0, 0, 1, 1],
        "special_tokens_mask": [1, 0, 0, 1],
        "num_tokens": 4,
        "num_tokens_untruncated": 9,
        "truncated": True,
        "dropped_text": "<img src=x onerror=alert(1)>",
        "max_length": 4,
    }
    html = render.token_chips(inspection)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp;" in html
    assert "<img" not in html and "&lt;img" in html
    assert html.count('class="ft-chip"') == 4
    assert "5 tokens dropped" in html and "ft-cut" in html
    assert "border-bottom:3px" in html, "the second segment (token type 1) is marked"
    row = render.token_frame(inspection).iloc[2]  # the inspector's table: the user's "&" as the model reads it
    assert (row["position"], row["token"], row["id"], row["attention_mask"], row["token_type_ids"]) == (2, "&", 8, 1, 1)


def test_progress_card_states():
    assert "No run selected" in render.progress_card(None)
    running = {"run_id": "r1", "task": "text-classification", "state": "running", "fraction": 0.5, "step": 5, "total_steps": 10, "epoch": 0.5, "eta_seconds": 65, "latest_loss": 0.4, "latest_eval": {"eval_accuracy": 0.8}}
    html = render.progress_card(running)
    assert "Training" in html and 'aria-valuenow="50"' in html and "ETA 1 min 05 s" in html and "eval accuracy <b>0.8000</b>" in html
    ner = render.progress_card({**running, "task": "token-classification", "latest_eval": {"eval_accuracy": 0.95, "eval_f1": 0.61}})
    assert "eval f1 <b>0.6100</b>" in ner and "eval accuracy" not in ner, "NER is read by its entity F1, not its word accuracy"
    queued = {**running, "state": "queued", "fraction": 0.0}
    assert "waiting for run r0" in render.progress_card(queued, queue_note="One training at a time on this machine: waiting for run r0 to finish.")
    failed = {**running, "state": "failed", "error": "bad <b>thing</b>"}
    assert "bad &lt;b&gt;thing&lt;/b&gt;" in render.progress_card(failed)
    assert "Resume" in render.progress_card({**running, "state": "stopped"})
    done = render.progress_card({**running, "state": "completed", "fraction": 1.0, "metrics": {"eval_accuracy": 0.9}})
    assert "See the <b>Evaluate</b> and <b>Try it</b> tabs" in done, "the tabs by the names they have"


def test_markdown_escaping_and_checks():
    assert render.md_escape("a_b *c* [x](y) <i>") == "a\\_b \\*c\\* \\[x\\](y) \\<i\\>"
    checks = render.data_checks(["train: 3 duplicate text(s).", "validation was split from train (12 rows, stratified by label)."])
    assert "⚠ train: 3 duplicate text(s)." in checks and "ℹ validation was split" in checks
    assert render.data_checks([]).endswith("no overlap between splits, classes balanced.")
    assert render.data_checks([], balanced="entity types").endswith("entity types balanced.")
    assert render.data_checks([], balanced=None).endswith("no overlap between splits."), "a task that writes text has no classes"


def test_cli_command_reproduces_a_config():
    from finetuner.cli import build_parser, config_from_args

    config = RunConfig.from_dict({"train_file": "data/my reviews.csv", "learning_rate": 3e-5, "text_column_names": ["premise", "hypothesis"], "extra_training_args": {"fp16": True}})
    command = services.cli_command(config, runs_dir="my runs")
    assert command.startswith("python -m finetuner --runs_dir 'my runs' train")
    assert "'data/my reviews.csv'" in command and "--text_column_names premise,hypothesis" in command and "--fp16 true" in command
    import shlex

    args, unknown = build_parser().parse_known_args(shlex.split(command)[3:])
    args.config_file = None
    assert config_from_args(args, unknown).to_dict() == config.to_dict(), "the command rebuilds the same config"


def test_config_diff_lists_only_differences():
    a = RunConfig.from_dict({"train_file": "x.csv"})
    b = a.replace(learning_rate=2e-5, num_train_epochs=5)
    assert compare.config_diff(a, b) == [["learning_rate", "5e-05", "2e-05"], ["num_train_epochs", "3.0", "5"]]


@pytest.mark.parametrize(
    ("ending", "retry_offered"),
    [({}, True), ({"exit_signal": "SIGKILL", "exit_code": -9}, True), ({"exit_signal": "SIGTERM", "exit_code": -15}, False), ({"disk_full": True}, False)],
)
def test_an_interrupted_run_names_the_smaller_batch_retry_only_where_the_page_offers_it(tmp_path, monkeypatch, ending, retry_offered):
    """The card's note and the Retry button agree: after a full disk or a termination from outside, memory was
    not the cause, and the button is hidden."""
    run = new_run(tmp_path)
    monkeypatch.setattr(Run, "disk_full", lambda self: ending.get("disk_full", False))
    run.update_status(state="running", step=3, total_steps=10, **{k: v for k, v in ending.items() if k != "disk_full"})  # its process is gone
    html = render.progress_card(RunFollower(run).poll())
    assert "Interrupted:" in html and "Press <b>Resume</b> to continue from the last checkpoint" in html
    assert ("Retry with a smaller batch" in html) == retry_offered == launcher.can_retry_with_smaller_batch(run)
