"""Hub datasets through the studio's API: a configuration and a split chosen by name, wrong names answered
with the ones that exist, and a trained run evaluated on a Hub split.

The Hub is unreachable in tests, so the dataset is a folder laid out as a Hub dataset repository: data
files per split and a README whose YAML declares two configurations (their files and ClassLabel names).
The test works from the folder above it, so the studio is given the Hub-style id 'acme/reviews'. The
studio's code calls `datasets.load_dataset(id, config)` exactly as for the Hub; only inside datasets does
the path differ: an id that names an existing folder is read by its local module factory instead of
being fetched, and both read the README's configurations the same way.
"""

from __future__ import annotations

import pytest
from gradio_client.exceptions import AppError

from support import follow_to_end, make_sentiment_frame

README = """---
dataset_info:
- config_name: en
  features:
  - name: sentence
    dtype: string
  - name: label
    dtype:
      class_label:
        names:
          '0': negative
          '1': positive
- config_name: fr
  features:
  - name: sentence
    dtype: string
  - name: label
    dtype:
      class_label:
        names:
          '0': negatif
          '1': positif
configs:
- config_name: en
  data_files:
  - split: train
    path: en/train.csv
  - split: test
    path: en/test.csv
- config_name: fr
  data_files:
  - split: full
    path: fr/full.csv
  - split: dev
    path: fr/dev.csv
---
# Reviews, in English and French
"""


@pytest.fixture(scope="module")
def hub_root(tmp_path_factory):
    """A folder holding the dataset repository 'acme/reviews'."""
    root = tmp_path_factory.mktemp("hub")
    repo = root / "acme" / "reviews"
    (repo / "en").mkdir(parents=True)
    (repo / "fr").mkdir()
    (repo / "README.md").write_text(README)
    english = make_sentiment_frame(50, seed=3).rename(columns={"text": "sentence"})
    english["label"] = (english["label"] == "positive").astype(int)
    english[:40].to_csv(repo / "en" / "train.csv", index=False)
    english[40:].to_csv(repo / "en" / "test.csv", index=False)
    french = english.assign(sentence=[f"critique {i} : " + ("superbe" if y else "ennuyeux") for i, y in enumerate(english["label"])])
    french[:24].to_csv(repo / "fr" / "full.csv", index=False)
    french[24:32].to_csv(repo / "fr" / "dev.csv", index=False)
    return root


@pytest.fixture
def at_hub(hub_root, monkeypatch, tmp_path):
    """The studio resolves 'acme/reviews' in `hub_root`; datasets' cache goes to a temporary folder."""
    import datasets

    monkeypatch.chdir(hub_root)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "datasets-cache"))


def load_hub(client, dataset, config, split):
    return client.predict(
        task="text-classification", source="Hugging Face Hub", train_file=None, validation_file=None, test_file=None,
        hub_dataset=dataset, hub_config=config, hub_split=split, api_name="/load_dataset",
    )


def test_load_a_configuration_and_split_by_name(client, at_hub):
    summary, checks, text_column, _, label_column, preview, *_ = load_hub(client, "acme/reviews", "fr", "full")
    # The 24 rows of split 'full' train (2 held out for a test split), the 'dev' split validates.
    assert summary.startswith("**acme/reviews (fr)** · 32 rows: train **22** · validation **8** · test **2** (split from train)")
    assert "`negatif`" in summary and "`positif`" in summary, "labels keep the configuration's own class names"
    assert text_column["value"] == "sentence" and label_column["value"] == "label"
    preview = preview.get("value", preview)
    assert preview["headers"] == ["#", "sentence", "label"] and len(preview["data"]) == 24
    assert preview["data"][:2] == [[0, "critique 0 : superbe", "positif"], [1, "critique 1 : ennuyeux", "negatif"]]


@pytest.mark.parametrize(
    ("config", "split", "words"),
    [
        ("fr", "train", "Dataset 'acme/reviews' (configuration 'fr') has no split 'train'; it has: full, dev."),
        ("de", "train", "Dataset 'acme/reviews' has no configuration 'de'; it has: en, fr."),
        ("", "train", "Dataset 'acme/reviews' has several configurations; enter one of: en, fr."),
    ],
)
def test_wrong_names_are_answered_with_the_ones_that_exist(client, at_hub, config, split, words):
    with pytest.raises(AppError) as raised:
        load_hub(client, "acme/reviews", config, split)
    assert words in str(raised.value)


def test_evaluate_a_run_on_a_hub_split(client, tiny_model_dir, reviews_csv, at_hub):
    from gradio_client import handle_file

    client.predict(task="text-classification", source="Upload files", train_file=handle_file(str(reviews_csv)), validation_file=None, test_file=None, api_name="/load_dataset")
    run_id, _, _ = client.predict(
        model_name_or_path=str(tiny_model_dir), max_seq_length=32, learning_rate=3e-3, per_device_train_batch_size=8, num_train_epochs=1, warmup_steps=0,
        api_name="/start_training",
    )
    assert follow_to_end(client, run_id)["state"] == "completed"

    splits, headline, metrics, per_class, *_ = client.predict(run_id, None, "acme/reviews", "en", "test", api_name="/evaluate_run")
    assert splits["value"] == "extra:acme-reviews-test"
    assert "on **acme-reviews-test** (10 examples)" in headline and "accuracy" in headline
    support = {row[per_class["headers"].index("label")]: row[per_class["headers"].index("support")] for row in per_class["data"]}
    assert support == {"negative": 5, "positive": 5}, "per-class support counts the split's rows"

    with pytest.raises(AppError) as raised:
        client.predict(run_id, None, "acme/reviews", "en", "validation", api_name="/evaluate_run")
    assert "(configuration 'en') has no split 'validation'; it has: train, test." in str(raised.value)
    assert "The report below is still the one shown before." in str(raised.value), "what still holds after the failure"
