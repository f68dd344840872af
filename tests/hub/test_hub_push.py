"""Pushing a run to the (loopback) Hub: round trip, card metadata, every failure's message, token hygiene."""

from __future__ import annotations

import json
import logging
import time

import pytest
import yaml
from fakehub import DROP
from hub_helpers import CANARY, files_containing, front_matter, tree_digest
from support import free_port

from finetuner import errors, hub
from finetuner.card import CardOptions

TEXTS = ["the film was wonderful and the cast felt wonderful", "the plot was boring and the ending felt boring", "okay"]


def test_round_trip_same_predictions_and_card(hub_server, alice, trained_run, tmp_path):
    from huggingface_hub import ModelCard, snapshot_download

    from finetuner.inference import Predictor

    result = hub.push_run(trained_run, "tiny-sentiment", token=alice, card_options=CardOptions(license="mit", language="en"))

    assert result.repo_id == "alice/tiny-sentiment" and result.private
    assert result.url == f"{hub_server.url}/alice/tiny-sentiment"
    repo = hub_server.repo("alice/tiny-sentiment")
    assert repo.private
    commit = repo.commits[-1]
    assert trained_run.id in commit.summary  # the commit message names the run
    for name in ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "README.md", "training_config.yaml", "all_results.json", "eval_results.json", "test_results.json", "images/training_curve.png", "images/confusion_matrix.png"):
        assert name in repo.files, name
    assert repo.files["model.safetensors"].lfs and repo.files["images/training_curve.png"].data.startswith(b"\x89PNG")
    assert "training_args.bin" not in repo.files
    config = json.loads(repo.text("config.json"))
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    tokenizer_config = json.loads(repo.text("tokenizer_config.json"))
    assert "local_files_only" not in tokenizer_config and "is_local" not in tokenizer_config
    training_config = yaml.safe_load(repo.text("training_config.yaml"))
    assert training_config["train_file"] == "hub-reviews.csv"  # a file name, not the server's path
    assert "/" not in training_config["model_name_or_path"]

    # Download it back with huggingface_hub and get the same predictions.
    folder = snapshot_download("alice/tiny-sentiment", token=alice, cache_dir=tmp_path / "download")
    local, pushed = Predictor(str(trained_run.model_dir)), Predictor(folder)
    for a, b in zip(local.predict(TEXTS), pushed.predict(TEXTS)):
        assert a.keys() == b.keys() == {"negative", "positive"}
        assert all(abs(a[k] - b[k]) < 1e-6 for k in a)

    # The card parses, with the metadata and model-index the Hub shows.
    card = ModelCard.load(f"{folder}/README.md")
    data = card.data
    assert data.license == "mit" and data.language == ["en"]
    assert data.pipeline_tag == "text-classification" and data.library_name == "transformers"
    assert "finetuner" in data.tags
    assert data.base_model is None  # a local folder of unknown origin is not claimed as a Hub model
    results = {r.metric_name: r for r in data.eval_results}
    test_metrics = trained_run.metrics("test")
    assert results["Accuracy"].metric_value == round(test_metrics["test_accuracy"], 4)
    assert results["F1 (macro)"].metric_value == round(test_metrics["test_f1_macro"], 4)
    assert results["Accuracy"].dataset_split == "test (split from train)" and results["Accuracy"].task_type == "text-classification"
    assert data.to_dict()["model-index"][0]["name"] == "tiny-sentiment"
    text = card.text
    for heading in ("## How to use", "## Intended uses and limitations", "## Training data", "### Hyperparameters", "## Evaluation", "## Framework versions"):
        assert heading in text
    assert "TF-IDF + logistic regression" in text and "Majority class" in text
    assert "| negative |" in text and "| positive |" in text  # per-class table
    assert "(images/training_curve.png)" in text and "(images/confusion_matrix.png)" in text
    assert str(trained_run.path.parent) not in text  # no server paths

    assert (trained_run.path / "hub.json").is_file()
    assert json.loads((trained_run.path / "hub.json").read_text())["model"]["repo_id"] == "alice/tiny-sentiment"


def test_card_usage_snippet_runs(hub_server, alice, trained_run, monkeypatch, capsys):
    hub.push_run(trained_run, "snippet-model", token=alice, private=False)
    readme = hub_server.repo("alice/snippet-model").text("README.md")
    snippet = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'model="alice/snippet-model"' in snippet
    exec(compile(snippet, "card-snippet", "exec"), {})  # downloads from the loopback Hub, predicts, prints
    printed = capsys.readouterr().out
    assert "'label': 'positive'" in printed or "'label': 'negative'" in printed
    example = "Replace this with a text to classify."
    assert repr(example) in snippet
    exec(compile(snippet.replace(repr(example), repr(" ".join(TEXTS) * 100)), "card-snippet", "exec"), {})  # longer than the model reads
    assert "'label': " in capsys.readouterr().out


def test_public_switch_exist_ok_and_org(hub_server, alice, trained_run):
    first = hub.push_run(trained_run, "public-model", token=alice, private=False)
    assert not first.private and not hub_server.repo("alice/public-model").private
    again = hub.push_run(trained_run, "public-model", token=alice, private=True)  # exists: no error, stays public
    assert not again.private and any("stays public" in w for w in again.warnings)
    assert len(hub_server.repo("alice/public-model").commits) >= 2
    org = hub.push_run(trained_run, "acme/team-model", token=alice)
    assert org.repo_id == "acme/team-model" and hub_server.repo("acme/team-model").private
    public = hub.push_run(trained_run, "acme/team-model", token=alice, private=False)  # exists and private: says it stays so
    assert public.private and hub_server.repo("acme/team-model").private
    assert any("stays private, not public as asked" in w and "acme/team-model/settings" in w for w in public.warnings)


def test_token_from_environment(hub_server, alice, trained_run, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", alice)
    assert hub.push_run(trained_run, "env-model").repo_id == "alice/env-model"
    with pytest.raises(errors.HubTokenMissingError):
        hub.push_run(trained_run, "env-model", allow_environment=False)  # a shared page must not use it


# ----------------------------------------------------------------------------- failures


FAILURES = {
    "no token": dict(token=None, error=errors.HubTokenMissingError, words=["No Hugging Face token", "HF_TOKEN", "settings/tokens"]),
    "invalid token (401)": dict(token="hf_revokedrevokedrevokedrevoked", error=errors.HubTokenInvalidError, words=["401", "invalid, expired or revoked", "settings/tokens"]),
    "read-only token": dict(user=dict(role="read"), error=errors.HubReadOnlyTokenError, words=["read-only", "Write"]),
    "other namespace": dict(repo="someone-else/model", error=errors.HubNamespaceError, words=["cannot write to 'someone-else'", "logged in as 'bob'"]),
    "refused by the Hub (403)": dict(fail=("POST", "/api/repos/create", 403, "You don't have the rights"), error=errors.HubNamespaceError, words=["403", "write access", "The Hub said"]),
    "conflict (409)": dict(fail=("POST", "/commit/", 409, "A commit has happened since"), error=errors.HubConflictError, words=["409", "push again", "Nothing was lost"]),
    "server error (500)": dict(fail=("POST", "/commit/", 500, "Internal error"), error=errors.HubUnreachableError, words=["500", "Try again", "nothing was lost"], times=10),
    "upload refused midway (500)": dict(fail=("PUT", "/lfs-upload/", 500, "Upload failed"), error=errors.HubUnreachableError, words=["500", "Try again", "nothing was lost"], times=50),
    "connection lost midway": dict(fail=("PUT", "/lfs-upload/", DROP, ""), error=errors.HubUnreachableError, words=["Could not reach the Hugging Face Hub", "Nothing was lost"], times=50),
    "invalid repo name": dict(repo="bad name!!", error=errors.HubRepoNameError, words=["not a valid repository name", "letters, digits"]),
    "refused connection": dict(endpoint="refused", error=errors.HubUnreachableError, words=["Could not reach the Hugging Face Hub", "internet connection", "Nothing was lost"]),
}


@pytest.mark.parametrize("case", list(FAILURES), ids=list(FAILURES))
def test_push_failures_say_cause_and_fix_and_lose_nothing(case, hub_server, trained_run):
    spec = FAILURES[case]
    token = spec.get("token", "hf_bob_token_abcdefghijklmnop")
    if "token" not in spec:
        hub_server.add_user("bob", token=token, **spec.get("user", {}))
    if "fail" in spec:
        method, path, status, message = spec["fail"]
        hub_server.fail_next(method, path, status, message, times=spec.get("times", 1))
    endpoint = f"http://127.0.0.1:{free_port()}" if spec.get("endpoint") == "refused" else None
    before = tree_digest(trained_run.path)
    started = time.monotonic()
    with pytest.raises(spec["error"]) as caught:
        hub.push_run(trained_run, spec.get("repo", "model"), token=token, endpoint=endpoint)
    message = str(caught.value)
    for words in spec["words"]:
        assert words in message, f"{words!r} not in: {message}"
    assert isinstance(caught.value, errors.HubError)
    if token:
        assert token not in message
    assert "HF_HUB_OFFLINE" not in message, "offline mode is no cause here: it is not set"
    assert tree_digest(trained_run.path) == before  # nothing local changed, nothing lost
    assert time.monotonic() - started < 15  # fails fast: the token is checked before uploading
    if case in ("no token", "invalid token (401)", "read-only token", "other namespace", "invalid repo name", "refused connection"):
        assert not hub_server.requests_to("POST", "/api/repos/create")  # failed before anything heavy


def test_a_push_interrupted_midway_is_pushed_again_into_the_same_repo(hub_server, alice, tmp_path, tiny_model_dir):
    """The network breaks while the weights upload: nothing is recorded as pushed, and pushing again (no name given)
    fills the repo the interrupted push created, rather than taking it for another run's and going elsewhere."""
    from support import completed_run

    run = completed_run(tmp_path / "runs", "interrupted", task="text-classification", model_dir=tiny_model_dir)
    hub_server.fail_next("PUT", "/lfs-upload/", DROP, "", times=50)
    with pytest.raises(errors.HubUnreachableError):
        hub.push_run(run, None, token=alice)
    assert hub.hub_record(run) == {}
    created = [repo_id for (kind, repo_id) in hub_server.repos if kind == "model"]
    hub_server.clear_failures()
    result = hub.push_run(run, None, token=alice)
    assert [result.repo_id] == created and not result.warnings
    assert "model.safetensors" in hub_server.repo(result.repo_id).files
    assert hub.hub_record(run)["model"]["repo_id"] == result.repo_id


def test_402_when_the_hub_wants_a_paid_plan_for_a_gradio_space(hub_server, alice, trained_run):
    hub.push_run(trained_run, "paid-model", token=alice)
    free = hub_server.add_user("carol", token="hf_carol_free_token_0123456789")
    hub.push_run(trained_run, "carol-model", token=free)
    with pytest.raises(errors.HubPaymentRequiredError) as caught:
        hub.deploy_demo_space("carol-model", token=free)
    assert "402" in str(caught.value) and "PRO" in str(caught.value) and "pricing" in str(caught.value)


def test_404_when_deploying_a_model_that_was_never_pushed(hub_server, alice):
    with pytest.raises(errors.HubRepoNotFoundError) as caught:
        hub.deploy_demo_space("never-pushed", token=alice)
    assert "alice/never-pushed" in str(caught.value) and "Push the model first" in str(caught.value)


def test_push_needs_a_completed_run(hub_server, alice, hub_runs_dir, trained_run):
    from finetuner.runs import RunStore

    store = RunStore(hub_runs_dir)
    unfinished = store.create(trained_run.config(), owner="alice")
    unfinished.update_status(state="failed", error="CUDA out of memory")
    with pytest.raises(errors.RunError) as caught:
        hub.push_run(unfinished, "x", token=alice)
    assert "failed (CUDA out of memory), so it has no trained model" in str(caught.value) and "resume it" in str(caught.value)
    unfinished.update_status(state="stopped")
    with pytest.raises(errors.RunError, match="resume it to finish training"):
        hub.push_run(unfinished, "x", token=alice)
    store.delete(unfinished.id)
    assert not hub_server.requests_to("POST", "/api/repos/create")


def test_fine_grained_and_read_only_org_membership():
    user = hub.HubUser(name="dana", orgs=("acme", "readers"), read_only_orgs=("readers",), role="fineGrained", writable=("dana",))
    user.check_can_write("dana")
    with pytest.raises(errors.HubReadOnlyTokenError, match="fine-grained"):
        user.check_can_write("acme")
    with pytest.raises(errors.HubNamespaceError, match="read-only member"):
        user.check_can_write("readers")


# ----------------------------------------------------------------------------- token hygiene


def test_canary_token_never_written_or_logged(hub_server, trained_run, hub_runs_dir, caplog, capfd):
    hub_server.add_user("alice", token=CANARY, plan="pro")
    caplog.set_level(logging.INFO)  # httpcore's DEBUG trace prints raw response headers, which the echo below would fill
    for name in ("finetuner", "huggingface_hub", "transformers"):
        caplog.set_level(logging.DEBUG, logger=name)
    hub.push_run(trained_run, "canary-model", token=CANARY)
    hub.deploy_demo_space("canary-model", token=CANARY, run=trained_run)
    hub_server.fail_next("POST", "/commit/", 409, f"conflict for {CANARY}")  # even a server echoing it back
    with pytest.raises(errors.HubConflictError) as caught:
        hub.push_run(trained_run, "canary-model", token=CANARY, card_options=CardOptions(description="A changed card, so there is a commit to refuse."))
    assert CANARY not in str(caught.value)
    hub_server.users.clear()
    hub_server.add_user("alice", token="hf_other_token_0123456789abcd")
    with pytest.raises(errors.HubTokenInvalidError) as caught:
        hub.push_run(trained_run, "canary-model", token=CANARY)
    assert CANARY not in str(caught.value)

    assert files_containing(hub_runs_dir, CANARY) == []
    out, err = capfd.readouterr()
    assert CANARY not in out + err
    assert CANARY not in caplog.text
    # What reached the Hub: the token only ever travelled in the Authorization header.
    for request in hub_server.requests:
        assert CANARY.encode() not in request["body"], request["path"]
        assert all(CANARY not in value for key, value in request["headers"].items() if key != "authorization")
    for repo in hub_server.repos.values():
        for path, stored in repo.files.items():
            assert CANARY.encode() not in stored.data, path


def test_push_when_finished_checks_first_and_keeps_no_token(hub_server, alice, trained_run):
    with pytest.raises(errors.HubTokenInvalidError):
        hub.PushWhenFinished(trained_run, "later-model", token="hf_wrong_token_abcdefghijk")
    pending = hub.PushWhenFinished(trained_run, "later-model", token=alice, timeout=30).start()
    pending.thread.join(60)
    assert pending.error is None and pending.result is not None
    assert pending.result.repo_id == "alice/later-model" and "model.safetensors" in hub_server.repo("alice/later-model").files
    assert pending._token is None  # forgotten once used
    assert any(e["type"] == "push" and e["repo_id"] == "alice/later-model" for e in trained_run.events())


def test_pick_token_and_server_token_policy(hub_server, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_server_token_0123456789abc")
    assert hub.pick_token(oauth_token="hf_user_oauth_0123456789", typed_token="hf_typed") == "hf_typed", "a token typed for this page comes first"
    assert hub.pick_token(oauth_token="hf_user_oauth_0123456789", typed_token=" ") == "hf_user_oauth_0123456789"
    assert hub.pick_token(oauth_token=hub.MOCK_OAUTH_TOKEN, typed_token=" hf_typed ") == "hf_typed"
    assert hub.pick_token(allow_environment=True) == "hf_server_token_0123456789abc"
    assert hub.pick_token(allow_environment=False) is None
    assert hub.server_token_allowed(shared=False)
    assert not hub.server_token_allowed(shared=True)
    monkeypatch.setenv("SYSTEM", "spaces")
    monkeypatch.setenv("SPACE_ID", "alice/finetuner-studio")
    assert hub.on_spaces() and not hub.server_token_allowed(shared=False)
    monkeypatch.setenv("FINETUNER_ALLOW_SERVER_TOKEN", "1")
    assert hub.server_token_allowed(shared=True)


def test_repo_names():
    user = hub.HubUser(name="alice", orgs=("acme",))
    assert hub.full_repo_id("model", user) == "alice/model"
    assert hub.full_repo_id("acme/model", user) == "acme/model"
    assert hub.full_repo_id("https://huggingface.co/alice/model", user) == "alice/model"
    for bad in ("", "a/b/c", "bad name", "-start", "double--dash", "x" * 97):
        with pytest.raises(errors.HubRepoNameError):
            hub.full_repo_id(bad, user)


def test_a_pasted_address_is_read_for_its_repo_id(hub_server, alice, trained_run):
    """A repo's address copied from the browser (huggingface.co or hf.co, maybe on one of its pages) names that repo."""
    pushed = hub.push_run(trained_run, "https://huggingface.co/acme/pasted-model/tree/main", token=alice)
    assert pushed.repo_id == "acme/pasted-model" and "model.safetensors" in hub_server.repo("acme/pasted-model").files
    assert hub.push_run(trained_run, "https://hf.co/acme/pasted-model", token=alice).repo_id == "acme/pasted-model"
    space = hub.deploy_demo_space("hf.co/acme/pasted-model/blob/main/README.md", space_name="https://huggingface.co/spaces/acme/pasted-demo", token=alice)
    assert space.space_id == "acme/pasted-demo" and hub_server.repo("acme/pasted-demo", "space").sdk == "gradio"


@pytest.mark.parametrize("typed", ["alice/", "/model", "a/b/c", "https://huggingface.co/alice", "https://huggingface.co/spaces/alice/demo"])
def test_a_malformed_repo_id_is_refused_with_the_expected_form(hub_server, alice, trained_run, typed):
    with pytest.raises(errors.HubRepoNameError) as caught:
        hub.push_run(trained_run, typed, token=alice)
    assert "'namespace/name'" in str(caught.value) and "https://huggingface.co/namespace/name" in str(caught.value)
    assert not hub_server.requests_to("POST", "/api/repos/create")  # 'alice/' did not become 'alice/alice'


def test_pushed_card_front_matter_validates_on_the_hub(hub_server, alice, trained_run):
    from fakehub import validate_metadata

    hub.push_run(trained_run, "valid-card", token=alice, card_options=CardOptions(license="apache-2.0", base_model="sentence-transformers/all-MiniLM-L6-v2"))
    readme = hub_server.repo("alice/valid-card").text("README.md")
    assert validate_metadata(readme, "model") == []
    meta = front_matter(readme)
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert meta["model-index"][0]["results"][0]["dataset"]["split"] == "test (split from train)"


def test_card_headline_interval_is_the_evaluation_tables(trained_run):
    """The sentence under the title and the evaluation table quote one interval for the test accuracy, not two."""
    from finetuner.card import build_card
    from finetuner.intervals import interval_text

    text = build_card(trained_run, CardOptions(repo_id="alice/x"), images=False).text
    report = json.loads((trained_run.eval_dir / "report_test.json").read_text())
    span = interval_text(report["intervals"]["accuracy"])
    headline = text.split("On the held-out test split", 1)[1].split("\n", 1)[0]
    assert f"95% interval for accuracy {span} on 12 examples" in headline
    table_row = text.split("### Test split", 1)[1].split("| Accuracy |", 1)[1].split("\n", 1)[0]
    assert f"| {span} |" in table_row


def test_card_details_the_hub_would_refuse_say_what_to_give(hub_server, alice, trained_run):
    """A folder as the base model, a file name as the dataset or a license that is no id: refused before anything
    reaches the Hub (and before a training with "push when done"). A well-formed license the Hub does not know:
    the Hub's own reason, and what to check, not a bug report request alone."""
    with pytest.raises(errors.ConfigError) as caught:
        hub.push_run(trained_run, "x", token=alice, card_options=CardOptions(base_model="/home/me/bert"))
    assert "Base model '/home/me/bert' is not a Hub id" in str(caught.value) and "'namespace/name'" in str(caught.value)
    with pytest.raises(errors.ConfigError, match="Dataset 'my data.csv' is not a Hub id"):
        hub.PushWhenFinished(trained_run, "x", token=alice, card_options=CardOptions(dataset_id="my data.csv"))
    with pytest.raises(errors.ConfigError, match="not a Hub license id.*repositories-licenses"):
        hub.push_run(trained_run, "x", token=alice, card_options=CardOptions(license="My License"))
    assert not hub_server.requests_to("POST", "/api/repos/create")

    # A well-formed id the Hub does not know: the Hub's own reason, asked before a repo is made.
    with pytest.raises(errors.HubCardError) as caught:
        hub.push_run(trained_run, "x", token=alice, card_options=CardOptions(license="wtfpl"))
    message = str(caught.value)
    assert "\"license\" must be one of the Hub license ids, got 'wtfpl'" in message and "\n" not in message
    assert "Nothing was created or uploaded" in message
    with pytest.raises(errors.HubCardError, match="did you mean apache-2.0"):
        hub.PushWhenFinished(trained_run, "x", token=alice, card_options=CardOptions(license="apache2"))  # before the training
    assert not hub_server.requests_to("POST", "/api/repos/create") and not hub_server.requests_to("POST", "/commit/")


def test_the_hubs_refusal_of_a_card_names_close_license_ids_only_when_it_is_the_license_it_refused(hub_server, alice):
    """A card refused for another reason (its base model here) said the license was 'not a Hub license id' and named
    other ids whenever finetuner's list lacked it, though the Hub had just taken that license."""
    from fakehub import NEWER_HUB_LICENSE

    api = hub._api(None)
    card = f"---\nlicense: {NEWER_HUB_LICENSE}\nbase_model: ./my-folder\n---\n"
    with pytest.raises(errors.HubCardError) as caught:
        hub.check_card_with_hub(api, card, token=alice, license_=NEWER_HUB_LICENSE)
    message = str(caught.value)
    assert "\"base_model\" must be a Hub model id" in message and "Nothing was created or uploaded" in message
    assert "not a Hub license id" not in message, message
    with pytest.raises(errors.HubCardError, match="not a Hub license id that finetuner knows \\(did you mean apache-2.0"):
        hub.check_card_with_hub(api, "---\nlicense: apache2\n---\n", token=alice, license_="apache2")


def test_a_refusal_is_checked_again_with_the_hub(hub_server, alice, trained_run):
    """The message says to ask an admin of the organization for write access: once they have, the push works
    at once, not after the five minutes the token's identity is otherwise kept for."""
    with pytest.raises(errors.HubNamespaceError, match="ask an admin of 'beta'"):
        hub.push_run(trained_run, "beta/model", token=alice)
    hub_server.users[alice].orgs = (*hub_server.users[alice].orgs, "beta")  # the admin adds alice
    assert hub.push_run(trained_run, "beta/model", token=alice).repo_id == "beta/model"
    assert len(hub_server.requests_to("GET", "/api/whoami-v2")) == 2


def test_push_when_finished_records_any_failure(hub_server, alice, trained_run, tmp_path):
    """The studio says the run's events will tell when the push is done: an unexpected error (here a report the
    card cannot read) is recorded there too, not lost with the background thread."""
    import shutil

    from finetuner.runs import Run

    run = Run(shutil.copytree(trained_run.path, tmp_path / trained_run.id))
    (run.eval_dir / "report_test.json").write_text("[1]")
    pending = hub.PushWhenFinished(run, "broken-report", token=alice, timeout=30).start()
    pending.thread.join(60)
    failed = [e for e in run.events() if e["type"] == "push_failed"]
    assert failed and failed[-1]["repo_id"] == "alice/broken-report"
    assert "Unexpected error while pushing (AttributeError" in failed[-1]["error"] and "push it again" in failed[-1]["error"]
    assert pending._token is None


def test_paths_in_training_arguments_are_not_published(hub_server, alice, tmp_path, tiny_model_dir):
    """A TrainingArguments path (logging_dir, a deepspeed file) reaches neither the card nor training_config.yaml:
    only its name, like the data files' (also once a data file is gone: runs keep absolute paths)."""
    import shutil

    from finetuner.config import RunConfig
    from finetuner.runs import RunStore

    logs = tmp_path / "home" / "alice-private" / "tensorboard"
    gone = tmp_path / "home" / "alice-private" / "reviews.csv"  # deleted since training
    config = RunConfig.from_dict({"model_name_or_path": str(tiny_model_dir), "train_file": str(gone), "max_seq_length": 32, "extra_training_args": {"logging_dir": str(logs), "adam_beta2": 0.98}})
    run = RunStore(tmp_path / "runs").create(config)
    shutil.copytree(tiny_model_dir, run.model_dir)
    run.update_status(state="completed")
    hub.push_run(run, "no-paths", token=alice)
    repo = hub_server.repo("alice/no-paths")
    for name in ("README.md", "training_config.yaml"):
        assert "alice-private" not in repo.text(name), name
    published = yaml.safe_load(repo.text("training_config.yaml"))
    assert published["extra_training_args"] == {"logging_dir": "tensorboard", "adam_beta2": 0.98} and published["train_file"] == "reviews.csv"
    assert "| logging_dir | tensorboard |" in repo.text("README.md")


def test_a_run_trained_from_an_earlier_runs_model_names_its_hub_base(hub_server, alice, tmp_path, tiny_model_dir):
    """The studio offers one's own runs as models: a run trained on from another run's model is described as a
    fine-tuned version of where that run was pushed (or of that run's own Hub base), not of a folder `model`."""
    from support import completed_run

    from finetuner.card import build_card

    first = completed_run(tmp_path / "runs", "first", task="text-classification", model_dir=tiny_model_dir)
    second = completed_run(tmp_path / "runs", "second", task="text-classification", model_dir=first.model_dir)
    assert "base_model" not in front_matter(build_card(second, images=False).text)  # first started from a folder of unknown origin
    hub.push_run(first, "first-model", token=alice)
    text = build_card(second, images=False).text
    assert front_matter(text)["base_model"] == "alice/first-model"
    assert "fine-tuned version of [alice/first-model](https://huggingface.co/alice/first-model)" in text


def test_a_card_without_a_license_given_takes_the_base_models(hub_server, alice, trained_run):
    """A fine-tune is bound by its base model's license: without one given, the pushed card names the base
    model's (as the Trainer's own card does), and one given wins. A base without a usable license leaves none."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub_server.url)
    for name, license_ in (("acme/mit-base", "mit"), ("acme/custom-base", "other"), ("acme/no-license-base", None)):
        api.create_repo(name, token=alice)
        meta = f"license: {license_}\n" if license_ else ""
        api.upload_file(path_or_fileobj=f"---\n{meta}library_name: transformers\n---\n# base\n".encode(), path_in_repo="README.md", repo_id=name, token=alice)

    def pushed_license(repo: str, **options) -> str | None:
        hub.push_run(trained_run, repo, token=alice, card_options=CardOptions(**options))
        return front_matter(hub_server.repo(f"alice/{repo}").text("README.md")).get("license")

    assert pushed_license("inherits", base_model="acme/mit-base") == "mit"
    assert pushed_license("chosen", base_model="acme/mit-base", license="apache-2.0") == "apache-2.0"
    assert pushed_license("custom", base_model="acme/custom-base") is None  # 'other' needs its name and link: the user gives them
    assert pushed_license("none", base_model="acme/no-license-base") is None
    assert pushed_license("unknown", base_model="acme/never-pushed") is None


def test_a_base_models_license_that_is_no_hub_id_is_given_as_its_id_or_left_out_never_refused(hub_server, alice, trained_run):
    """Old cards hold licenses the Hub refuses today ('Apache 2.0', 'MIT License'). Taken from the base model when
    none was given, such a value was refused as if the user had typed it ("not a Hub license id"), so no push
    without --license worked. A Hub id written otherwise is given as that id; any other value is left out of the
    card with a warning naming it and saying to give --license; a newer id the Hub takes is kept."""
    from fakehub import NEWER_HUB_LICENSE

    from finetuner.card import LICENSES_URL

    for name, license_ in (("acme/spaced-base", "Apache 2.0"), ("acme/worded-base", "MIT License"), ("acme/own-base", "Acme Research Terms"), ("acme/near-base", "apache2"), ("acme/newer-base", NEWER_HUB_LICENSE), ("acme/padded-base", '" mit "')):
        hub_server.add_old_model(name, f"---\nlicense: {license_}\nlibrary_name: transformers\n---\n# base\n")

    def push(repo: str, base: str) -> tuple[str | None, list[str]]:
        result = hub.push_run(trained_run, repo, token=alice, card_options=CardOptions(base_model=base))
        return front_matter(hub_server.repo(f"alice/{repo}").text("README.md")).get("license"), result.warnings

    assert push("spaced", "acme/spaced-base") == ("apache-2.0", ["The base model acme/spaced-base gives its license as 'Apache 2.0': the card names it by its Hub id, apache-2.0."])
    assert push("worded", "acme/worded-base")[0] == "mit"
    for repo, base, value in (("own", "acme/own-base", "Acme Research Terms"), ("near", "acme/near-base", "apache2")):
        license_, warnings = push(repo, base)
        assert license_ is None, repo
        assert len(warnings) == 1 and f"The base model {base} gives its license as '{value}', which is not a Hub license id, so the card names no license." in warnings[0]
        assert "--license" in warnings[0] and LICENSES_URL in warnings[0]
    assert push("newer", "acme/newer-base") == (NEWER_HUB_LICENSE, [])
    assert push("padded", "acme/padded-base") == ("mit", []), "a Hub id with spaces around it is that id, with nothing to say"
    # The same value typed by the user is still theirs to correct, before anything is created.
    with pytest.raises(errors.ConfigError, match="License 'Apache 2.0' is not a Hub license id \\(did you mean apache-2.0"):
        hub.push_run(trained_run, "typed", token=alice, card_options=CardOptions(base_model="acme/spaced-base", license="Apache 2.0"))
    assert ("model", "alice/typed") not in hub_server.repos


def test_a_base_model_whose_license_is_other_is_named_in_a_warning(hub_server, alice, trained_run):
    """A base model under a license not on the Hub's list ('other', with its name and link) left the pushed card
    without a license and said nothing; the push says so, naming the base model's license, and how to give it."""
    hub_server.add_old_model("acme/custom-terms-base", "---\nlicense: other\nlicense_name: acme-terms\nlicense_link: https://acme.example/terms\n---\n# base\n")
    result = hub.push_run(trained_run, "custom-terms", token=alice, card_options=CardOptions(base_model="acme/custom-terms-base"))
    assert "license" not in front_matter(hub_server.repo("alice/custom-terms").text("README.md"))
    assert result.warnings == [
        "The base model acme/custom-terms-base has a license that is not on the Hub's list ('other': license_name acme-terms, license_link https://acme.example/terms), "
        "so the card names no license. Give it with --license other --license_name NAME --license_link URL (on the Hub tab: License 'other', License name, License link), and push again."
    ]
