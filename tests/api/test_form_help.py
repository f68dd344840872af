"""Every hyperparameter a user changes on the Training tab carries its one-line explanation, read from
the page config the browser receives (GET /config of the running studio)."""

from __future__ import annotations

import httpx
import pytest

TRAIN_TAB = "2 · Train"
# The hyperparameters the studio issue names, by the label a user sees.
HYPERPARAMETERS = {
    "learning rate": "Learning rate",
    "weight decay": "Weight decay",
    "batch size": "Batch size",
    "epochs": "Epochs",
    "warmup": "Warm-up",
    "scheduler": "Learning-rate schedule",
    "max length": "Max length (tokens)",
    "gradient accumulation": "Gradient accumulation",
    "seed": "Seed",
    "evaluation strategy": "Evaluate",
    "early stopping": "Early stopping patience",
}
ONE_LINE = 120  # characters: what fits under a form field without wrapping into a paragraph


@pytest.fixture(scope="module")
def train_tab_fields(studio) -> dict[str, dict]:
    """label -> props of every component inside the Training tab, as the browser gets them."""
    config = httpx.get(studio[0].rstrip("/") + "/config", timeout=30).raise_for_status().json()
    components = {c["id"]: c for c in config["components"]}

    def find(node):
        if components.get(node["id"], {}).get("props", {}).get("label") == TRAIN_TAB:
            return node
        return next((found for child in node.get("children", []) if (found := find(child))), None)

    def inside(node):
        yield components[node["id"]]
        for child in node.get("children", []):
            yield from inside(child)

    tab = find(config["layout"])
    assert tab is not None, f"no tab labelled {TRAIN_TAB!r}"
    return {c["props"]["label"]: c["props"] for c in inside(tab) if c.get("props", {}).get("label")}


@pytest.mark.parametrize(("name", "label"), HYPERPARAMETERS.items(), ids=list(HYPERPARAMETERS))
def test_each_hyperparameter_explains_itself_in_one_line(train_tab_fields, name, label):
    assert label in train_tab_fields, f"the Training tab has no field labelled {label!r} ({name})"
    info = (train_tab_fields[label].get("info") or "").strip()
    assert info, f"{label!r} has no explanation"
    assert "\n" not in info and len(info) <= ONE_LINE, f"{label!r}'s explanation is not one line: {info!r}"
