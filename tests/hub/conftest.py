"""Fixtures for the Hub tests: a loopback Hub server (fakehub.py), a client environment pointed at it,
and one tiny trained run (session-scoped, a few seconds of CPU) to push.

huggingface_hub reads HF_ENDPOINT, HF_HUB_OFFLINE and friends once, when `huggingface_hub.constants`
is first imported, which other test folders may already have done. So the `hub_server` fixture sets both the
environment (for subprocesses and late imports) and the already-imported constants (monkeypatched,
restored after each test). tests/conftest.py turns offline mode on for every other test; it is off
here only, and only towards 127.0.0.1.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parent))
ROOT = Path(__file__).resolve().parents[2]

from fakehub import FakeHub  # noqa: E402

from hub_helpers import CANARY  # noqa: E402,F401 - fixtures below use it


@pytest.fixture(scope="session")
def fakehub():
    server = FakeHub().start()
    yield server
    server.stop()


@pytest.fixture
def hub_server(fakehub, monkeypatch, tmp_path):
    """The fake Hub, empty, with huggingface_hub pointed at it and no token in the environment."""
    import huggingface_hub.constants as constants
    import huggingface_hub.utils as hf_utils
    import huggingface_hub.utils._http as http

    from finetuner import hub as finetuner_hub

    fakehub.reset()
    fakehub.users.clear()
    url = fakehub.url
    for name, value in {
        "HF_ENDPOINT": url,
        "HF_HUB_OFFLINE": "0",
        "TRANSFORMERS_OFFLINE": "0",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_HUB_CACHE": str(tmp_path / "hf_cache"),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "SYSTEM", "SPACE_ID", "FINETUNER_ALLOW_SERVER_TOKEN", "FINETUNER_SHARED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf_cache"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf_home" / "token"))  # no saved login
    # 5xx retries would wait ~23 s. Only huggingface_hub's own wait is skipped: `http.time` is the `time` module,
    # whose `sleep` made a no-op turned every polling loop in the process (gradio's client and server threads,
    # the studio's follows) into a busy one that took the CPU from the test's own work.
    monkeypatch.setattr(http, "time", SimpleNamespace(sleep=lambda seconds: None))
    finetuner_hub._WHOAMI_CACHE.clear()
    progress_bars = hf_utils.are_progress_bars_disabled()
    hf_utils.disable_progress_bars()
    yield fakehub
    if not progress_bars:
        hf_utils.enable_progress_bars()
    finetuner_hub._WHOAMI_CACHE.clear()
    assert not fakehub.server_errors, f"the fake Hub failed inside: {fakehub.server_errors}"


@pytest.fixture
def alice(hub_server) -> str:
    """A write token of 'alice' (PRO plan, member of 'acme')."""
    return hub_server.add_user("alice", token="hf_alice_write_token_0123456789", orgs=("acme",), plan="pro")


@pytest.fixture(scope="session")
def hub_runs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hub-runs")


@pytest.fixture(scope="session")
def trained_run(hub_runs_dir, tiny_model_dir, sentiment_frame):
    """A completed run of the tiny model (a few steps, with evaluations), owned by 'alice'."""
    from finetuner.config import RunConfig
    from finetuner.runs import COMPLETED, RunStore
    from finetuner.train import run_training

    data = hub_runs_dir.parent / "hub-reviews.csv"
    sentiment_frame.to_csv(data, index=False)
    config = RunConfig.from_dict(
        {
            "model_name_or_path": str(tiny_model_dir),
            "train_file": str(data),
            "max_steps": 8,
            "per_device_train_batch_size": 16,
            "learning_rate": 5e-4,
            "eval_strategy": "steps",
            "eval_steps": 4,
            "logging_steps": 2,
            "max_seq_length": 32,
        }
    )
    run = RunStore(hub_runs_dir).create(config, owner="alice")
    assert run_training(run) == COMPLETED, run.status()
    return run


@pytest.fixture
def studio_source(tmp_path) -> Path:
    """A copy of the source tree as `space-upload` sees it (with an app.py if the checkout has none yet), for a Space
    that holds the studio."""
    root = tmp_path / "source"
    shutil.copytree(ROOT / "finetuner", root / "finetuner", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "spaces_config", root / "spaces_config")
    shutil.copy(ROOT / "requirements.txt", root / "requirements.txt")
    app = ROOT / "app.py"
    (root / "app.py").write_text(app.read_text() if app.is_file() else "import gradio as gr\ndemo = gr.Blocks()\n")
    return root
