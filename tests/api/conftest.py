"""The studio launched in-process on a free port, driven through `gradio_client` as API users would."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import free_port


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """(url, runs_dir) of a running studio over an empty runs folder."""
    from finetuner.ui.studio import build_studio

    runs_dir = tmp_path_factory.mktemp("studio") / "runs"
    demo = build_studio(runs_dir)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    yield demo.local_url, runs_dir
    demo.close()


@pytest.fixture
def client(studio):
    """A fresh API session (its own per-session state) on the module's studio."""
    from gradio_client import Client

    return Client(studio[0], verbose=False)


@pytest.fixture(scope="module")
def reviews_csv(tmp_path_factory, sentiment_frame) -> Path:
    path = tmp_path_factory.mktemp("data") / "reviews.csv"
    sentiment_frame.to_csv(path, index=False)
    return path
