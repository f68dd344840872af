"""Instruction tuning across model families, each a tiny random model with its family's tokenizer kind, special tokens
and chat template (tests/task_fixtures.py): GPT-2 (no template, no padding token), Llama 3, Qwen2, Qwen3 (hybrid reasoning),
Mistral (with its template and without: a tokenizer that starts every text with <s>), Gemma 2 and Phi-3. What a user sees of each: the
inspector's loss tokens, the counts before launch, a run whose loss falls, a chat that stops at the end of its turn,
and LoRA adapters that reload as the merged model; the base model scored a few tokens at a time, as its own logits score it."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from finetuner.config import RunConfig
from finetuner.estimate import count_parameters
from finetuner.inference import load_predictor
from finetuner.runs import COMPLETED, RunStore
from finetuner.tasks import causal_lm
from finetuner.train import run_training
from task_fixtures import FAMILY_TOKENIZERS, build_tiny_family, make_instruction_records, reference_token_loss, write_jsonl

FAMILIES = list(FAMILY_TOKENIZERS)
QUESTION = [{"role": "user", "content": "what colour is the sky?"}]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    records = make_instruction_records(32)
    return records, write_jsonl(tmp_path_factory.mktemp("lm-data") / "data.jsonl", records)


@pytest.fixture(scope="module", params=FAMILIES)
def family(request, tmp_path_factory, data):
    records, _ = data
    folder = tmp_path_factory.mktemp(request.param)
    return request.param, build_tiny_family(folder / "model", request.param, [r["instruction"] + " " + r["output"] for r in records])


def lm_config(model_dir, data_file=None, **overrides) -> RunConfig:
    values = {
        "task": "causal-lm", "model_name_or_path": str(model_dir), "max_seq_length": 64, "generation_max_new_tokens": 8, "generation_num_samples": 2,
        "learning_rate": 1e-2, "per_device_train_batch_size": 8, "max_steps": 40, "logging_steps": 5, "warmup_steps": 0, "eval_strategy": "no",
        "save_strategy": "no", "test_split_ratio": 0, **({"train_file": str(data_file)} if data_file else {}), **overrides,
    }
    return RunConfig.from_dict(values)


def test_the_inspector_shows_the_answer_and_its_end_of_turn_as_the_only_loss_tokens(family):
    name, model_dir = family
    config = lm_config(model_dir)
    tokenizer, model = causal_lm.load_tokenizer(config), causal_lm.build_model(config)
    shown = causal_lm.inspect_example(tokenizer, {"prompt": QUESTION, "completion": "the sky is blue."}, config)
    start = shown["loss_mask"].index(1)
    assert shown["labels"][:start] == [-100] * start and all(shown["loss_mask"][start:]), "the prompt, template included, carries no loss; the answer all of it"
    learned = shown["input_ids"][start:]
    assert tokenizer.decode(learned, skip_special_tokens=True).strip() == "the sky is blue."
    stops = causal_lm.stop_token_ids(model, tokenizer)
    assert set(learned) & set(stops), f"{name}: the token that ends the answer is learned and ends generation"
    if tokenizer("a")["input_ids"][0] == tokenizer.bos_token_id:  # Llama 3's, Mistral's, Gemma's: the BOS first, once
        assert shown["input_ids"][0] == tokenizer.bos_token_id and shown["input_ids"].count(tokenizer.bos_token_id) == 1


def test_counts_before_launch_are_the_model_s(family, tmp_path):
    """The estimate's count from config.json alone (weights not yet downloaded) and from the weights, and LoRA's
    trainable count on the meta device, against the model and peft."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    _, model_dir = family
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    real = sum(p.numel() for p in model.parameters())
    shutil.copy(model_dir / "config.json", tmp_path / "config.json")
    assert count_parameters(str(model_dir)).total == real
    assert count_parameters(str(tmp_path)).total == real
    config = lm_config(model_dir, use_lora=True, lora_r=4)
    trainable, total = get_peft_model(model, causal_lm.lora_config(config)).get_nb_trainable_parameters()
    assert causal_lm.parameter_counts(config) == {"trainable_parameters": trainable, "total_parameters": total, "trainable_share": trainable / total}


@pytest.mark.parametrize("name", ["gpt2", "mistral-base", "qwen2", "phi3"])  # stops: the plain template's end of text, a turn's end that is not it, and one before it
def test_training_then_a_chat_that_stops_at_the_end_of_its_turn(name, data, tmp_path):
    records, data_file = data
    model_dir = build_tiny_family(tmp_path / "model", name, [r["instruction"] + " " + r["output"] for r in records])
    run = RunStore(tmp_path / "runs").create(lm_config(model_dir, data_file))
    assert run_training(run) == COMPLETED, run.status()
    losses = [e["metrics"]["loss"] for e in run.events() if e["type"] == "log" and "loss" in e["metrics"]]
    assert losses[-1] < losses[0] * 0.6
    metrics = run.metrics("validation")
    assert metrics["eval_perplexity"] == pytest.approx(math.exp(metrics["eval_loss"])) and "eval_rougeL" in metrics and "eval_bleu" in metrics
    predictor = load_predictor(str(run.path), runs_dir=str(tmp_path / "runs"))
    answer = predictor.chat(QUESTION, max_new_tokens=20)
    assert list(predictor.stream(QUESTION, max_new_tokens=20))[-1] == answer
    prompt = predictor._inputs(QUESTION, 20)
    generated = predictor.model.generate(**prompt, **predictor._options(20, 0.0, 1.0))[0, prompt["input_ids"].shape[1]:].tolist()
    assert len(generated) < 20 and generated[-1] in causal_lm.stop_token_ids(predictor.model, predictor.tokenizer), f"{name}: {answer!r} ends at its turn's end"
    assert answer == predictor.tokenizer.decode(generated, skip_special_tokens=True).strip() and answer.startswith("the")


@pytest.mark.parametrize("name", ["gpt2", "phi3"])  # Conv1D layers; fused projections (qkv_proj, gate_up_proj)
def test_lora_adapters_reload_as_the_merged_model(name, data, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    records, data_file = data
    model_dir = build_tiny_family(tmp_path / "model", name, [r["instruction"] + " " + r["output"] for r in records])
    config = lm_config(model_dir, data_file, use_lora=True, lora_r=4, learning_rate=3e-2, max_steps=4, logging_steps=1)
    run = RunStore(tmp_path / "runs").create(config)
    assert run_training(run) == COMPLETED, run.status()
    info = json.loads((run.path / "model_info.json").read_text())
    assert info["trainable_parameters"] == causal_lm.parameter_counts(config)["trainable_parameters"]
    ids = torch.tensor([[1, 5, 7, 9, 11]])
    with torch.no_grad():
        adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir), run.path / "adapter").eval()(ids).logits
        merged = AutoModelForCausalLM.from_pretrained(run.path / "model").eval()(ids).logits
        base = AutoModelForCausalLM.from_pretrained(model_dir).eval()(ids).logits
    assert torch.allclose(adapted, merged, atol=1e-5) and not torch.allclose(base, merged, atol=1e-4)


@pytest.mark.parametrize("use_lora", [False, True])
def test_scoring_a_split_holds_a_few_tokens_scores_at_a_time(family, data, tmp_path, monkeypatch, use_lora):
    """The base model's loss on general text and validation (before_training, through the trainer's model: TRL's
    patched forward, PEFT with LoRA) is the one its own logits give, while its LM head scores at most the 12 tokens the
    budget allows at once, not the whole batch of 8 rows (Gemma 2's soft-capped logits included)."""
    import datasets

    name, model_dir = family
    records, _ = data
    config = lm_config(model_dir, use_lora=use_lora, lora_r=4)
    tokenizer = causal_lm.load_tokenizer(config)
    split = datasets.Dataset.from_list([{"prompt": [{"role": "user", "content": r["instruction"]}], "completion": r["output"]} for r in records[:12]])
    features = causal_lm.tokenize({"train": split}, tokenizer, config)["train"]
    trainer = causal_lm.build_trainer(config, model=causal_lm.build_model(config), tokenizer=tokenizer, train_dataset=features, eval_dataset=None, output_dir=tmp_path / "out", callbacks=[])
    model = causal_lm._model(trainer)
    rows = [{"input_ids": r["input_ids"], "labels": r["labels"]} for r in features] + causal_lm.general_text_rows(tokenizer, 64)
    expected, count = reference_token_loss(model, rows)
    vocabulary = model.get_output_embeddings().weight.shape[0]
    monkeypatch.setattr(causal_lm, "SCORE_BYTES", 12 * 3 * 4 * vocabulary, raising=False)
    sizes = []
    model.get_output_embeddings().register_forward_hook(lambda module, args, output: sizes.append(output.shape[:-1].numel()))
    scored = causal_lm.token_loss(model, rows, pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0, batch_size=8)
    assert scored["tokens"] == count and scored["loss"] == pytest.approx(expected, rel=1e-5)
    assert max(sizes) <= 12, f"{name}: the LM head scored {max(sizes)} tokens at once"
