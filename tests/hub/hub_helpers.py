"""Small helpers shared by the Hub tests."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml

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
