"""A private model one visitor read with their own token is not handed to another from huggingface_hub's cache.

transformers falls back to the cached copy of a file when the Hub refuses the token (a private repo answers 404)
or cannot be reached, and in offline mode reads nothing else: with one shared model cache, the next visitor (or
anyone, offline) who named a visitor's private model got it. Such a model, its tokenizer and config now go to a
cache folder of that Hub user's; public models (and what the server's HF_TOKEN reads, for everyone) stay in the
shared cache. Every way finetuner reads a Hub model is tried: the tokenizer (inspector, training, evaluation),
the weights (training, Resume), the config alone (Estimate's counts and the checks before launch) and the
parameter count Estimate takes from cached safetensors.

The Hub is the loopback server (fakehub.py): private repos answer 404 RepoNotFound outside their namespace."""

from __future__ import annotations

import pytest

from hub_helpers import DANA, ERIN, OWNER
from support import free_port

MODEL, PUBLIC_MODEL, OWNERS_MODEL = "dana/secret-bert", "olga/open-bert", "olga/house-bert"


@pytest.fixture
def hub_models(hub_server, tiny_model_dir, monkeypatch, tmp_path):
    """dana's private model, a public one and the Space owner olga's private one (olga's token is HF_TOKEN)."""
    from huggingface_hub import HfApi

    from finetuner.tasks import base

    hub_server.add_user("dana", token=DANA)
    hub_server.add_user("erin", token=ERIN)
    hub_server.add_user("olga", token=OWNER)
    api = HfApi(endpoint=hub_server.url)
    for repo, token, private in ((MODEL, DANA, True), (PUBLIC_MODEL, OWNER, False), (OWNERS_MODEL, OWNER, True)):
        api.create_repo(repo, private=private, token=token)
        api.upload_folder(folder_path=str(tiny_model_dir), repo_id=repo, token=token)
    monkeypatch.setenv("HF_TOKEN", OWNER)
    base._model_config.cache_clear()
    base._declared_limit.cache_clear()
    yield tmp_path / "hf_cache"
    base._model_config.cache_clear()
    base._declared_limit.cache_clear()


def read_model(name: str, revision: str = "main") -> list[str]:
    """Read `name` every way finetuner reads a Hub model; what could be read."""
    from transformers import AutoModelForSequenceClassification

    from finetuner.config import RunConfig
    from finetuner.errors import ModelLoadError
    from finetuner.estimate import count_parameters
    from finetuner.tasks import base

    config = RunConfig.from_dict({"task": "text-classification", "model_name_or_path": name, "model_revision": revision})
    reads = {
        "tokenizer": lambda: base.load_tokenizer(config),
        "weights": lambda: base.load_pretrained(AutoModelForSequenceClassification, config, num_labels=2),
        "config": lambda: base.check_model_kind(config),
        "meta model": lambda: base.meta_model(config, "AutoModelForSequenceClassification"),
    }
    read = []
    for what, call in reads.items():
        try:
            call()
            read.append(what)
        except ModelLoadError:
            pass
    if revision == "main" and count_parameters(name) is not None:
        read.append("parameter count")
    base._model_config.cache_clear()
    base._declared_limit.cache_clear()
    return read


EVERY_WAY = ["tokenizer", "weights", "config", "meta model", "parameter count"]


def test_a_visitors_private_model_is_kept_in_a_cache_of_their_own(hub_models):
    from finetuner.hub_reads import reading_as

    with reading_as(DANA):
        assert read_model(MODEL) == EVERY_WAY
    with reading_as(ERIN):
        assert read_model(PUBLIC_MODEL) == EVERY_WAY
        assert read_model(OWNERS_MODEL) == EVERY_WAY, "what the server's token reads, it reads for every visitor"
    shared = {p.name for p in hub_models.iterdir() if p.name.startswith("models--")}
    assert shared == {"models--olga--open-bert", "models--olga--house-bert"}, "dana's model is not in the shared cache"
    assert [p.name for p in hub_models.with_name("hf_cache-visitors").iterdir()] == ["dana"]
    with reading_as(DANA):
        assert read_model(MODEL) == EVERY_WAY, "read again, from her own folder"


@pytest.mark.parametrize("hub", ["refusing", "unreachable", "offline"])
def test_another_visitor_never_gets_a_visitors_cached_private_model(hub_models, hub, monkeypatch):
    """The Hub refuses erin's token and the server's (dana's model is private), cannot be reached, or is not
    asked (HF_HUB_OFFLINE): either way transformers would read the cache."""
    import huggingface_hub.constants as constants

    from finetuner.hub_reads import reading_as

    with reading_as(DANA):
        assert read_model(MODEL) == EVERY_WAY
    with reading_as(ERIN):
        read_model(PUBLIC_MODEL)
    if hub == "unreachable":
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{free_port()}")
    if hub == "offline":
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    for token in (ERIN, None):
        with reading_as(token):
            assert read_model(MODEL) == [], f"{hub} Hub, {'erin' if token else 'a request of nobody'}: nothing cached hands dana's model on"
    with reading_as(ERIN):
        assert "weights" in read_model(PUBLIC_MODEL), "a public model is still read from the shared cache"


def test_a_revision_pinned_to_a_commit_does_not_read_another_visitors_cached_copy(hub_models, hub_server):
    """With a commit sha as the revision, huggingface_hub returns a cached file without asking the Hub at all."""
    from finetuner.hub_reads import reading_as

    sha = hub_server.repo(MODEL).sha
    with reading_as(DANA):
        assert read_model(MODEL, sha) == EVERY_WAY[:-1]
    with reading_as(ERIN):
        assert read_model(MODEL, sha) == []


def test_the_cached_model_files_estimate_and_the_plan_read_are_found_without_asking_the_hub(hub_models, monkeypatch):
    """The Train tab's plan reads cached config files (its warnings) as each field changes: a visitor's model found
    in the shared cache or in their own folder, with no request to the Hub (it asked whether the visitor and anyone
    may read the repo, two requests a keystroke on a signed-in page); another visitor still finds nothing of dana's."""
    from finetuner import hub_reads
    from finetuner.estimate import count_parameters

    with hub_reads.reading_as(DANA):
        read_model(MODEL)
    with hub_reads.reading_as(ERIN):
        read_model(PUBLIC_MODEL)
    asked, may_read = [], hub_reads._may_read
    monkeypatch.setattr(hub_reads, "_may_read", lambda *args: asked.append(args) or may_read(*args))
    with hub_reads.reading_as(DANA):
        assert count_parameters(PUBLIC_MODEL) is not None
        assert count_parameters(MODEL) is not None, "dana's own copy, in her folder"
    with hub_reads.reading_as(ERIN):
        assert count_parameters(MODEL) is None
    assert asked == []


@pytest.mark.parametrize("hub", ["unreachable", "offline"])
def test_a_visitors_own_private_model_is_read_from_their_folder_when_the_hub_cannot_be_asked(hub_models, hub, monkeypatch):
    """dana read her private model into her own folder; then the Hub cannot be reached, or HF_HUB_OFFLINE is set,
    in a studio (or a training process) that cannot ask the Hub whose her token is: she still reads it, from her
    folder (the offline lookup read the shared cache only). erin, offline too, still gets nothing of dana's."""
    import huggingface_hub.constants as constants

    from finetuner import hub as finetuner_hub
    from finetuner.hub_reads import reading_as

    with reading_as(DANA):
        assert read_model(MODEL) == EVERY_WAY
    with reading_as(ERIN):
        read_model(PUBLIC_MODEL)
    finetuner_hub._WHOAMI_CACHE.clear()  # a restarted studio, or the training process: it never asked whoami online
    if hub == "unreachable":  # its API and its files
        nowhere = f"http://127.0.0.1:{free_port()}"
        monkeypatch.setattr(constants, "ENDPOINT", nowhere)
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", nowhere + "/{repo_id}/resolve/{revision}/{filename}")
    if hub == "offline":
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with reading_as(DANA):
        assert read_model(MODEL) == EVERY_WAY, f"{hub} Hub: dana's own model, from her own folder"
        assert "weights" in read_model(PUBLIC_MODEL), "a public model, from the shared cache"
    with reading_as(ERIN):
        assert read_model(MODEL) == []


def test_a_demo_space_deploy_reads_a_visitors_private_models_data_report_into_their_own_folder(hub_server, tmp_path):
    """Deploying a demo Space by the model's repo id (no run at hand) reads the data report the push put in the
    repo, to learn whether the model reads sentence pairs. For dana's private model, read with her sign-in token,
    that file went to the shared cache, where erin (or anyone offline) could read it. It goes to dana's folder."""
    import json

    from gradio_client import Client
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError
    from test_hub_tab import hub_tab_app

    from finetuner.hub_reads import models_cache, reading_as

    hub_server.add_user("dana", token=DANA, plan="pro")
    hub_server.add_user("erin", token=ERIN)
    report = json.dumps({"text_columns": ["premise", "hypothesis"], "label_names": ["no", "yes"]}).encode()
    HfApi(endpoint=hub_server.url).create_repo("dana/secret-nli", private=True, token=DANA)
    HfApi(endpoint=hub_server.url).upload_file(path_or_fileobj=report, path_in_repo="eval/data_report.json", repo_id="dana/secret-nli", token=DANA)
    with hub_tab_app(tmp_path / "runs") as demo:
        deployed = Client(demo.local_url, oauth_token=DANA, verbose=False).predict("", "dana/secret-nli", "", "", api_name="/hub_deploy_space")
    assert "dana/secret-nli-demo" in deployed
    assert b"PAIRS = True" in hub_server.repo("dana/secret-nli-demo", "space").files["app.py"].data, "the Space asks for both texts"

    shared = tmp_path / "hf_cache"
    assert not (shared / "models--dana--secret-nli").exists(), "dana's private data report is not in the shared cache"
    assert (shared.with_name("hf_cache-visitors") / "dana" / "models--dana--secret-nli").is_dir()
    sha = hub_server.repo("dana/secret-nli").sha
    with reading_as(ERIN):
        for cache_dir in (None, models_cache("dana/secret-nli", ERIN)):  # the shared cache, erin's own folder
            with pytest.raises(LocalEntryNotFoundError):
                hf_hub_download("dana/secret-nli", "eval/data_report.json", revision=sha, cache_dir=cache_dir, local_files_only=True)


def test_a_private_model_read_while_the_hub_does_not_say_who_may_read_it_is_not_put_in_the_shared_cache(hub_models, hub_server):
    """Whether anyone may read a model is one request (auth-check) with a short time limit; the Hub can fail it (a
    server error, a timeout) and still serve the files. dana's token then downloaded her private model into the
    shared cache, from which erin read it. It goes to dana's own folder; a public model still goes to the shared one."""
    from finetuner.hub_reads import digest, reading_as

    hub_server.fail_next("GET", r"/auth-check$", 503, "Service unavailable", times=100)
    with reading_as(DANA):
        assert read_model(MODEL) == EVERY_WAY
    assert hub_server.requests_to("GET", r"^/api/whoami-v2$") == [], "whoami has no time limit: not asked of a Hub that did not answer"
    hub_server.clear_failures()
    with reading_as(ERIN):
        assert read_model(PUBLIC_MODEL) == EVERY_WAY
        assert read_model(MODEL) == []
    assert not (hub_models / "models--dana--secret-bert").exists()
    assert (hub_models.with_name("hf_cache-visitors") / digest(DANA) / "models--dana--secret-bert").is_dir(), "her folder, named by her token"
