"""A push without a repository name: two runs with the same base model and data file share a default name, and
the second must not silently replace the first's model on the Hub."""

from __future__ import annotations

import shutil

from hub_helpers import front_matter

from finetuner import hub
from finetuner.cli import main
from finetuner.runs import Run


def _twin(run: Run, runs_dir, run_id: str) -> Run:
    """Another run of the same config (same base model and data file, so the same default name), never pushed."""
    twin = Run(runs_dir / run_id)
    shutil.copytree(run.path, twin.path, ignore=shutil.ignore_patterns("checkpoints", "hub.json", ".alive"))
    return twin


def test_a_second_run_with_the_same_default_name_gets_its_own_repo(hub_server, alice, trained_run, tmp_path, monkeypatch, capsys):
    runs_dir = tmp_path / "runs"
    first = _twin(trained_run, runs_dir, "20261207-010000-tiny-bert-aaaa")
    second = _twin(trained_run, runs_dir, "20261207-020000-tiny-bert-bbbb")
    default = f"alice/{hub.default_repo_name(first)}"
    monkeypatch.setenv("HF_TOKEN", alice)

    assert main(["--runs_dir", str(runs_dir), "push", first.id]) == 0
    assert f"Pushed {default} (private)" in capsys.readouterr().out
    assert main(["--runs_dir", str(runs_dir), "push", second.id]) == 0
    out = capsys.readouterr().out
    own = f"{default}-20261207-020000-bbbb"
    assert f"Pushed {own} (private)" in out
    assert f"warning: {default} already holds the model of run {first.id}, so this run was pushed to {own}" in out
    assert front_matter(hub_server.repo(default).text("README.md"))["finetuner_run"] == first.id  # the first run's model is still there
    assert front_matter(hub_server.repo(own).text("README.md"))["finetuner_run"] == second.id

    # Pushed again without a name, each run updates its own repo; a name given is honoured, and replaces.
    assert hub.push_run(first, None, token=alice).repo_id == default
    assert hub.push_run(second, None, token=alice).repo_id == own
    assert hub.push_run(second, default, token=alice).repo_id == default
    assert front_matter(hub_server.repo(default).text("README.md"))["finetuner_run"] == second.id


def test_push_when_finished_chooses_the_default_repo_when_it_pushes(hub_server, alice, trained_run, tmp_path):
    """Two runs started with "push when done" and no name: the repo is chosen when each one pushes, so the
    later one sees the earlier one's model there."""
    runs_dir = tmp_path / "runs"
    first = _twin(trained_run, runs_dir, "20261207-030000-tiny-bert-cccc")
    second = _twin(trained_run, runs_dir, "20261207-040000-tiny-bert-dddd")
    pending = [hub.PushWhenFinished(run, None, token=alice, timeout=30) for run in (first, second)]  # both planned before either pushed
    for push in pending:
        push.start().thread.join(60)
        assert push.error is None, push.error
    default = f"alice/{hub.default_repo_name(first)}"
    assert [p.result.repo_id for p in pending] == [default, f"{default}-20261207-040000-dddd"]


def test_a_long_default_name_with_the_runs_suffix_stays_a_valid_repo_name(tmp_path, tiny_model_dir):
    from finetuner.config import RunConfig
    from finetuner.runs import RunStore

    config = RunConfig.from_dict({"model_name_or_path": str(tiny_model_dir), "train_file": str(tmp_path / ("reviews-" + "x" * 90 + ".csv"))})
    run = RunStore(tmp_path / "runs").create(config, run_id="20261207-050000-tiny-bert-eeee")
    assert len(hub.default_repo_name(run)) == 80
    name = hub.own_repo_name(run)
    assert name.endswith("-20261207-050000-eeee") and len(name) == 96
    assert hub.full_repo_id(name, hub.PREVIEW_USER)  # valid on the Hub


def test_train_push_to_hub_twice_without_a_name_keeps_both_models(hub_server, alice, tiny_model_dir, sentiment_csv, tmp_path, monkeypatch, capsys):
    """The user's case: the same `train --push_to_hub` command run twice (another seed, another learning rate)."""
    monkeypatch.setenv("HF_TOKEN", alice)
    train = ["--runs_dir", str(tmp_path / "runs"), "train", "--model_name_or_path", str(tiny_model_dir), "--train_file", str(sentiment_csv), "--max_steps", "2", "--eval_strategy", "no", "--max_seq_length", "32", "--push_to_hub"]
    assert main(train) == 0
    first = capsys.readouterr().out
    assert main(train) == 0
    second = capsys.readouterr().out
    pushed = [line.split()[1] for line in (first + second).splitlines() if line.startswith("Pushed alice/")]
    assert len(pushed) == 2 and pushed[1].startswith(pushed[0] + "-")
    assert all("model.safetensors" in hub_server.repo(repo_id).files for repo_id in pushed)
    assert "already holds the model of run" in second
    assert "if another run's model is there by then, to a name of this run's own" in second
