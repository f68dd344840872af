"""Measured token lengths are kept for the last few (data, model, max length) keys, so the plan can count what
training leaves out without loading a tokenizer, and benchmarks/studio_latency.py forgets them before each repeat
so that every repeat is timed as a first load (it called `_token_stats.cache_clear()`, gone with the lru_cache,
and stopped with an AttributeError before timing anything)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from finetuner.ui import services


@pytest.fixture
def measured(monkeypatch):
    """The keys measured, in order; each measure is a fresh dict naming its key."""
    calls = []
    monkeypatch.setattr(services, "_measure_token_stats", lambda key, model, max_length: calls.append(key) or {"train": {"key": key}})
    services.forget_token_stats()
    yield calls
    services.forget_token_stats()


def test_the_last_keys_are_kept_and_the_oldest_measured_anew(measured):
    keys = [f"data-{i}" for i in range(services.MAX_MEASURED_STATS + 1)]
    for key in keys[:-1]:
        services._token_stats(key, "model", 128)
    assert services._token_stats(keys[0], "model", 128) == {"train": {"key": keys[0]}}  # kept, and now the latest used
    assert services._measured_token_stats(keys[1], "model", 64) is None  # another max length: not measured
    services._token_stats(keys[-1], "model", 128)  # one more than is kept: the least recently used goes
    assert services._measured_token_stats(keys[1], "model", 128) is None
    assert services._measured_token_stats(keys[0], "model", 128) == {"train": {"key": keys[0]}}
    assert measured == keys


def test_the_latency_benchmark_measures_each_repeat_anew(measured):
    spec = importlib.util.spec_from_file_location("studio_latency", Path(__file__).resolve().parents[2] / "benchmarks" / "studio_latency.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    services._token_stats("data", "model", 128)
    benchmark.forget_loaded_data()
    assert services._measured_token_stats("data", "model", 128) is None
    services._token_stats("data", "model", 128)
    assert measured == ["data", "data"]
