"""Whose token reads the Hub for one studio request: the visitor's own where it may read, else the server's.

A studio visitor's token (one typed in the Hub tab, else their "Sign in with Hugging Face" token) reads their
private or gated models and datasets. The studio sets it for the request it serves (`reading_as`, a context
variable: concurrent requests each see their own); the code that loads from the Hub asks `token_for(repo)`.
A repo the visitor's token may not read (a private model of the Space owner's, a gated one the visitor has
not accepted) is read as before, with the server's HF_TOKEN (token None: huggingface_hub, datasets and
transformers take it from the environment), which README's "shared studios" section says is there for them.

Nothing here keeps a token past its request: `reader()`, the part of a cache key that says whose token read
an entry (so one visitor never gets another's private data from the studio's caches), is a digest. On disk, a
private or gated dataset or model that a visitor's token reads goes to a cache folder of that Hub user's
(`datasets_cache`, `models_cache`), never to the shared caches, which the libraries read when the Hub refuses
a token or cannot be reached. Such a folder records the digest of each token that read into it (never the token)
so that it is found offline, when the Hub cannot say whose a token is (`own_models_cache`, `own_datasets_cache`),
and the visitor reads there what they read before. A
training process gets the token in its environment (`READER_VARIABLE`, set by `launcher`), never in a file, and
reads the same way. No gradio here.
"""

from __future__ import annotations

import contextlib
import hashlib
from contextvars import ContextVar
from pathlib import Path
from typing import Iterator

from .access import is_hub_id

_VISITOR: ContextVar["_Visitor | None"] = ContextVar("finetuner_hub_reader", default=None)
# How the studio hands a visitor's token to the training process it starts for them (`launcher`): its environment
# only. The process reads as the studio does (`reading_as`): a repo the token may not read, with HF_TOKEN.
READER_VARIABLE = "FINETUNER_HUB_READER"
# How to read a private or gated Hub repo, wherever finetuner runs (the CLI, a local studio, a shared one without a
# sign-in: --share, --auth), for the messages of a dataset or model the token used cannot read.
READ_TOKEN_HINT = (
    "HF_TOKEN or `hf auth login`; in the studio, a token typed in the Hub tab's token field, "
    "or on a Space 'Sign in with Hugging Face' with an account that may read it"
)


class _Visitor:
    def __init__(self, token: str) -> None:
        self.token = token
        self.may_read: dict[tuple[bool, str, str], bool] = {}  # (anyone?, repo type, repo id): asked once per request


@contextlib.contextmanager
def reading_as(token: str | None) -> Iterator[None]:
    """Hub reads inside this block try `token` first (None or blank: the server's, as before)."""
    mark = _VISITOR.set(_Visitor(token.strip()) if token and token.strip() else None)
    try:
        yield
    finally:
        _VISITOR.reset(mark)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def reader(*names: str | None) -> str:
    """Whose token this request reads with, for cache keys: a digest of the visitor's token, '' for the server's.
    Given the `names` an entry is read from (a model, a dataset), also '' where none is a Hub id: local files and
    folders are read with no token, so every visitor shares one entry of them (the bundled model's tokenizer, an
    uploaded file's preparation), as the caches' size (a few entries) expects."""
    visitor = _VISITOR.get()
    if visitor is None or (names and not any(name and is_hub_id(str(name)) for name in names)):
        return ""
    return digest(visitor.token)


def datasets_cache(token: str | None, dataset_name: str | None) -> str | None:
    """Where `datasets` keeps a Hub dataset that `token` reads: when that is this request's visitor's token and the
    dataset is private or gated, a folder of that Hub user's (`<HF_DATASETS_CACHE>/visitors/<user>`); else (a public
    dataset, the server's reads, no visitor) None, its usual cache, one copy for all. Where the Hub does not answer
    whether anyone may read it (offline, unreachable, a server error, a timeout), as for models (`models_cache`): the
    visitor's own folder where it holds the dataset (their private dataset, loaded before: `datasets` then loads
    "the latest cached version" from it), else the shared cache where that does (which never holds a visitor's
    private data), else their own folder, so that what their token downloads then never goes to the shared cache.

    When the Hub refuses a reader, `datasets` loads "the latest cached version" instead, so one shared cache
    handed a visitor's private dataset to the next visitor who named it. The folder is the Hub user's (one
    cached `whoami`), not the token's: a sign-in gives a new token each time, and each would download again;
    where the Hub cannot say whose the token is, the folder this token read into before (`own_datasets_cache`)."""
    return _visitor_cache("dataset", dataset_name, token)


def models_cache(repo_id: str | None, token: str | None) -> str | None:
    """Where huggingface_hub keeps a Hub model (its weights, tokenizer and config) that `token` reads: when that
    is this request's visitor's token and the model is private or gated, a folder of that Hub user's; else (a
    public model, the server's token, a local folder, no visitor) None, the shared cache, one copy for all. Where
    the Hub does not answer whether anyone may read it (offline, unreachable, a server error, a timeout), the
    visitor's own folder where it holds the model (their private model, read before), else the shared cache where
    that does (which never holds a visitor's private model), else their own folder: what their token downloads
    then (the Hub may serve files while that question timed out) never goes to the shared cache.

    transformers falls back to a cached copy when the Hub refuses a token (a private repo answers 404) or cannot
    be reached, and reads a file pinned to a commit from the cache without asking: one shared cache handed a
    visitor's private model to the next visitor, or anyone offline, who named it. The folder is the Hub user's
    (`_user_of`), as for datasets (`datasets_cache`)."""
    return _visitor_cache("model", repo_id, token)


def _visitor_cache(kind: str, repo_id: str | None, token: str | None) -> str | None:
    """`models_cache` and `datasets_cache`: the visitor's own folder for a `kind` repo their token reads, or None."""
    visitor = _VISITOR.get()
    if visitor is None or not token or token != visitor.token or not repo_id or not is_hub_id(str(repo_id)):
        return None
    repo_id = str(repo_id).strip()
    anyone = _asked(False, kind, repo_id)
    if anyone is False:  # private or gated: their own folder, which says whose it is (found offline, `_own_cache`)
        own = _own_cache(kind, ask=True)
        if own:
            _mark_reader(Path(own), visitor.token)
        return own
    if anyone is None:  # no answer: their own copy if they have one, else the shared cache's, else their own folder
        own = _own_cache(kind, ask=False)
        return None if own and not _holds(kind, own, repo_id) and _holds(kind, _shared_cache(kind), repo_id) else own
    return None  # anyone may read it


def _shared_cache(kind: str) -> str:
    """The cache every visitor shares: huggingface_hub's for models, `datasets`' for datasets."""
    if kind == "model":
        from huggingface_hub import constants  # noqa: PLC0415

        return constants.HF_HUB_CACHE
    import datasets  # noqa: PLC0415 - heavy; the callers load data anyway

    return str(datasets.config.HF_DATASETS_CACHE)


def _holds(kind: str, cache_dir: str, repo_id: str) -> bool:
    """Whether the cache folder `cache_dir` has anything of the repo: a model's files (huggingface_hub's layout), or
    a dataset that `datasets` loads from it as "the latest cached version" (CachedDatasetModuleFactory's layout)."""
    if kind == "model":
        return (Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))).is_dir()
    from datasets.naming import camelcase_to_snakecase  # noqa: PLC0415

    *namespace, name = repo_id.split("/")
    return any(path.is_dir() for path in (Path(cache_dir) / "___".join([*namespace, camelcase_to_snakecase(name)])).glob("*/*/*"))


def own_models_cache() -> str | None:
    """This request's visitor's own model cache folder (`models_cache`), without asking the Hub whether any repo is
    private: where a reader that never downloads (Estimate's and the plan's look at cached config files) looks after
    the shared cache, which holds no visitor's private model. None without a visitor. Where the Hub cannot say whose
    the token is (offline, unreachable), the folder is the one this token read into before (`_mark_reader`)."""
    return _own_cache("model", ask=False)


def own_datasets_cache() -> str | None:
    """This request's visitor's own `datasets` cache folder (`datasets_cache`), found as `own_models_cache` finds
    theirs: by their Hub username, or offline by the digest of a token that read into it."""
    return _own_cache("dataset", ask=False)


def _own_cache(kind: str, *, ask: bool) -> str | None:
    """The visitor's folder: the one their token read into before (`_mark_reader`; a folder named by their Hub user
    before one named by the token's digest), else their Hub user's, asked of the Hub only where `ask` (it answered
    just now); else as last heard, else the token's digest. whoami has no time limit: a Hub that did not answer
    whether anyone may read a repo, or a reader that never downloads, must not wait on it."""
    visitor = _VISITOR.get()
    if visitor is None:
        return None
    shared = Path(_shared_cache(kind))
    root = shared.with_name(shared.name + "-visitors") if kind == "model" else shared / "visitors"
    token_digest = digest(visitor.token)
    marked = sorted((marker.parent.parent.name for marker in root.glob(f"*/{_READERS}/{token_digest}")), key=lambda name: name == token_digest)
    return str(root / (marked[0] if marked else _user_of(visitor.token, ask=ask)))


_READERS = ".readers"  # in a visitor's own model or dataset folder: a file named by the digest of each token that read into it


def _mark_reader(folder: Path, token: str) -> None:
    """Note in `folder` that `token` (its digest, never the token) reads into it, so that offline, when the Hub cannot
    say whose the token is, `_own_cache` still finds the folder."""
    try:
        (folder / _READERS).mkdir(parents=True, exist_ok=True)
        (folder / _READERS / digest(token)).touch()
    except OSError:
        pass  # a read-only cache: the repo is read online as before


def model_options(repo_id: str | None, token: str | None) -> dict[str, str]:
    """`from_pretrained`'s keyword arguments for reading `repo_id` with `token`: {"cache_dir": ...} where it
    goes to a visitor's own cache folder (`models_cache`), else none."""
    folder = models_cache(repo_id, token)
    return {"cache_dir": folder} if folder else {}


def _user_of(token: str, *, ask: bool = True) -> str:
    """The token's Hub username (a folder name), or its digest where the Hub cannot say (or, not `ask`ed, has not
    said within the last few minutes)."""
    from .errors import HubError  # noqa: PLC0415
    from .hub import check_token, known_user  # noqa: PLC0415

    if not ask:
        user = known_user(token)
        return user.name if user else digest(token)
    try:
        return check_token(token, allow_environment=False).name
    except HubError:
        return digest(token)


def token_for(repo_id: str | None, repo_type: str = "model") -> str | None:
    """The token to read `repo_id` with: the visitor's when the Hub says it may read the repo (or cannot be asked),
    else None, which makes the libraries use the server's HF_TOKEN. Local folders and files need no token."""
    visitor = _VISITOR.get()
    if visitor is None or not repo_id or not is_hub_id(str(repo_id)):
        return None
    return None if _asked(visitor.token, repo_type, str(repo_id).strip()) is False else visitor.token


def _asked(token: str | bool, repo_type: str, repo_id: str) -> bool | None:
    """`_may_read`, asked once per request where a visitor reads (`token` is theirs, or False: anyone)."""
    visitor = _VISITOR.get()
    if visitor is None:
        return _may_read(token, repo_type, repo_id)
    key = (token is False, repo_type, repo_id)
    if key not in visitor.may_read:
        visitor.may_read[key] = _may_read(token, repo_type, repo_id)
    return visitor.may_read[key]


def _may_read(token: str | bool, repo_type: str, repo_id: str) -> bool | None:
    """Whether the Hub lets `token` (False: anyone) read the repo: one request, HfApi.auth_check's, within
    HF_HUB_ETAG_TIMEOUT (auth_check itself has no time limit, and a network that drops packets would hold the page).
    A refusal (private, gated, an invalid token) is False; no answer (offline, unreachable, a server error) is None,
    read as a yes by `token_for` (the libraries read their local cache, or say why they cannot) and as "the visitor's
    own folder, unless only the shared cache holds the repo" by `models_cache` and `datasets_cache`."""
    from huggingface_hub import constants  # noqa: PLC0415
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError  # noqa: PLC0415
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status  # noqa: PLC0415

    try:
        if constants.is_offline_mode():
            return None
        url = f"{constants.ENDPOINT}/api/{repo_type}s/{repo_id}/auth-check"
        hf_raise_for_status(get_session().get(url, headers=build_hf_headers(token=token), timeout=constants.HF_HUB_ETAG_TIMEOUT))
    except (RepositoryNotFoundError, GatedRepoError):
        return False
    except HfHubHTTPError as error:
        return None if error.response is None or error.response.status_code not in (401, 403, 404) else False
    except Exception:  # noqa: BLE001 - offline mode, a network error: the libraries read the cache, or say why not
        return None
    return True
