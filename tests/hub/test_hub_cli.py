"""`python -m finetuner push | card | deploy-space | space-upload | train --push_to_hub` against the loopback Hub."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakehub import LICENSES, NEWER_HUB_LICENSE
from hub_helpers import CANARY, files_containing, front_matter

from finetuner.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_push_card_and_deploy_space(hub_server, alice, trained_run, hub_runs_dir, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("HF_TOKEN", alice)
    runs = ["--runs_dir", str(hub_runs_dir)]

    assert main([*runs, "card", trained_run.id, "--repo_id", "alice/cli-model", "--output_dir", str(tmp_path / "card")]) == 0
    card = (tmp_path / "card" / "README.md").read_text()
    assert 'model="alice/cli-model"' in card and (tmp_path / "card" / "images" / "confusion_matrix.png").is_file()

    assert main([*runs, "push", trained_run.id, "--repo_id", "cli-model", "--license", "apache-2.0", "--language", "en,fr"]) == 0
    out = capsys.readouterr().out
    assert f"Pushed alice/cli-model (private): {hub_server.url}/alice/cli-model" in out
    meta = front_matter(hub_server.repo("alice/cli-model").text("README.md"))
    assert meta["license"] == "apache-2.0" and meta["language"] == ["en", "fr"]

    assert main([*runs, "deploy-space", trained_run.id, "--public"]) == 0  # the run knows where it was pushed
    out = capsys.readouterr().out
    assert "Space alice/cli-model-demo (public)" in out
    assert not hub_server.repo("alice/cli-model-demo", "space").private


def test_errors_exit_2_with_the_fix(hub_server, trained_run, hub_runs_dir, capsys):
    assert main(["--runs_dir", str(hub_runs_dir), "push", trained_run.id, "--repo_id", "x"]) == 2
    err = capsys.readouterr().err
    assert "error: No Hugging Face token" in err and "HF_TOKEN" in err


def test_train_push_to_hub_checks_the_token_before_training(hub_server, tiny_model_dir, sentiment_csv, tmp_path, monkeypatch, capsys):
    runs_dir = tmp_path / "runs"
    train = ["--runs_dir", str(runs_dir), "train", "--model_name_or_path", str(tiny_model_dir), "--train_file", str(sentiment_csv), "--max_steps", "2", "--eval_strategy", "no", "--max_seq_length", "32"]

    monkeypatch.setenv("HF_TOKEN", CANARY)  # not a token the Hub knows
    assert main([*train, "--push_to_hub", "--hub_model_id", "pushed-at-end"]) == 2
    assert "401" in capsys.readouterr().err
    assert not runs_dir.exists() or not any(runs_dir.iterdir())  # failed before a run was even created

    reader = hub_server.add_user("alice", token="hf_alice_read_only_0123456789", role="read")
    monkeypatch.setenv("HF_TOKEN", reader)
    assert main([*train, "--push_to_hub", "--hub_model_id", "pushed-at-end"]) == 2
    assert "read-only" in capsys.readouterr().err

    hub_server.add_user("alice", token=CANARY, plan="pro")
    monkeypatch.setenv("HF_TOKEN", CANARY)
    assert main([*train, "--push_to_hub", "--hub_model_id", "pushed-at-end", "--hub_private_repo", "false"]) == 0
    out = capsys.readouterr().out
    assert "will be pushed when training completes" in out and "Pushed alice/pushed-at-end (public)" in out
    assert "model.safetensors" in hub_server.repo("alice/pushed-at-end").files
    assert files_containing(runs_dir, CANARY) == []  # the token reached no file of the run


@pytest.mark.skipif(not (ROOT / "app.py").is_file(), reason="app.py (the studio's entry point) is not in this checkout yet")
def test_space_upload_command(hub_server, alice, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", alice)
    assert main(["space-upload", "--space_name", "studio", "--hardware", "t4-small"]) == 0
    assert "Space alice/studio (private)" in capsys.readouterr().out
    space = hub_server.repo("alice/studio", "space")
    assert {"app.py", "README.md", "requirements.txt", "finetuner/cli.py"} <= set(space.files)


def test_a_token_flag_is_refused_saying_where_the_token_goes_without_echoing_it(hub_server, trained_run, hub_runs_dir, capsys):
    for command in (["push", trained_run.id], ["deploy-space", "alice/x"], ["space-upload"]):
        assert main(["--runs_dir", str(hub_runs_dir), *command, "--token", CANARY]) == 2
        err = capsys.readouterr().err
        assert "never taken from a flag" in err and "hf auth login" in err and "HF_TOKEN" in err, err
        assert CANARY not in err
    assert not hub_server.requests  # nothing was tried with another token instead


def test_no_error_message_echoes_a_token_given_under_another_name(hub_runs_dir, capsys):
    """An unknown option's message quotes what was typed: a token typed after a misspelt flag is masked."""
    for command in (["runs", "--hub-token", CANARY], ["runs", f"--auth_token={CANARY}"], ["compare", CANARY, "other"]):
        assert main(["--runs_dir", str(hub_runs_dir), *command]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and CANARY not in err and "hf_***" in err, err


def test_card_preview_asks_nothing_of_the_hub_whatever_the_token(hub_server, trained_run, hub_runs_dir, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", "hf_mistyped_token_0000000000000")
    assert main(["--runs_dir", str(hub_runs_dir), "card", trained_run.id, "--repo_id", "https://huggingface.co/acme/cli-model"]) == 0
    assert 'model="acme/cli-model"' in capsys.readouterr().out
    assert main(["--runs_dir", str(hub_runs_dir), "card", trained_run.id, "--repo_id", "cli-model"]) == 0
    assert 'model="your-username/cli-model"' in capsys.readouterr().out  # not the bare name, which no one can load
    assert not hub_server.requests


@pytest.mark.parametrize("cause", ["unreachable", "HF_HUB_OFFLINE set"])
def test_train_push_to_hub_without_an_answer_from_the_hub_says_how_to_go_on(cause, hub_server, tiny_model_dir, sentiment_csv, tmp_path, monkeypatch, capsys):
    """No answer to the token check: it said "your run is still on disk" before any run was made, and "unset
    HF_HUB_OFFLINE if it is set" whatever the cause. (With a Hub id read from the cache, finetuner sets
    HF_HUB_OFFLINE itself: tests/integration/test_cli.py.)"""
    import huggingface_hub.constants as constants

    from support import free_port

    monkeypatch.setenv("HF_TOKEN", hub_server.add_user("alice", token="hf_alice_write_token_0123456789"))
    if cause == "unreachable":
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{free_port()}")
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    runs_dir = tmp_path / "runs"
    train = ["--runs_dir", str(runs_dir), "train", "--model_name_or_path", str(tiny_model_dir), "--train_file", str(sentiment_csv), "--max_steps", "2", "--max_seq_length", "32"]
    assert main([*train, "--push_to_hub"]) == 2
    err = capsys.readouterr().err
    later = "train without --push_to_hub now and push the finished run later with `python -m finetuner push RUN_ID`"
    if cause == "unreachable":
        expected = (
            f"The Hugging Face Hub cannot be reached ({constants.ENDPOINT}), so the push cannot be checked or done. T{later[1:]}, "
            "or start again once the Hub can be reached (check your connection or proxy, HTTPS_PROXY)."
        )
    else:
        expected = f"HF_HUB_OFFLINE=1 is set, so the Hugging Face Hub is not contacted and the push cannot be checked or done. Unset it, or {later}."
    assert err.strip().splitlines()[-1] == f"error: {expected}"
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_pushing_again_what_the_repo_holds_says_nothing_was_uploaded(hub_server, alice, trained_run, hub_runs_dir, monkeypatch, capsys):
    """huggingface_hub skips a commit that changes nothing and answers the last one: the push used to print
    'Pushed' with that old commit as if it had uploaded."""
    import time

    real = time.strftime  # the card's date, fixed: two pushes either side of midnight would differ by it
    monkeypatch.setattr(time, "strftime", lambda fmt, *when: "2026-01-01" if fmt == "%Y-%m-%d" else real(fmt, *when))
    monkeypatch.setenv("HF_TOKEN", alice)
    push = ["--runs_dir", str(hub_runs_dir), "push", trained_run.id, "--repo_id", "same-model"]
    assert main(push) == 0
    assert "nothing was uploaded" not in capsys.readouterr().out
    commits = len(hub_server.repo("alice/same-model").commits)
    assert main(push) == 0
    out = capsys.readouterr().out
    assert len(hub_server.repo("alice/same-model").commits) == commits
    assert "warning: alice/same-model already held exactly these files" in out and "nothing was uploaded and no commit was made" in out


def test_an_unknown_license_is_refused_by_the_hub_before_a_repo_is_made_and_a_preview_warns(hub_server, alice, trained_run, hub_runs_dir, monkeypatch, capsys):
    """`card --license nope` previewed a card with `license: nope` and said nothing, and a push with it created an
    empty repo before the Hub refused the card. The preview warns, naming the Hub's ids; the push asks the Hub
    first (the likely id for a near miss in its message), and nothing is created."""
    monkeypatch.setenv("HF_TOKEN", alice)
    runs = ["--runs_dir", str(hub_runs_dir)]
    assert main([*runs, "card", trained_run.id, "--license", "nope"]) == 0
    captured = capsys.readouterr()
    assert "warning: License 'nope' is not a Hub license id" in captured.err and "https://huggingface.co/docs/hub/repositories-licenses" in captured.err
    assert "license: nope" in captured.out
    assert main([*runs, "push", trained_run.id, "--repo_id", "licensed", "--license", "apache2"]) == 2
    err = capsys.readouterr().err
    assert "The Hub refused the model card's metadata" in err and "Nothing was created or uploaded" in err
    assert "(did you mean apache-2.0?)" in err and "'other'" in err
    assert not hub_server.requests_to("POST", "/api/repos/create")
    assert main([*runs, "card", trained_run.id, "--license", "cc-by-nc-sa-4.0"]) == 0
    captured = capsys.readouterr()
    assert "license: cc-by-nc-sa-4.0" in captured.out and "warning" not in captured.err


def test_a_license_the_hub_added_after_finetuners_list_is_pushed(hub_server, alice, trained_run, hub_runs_dir, monkeypatch, capsys):
    """A list of the Hub's license ids kept in finetuner refused an id the Hub takes once the Hub added it; the
    Hub judges the card, so it is pushed (the preview only warns)."""
    monkeypatch.setenv("HF_TOKEN", alice)
    assert NEWER_HUB_LICENSE in LICENSES
    assert main(["--runs_dir", str(hub_runs_dir), "push", trained_run.id, "--repo_id", "newer-license", "--license", NEWER_HUB_LICENSE]) == 0, capsys.readouterr().err
    card = hub_server.repo("alice/newer-license").text("README.md")
    assert f"license: {NEWER_HUB_LICENSE}" in card


def test_the_hubs_newer_license_ids_are_previewed_not_refused(trained_run, hub_runs_dir, capsys):
    """The Hub's license list (https://huggingface.co/docs/hub/repositories-licenses) has ids that finetuner's copy
    lacked, e.g. eupl-1.2, apple-amlr, fair-noncommercial-research-license, grok2-community: a card with one of them
    was refused as 'not a Hub license id' though the Hub takes it."""
    for license_id in ("eupl-1.2", "apple-amlr", "fair-noncommercial-research-license", "grok2-community", "openmdw-1.0"):
        assert main(["--runs_dir", str(hub_runs_dir), "card", trained_run.id, "--license", license_id]) == 0, capsys.readouterr().err
        assert f"license: {license_id}" in capsys.readouterr().out


def test_a_license_not_shaped_as_an_id_is_refused_naming_the_likely_id(trained_run, hub_runs_dir, capsys):
    """An id typed with capitals ('Apache-2.0', 'MIT') is refused offline, as it is not shaped as a Hub id; the
    refusal said only where the list is, not which id was likely meant, as a near miss's refusal does."""
    for typed, meant in (("Apache-2.0", "apache-2.0"), ("MIT", "mit")):
        assert main(["--runs_dir", str(hub_runs_dir), "card", trained_run.id, "--license", typed]) == 2
        err = capsys.readouterr().err
        assert f"License '{typed}' is not a Hub license id (did you mean {meant}" in err, err


def test_a_license_that_is_other_is_given_with_its_name_and_link(hub_server, alice, trained_run, hub_runs_dir, monkeypatch, capsys):
    """The Hub asks a card with `license: other` for the license's name (`license_name`) and where to read it
    (`license_link`); finetuner had no way to give them, and previewed and pushed a bare 'other' without a word.
    --license_name and --license_link reach the card; 'other' without them is warned of; either with another
    license is refused before anything is created."""
    monkeypatch.setenv("HF_TOKEN", alice)
    runs = ["--runs_dir", str(hub_runs_dir)]
    assert main([*runs, "card", trained_run.id, "--license", "other"]) == 0
    err = capsys.readouterr().err
    assert "warning: License 'other' says only that the license is not on the Hub's list: the Hub asks for its name (--license_name" in err and "--license_link" in err
    named = ["--license", "other", "--license_name", "acme-research-1.0", "--license_link", "https://acme.example/LICENSE"]
    assert main([*runs, "push", trained_run.id, "--repo_id", "other-licensed", *named]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.out + captured.err, captured
    meta = front_matter(hub_server.repo("alice/other-licensed").text("README.md"))
    assert (meta["license"], meta["license_name"], meta["license_link"]) == ("other", "acme-research-1.0", "https://acme.example/LICENSE")
    assert main([*runs, "push", trained_run.id, "--repo_id", "mixed", "--license", "mit", "--license_name", "acme-research-1.0"]) == 2
    assert "(license 'mit' is a Hub id, which needs neither): pass --license other with them" in capsys.readouterr().err
    assert ("model", "alice/mixed") not in hub_server.repos
