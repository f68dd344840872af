"""The split the tool makes when real data has no validation file: small samples of BANKING77 (77 intents)
and WNUT-17 (rare tags) used to lose a class or tag from train and then blame the validation data."""

from __future__ import annotations

import pandas as pd
import pytest

from support import require_shared_data
from finetuner.config import DataConfig
from finetuner.data import prepare, prepare_token_data


@pytest.mark.parametrize("seed", [42, 1])
def test_300_banking77_rows_split_keeping_every_intent_in_train(tmp_path, seed):
    banking = require_shared_data("banking77")
    rows = pd.read_csv(banking / "train.csv", dtype=str, keep_default_na=False).sample(300, random_state=0)
    rows.to_csv(tmp_path / "banking300.csv", index=False)
    prepared = prepare(DataConfig(train_file=str(tmp_path / "banking300.csv")), seed=seed)
    report = prepared.report
    assert set(report.class_counts["train"]) == set(rows["label"])
    assert report.split_sizes == {"train": 240, "validation": 30, "test": 30}
    absent = len(set(rows["label"])) - len(report.class_counts["validation"])
    assert any(w.startswith(f"validation has no rows of {absent} of the {len(set(rows['label']))} classes") for w in report.warnings)


@pytest.mark.parametrize("seed", [42, 1])
def test_200_wnut17_sentences_split_keeping_every_tag_in_train(tmp_path, seed):
    wnut = require_shared_data("wnut17")
    lines = (wnut / "train.jsonl").read_text(encoding="utf-8").splitlines()[:200]
    (tmp_path / "wnut200.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = prepare_token_data(DataConfig(train_file=str(tmp_path / "wnut200.jsonl")), seed=seed)
    assert sum(data.report["split_sizes"].values()) == 200
    held_out_tags = {data.label_names[t] for role in ("validation", "test") for row in data.splits[role]["tags"] for t in row}
    train_tags = {data.label_names[t] for row in data.splits["train"]["tags"] for t in row}
    assert held_out_tags <= train_tags
