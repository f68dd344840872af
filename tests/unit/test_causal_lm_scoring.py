"""Scoring a split with a causal LM (`causal_lm.token_loss`, the base and fine-tuned model's loss and perplexity on
validation and on general text): the same figures as the straightforward computation from the model's own logits,
with the scores over the vocabulary held a few tokens at a time, not for a whole evaluation batch."""

from __future__ import annotations

import logging
import math

import pytest
import torch

from finetuner.tasks import causal_lm
from task_fixtures import reference_token_loss

VOCAB = 300


def _tiny(family: str, **extra):
    import transformers as tf

    torch.manual_seed(0)
    sizes = {"vocab_size": VOCAB, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128, "pad_token_id": 0}
    model_class, config = {
        "llama": lambda: (tf.LlamaForCausalLM, tf.LlamaConfig(**sizes, **extra)),
        "gpt2": lambda: (tf.GPT2LMHeadModel, tf.GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=2, n_positions=128, **extra)),
        # final soft-capping far below the random model's logits (about 1), so that it changes every score
        "gemma2": lambda: (tf.Gemma2ForCausalLM, tf.Gemma2Config(**sizes, head_dim=8, sliding_window=64, final_logit_softcapping=0.3, **extra)),
        "cohere": lambda: (tf.CohereForCausalLM, tf.CohereConfig(**sizes, logit_scale=4.0, **extra)),
        "granite": lambda: (tf.GraniteForCausalLM, tf.GraniteConfig(**sizes, logits_scaling=0.25, **extra)),
    }[family]()
    return model_class(config).eval()


def _rows(count: int = 13, seed: int = 1) -> list[dict[str, list[int]]]:
    """Rows of uneven lengths whose first tokens (a prompt) carry no loss, as the tokenized validation split's do."""
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(count):
        length = 6 + (i * 7) % 31
        ids = torch.randint(1, VOCAB, (length,), generator=generator).tolist()
        prompt = length // 3
        rows.append({"input_ids": ids, "labels": [-100] * prompt + ids[prompt:]})
    return rows


def _head_outputs(model) -> list[int]:
    """Tokens scored by each call of the model's LM head (every position of its input)."""
    sizes: list[int] = []
    model.get_output_embeddings().register_forward_hook(lambda module, args, output: sizes.append(output.shape[:-1].numel()))
    return sizes


@pytest.mark.parametrize("family", ["llama", "gpt2", "gemma2", "cohere", "granite"])
def test_scores_are_the_model_s_own_in_bounded_chunks(family, monkeypatch):
    """Llama; GPT-2 (its body under `transformer`); Gemma 2's final logit soft-capping; Cohere's logit scale and
    Granite's division of the logits: the loss of an evaluation batch of 13 uneven rows is the straightforward one,
    while the LM head never scores more than the 10 tokens the budget allows at once (before: 13 rows x 36 positions)."""
    model = _tiny(family)
    rows = _rows()
    expected, tokens = reference_token_loss(model, rows)
    monkeypatch.setattr(causal_lm, "SCORE_BYTES", 10 * 3 * 4 * VOCAB, raising=False)
    sizes = _head_outputs(model)

    scored = causal_lm.token_loss(model, rows, pad_token_id=0, batch_size=13)

    assert scored["tokens"] == tokens
    assert scored["loss"] == pytest.approx(expected, rel=1e-5)
    assert scored["perplexity"] == pytest.approx(math.exp(expected), rel=1e-5)
    assert max(sizes) <= 10, f"{family}: the LM head scored {max(sizes)} tokens at once, beyond the budget of 10"
    assert sum(sizes) >= tokens, "every predicted token went through the LM head"


def test_the_budget_decides_the_chunks_not_the_evaluation_batch():
    """At the default budget, the largest scores held for a batch of 64 rows are those of SCORE_BYTES' worth of tokens
    (a 151,936-word vocabulary: 147 tokens, 256 MiB), the same as for a batch of 8."""
    assert causal_lm.score_chunk_tokens(151_936) == 147
    model = _tiny("llama")
    rows = _rows(64, seed=3)
    expected, tokens = reference_token_loss(model, rows)
    budget = 16 * 3 * 4 * VOCAB
    peaks = {}
    for batch_size in (8, 64):
        sizes = _head_outputs(model)
        scored = causal_lm.token_loss(model, rows, pad_token_id=0, batch_size=batch_size, score_bytes=budget)
        assert scored["tokens"] == tokens and scored["loss"] == pytest.approx(expected, rel=1e-5)
        peaks[batch_size] = max(sizes)
    assert peaks[8] <= 16 and peaks[64] <= 16


def test_lora_adapters_are_scored_with_the_model(monkeypatch):
    """A PEFT model (as before and after training with LoRA): its adapters count, as in its own logits."""
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(_tiny("llama"), LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)).eval()
    rows = _rows()
    expected, tokens = reference_token_loss(model, rows)
    monkeypatch.setattr(causal_lm, "SCORE_BYTES", 10 * 3 * 4 * VOCAB, raising=False)
    sizes = _head_outputs(model)
    scored = causal_lm.token_loss(model, rows, pad_token_id=0, batch_size=13)
    assert scored["tokens"] == tokens and scored["loss"] == pytest.approx(expected, rel=1e-5)
    assert max(sizes) <= 10
    with model.disable_adapter():
        without, _ = reference_token_loss(model, rows)
    assert abs(without - expected) > 1e-3, "the adapters change the loss: the check above is not the base model's"


def test_a_model_whose_forward_transforms_logits_otherwise_is_scored_through_its_forward(monkeypatch, caplog):
    """A config naming a soft-capping its model's forward does not apply (a family finetuner cannot read): the probe
    finds the LM head's scores are not the model's logits, and the split is scored through the model's own forward,
    one row at a time under a small budget, with a warning in the log."""
    model = _tiny("llama", final_logit_softcapping=0.3)  # LlamaForCausalLM ignores it
    rows = _rows()
    expected, tokens = reference_token_loss(model, rows)
    monkeypatch.setattr(causal_lm, "SCORE_BYTES", 10 * 3 * 4 * VOCAB, raising=False)
    sizes = _head_outputs(model)
    with caplog.at_level(logging.WARNING, logger=causal_lm.__name__):
        scored = causal_lm.token_loss(model, rows, pad_token_id=0, batch_size=13)
    assert scored["tokens"] == tokens and scored["loss"] == pytest.approx(expected, rel=1e-5)
    assert "scoring through its forward" in caplog.text
    assert max(sizes) <= max(len(r["input_ids"]) for r in rows), "one row at a time, not the batch of 13"
