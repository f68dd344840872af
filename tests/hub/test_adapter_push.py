"""A causal-LM run trained with LoRA, pushed as its adapter: the adapter files and no full weights, a card
for peft, the base model named by its Hub id, and adapters that load back with peft and answer exactly
as the run's merged model does. From the engine, the CLI and the card preview."""

from __future__ import annotations

import json

import pytest
from hub_helpers import front_matter

from finetuner import hub
from finetuner.card import CardOptions, build_card
from finetuner.cli import main
from finetuner.errors import RunError

BASE = "alice/tiny-llama"  # where the tests say the run's base model lives on the Hub


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    pytest.importorskip("peft")
    from task_fixtures import build_tiny_causal_lm, make_instruction_records, write_jsonl

    from finetuner.config import RunConfig
    from finetuner.runs import COMPLETED, RunStore
    from finetuner.train import run_training

    folder = tmp_path_factory.mktemp("hub-lora")
    records = make_instruction_records(48)
    model_dir = build_tiny_causal_lm(folder / "base", [r["instruction"] + " " + r["output"] for r in records])
    config = RunConfig.from_dict(
        {
            "task": "causal-lm", "model_name_or_path": str(model_dir), "train_file": str(write_jsonl(folder / "data.jsonl", records)),
            "use_lora": True, "lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "learning_rate": 1e-2, "max_steps": 4,
            "per_device_train_batch_size": 8, "eval_strategy": "no", "logging_steps": 2, "warmup_steps": 0,
            "max_seq_length": 64, "generation_max_new_tokens": 4, "generation_num_samples": 2,
        }
    )
    run = RunStore(folder / "runs").create(config, owner="alice")
    assert run_training(run) == COMPLETED, run.status()
    assert (run.path / "adapter" / "adapter_model.safetensors").is_file()
    return run


def test_adapter_push_holds_the_adapter_and_a_peft_card(hub_server, alice, lora_run, tmp_path):
    result = hub.push_run(lora_run, "tiny-lora", token=alice, private=False, adapter=True, card_options=CardOptions(base_model=BASE))
    repo = hub_server.repo("alice/tiny-lora")
    files = set(repo.files)
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md", "training_config.yaml"} <= files
    assert "model.safetensors" not in files and not any(name.startswith("pytorch_model") for name in files), "no full weights"
    assert set(result.files) == files - {".gitattributes"}  # the Hub adds .gitattributes to a new repo
    assert json.loads(repo.text("adapter_config.json"))["base_model_name_or_path"] == BASE  # never a folder of this machine
    assert str(lora_run.path.parent.parent) not in repo.text("adapter_config.json")

    card = repo.text("README.md")
    meta = front_matter(card)
    assert meta["library_name"] == "peft" and meta["base_model"] == BASE
    assert meta["pipeline_tag"] == "text-generation" and {"lora", "peft"} <= set(meta["tags"])
    assert 'AutoPeftModelForCausalLM.from_pretrained("alice/tiny-lora")' in card and "merge_and_unload" in card
    assert "LoRA adapters (rank 4, alpha 8)" in card and "merged into these weights" not in card
    assert hub.hub_record(lora_run)["model"]["adapter"] is True
    assert any(e.get("type") == "push" and e.get("adapter") for e in lora_run.events())

    # The adapters load back with peft on the base model and answer as the run's merged model does.
    import torch
    from huggingface_hub import snapshot_download
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = snapshot_download("alice/tiny-lora", endpoint=hub_server.url, cache_dir=tmp_path / "cache")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(lora_run.config().model.model_name_or_path), folder).eval()
    merged = AutoModelForCausalLM.from_pretrained(lora_run.model_dir).eval()
    inputs = tokenizer(["what colour is the sky?"], return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(adapted(**inputs).logits, merged(**inputs).logits, atol=1e-4)


def test_adapter_needs_a_lora_run_and_a_hub_base(hub_server, alice, lora_run, trained_run):
    with pytest.raises(RunError, match="not trained with LoRA"):
        hub.push_run(trained_run, "not-lora", token=alice, adapter=True)
    with pytest.raises(RunError, match="must be on the Hub") as caught:
        hub.push_run(lora_run, "no-base", token=alice, adapter=True)  # the base is a local folder: say what to do
    assert "--base_model" in str(caught.value)
    # The studio's field is folded away under "Model card details": the message says where (it said "in the studio").
    assert "'Base model on the Hub' under the Hub tab's Model card details" in str(caught.value)
    assert not hub_server.requests_to("POST", "/api/repos/create")
    # Without adapter=True the same run pushes its merged weights, as before.
    hub.push_run(lora_run, "tiny-merged", token=alice)
    files = set(hub_server.repo("alice/tiny-merged").files)
    assert "model.safetensors" in files and "adapter_config.json" not in files
    assert front_matter(hub_server.repo("alice/tiny-merged").text("README.md"))["library_name"] == "transformers"


def test_cli_push_adapter_and_card_preview(hub_server, alice, lora_run, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("HF_TOKEN", alice)
    runs = ["--runs_dir", str(lora_run.path.parent)]
    assert main([*runs, "card", lora_run.id, "--adapter", "--base_model", BASE, "--repo_id", "alice/cli-lora"]) == 0
    assert "library_name: peft" in capsys.readouterr().out
    assert main([*runs, "push", lora_run.id, "--adapter", "--base_model", BASE, "--repo_id", "cli-lora"]) == 0
    assert "Pushed alice/cli-lora" in capsys.readouterr().out
    files = set(hub_server.repo("alice/cli-lora").files)
    assert "adapter_model.safetensors" in files and "model.safetensors" not in files
    assert main([*runs, "push", lora_run.id, "--adapter", "--repo_id", "cli-lora-2"]) == 2
    assert "must be on the Hub" in capsys.readouterr().err


def test_card_preview_of_the_merged_model_is_unchanged(lora_run):
    text = build_card(lora_run, CardOptions(repo_id="alice/x")).text
    assert front_matter(text)["library_name"] == "transformers" and "merged into these weights" in text


def test_demo_space_of_an_adapter_repo_answers(hub_server, alice, lora_run, tmp_path):
    """The Space's pipeline loads an adapter repo's base model and then the adapters, which needs peft, and
    the adapter repo's own tokenizer: the base's has no chat template here (the run gave it one)."""
    import re

    from huggingface_hub import HfApi
    from hub_helpers import import_space_app

    HfApi(endpoint=hub_server.url).create_repo(BASE, token=alice)
    HfApi(endpoint=hub_server.url).upload_folder(folder_path=lora_run.config().model.model_name_or_path, repo_id=BASE, token=alice)
    hub.push_run(lora_run, "tiny-lora-demo", token=alice, private=False, adapter=True, card_options=CardOptions(base_model=BASE))
    result = hub.deploy_demo_space("tiny-lora-demo", token=alice, run=lora_run)
    space = hub_server.repo(result.space_id, "space")
    requirements = space.text("requirements.txt")
    assert re.search(r"^peft==\d", requirements, re.M) and re.search(r"^transformers==\d", requirements, re.M)
    app = import_space_app(result.space_id, alice, tmp_path / "space", name="adapter_space_app")
    assert app.MODEL_ID == "alice/tiny-lora-demo" and app.PIPELINE == "text-generation"
    assert isinstance(app.predict("what colour is the sky?"), str)


def test_a_push_replaces_the_earlier_upload_and_keeps_the_users_own_files(hub_server, alice, lora_run):
    """Merged weights, then the adapter, then the merged weights again into one repo: each push leaves one
    model there (an adapter_config.json left beside merged weights makes transformers load the base model
    plus that adapter, not the weights the card describes), and files the user added stay."""
    from huggingface_hub import HfApi

    hub.push_run(lora_run, "switching", token=alice)
    api = HfApi(endpoint=hub_server.url)
    api.upload_file(path_or_fileobj=b"my notes", path_in_repo="NOTES.md", repo_id="alice/switching", token=alice)
    api.upload_file(path_or_fileobj=b"onnx", path_in_repo="onnx/model.onnx", repo_id="alice/switching", token=alice)
    own = {"NOTES.md", "onnx/model.onnx"}

    as_adapter = hub.push_run(lora_run, "switching", token=alice, adapter=True, card_options=CardOptions(base_model=BASE))
    files = set(hub_server.repo("alice/switching").files)
    assert {"adapter_config.json", "adapter_model.safetensors"} | own <= files
    assert not files & {"model.safetensors", "config.json", "generation_config.json"}, "the earlier full weights are gone"
    assert any("model.safetensors" in w and "deleted" in w for w in as_adapter.warnings)

    merged = hub.push_run(lora_run, "switching", token=alice)
    files = set(hub_server.repo("alice/switching").files)
    assert {"model.safetensors", "config.json"} | own <= files
    assert not files & {"adapter_config.json", "adapter_model.safetensors"}
    assert any("adapter_config.json" in w for w in merged.warnings)
    again = hub.push_run(lora_run, "switching", token=alice).warnings  # the same push again deletes nothing, and changes nothing
    assert not any("deleted" in w for w in again) and any("nothing was uploaded" in w for w in again)


def test_causal_lm_card_tables_what_it_reports_and_claims_only_what_the_run_did(lora_run):
    """Every model-index score has its row in the evaluation table; a run without evaluations during training
    does not claim its validation split chose a checkpoint; the base-model baseline is not said to be trained."""
    text = build_card(lora_run, CardOptions(repo_id="alice/x")).text
    evaluation = text.split("## Evaluation", 1)[1]
    names = [metric["name"] for result in front_matter(text)["model-index"][0]["results"] for metric in result["metrics"]]
    assert "ROUGE-L" in names and "BLEU" in names
    for name in names:
        assert f"| {name} |" in evaluation, name
    assert lora_run.config().training.eval_strategy == "no"
    assert "choose the best checkpoint" not in text and "best checkpoint" not in text.split("## Evaluation")[0]
    assert "Base model (before fine-tuning) answers the same prompts" in evaluation
    assert "training split alone" not in text
    assert "![Training loss by step (no evaluation during training)](images/training_curve.png)" in text and "validation loss" not in text
    assert "| warmup_steps | 0 |" in text  # no warmup, not "0 (share of all steps)"
