"""A loopback Hugging Face Hub: the parts of the Hub HTTP API that huggingface_hub 2.4 uses to create
repos, commit files (regular and classic-LFS uploads), read them back and manage Spaces.

It is a real HTTP/1.1 server on 127.0.0.1 (a random free port), so the code under test talks to it
through huggingface_hub's own client, selected with `HF_ENDPOINT`; nothing in the client is mocked.
It keeps everything it receives (repos, commits, files, request log) so tests can check what
reached "the Hub". Measured protocol facts it relies on are in ../shared/notes/hub-and-spaces.md:
JSON error bodies plus `X-Error-Message` / `X-Error-Code` headers, no body on HEAD, `shouldIgnore`
in preupload answers, `url` in the 409 body of repos/create, `X-Repo-Commit` + `ETag` on resolve.

Behaviour a test can switch:

* users and tokens: `add_user(name, token, role="write"|"read", orgs=..., plan="free"|"pro")`;
  an unknown token gets 401 everywhere.
* `plan="free"` users get 402 when creating a Gradio or Docker Space (as on the real Hub), and when
  asking for paid Space hardware (a stand-in for an account without a payment method).
* `fail_next(method, path_regex, status, message, times=1, error_code=None)`: the next matching
  request(s) get that error before anything else happens; `status=DROP` closes the connection instead,
  unanswered, as a network that breaks mid-upload does.
* private repos are visible only to the namespace's members (404 `RepoNotFound` otherwise).
* `add_old_model(repo_id, readme)`: a repo whose card predates the Hub's metadata checks (e.g. `license: MIT License`).

Run it by hand with `python tests/hub/fakehub.py` (prints its URL and a write token).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

LFS_EXTENSIONS = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".onnx", ".png", ".jpg", ".jpeg", ".gif", ".zip", ".gz", ".parquet", ".arrow")
LFS_SIZE = 10 * 1024 * 1024
DROP = 0  # a `fail_next` status: close the connection without an answer
SPACE_SDKS = ("gradio", "docker", "static")
PAID_SDKS = ("gradio", "docker")
COLORS = ("red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray")
# A flavor the Hub offers and the installed huggingface_hub's SpaceHardware lacks, as the Hub adds flavors.
NEWER_SPACE_HARDWARE = "h300x1"
# The hardware flavors the Hub offers (its hardware request and a Space README's suggested_hardware refuse others).
SPACE_HARDWARE = ("cpu-basic", "cpu-upgrade", "zero-a10g", "t4-small", "t4-medium", "l4x1", "l4x4", "l40sx1", "l40sx4", "l40sx8", "a10g-small", "a10g-large", "a10g-largex2", "a10g-largex4", "a100-large", "a100x4", "a100x8", NEWER_SPACE_HARDWARE)
REPO_NAME = re.compile(r"^(?!.*(--|\.\.))[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")
# An id the Hub has and finetuner's list (card.HUB_LICENSES) lacks, as the Hub adds ids.
NEWER_HUB_LICENSE = "llama9-community"
LICENSES = {"apache-2.0", "mit", "openrail", "bigscience-openrail-m", "creativeml-openrail-m", "cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "cc-by-nc-sa-4.0", "cc0-1.0", "gpl-3.0", "lgpl-3.0", "agpl-3.0", "bsd-3-clause", "llama3", "gemma", "other", "unknown", NEWER_HUB_LICENSE}


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class User:
    name: str
    role: str = "write"  # "write" | "read"
    orgs: tuple[str, ...] = ()
    plan: str = "free"  # "free" | "pro"


@dataclass
class StoredFile:
    data: bytes
    lfs: bool

    @property
    def oid(self) -> str:
        """What preupload and the tree report: sha256 for LFS files, the git blob sha1 otherwise."""
        return hashlib.sha256(self.data).hexdigest() if self.lfs else git_sha1(self.data)


@dataclass
class Commit:
    oid: str
    summary: str
    description: str
    author: str
    files: dict[str, StoredFile]  # the whole tree after this commit
    time: float = field(default_factory=time.time)


@dataclass
class Repo:
    type: str  # model | dataset | space
    id: str
    private: bool
    author: str
    sdk: str | None = None
    hardware: str | None = None
    commits: list[Commit] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def files(self) -> dict[str, StoredFile]:
        return self.commits[-1].files if self.commits else {}

    @property
    def sha(self) -> str:
        return self.commits[-1].oid

    def text(self, path: str) -> str:
        return self.files[path].data.decode("utf-8")

    def snapshot(self, revision: str) -> Commit | None:
        if revision in ("main", "HEAD"):
            return self.commits[-1]
        return next((c for c in self.commits if c.oid == revision or c.oid.startswith(revision) and len(revision) >= 7), None)


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code, extra or {}


class FakeHub:
    """The server's state and its request handling. `start()` serves it; `url` is the endpoint."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}  # token -> user
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.requests: list[dict[str, Any]] = []
        self.server_errors: list[str] = []  # exceptions inside the server: a test should see none
        self._failures: list[dict[str, Any]] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # ---------------------------------------------------------------- setup
    def start(self) -> "FakeHub":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fakehub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def add_user(self, name: str, token: str | None = None, *, role: str = "write", orgs: tuple[str, ...] | list[str] = (), plan: str = "free") -> str:
        token = token or f"hf_{name}_{secrets.token_hex(8)}"
        self.users[token] = User(name=name, role=role, orgs=tuple(orgs), plan=plan)
        return token

    def fail_next(self, method: str, path_regex: str, status: int, message: str, *, times: int = 1, error_code: str | None = None) -> None:
        """The next `times` requests matching `METHOD path_regex` get this error."""
        self._failures.append({"method": method.upper(), "regex": re.compile(path_regex), "status": status, "message": message, "times": times, "code": error_code})

    def clear_failures(self) -> None:
        """Forget the `fail_next` failures not yet served: the network is back."""
        with self._lock:
            self._failures.clear()

    def reset(self) -> None:
        with self._lock:
            self.repos.clear()
            self.lfs_objects.clear()
            self.requests.clear()
            self.server_errors.clear()
            self._failures.clear()

    def add_old_model(self, repo_id: str, readme: str) -> Repo:
        """A public model repo whose README.md was written before the Hub checked card metadata: it may hold what
        validate-yaml refuses today (`license: Apache 2.0`), as old repos on the real Hub do."""
        with self._lock:
            repo = Repo(type="model", id=repo_id, private=False, author=repo_id.split("/")[0])
            repo.commits.append(Commit(oid=secrets.token_hex(20), summary="initial commit", description="", author=repo.author, files={"README.md": StoredFile(readme.encode(), lfs=False)}))
            self.repos[("model", repo_id)] = repo
        return repo

    def repo(self, repo_id: str, repo_type: str = "model") -> Repo:
        return self.repos[(repo_type, repo_id)]

    def requests_to(self, method: str, path_regex: str) -> list[dict[str, Any]]:
        pattern = re.compile(path_regex)
        return [r for r in self.requests if r["method"] == method and pattern.search(r["path"])]

    # ---------------------------------------------------------------- helpers
    def _user(self, headers: dict[str, str], *, required: bool = True) -> User | None:
        auth = headers.get("authorization", "")
        if not auth:
            if required:
                raise HubError(401, "You must be authenticated to access this resource.")
            return None
        token = auth.removeprefix("Bearer ").strip()
        user = self.users.get(token)
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return user

    def _can_write(self, user: User, namespace: str) -> None:
        if namespace != user.name and namespace not in user.orgs:
            raise HubError(403, f'You don\'t have the rights to create a repository under the namespace "{namespace}"')
        if user.role != "write":
            raise HubError(403, "This token has read-only access: you don't have the rights to write to this repository")

    def _visible(self, repo: Repo, user: User | None) -> bool:
        if not repo.private:
            return True
        namespace = repo.id.split("/")[0]
        return user is not None and (namespace == user.name or namespace in user.orgs)

    def _get_repo(self, repo_type: str, repo_id: str, headers: dict[str, str]) -> tuple[Repo, User | None]:
        user = self._user(headers, required=False)
        repo = self.repos.get((repo_type, repo_id))
        if repo is None or not self._visible(repo, user):
            raise HubError(404, "Repository not found", code="RepoNotFound")
        return repo, user

    def _repo_url(self, repo: Repo) -> str:
        prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo.type]
        return f"{self.url}/{prefix}{repo.id}"

    # ---------------------------------------------------------------- routes
    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(raw_path)
        path, query = split.path, parse_qs(split.query)
        with self._lock:
            self.requests.append({"method": method, "path": path, "query": query, "headers": headers, "body": body, "time": time.time()})
            for failure in self._failures:
                if failure["times"] > 0 and failure["method"] == method and failure["regex"].search(path):
                    failure["times"] -= 1
                    raise HubError(failure["status"], failure["message"], code=failure["code"])
        routes = [
            ("GET", r"^/api/whoami-v2$", self.whoami),
            ("GET", r"^/api/agent-harnesses$", lambda **_: (200, {})),
            ("POST", r"^/api/repos/create$", self.create_repo),
            ("DELETE", r"^/api/repos/delete$", self.delete_repo),
            ("POST", r"^/api/validate-yaml$", self.validate_yaml),
            ("POST", r"^/api/(?P<type>models|datasets|spaces)/(?P<id>[^/]+/[^/]+)/preupload/(?P<rev>[^/]+)$", self.preupload),
            ("POST", r"^/api/(?P<type>models|datasets|spaces)/(?P<id>[^/]+/[^/]+)/commit/(?P<rev>[^/]+)$", self.commit),
            ("GET", r"^/api/(?P<type>models|datasets|spaces)/(?P<id>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?:/(?P<sub>.*))?$", self.tree),
            ("GET", r"^/api/(?P<type>models|datasets|spaces)/(?P<id>[^/]+/[^/]+)/revision/(?P<rev>[^/]+)$", self.repo_info),
            ("GET", r"^/api/spaces/hardware$", self.list_hardware),
            ("GET", r"^/api/spaces/(?P<id>[^/]+/[^/]+)/runtime$", self.space_runtime),
            ("POST", r"^/api/spaces/(?P<id>[^/]+/[^/]+)/(?P<what>secrets|variables)$", self.space_setting),
            ("POST", r"^/api/spaces/(?P<id>[^/]+/[^/]+)/restart$", self.space_restart),
            ("POST", r"^/api/spaces/(?P<id>[^/]+/[^/]+)/hardware$", self.space_hardware),
            ("GET", r"^/api/(?P<type>models|datasets|spaces)/(?P<id>[^/]+/[^/]+)/auth-check$", self.auth_check),
            ("GET", r"^/api/(?P<type>models|datasets|spaces)/(?P<id>[^/]+/[^/]+)$", self.repo_info),
            ("POST", r"^/(?P<prefix>datasets/|spaces/)?(?P<id>[^/]+/[^/]+)\.git/info/lfs/objects/batch$", self.lfs_batch),
            ("PUT", r"^/lfs-upload/(?P<oid>[0-9a-f]{64})$", self.lfs_put),
            ("POST", r"^/lfs-verify/(?P<oid>[0-9a-f]{64})$", self.lfs_verify),
            ("GET|HEAD", r"^/(?P<prefix>datasets/|spaces/)?(?P<id>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$", self.resolve),
        ]
        for methods, pattern, handler in routes:
            match = re.match(pattern, path)
            if match and method in methods.split("|"):
                params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                result = handler(method=method, headers=headers, body=body, query=query, **params)
                if len(result) == 2:
                    status, payload = result
                    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()
                return result
        raise HubError(404, f"No fake-hub route for {method} {path}")

    def whoami(self, *, headers, **_):
        user = self._user(headers)
        assert user is not None
        return 200, {
            "type": "user",
            "id": hashlib.md5(user.name.encode()).hexdigest()[:24],
            "name": user.name,
            "fullname": user.name.title(),
            "email": f"{user.name}@example.com",
            "avatarUrl": f"{self.url}/avatars/{user.name}.png",
            "isPro": user.plan == "pro",
            "orgs": [{"type": "org", "name": org, "fullname": org.title(), "roleInOrg": "write"} for org in user.orgs],
            "auth": {"type": "access_token", "accessToken": {"displayName": "test token", "role": user.role}},
        }

    def create_repo(self, *, headers, body, **_):
        user = self._user(headers)
        assert user is not None
        payload = json.loads(body or b"{}")
        repo_type = payload.get("type") or "model"
        name, namespace = payload.get("name") or "", payload.get("organization") or user.name
        if not REPO_NAME.match(name):
            raise HubError(400, f"Invalid repository name '{name}'")
        repo_id = f"{namespace}/{name}"
        self._can_write(user, namespace)
        with self._lock:
            existing = self.repos.get((repo_type, repo_id))
            if existing is not None:
                raise HubError(409, "You already created this repo", extra={"url": self._repo_url(existing)})
            sdk = None
            if repo_type == "space":
                sdk = payload.get("sdk")
                if sdk not in SPACE_SDKS:
                    raise HubError(400, f"Invalid sdk '{sdk}': use one of {', '.join(SPACE_SDKS)}")
                if sdk in PAID_SDKS and user.plan == "free":
                    raise HubError(402, f"Creating a {sdk.title()} Space requires a PRO, Team or Enterprise subscription.")
            private = payload.get("visibility", "private" if payload.get("private") else "public") != "public"
            repo = Repo(type=repo_type, id=repo_id, private=private, author=user.name, sdk=sdk, hardware=payload.get("hardware"))
            gitattributes = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n*.png filter=lfs diff=lfs merge=lfs -text\n"
            repo.commits.append(Commit(oid=secrets.token_hex(20), summary="initial commit", description="", author=user.name, files={".gitattributes": StoredFile(gitattributes, lfs=False)}))
            self.repos[(repo_type, repo_id)] = repo
        return 200, {"url": self._repo_url(repo), "name": repo_id, "id": secrets.token_hex(12)}

    def delete_repo(self, *, headers, body, **_):
        user = self._user(headers)
        assert user is not None
        payload = json.loads(body or b"{}")
        repo_id = f"{payload.get('organization') or user.name}/{payload['name']}"
        self._can_write(user, repo_id.split("/")[0])
        if self.repos.pop((payload.get("type") or "model", repo_id), None) is None:
            raise HubError(404, "Repository not found", code="RepoNotFound")
        return 200, {}

    def validate_yaml(self, *, body, **_):
        payload = json.loads(body or b"{}")
        errors = validate_metadata(payload.get("content", ""), payload.get("repoType", "model"))
        if errors:
            return 400, {"errors": [{"message": e} for e in errors], "warnings": []}
        return 200, {"errors": [], "warnings": []}

    def preupload(self, *, headers, body, type, id, rev, **_):
        repo, user = self._get_repo(type[:-1], id, headers)
        self._require_writer(repo, user)
        files = []
        for entry in json.loads(body)["files"]:
            sample = base64.b64decode(entry.get("sample", ""))
            lfs = entry["path"].lower().endswith(LFS_EXTENSIONS) or entry["size"] >= LFS_SIZE or b"\0" in sample
            existing = repo.files.get(entry["path"])
            files.append({"path": entry["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": existing.oid if existing and existing.lfs == lfs else None})
        return 200, {"files": files, "commitOid": repo.sha}

    def _require_writer(self, repo: Repo, user: User | None) -> None:
        if user is None:
            raise HubError(401, "You must be authenticated to write to this repository.")
        self._can_write(user, repo.id.split("/")[0])

    def commit(self, *, headers, body, type, id, rev, **_):
        repo, user = self._get_repo(type[:-1], id, headers)
        self._require_writer(repo, user)
        assert user is not None
        lines = [json.loads(line) for line in body.decode("utf-8").splitlines() if line.strip()]
        header = next((line["value"] for line in lines if line["key"] == "header"), None)
        if header is None or not header.get("summary"):
            raise HubError(400, "A commit needs a header with a summary")
        with self._lock:
            parent = header.get("parentCommit")
            if parent and parent != repo.sha:
                raise HubError(409, "A commit has happened since the parent commit: pull and try again")
            tree = dict(repo.files)
            for line in lines:
                key, value = line["key"], line["value"]
                if key == "file":
                    data = base64.b64decode(value["content"]) if value.get("encoding") == "base64" else value["content"].encode()
                    tree[value["path"]] = StoredFile(data, lfs=False)
                elif key == "lfsFile":
                    data = self.lfs_objects.get(value["oid"])
                    if data is None:
                        raise HubError(422, f"LFS object {value['oid']} for {value['path']} was never uploaded")
                    tree[value["path"]] = StoredFile(data, lfs=True)
                elif key == "deletedFile":
                    tree.pop(value["path"], None)
                elif key == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    tree = {p: f for p, f in tree.items() if not p.startswith(prefix)}
            readme = tree.get("README.md")
            if readme is not None:
                errors = validate_metadata(readme.data.decode("utf-8", "replace"), repo.type)
                if errors:
                    raise HubError(400, "Invalid metadata in README.md: " + "; ".join(errors))
            commit = Commit(oid=secrets.token_hex(20), summary=header["summary"], description=header.get("description", ""), author=user.name, files=tree)
            repo.commits.append(commit)
        return 200, {"success": True, "commitOid": commit.oid, "commitUrl": f"{self._repo_url(repo)}/commit/{commit.oid}"}

    def tree(self, *, headers, query, type, id, rev, sub=None, **_):
        repo, _user = self._get_repo(type[:-1], id, headers)
        snapshot = repo.snapshot(rev)
        if snapshot is None:
            raise HubError(404, f"Invalid rev id: {rev}", code="RevisionNotFound")
        prefix = (sub.rstrip("/") + "/") if sub else ""
        recursive = query.get("recursive", ["false"])[0].lower() == "true"
        entries = []
        for path, stored in sorted(snapshot.files.items()):
            if not path.startswith(prefix) or (not recursive and "/" in path[len(prefix):]):
                continue
            entry: dict[str, Any] = {"type": "file", "path": path, "size": len(stored.data), "oid": git_sha1(stored.data)}
            if stored.lfs:
                entry["lfs"] = {"oid": stored.oid, "size": len(stored.data), "pointerSize": 134}
            entries.append(entry)
        return 200, entries

    def repo_info(self, *, headers, type, id, rev="main", **_):
        repo, _user = self._get_repo(type[:-1], id, headers)
        snapshot = repo.snapshot(rev)
        if snapshot is None:
            raise HubError(404, f"Invalid rev id: {rev}", code="RevisionNotFound")
        info: dict[str, Any] = {
            "id": repo.id,
            "author": repo.author,
            "sha": snapshot.oid,
            "private": repo.private,
            "disabled": False,
            "gated": False,
            "lastModified": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(snapshot.time)),
            "siblings": [{"rfilename": p} for p in sorted(snapshot.files)],
            "tags": [],
            "likes": 0,
        }
        card = snapshot.files.get("README.md")
        if card is not None:
            metadata = front_matter(card.data.decode("utf-8", "replace")) or {}
            info["cardData"] = metadata
            info["tags"] = list(metadata.get("tags") or [])
            if repo.type == "model":
                info["pipeline_tag"] = metadata.get("pipeline_tag")
                info["library_name"] = metadata.get("library_name")
        if repo.type == "space":
            info.update(sdk=repo.sdk, host=f"{self.url}/spaces/{repo.id}", subdomain=repo.id.replace("/", "-"), runtime=self._runtime(repo))
        return 200, info

    def auth_check(self, *, headers, type, id, **_):
        """May this token read the repo? 200, else what reading it would answer (404 RepoNotFound, 401 for a bad token)."""
        self._get_repo(type[:-1], id, headers)
        return 200, {}

    def _runtime(self, repo: Repo) -> dict[str, Any]:
        return {"stage": "RUNNING" if "app.py" in repo.files or repo.sdk == "static" else "NO_APP_FILE", "hardware": {"current": repo.hardware or "cpu-basic", "requested": repo.hardware or "cpu-basic"}, "storage": None, "gcTimeout": 172800, "replicas": {"current": 1, "requested": 1}}

    def space_runtime(self, *, headers, id, **_):
        repo, _user = self._get_repo("space", id, headers)
        return 200, self._runtime(repo)

    def space_setting(self, *, headers, body, id, what, **_):
        repo, user = self._get_repo("space", id, headers)
        self._require_writer(repo, user)
        payload = json.loads(body)
        (repo.secrets if what == "secrets" else repo.variables)[payload["key"]] = payload.get("value", "")
        return 200, {}

    def space_restart(self, *, headers, id, **_):
        repo, user = self._get_repo("space", id, headers)
        self._require_writer(repo, user)
        return 200, self._runtime(repo)

    def list_hardware(self, **_):
        return 200, [{"name": name, "prettyName": name, "cpu": "2 vCPU", "ram": "16 GB", "unitCostMicroUSD": 0, "unitCostUSD": 0.0, "unitLabel": "minute"} for name in SPACE_HARDWARE]

    def space_hardware(self, *, headers, body, id, **_):
        repo, user = self._get_repo("space", id, headers)
        self._require_writer(repo, user)
        flavor = json.loads(body)["flavor"]
        if flavor not in SPACE_HARDWARE:
            raise HubError(400, f"Invalid hardware flavor '{flavor}'.")
        if flavor != "cpu-basic" and user.plan == "free":
            raise HubError(402, f"Hardware '{flavor}' requires a payment method on the account.")
        repo.hardware = flavor
        return 200, self._runtime(repo)

    def lfs_batch(self, *, headers, body, id, prefix=None, **_):
        repo_type = {"datasets/": "dataset", "spaces/": "space"}.get(prefix or "", "model")
        repo, user = self._get_repo(repo_type, id, headers)
        self._require_writer(repo, user)
        payload = json.loads(body)
        objects = []
        for obj in payload["objects"]:
            entry: dict[str, Any] = {"oid": obj["oid"], "size": obj["size"]}
            if obj["oid"] not in self.lfs_objects:
                entry["actions"] = {"upload": {"href": f"{self.url}/lfs-upload/{obj['oid']}"}, "verify": {"href": f"{self.url}/lfs-verify/{obj['oid']}"}}
            objects.append(entry)
        return 200, {"transfer": "basic", "objects": objects}

    def lfs_put(self, *, body, oid, **_):
        if hashlib.sha256(body).hexdigest() != oid:
            raise HubError(400, "LFS upload does not match its oid")
        self.lfs_objects[oid] = body
        return 200, {}

    def lfs_verify(self, *, headers, body, oid, **_):
        self._user(headers)
        if oid not in self.lfs_objects:
            raise HubError(404, "LFS object not found")
        return 200, {}

    def resolve(self, *, method, headers, id, rev, file, prefix=None, **_):
        repo_type = {"datasets/": "dataset", "spaces/": "space"}.get(prefix or "", "model")
        repo, _user = self._get_repo(repo_type, id, headers)
        snapshot = repo.snapshot(rev)
        if snapshot is None:
            raise HubError(404, f"Invalid rev id: {rev}", code="RevisionNotFound")
        stored = snapshot.files.get(file)
        if stored is None:
            raise HubError(404, f"Entry not found: {file}", code="EntryNotFound")
        response_headers = {
            "Content-Type": "application/octet-stream",
            "X-Repo-Commit": snapshot.oid,
            "ETag": f'"{stored.oid}"',
            "Accept-Ranges": "bytes",
        }
        return 200, response_headers, stored.data


def front_matter(text: str) -> dict | None:
    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", text, re.S)
    if not match:
        return None
    return yaml.safe_load(match.group(1)) or {}


def validate_metadata(content: str, repo_type: str) -> list[str]:
    """What the Hub's validate-yaml checks for our cards and Space READMEs (a useful subset)."""
    try:
        metadata = front_matter(content)
    except yaml.YAMLError as error:
        return [f"Invalid YAML: {error}"]
    if metadata is None:
        return []
    if not isinstance(metadata, dict):
        return ["The metadata must be a mapping"]
    errors = []
    license_ = metadata.get("license")
    if license_ is not None and license_ not in LICENSES:
        errors.append(f'"license" must be one of the Hub license ids, got {license_!r}')
    for key in ("base_model", "datasets", "tags", "language", "models"):
        value = metadata.get(key)
        if value is not None and not (isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))):
            errors.append(f'"{key}" must be a string or a list of strings')
    base = metadata.get("base_model")
    for value in [base] if isinstance(base, str) else (base or []):
        if isinstance(value, str) and not re.match(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$", value):
            errors.append(f'"base_model" must be a Hub model id (namespace/name), got {value!r}')
    if "model-index" in metadata:
        errors.extend(_validate_model_index(metadata["model-index"]))
    if repo_type == "space":
        if metadata.get("sdk") not in SPACE_SDKS:
            errors.append(f'"sdk" must be one of {", ".join(SPACE_SDKS)}')
        for key in ("colorFrom", "colorTo"):
            if key in metadata and metadata[key] not in COLORS:
                errors.append(f'"{key}" must be one of {", ".join(COLORS)}')
        for key in ("sdk_version", "python_version", "app_file"):
            if key in metadata and not isinstance(metadata[key], str):
                errors.append(f'"{key}" must be a string (quote it in YAML)')
        if "suggested_hardware" in metadata and metadata["suggested_hardware"] not in SPACE_HARDWARE:
            errors.append(f'"suggested_hardware" must be one of {", ".join(SPACE_HARDWARE)}')
        if "hf_oauth" in metadata and not isinstance(metadata["hf_oauth"], bool):
            errors.append('"hf_oauth" must be true or false')
        scopes = metadata.get("hf_oauth_scopes")
        if scopes is not None and not (isinstance(scopes, list) and all(isinstance(s, str) for s in scopes)):
            errors.append('"hf_oauth_scopes" must be a list of scope names')
        if len(str(metadata.get("short_description", ""))) > 60:
            errors.append('"short_description" must be at most 60 characters')
    return errors


def _validate_model_index(index: Any) -> list[str]:
    if not isinstance(index, list) or not index:
        return ['"model-index" must be a non-empty list']
    errors = []
    for model in index:
        if not isinstance(model, dict) or not model.get("name"):
            errors.append('each "model-index" entry needs a "name"')
            continue
        for result in model.get("results") or []:
            task, dataset, metrics = result.get("task") or {}, result.get("dataset") or {}, result.get("metrics") or []
            if not task.get("type"):
                errors.append('"model-index" results need task.type')
            if not dataset.get("type") or not dataset.get("name"):
                errors.append('"model-index" results need dataset.type and dataset.name')
            if not metrics:
                errors.append('"model-index" results need metrics')
            for metric in metrics:
                if not metric.get("type") or not isinstance(metric.get("value"), (int, float)):
                    errors.append('each metric needs a "type" and a numeric "value"')
    return errors


def _make_handler(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the client's pooled connections expect

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _serve(self) -> None:
            body = self._body()
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, response_headers, payload = hub.handle(self.command, self.path, headers, body)
            except HubError as error:
                if error.status == DROP:
                    self.close_connection = True
                    return
                status = error.status
                payload = json.dumps({"error": error.message, **error.extra}).encode()
                response_headers = {"Content-Type": "application/json", "X-Error-Message": error.message}
                if error.code:
                    response_headers["X-Error-Code"] = error.code
            except Exception as error:  # a bug in the fake: report it as a 500 and keep it for the test
                hub.server_errors.append(f"{self.command} {self.path}: {type(error).__name__}: {error}")
                status, payload = 500, json.dumps({"error": f"fake hub bug: {error}"}).encode()
                response_headers = {"Content-Type": "application/json", "X-Error-Message": "internal error"}
            self.send_response(status)
            for key, value in response_headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":  # a body after HEAD desynchronises the pooled connection
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    return Handler


if __name__ == "__main__":
    hub = FakeHub().start()
    token = hub.add_user("alice", token="hf_alice_write", plan="pro", orgs=("acme",))
    print(f"HF_ENDPOINT={hub.url} HF_TOKEN={token} HF_HUB_DISABLE_XET=1")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        hub.stop()
