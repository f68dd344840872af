"""The card and the demo Space follow the run's task: a tiny token-classification (NER) run, and a summarization one."""

from __future__ import annotations

import pytest
from hub_helpers import front_matter, import_space_app

from finetuner import hub
from finetuner.card import CardOptions, build_card


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory, tiny_model_dir):
    pytest.importorskip("finetuner.tasks.token_classification")
    from task_fixtures import make_ner_records, write_jsonl

    from finetuner.config import RunConfig
    from finetuner.runs import COMPLETED, RunStore
    from finetuner.train import run_training

    folder = tmp_path_factory.mktemp("hub-ner")
    data = write_jsonl(folder / "ner.jsonl", make_ner_records())
    config = RunConfig.from_dict({"task": "token-classification", "model_name_or_path": str(tiny_model_dir), "train_file": str(data), "max_steps": 4, "per_device_train_batch_size": 16, "eval_strategy": "steps", "eval_steps": 2, "logging_steps": 2, "max_seq_length": 32})
    run = RunStore(folder / "runs").create(config)
    assert run_training(run) == COMPLETED, run.status()
    return run


def test_ner_card_metadata_and_sections(ner_run):
    bundle = build_card(ner_run, CardOptions(repo_id="alice/tiny-ner"))
    meta = front_matter(bundle.text)
    assert meta["pipeline_tag"] == "token-classification" and "token-classification" in meta["tags"]
    metrics = {m["name"]: m for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert metrics["F1"]["value"] == round(ner_run.metrics("test")["test_f1"], 4)
    assert 'pipeline("token-classification", model="alice/tiny-ner", aggregation_strategy="first")' in bundle.text
    assert "Per entity type (test)" in bundle.text and "| person |" in bundle.text
    assert "classification head" in bundle.text  # an encoder with a token-classification head
    assert set(bundle.images) == {"images/training_curve.png", "images/confusion_matrix.png"}


def test_ner_demo_space(hub_server, alice, ner_run):
    hub.push_run(ner_run, "tiny-ner", token=alice)
    hub.deploy_demo_space("tiny-ner", token=alice, run=ner_run)
    app = hub_server.repo("alice/tiny-ner-demo", "space").text("app.py")
    assert "PIPELINE = 'token-classification'" in app
    assert front_matter(hub_server.repo("alice/tiny-ner-demo", "space").text("README.md"))["tags"] == ["finetuner", "token-classification"]


def test_pushed_tagger_finds_the_entities_the_studio_finds(hub_server, alice, ner_run, tmp_path, monkeypatch):
    """The model learns each word's tag on its first sub-token only: the card's snippet and the demo Space tag
    words by it, as the studio's Try it does, not by every sub-token (which split words into stray pieces)."""
    from task_fixtures import make_ner_records

    from finetuner.tasks.token_classification import TokenClassificationPredictor

    texts = [" ".join(r["tokens"]) for r in make_ner_records(6, seed=5)] + ["Ada Lovelace worked with Charles Babbage in London."]
    local = [[(e["type"], e["start"], e["end"]) for e in r["entities"]] for r in TokenClassificationPredictor(str(ner_run.model_dir)).predict(texts)]

    hub.push_run(ner_run, "words-ner", token=alice, private=False)
    hub.deploy_demo_space("words-ner", token=alice, run=ner_run)
    app = import_space_app("alice/words-ner-demo", alice, tmp_path / "space", name="ner_space_app")
    assert [[(e["entity"], e["start"], e["end"]) for e in app.predict(text)["entities"]] for text in texts] == local

    snippet = hub_server.repo("alice/words-ner").text("README.md").split("```python\n", 1)[1].split("```", 1)[0]
    printed = []
    exec(compile(snippet.replace("print(", "printed.append("), "card-snippet", "exec"), {"printed": printed})
    assert repr(texts[-1]) in snippet  # the card's placeholder example: the data is a local file
    assert [(e["entity_group"], int(e["start"]), int(e["end"])) for e in printed[0]] == local[-1]


@pytest.fixture(scope="module")
def summary_run(tmp_path_factory):
    """A completed summarization run whose model is a tiny untrained T5: what is checked is that the code
    published with it (the card's snippet, the demo Space's app) runs."""
    from support import completed_run
    from task_fixtures import build_tiny_t5, make_summary_records

    folder = tmp_path_factory.mktemp("hub-seq2seq")
    model = build_tiny_t5(folder / "t5", [r["document"] + " " + r["summary"] for r in make_summary_records(20)])
    return completed_run(folder / "runs", "summary-run", task="seq2seq", model_dir=model, data_report={"text_columns": ["document"]})


def test_summarization_card_snippet_and_demo_space_run(hub_server, alice, summary_run, tmp_path, capsys):
    """Transformers 5 removed the summarization pipeline: the card's snippet and the Space's app load the model themselves."""
    hub.push_run(summary_run, "tiny-summarizer", token=alice, private=False)
    readme = hub_server.repo("alice/tiny-summarizer").text("README.md")
    assert front_matter(readme)["pipeline_tag"] == "summarization"  # the Hub's task, whatever transformers calls it
    snippet = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'AutoModelForSeq2SeqLM.from_pretrained("alice/tiny-summarizer")' in snippet
    exec(compile(snippet, "card-snippet", "exec"), {})  # downloads from the loopback Hub and prints a summary
    assert capsys.readouterr().out.endswith("\n")

    hub.deploy_demo_space("tiny-summarizer", token=alice, run=summary_run)
    app = import_space_app("alice/tiny-summarizer-demo", alice, tmp_path / "space", name="summary_space_app")
    assert app.PIPELINE == "summarization"
    assert isinstance(app.predict("the cat won after a long day in the morning ."), str)


def test_summarizer_demo_space_and_snippet_summarize_as_the_studio_does(hub_server, alice, tmp_path, capsys):
    """A run's summaries are as long as its generation length (saved in the model's generation_config): the demo
    Space and the card's snippet stop there too, as Try it does, instead of at 256 and 128 tokens of their own."""
    import json

    from support import completed_run
    from task_fixtures import build_tiny_t5, make_summary_records

    from finetuner.config import RunConfig
    from finetuner.tasks.seq2seq import Seq2SeqPredictor

    model = build_tiny_t5(tmp_path / "t5", [r["document"] + " " + r["summary"] for r in make_summary_records(20)])
    run = completed_run(tmp_path / "runs", "short-summaries", task="seq2seq", model_dir=model, data_report={"text_columns": ["document"]})
    config = RunConfig.from_dict({"task": "seq2seq", "model_name_or_path": str(model), "generation_max_new_tokens": 6})
    config.save(run.config_path)
    settings = json.loads((run.model_dir / "generation_config.json").read_text())
    (run.model_dir / "generation_config.json").write_text(json.dumps({**settings, "max_new_tokens": 6}))  # as training saves it
    document = "the cat won after a long day in the morning ."
    local = Seq2SeqPredictor(str(run.model_dir)).generate([document])[0]  # the untrained model never stops early

    hub.push_run(run, "short-summarizer", token=alice, private=False)
    snippet = hub_server.repo("alice/short-summarizer").text("README.md").split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(snippet.replace("Replace this with a long text to summarize.", document), "card-snippet", "exec"), {})
    assert capsys.readouterr().out.strip() == local
    hub.deploy_demo_space("short-summarizer", token=alice, run=run)
    app = import_space_app("alice/short-summarizer-demo", alice, tmp_path / "space", name="short_summary_space_app")
    assert app.predict(document).strip() == local


def test_a_diverged_runs_nan_scores_are_not_published_as_results(tmp_path, tiny_model_dir):
    """A run whose loss became NaN can still complete: its card's model-index and summary leave the NaN out."""
    import json

    from support import completed_run

    run = completed_run(tmp_path / "runs", "diverged", task="causal-lm", model_dir=tiny_model_dir)
    run.eval_dir.mkdir(exist_ok=True)
    (run.eval_dir / "test_results.json").write_text(json.dumps({"test_loss": float("nan"), "test_perplexity": float("nan"), "test_rougeL": 0.125}))
    text = build_card(run, CardOptions(repo_id="alice/diverged"), images=False).text
    metrics = [m["name"] for m in front_matter(text)["model-index"][0]["results"][0]["metrics"]]
    assert metrics == ["ROUGE-L"]
    assert ".nan" not in text and "**nan**" not in text
    assert "it reaches ROUGE-L **0.1250**." in text


def test_demo_space_follows_the_model_not_another_chosen_run(hub_server, alice, ner_run, trained_run):
    """In the studio the Repository field keeps the name last typed while another run is chosen: the Space is
    built for the model in that repository (an NER tagger), not for the chosen run's task (classification)."""
    hub.push_run(ner_run, "tagger", token=alice)
    before = hub.hub_record(trained_run).get("space")
    hub.deploy_demo_space("tagger", token=alice, run=trained_run)
    assert "PIPELINE = 'token-classification'" in hub_server.repo("alice/tagger-demo", "space").text("app.py")
    assert hub.hub_record(trained_run).get("space") == before  # not recorded as that run's Space


@pytest.mark.parametrize("off", [False, "false"])
def test_card_claims_no_kept_checkpoint_when_load_best_model_at_end_is_off(tmp_path, tiny_model_dir, off):
    import shutil

    from finetuner.config import RunConfig
    from finetuner.runs import RunStore

    config = RunConfig.from_dict({"model_name_or_path": str(tiny_model_dir), "eval_strategy": "epoch", "extra_training_args": {"load_best_model_at_end": off}})
    run = RunStore(tmp_path / "runs").create(config)
    shutil.copytree(tiny_model_dir, run.model_dir)
    run.update_status(state="completed")
    assert "best checkpoint" not in build_card(run, images=False).text


@pytest.mark.parametrize(
    "task, column, placeholder",
    [("seq2seq", "document", "Replace this with a long text to summarize."), ("causal-lm", "prompt", "Write a haiku about fine-tuning.")],
)
def test_generative_cards_show_real_examples_from_a_hub_dataset(tmp_path, tiny_model_dir, task, column, placeholder):
    """A summarizer's and a causal LM's evaluation files name their inputs `document` and `prompt`: the card's
    snippet shows those, not the placeholder (the data is a public Hub dataset, so its texts may be shown)."""
    import shutil

    import pandas as pd

    from finetuner.config import RunConfig
    from finetuner.runs import RunStore

    config = RunConfig.from_dict({"task": task, "model_name_or_path": str(tiny_model_dir), "dataset_name": "acme/public-news", "max_seq_length": 64})
    run = RunStore(tmp_path / "runs").create(config)
    shutil.copytree(tiny_model_dir, run.model_dir)
    run.update_status(state="completed")
    run.eval_dir.mkdir(exist_ok=True)
    inputs = ["The council approved the new bridge after a long debate on Tuesday.", "Rain is expected across the north this weekend."]
    pd.DataFrame({column: inputs, "reference": ["a", "b"], "generated": ["c", "d"]}).to_csv(run.eval_dir / "generations_test.csv", index=False)

    bundle = build_card(run, CardOptions(repo_id="alice/real-examples"), images=False)
    assert bundle.example_texts == inputs
    assert repr(inputs[0]) in bundle.text and placeholder not in bundle.text


@pytest.mark.parametrize("created, published", [(["validation", "test"], "test (split from train)"), ([], "test")])
def test_model_index_says_when_its_split_was_cut_from_the_training_data(tmp_path, tiny_model_dir, created, published):
    """The Hub shows and compares model-index results by dataset and split name: a score on rows finetuner held
    out of the training data is not a score on the dataset's own test split, and its split name says so."""
    import json

    from support import completed_run

    run = completed_run(tmp_path / "runs", "held-out", task="text-classification", model_dir=tiny_model_dir, data_report={"created_splits": created, "label_names": ["negative", "positive"]})
    run.eval_dir.mkdir(exist_ok=True)
    (run.eval_dir / "test_results.json").write_text(json.dumps({"test_accuracy": 0.875, "test_f1_macro": 0.87}))
    results = front_matter(build_card(run, CardOptions(repo_id="alice/held-out"), images=False).text)["model-index"][0]["results"]
    assert [result["dataset"]["split"] for result in results] == [published]


@pytest.mark.parametrize(
    "data, options, hub_dataset",
    [
        ({"train_file": "imdb.csv"}, {}, None),
        ({"train_file": "imdb.csv"}, {"dataset_id": "stanfordnlp/imdb"}, "stanfordnlp/imdb"),
        ({"dataset_name": "stanfordnlp/imdb"}, {}, "stanfordnlp/imdb"),
    ],
)
def test_model_index_names_a_local_file_as_no_hub_dataset(tmp_path, tiny_model_dir, data, options, hub_dataset):
    """Trained on a local imdb.csv, the card's model-index named its dataset `imdb` (the file's slug): a real Hub
    dataset, which the Hub would link the card to. A local file is now named as one, by a type no Hub id can be, and
    the card still parses with huggingface_hub and validates; a Hub dataset id (given or trained on) stays the type."""
    import json
    import shutil

    from fakehub import validate_metadata
    from huggingface_hub import ModelCard
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    from finetuner.config import RunConfig
    from finetuner.runs import RunStore, write_json_atomic

    (tmp_path / "imdb.csv").write_text("text,label\ngood,1\nbad,0\n")
    values = {k: str(tmp_path / v) if k == "train_file" else v for k, v in data.items()}
    run = RunStore(tmp_path / "runs").create(RunConfig.from_dict({"task": "text-classification", "model_name_or_path": str(tiny_model_dir), **values}))
    shutil.copytree(tiny_model_dir, run.model_dir)
    write_json_atomic(run.path / "data_report.json", {"label_names": ["negative", "positive"]})
    run.update_status(state="completed")
    run.eval_dir.mkdir(exist_ok=True)
    (run.eval_dir / "test_results.json").write_text(json.dumps({"test_accuracy": 0.875, "test_f1_macro": 0.87}))

    text = build_card(run, CardOptions(repo_id="alice/imdb-model", **options), images=False).text
    dataset = front_matter(text)["model-index"][0]["results"][0]["dataset"]
    assert validate_metadata(text, "model") == []
    parsed = ModelCard(text).data  # huggingface_hub raises on a model-index it cannot read
    assert parsed.to_dict()["model-index"] == front_matter(text)["model-index"], "read back and written again unchanged"
    assert parsed.eval_results[0].dataset_type == dataset["type"] and parsed.eval_results[0].metric_value == 0.875
    if hub_dataset:
        assert dataset["type"] == hub_dataset and parsed.datasets == [hub_dataset]
    else:
        assert (dataset["type"], dataset["name"]) == ("local:imdb.csv", "imdb.csv (local file)")
        with pytest.raises(HFValidationError):
            validate_repo_id(dataset["type"])
        assert parsed.datasets is None


def test_demo_spaces_read_a_text_longer_than_the_model_to_its_end(hub_server, alice, ner_run, trained_run, tmp_path):
    """A pasted article is longer than the model's positions: the classifier's Space truncates it (as predicting
    with the model folder does) instead of failing with a tensor size error, and the tagger's Space tags it to
    its end in overlapping windows, as the studio does, instead of stopping silently after the first one."""
    from finetuner.inference import Predictor
    from finetuner.tasks.token_classification import TokenClassificationPredictor

    sentence = "Ada Lovelace worked with Charles Babbage in London . "
    text = sentence * 60  # about 900 sub-tokens; the tiny models read 128

    hub.push_run(trained_run, "long-classifier", token=alice, private=False)
    hub.deploy_demo_space("long-classifier", token=alice, run=trained_run)
    classifier = import_space_app("alice/long-classifier-demo", alice, tmp_path / "classifier", name="long_classifier_app")
    local = Predictor(str(trained_run.model_dir)).predict([text])[0]
    scores = classifier.predict(text)
    assert scores.keys() == local.keys() and all(abs(scores[k] - local[k]) < 1e-5 for k in local)

    hub.push_run(ner_run, "long-tagger", token=alice, private=False)
    hub.deploy_demo_space("long-tagger", token=alice, run=ner_run)
    tagger = import_space_app("alice/long-tagger-demo", alice, tmp_path / "tagger", name="long_tagger_app")
    studio = TokenClassificationPredictor(str(ner_run.model_dir)).predict([text])[0]["entities"]
    # Which words a tiny model tags moves between runs of the suite (in one, the last sentence went untagged); that
    # it tags far past its first window of 128 positions (about 7 of the 60 sentences) does not.
    assert studio and studio[-1]["end"] > len(text) // 2, "the studio tags the text well past the model's first window"
    assert max(e["end"] for e in tagger.predict(text)["entities"]) > len(text) // 2, "so does the Space"


def test_a_hybrid_reasoning_models_snippet_and_space_prompt_it_as_training_did(hub_server, alice, tmp_path, monkeypatch):
    """finetuner trains and asks a Qwen3-style model with thinking off: its generation prompt then ends with an empty
    reasoning block. The card's snippet and the demo Space rendered the template with thinking on (the block left
    out), a prompt the model never saw in training; they now prompt it as Try it does."""
    import sys

    from task_fixtures import build_tiny_family, make_instruction_records, write_jsonl
    from transformers import PreTrainedTokenizerBase

    from finetuner.config import RunConfig
    from finetuner.runs import COMPLETED, RunStore
    from finetuner.tasks import causal_lm
    from finetuner.train import run_training

    records = make_instruction_records(16)
    model_dir = build_tiny_family(tmp_path / "qwen3", "qwen3", [r["instruction"] + " " + r["output"] for r in records])
    config = RunConfig.from_dict({
        "task": "causal-lm", "model_name_or_path": str(model_dir), "train_file": str(write_jsonl(tmp_path / "data.jsonl", records)),
        "max_steps": 2, "per_device_train_batch_size": 8, "eval_strategy": "no", "save_strategy": "no", "test_split_ratio": 0,
        "max_seq_length": 64, "generation_max_new_tokens": 4, "generation_num_samples": 2,
    })
    run = RunStore(tmp_path / "runs").create(config)
    assert run_training(run) == COMPLETED, run.status()
    tokenizer = causal_lm.load_tokenizer(config)
    question = [{"role": "user", "content": records[0]["instruction"]}]
    as_trained = causal_lm.render(tokenizer, question, add_generation_prompt=True, tokenize=False)
    assert as_trained.endswith("<think>\n\n</think>\n\n")

    prompts = []  # what the snippet and the Space render, whatever else they ask of the template
    original = PreTrainedTokenizerBase.apply_chat_template

    def recorded(self, conversation, *args, **kwargs):
        prompts.append(original(self, conversation, *args, **{**kwargs, "tokenize": False, "return_dict": False, "return_tensors": None}))
        return original(self, conversation, *args, **kwargs)

    monkeypatch.setattr(PreTrainedTokenizerBase, "apply_chat_template", recorded)
    hub.push_run(run, "tiny-thinker", token=alice, private=False)
    snippet = hub_server.repo("alice/tiny-thinker").text("README.md").split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(snippet.replace(repr(records[0]["instruction"]), "QUESTION").replace("Write a haiku about fine-tuning.", records[0]["instruction"]), "card-snippet", "exec"), {"QUESTION": records[0]["instruction"]})
    assert prompts and prompts[-1] == as_trained, "the card's snippet"

    hub.deploy_demo_space("tiny-thinker", token=alice, run=run)
    app = import_space_app("alice/tiny-thinker-demo", alice, tmp_path / "space", name="thinker_space_app")
    try:
        app.predict(records[0]["instruction"])
    finally:
        sys.modules.pop("thinker_space_app", None)
    assert prompts[-1] == as_trained, "the demo Space"
