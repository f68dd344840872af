"""A visitor's private dataset is read from their own `datasets` cache folder when the Hub cannot be asked, and by
nobody else; a public one stays in the shared cache.

`datasets` loads "the latest cached version" of a Hub dataset from its cache_dir when the Hub cannot be reached or
HF_HUB_OFFLINE is set (CachedDatasetModuleFactory: <cache_dir>/<namespace>___<name>/<config>/<version>/<hash>).
Offline, finetuner passed no cache_dir for any visitor, so dana's private dataset, kept in her folder, was not
found: she could load it online only. The folder is found by her Hub username, or where the Hub cannot say whose
her token is, by the digest of the token that read into it (never the token), as for models
(test_visitor_model_cache.py).

The Hub is the loopback server (fakehub.py): private repos answer 404 RepoNotFound outside their namespace."""

from __future__ import annotations

import pytest

from hub_helpers import DANA, DATASET, ERIN, OWNER, PUBLIC_DATASET, serve_visitors_datasets
from support import free_port


@pytest.fixture
def hub_datasets(hub_server, monkeypatch, tmp_path):
    """dana's private dataset and a public one of the Space owner olga's (olga's token is HF_TOKEN); the shared
    `datasets` cache, which the test returns."""
    cache = tmp_path / "datasets-cache"
    serve_visitors_datasets(hub_server, monkeypatch, cache)
    monkeypatch.setenv("HF_TOKEN", OWNER)
    return cache


def rows(name: str) -> int | str:
    """The training rows finetuner loads from the Hub dataset `name` (as the Data tab and a training process do),
    or the message that says why it cannot."""
    from finetuner.config import DataConfig
    from finetuner.data import load_raw
    from finetuner.errors import DataError

    try:
        return len(load_raw(DataConfig(dataset_name=name))["train"])
    except DataError as error:
        return str(error)


def cannot_be_asked(hub: str, monkeypatch) -> None:
    """A restarted studio (or a training process) that never asked whoami online; then the Hub cannot be reached
    (its API and its files), or HF_HUB_OFFLINE is set."""
    import datasets
    import huggingface_hub.constants as constants

    from finetuner import hub as finetuner_hub

    finetuner_hub._WHOAMI_CACHE.clear()
    if hub == "unreachable":
        nowhere = f"http://127.0.0.1:{free_port()}"
        monkeypatch.setattr(constants, "ENDPOINT", nowhere)
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", nowhere + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.setattr(datasets.config, "HF_ENDPOINT", nowhere)
    if hub == "offline":
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
        monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
        monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)


@pytest.mark.parametrize("hub", ["unreachable", "offline"])
def test_a_visitors_own_private_dataset_is_read_from_their_folder_when_the_hub_cannot_be_asked(hub_datasets, hub, monkeypatch):
    from finetuner.hub_reads import reading_as

    with reading_as(DANA):
        assert rows(DATASET) == 40
    with reading_as(ERIN):
        assert rows(PUBLIC_DATASET) == 40
    assert not (hub_datasets / "dana___secret-reviews").exists(), "dana's dataset is not in the shared cache"
    assert (hub_datasets / "olga___open-reviews").is_dir(), "a public one is"
    cannot_be_asked(hub, monkeypatch)
    with reading_as(DANA):
        assert rows(DATASET) == 40, f"{hub} Hub: dana's own dataset, from her own folder"
        assert rows(PUBLIC_DATASET) == 40, "a public dataset, from the shared cache"
    for token in (ERIN, None):
        with reading_as(token):
            assert rows(DATASET) != 40, f"{hub} Hub, {'erin' if token else 'a request of nobody'}: dana's dataset is not handed on"
            assert rows(PUBLIC_DATASET) == 40
    assert not (hub_datasets / "dana___secret-reviews").exists()
    raw = hub_datasets.with_name("hf_cache") / "datasets--dana--secret-reviews"
    assert raw.is_dir(), "datasets 5 downloads the raw files into the shared Hub cache (README says so): erin got nothing of them above"


def test_a_visitors_folder_is_found_by_their_username_while_the_hub_answers_whoami_only(hub_datasets, hub_server):
    """The Hub says whose the token is but not whether anyone may read the dataset (auth-check fails), and serves no
    file: dana's dataset is read from her folder; erin, who may not read it, gets nothing of it."""
    from finetuner.hub_reads import reading_as

    with reading_as(DANA):
        assert rows(DATASET) == 40
    hub_server.fail_next("GET", r"/auth-check$", 503, "Service unavailable", times=100)
    hub_server.fail_next("GET", r"^/api/datasets/", 503, "Service unavailable", times=100)
    hub_server.fail_next("HEAD", r"^/datasets/", 503, "Service unavailable", times=100)
    hub_server.fail_next("GET", r"^/datasets/", 503, "Service unavailable", times=100)
    with reading_as(DANA):
        assert rows(DATASET) == 40
    with reading_as(ERIN):
        assert rows(DATASET) != 40


def test_a_private_dataset_read_while_the_hub_does_not_say_who_may_read_it_is_not_put_in_the_shared_cache(hub_datasets, hub_server, monkeypatch):
    """Whether anyone may read a dataset is one request (auth-check) with a short time limit; the Hub can fail it and
    still serve the files. dana's token then downloaded her private dataset into the shared cache, from which anyone
    offline (or refused by the Hub) read it. It goes to her own folder; a public one still goes to the shared cache."""
    from finetuner.hub_reads import digest, reading_as

    hub_server.fail_next("GET", r"/auth-check$", 503, "Service unavailable", times=100)
    with reading_as(DANA):
        assert rows(DATASET) == 40
    assert hub_server.requests_to("GET", r"^/api/whoami-v2$") == [], "whoami has no time limit: not asked of a Hub that did not answer"
    hub_server.clear_failures()
    with reading_as(ERIN):
        assert rows(PUBLIC_DATASET) == 40
    assert not (hub_datasets / "dana___secret-reviews").exists(), "dana's dataset is not in the shared cache"
    assert (hub_datasets / "visitors" / digest(DANA) / "dana___secret-reviews").is_dir(), "her folder, named by her token"
    assert (hub_datasets / "olga___open-reviews").is_dir(), "a public dataset is shared"
    cannot_be_asked("offline", monkeypatch)
    with reading_as(ERIN):
        assert rows(DATASET) != 40

