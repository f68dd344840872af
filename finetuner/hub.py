"""Publishing: push a run to the Hugging Face Hub, deploy a demo Space for it, run the studio as a Space.

Every entry point checks the token first (`whoami`: valid? allowed to write to that namespace?), so a
bad token fails in a second, before any upload and before a training that was asked to push at the
end. Hub failures become typed `HubError`s whose message says the cause and the fix; the studio shows
them, the CLI prints them. Nothing local is changed by a failed push: the run folder is only read, and
on success `hub.json` records where the model went.

Token hygiene, the rules this module keeps:

* a token is passed explicitly to each call and never stored: not in the run folder, events, logs,
  cards, configs or error messages (`_scrub` removes it from any message built from a server answer);
* the server's own token (HF_TOKEN or a saved login) is used only when the caller allows it
  (`allow_environment`): on a shared Space or a share link, each visitor brings their own token;
* the CLI reads the token from the environment or the saved login only, never from a flag (flags
  end up in shell history and `ps`).

Endpoints: `endpoint=None` means `huggingface_hub.constants.ENDPOINT` (HF_ENDPOINT), which is how the
tests point everything at a loopback Hub.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import yaml

from .access import on_spaces, shared_mode
from .card import CONFUSION_IMAGE, CURVE_IMAGE, HUB_RECORD, LICENSE_ID, LICENSES_URL, PLACEHOLDER_EXAMPLES, RUN_METADATA_KEY, CardOptions, adapter_base_model, adapter_dir, build_card, check_options, hub_base_model, hub_license_id, license_warning, other_license_warning, planned_adapter_base, public_config
from .config import RunConfig
from .errors import (
    FinetunerError,
    HubCardError,
    HubConflictError,
    HubConnectionError,
    HubError,
    HubHardwareError,
    HubSpaceTakenError,
    HubNamespaceError,
    HubPaymentRequiredError,
    HubReadOnlyTokenError,
    HubRepoNameError,
    HubRepoNotFoundError,
    HubTokenInvalidError,
    HubTokenMissingError,
    HubUnreachableError,
    RunError,
    without_tokens,
)
from . import inference
from .inference import no_model_message
from .runs import COMPLETED, Run, read_json, write_json_atomic

TOKENS_URL = "https://huggingface.co/settings/tokens"
PRICING_URL = "https://huggingface.co/pricing"
# Files of a saved model that are not pushed: training_args.bin is a pickle of the training arguments
# (not needed to use the model, and not something to make others unpickle).
SKIPPED_MODEL_FILES = {"training_args.bin"}
# Files of a saved adapter folder that are not pushed: peft's own placeholder card (the run's card replaces it).
SKIPPED_ADAPTER_FILES = {"README.md", "training_args.bin"}
# The kinds of files a push writes at the repo's top level (weights, configs, tokenizer, results), besides its
# eval/ folder and card images. A push replaces the earlier upload's files of these kinds that it does not have,
# so a repo never mixes two uploads: an adapter_config.json left beside merged weights makes transformers load
# the base model plus that adapter instead of the weights the card describes. Other files (a README image of
# the user's own, an onnx/ folder) stay.
PUSHED_FILE_PATTERNS = ("*.safetensors", "*.bin", "*.json", "*.model", "vocab.txt", "merges.txt", "chat_template.jinja", "training_config.yaml")
# Keys of tokenizer_config.json that describe how it was loaded here, not the tokenizer itself.
LOCAL_TOKENIZER_KEYS = ("is_local", "local_files_only", "_commit_hash", "cache_dir")
DEFAULT_SPACE_HARDWARE = "cpu-basic"
MAX_REPO_NAME = 96  # the Hub's limit on a repo name (the part after the namespace)
SERVER_TOKEN_VARIABLE = "FINETUNER_ALLOW_SERVER_TOKEN"

TOKEN_HELP = (
    f"Create a token with the 'Write' role at {TOKENS_URL}, then set it as HF_TOKEN (or run `hf auth login`), "
    "paste it in the studio's Hub tab, or use 'Sign in with Hugging Face' on a Space."
)


# ----------------------------------------------------------------------------- identity and tokens


@dataclass(frozen=True)
class HubUser:
    """Who a token belongs to and where it may write (from `whoami`; never holds the token)."""

    name: str
    fullname: str | None = None
    orgs: tuple[str, ...] = ()
    read_only_orgs: tuple[str, ...] = ()
    role: str | None = None  # "write", "read", "fineGrained", or None when the Hub does not say (OAuth)
    writable: tuple[str, ...] | None = None  # fine-grained tokens: namespaces with repo.write; None: all own
    avatar_url: str | None = None

    @property
    def namespaces(self) -> tuple[str, ...]:
        return (self.name, *self.orgs)

    def check_can_write(self, namespace: str) -> None:
        """Raise the error a push to `namespace` would meet, before uploading anything."""
        if namespace not in self.namespaces:
            orgs = f" or your organizations ({', '.join(self.orgs)})" if self.orgs else ""
            raise HubNamespaceError(
                f"You are logged in as '{self.name}', who cannot write to '{namespace}'. "
                f"Use a repository under '{self.name}'{orgs}, or ask an admin of '{namespace}' to add you with write access."
            )
        if self.role == "read":
            raise HubReadOnlyTokenError(
                f"The token of '{self.name}' is read-only: it cannot create or write repositories. {TOKEN_HELP}"
            )
        if namespace in self.read_only_orgs:
            raise HubNamespaceError(
                f"'{self.name}' is a read-only member of the organization '{namespace}'. "
                f"Ask an admin of '{namespace}' for the write role, or push under '{self.name}'."
            )
        if self.writable is not None and namespace not in self.writable:
            raise HubReadOnlyTokenError(
                f"This fine-grained token of '{self.name}' has no write permission on '{namespace}'. "
                f"Edit the token at {TOKENS_URL} to allow 'Write access to contents/settings of all repos' for '{namespace}', or use a 'Write' token."
            )


def session_owner(*, oauth_token: str | None = None, typed_token: str | None = None, endpoint: str | None = None) -> str | None:
    """The Hub username of a studio session (from its login or typed token), to tag and filter runs on a
    shared studio; None when the session has no token. The server's own token never counts."""
    token = pick_token(oauth_token=oauth_token, typed_token=typed_token, allow_environment=False)
    return check_token(token, endpoint=endpoint, allow_environment=False).name if token else None


def server_token_allowed(*, shared: bool) -> bool:
    """May a page visitor's push use the server's own token (HF_TOKEN / saved login)?

    Locally and unshared: yes, it is the user's own machine. On a Space or behind a share link the page
    is reachable by others, so only when the owner says so with FINETUNER_ALLOW_SERVER_TOKEN=1.
    """
    if shared or on_spaces():
        return os.environ.get(SERVER_TOKEN_VARIABLE, "").lower() in ("1", "true", "yes")
    return True


def environment_token() -> str | None:
    """HF_TOKEN, or the token saved by `hf auth login`."""
    from huggingface_hub import get_token  # noqa: PLC0415

    return get_token()


MOCK_OAUTH_TOKEN = "mock-oauth-token-for-local-dev"  # what Gradio's local OAuth mock hands out: useless on the Hub


def pick_token(*, oauth_token: str | None = None, typed_token: str | None = None, allow_environment: bool = True) -> str | None:
    """The token a studio session should use: what it typed first (a deliberate choice for this page), then its
    own login, then (if allowed) the server's."""
    for candidate in (typed_token, oauth_token):
        if candidate and candidate.strip() and candidate.strip() != MOCK_OAUTH_TOKEN:
            return candidate.strip()
    return environment_token() if allow_environment else None


def _require_token(token: str | None, allow_environment: bool) -> str:
    token = (token or "").strip() or (environment_token() if allow_environment else None)
    if not token:
        where = "no HF_TOKEN is set and no saved login was found" if allow_environment else "this page does not use the server's token"
        raise HubTokenMissingError(f"No Hugging Face token: {where}. {TOKEN_HELP}")
    return token


_WHOAMI_CACHE: dict[tuple[str, str], tuple[float, HubUser]] = {}
_WHOAMI_TTL = 300.0  # whoami is strictly rate-limited on the Hub


def check_token(token: str | None = None, *, namespace: str | None = None, endpoint: str | None = None, allow_environment: bool = True, refresh: bool = False) -> HubUser:
    """Who the token belongs to; with `namespace`, also that it may write there. Fast: one cached call.

    A refusal forgets the cached answer: it is what a user fixes (a fine-grained token given write access,
    an org admin adding them) and then retries at once, when the Hub must be asked again. `refresh` asks
    the Hub whatever is cached (the studio's "Check account", pressed to see whether such a fix took)."""
    token = _require_token(token, allow_environment)
    api = _api(endpoint)
    key = (api.endpoint, hashlib.sha256(token.encode()).hexdigest())  # the cache never holds a token
    cached = _WHOAMI_CACHE.get(key)
    if cached and not refresh and time.monotonic() - cached[0] < _WHOAMI_TTL:
        user = cached[1]
    else:
        with _translate("check the token", token=token, endpoint=api.endpoint):
            user = _user_from_whoami(api.whoami(token=token))
        _WHOAMI_CACHE[key] = (time.monotonic(), user)
    if namespace:
        try:
            user.check_can_write(namespace)
        except HubError:
            _WHOAMI_CACHE.pop(key, None)
            raise
    return user


def known_user(token: str, *, endpoint: str | None = None) -> HubUser | None:
    """Who `token` belongs to as `check_token` last heard it (within its TTL), without asking the Hub: for a caller
    that must not wait on a Hub that may not answer (whoami has no time limit)."""
    from huggingface_hub import constants  # noqa: PLC0415

    cached = _WHOAMI_CACHE.get(((endpoint or constants.ENDPOINT).rstrip("/"), hashlib.sha256(token.encode()).hexdigest()))
    return cached[1] if cached and time.monotonic() - cached[0] < _WHOAMI_TTL else None


def _user_from_whoami(info: dict[str, Any]) -> HubUser:
    orgs = info.get("orgs") or []
    auth = info.get("auth") or {}
    access = auth.get("accessToken") or {}
    role = access.get("role")
    writable = None
    if role == "fineGrained":
        scoped = (access.get("fineGrained") or {}).get("scoped") or []
        writable = tuple((entry.get("entity") or {}).get("name") for entry in scoped if "repo.write" in (entry.get("permissions") or []))
    return HubUser(
        name=info.get("name") or "",
        fullname=info.get("fullname"),
        orgs=tuple(o.get("name") for o in orgs if o.get("name")),
        read_only_orgs=tuple(o.get("name") for o in orgs if o.get("roleInOrg") == "read"),
        role=role,
        writable=writable,
        avatar_url=info.get("avatarUrl"),
    )


# A repository's address on the Hub: https://huggingface.co/<ns>/<name> (a Space: /spaces/<ns>/<name>), maybe
# followed by a page of it (/tree/main, /blob/main/README.md, ...); hf.co is the Hub's short domain.
_HUB_URL = re.compile(r"^(?:https?://)?(?:www\.)?(?:huggingface\.co|hf\.co)(?:/(?P<path>[^?#]*))?(?:[?#].*)?$", re.I)


def parse_repo_id(text: str | None, repo_type: str = "model") -> tuple[str | None, str]:
    """(namespace or None, name) from what a user typed or pasted: 'name', 'namespace/name', or the repo's URL.

    A pasted address is common (copied from the browser), so it is read for its repo id; anything else with
    an empty part or more than one '/' ('alice/', '/model', 'a/b/c') is refused with the expected form,
    never guessed at (stripping the '/' of 'alice/' would have meant the repo 'alice/alice')."""
    kind = "Space" if repo_type == "space" else "model"
    address = "https://huggingface.co/" + ("spaces/" if repo_type == "space" else "") + "namespace/name"
    form = f"'name' (created under your username), 'namespace/name' (e.g. 'my-org/my-{kind.lower()}') or the {kind}'s address ({address})"
    text = (text or "").strip()
    if not text:
        raise HubRepoNameError(f"Give the {kind} repository a name, as {form}.")
    url = _HUB_URL.match(text)
    if url:
        parts = [part for part in (url.group("path") or "").split("/") if part]
        section = parts[0] if parts and parts[0] in ("spaces", "datasets") else None
        if section != ("spaces" if repo_type == "space" else None):
            what = {"spaces": "a Space's", "datasets": "a dataset's"}.get(section or "", "a model's")
            raise HubRepoNameError(f"'{text}' is {what} address, not a {kind}'s: give {form}.")
        parts = parts[1:] if section else parts
        if len(parts) < 2:
            raise HubRepoNameError(f"'{text}' is not the address of a {kind} repository: give {form}.")
        return parts[0], parts[1]
    parts = text.split("/")
    if len(parts) > 2 or not all(parts):
        raise HubRepoNameError(f"'{text}' is not a repository id: give {form}.")
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def full_repo_id(name: str | None, user: HubUser, repo_type: str = "model") -> str:
    """'name' -> 'user/name'; 'org/name' and a pasted repo URL give their id; an invalid name raises
    `HubRepoNameError` saying what is allowed."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id  # noqa: PLC0415

    namespace, repo_name = parse_repo_id(name, repo_type)
    repo_id = f"{namespace or user.name}/{repo_name}"
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise HubRepoNameError(
            f"'{repo_id}' is not a valid repository name. Use 'name' or 'namespace/name' with letters, digits, '-', '_' and '.', "
            "not starting or ending with '-' or '.', without '--' or '..', at most 96 characters; e.g. 'distilbert-imdb-sentiment'."
        ) from None
    return repo_id


# Who a card preview is for when no one is known (a preview needs no token): the usage snippet then shows
# 'your-username/name', which says what to put there.
PREVIEW_USER = HubUser(name="your-username")


def default_repo_name(run_or_config: "Run | RunConfig") -> str:
    """A readable default: '<base model>-<dataset>' from a run's config."""
    config = run_or_config.config() if isinstance(run_or_config, Run) else run_or_config
    model = Path(config.model.model_name_or_path.rstrip("/"))
    model_name = model.parent.name if model.name == "model" else model.name
    data = config.data.dataset_name or config.data.train_file or "data"
    data_name = Path(data).stem if config.data.train_file else data.split("/")[-1]
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{model_name}-{data_name}").strip("-").lower()
    return re.sub(r"-{2,}", "-", slug)[:80] or "finetuned-model"


# ----------------------------------------------------------------------------- push a run


@dataclass
class PushResult:
    repo_id: str
    url: str
    commit_url: str
    commit_oid: str
    private: bool
    files: list[str]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_push_access(repo_name: str, *, token: str | None = None, endpoint: str | None = None, allow_environment: bool = True) -> tuple[HubUser, str]:
    """Before training with "push when done": the token is valid and may write to the repo's namespace."""
    user = check_token(token, endpoint=endpoint, allow_environment=allow_environment)
    repo_id = full_repo_id(repo_name, user)
    return check_token(token, namespace=repo_id.split("/")[0], endpoint=endpoint, allow_environment=allow_environment), repo_id


def default_repo_id(run: Run, user: HubUser, *, api, token: str) -> tuple[str, str | None]:
    """Where a push without a repository name goes, and a note for the user when that is not the plain default.

    A run pushed before goes where it went: pushing it again updates its repo. Otherwise '<model>-<data>'
    under the user's name, unless that repo already holds another upload (a run with the same base model
    and data file has the same default name): then the run gets a name of its own (`own_repo_name`), so
    a default never replaces another run's model. A name the user gives is always honoured."""
    recorded = (hub_record(run).get("model") or {}).get("repo_id")
    if recorded:
        return recorded, None
    repo_id = full_repo_id(default_repo_name(run), user)
    holder = _run_in_repo(api, repo_id, token)
    if holder is None or holder == run.id:
        return repo_id, None
    own = full_repo_id(own_repo_name(run), user)
    held = f"the model of run {holder}" if holder else "another upload (its card names no finetuner run)"
    return own, f"{repo_id} already holds {held}, so this run was pushed to {own} instead of replacing it. To replace that model, push with the repository name {repo_id}."


def own_repo_name(run: Run) -> str:
    """'<model>-<data>-<run time and tag>': the default name made this run's own (at most the Hub's 96 characters)."""
    suffix = re.sub(r"^(\d{8}-\d{6})-.+-([0-9a-f]{4})$", r"\1-\2", run.id)  # new_run_id's parts that tell runs apart
    suffix = re.sub(r"[^A-Za-z0-9]+", "-", suffix).strip("-")[-40:].strip("-")
    return f"{default_repo_name(run)[: MAX_REPO_NAME - len(suffix) - 1].rstrip('-.')}-{suffix}"


def _run_in_repo(api, repo_id: str, token: str) -> str | None:
    """The run whose model `repo_id` holds (its card's RUN_METADATA_KEY), '' for a model of unknown origin
    (an upload of the user's own, or a push from before cards named their run), None when the repo does not
    exist or holds nothing a push would replace."""
    from huggingface_hub.errors import RepositoryNotFoundError  # noqa: PLC0415

    with _translate("look for the default repository", token=token, repo_id=repo_id, endpoint=api.endpoint):
        try:
            info = api.model_info(repo_id, token=token)
        except RepositoryNotFoundError:
            return None
    files = [sibling.rfilename for sibling in info.siblings or []]
    if "README.md" not in files and not _stale_files(files, []):
        return None
    return str((info.card_data or {}).get(RUN_METADATA_KEY) or "")


def push_run(
    run: Run,
    repo_name: str | None,
    *,
    token: str | None = None,
    private: bool = True,
    card_options: CardOptions | None = None,
    commit_message: str | None = None,
    endpoint: str | None = None,
    allow_environment: bool = True,
    progress: Callable[[str], None] | None = None,
    adapter: bool = False,
) -> PushResult:
    """Push a completed run's model, tokenizer, card, plots, training config and metrics to a model repo.

    `repo_name` None: the run's default repo (`default_repo_id`), which never replaces another run's model.
    The repo is created if needed (private unless `private=False`; an existing repo keeps its visibility,
    and a warning says so). One commit, whose message names the run, which also deletes what an earlier
    push left that this one does not replace (`PUSHED_FILE_PATTERNS`). Returns where it went.

    `adapter=True` (a causal-LM run trained with LoRA) pushes its LoRA adapters (`adapter/`:
    adapter_config.json, adapter_model.safetensors, tokenizer) instead of the merged weights, with a card
    for peft (`library_name: peft`, `base_model`); the base model must be a Hub id (`card_options.base_model`
    when training started from a local copy).
    """
    say = progress or (lambda message: None)
    if run.state != COMPLETED or not run.model_dir.is_dir():
        raise RunError(no_model_message(run))
    adapter_base = adapter_base_model(run, card_options) if adapter else None  # before the token check: a run without an adapter fails at once
    say("Checking the token.")
    user = check_token(token, endpoint=endpoint, allow_environment=allow_environment)
    token = _require_token(token, allow_environment)
    api = _api(endpoint)
    repo_id, note = (full_repo_id(repo_name, user), None) if repo_name else default_repo_id(run, user, api=api, token=token)
    user = check_token(token, namespace=repo_id.split("/")[0], endpoint=endpoint, allow_environment=False)
    from huggingface_hub import CommitOperationDelete  # noqa: PLC0415

    say("Writing the model card.")
    options = CardOptions(**{**asdict(card_options or CardOptions()), "repo_id": repo_id, "adapter": adapter})
    check_options(options)  # a base model that is no Hub id is refused as such, before the Hub is asked for its license
    license_note = None
    if not options.license:  # the user's own license is checked as given; the base model's is made a Hub id, or left out
        options.license, license_note = _base_model_license(api, options.base_model or hub_base_model(run.config().model.model_name_or_path), token)
    bundle = build_card(run, options)
    operations, files = _run_operations(run, bundle, adapter_base=adapter_base)
    warnings = [w for w in (note, license_note, other_license_warning(options)) if w]
    with _translate("push the model", token=token, repo_id=repo_id, endpoint=api.endpoint, user=user):
        check_card_with_hub(api, bundle.text, token=token, license_=options.license)
        say(f"Creating {repo_id}.")
        api.create_repo(repo_id, private=private, exist_ok=True, token=token)
        info = api.model_info(repo_id, token=token)
        warnings += _visibility_warning(repo_id, bool(info.private), private, settings=f"{_repo_url(api.endpoint, repo_id)}/settings")
        stale = _stale_files(api.list_repo_files(repo_id, token=token), files)
        if stale:
            warnings.append(f"{repo_id} held an earlier upload: its files that this push does not replace were deleted, so the repo holds one model ({_listed(stale)}).")
        say(f"Uploading {len(files)} files.")
        commit = api.create_commit(
            repo_id,
            [*operations, *(CommitOperationDelete(path_in_repo=path) for path in stale)],
            commit_message=commit_message or f"Upload {'LoRA adapter' if adapter else 'model'} from finetuner run {run.id}",
            commit_description=_commit_description(run),
            token=token,
        )
    url = _repo_url(api.endpoint, repo_id)
    if commit.oid == info.sha:  # huggingface_hub skips a commit that would change nothing and answers the repo's last one
        warnings.append(f"{repo_id} already held exactly these files (commit {commit.oid[:7]}): nothing was uploaded and no commit was made.")
    result = PushResult(repo_id=repo_id, url=url, commit_url=commit.commit_url, commit_oid=commit.oid, private=bool(info.private), files=files, warnings=warnings)
    _record(run, "model", {"repo_id": repo_id, "url": url, "commit_url": commit.commit_url, "commit": commit.oid, "private": result.private, "pushed_at": time.time(), "pushed_by": user.name, "adapter": adapter})
    run.append_event("push", repo_id=repo_id, url=url, commit=commit.oid, adapter=adapter)
    say(f"Pushed to {url}.")
    return result


def _base_model_license(api, base_model: str | None, token: str) -> tuple[str | None, str | None]:
    """The license of the base model on the Hub, which binds its fine-tune: the card's license when the user gives
    none (as the Trainer's own card does), and a note for the push's warnings. None when there is none to take: a
    local base, no license, a custom one ('other' needs its name and link, which the user gives), or a base the Hub
    does not show this token. Old cards hold values the Hub refuses today ('Apache 2.0', 'MIT License'): one that is
    a Hub id written otherwise is given as that id, and one the Hub would refuse is left out, saying so, rather than
    refusing a push for a value the user never typed."""
    from huggingface_hub.errors import HfHubHTTPError  # noqa: PLC0415

    if not base_model:
        return None, None
    with _translate("read the base model's license", token=token, repo_id=base_model, endpoint=api.endpoint):
        try:
            info = api.model_info(base_model, token=token)
        except HfHubHTTPError:
            return None, None
    license_ = (info.card_data or {}).get("license") or next((tag.split(":", 1)[1] for tag in info.tags or [] if tag.startswith("license:")), None)
    if not isinstance(license_, str) or not license_.strip():
        return None, None
    license_ = license_.strip()
    hub_id = hub_license_id(license_)
    if hub_id == "other":  # its name and link are the base model's terms, not the user's choice for the fine-tune: said, not copied
        data = info.card_data or {}
        named = ", ".join(f"{key} {data[key]}" for key in ("license_name", "license_link") if isinstance(data.get(key), str))
        return None, (
            f"The base model {base_model} has a license that is not on the Hub's list ('other'{': ' + named if named else ''}), so the card names no license. "
            "Give it with --license other --license_name NAME --license_link URL (on the Hub tab: License 'other', License name, License link), and push again."
        )
    if hub_id:
        return hub_id, None if hub_id == license_ else f"The base model {base_model} gives its license as '{license_}': the card names it by its Hub id, {hub_id}."
    if LICENSE_ID.match(license_):  # an id finetuner does not know: the Hub may have added it since; it says
        try:
            with _translate("check the base model's license", token=token, endpoint=api.endpoint):
                check_card_with_hub(api, f"---\nlicense: {json.dumps(license_)}\n---\n", token=token)
            return license_, None
        except HubCardError:
            pass
    return None, (
        f"The base model {base_model} gives its license as '{license_}', which is not a Hub license id, so the card names no license. "
        f"Give the license with --license (on the Hub tab: License), as one of the ids at {LICENSES_URL} (e.g. apache-2.0, mit), or 'other', and push again."
    )


def _run_operations(run: Run, bundle, *, adapter_base: str | None = None) -> tuple[list, list[str]]:
    """What a pushed run holds: model + tokenizer files, README.md with images, training config and metrics.
    With `adapter_base` (the adapter's Hub base model): the adapter folder's files instead of the model's."""
    from huggingface_hub import CommitOperationAdd  # noqa: PLC0415

    operations: list = []

    def add(path_in_repo: str, content: bytes | Path) -> None:
        source = str(content) if isinstance(content, Path) else content
        operations.append(CommitOperationAdd(path_in_repo=path_in_repo, path_or_fileobj=source))

    folder = adapter_dir(run) if adapter_base else run.model_dir
    skipped = SKIPPED_ADAPTER_FILES if adapter_base else SKIPPED_MODEL_FILES
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name in skipped or path.name.startswith("."):
            continue
        if path.name == "tokenizer_config.json":
            add(path.name, _clean_tokenizer_config(path))
        elif path.name == "adapter_config.json":
            add(path.name, _hub_adapter_config(path, adapter_base))
        else:
            add(path.name, path)
    add("README.md", bundle.text.encode("utf-8"))
    for path_in_repo, png in bundle.images.items():
        add(path_in_repo, png)
    config = run.config()
    add("training_config.yaml", yaml.safe_dump(public_config(config), sort_keys=False).encode("utf-8"))
    results: dict[str, Any] = {}
    for name in ("train_results", "eval_results", "test_results"):
        values = read_json(run.eval_dir / f"{name}.json", None)
        if values:
            results.update(values)
            add(f"{name}.json", json.dumps(values, indent=2).encode("utf-8"))
    if results:
        add("all_results.json", json.dumps(results, indent=2).encode("utf-8"))
    for path in sorted(run.eval_dir.glob("report_*.json")) + [run.eval_dir / "baselines.json", run.path / "data_report.json", run.path / "token_stats.json"]:
        if path.is_file():
            add(f"eval/{path.name}", path)
    return operations, [op.path_in_repo for op in operations]


def _stale_files(existing: list[str], pushed: list[str]) -> list[str]:
    """The repo's files from an earlier push that this push does not overwrite (see PUSHED_FILE_PATTERNS)."""
    def written_by_a_push(path: str) -> bool:
        if path.startswith("eval/") or path in (CURVE_IMAGE, CONFUSION_IMAGE):
            return True
        return "/" not in path and any(fnmatch.fnmatch(path, pattern) for pattern in PUSHED_FILE_PATTERNS)

    return sorted(path for path in set(existing) - set(pushed) if written_by_a_push(path))


def _clean_tokenizer_config(path: Path) -> bytes:
    """tokenizer_config.json without the keys that say how it was loaded on this machine
    (a pushed `local_files_only: true` would follow the model to every user's machine)."""
    values = json.loads(path.read_text(encoding="utf-8"))
    for key in LOCAL_TOKENIZER_KEYS:
        values.pop(key, None)
    return (json.dumps(values, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _hub_adapter_config(path: Path, base_model: str) -> bytes:
    """adapter_config.json naming the base model by its Hub id (peft loads the base from there), never a
    folder of this machine."""
    values = json.loads(path.read_text(encoding="utf-8"))
    values["base_model_name_or_path"] = base_model
    return (json.dumps(values, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _commit_description(run: Run) -> str:
    metrics = run.status().get("metrics") or {}
    shown = ", ".join(f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, float))
    return f"Trained with finetuner (run {run.id})." + (f" {shown}." if shown else "")


def hub_record(run: Run) -> dict[str, Any]:
    """Where a run was pushed (`{"model": {...}, "space": {...}}`), from its `hub.json`; {} if never."""
    return read_json(run.path / HUB_RECORD, {}) or {}


def _record(run: Run, kind: str, values: dict[str, Any]) -> None:
    write_json_atomic(run.path / HUB_RECORD, {**hub_record(run), kind: values})


class PushWhenFinished:
    """Push a run once its training process ends (if it completed): the studio's "push when done".

    Checks the token before returning, so a bad token fails before training starts. The token lives
    only in this object's memory (this thread), never on disk. The outcome is written to the run's
    events ('push' or 'push_failed' with the message) and `hub.json`.
    """

    def __init__(self, run: Run, repo_name: str | None, *, token: str | None = None, private: bool = True, card_options: CardOptions | None = None, endpoint: str | None = None, allow_environment: bool = True, timeout: float | None = None, adapter: bool = False):
        check_options(card_options or CardOptions())  # refused before training, not after it
        if adapter:
            planned_adapter_base(run.config(), run.id, card_options)
        # Without a name the repo is chosen when the push happens: another run may have pushed to the default by then.
        planned = repo_name or (hub_record(run).get("model") or {}).get("repo_id") or default_repo_name(run)
        self.user, self.repo_id = check_push_access(planned, token=token, endpoint=endpoint, allow_environment=allow_environment)
        self.repo_name = repo_name
        self.adapter = adapter
        self._token = _require_token(token, allow_environment)
        license_ = (card_options or CardOptions()).license
        if license_:  # the Hub's verdict on it now, not after the training
            api = _api(endpoint)
            with _translate("check the card's license", token=self._token, endpoint=api.endpoint):
                check_card_with_hub(api, f"---\nlicense: {json.dumps(license_)}\n---\n", token=self._token, license_=license_)
        self.run, self.private, self.card_options, self.endpoint, self.timeout = run, private, card_options, endpoint, timeout
        self.result: PushResult | None = None
        self.error: str | None = None
        self.thread = threading.Thread(target=self._wait_and_push, name=f"push-{run.id}", daemon=True)

    def start(self) -> "PushWhenFinished":
        self.thread.start()
        return self

    def _wait_and_push(self) -> None:
        from .launcher import wait_for_end  # noqa: PLC0415

        try:
            if not wait_for_end(self.run, self.timeout):
                return
            if self.run.state != COMPLETED:
                self.run.append_event("message", text=f"Not pushed to {self.repo_id}: the run {self.run.state}.")
                return
            self.result = push_run(self.run, self.repo_name, token=self._token, private=self.private, card_options=self.card_options, endpoint=self.endpoint, allow_environment=False, adapter=self.adapter)
        except FinetunerError as error:
            self.error = str(error)
            self.run.append_event("push_failed", repo_id=self.repo_id, error=self.error)
        except Exception as error:  # noqa: BLE001 - in this thread an unrecorded error is a push that silently never happens
            self.error = _scrub(f"Unexpected error while pushing ({type(error).__name__}: {error}). The run is saved: push it again from the Hub tab.", self._token)
            self.run.append_event("push_failed", repo_id=self.repo_id, error=self.error)
        finally:
            self._token = None  # forget it as soon as it is not needed


# ----------------------------------------------------------------------------- demo Space


@dataclass
class SpaceResult:
    space_id: str
    url: str
    app_url: str | None
    commit_url: str
    private: bool
    files: list[str]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DEMO_TEMPLATE = Path(__file__).parent / "space_app" / "demo_app.py"


DEMO_PIPELINES = ("text-classification", "token-classification", "text-generation", "summarization", "text2text-generation")


def render_demo_app(model_id: str, *, title: str, examples: list[str], pairs: bool = False, pipeline_tag: str = "text-classification", languages: dict[str, str] | None = None) -> str:
    """The demo Space's app.py: the template with the model id, title, examples, pipeline and (a multilingual seq2seq
    model's) languages filled in."""
    if pipeline_tag not in DEMO_PIPELINES:
        raise HubError(f"No demo app for '{pipeline_tag}' models yet; the demo supports: {', '.join(DEMO_PIPELINES)}.")
    text = DEMO_TEMPLATE.read_text(encoding="utf-8")
    values = {"MODEL_ID": model_id, "TITLE": title, "EXAMPLES": list(examples), "PAIRS": pairs, "PIPELINE": pipeline_tag, "LANGUAGES": dict(languages or {})}
    for name, value in values.items():
        text, count = re.subn(rf"^{name}( *: *[^=]+)? = .*$", lambda m, n=name, v=value: f"{n}{m.group(1) or ''} = {v!r}", text, count=1, flags=re.M)
        if count != 1:
            raise RuntimeError(f"The demo template lost its {name} line.")
    return text


def demo_space_files(model_id: str, *, title: str | None = None, examples: list[str] | None = None, pairs: bool = False, pipeline_tag: str = "text-classification", hardware: str = DEFAULT_SPACE_HARDWARE, peft: bool = False, languages: dict[str, str] | None = None) -> dict[str, bytes]:
    """app.py, requirements.txt and README.md (Space metadata) of a demo Space for a model repo."""
    import gradio  # noqa: PLC0415 - only for its version

    name = model_id.split("/")[-1]
    title = title or f"{name} demo"
    readme_meta = {
        "title": title[:60],
        "emoji": "🏷️",
        "colorFrom": "indigo",
        "colorTo": "blue",
        "sdk": "gradio",
        "sdk_version": gradio.__version__,
        "python_version": _python_version(),
        "app_file": "app.py",
        "suggested_hardware": hardware,
        "pinned": False,
        "models": [model_id],
        "tags": ["finetuner", pipeline_tag],
        "short_description": f"Try {name} ({pipeline_tag})"[:60],
    }
    readme = (
        "---\n" + yaml.safe_dump(readme_meta, sort_keys=False, allow_unicode=True) + "---\n\n"
        f"# {title}\n\nTry [{model_id}](https://huggingface.co/{model_id}): type a text and see what the model makes of it.\n\n"
        "This Space was created by finetuner. If the model is private, add a read token as the secret `HF_TOKEN` in this Space's settings.\n"
    )
    # An adapter repo (library_name: peft): transformers' pipeline loads its base model and the adapters with peft.
    requirements = "\n".join(f"{dist}=={_installed_version(dist)}" for dist in ("transformers", "torch", *(["peft"] if peft else []))) + "\n"
    return {
        "app.py": render_demo_app(model_id, title=title, examples=examples or [], pairs=pairs, pipeline_tag=pipeline_tag, languages=languages).encode("utf-8"),
        "requirements.txt": requirements.encode("utf-8"),
        "README.md": readme.encode("utf-8"),
    }


def deploy_demo_space(
    model_repo_id: str,
    *,
    space_name: str | None = None,
    token: str | None = None,
    private: bool | None = None,
    hardware: str = DEFAULT_SPACE_HARDWARE,
    run: Run | None = None,
    endpoint: str | None = None,
    allow_environment: bool = True,
    replace: bool = False,
) -> SpaceResult:
    """Create (or update) a Gradio Space with a small inference app for a pushed model; returns its URL.

    A Space that holds something else than a finetuner demo (the studio, another app) is refused before anything
    is uploaded, unless `replace`: then its files are deleted in the commit that adds the demo (`_space_to_fill`).

    Without `space_name` the Space is '<model name>-demo' beside the model, or under the user's own name
    when the token cannot write to the model's namespace (a warning says so; `default_space_id`).
    `private=None` makes the Space private exactly when the model is. On a free account the Hub may
    refuse to create a Gradio Space (402): the error says so and what to do. `run` (its task, example
    texts, and where the Space is recorded) counts only if it is the run last pushed to the model repo.
    """
    user = check_token(token, endpoint=endpoint, allow_environment=allow_environment)
    token = _require_token(token, allow_environment)
    model_id = full_repo_id(model_repo_id, user)
    space_id, where = (full_repo_id(space_name, user, "space"), None) if space_name else default_space_id(model_id, user)
    user = check_token(token, namespace=space_id.split("/")[0], endpoint=endpoint, allow_environment=False)
    api = _api(endpoint)
    check_hardware(api, hardware, token=token)
    with _translate("read the model", token=token, repo_id=model_id, endpoint=api.endpoint, user=user, missing_hint="Push the model first, then deploy its demo."):
        model = api.model_info(model_id, token=token)
    if run is not None and (hub_record(run).get("model") or {}).get("repo_id") != model_id:
        run = None  # not the run last pushed there: its task, texts and record would not fit this model
    examples: list[str] | None = None
    pairs = False
    languages: dict[str, str] = {}
    pipeline_tag = getattr(model, "pipeline_tag", None) or "text-classification"
    if run is not None:
        from .tasks import TASKS  # noqa: PLC0415

        data_report = read_json(run.path / "data_report.json", {}) or {}
        pairs = len(data_report.get("text_columns") or []) == 2
        trained = run.config().model
        languages = {name: value for name, value in (("src_lang", trained.source_lang), ("tgt_lang", trained.target_lang)) if value}
        info = TASKS.get(trained.task)
        pipeline_tag = info.pipeline_tag if info else pipeline_tag
    else:
        pairs = len(_pushed_data_report(api, model, token).get("text_columns") or []) == 2
    if not examples and run is not None:
        try:
            examples = build_card(run, CardOptions(repo_id=model_id), images=False).example_texts
        except FinetunerError:
            examples = None
    why = "as asked" if private is not None else "like the model"
    private = bool(model.private) if private is None else private
    placeholders = set(PLACEHOLDER_EXAMPLES.values())
    peft = getattr(model, "library_name", None) == "peft"
    files = demo_space_files(model_id, examples=[e for e in (examples or []) if e not in placeholders], pairs=pairs, pipeline_tag=pipeline_tag, hardware=hardware, peft=peft, languages=languages)
    warnings = [where] if where else []
    if model.private:
        warnings.append(f"{model_id} is private: the Space can only load it with a token. Add a read token as the secret HF_TOKEN in the Space settings ({_repo_url(api.endpoint, space_id, 'space')}/settings), or make the model public.")
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete  # noqa: PLC0415

    with _translate("create the demo Space", token=token, repo_id=space_id, endpoint=api.endpoint, user=user, repo_type="space"):
        existing = _space_info(api, space_id, token)
        stale = _space_to_fill(existing, space_id, DEMO_SPACE, files, replace=replace, warnings=warnings)
        api.create_repo(space_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True, token=token)
        if existing is not None:  # creating it again changed nothing, its visibility included
            warnings += _visibility_warning(f"The Space {space_id}", bool(existing.private), private, why=why, settings=f"{_repo_url(api.endpoint, space_id, 'space')}/settings")
            private = bool(existing.private)
        commit = api.create_commit(
            space_id,
            [*(CommitOperationAdd(path_in_repo=p, path_or_fileobj=data) for p, data in files.items()), *(CommitOperationDelete(path_in_repo=p) for p in stale)],
            commit_message=f"Demo of {model_id} (finetuner)",
            repo_type="space",
            token=token,
        )
    if hardware != DEFAULT_SPACE_HARDWARE:
        _request_hardware(api, space_id, hardware, token=token, user=user)
    result = SpaceResult(space_id=space_id, url=_repo_url(api.endpoint, space_id, "space"), app_url=_app_url(api.endpoint, space_id), commit_url=commit.commit_url, private=private, files=sorted(files), warnings=warnings)
    if run is not None:
        _record(run, "space", {"space_id": space_id, "url": result.url, "app_url": result.app_url, "commit": commit.oid, "deployed_at": time.time()})
        run.append_event("space", space_id=space_id, url=result.url)
    return result


def _pushed_data_report(api, model, token: str) -> dict[str, Any]:
    """The data report a push put in the model repo (eval/data_report.json), {} when it has none: a Space deployed
    by the model's repo id, with no run at hand, learns from it whether the model reads sentence pairs. A studio
    visitor's private model's report goes to their own cache folder (`hub_reads.models_cache`), as its weights do,
    never to the shared cache, from which another visitor (or anyone offline) could read it."""
    from .hub_reads import models_cache  # noqa: PLC0415

    path_in_repo = "eval/data_report.json"  # where _run_operations puts the run's data_report.json
    if path_in_repo not in {sibling.rfilename for sibling in model.siblings or []}:
        return {}
    with _translate("read the model's data report", token=token, repo_id=model.id, endpoint=api.endpoint):
        return read_json(Path(api.hf_hub_download(model.id, path_in_repo, revision=model.sha, token=token, cache_dir=models_cache(model.id, token))), {}) or {}


def default_space_id(model_id: str, user: HubUser) -> tuple[str, str | None]:
    """The demo Space's default id: '<model name>-demo' beside the model (an org's model gets the org's
    Space) when the token may write there, else under the user's own name, with a note saying so and why.
    The name is cut to keep the Hub's 96 characters: a 96-character model name still gets a valid Space."""
    namespace, name = model_id.split("/")
    name = name[: MAX_REPO_NAME - len("-demo")].rstrip("-.") + "-demo"
    try:
        user.check_can_write(namespace)
        return f"{namespace}/{name}", None
    except HubError:
        return f"{user.name}/{name}", (
            f"The Space is under your account, '{user.name}/{name}': this token cannot write to '{namespace}', the model's namespace. "
            f"Name the Space '{namespace}/...' once you may write there."
        )


def check_card_with_hub(api, card_text: str, *, token: str | None, license_: str | None = None) -> None:
    """Ask the Hub whether it takes the card's metadata (its validate-yaml, the check it runs on a commit), so that
    a card it refuses (a license id it does not know, ...) is refused before a repo is created, as only the Hub
    knows its current license ids. `license_`: the card's, for the close ids when the Hub refuses it."""
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status  # noqa: PLC0415

    response = get_session().post(
        f"{api.endpoint}/api/validate-yaml", json={"repoType": "model", "content": card_text}, headers=build_hf_headers(token=token, library_name="finetuner"),
    )
    if response.status_code == 400:
        try:  # {"errors": [{"message": ...}], "warnings": [...]}, as HfApi's own validate-yaml call reads it
            errors = response.json().get("errors") or []
            reasons = "; ".join(str(error.get("message", "") if isinstance(error, dict) else error) for error in errors)
        except (ValueError, AttributeError):  # not JSON, or JSON of another shape: the text as it came
            reasons = ""
        reasons = "; ".join(line.strip() for line in (reasons or response.text).splitlines() if line.strip()) or "no reason given"
        # the close ids only where the Hub's reason is the license: an id it took may be newer than finetuner's list
        hint = license_warning(license_) if "license" in reasons.lower() else None
        raise HubCardError(_scrub(f"The Hub refused the model card's metadata: {reasons}. Nothing was created or uploaded." + (f" {hint}" if hint else ""), token))
    hf_raise_for_status(response)


def check_hardware(api, hardware: str | None, *, token: str) -> None:
    """Refuse a Space hardware name the Hub does not offer before anything is created or uploaded: the Hub would
    refuse it only after the Space existed (its README's `suggested_hardware`, or the hardware request). The Hub
    says which it offers now (it adds flavors; a list kept here would refuse a new one)."""
    if hardware is None:
        return
    with _translate("list the Space hardware", token=token, endpoint=api.endpoint):
        known = [h.name for h in api.list_spaces_hardware(token=token)]
    if hardware not in known:
        raise HubHardwareError(f"'{hardware}' is not Space hardware the Hub offers. Use one of: {', '.join(known)} ('{DEFAULT_SPACE_HARDWARE}' is free).")


def _visibility_warning(repo: str, is_private: bool, wanted: bool, *, why: str = "as asked", settings: str) -> list[str]:
    """Creating a repo or Space that exists (`exist_ok`) leaves its visibility as it was: where that differs from
    the one wanted (`why`: as asked, or like the model), a warning that says so and where to change it."""
    if is_private == wanted:
        return []
    now, other = ("private", "public") if is_private else ("public", "private")
    return [f"{repo} already existed and is {now}: it stays {now}, not {other} {why}. Change its visibility in its settings ({settings}) if needed."]


def _listed(paths: list[str], limit: int = 8) -> str:
    """Paths named in a message: the first `limit`, and how many more."""
    return ", ".join(paths[:limit]) + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def _space_info(api, space_id: str, token: str):
    """The Space's info, or None where there is no such Space."""
    from huggingface_hub.errors import RepositoryNotFoundError  # noqa: PLC0415

    try:
        return api.space_info(space_id, token=token)
    except RepositoryNotFoundError:
        return None


DEMO_SPACE, STUDIO_SPACE = "demo", "studio"
_SPACE_APPS = {DEMO_SPACE: "the demo", STUDIO_SPACE: "the finetuner studio"}


def _space_to_fill(info, space_id: str, want: str, files: Iterable[str], *, replace: bool, warnings: list[str]) -> list[str]:
    """Check that the Space (`info`, None where there is none) may take `want` (DEMO_SPACE or STUDIO_SPACE), before
    anything is created or uploaded; returns the files to delete in the same commit. A Space that does not exist, holds only what the Hub creates
    with it (.gitattributes, README.md), or holds `want` already (an update) is fine, and nothing is deleted. One
    that holds something else (the studio, a finetuner demo, another app) is refused (`HubSpaceTakenError`): adding
    app.py and README.md over another app's files would leave a Space that is neither. With `replace`, all its
    files but .gitattributes are deleted, except those uploaded again, and a warning says which.

    Recognised by what finetuner uploads: the studio by its package (`finetuner/hub.py`, `studio_space_files`), a
    demo by its app.py and the `finetuner` tag of its README (`demo_space_files`), with no package."""
    if info is None:
        return []
    held = {sibling.rfilename for sibling in info.siblings or []}
    if not held - {".gitattributes", "README.md"}:
        return []
    card = info.card_data.to_dict() if info.card_data is not None else {}
    tags = set(info.tags or []) | set(card.get("tags") or [])
    if "finetuner/hub.py" in held:
        kind, what = STUDIO_SPACE, "the finetuner studio (uploaded by `space-upload`)"
    elif "app.py" in held and "finetuner" in tags:
        models = card.get("models") or []
        kind, what = DEMO_SPACE, "a finetuner demo" + (f" of {models[0]}" if models else "")
    else:
        kind, what = None, f"another app ({len(held)} files: {_listed(sorted(held), 5)})"
    if kind == want:
        return []
    if not replace:
        raise HubSpaceTakenError(
            f"The Space {space_id} already holds {what}. Putting {_SPACE_APPS[want]} there would replace its app.py and README.md "
            f"and leave its other files, a Space that works as neither; nothing was uploaded. Choose another Space name, "
            "or delete that Space on the Hub first."
        )
    stale = sorted(held - set(files) - {".gitattributes"})
    if stale:
        warnings.append(f"The Space {space_id} held {what}: its files were replaced by {_SPACE_APPS[want]}, and those not uploaded again were deleted ({_listed(stale)}).")
    return stale


def _request_hardware(api, space_id: str, hardware: str, *, token: str, user: HubUser) -> None:
    """Run the Space on `hardware`, whether it was just created or existed (creating a repo with
    `space_hardware` does nothing to an existing Space, and `suggested_hardware` in its README assigns nothing)."""
    with _translate(f"run the Space on '{hardware}' hardware", token=token, repo_id=space_id, endpoint=api.endpoint, user=user, repo_type="space"):
        api.request_space_hardware(space_id, hardware, token=token)


# ----------------------------------------------------------------------------- the studio as a Space


SOURCE_ROOT = Path(__file__).resolve().parent.parent
SPACES_CONFIG = SOURCE_ROOT / "spaces_config"


def studio_space_files(root: Path = SOURCE_ROOT) -> dict[str, Path | bytes]:
    """What a Space of the studio needs: app.py, the finetuner package, spaces_config's README.md (Space
    metadata: sdk, hf_oauth, ...) and a requirements.txt, all at the Space's root.

    requirements.txt is the project's pins (../requirements.txt, so they never drift apart) with the
    Space's own lines from spaces_config/requirements.txt (e.g. `gradio[oauth]`) taking precedence.
    """
    app = root / "app.py"
    config = root / "spaces_config"
    missing = [p for p in (app, config / "README.md", config / "requirements.txt", root / "requirements.txt") if not p.is_file()]
    if missing:
        raise HubError(f"Cannot build the studio Space: {', '.join(str(p.relative_to(root)) for p in missing)} missing. Run from a finetuner source checkout.")
    files: dict[str, Path | bytes] = {"app.py": app, "README.md": config / "README.md", "requirements.txt": space_requirements(root)}
    for extra in sorted(config.iterdir()):
        if extra.is_file() and extra.name not in ("README.md", "requirements.txt") and not extra.name.startswith("."):
            files[extra.name] = extra  # packages.txt, pre-requirements.txt, ...
    for path in sorted((root / "finetuner").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
            files[path.relative_to(root).as_posix()] = path
    return files


def space_requirements(root: Path = SOURCE_ROOT) -> bytes:
    """The studio Space's requirements.txt: spaces_config's lines, then every project pin they do not override."""
    def name(line: str) -> str:
        return re.split(r"[\[=<>~! ;]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")

    own = (root / "spaces_config" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    overridden = {name(line) for line in own if line.strip() and not line.lstrip().startswith("#")}
    project = [line for line in (root / "requirements.txt").read_text(encoding="utf-8").splitlines() if line.strip() and not line.lstrip().startswith(("#", "-"))]
    lines = own + ["", "# From the project's requirements.txt:"] + [line for line in project if name(line) not in overridden]
    return ("\n".join(lines).strip() + "\n").encode("utf-8")


def upload_studio_space(
    space_name: str,
    *,
    token: str | None = None,
    private: bool = True,
    hardware: str | None = None,
    root: Path = SOURCE_ROOT,
    endpoint: str | None = None,
    allow_environment: bool = True,
    replace: bool = False,
) -> SpaceResult:
    """Upload the studio itself as a Gradio Space (`python -m finetuner space-upload --space_name ...`).

    A Space that holds something else than the studio (a demo, another app) is refused before anything is uploaded,
    unless `replace`: then its files are deleted in the commit that adds the studio (`_space_to_fill`).

    Private by default: on a Space, visitors train on its hardware. `hardware` requests paid hardware
    (e.g. 't4-small'); the README's `suggested_hardware` only suggests it to people who duplicate it.
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete  # noqa: PLC0415

    user = check_token(token, endpoint=endpoint, allow_environment=allow_environment)
    token = _require_token(token, allow_environment)
    space_id = full_repo_id(space_name, user, "space")
    user = check_token(token, namespace=space_id.split("/")[0], endpoint=endpoint, allow_environment=False)
    files = studio_space_files(root)
    api = _api(endpoint)
    check_hardware(api, hardware, token=token)
    from . import __version__  # noqa: PLC0415

    warnings: list[str] = []
    with _translate("upload the studio Space", token=token, repo_id=space_id, endpoint=api.endpoint, user=user, repo_type="space"):
        existing = _space_info(api, space_id, token)
        stale = _space_to_fill(existing, space_id, STUDIO_SPACE, files, replace=replace, warnings=warnings)
        api.create_repo(space_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True, token=token)
        if existing is not None:  # creating it again changed nothing, its visibility included
            warnings += _visibility_warning(f"The Space {space_id}", bool(existing.private), private, settings=f"{_repo_url(api.endpoint, space_id, 'space')}/settings")
            private = bool(existing.private)
        commit = api.create_commit(
            space_id,
            [
                *(CommitOperationAdd(path_in_repo=p, path_or_fileobj=content if isinstance(content, bytes) else str(content)) for p, content in files.items()),
                *(CommitOperationDelete(path_in_repo=p) for p in stale),
            ],
            commit_message=f"finetuner studio {__version__}",
            repo_type="space",
            token=token,
        )
    if hardware:
        _request_hardware(api, space_id, hardware, token=token, user=user)
    warnings += [
        "A Space's own disk is wiped when it restarts or sleeps: mount a storage volume on the Space at /data (runs then go to /data/runs), or elsewhere "
        "with the Space variable FINETUNER_RUNS_DIR set to its path (the old persistent storage is no longer offered), or push finished runs from the Hub tab.",
        "Visitors sign in with their Hugging Face account; their own token is used for pushes, and for reading their private models and datasets. "
        f"Set the Space variable {SERVER_TOKEN_VARIABLE}=1 only if the Space's own HF_TOKEN secret may be used for everyone's pushes.",
    ]
    return SpaceResult(space_id=space_id, url=_repo_url(api.endpoint, space_id, "space"), app_url=_app_url(api.endpoint, space_id), commit_url=commit.commit_url, private=private, files=sorted(files), warnings=warnings)


# ----------------------------------------------------------------------------- errors


@contextmanager
def _translate(action: str, *, token: str | None, endpoint: str, repo_id: str | None = None, user: HubUser | None = None, repo_type: str = "model", missing_hint: str = "") -> Iterator[None]:
    """Turn huggingface_hub / network exceptions into `HubError`s that say the cause and the fix."""
    import httpx2  # noqa: PLC0415 - huggingface_hub's HTTP client
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalEntryNotFoundError, LocalTokenNotFoundError, RepositoryNotFoundError  # noqa: PLC0415

    kind = "Space" if repo_type == "space" else "repository"
    try:
        yield
    except FinetunerError:
        raise
    except LocalTokenNotFoundError:
        raise HubTokenMissingError(f"No Hugging Face token was found. {TOKEN_HELP}") from None
    except HFValidationError as error:
        raise HubRepoNameError(_scrub(f"'{repo_id}' is not a valid repository name: {error}", token)) from None
    except RepositoryNotFoundError:
        raise HubRepoNotFoundError(
            f"The {kind} '{repo_id}' was not found on the Hub, or your token cannot see it (a private repo of another account). "
            f"Check the name. {missing_hint}".strip()
        ) from None
    except HfHubHTTPError as error:
        raise _http_error(error, action=action, token=token, repo_id=repo_id, user=user, kind=kind, missing_hint=missing_hint) from None
    except ValueError as error:
        if "Invalid metadata in README.md" in str(error):
            reasons = "; ".join(line.strip("- ").strip() for line in str(error).splitlines()[1:] if line.strip()) or "no reason given"
            yours = (
                f"Check the card details you gave: the license must be a Hub license id ({LICENSES_URL}, e.g. apache-2.0, mit, or 'other'), "
                "the base model and dataset Hub ids. If they are right, this is a bug in finetuner's card: please report it."
                if repo_type == "model" else "This is a bug in finetuner's Space README: please report it."
            )
            raise HubCardError(_scrub(f"The Hub refused the README.md metadata of the {kind} '{repo_id}': {reasons}. No file was uploaded. {yours}", token)) from None
        raise
    except (httpx2.TransportError, ConnectionError, TimeoutError, LocalEntryNotFoundError) as error:
        raise _no_connection(error, action=action, endpoint=endpoint, token=token) from None
    except RuntimeError as error:
        # A large file's upload (LFS) that failed midway comes wrapped ("Error while uploading 'x' to the Hub"): its cause says why.
        cause = error.__cause__
        if isinstance(cause, HfHubHTTPError):
            raise _http_error(cause, action=action, token=token, repo_id=repo_id, user=user, kind=kind, missing_hint=missing_hint) from None
        if isinstance(cause, (httpx2.TransportError, ConnectionError, TimeoutError)):
            raise _no_connection(cause, action=action, endpoint=endpoint, token=token) from None
        raise


def _no_connection(error: BaseException, *, action: str, endpoint: str, token: str | None) -> HubConnectionError:
    """The Hub gave no answer: the network, or offline mode. Offline mode is the user's (HF_HUB_OFFLINE, theirs to
    unset) unless finetuner turned it on for a run whose model it reads from the cache because the Hub could not
    be reached: that is the network again, and telling them to unset a variable they never set misled."""
    from huggingface_hub import constants  # noqa: PLC0415

    offline_set = constants.is_offline_mode() and not inference.READ_FROM_CACHE
    if offline_set:
        problem = f"Could not {action}: HF_HUB_OFFLINE=1 is set, so the Hugging Face Hub is not contacted. Unset it to {action}."
    else:
        cause = "it did not answer when the model was looked for, which is read from the local cache" if inference.READ_FROM_CACHE else type(error).__name__
        problem = f"Could not reach the Hugging Face Hub at {endpoint} to {action} ({cause}). Check your internet connection or proxy (HTTPS_PROXY)."
    message = f"{problem} Nothing was lost: your run is still on disk; try again when the Hub is reachable."
    return HubConnectionError(_scrub(message, token), endpoint=endpoint, offline_set=offline_set)


def _http_error(error, *, action: str, token: str | None, repo_id: str | None, user: HubUser | None, kind: str, missing_hint: str) -> HubError:
    status = error.response.status_code if error.response is not None else 0
    server = _scrub((getattr(error, "server_message", None) or "").strip().rstrip("."), token)
    said = f" The Hub said: \"{server}\"." if server else ""
    namespace = (repo_id or "").split("/")[0]
    if status == 401:
        return HubTokenInvalidError(f"The Hub rejected the token (401 Unauthorized): it is invalid, expired or revoked.{said} {TOKEN_HELP}")
    if status == 402 and "hardware" in action:
        return HubPaymentRequiredError(
            f"The Hub refused to {action} '{repo_id}' (402 Payment Required): paid Space hardware needs a payment method on your account "
            f"({PRICING_URL}).{said} Add one in your billing settings, or deploy on the free 'cpu-basic' hardware. The Space itself is uploaded."
        )
    if status == 402:
        return HubPaymentRequiredError(
            f"The Hub refused to {action} '{repo_id}' (402 Payment Required): creating a Gradio Space needs a PRO, Team or Enterprise plan "
            f"on Hugging Face ({PRICING_URL}).{said} Upgrade, use an organization that has a plan, or create the Space on the website "
            "(duplicating an existing Space may work) and deploy into it again."
        )
    if status == 403:
        if user is not None and user.role == "read":
            return HubReadOnlyTokenError(f"The token is read-only, so the Hub refused to {action} (403 Forbidden).{said} {TOKEN_HELP}")
        who = f"'{user.name}'" if user else "this token"
        return HubNamespaceError(
            f"The Hub refused to {action} '{repo_id}' (403 Forbidden): {who} has no write access to '{namespace}'.{said} "
            f"Use a token with the 'Write' role ({TOKENS_URL}) and a namespace you belong to, or ask an admin of '{namespace}' for write access."
        )
    if status == 404:
        return HubRepoNotFoundError(f"The {kind} '{repo_id}' was not found (404).{said} {missing_hint or 'Check the name.'}")
    if status == 409:
        return HubConflictError(
            f"The Hub reported a conflict while trying to {action} '{repo_id}' (409 Conflict): the repository changed at the same time or is busy.{said} "
            "Nothing was lost; push again."
        )
    if status == 400:
        if "name" in server.lower():
            return HubRepoNameError(f"The Hub refused the name '{repo_id}' (400).{said} Choose another name with letters, digits, '-', '_' and '.'.")
        return HubError(f"The Hub refused to {action} '{repo_id}' (400 Bad Request).{said}")
    if status == 429:
        return HubUnreachableError(f"The Hub is rate-limiting requests (429 Too Many Requests).{said} Wait a minute and try again; nothing was lost.")
    if status >= 500:
        return HubUnreachableError(f"The Hub is having trouble ({status}).{said} Try again in a few minutes; nothing was lost: your run is still on disk.")
    return HubError(f"The Hub refused to {action} '{repo_id}' ({status}).{said}")


def _scrub(text: str, token: str | None) -> str:
    """Remove a token, and anything shaped like one, from a message."""
    if token:
        text = text.replace(token, "***")
    return without_tokens(text)


# ----------------------------------------------------------------------------- small helpers


def _api(endpoint: str | None):
    from huggingface_hub import HfApi, constants  # noqa: PLC0415

    return HfApi(endpoint=(endpoint or constants.ENDPOINT).rstrip("/"), library_name="finetuner", library_version=_own_version())


def _own_version() -> str:
    from . import __version__  # noqa: PLC0415

    return __version__


def _repo_url(endpoint: str, repo_id: str, repo_type: str = "model") -> str:
    return f"{endpoint}/{'spaces/' if repo_type == 'space' else ''}{repo_id}"


def _app_url(endpoint: str, space_id: str) -> str | None:
    """The running app's own address (https://<owner>-<name>.hf.space) on the real Hub."""
    if "huggingface.co" not in endpoint:
        return None
    return "https://" + re.sub(r"[^a-z0-9-]", "-", space_id.replace("/", "-").lower()) + ".hf.space"


def _python_version() -> str:
    import sys  # noqa: PLC0415

    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _installed_version(dist: str) -> str:
    from importlib import metadata  # noqa: PLC0415

    return metadata.version(dist).split("+")[0]  # '2.13.0+cpu' -> '2.13.0'


__all__ = [
    "HubUser",
    "PushResult",
    "PREVIEW_USER",
    "PushWhenFinished",
    "SpaceResult",
    "check_push_access",
    "check_token",
    "default_repo_id",
    "default_repo_name",
    "deploy_demo_space",
    "full_repo_id",
    "hub_record",
    "on_spaces",
    "own_repo_name",
    "pick_token",
    "push_run",
    "server_token_allowed",
    "session_owner",
    "shared_mode",
    "upload_studio_space",
]
