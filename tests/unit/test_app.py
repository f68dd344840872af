"""app.py's flags reach Gradio's launch: where the studio listens, whether it opens a share link, and
that a shared studio switches the per-visitor isolation on (FINETUNER_SHARED=1)."""

from __future__ import annotations

import os

import pytest

import app
from finetuner import access


class RecordingStudio:
    """Stands in for the studio page: remembers its runs folder and the arguments of `launch`."""

    def __init__(self, runs_dir):
        self.runs_dir = runs_dir
        self.launched: dict | None = None

    def launch(self, **kwargs):
        self.launched = kwargs


@pytest.fixture
def launched(monkeypatch):
    """Run `app.main(argv)` without serving anything; returns the studio it built. The environment is restored after."""
    for name in ("FINETUNER_SHARED", "GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT", "FINETUNER_RUNS_DIR"):
        monkeypatch.setenv(name, "")  # recorded, so what app.main sets is undone after the test (delenv of an
        monkeypatch.delenv(name)  # absent name records nothing, and FINETUNER_SHARED=1 would leak into later tests)
    built = []

    def build_studio(runs_dir):
        built.append(RecordingStudio(runs_dir))
        return built[-1]

    monkeypatch.setattr("finetuner.ui.studio.build_studio", build_studio)

    def main(argv):
        app.main(argv)
        (studio,) = built
        return studio

    return main


def test_defaults_listen_locally_without_a_share_link(launched):
    studio = launched([])
    assert studio.runs_dir == "runs"
    assert (studio.launched["server_name"], studio.launched["server_port"], studio.launched["share"]) == ("127.0.0.1", 7860, False)
    assert studio.launched["auth"] is None
    assert "FINETUNER_SHARED" not in os.environ, "a studio on this machine only is not shared"


def test_host_port_and_runs_dir(launched):
    studio = launched(["--host", "0.0.0.0", "--port", "8123", "--runs-dir", "/tmp/elsewhere"])
    assert (studio.launched["server_name"], studio.launched["server_port"], studio.launched["share"]) == ("0.0.0.0", 8123, False)
    assert studio.runs_dir == "/tmp/elsewhere"
    assert "FINETUNER_SHARED" not in os.environ, "listening on every interface alone does not turn the shared mode on"


def test_share_opens_a_link_and_isolates_visitors(launched, capsys):
    studio = launched(["--share"])
    assert studio.launched["share"] is True
    assert os.environ["FINETUNER_SHARED"] == "1"
    assert "without --auth" in capsys.readouterr().out, "a share link without logins is pointed out"


def test_auth_logins_share_the_studio_too(launched):
    studio = launched(["--auth", "ann:secret", "--auth", "bob:hunter2"])
    assert studio.launched["auth"] == [("ann", "secret"), ("bob", "hunter2")] and studio.launched["share"] is False
    assert os.environ["FINETUNER_SHARED"] == "1"


def test_an_explicit_opt_out_wins_over_share(launched, monkeypatch):
    monkeypatch.setenv("FINETUNER_SHARED", "0")
    launched(["--share"])
    assert os.environ["FINETUNER_SHARED"] == "0"


def test_a_malformed_login_is_refused_before_launch(launched):
    with pytest.raises(SystemExit, match="--auth expects USER:PASSWORD, got 'ann'"):
        launched(["--auth", "ann"])


@pytest.fixture
def on_a_space(monkeypatch, tmp_path):
    """The environment a Space's runtime sets; /data stands for a folder under tmp_path."""
    monkeypatch.setenv("SYSTEM", "spaces")
    monkeypatch.setenv("SPACE_ID", "team/finetuner-studio")
    monkeypatch.setattr(access, "SPACE_STORAGE", tmp_path / "data")
    return tmp_path / "data"


def test_a_space_with_persistent_storage_keeps_runs_there(launched, on_a_space):
    on_a_space.mkdir()
    assert launched([]).runs_dir == str(on_a_space / "runs"), "runs on the Space's own disk are lost at its next restart"


def test_a_space_without_persistent_storage_and_an_owners_choice(launched, on_a_space, monkeypatch):
    assert launched([]).runs_dir == "runs"
    on_a_space.mkdir()
    monkeypatch.setenv("FINETUNER_RUNS_DIR", "/mnt/bucket/runs")
    assert app.parse_args([]).runs_dir == "/mnt/bucket/runs", "the owner's FINETUNER_RUNS_DIR wins"


def test_the_cli_keeps_runs_where_the_studio_does(on_a_space, monkeypatch):
    """`python -m finetuner runs` on a Space, or with FINETUNER_RUNS_DIR set, lists the studio's runs (it looked in ./runs)."""
    from finetuner import cli

    on_a_space.mkdir()
    assert cli.build_parser().parse_args(["runs"]).runs_dir == app.parse_args([]).runs_dir == str(on_a_space / "runs")
    monkeypatch.setenv("FINETUNER_RUNS_DIR", "/mnt/bucket/runs")
    assert cli.build_parser().parse_args(["runs"]).runs_dir == app.parse_args([]).runs_dir == "/mnt/bucket/runs"


def test_the_hub_tab_warns_of_a_restart_only_where_runs_would_go(on_a_space, monkeypatch, tmp_path):
    """'This Space's disk is wiped ... push each finished run' is true of runs on the Space's own disk, not of
    runs on its persistent storage or where its owner chose."""
    on_a_space.mkdir()
    assert access.runs_lost_on_restart("runs")
    assert not access.runs_lost_on_restart(on_a_space / "runs")
    monkeypatch.setenv("FINETUNER_RUNS_DIR", str(tmp_path / "bucket"))
    assert not access.runs_lost_on_restart("runs"), "the owner chose where runs go"
    monkeypatch.delenv("SYSTEM")
    monkeypatch.delenv("SPACE_ID")
    monkeypatch.delenv("FINETUNER_RUNS_DIR")
    assert not access.runs_lost_on_restart("runs"), "one's own machine keeps its runs"
