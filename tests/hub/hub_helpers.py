"""Small helpers shared by the Hub tests."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml

# Three Hub users of a shared studio: visitors dana and erin, and olga, the Space's owner (the server's HF_TOKEN).
DANA, ERIN, OWNER = "hf_dana_visitor_token_0123456789", "hf_erin_visitor_token_0123456789", "hf_space_owner_token_0123456789"
DATASET, PUBLIC_DATASET = "dana/secret-reviews", "olga/open-reviews"  # dana's private dataset and olga's public one


def serve_visitors_datasets(hub_server, monkeypatch, cache: Path):
    """The loopback Hub with dana, erin and olga, dana's private `DATASET` and olga's public `PUBLIC_DATASET` (40
    sentiment rows each), `datasets` pointed at it with `cache` as its cache; returns the HfApi used."""
    import datasets
    from huggingface_hub import HfApi

    from support import make_sentiment_frame

    for name, value in {"HF_ENDPOINT": hub_server.url, "HUB_DATASETS_URL": hub_server.url + "/datasets/{repo_id}/resolve/{revision}/{path}", "HF_HUB_OFFLINE": False, "HF_DATASETS_OFFLINE": False, "HF_DATASETS_CACHE": cache}.items():
        monkeypatch.setattr(datasets.config, name, value)  # read once, at its import
    hub_server.add_user("dana", token=DANA)
    hub_server.add_user("erin", token=ERIN)
    hub_server.add_user("olga", token=OWNER)
    api = HfApi(endpoint=hub_server.url)
    for repo, token in ((DATASET, DANA), (PUBLIC_DATASET, OWNER)):
        api.create_repo(repo, repo_type="dataset", private=repo == DATASET, token=token)
        api.upload_file(path_or_fileobj=make_sentiment_frame(40, seed=5).to_csv(index=False).encode(), path_in_repo="train.csv", repo_id=repo, repo_type="dataset", token=token)
    return api


# A fake token that must never be written anywhere: searched for in every file and log after a push.
# Built from parts so that secret scanners do not mistake this test constant for a real token.
CANARY = "hf_" + "CANARYc4n4ryT0ken" + "NeverWrittenAnywhere42"


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under a folder: to show that a failed push changed nothing local."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".alive"}


def files_containing(folder: Path, needle: str) -> list[str]:
    raw = needle.encode()
    return [str(p) for p in folder.rglob("*") if p.is_file() and raw in p.read_bytes()]


def front_matter(text: str) -> dict:
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    assert match, "no YAML front matter"
    return yaml.safe_load(match.group(1))


def import_space_app(space_id: str, token: str, cache_dir: Path, name: str = "demo_space_app"):
    """Download a Space as the Hub serves it and import its app.py, as the Space's runtime would."""
    import importlib.util

    from huggingface_hub import snapshot_download

    folder = snapshot_download(space_id, repo_type="space", token=token, cache_dir=cache_dir)
    spec = importlib.util.spec_from_file_location(name, Path(folder) / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
