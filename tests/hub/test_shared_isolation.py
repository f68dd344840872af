"""A shared studio (FINETUNER_SHARED=1: a Space, --share or --auth) with two visitors, alice and bob, each
identified by the Hugging Face token their API client passes (`Client(..., oauth_token=...)`, what the
login gives a browser on a Space) or by an --auth login: each lists only their own runs in every tab,
and another's run id is refused everywhere. Server paths are refused as data and model locations on a
shared studio, and accepted locally."""

from __future__ import annotations

import contextlib
import shutil

import httpx
import pytest
from gradio_client import Client, handle_file

from finetuner.errors import LocationNotAllowedError, RunNotYoursError
from finetuner.runs import COMPLETED, Run, RunStore
from finetuner.ui import services

ALICE, BOB = "hf_alice_shared_studio_token_0001", "hf_bob_shared_studio_token_00002"
NOT_YOURS = "not one of yours"


@pytest.fixture(scope="module")
def shared_runs(tmp_path_factory, trained_run):
    """A runs folder with a completed run of alice's and one of bob's (copies of the tiny trained run)."""
    runs_dir = tmp_path_factory.mktemp("shared") / "runs"
    for run_id, owner in (("alice-run", "alice"), ("bob-run", "bob")):
        shutil.copytree(trained_run.path, runs_dir / run_id, ignore=shutil.ignore_patterns("hub.json", ".alive"))
        Run(runs_dir / run_id).update_status(run_id=run_id, owner=owner, state=COMPLETED)
    return runs_dir


@contextlib.contextmanager
def launched(runs_dir, **launch):
    from finetuner.ui.studio import build_studio

    demo = build_studio(runs_dir)
    demo.launch(prevent_thread_lock=True, quiet=True, **launch)
    try:
        yield demo.local_url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def studio(shared_runs):
    """The whole studio, built and serving as a shared one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FINETUNER_SHARED", "1")  # the page is built for everyone: no run in it
        with launched(shared_runs) as url:
            yield url


@pytest.fixture
def visitors(hub_server, monkeypatch):
    """alice and bob known to the Hub; the studio shared while the test runs."""
    monkeypatch.setenv("FINETUNER_SHARED", "1")
    hub_server.add_user("alice", token=ALICE, plan="pro")
    hub_server.add_user("bob", token=BOB, plan="pro")
    return hub_server


def _error(call) -> str:
    with pytest.raises(Exception) as caught:
        call()
    return str(caught.value)


def _lists(client: Client, *, every_tab: bool = True) -> dict[str, str]:
    """What each tab's run list shows this visitor, as text. The Train, Evaluate and Try-it refreshes are
    undocumented endpoints, to which gradio_client sends no OAuth token: a browser's login (or --auth) names them."""
    shown = {"runs": str(client.predict(api_name="/list_runs")), "hub": str(client.predict("", api_name="/hub_runs"))}
    if every_tab:
        shown.update(
            train=str(client.predict("", api_name="/refresh_run_list")),
            evaluate=str(client.predict("", "", api_name="/refresh_evaluation")[:2]),
            try_it=str(client.predict("", "", api_name="/refresh_inference_runs_button")),
        )
    return shown


def test_page_config_names_no_run(studio, visitors):
    config = httpx.get(studio + "config", timeout=30).text
    assert "alice-run" not in config and "bob-run" not in config


def test_each_visitor_lists_only_their_own_runs(studio, visitors):
    for token, mine, theirs in ((ALICE, "alice-run", "bob-run"), (BOB, "bob-run", "alice-run")):
        for tab, shown in _lists(Client(studio, oauth_token=token, verbose=False), every_tab=False).items():
            assert mine in shown and theirs not in shown, (tab, shown)
    for tab, shown in _lists(Client(studio, verbose=False)).items():  # no identity: no runs
        assert "alice-run" not in shown and "bob-run" not in shown, (tab, shown)


def test_the_runs_tab_of_a_shared_studio_says_how_to_start_a_run_or_sign_in(studio, visitors, shared_runs):
    """The Runs tab's "no runs" note on a shared studio: a terminal's runs belong to nobody and never show
    there, and the server's runs folder is not the visitor's business; a visitor it does not know is told to sign in."""
    carol = visitors.add_user("carol", token="hf_carol_shared_studio_token_003", plan="pro")
    *_, note = Client(studio, oauth_token=carol, verbose=False).predict(api_name="/list_runs")
    assert note["visible"] is True and note["value"].startswith("**No runs of yours yet.**") and "Start training" in note["value"]
    assert str(shared_runs) not in note["value"] and "python -m finetuner" not in note["value"]
    assert "Your runs" in httpx.get(studio + "config", timeout=30).text, "the tab says it lists the visitor's own runs, not every run"
    *_, note = Client(studio, verbose=False).predict(api_name="/list_runs")
    assert note["value"].startswith("**Sign in to see your runs.**"), "a visitor not signed in (or whose login ran out) may have runs"


def test_another_visitors_run_is_refused_everywhere(studio, visitors, shared_runs, tmp_path):
    bob = Client(studio, oauth_token=BOB, verbose=False)
    data = tmp_path / "more.csv"
    data.write_text("text,label\ngreat film,positive\nawful film,negative\n")
    calls = {
        "evaluation_report": lambda: bob.predict("alice-run", "test", api_name="/evaluation_report"),
        "evaluate_run": lambda: bob.predict("alice-run", handle_file(str(data)), "", "", "test", api_name="/evaluate_run"),
        "predict": lambda: bob.predict("alice-run", "a wonderful film", api_name="/predict"),
        "predict_file": lambda: bob.predict("alice-run", handle_file(str(data)), "", api_name="/predict_file"),
        "select_run": lambda: bob.predict("alice-run", api_name="/select_run"),
        "follow_run": lambda: bob.predict("alice-run", api_name="/follow_run"),
        "stop_training": lambda: bob.predict("alice-run", api_name="/stop_training"),
        "resume_training": lambda: bob.predict("alice-run", api_name="/resume_training"),
        "run_details": lambda: bob.predict("alice-run", api_name="/run_details"),
        "compare_runs": lambda: bob.predict("bob-run", "alice-run", api_name="/compare_runs"),
        "hub_card_preview": lambda: bob.predict("alice-run", "stolen", "(not specified)", "", "", "", "", "", api_name="/hub_card_preview"),
        "hub_push": lambda: bob.predict("alice-run", "stolen", True, "(not specified)", "", "", "", "", "", api_name="/hub_push"),
    }
    for name, call in calls.items():
        assert NOT_YOURS in _error(call), name
    assert NOT_YOURS in _error(lambda: bob.predict("no-such-run", "a text", api_name="/predict"))  # a missing run reads the same
    assert NOT_YOURS in _error(lambda: Client(studio, verbose=False).predict("alice-run", "a text", api_name="/predict"))
    assert ("model", "bob/stolen") not in visitors.repos
    assert RunStore(shared_runs).get("alice-run").state == COMPLETED

    alice = Client(studio, oauth_token=ALICE, verbose=False)  # the owner is served as before
    probabilities, record = alice.predict("alice-run", "a wonderful film", api_name="/predict")
    assert set(record["probabilities"]) == {"negative", "positive"}
    assert "alice-run" in alice.predict("alice-run", api_name="/run_details")[0]
    assert "alice-run" in str(alice.predict("alice-run", "test", api_name="/evaluation_report")[0])


def test_starting_needs_an_identity_and_the_run_is_the_starters(studio, visitors, shared_runs):
    from finetuner.launcher import stop_training, wait_for_end
    from finetuner.runs import ACTIVE_STATES

    message = _error(lambda: Client(studio, verbose=False).predict(max_steps=1, api_name="/start_training"))
    assert "sign in" in message
    alice, bob = Client(studio, oauth_token=ALICE, verbose=False), Client(studio, oauth_token=BOB, verbose=False)
    run_id = alice.predict(max_steps=1, run_name="alice-started", api_name="/start_training")[0]
    run = RunStore(shared_runs).get(run_id)
    try:
        assert run.raw_status()["owner"] == "alice"
        assert NOT_YOURS in _error(lambda: bob.predict(run_id, api_name="/stop_training"))
        assert run_id not in str(bob.predict(api_name="/list_runs")) and run_id in str(alice.predict(api_name="/list_runs"))
    finally:
        alice.predict(run_id, api_name="/stop_training")  # the owner may stop it
        stop_training(run, wait=True, timeout=3) if run.state in ACTIVE_STATES else None  # then SIGTERM: no need to wait for a checkpoint
        assert wait_for_end(run, 120)


def test_an_unknown_visitor_is_told_where_to_sign_in(studio, visitors, monkeypatch):
    anonymous = Client(studio, verbose=False)
    message = _error(lambda: anonymous.predict(max_steps=1, api_name="/start_training"))
    assert "no login" in message and "--auth" in message, "a share link without --auth has no login page to point to"
    monkeypatch.setenv("SYSTEM", "spaces")
    monkeypatch.setenv("SPACE_ID", "team/finetuner-studio")
    for message in (_error(lambda: anonymous.predict(max_steps=1, api_name="/start_training")), _error(lambda: anonymous.predict("alice-run", api_name="/stop_training"))):
        assert "'Sign in with Hugging Face' on the Hub tab" in message, message


def test_server_paths_refused_through_the_studio(studio, visitors, shared_runs, tiny_model_dir, sentiment_csv):
    alice = Client(studio, oauth_token=ALICE, verbose=False)
    message = _error(lambda: alice.predict("text-classification", "Hugging Face Hub", None, None, None, str(tiny_model_dir.parent), "", "train", api_name="/load_dataset"))
    assert "not a Hub dataset id" in message and "upload the file" in message
    message = _error(lambda: alice.predict(model_name_or_path=str(tiny_model_dir), max_steps=1, api_name="/start_training"))
    assert "is a folder on the server" in message and "use a Hub id" in message
    message = _error(lambda: alice.predict(str(tiny_model_dir), 32, "train", 0, "a text", api_name="/inspect_tokens"))
    assert "is a folder on the server" in message
    assert alice.predict(str(shared_runs / "alice-run" / "model"), 32, "train", 0, "a text", api_name="/inspect_tokens")  # her own run's model
    # An upload is a file the visitor sent: accepted.
    loaded = alice.predict("text-classification", "Upload files", handle_file(str(sentiment_csv)), None, None, "", "", "train", api_name="/load_dataset")
    assert sentiment_csv.name in str(loaded)


def test_locations_shared_and_local(shared_runs, tiny_model_dir, sentiment_csv, monkeypatch, tmp_path):
    runs_dir = shared_runs
    monkeypatch.setenv("FINETUNER_SHARED", "1")
    with pytest.raises(LocationNotAllowedError, match="upload the file"):
        services.make_selection(services.SOURCE_FILE, train_file=str(sentiment_csv), runs_dir=runs_dir)
    with pytest.raises(LocationNotAllowedError, match="Hub dataset id"):
        services.make_selection(services.SOURCE_HUB, dataset_name=str(tmp_path), runs_dir=runs_dir)
    example = services.default_selection()
    config = services.build_config(example, {"max_steps": 1}, runs_dir=runs_dir)  # the bundled model and example
    assert config.data.train_file == str(services.EXAMPLE_DATASET)
    assert services.build_config(example, {"model_name_or_path": "distilbert/distilbert-base-uncased"}, runs_dir=runs_dir)
    for model in (str(tiny_model_dir), "/etc", "../runs"):
        with pytest.raises(LocationNotAllowedError, match="use a Hub id"):
            services.build_config(example, {"model_name_or_path": model}, runs_dir=runs_dir)
    own, other = str(runs_dir / "alice-run" / "model"), str(runs_dir / "bob-run" / "model")
    assert services.build_config(example, {"model_name_or_path": own}, runs_dir=runs_dir, owner="alice").model.model_name_or_path == own
    with pytest.raises(LocationNotAllowedError):
        services.build_config(example, {"model_name_or_path": other}, runs_dir=runs_dir, owner="alice")
    with pytest.raises(LocationNotAllowedError, match="output_dir"):
        services.build_config(example, {"extra_training_args": "output_dir: /tmp/elsewhere"}, runs_dir=runs_dir)
    with pytest.raises(LocationNotAllowedError, match="trust_remote_code"):
        services.build_config(example, {"trust_remote_code": True}, runs_dir=runs_dir)
    with pytest.raises(LocationNotAllowedError):
        services.build_config({**example, "train_file": str(sentiment_csv)}, {}, runs_dir=runs_dir)
    uploaded = runs_dir / "uploads" / "abc" / "reviews.csv"
    uploaded.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sentiment_csv, uploaded)
    assert services.make_selection(services.SOURCE_FILE, train_file=str(uploaded), runs_dir=runs_dir)["train_file"] == str(uploaded)

    from finetuner import access

    with pytest.raises(RunNotYoursError):
        access.owned_run(RunStore(runs_dir), "bob-run", "alice", shared=True)

    monkeypatch.delenv("FINETUNER_SHARED")  # locally: server paths are the user's own files
    selection = services.make_selection(services.SOURCE_FILE, train_file=str(sentiment_csv), runs_dir=tmp_path / "local-runs")
    assert selection["train_file"].startswith(str(tmp_path / "local-runs" / "uploads"))
    assert services.build_config(example, {"model_name_or_path": str(tiny_model_dir)}).model.model_name_or_path == str(tiny_model_dir)
    assert access.owned_run(RunStore(runs_dir), "bob-run", None, shared=False).id == "bob-run"


def test_auth_logins_are_visitors_too(shared_runs, visitors):
    """With --auth (app.py makes the studio shared) the login name is the owner."""
    with launched(shared_runs, auth=[("alice", "pw-alice"), ("bob", "pw-bob")]) as url:
        alice = Client(url, auth=("alice", "pw-alice"), verbose=False)
        bob = Client(url, auth=("bob", "pw-bob"), verbose=False)
        for client, mine, theirs in ((alice, "alice-run", "bob-run"), (bob, "bob-run", "alice-run")):
            for tab, shown in _lists(client).items():  # every tab's run list
                assert mine in shown and theirs not in shown, (tab, shown)
        assert NOT_YOURS in _error(lambda: bob.predict("alice-run", "a text", api_name="/predict"))
        assert "bob-run" in bob.predict("bob-run", api_name="/run_details")[0]


def test_app_auth_makes_the_studio_shared(monkeypatch):
    import app

    monkeypatch.delenv("FINETUNER_SHARED", raising=False)
    launches = []
    monkeypatch.setattr("finetuner.ui.studio.build_studio", lambda runs_dir: type("Demo", (), {"launch": lambda self, **kw: launches.append(kw)})())
    app.main(["--auth", "alice:pw"])
    import os

    assert os.environ["FINETUNER_SHARED"] == "1" and launches[0]["auth"] == [("alice", "pw")]
