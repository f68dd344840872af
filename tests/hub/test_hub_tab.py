"""The studio's Hub tab through its API (gradio_client), with OAuth tokens passed by the client."""

from __future__ import annotations

import contextlib

import gradio as gr
import pytest
import yaml
from gradio_client import Client

ENDPOINTS = ("/hub_account", "/hub_runs", "/hub_card_preview", "/hub_push", "/hub_deploy_space")


@contextlib.contextmanager
def hub_tab_app(runs_dir, seen=None):
    """Only the Hub tab, in a page built the way the studio builds it (`studio_context`: the token field the
    other tabs read, which the Hub tab renders). `seen` gets the context."""
    from finetuner.ui.hub_tab import build_hub_tab
    from finetuner.ui.studio import browser_key, studio_context

    with gr.Blocks() as demo:
        ctx = studio_context(demo, runs_dir, browser_key(runs_dir))
        with gr.Tabs():
            build_hub_tab(ctx)
    if seen is not None:
        seen["ctx"] = ctx
    demo.queue()
    demo.launch(prevent_thread_lock=True, quiet=True)
    try:
        yield demo
    finally:
        demo.close()


def test_the_token_field_is_the_one_the_other_tabs_read(hub_runs_dir):
    """The Hub tab shows the page's one token field (a password box, with what it is for): the very component the
    Data, Train, Evaluate and Runs tabs take as their input, so a token typed there reads for them too."""
    seen = {}
    with hub_tab_app(hub_runs_dir, seen) as demo:
        boxes = [block for block in demo.blocks.values() if isinstance(block, gr.Textbox) and block.label == "Hugging Face token"]
        assert len(boxes) == 1 and boxes[0] is seen["ctx"].hub_token
        box = boxes[0]
        assert box.is_rendered and box.visible and box.type == "password"
        assert "Write role" in box.info


def _error(call) -> str:
    with pytest.raises(Exception) as caught:
        call()
    return str(caught.value)


def test_endpoints_take_the_oauth_token_and_push(hub_server, alice, trained_run, hub_runs_dir):
    with hub_tab_app(hub_runs_dir) as demo:
        client = Client(demo.local_url, oauth_token=alice, verbose=False)
        api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
        for name in ENDPOINTS:
            assert name in api, name
        assert "Signed in as **alice**" in client.predict("", api_name="/hub_account")
        runs = client.predict("", api_name="/hub_runs")
        assert trained_run.id in str(runs)

        body, images, source = client.predict(trained_run.id, "tab-model", "mit", "en", "", "", "A test model.", "", api_name="/hub_card_preview")[:3]
        assert "## Evaluation" in body and "A test model." in body and source.startswith("---\n")
        assert "alice/tab-model" in source and len(images) == 2
        assert "](images/" in source, "the card links its images by their path in the repository"
        assert "](images/" not in body and body.count("in the gallery below") == 2, "the preview, which cannot show those paths, points to its gallery"

        message = client.predict(trained_run.id, "tab-model", True, "mit", "en", "", "", "", "", api_name="/hub_push")
        assert "Pushed **alice/tab-model** (private)" in message
        assert "model.safetensors" in hub_server.repo("alice/tab-model").files

        deployed = client.predict(trained_run.id, "", "", "", api_name="/hub_deploy_space")  # uses the run's pushed repo
        assert "alice/tab-model-demo" in deployed and "HF_TOKEN" in deployed
        assert hub_server.repo("alice/tab-model-demo", "space").sdk == "gradio"

        # A license not on the Hub's list: 'other' with the name and link the Hub asks for, from the tab's fields.
        client.predict(trained_run.id, "other-model", True, "other", "", "", "", "", "", "Merged model", "acme-terms", "https://acme.example/terms", api_name="/hub_push")
        meta = yaml.safe_load(hub_server.repo("alice/other-model").text("README.md").split("---")[1])
        assert (meta["license"], meta["license_name"], meta["license_link"]) == ("other", "acme-terms", "https://acme.example/terms")


def test_typed_token_works_and_missing_token_says_what_to_do(hub_server, alice, trained_run, hub_runs_dir):
    with hub_tab_app(hub_runs_dir) as demo:
        client = Client(demo.local_url, verbose=False)
        assert "Signed in as **alice**" in client.predict(alice, api_name="/hub_account")
        message = _error(lambda: client.predict(trained_run.id, "x", True, "(not specified)", "", "", "", "", "", api_name="/hub_push"))
        assert "No Hugging Face token" in message and "settings/tokens" in message
        message = _error(lambda: client.predict(trained_run.id, "x", True, "(not specified)", "", "", "", "", "hf_not_a_real_token_000000", api_name="/hub_push"))
        assert "401" in message and "hf_not_a_real_token_000000" not in message
    assert not hub_server.requests_to("POST", "/api/repos/create")


def test_shared_page_shows_and_publishes_only_your_runs(hub_server, alice, trained_run, hub_runs_dir, monkeypatch):
    bob = hub_server.add_user("bob", token="hf_bob_token_for_tab_test_0000", plan="pro")
    monkeypatch.setenv("FINETUNER_SHARED", "1")
    monkeypatch.setenv("HF_TOKEN", alice)  # the server's own token: must not serve visitors
    with hub_tab_app(hub_runs_dir) as demo:
        anonymous = Client(demo.local_url, verbose=False)
        message = _error(lambda: anonymous.predict(trained_run.id, "x", True, "(not specified)", "", "", "", "", "", api_name="/hub_push"))
        assert "No Hugging Face token" in message
        assert trained_run.id not in str(anonymous.predict("", api_name="/hub_runs"))

        as_bob = Client(demo.local_url, oauth_token=bob, verbose=False)
        assert trained_run.id not in str(as_bob.predict("", api_name="/hub_runs"))
        message = _error(lambda: as_bob.predict(trained_run.id, "stolen", True, "(not specified)", "", "", "", "", "", api_name="/hub_push"))
        assert "not one of yours" in message
        message = _error(lambda: as_bob.predict(trained_run.id, "stolen", "(not specified)", "", "", "", "", "", api_name="/hub_card_preview"))
        assert "not one of yours" in message

        as_alice = Client(demo.local_url, oauth_token=alice, verbose=False)
        assert trained_run.id in str(as_alice.predict("", api_name="/hub_runs"))
        # Two sessions side by side: each is itself, whatever the other did.
        assert "Signed in as **bob**" in as_bob.predict("", api_name="/hub_account")
        assert "Signed in as **alice**" in as_alice.predict("", api_name="/hub_account")
        assert "No Hugging Face token" in _error(lambda: anonymous.predict("", api_name="/hub_account"))
    assert ("model", "bob/stolen") not in hub_server.repos


def test_check_account_asks_the_hub_again(hub_server, hub_runs_dir):
    """Pressed again after giving a read-only token the Write role on the Hub, "Check account" says so at once."""
    token = hub_server.add_user("gail", token="hf_gail_token_0123456789abcdef", role="read")
    with hub_tab_app(hub_runs_dir) as demo:
        client = Client(demo.local_url, verbose=False)
        assert "**read-only**" in client.predict(token, api_name="/hub_account")
        hub_server.users[token].role = "write"  # a fine-grained token's permissions edited on the Hub
        assert "token: write" in client.predict(token, api_name="/hub_account")


def test_card_preview_needs_no_token_and_a_wrong_one_does_not_stop_it(hub_server, alice, trained_run, hub_runs_dir):
    with hub_tab_app(hub_runs_dir) as demo:
        client = Client(demo.local_url, verbose=False)
        for token in ("hf_mistyped_token_0000000000000", ""):
            body, images, source = client.predict(trained_run.id, "tab-model", "mit", "en", "", "", "", token, api_name="/hub_card_preview")[:3]
            assert "## Evaluation" in body and len(images) == 2
            assert 'model="your-username/tab-model"' in source  # says what to put there, not a bare name
        source = client.predict(trained_run.id, "tab-model", "mit", "en", "", "", "", alice, api_name="/hub_card_preview")[2]
        assert 'model="alice/tab-model"' in source  # a valid token fills in the namespace
    assert not hub_server.requests_to("POST", "/api/repos/create")


def test_deploy_into_the_studios_space_is_refused_until_replace_is_ticked(hub_server, alice, trained_run, hub_runs_dir, studio_source):
    """The tab had no way to put a demo in a Space holding another app: its refusal named no control of the tab.
    Unticked (the default), deploying into the studio's Space is refused, naming what it holds and the tab's own
    choice, and nothing changes; with "Replace what the Space holds" ticked the Space ends holding only the demo."""
    from finetuner import hub
    from finetuner.ui.hub_tab import REPLACE_SPACE

    hub.push_run(trained_run, "tab-mix-model", token=alice, private=False)
    hub.upload_studio_space("tab-shared-space", token=alice, root=studio_source)
    space = hub_server.repo("alice/tab-shared-space", "space")
    studio_files, commits = set(space.files), len(space.commits)
    with hub_tab_app(hub_runs_dir) as demo:
        boxes = [block for block in demo.blocks.values() if isinstance(block, gr.Checkbox) and block.label == REPLACE_SPACE]
        assert len(boxes) == 1 and boxes[0].visible and boxes[0].value is False, "replacing is a choice, never the default"
        client = Client(demo.local_url, oauth_token=alice, verbose=False)

        for unticked in ((), (False,)):  # an API client that leaves it out gets the default: unticked
            message = _error(lambda: client.predict(trained_run.id, "alice/tab-mix-model", "tab-shared-space", "", *unticked, api_name="/hub_deploy_space"))
            assert "The Space alice/tab-shared-space already holds the finetuner studio" in message and "nothing was uploaded" in message
            assert f"tick “{REPLACE_SPACE}”" in message and "are deleted in the commit that adds the demo" in message
            assert "--replace_space" not in message and "--space_name" not in message
            assert set(space.files) == studio_files and len(space.commits) == commits

        deployed = client.predict(trained_run.id, "alice/tab-mix-model", "tab-shared-space", "", True, api_name="/hub_deploy_space")
        assert "Demo Space **alice/tab-shared-space**" in deployed
        assert "held the finetuner studio" in deployed and "were deleted (finetuner/__init__.py" in deployed
        assert set(space.files) == {".gitattributes", "app.py", "requirements.txt", "README.md"}, "no studio file is left beside the demo"
        assert len(space.commits) == commits + 1 and "MODEL_ID = 'alice/tab-mix-model'" in space.text("app.py")
