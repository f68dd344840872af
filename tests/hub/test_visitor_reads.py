"""A shared studio reads a signed-in visitor's private Hub dataset and model with that visitor's own token
(`Client(..., oauth_token=...)` is what the login gives a browser on a Space), and with nobody else's: an
anonymous visitor, or another signed-in one, is told the dataset cannot be read, before and after its owner
loaded it (the studio's caches and `datasets`' own cache do not hand it on). Where a visitor's token may not
read a repo, the server's HF_TOKEN reads it, as README's "shared studios" section says. The training process
reads the same way, with the visitor's token in its environment and in no file of the run.

The Hub is the loopback server (fakehub.py): private repos answer 404 RepoNotFound to anyone outside
their namespace, as the Hub does."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import pytest
from gradio_client import Client

from hub_helpers import DANA, DATASET, ERIN, OWNER, PUBLIC_DATASET, files_containing, serve_visitors_datasets
from support import follow_to_end, free_port

MODEL, OWNERS_MODEL = "dana/secret-bert", "olga/house-bert"
CANNOT_READ = f"Dataset '{DATASET}' was not found on the Hub, or it is private or gated and the token used cannot read it"


@contextlib.contextmanager
def shared_studio(runs_dir, auth=None):
    from finetuner.ui.studio import build_studio

    demo = build_studio(runs_dir)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True, auth=auth)
    try:
        yield demo
    finally:
        demo.close()


@pytest.fixture
def studio(hub_repos, tmp_path):
    """A shared studio; on the Hub, dana's private dataset and model, and a private model of the Space owner
    olga, whose token is the server's HF_TOKEN."""
    with shared_studio(tmp_path / "runs") as demo:
        yield demo.local_url, tmp_path / "runs", demo


PASSWORD = "a-password-of-the-studio"


@pytest.fixture
def auth_studio(hub_repos, tmp_path):
    """The same on a studio started with --auth: visitors log in with a name and password, never with the Hub."""
    with shared_studio(tmp_path / "runs", auth=[("dana", PASSWORD), ("erin", PASSWORD)]) as demo:
        yield demo.local_url, tmp_path / "runs", demo


@pytest.fixture
def hub_repos(hub_server, tiny_model_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("FINETUNER_SHARED", "1")
    api = serve_visitors_datasets(hub_server, monkeypatch, tmp_path / "datasets-cache")
    for repo, token in ((MODEL, DANA), (OWNERS_MODEL, OWNER)):
        api.create_repo(repo, private=True, token=token)
        api.upload_folder(folder_path=str(tiny_model_dir), repo_id=repo, token=token)
    monkeypatch.setenv("HF_TOKEN", OWNER)


def load_hub(client: Client, dataset: str = DATASET, **typed):
    return client.predict(
        task="text-classification", source="Hugging Face Hub", train_file=None, validation_file=None, test_file=None,
        hub_dataset=dataset, hub_config="", hub_split="train", api_name="/load_dataset", **typed,
    )


def refused(call) -> str:
    with pytest.raises(Exception) as caught:
        call()
    return str(caught.value)


def inspect(client: Client, model: str, **typed):
    return client.predict(model_name_or_path=model, max_length=32, split="train", index=0, text="", api_name="/inspect_tokens", **typed)


def test_a_private_dataset_and_model_load_with_their_owners_token_only(studio, tmp_path):
    url, runs_dir, _ = studio
    anonymous, dana, erin = Client(url, verbose=False), Client(url, oauth_token=DANA, verbose=False), Client(url, oauth_token=ERIN, verbose=False)
    assert CANNOT_READ in refused(lambda: load_hub(anonymous)), "the server's token (olga's) cannot read dana's dataset either"

    summary, *_ = load_hub(dana)
    assert summary.startswith(f"**{DATASET}** · 40 rows"), summary
    summary, *_ = inspect(dana, MODEL)
    assert f"tokenizer of `{MODEL}`" in summary

    for other in (anonymous, erin):  # after dana loaded them: nothing cached hands them on
        assert CANNOT_READ in refused(lambda: load_hub(other))
    summary, *_ = load_hub(erin, PUBLIC_DATASET)
    assert summary.startswith(f"**{PUBLIC_DATASET}** · 40 rows"), summary
    visitors = tmp_path / "datasets-cache" / "visitors"
    assert [p.name for p in visitors.iterdir()] == ["dana"], "a private dataset is kept apart, per Hub user; a public one is shared"
    erin.predict(task="text-classification", source="Example dataset", train_file=None, validation_file=None, test_file=None, api_name="/load_dataset")
    # Her model's config is not read from a cache either (`test_visitor_model_cache`): the first read refuses it.
    assert "Could not load the model 'dana/secret-bert': it is not a local folder, and the Hub has no such model (or it is private" in refused(lambda: inspect(erin, MODEL))

    # The server's token reads what it is there for: the Space owner's private model, for any visitor.
    summary, *_ = inspect(erin, OWNERS_MODEL)
    assert f"tokenizer of `{OWNERS_MODEL}`" in summary

    # dana trains the owner's private model on her private dataset: the training process reads the dataset with
    # her token, and the model, which her token may not read, with the server's.
    run_id, *_ = dana.predict(model_name_or_path=OWNERS_MODEL, max_seq_length=32, learning_rate=3e-3, per_device_train_batch_size=8, num_train_epochs=1, warmup_steps=0, api_name="/start_training")
    final = follow_to_end(dana, run_id)
    assert final["state"] == "completed", final
    # The Evaluate tab reads her private dataset with her token too.
    _, headline, *_ = dana.predict(run_id, None, DATASET, "", "train", api_name="/evaluate_run")
    assert "on **dana-secret-reviews-train** (40 examples)" in headline, headline
    assert files_containing(runs_dir, DANA) == [], "the visitor's token is in no file of the run"


def test_a_token_typed_in_the_hub_tab_reads_the_visitors_private_data_and_model_on_the_data_and_train_tabs(auth_studio):
    """On a studio started with --auth (or --share) there is no Hub sign-in: the token a visitor types in the Hub
    tab is how they read their private dataset and model, on the Data tab (load, inspector) and the Train tab
    (estimate, start: the training process reads with it too), and it is written to no file of the run."""
    url, runs_dir, _ = auth_studio
    dana, erin = Client(url, auth=("dana", PASSWORD), verbose=False), Client(url, auth=("erin", PASSWORD), verbose=False)
    assert CANNOT_READ in refused(lambda: load_hub(dana)), "no token typed: the server's reads, which cannot read it"
    # There is no sign-in on this page: the messages say to type a token in the Hub tab.
    assert "a token typed in the Hub tab's token field" in refused(lambda: load_hub(dana))
    assert "a token typed in the Hub tab's token field" in refused(lambda: inspect(dana, MODEL))

    summary, *_ = load_hub(dana, typed_token=DANA)
    assert summary.startswith(f"**{DATASET}** · 40 rows"), summary
    summary, *_ = inspect(dana, MODEL, typed_token=DANA)
    assert f"tokenizer of `{MODEL}`" in summary
    estimate = dana.predict(model_name_or_path=MODEL, max_seq_length=32, per_device_train_batch_size=8, num_train_epochs=1, typed_token=DANA, api_name="/estimate_training")
    assert estimate.startswith("#### Estimate"), estimate
    assert CANNOT_READ in refused(lambda: load_hub(erin, typed_token=ERIN)), "another visitor's typed token reads only what theirs may"

    run_id, *_ = dana.predict(model_name_or_path=MODEL, max_seq_length=32, learning_rate=3e-3, per_device_train_batch_size=8, num_train_epochs=1, warmup_steps=0, typed_token=DANA, api_name="/start_training")
    final = follow_to_end(dana, run_id)
    assert final["state"] == "completed", final
    assert files_containing(runs_dir, DANA) == [], "the typed token is in no file of the run, its log included"


def handler(demo, api_name: str):
    """The function behind one of the page's events (most are private: no API client reaches them)."""
    return next(fn.fn for fn in demo.fns.values() if fn.api_name == api_name)


def test_a_reload_and_a_task_change_read_the_private_dataset_again_with_the_visitors_token(studio):
    from finetuner.ui import services

    _, runs_dir, demo = studio
    kept = services.make_selection(services.SOURCE_HUB, dataset_name=DATASET, split="train", runs_dir=runs_dir, task="text-classification")
    dana = SimpleNamespace(token=DANA)  # what Gradio passes a handler for a signed-in visitor (gr.OAuthToken)

    def loads():  # a new session's data loads (`dataset_tab.latest_only`)
        return {"started": 0, "ended": 0}

    reopen = handler(demo, "reopen_dataset")  # the page opens again with the data this browser had loaded
    assert reopen(kept, None, dana, loads())[1].startswith(f"**{DATASET}** · 40 rows")
    assert reopen(kept, None, None, loads())[1].startswith("**Example"), "without her token: the example, with a warning"

    read_for_task = handler(demo, "read_data_for_task")  # the task changed: the loaded data read again for it
    as_causal_lm = {**kept, "task": "causal-lm"}
    assert read_for_task("text-classification", as_causal_lm, None, loads(), oauth_token=dana)[1].startswith(f"**{DATASET}** · 40 rows")


def test_a_hub_that_never_answers_holds_a_read_no_longer_than_the_etag_timeout(hub_server, monkeypatch):
    """Asking whether a visitor's token may read a repo is one request with HF_HUB_ETAG_TIMEOUT; without it, a
    network that drops packets held the Data tab (huggingface_hub's auth_check has no time limit)."""
    import socket
    import time

    import huggingface_hub.constants as constants

    from finetuner import hub_reads

    silent = socket.create_server(("127.0.0.1", 0))  # accepts connections, never answers
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
    monkeypatch.setattr(constants, "HF_HUB_ETAG_TIMEOUT", 1)
    try:
        started = time.monotonic()
        with hub_reads.reading_as(DANA):
            assert hub_reads.token_for(DATASET, "dataset") == DANA, "no answer: the visitor's token, for the local cache"
        assert time.monotonic() - started < 5
    finally:
        silent.close()
