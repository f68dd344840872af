"""Shared fixtures: a tiny BERT built in the test, small labelled data, and a runs directory.
Nothing is downloaded; training takes seconds on a CPU. The builders live in `support.py`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Before anything imports huggingface_hub: never reach for the real Hub from tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The machine-wide training queue, for this test session only: its tiny trainings never wait behind
# another session's (or a studio's) training on the same machine.
os.environ.setdefault("FINETUNER_LOCK_DIR", tempfile.mkdtemp(prefix="finetuner-test-queue-"))

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from support import build_tiny_model, make_sentiment_frame  # noqa: E402

@pytest.fixture(scope="session")
def sentiment_frame() -> pd.DataFrame:
    return make_sentiment_frame()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, sentiment_frame) -> Path:
    texts = list(sentiment_frame["text"]) + ["premise hypothesis question sentence entity"]
    return build_tiny_model(tmp_path_factory.mktemp("tiny-bert"), texts)


@pytest.fixture
def sentiment_csv(tmp_path, sentiment_frame) -> Path:
    path = tmp_path / "reviews.csv"
    sentiment_frame.to_csv(path, index=False)
    return path


@pytest.fixture
def runs_dir(tmp_path) -> Path:
    return tmp_path / "runs"
