"""Whose runs a studio session sees: the one place every tab asks "who is this?" and "is this run theirs?".

On a shared studio (`access.shared_mode()`: a Space, or app.py with --share or --auth) a visitor is, in
this order: their "Sign in with Hugging Face" profile (gr.OAuthProfile), their --auth login
(gr.Request.username), or the Hub user of the token their API client passed (`Client(...,
oauth_token=...)`, a gr.OAuthToken) or typed in the Hub tab. Each tab calls `visible_runs` in its
run-list refresh and `owned_run` at the start of every handler that takes a run id; the rules
themselves live in `finetuner.access`. Locally (not shared) every run is listed and usable, as before.

Handlers declare the identity parameters by type, so Gradio fills them and they never appear among an
endpoint's API parameters:

    def handler(run_id, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        run = ownership.owned_run(ctx, run_id, request, profile, oauth_token)

Run lists built when the page is built go into its config, which every visitor downloads: on a shared
studio they start empty (`initial_choices`) and are filled per session.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from .. import access, hub, hub_reads
from ..errors import HubError, RunError
from ..runs import Run
from . import services


def is_shared(ctx: Any) -> bool:
    """A page others can reach: a Space, a share link or an --auth page (app.py sets FINETUNER_SHARED=1)."""
    return bool(getattr(ctx, "shared", False)) or access.shared_mode()


def visitor(ctx: Any, request: Any = None, profile: Any = None, oauth_token: Any = None, typed_token: str | None = None) -> str | None:
    """This session's user name (the owner its runs are recorded under), or None.

    The profile and the --auth login cost nothing. A token costs one (cached) `whoami`, and only on a
    shared studio: locally runs need no owner, and a token there may be the server's own. An invalid
    token raises the Hub error, which says what to do.
    """
    name = getattr(profile, "username", None) or (getattr(request, "username", None) if request is not None else None)
    if name:
        return str(name)
    if not is_shared(ctx):
        return None
    token = getattr(oauth_token, "token", None)
    if not (token or (typed_token or "").strip()):
        return None
    return hub.session_owner(oauth_token=token, typed_token=typed_token)


def quiet_visitor(ctx: Any, request: Any = None, profile: Any = None, oauth_token: Any = None, typed_token: str | None = None) -> str | None:
    """`visitor` for run lists: an identity that cannot be checked (a bad token, the Hub unreachable) lists nothing."""
    try:
        return visitor(ctx, request, profile, oauth_token, typed_token)
    except HubError:
        return None


def visible_runs(ctx: Any, who: str | None) -> list[Run]:
    """The runs this visitor may see, newest first (all of them locally)."""
    return access.visible_runs(ctx.store, who, shared=is_shared(ctx))


def run_choices(ctx: Any, who: str | None, *, completed_only: bool = False) -> list[tuple[str, str]]:
    """(label, id) dropdown choices of this visitor's runs."""
    return services.run_choices(ctx.store, completed_only=completed_only, runs=visible_runs(ctx, who))


def initial_choices(ctx: Any, *, completed_only: bool = False) -> list[tuple[str, str]]:
    """Run choices to build into the page: none on a shared studio (the page config is the same for everyone)."""
    return [] if is_shared(ctx) else services.run_choices(ctx.store, completed_only=completed_only)


def owned_run(ctx: Any, run_id: str | None, request: Any = None, profile: Any = None, oauth_token: Any = None, *, who: str | None = None, typed_token: str | None = None, missing: str = "Choose a run first.") -> Run:
    """The run `run_id`, if this visitor may use it; `RunNotYoursError` (a clear message) otherwise.

    Pass `who` when the visitor is already known, else the request's identity parameters."""
    if not run_id:
        raise RunError(missing)
    shared = is_shared(ctx)
    if shared and who is None:
        who = visitor(ctx, request, profile, oauth_token, typed_token)
    return access.owned_run(ctx.store, run_id, who, shared=shared)


def require_visitor(ctx: Any, request: Any = None, profile: Any = None, oauth_token: Any = None) -> str | None:
    """The owner to record on a new run. On a shared studio a visitor must be known: their run would
    otherwise belong to nobody, and they could never see it again."""
    who = visitor(ctx, request, profile, oauth_token)
    if is_shared(ctx) and not who:
        raise RunError(f"This studio is shared, so each run belongs to the person who starts it: sign in first. To sign in, {access.sign_in_hint()}.")
    return who


def visitor_token(oauth_token: Any = None, typed_token: str | None = None) -> str | None:
    """The visitor's own Hub token: the one typed in the Hub tab, else their sign-in's (never the server's)."""
    return hub.pick_token(oauth_token=getattr(oauth_token, "token", None), typed_token=typed_token, allow_environment=False)


def reads_as_visitor(fn: Callable) -> Callable:
    """Run a (plain) handler with its Hub reads done with the visitor's own token (its `typed_token` parameter,
    the Hub tab's token field, else its `oauth_token`), where that token may read the repo, else with the server's
    HF_TOKEN as before (`hub_reads`): their private dataset loads on the Data tab, their private model's tokenizer,
    config and estimate read, as training will."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def handler(*args, **kwargs):
        arguments = signature.bind_partial(*args, **kwargs).arguments
        with hub_reads.reading_as(visitor_token(arguments.get("oauth_token"), arguments.get("typed_token"))):
            return fn(*args, **kwargs)

    return handler
