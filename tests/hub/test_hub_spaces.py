"""Demo Spaces and the studio as a Space: what the (loopback) Hub receives, and that the demo app works."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import gradio
import pytest
from hub_helpers import front_matter, import_space_app

from finetuner import errors, hub

ROOT = Path(__file__).resolve().parents[2]


def test_deploy_demo_space_files_and_metadata(hub_server, alice, trained_run):
    hub.push_run(trained_run, "demo-model", token=alice)
    result = hub.deploy_demo_space("demo-model", token=alice, run=trained_run)

    assert result.space_id == "alice/demo-model-demo"
    assert result.url == f"{hub_server.url}/spaces/alice/demo-model-demo"
    space = hub_server.repo("alice/demo-model-demo", "space")
    assert space.sdk == "gradio"
    assert space.private and result.private  # private because the model is
    assert any("HF_TOKEN" in w for w in result.warnings)  # and says how a private model gets loaded
    assert set(space.files) >= {"app.py", "requirements.txt", "README.md"}
    meta = front_matter(space.text("README.md"))
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == gradio.__version__
    assert meta["app_file"] == "app.py" and isinstance(meta["python_version"], str)
    assert meta["models"] == ["alice/demo-model"]
    assert len(meta["short_description"]) <= 60
    requirements = space.text("requirements.txt")
    assert re.search(r"^transformers==\d", requirements, re.M) and re.search(r"^torch==\d+\.\d+\.\d+$", requirements, re.M)
    app = space.text("app.py")
    assert "MODEL_ID = 'alice/demo-model'" in app
    compile(app, "app.py", "exec")
    assert hub.hub_record(trained_run)["space"]["space_id"] == "alice/demo-model-demo"

    public = hub.deploy_demo_space("alice/demo-model", space_name="acme/public-demo", private=False, token=alice)
    assert not hub_server.repo("acme/public-demo", "space").private and not public.private


def test_space_hardware_is_requested_not_only_suggested(hub_server, alice, trained_run, studio_source):
    """`deploy-space --hardware t4-small` (and `space-upload --hardware`) runs the Space on it, new or existing:
    the README's suggested_hardware alone assigns nothing."""
    hub.push_run(trained_run, "gpu-model", token=alice, private=False)
    hub.deploy_demo_space("gpu-model", token=alice)
    assert hub_server.repo("alice/gpu-model-demo", "space").hardware in (None, "cpu-basic")
    hub.deploy_demo_space("gpu-model", token=alice, hardware="t4-small")  # the Space exists already
    assert hub_server.repo("alice/gpu-model-demo", "space").hardware == "t4-small"
    assert front_matter(hub_server.repo("alice/gpu-model-demo", "space").text("README.md"))["suggested_hardware"] == "t4-small"

    hub.upload_studio_space("studio", token=alice, root=studio_source)
    hub.upload_studio_space("studio", token=alice, root=studio_source, hardware="l4x1")
    assert hub_server.repo("alice/studio", "space").hardware == "l4x1"

    frank = hub_server.add_user("frank", token="hf_frank_token_0123456789abcd", plan="pro")
    hub.push_run(trained_run, "frank-model", token=frank, private=False)
    hub.deploy_demo_space("frank-model", token=frank)
    hub_server.users[frank].plan = "free"  # an account without a payment method
    with pytest.raises(errors.HubPaymentRequiredError) as caught:
        hub.deploy_demo_space("frank-model", token=frank, hardware="a10g-small")
    message = str(caught.value)
    assert "402" in message and "paid Space hardware needs a payment method" in message and "'cpu-basic'" in message
    assert "Gradio Space needs a PRO" not in message


def test_demo_app_from_the_space_classifies_with_the_pushed_model(hub_server, alice, trained_run, tmp_path, monkeypatch):
    """Download the Space as the Hub would serve it, import its app.py, and classify through its API."""
    from gradio_client import Client

    hub.push_run(trained_run, "app-model", token=alice, private=False)
    hub.deploy_demo_space("app-model", token=alice)
    module = import_space_app("alice/app-model-demo", alice, tmp_path / "space")
    assert module.PIPELINE == "text-classification"
    scores = module.predict("the film was wonderful and the cast felt wonderful")
    assert set(scores) == {"negative", "positive"} and abs(sum(scores.values()) - 1) < 1e-5
    with pytest.raises(gradio.Error, match="Type a text"):
        module.predict("   ")

    module.demo.launch(prevent_thread_lock=True, server_port=None, quiet=True)
    try:
        client = Client(module.demo.local_url, verbose=False)
        api = client.view_api(return_format="dict", print_info=False)
        assert "/predict" in api["named_endpoints"]
        answer = client.predict("the plot was boring and the ending felt boring", "", api_name="/predict")
        assert answer["label"] in ("negative", "positive")
    finally:
        module.demo.close()
        sys.modules.pop("demo_space_app", None)


def test_demo_space_refused_on_a_free_plan_says_what_to_do(hub_server, trained_run):
    token = hub_server.add_user("erin", token="hf_erin_free_token_0123456789", plan="free")
    hub.push_run(trained_run, "erin-model", token=token)
    with pytest.raises(errors.HubPaymentRequiredError) as caught:
        hub.deploy_demo_space("erin-model", token=token)
    message = str(caught.value)
    assert "402" in message and "Gradio Space" in message and "PRO" in message
    assert ("space", "erin/erin-model-demo") not in hub_server.repos


def test_render_demo_app_keeps_the_template_valid():
    text = hub.render_demo_app("org/name", title="It's a \"demo\"", examples=["a 'quoted' text", "line\nbreak"], pairs=True, pipeline_tag="token-classification")
    namespace: dict = {}
    code = text.split("MAX_CHARACTERS")[0].split("# Filled in by finetuner", 1)[1].split("\n", 1)[1]
    exec(code, namespace)
    assert namespace["MODEL_ID"] == "org/name" and namespace["TITLE"] == "It's a \"demo\""
    assert namespace["EXAMPLES"] == ["a 'quoted' text", "line\nbreak"] and namespace["PAIRS"] is True
    assert namespace["PIPELINE"] == "token-classification"
    with pytest.raises(errors.HubError, match="No demo app"):
        hub.render_demo_app("org/name", title="x", examples=[], pipeline_tag="image-classification")


# ----------------------------------------------------------------------------- the studio as a Space


def _requirement_pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[re.sub(r"\[.*\]", "", name).lower()] = version
    return pins


def test_spaces_config_is_complete_and_agrees_with_requirements():
    readme = (ROOT / "spaces_config" / "README.md").read_text()
    meta = front_matter(readme)
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"
    assert isinstance(meta["sdk_version"], str) and isinstance(meta["python_version"], str)
    assert meta["hf_oauth"] is True and {"write-repos", "manage-repos"} <= set(meta["hf_oauth_scopes"])
    assert meta["suggested_hardware"]
    from fakehub import validate_metadata

    assert validate_metadata(readme, "space") == []
    space_text = hub.space_requirements(ROOT).decode()
    space_pins = _requirement_pins(space_text)
    project_pins = _requirement_pins((ROOT / "requirements.txt").read_text())
    assert meta["sdk_version"] == project_pins["gradio"] == space_pins["gradio"]
    assert "gradio[oauth]==" in space_text and len(re.findall(r"^gradio[\[=]", space_text, re.M)) == 1
    assert space_pins == project_pins  # every project pin, same versions
    assert "space-upload" in readme


def test_upload_studio_space(hub_server, alice, studio_source):
    result = hub.upload_studio_space("finetuner-studio", token=alice, root=studio_source, hardware="t4-small")
    space = hub_server.repo("alice/finetuner-studio", "space")
    assert result.url == f"{hub_server.url}/spaces/alice/finetuner-studio" and space.private and space.sdk == "gradio"
    assert space.hardware == "t4-small"
    files = set(space.files)
    assert {"app.py", "README.md", "requirements.txt", "finetuner/__init__.py", "finetuner/hub.py", "finetuner/space_app/demo_app.py"} <= files
    assert not any("__pycache__" in f or f.endswith(".pyc") or f.startswith(("tests/", "runs/")) for f in files)
    meta = front_matter(space.text("README.md"))
    assert meta["hf_oauth"] is True and meta["app_file"] == "app.py"
    assert "gradio[oauth]" in space.text("requirements.txt")
    kept = next(w for w in result.warnings if "wiped" in w)
    assert "storage volume" in kept and "FINETUNER_RUNS_DIR" in kept, "how runs outlive a restart, now that a Space's persistent storage is gone"


def test_upload_studio_space_needs_app_py(hub_server, alice, studio_source):
    (studio_source / "app.py").unlink()
    with pytest.raises(errors.HubError, match="app.py"):
        hub.upload_studio_space("finetuner-studio", token=alice, root=studio_source)


def test_an_orgs_model_gets_its_demo_space_in_the_org_when_the_token_may_write_there(hub_server, alice, trained_run):
    hub.push_run(trained_run, "acme/team-model", token=alice, private=False)
    result = hub.deploy_demo_space("acme/team-model", token=alice)
    assert result.space_id == "acme/team-model-demo" and hub_server.repo("acme/team-model-demo", "space").sdk == "gradio"
    assert not any("under your account" in w for w in result.warnings)

    bob = hub_server.add_user("bob", token="hf_bob_token_not_in_acme_000000", plan="pro")
    result = hub.deploy_demo_space("acme/team-model", token=bob)  # bob may read acme's public model, not write there
    assert result.space_id == "bob/team-model-demo"
    assert any("under your account, 'bob/team-model-demo'" in w and "cannot write to 'acme'" in w for w in result.warnings)


def test_a_96_character_model_name_still_gets_a_valid_demo_space_name(hub_server, alice, trained_run):
    name = "a-long-model-name-" + "x" * 78  # 96 characters, the Hub's longest
    hub.push_run(trained_run, name, token=alice, private=False)
    result = hub.deploy_demo_space(name, token=alice)
    assert result.space_id == f"alice/{name[:91]}-demo" and len(result.space_id.split("/")[1]) == 96
    assert hub_server.repo(result.space_id, "space").sdk == "gradio"


def test_a_sentence_pair_models_demo_space_takes_two_texts_when_deployed_by_its_repo_id(hub_server, alice, tiny_model_dir, tmp_path):
    """`deploy-space me/model` names no run: the Space still learns from the pushed repo that the model reads
    sentence pairs, and asks for both texts, instead of classifying the first text alone."""
    from support import completed_run

    from finetuner.inference import Predictor

    run = completed_run(tmp_path / "runs", "nli", task="text-classification", model_dir=tiny_model_dir, data_report={"text_columns": ["premise", "hypothesis"], "label_names": ["negative", "positive"]})
    hub.push_run(run, "nli-model", token=alice, private=False)
    hub.deploy_demo_space("alice/nli-model", token=alice)
    app = import_space_app("alice/nli-model-demo", alice, tmp_path / "space", name="pair_space_app")
    assert app.PAIRS is True
    local = Predictor(str(run.model_dir)).predict(["a man is eating"], ["someone eats"])[0]
    scores = app.predict("a man is eating", "someone eats")
    assert scores.keys() == local.keys() and all(abs(scores[k] - local[k]) < 1e-5 for k in local)
    sys.modules.pop("pair_space_app", None)


def test_an_existing_spaces_visibility_is_reported_as_the_hub_has_it(hub_server, alice, trained_run, studio_source, hub_runs_dir, monkeypatch, capsys):
    """Deploying (or uploading the studio) again into a public Space with --private leaves it public (creating a repo
    that exists changes nothing): the result says public, and why, rather than '(private)'; without a flag, the
    model's visibility is what the Space would have taken."""
    from finetuner.cli import main

    hub.push_run(trained_run, "shown-model", token=alice, private=False)
    hub.deploy_demo_space("shown-model", token=alice, private=False)
    monkeypatch.setenv("HF_TOKEN", alice)
    assert main(["--runs_dir", str(hub_runs_dir), "deploy-space", "alice/shown-model", "--private"]) == 0
    out = capsys.readouterr().out
    assert not hub_server.repo("alice/shown-model-demo", "space").private
    assert "Space alice/shown-model-demo (public)" in out and "(private)" not in out
    assert "already existed and is public: it stays public, not private as asked" in out and "/spaces/alice/shown-model-demo/settings" in out

    hub.upload_studio_space("open-studio", token=alice, root=studio_source, private=False)
    again = hub.upload_studio_space("open-studio", token=alice, root=studio_source)  # private by default
    assert not again.private and not hub_server.repo("alice/open-studio", "space").private
    assert any("stays public, not private as asked" in w for w in again.warnings)

    # Neither flag: the Space would take the model's visibility; the warning said 'as asked' of what nobody asked.
    hub.push_run(trained_run, "hidden-model", token=alice, private=True)
    hub.deploy_demo_space("hidden-model", token=alice, private=False)
    unasked = hub.deploy_demo_space("hidden-model", token=alice)
    assert not unasked.private and any("stays public, not private like the model" in w for w in unasked.warnings), unasked.warnings


@pytest.mark.parametrize("command", [["deploy-space", "alice/hw-model", "--space_name", "hw-demo"], ["space-upload", "--space_name", "hw-demo"]])
def test_unknown_space_hardware_is_refused_before_a_space_is_made(command, hub_server, alice, trained_run, hub_runs_dir, monkeypatch, capsys):
    """A mistyped --hardware used to create the Space and upload its files before the Hub refused the name."""
    from finetuner.cli import main

    if command[0] == "deploy-space":
        hub.push_run(trained_run, "hw-model", token=alice, private=False)
    monkeypatch.setenv("HF_TOKEN", alice)
    assert main(["--runs_dir", str(hub_runs_dir), *command, "--hardware", "t4-smal"]) == 2
    err = capsys.readouterr().err
    assert "'t4-smal' is not Space hardware the Hub offers" in err and "t4-small" in err and "cpu-basic" in err
    assert ("space", "alice/hw-demo") not in hub_server.repos



def test_hardware_the_hub_added_after_the_installed_client_is_requested(hub_server, alice, trained_run):
    """The check of --hardware read the installed huggingface_hub's list of flavors, and so refused a flavor the
    Hub added since, with no way around it; the Hub says which it offers."""
    from huggingface_hub import SpaceHardware
    from fakehub import NEWER_SPACE_HARDWARE

    assert NEWER_SPACE_HARDWARE not in {h.value for h in SpaceHardware}
    hub.push_run(trained_run, "new-hw-model", token=alice, private=False)
    result = hub.deploy_demo_space("new-hw-model", token=alice, hardware=NEWER_SPACE_HARDWARE)
    assert hub_server.repo(result.space_id, "space").hardware == NEWER_SPACE_HARDWARE

def test_a_space_holding_another_app_is_refused_before_anything_is_uploaded(hub_server, alice, trained_run, studio_source, hub_runs_dir, monkeypatch, capsys):
    """deploy-space into the studio's Space used to replace its app.py and README and leave ~50 studio files beside
    them, a Space that works as neither; space-upload into a demo did the same. Each is refused, naming what is there
    and what to do; --replace_space deletes the other app's files in the commit that adds the new one."""
    from huggingface_hub import HfApi

    from finetuner.cli import main

    hub.push_run(trained_run, "mix-model", token=alice, private=False)
    hub.upload_studio_space("shared-space", token=alice, root=studio_source)
    space = hub_server.repo("alice/shared-space", "space")
    studio_files, commits = set(space.files), len(space.commits)
    monkeypatch.setenv("HF_TOKEN", alice)
    runs = ["--runs_dir", str(hub_runs_dir)]

    assert main([*runs, "deploy-space", "alice/mix-model", "--space_name", "shared-space"]) == 2
    err = capsys.readouterr().err
    assert "The Space alice/shared-space already holds the finetuner studio (uploaded by `space-upload`)" in err
    assert "nothing was uploaded" in err and "--space_name NAME" in err and "pass --replace_space" in err
    assert set(space.files) == studio_files and len(space.commits) == commits

    assert main([*runs, "deploy-space", "alice/mix-model", "--space_name", "shared-space", "--replace_space"]) == 0
    out = capsys.readouterr().out
    assert set(space.files) == {".gitattributes", "app.py", "requirements.txt", "README.md"}, "no studio file is left beside the demo"
    assert len(space.commits) == commits + 1 and "held the finetuner studio" in out and "were deleted (finetuner/__init__.py" in out
    assert main([*runs, "deploy-space", "alice/mix-model", "--space_name", "shared-space"]) == 0  # a demo's update is no replacement

    with pytest.raises(errors.HubSpaceTakenError, match="already holds a finetuner demo of alice/mix-model. Putting the finetuner studio there"):
        hub.upload_studio_space("shared-space", token=alice, root=studio_source)
    assert "finetuner/hub.py" not in space.files
    hub.upload_studio_space("shared-space", token=alice, root=studio_source, replace=True)
    assert set(space.files) == studio_files

    api = HfApi(endpoint=hub_server.url)
    api.create_repo("alice/my-app", repo_type="space", space_sdk="gradio", token=alice)
    for path in ("app.py", "style.css"):
        api.upload_file(path_or_fileobj=b"print('mine')\n", path_in_repo=path, repo_id="alice/my-app", repo_type="space", token=alice)
    with pytest.raises(errors.HubSpaceTakenError, match=r"already holds another app \(3 files: .gitattributes, app.py, style.css\)"):
        hub.deploy_demo_space("alice/mix-model", space_name="my-app", token=alice)
    with pytest.raises(errors.HubSpaceTakenError, match="another app"):
        hub.upload_studio_space("my-app", token=alice, root=studio_source)
    assert hub_server.repo("alice/my-app", "space").text("app.py") == "print('mine')\n"
