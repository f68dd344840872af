"""What one transformer layer keeps for its backward pass, measured, against the estimate's per-layer formula.

Every tensor autograd saves during a layer's forward pass (torch.autograd.graph.saved_tensors_hooks) is counted
once per storage, leaving out the model's own weights and (under bf16 autocast) their cached bf16 copies: what a
training step holds per layer until the backward pass frees it. Measured in training mode (dropout on) with the
attention implementation transformers picks by default, on a CPU, for the bundled BERT-shaped encoder
(all-MiniLM-L6-v2's config), a T5 v1.1-shaped encoder-decoder (the one benchmarks/estimate_accuracy.py --task seq2seq
builds) and a BART-shaped one of the same size, at several batch sizes and lengths, in float32 and bf16 autocast.

The result is reported in the unit of the estimate's formula (Korthikanti et al. 2022: bytes in 16-bit), as the
measured bytes divided by what the formula says, per family: the estimate's FP32_ACTIVATION_FACTOR and
CPU_BF16_ACTIVATION_FACTOR are fitted on the BERT-shaped encoder's peak memory, so a family whose ratio differs from
BERT's keeps a different share of activations than the formula counts for it.

    python benchmarks/layer_activations.py            # about a minute on a CPU; results/layer_activations.{json,md}
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"


def models():
    """(name, model, kind) with random weights: the bundled encoder's shape, T5 v1.1's and BART's at d_model 256."""
    from transformers import AutoConfig, AutoModel, BartConfig, BartForConditionalGeneration, T5Config, T5ForConditionalGeneration  # noqa: PLC0415

    from finetuner.config import default_model_path  # noqa: PLC0415

    bert = AutoModel.from_config(AutoConfig.from_pretrained(default_model_path()))
    t5 = T5ForConditionalGeneration(T5Config(vocab_size=8000, d_model=256, d_kv=64, d_ff=1024, num_layers=4, num_decoder_layers=4, num_heads=4,
                                             feed_forward_proj="gated-gelu", tie_word_embeddings=False, decoder_start_token_id=0))
    bart = BartForConditionalGeneration(BartConfig(vocab_size=8000, d_model=256, encoder_layers=4, decoder_layers=4, encoder_attention_heads=4,
                                                   decoder_attention_heads=4, encoder_ffn_dim=1024, decoder_ffn_dim=1024, max_position_embeddings=512, attention_dropout=0.1, activation_dropout=0.1))
    return [("bert", bert), ("t5", t5), ("bart", bart)]


def saved_per_layer(model, name: str, *, batch: int, seq: int, target: int, bf16: bool) -> dict[str, float]:
    """Bytes saved for backward during each encoder and decoder layer's forward pass, averaged over the layers."""
    import torch  # noqa: PLC0415

    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    layers = _layers(model, name)
    current: list[str | None] = [None]
    seen: set[int] = set()  # each storage once in the whole model: the encoder output every cross-attention reads counts once
    counted: dict[str, int] = {}

    def enter(label):
        return lambda *_: current.__setitem__(0, label)

    def leave(*_):
        current[0] = None

    handles = []
    for label, modules in layers.items():
        for i, module in enumerate(modules):
            handles.append(module.register_forward_pre_hook(enter(f"{label}{i}")))
            handles.append(module.register_forward_hook(leave))

    def pack(tensor):
        label = current[0]
        storage = tensor.untyped_storage()
        ptr = storage.data_ptr()
        if label is not None and not _is_weight(tensor, parameters) and ptr not in seen:
            seen.add(ptr)
            counted[label] = counted.get(label, 0) + storage.nbytes()
        return tensor

    model.train()
    torch.manual_seed(0)
    inputs = {"input_ids": torch.randint(5, 1000, (batch, seq)), "attention_mask": torch.ones(batch, seq, dtype=torch.long)}
    if name != "bert":
        inputs["labels"] = torch.randint(5, 1000, (batch, target))
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model(**inputs)
    finally:
        for handle in handles:
            handle.remove()
    out = {}
    for label, modules in layers.items():
        values = [counted.get(f"{label}{i}", 0) for i in range(len(modules))]
        out[label] = sum(values) / len(values)
    return out


def _is_weight(tensor, parameters: set[int]) -> bool:
    """A parameter, or a transposed, viewed or (autocast) 16-bit copy of one: autograd's path back from it reaches the
    parameter's gradient accumulator through such steps only."""
    if tensor.untyped_storage().data_ptr() in parameters:
        return True
    node = tensor.grad_fn
    while node is not None and node.name() in ("TBackward0", "ToCopyBackward0", "ViewBackward0", "TransposeBackward0", "PermuteBackward0"):
        node = node.next_functions[0][0]
    return node is not None and "AccumulateGrad" in node.name()


def _layers(model, name: str) -> dict[str, list]:
    if name == "bert":
        return {"encoder": list(model.encoder.layer)}
    if name == "t5":
        return {"encoder": list(model.encoder.block), "decoder": list(model.decoder.block)}
    return {"encoder": list(model.model.encoder.layers), "decoder": list(model.model.decoder.layers)}


def main(argv: list[str] | None = None) -> int:
    import torch  # noqa: PLC0415

    from finetuner.estimate import layer_activation_units  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--lengths", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--target-length", type=int, default=64)
    parser.add_argument("--out", type=Path, default=RESULTS / "layer_activations.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for name, model in models():
        config = model.config
        count = _count(name, config)
        for bf16 in (False, True):
            for batch in args.batch_sizes:
                for seq in args.lengths:
                    measured = saved_per_layer(model, name, batch=batch, seq=seq, target=args.target_length, bf16=bf16)
                    for side, value in measured.items():
                        shape = {"batch": batch, "seq": seq, "target": args.target_length, "decoder": side == "decoder", "half": bf16}
                        units = layer_activation_units(count, **shape)
                        before = _before(count, **shape)
                        counted = _counted(count, **shape)
                        rows.append({"family": name, "layer": side, "precision": "bf16" if bf16 else "fp32", "batch": batch, "seq": seq,
                                     "target": args.target_length if side == "decoder" else None, "saved_bytes": value, "counted_bytes": counted,
                                     "formula_units": units, "ratio": value / units, "before_units": before, "before_ratio": value / before})
                        print(json.dumps(rows[-1]), flush=True)
    result = {"rows": rows, "when": time.strftime("%Y-%m-%d %H:%M"), "torch": torch.__version__}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    return 0


def _count(name: str, config):
    from finetuner.estimate import ParameterCount  # noqa: PLC0415

    if name == "bert":
        return ParameterCount(0, 0, hidden_size=config.hidden_size, num_heads=config.num_attention_heads)
    if name == "t5":
        return ParameterCount(0, 0, hidden_size=config.d_model, num_heads=config.num_heads, family="t5", attention_inner=config.d_kv * config.num_heads,
                              feed_forward=config.d_ff, gated=config.is_gated_act)
    return ParameterCount(0, 0, hidden_size=config.d_model, num_heads=config.encoder_attention_heads, family="bart", feed_forward=config.encoder_ffn_dim,
                          activation_dropout=config.activation_dropout)


def _counted(count, *, batch: int, seq: int, target: int, decoder: bool, half: bool) -> float:
    """The bytes the estimate's count of saved tensors says (its per-token bytes, and 3 float32 copies of the scores)."""
    from finetuner.estimate import _saved_bytes_per_token  # noqa: PLC0415

    per_query, per_source = _saved_bytes_per_token(count, half=half, decoder=decoder)
    queries = target if decoder else seq
    heads = count.num_heads
    return batch * count.hidden_size * (queries * per_query + seq * per_source) + 12 * heads * queries * batch * (queries + (seq if decoder else 0))


def _before(count, *, batch: int, seq: int, target: int, decoder: bool, half: bool) -> float:
    """The formula before families were told apart: BERT's per layer, a decoder layer with cross-attention."""
    h, heads = count.hidden_size, count.num_heads
    if not decoder:
        return seq * batch * h * (34 + 5 * heads * seq / h)
    return target * batch * h * (34 + 5 * heads * target / h) + batch * h * (5 * target + 4 * seq) + 5 * heads * target * seq * batch


def markdown(result: dict) -> str:
    lines = [
        "# Bytes a layer saves for backward, measured, over the estimate's per-layer formula (16-bit bytes)",
        "",
        f"{result['when']}, torch {result['torch']}, CPU, training mode, transformers' default attention. *Saved*: measured; "
        "*counted*: what finetuner.estimate's count of saved tensors says for the layer. *Ratio*: saved / the estimate's "
        "per-layer formula for the family (16-bit bytes); *ratio before*: saved / the formula before families were told "
        "apart (BERT's per layer, plus cross-attention in a decoder). A family counted right has the BERT encoder's ratio "
        "at the same precision: the estimate multiplies every family's formula by the same factor, fitted on the BERT "
        "encoder's peak memory. The encoder output every cross-attention reads counts once, in the first decoder layer.",
        "",
        "| family | layer | precision | batch | tokens | target | saved MiB | counted MiB | ratio | ratio before |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['family']} | {r['layer']} | {r['precision']} | {r['batch']} | {r['seq']} | {r['target'] or ''} | {r['saved_bytes'] / 2**20:.2f} "
            f"| {r['counted_bytes'] / 2**20:.2f} | {r['ratio']:.2f} | {r['before_ratio']:.2f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
