"""The CLI's Hub commands: `push`, `card`, `deploy-space`, `space-upload`, and `train --push_to_hub`.

    python -m finetuner push <run_id> --repo_id my-model [--public] [--adapter]
    python -m finetuner card <run_id> --output_dir card/          # preview the card locally
    python -m finetuner deploy-space <user/model or run_id> [--space_name my-demo] [--replace_space]
    python -m finetuner space-upload --space_name finetuner-studio [--public] [--hardware t4-small]
    python -m finetuner train ... --push_to_hub --hub_model_id my-model

The token comes from HF_TOKEN or the saved login (`hf auth login`), never from a flag: flags end up in
shell history and in `ps`. `cli.py` wires these in with `add_hub_commands` and `HUB_COMMANDS`.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .errors import HubConnectionError, HubError, HubSpaceTakenError, HubTokenMissingError
from .runs import Run, RunStore, find_run

ADAPTER_HELP = (
    "Causal LM trained with LoRA (--use_lora): push the LoRA adapter (adapter_config.json, adapter_model.safetensors, tokenizer) "
    "instead of the merged weights; its card is for peft. The base model must be on the Hub (--base_model when it was a local copy)."
)
HARDWARE_HELP = "Space hardware, e.g. cpu-basic, cpu-upgrade, t4-small, l4x1, a10g-small (paid tiers need billing on the Hub)."


def add_hub_commands(commands, train: argparse.ArgumentParser) -> None:
    """Add the Hub subcommands, and the push-at-the-end options of `train`."""
    group = train.add_argument_group("Push to the Hub when training completes (the token is checked before training starts)")
    group.add_argument("--push_to_hub", nargs="?", const="true", default=None, metavar="BOOL", help="Push the model, its card and metrics when the run completes.")
    group.add_argument("--hub_model_id", help="Repository to push to: 'name' (under your username) or 'org/name'. Default: '<model>-<data>', or '<model>-<data>-<run>' when that holds another run's model.")
    group.add_argument("--hub_private_repo", nargs="?", const="true", default="true", metavar="BOOL", help="Create the repository as private (default: true).")

    push = commands.add_parser("push", help="Push a completed run (model, tokenizer, model card, metrics) to the Hugging Face Hub.")
    push.add_argument("run_id")
    push.add_argument("--repo_id", help="'name' (under your username), 'org/name' or the repo's URL; an existing repo's model is replaced. Default: where the run was pushed before, else '<model>-<data>', or '<model>-<data>-<run>' when that holds another run's model.")
    _card_options(push)
    push.add_argument("--public", action="store_true", help="Make a new repository public (default: private).")
    push.add_argument("--commit_message", help="Default: 'Upload model from finetuner run <run_id>'.")
    push.add_argument("--adapter", action="store_true", help=ADAPTER_HELP)
    _token_flag(push)

    card = commands.add_parser("card", help="Write a completed run's model card (README.md and images) without pushing.")
    card.add_argument("run_id")
    card.add_argument("--repo_id", help="Repository the card will describe (used in the usage snippet).")
    _card_options(card)
    card.add_argument("--output_dir", help="Folder for README.md and images/ (default: print README.md).")
    card.add_argument("--adapter", action="store_true", help="The card of the LoRA adapter push (library_name: peft), not of the merged model.")

    deploy = commands.add_parser("deploy-space", help="Create or update a Gradio demo Space for a pushed model.")
    deploy.add_argument("model", help="The model repository (user/name), or a run id that was pushed.")
    deploy.add_argument("--space_name", help="'name' or 'org/name' of the Space. Default: '<model name>-demo' beside the model (in its organization when your token may write there, else under your username).")
    visibility = deploy.add_mutually_exclusive_group()
    visibility.add_argument("--private", dest="private", action="store_const", const=True, default=None, help="Private Space (default: private exactly when the model is).")
    visibility.add_argument("--public", dest="private", action="store_const", const=False, help="Public Space.")
    deploy.add_argument("--hardware", default="cpu-basic", help=HARDWARE_HELP)
    deploy.add_argument("--replace_space", action="store_true", help="The Space holds something else than a finetuner demo (e.g. the studio, another app): delete its files and put the demo in their place. Without it such a Space is refused.")
    _token_flag(deploy)

    studio = commands.add_parser("space-upload", help="Upload the studio itself as a Gradio Space (with Hugging Face login).")
    studio.add_argument("--space_name", default="finetuner-studio", help="'name' or 'org/name' of the Space (default: finetuner-studio).")
    studio.add_argument("--public", action="store_true", help="Public Space (default: private).")
    studio.add_argument("--hardware", help=HARDWARE_HELP + " Default: the Hub's free CPU.")
    studio.add_argument("--replace_space", action="store_true", help="The Space holds something else than the studio (e.g. a finetuner demo, another app): delete its files and put the studio in their place. Without it such a Space is refused.")
    _token_flag(studio)


def _token_flag(parser: argparse.ArgumentParser) -> None:
    """`--token` is accepted only to be refused with where the token goes, without echoing it (an unknown
    option's error would print the value, into a terminal or CI log)."""
    parser.add_argument("--token", "--hf_token", dest="token_flag", help=argparse.SUPPRESS)


def _refuse_token_flag(args: argparse.Namespace) -> None:
    if getattr(args, "token_flag", None) is not None:
        raise HubTokenMissingError(
            "The token is never taken from a flag: it would stay in your shell history and show in `ps`. "
            "Run `hf auth login` once, or set HF_TOKEN in the environment, then run the command again without --token."
        )


def _card_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--license", help="Hub license id, e.g. apache-2.0 or mit (default: the base model's when known).")
    parser.add_argument("--license_name", help="With --license other: an id for the license, e.g. my-license-1.0.")
    parser.add_argument("--license_link", help="With --license other: where to read the license, a URL (or LICENSE for a file you add to the repo).")
    parser.add_argument("--language", help="Language code(s), comma-separated, e.g. en.")
    parser.add_argument("--description", help="A paragraph shown first on the card.")
    parser.add_argument("--base_model", help="Hub id of the base model, when training started from a local copy.")
    parser.add_argument("--dataset_id", help="Hub dataset id of the training data, when it was a local file.")


def _options(args: argparse.Namespace, repo_id: str | None = None):
    from .card import CardOptions  # noqa: PLC0415

    languages = [c.strip() for c in (args.language or "").split(",") if c.strip()]
    return CardOptions(repo_id=repo_id, license=args.license, license_name=args.license_name, license_link=args.license_link, language=languages or None, description=args.description, base_model=args.base_model, dataset_id=args.dataset_id, adapter=bool(getattr(args, "adapter", False)))


def _truthy(value: str | None) -> bool:
    return str(value).lower() in ("true", "1", "yes")


def plan_push_after_training(args: argparse.Namespace, config) -> Callable[[Run], None] | None:
    """For `train --push_to_hub`: check the token and the namespace now, before any training, and return
    the push to run once the run completes (None when no push was asked for)."""
    from . import hub  # noqa: PLC0415

    if not _truthy(getattr(args, "push_to_hub", None)):
        return None
    try:
        _user, repo_id = hub.check_push_access(args.hub_model_id or hub.default_repo_name(config))
    except HubConnectionError as error:
        raise HubConnectionError(_push_not_checked(error), endpoint=error.endpoint, offline_set=error.offline_set) from None
    private = _truthy(args.hub_private_repo)
    unless = "" if args.hub_model_id else " (or, if another run's model is there by then, to a name of this run's own)"
    print(f"The token can push to {repo_id}; the model will be pushed when training completes{unless}.")
    # Without --hub_model_id the repo is chosen at the push: another run may have taken the default name by then.
    named = repo_id if args.hub_model_id else None

    def push(run: Run) -> None:
        try:
            result = hub.push_run(run, named, private=private, progress=print)
        except HubError as error:
            again = f"python -m finetuner push {run.id}" + (f" --repo_id {named}" if named else "")
            raise type(error)(f"{error} The run {run.id} is saved: push it later with `{again}`.") from None
        _print_push(result)

    return push


def _push_not_checked(error: HubConnectionError) -> str:
    """Why `train --push_to_hub` stops before training when the Hub gives no answer, and the two ways on."""
    later = "push the finished run later with `python -m finetuner push RUN_ID`"
    if error.offline_set:
        return f"HF_HUB_OFFLINE=1 is set, so the Hugging Face Hub is not contacted and the push cannot be checked or done. Unset it, or train without --push_to_hub now and {later}."
    return (
        f"The Hugging Face Hub cannot be reached ({error.endpoint}), so the push cannot be checked or done. Train without --push_to_hub now and {later}, "
        "or start again once the Hub can be reached (check your connection or proxy, HTTPS_PROXY)."
    )


def cmd_push(args: argparse.Namespace, unknown: Sequence[str]) -> int:
    from . import hub  # noqa: PLC0415

    _refuse_token_flag(args)
    run = find_run(args.runs_dir, args.run_id)
    result = hub.push_run(run, args.repo_id, private=not args.public, card_options=_options(args), commit_message=args.commit_message, progress=print, adapter=args.adapter)
    _print_push(result)
    return 0


def _print_push(result) -> None:
    print(f"Pushed {result.repo_id} ({'private' if result.private else 'public'}): {result.url}")
    print(f"Commit: {result.commit_url}")
    for warning in result.warnings:
        print(f"warning: {warning}")


def cmd_card(args: argparse.Namespace, unknown: Sequence[str]) -> int:
    from . import hub  # noqa: PLC0415
    from .card import build_card, license_warning, other_license_warning  # noqa: PLC0415

    run = find_run(args.runs_dir, args.run_id)
    repo_id = hub.full_repo_id(args.repo_id, hub.PREVIEW_USER) if args.repo_id else None  # a preview asks the Hub nothing
    options = _options(args, repo_id)
    bundle = build_card(run, options, images=bool(args.output_dir))
    for warning in (license_warning(options.license), other_license_warning(options)):
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
    if not args.output_dir:
        print(bundle.text)
        return 0
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "README.md").write_text(bundle.text, encoding="utf-8")
    for path, data in bundle.images.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_bytes(data)
    print(f"Wrote {out / 'README.md'}" + (f" and {len(bundle.images)} images" if bundle.images else ""))
    return 0


@contextmanager
def _replace_space_advice() -> Iterator[None]:
    """A Space refused for holding another app: the core's message, with this command's flags to choose with."""
    try:
        yield
    except HubSpaceTakenError as error:
        raise HubSpaceTakenError(f"{error} Another name: --space_name NAME. Or pass --replace_space: its files are deleted in the commit that adds the new app.") from None


def cmd_deploy_space(args: argparse.Namespace, unknown: Sequence[str]) -> int:
    from . import hub  # noqa: PLC0415

    _refuse_token_flag(args)
    run = None
    model = args.model
    store = RunStore(args.runs_dir)
    if "/" not in model and (store.root / model / "config.yaml").is_file():
        run = store.get(model)
        model = (hub.hub_record(run).get("model") or {}).get("repo_id")
        if not model:
            raise HubError(f"Run {run.id} has not been pushed yet: run `python -m finetuner push {run.id}` first.")
    with _replace_space_advice():
        result = hub.deploy_demo_space(model, space_name=args.space_name, private=args.private, hardware=args.hardware, run=run, replace=args.replace_space)
    _print_space(result)
    return 0


def cmd_space_upload(args: argparse.Namespace, unknown: Sequence[str]) -> int:
    from . import hub  # noqa: PLC0415

    _refuse_token_flag(args)
    with _replace_space_advice():
        result = hub.upload_studio_space(args.space_name, private=not args.public, hardware=args.hardware, replace=args.replace_space)
    _print_space(result)
    return 0


def _print_space(result) -> None:
    print(f"Space {result.space_id} ({'private' if result.private else 'public'}): {result.url}")
    if result.app_url:
        print(f"App: {result.app_url} (it takes a few minutes to build)")
    for warning in result.warnings:
        print(f"note: {warning}")


HUB_COMMANDS = {"push": cmd_push, "card": cmd_card, "deploy-space": cmd_deploy_space, "space-upload": cmd_space_upload}
