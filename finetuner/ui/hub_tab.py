"""Hub tab: sign in, preview the model card, push a run, deploy a demo Space.

Endpoints (every one also takes the caller's Hugging Face OAuth token, which Gradio injects from the
login on a Space, or `gradio_client.Client(..., oauth_token=...)` passes):
`/hub_account` (who am I, and may I write?), `/hub_runs` (runs this visitor may publish),
`/hub_card_preview` (the card as it will be pushed), `/hub_push` (push a completed run, or push a
training run when it finishes) and `/hub_deploy_space` (a demo Space for the pushed model; its last input,
"Replace what the Space holds", unticked unless given, is what lets it put the demo in a Space that holds another
app, e.g. the studio, deleting that app's files: without it such a Space is refused, naming what it holds).

Tokens: a token typed in the password field first (an API client may pass one with its OAuth token),
then the visitor's own OAuth token (on a Space they sign in with `gr.LoginButton`), then, when the page
is not shared, HF_TOKEN / the saved login (`hub.pick_token`). A token lives only in the request that uses it: never in `gr.State`, the runs folder,
logs or messages. On a shared page (a Space, a share link, an --auth page) each visitor sees and
publishes only the runs they started (`ownership`: their Hub login, --auth login or token's user), and
the server's own token is not used unless its owner set FINETUNER_ALLOW_SERVER_TOKEN=1.

A causal-LM run trained with LoRA can be pushed as its adapter (peft) instead of merged weights: the
"Push as" choice appears only for such runs.
"""

import re

import gradio as gr

from .. import access, hub
from ..card import CardOptions, build_card, license_warning, other_license_warning
from ..errors import HubError, HubSpaceTakenError, HubTokenMissingError, RunError
from ..runs import ACTIVE_STATES, COMPLETED, Run
from . import ownership
from .handlers import shown_in_browser, ui_errors
from .studio import StudioContext

LICENSES = ["apache-2.0", "mit", "cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "bsd-3-clause", "gpl-3.0", "other", "(not specified)"]
NOT_SPECIFIED = "(not specified)"
MERGED, ADAPTER = "Merged model", "LoRA adapter (peft)"
REPLACE_SPACE = "Replace what the Space holds"

is_shared = ownership.is_shared  # a Space, a share link or an --auth page


def build_hub_tab(ctx: StudioContext) -> None:
    shared = is_shared(ctx)
    server_token = hub.server_token_allowed(shared=shared)
    with gr.Tab("Hub", id="hub") as tab:
        gr.Markdown(
            "### Publish to the Hugging Face Hub\n"
            "Push a finished run (weights, tokenizer, a model card with its real metrics and plots), then deploy a demo Space for it."
            + ("\n\n**This Space's disk is wiped when it restarts or sleeps: push each finished run to keep it.**" if access.runs_lost_on_restart(ctx.runs_dir) else "")
        )
        with gr.Row():
            with gr.Column(scale=3):
                if hub.on_spaces():
                    gr.LoginButton()
                token_box = ctx.hub_token  # made with the page (`studio.studio_context`): the Data and Train tabs read with it too
                token_box.visible = not hub.on_spaces()
                token_box.info = (
                    "A token with the Write role (huggingface.co/settings/tokens). It also reads your private or gated datasets and models on the "
                    "Data, Train and Evaluate tabs. Used for this page only, never saved." + (" Leave empty to use HF_TOKEN or your saved login." if server_token else "")
                )
                token_box.render()
            with gr.Column(scale=2):
                account_button = gr.Button("Check account", variant="secondary")
                account = gr.Markdown()
        with gr.Row():
            # On a shared page the list is filled per visitor (on load / refresh), never at build time,
            # which would put every user's run ids in the page config. The handlers check ownership.
            run_choice = gr.Dropdown([] if shared else _choices(ctx.store.list()), label="Run", allow_custom_value=True, info="A completed run to push now, or a training run to push when it finishes.", scale=4)
            refresh_button = gr.Button("↻ Refresh runs", scale=1)
        with gr.Row():
            repo_name = gr.Textbox(label="Repository", placeholder="my-sentiment-model  or  my-org/my-sentiment-model", info="Created if needed; a name without '/' goes under your username; a pasted https://huggingface.co/... address works too. Empty: the run's default name, which never replaces another run's model.", scale=3)
            private = gr.Checkbox(value=True, label="Private repository", info="Only you (and your organization) can see it. Untick to make it public.", scale=1)
        push_as = gr.Radio([MERGED, ADAPTER], value=MERGED, label="Push as", visible=False, info="This run trained LoRA adapters: push the merged model (loads with transformers alone), or only the small adapters (load on top of the base model with peft; the base must be on the Hub).")
        with gr.Accordion("Model card details", open=False):
            with gr.Row():
                license_choice = gr.Dropdown(LICENSES, value=NOT_SPECIFIED, label="License", allow_custom_value=True, info="Usually the base model's license. Not specified: the push takes the base model's from the Hub, when it has one (the preview does not ask the Hub).")
                language = gr.Textbox(label="Language(s)", placeholder="en", info="ISO 639-1 codes, comma-separated.")
            with gr.Row():
                license_name = gr.Textbox(label="License name", placeholder="my-license-1.0", info="With License 'other' (a license not on the Hub's list): an id for it, as the Hub asks.")
                license_link = gr.Textbox(label="License link", placeholder="https://example.com/LICENSE", info="With License 'other': where to read the license.")
            with gr.Row():
                base_model = gr.Textbox(label="Base model on the Hub", placeholder="(from the run)", info="Only if training started from a local folder that is a copy of a Hub model.")
                dataset_id = gr.Textbox(label="Dataset on the Hub", placeholder="(from the run)", info="Only if the training file is also published as a Hub dataset.")
            description = gr.Textbox(label="Description", lines=3, placeholder="What the model is for, in your words (shown first on the card).")
        with gr.Row():
            preview_button = gr.Button("Preview card", variant="secondary")
            push_button = gr.Button("Push to the Hub", variant="primary")
        push_status = gr.Markdown()
        with gr.Accordion("Card preview", open=False) as preview_box:
            with gr.Tabs():
                with gr.Tab("Rendered"):
                    card_view = gr.Markdown()
                    card_images = gr.Gallery(label="Images pushed with the card", columns=2, height=320)
                with gr.Tab("README.md"):
                    card_source = gr.Code(language="markdown", label="README.md as pushed")
        gr.Markdown("### Demo Space\nA small Gradio app for the pushed model, on a Space of your own.")
        with gr.Row():
            space_name = gr.Textbox(label="Space name", placeholder="(repository name)-demo", info="Empty: beside the model (in its organization when your token may write there, else under your username).", scale=3)
            # Never ticked by default, and unticked again after a deploy or when the Space it was meant for changes:
            # it deletes another app's files, so it is chosen for one Space, after its refusal said what is there.
            replace_space = gr.Checkbox(
                value=False, label=REPLACE_SPACE, scale=1,
                info="Only for a Space that holds another app (the studio, something else): its files are deleted in the commit that adds the demo. Unticked, such a Space is refused, naming what it holds. Off again after each deploy.",
            )
            deploy_button = gr.Button("Deploy demo Space", variant="primary", scale=1)
        deploy_status = gr.Markdown()

    def session(typed_token: str | None, oauth_token: gr.OAuthToken | None, *, refresh: bool = False) -> tuple[str, hub.HubUser]:
        """This request's token and who it belongs to. The token is returned to the handler, never kept."""
        token = hub.pick_token(oauth_token=oauth_token.token if oauth_token else None, typed_token=typed_token, allow_environment=server_token)
        if not token:
            how = "Sign in with Hugging Face (the button above)" if hub.on_spaces() else "Paste a token with the Write role in the token field" + (", or set HF_TOKEN before starting the studio" if server_token else "")
            raise HubTokenMissingError(f"No Hugging Face token for this page. {how}. Tokens: https://huggingface.co/settings/tokens")
        return token, hub.check_token(token, allow_environment=False, refresh=refresh)

    def visible_run(run_id: str | None, typed_token: str | None, request, profile, oauth_token) -> Run:
        """The chosen run, if this visitor may publish it (on a shared page: only their own, `ownership`)."""
        return ownership.owned_run(ctx, run_id, request, profile, oauth_token, typed_token=typed_token, missing="Choose a run first (press ↻ Refresh runs if the list is empty).")

    def card_options(run_repo: str | None, license_value, language_value, base_value, dataset_value, description_value, user: hub.HubUser | None, name_value=None, link_value=None) -> CardOptions:
        repo_id = hub.full_repo_id(run_repo, user or hub.PREVIEW_USER) if run_repo and run_repo.strip() else None
        languages = [code.strip() for code in (language_value or "").split(",") if code.strip()]
        return CardOptions(
            repo_id=repo_id,
            license=None if license_value in (None, "", NOT_SPECIFIED) else license_value,
            license_name=(name_value or "").strip() or None,
            license_link=(link_value or "").strip() or None,
            language=languages or None,
            description=(description_value or "").strip() or None,
            base_model=(base_value or "").strip() or None,
            dataset_id=(dataset_value or "").strip() or None,
        )

    @ui_errors
    def hub_account(typed_token: str | None, oauth_token: gr.OAuthToken | None):
        """Who the token belongs to and where it may write (no upload), as the Hub says now."""
        _token, user = session(typed_token, oauth_token, refresh=True)
        where = ", ".join(f"`{n}`" for n in user.namespaces)
        role = {"write": "write", "read": "**read-only** (pushing will fail: create a Write token)", "fineGrained": "fine-grained"}.get(user.role or "", user.role or "signed in")
        return f"Signed in as **{user.name}** · token: {role} · can publish under {where}"

    @ui_errors
    def hub_runs(typed_token: str | None, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """The runs this visitor may publish: completed and training ones (on a shared page, only their own)."""
        who = ownership.visitor(ctx, request, profile, oauth_token, typed_token)
        if shared and not who:
            return gr.update(choices=[], value=None, info="Sign in (or paste your token) to see the runs you started.")
        choices = _choices(ownership.visible_runs(ctx, who))
        return gr.update(choices=choices, value=choices[0][1] if choices else None)

    @ui_errors
    def hub_card_preview(run_id, repo, license_value, language_value, base_value, dataset_value, description_value, typed_token: str | None, as_what: str | None, name_value: str | None = None, link_value: str | None = None, request: gr.Request = None, profile: gr.OAuthProfile | None = None, oauth_token: gr.OAuthToken | None = None):
        """The model card of a completed run exactly as it will be pushed (merged model or LoRA adapter), and its images."""
        run = visible_run(run_id, typed_token, request, profile, oauth_token)
        try:
            _token, user = session(typed_token, oauth_token)
        except HubError:
            user = None  # a preview needs no token: a missing, wrong or unverifiable one only leaves the snippet's namespace 'your-username'
        repo = (repo or "").strip() or hub.default_repo_name(run)
        options = card_options(repo, license_value, language_value, base_value, dataset_value, description_value, user, name_value, link_value)
        options.adapter = as_what == ADAPTER
        bundle = build_card(run, options)
        for warning in (license_warning(options.license), other_license_warning(options)):
            if warning:
                gr.Warning(warning)
        images = [(_png_file(run, path, data), path) for path, data in bundle.images.items()]
        return _gallery_references(bundle.body, bundle.images), images, bundle.text, gr.update(open=True)

    @ui_errors
    def hub_push(run_id, repo, is_private, license_value, language_value, base_value, dataset_value, description_value, typed_token: str | None, as_what: str | None, name_value: str | None = None, link_value: str | None = None, request: gr.Request = None, profile: gr.OAuthProfile | None = None, oauth_token: gr.OAuthToken | None = None, progress=gr.Progress()):
        """Push a completed run now, or a queued/training run as soon as it completes; a LoRA run as merged model or as its adapter."""
        token, user = session(typed_token, oauth_token)
        run = visible_run(run_id, typed_token, request, profile, oauth_token)
        adapter = as_what == ADAPTER
        repo = (repo or "").strip() or None  # None: the run's default repo, which never replaces another run's model
        options = card_options(repo, license_value, language_value, base_value, dataset_value, description_value, user, name_value, link_value)
        if run.state in ACTIVE_STATES:
            pending = hub.PushWhenFinished(run, repo, token=token, private=bool(is_private), card_options=options, allow_environment=False, adapter=adapter).start()
            unless = "" if repo else f" (or to **{user.name}/{hub.own_repo_name(run)}** if another run's model is there by then)"
            return f"⏳ Run {run.id} is {run.state}. It will be pushed to **{pending.repo_id}**{unless} when it completes (keep the studio running); the Runs tab's events will say when."
        steps = iter([0.1, 0.3, 0.5, 0.8, 0.95])
        result = hub.push_run(run, repo, token=token, private=bool(is_private), card_options=options, allow_environment=False, progress=lambda message: progress(next(steps, 0.95), desc=message), adapter=adapter)
        lines = [f"✅ Pushed {'the LoRA adapter of ' if adapter else ''}**{result.repo_id}** ({'private' if result.private else 'public'}): [{result.url}]({result.url}) · [commit]({result.commit_url}) · {len(result.files)} files"]
        lines += [f"⚠️ {w}" for w in result.warnings]
        return "\n\n".join(lines)

    @ui_errors
    @ownership.reads_as_visitor  # a visitor's private model's data report goes to their own cache folder (`hub._pushed_data_report`)
    def hub_deploy_space(run_id, repo, space, typed_token: str | None, replace: bool | None, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """Create or update a Gradio demo Space for the pushed model; returns its link. A Space holding another app is
        refused, saying what it holds, unless `replace` ("Replace what the Space holds"): its files are then deleted."""
        token, user = session(typed_token, oauth_token)
        run = visible_run(run_id, typed_token, request, profile, oauth_token) if run_id else None
        model_repo = (repo or "").strip() or ((hub.hub_record(run).get("model") or {}).get("repo_id") if run else None)
        if not model_repo:
            raise RunError("Push the model first (or type the model repository above), then deploy its demo Space.")
        try:
            result = hub.deploy_demo_space(model_repo, space_name=(space or "").strip() or None, token=token, run=run, allow_environment=False, replace=bool(replace))
        except HubSpaceTakenError as error:  # the core's advice, with this tab's controls (the CLI names its flags)
            raise HubSpaceTakenError(
                f"{error} Another name: the Space name field. Or tick “{REPLACE_SPACE}” beside the Deploy button and deploy again: "
                "all the files the Space holds now (but .gitattributes) are deleted in the commit that adds the demo."
            ) from None
        link = result.app_url or result.url
        lines = [f"✅ Demo Space **{result.space_id}**: [{result.url}]({result.url})" + (f" · app: [{link}]({link})" if result.app_url else "") + " (it takes a few minutes to build)."]
        lines += [f"⚠️ {w}" for w in result.warnings]
        return "\n\n".join(lines)

    card_inputs = [run_choice, repo_name, license_choice, language, base_model, dataset_id, description, token_box, push_as, license_name, license_link]
    account_button.click(hub_account, [token_box], account, api_name="hub_account")
    refresh_button.click(hub_runs, [token_box], run_choice, api_name="hub_runs")
    preview_button.click(hub_card_preview, card_inputs, [card_view, card_images, card_source, preview_box], api_name="hub_card_preview")
    push_button.click(
        hub_push,
        [run_choice, repo_name, private, license_choice, language, base_model, dataset_id, description, token_box, push_as, license_name, license_link],
        push_status,
        api_name="hub_push",
        concurrency_limit=2,
        concurrency_id="hub_upload",
    )
    deployed = deploy_button.click(hub_deploy_space, [run_choice, repo_name, space_name, token_box, replace_space], deploy_status, api_name="hub_deploy_space", concurrency_id="hub_upload")
    # A tick to replace is for the Space it was given for: after a deploy, or once the run, repository or Space name
    # (which pick the Space) change, it is off again, so it never carries over to another Space unnoticed.
    untick = shown_in_browser([replace_space], (False,))
    deployed.success(**untick)
    for field in (run_choice, repo_name, space_name):
        field.change(**untick)  # in the browser: no request per keystroke

    def suggest_repo(run_id, typed_token: str | None, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """The default repository name of the chosen run as the Repository field's placeholder; "Push as" for LoRA runs."""
        try:
            run = ownership.owned_run(ctx, run_id, request, profile, oauth_token, typed_token=typed_token)
            lora = run.config().model.use_lora
            return gr.update(placeholder=f"{hub.default_repo_name(run)}  (or my-org/name)"), gr.update(visible=lora, value=MERGED)
        except Exception:  # noqa: BLE001 - only a hint
            return gr.update(), gr.update(visible=False, value=MERGED)

    run_choice.change(suggest_repo, [run_choice, token_box], [repo_name, push_as], api_visibility="private", show_progress="hidden")
    if getattr(ctx, "demo", None) is not None:  # fill the run list when the page opens
        ctx.demo.load(hub_runs, [token_box], run_choice, api_visibility="private")

    def refresh_hub_runs(current, typed_token: str | None, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """On opening the tab: the runs' states as they are now (a run that was training may have finished), the choice kept."""
        update = hub_runs(typed_token, request, profile, oauth_token)
        ids = [value for _, value in update.get("choices") or []]
        return {**update, "value": current} if current in ids else update

    tab.select(refresh_hub_runs, [run_choice, token_box], run_choice, api_visibility="private", show_progress="hidden")
    ctx.components.update(hub_run=run_choice, hub_repo=repo_name)


def _choices(runs: list[Run]) -> list[tuple[str, str]]:
    """Completed runs (to push now) and training ones (to push when they finish), newest first."""
    return [(_run_label(r), r.id) for r in runs if r.state == COMPLETED or r.state in ACTIVE_STATES]


def _run_label(run: Run) -> str:
    status = run.raw_status()
    record = hub.hub_record(run).get("model") or {}
    pushed = f" · pushed to {record['repo_id']}" if record.get("repo_id") else ""
    return f"{run.id} · {run.state}{pushed}" + (f" · owner {status['owner']}" if status.get("owner") else "")


def _gallery_references(body: str, images: dict[str, bytes]) -> str:
    """The card's images are linked by their path in the repository, which the page cannot show: in the
    preview each becomes its caption and a pointer to the gallery under it."""
    for path in images:
        body = re.sub(r"!\[([^\]]*)\]\(" + re.escape(path) + r"\)", lambda m: f"*{m.group(1)} (`{path}`, in the gallery below)*", body)
    return body


def _png_file(run: Run, path_in_repo: str, data: bytes) -> str:
    """Gallery images need files: write the card's PNGs to a temporary folder outside the runs directory."""
    import hashlib
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.gettempdir()) / "finetuner-card-preview"
    folder.mkdir(exist_ok=True)
    target = folder / f"{run.id}-{hashlib.sha1(data).hexdigest()[:12]}-{Path(path_in_repo).name}"
    if not target.exists():
        target.write_bytes(data)
    return str(target)
