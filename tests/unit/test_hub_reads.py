"""Whether the Hub lets anyone read a repo decides where a visitor's download goes; the page asks it once a request."""

from __future__ import annotations

from finetuner import hub_reads


def test_whether_anyone_may_read_is_asked_once_a_request_per_repo_and_kind(monkeypatch, tmp_path):
    """Loading a private dataset asks where it goes more than once (the load, its configs and splits): each asked
    the Hub again. A model with the same id is a different repo and is asked on its own."""
    asked = []
    monkeypatch.setattr(hub_reads, "_may_read", lambda token, kind, repo: asked.append((token, kind, repo)) or False)
    monkeypatch.setattr(hub_reads, "_user_of", lambda token, ask=True: "dana")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))  # a private model's folder is marked
    with hub_reads.reading_as("hf_dana"):
        first = hub_reads.datasets_cache("hf_dana", "dana/notes")
        assert first and first.endswith("dana"), "a private dataset goes to dana's own folder"
        assert hub_reads.datasets_cache("hf_dana", "dana/notes") == first
        assert hub_reads.models_cache("dana/notes", "hf_dana").endswith("dana")
        assert hub_reads.models_cache("dana/notes", "hf_dana").endswith("dana")
    assert asked == [(False, "dataset", "dana/notes"), (False, "model", "dana/notes")]
