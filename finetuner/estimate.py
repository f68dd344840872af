"""Before launch: how many steps and tokens a run will take, and about how long and how much memory.

The arithmetic (nanoGPT style, numbers in the comments):

* steps per epoch = ceil(ceil(train examples / batch size) / gradient accumulation), as the Trainer counts.
* tokens = every example's token length after truncation, summed over the epochs; the model also
  computes on padding, so batches are simulated with the run's sampling order (sorted mega-batches for
  `group_by_length`, random batches otherwise) to count padded tokens too.
* time = training FLOPs / this machine's rate. Training costs about 6 FLOPs per non-embedding
  parameter per token (forward 2, backward 4); evaluation 2. The input tables (words, positions) are
  lookups, except that a causal LM's or seq2seq model's word table tied to its output layer computes
  every token's logits (2 x vocabulary x hidden FLOPs forward), so there it counts. The rate is *measured*: from the most
  similar earlier run in the runs folder when there is one (same model, batch and length first; its
  tokens per second and model size), else a 0.2 s benchmark of this machine multiplying matrices of
  the run's own shape (tokens per batch x hidden size, by 4 x hidden: the feed-forward layer) times a
  training efficiency of 0.9. The shape matters on a CPU: a 2-core machine multiplies 256-row matrices
  at about a third of the rate of 4096-row ones, so small batches train fewer tokens per second.
  Plus a fixed start-up of 15 s (launch to first step 7-12 s, the first step's warm-up ~3 s, final
  evaluation and save). Several processes split the steps between them: on GPUs (one each) that divides
  the time; on a CPU they share the same cores (torchrun gives each one thread), so the time stays about
  that of one process while every process holds its own copy of the model in the same memory.
* LoRA (`trainable_parameters` below the total): the frozen weights get no gradients, so a token costs
  4 FLOPs per frozen parameter (forward 2, the backward pass to the activations 2) instead of 6, and
  gradients and AdamW moments are kept for the adapters only.
* disk = the checkpoints kept at once (weights in fp32 + AdamW's two moments: 12 bytes per parameter) and the
  final model, against the free space of the runs folder's disk.
* memory = weights, gradients and the two AdamW moments (4 + 4 + 8 = 16 bytes per parameter in
  fp32) + activations (per layer about s*b*h*(34 + 5*a*s/h) bytes in 16-bit, Korthikanti et al. 2022;
  x3 in fp32 eager PyTorch, which keeps more intermediates than the paper's fused kernels; an encoder-decoder's
  decoder layers too, at the summaries' length t with cross-attention: t*b*h*(34 + 5*a*t/h) + b*h*(5t + 4s) + 5*a*t*s*b) + the
  process itself (~0.6 GB for Python, torch and transformers); for seq2seq also the summaries' float32 scores over the
  vocabulary V, 4*V*t*(3b + 2*eval batch) bytes (a training step's scores, log-softmax and gradient; evaluation's loss);
  for causal-lm the larger of TRL's fused LM head tiles (8 float32 copies on a CPU of min(b*s, 4096) x min(V, 32768))
  and the scoring of the base and tuned model before and after training, 3*4*V*s*max(8, eval batch) bytes.

The constants are checked by `benchmarks/estimate_accuracy.py` (estimate vs measured time and peak
memory of the bundled model at several batch sizes and lengths, and with `--task seq2seq` of a T5-shaped
summarizer; results in benchmarks/results/).

Parameter counts come from the safetensors header (a JSON prefix of the file) or, failing that, from config.json:
a decoder (GPT-2, Llama, Qwen, Mistral, Gemma, Phi-3) or encoder-decoder (T5, BART, mBART, Marian, Pegasus, LED) is
built from it on the meta device (no weights), since their layers differ too much for one formula (grouped key/value
heads, gated feed-forward layers, fused projections, final norms, sinusoidal positions); an encoder is counted from
its dimensions. Nothing else here imports torch or transformers.
"""

from __future__ import annotations

import bisect
import json
import math
import os
import random
import shutil
import struct
import subprocess
import time
from collections import defaultdict, deque
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from .config import RunConfig, TrainingConfig, current_names
from .errors import ConfigError
from .precision import BF16, FP16, FP32, chosen_precision, cpu_has_fast_bf16
from .tasks import TASKS

TRAIN_FLOPS_PER_PARAM_TOKEN = 6
EVAL_FLOPS_PER_PARAM_TOKEN = 2
BENCHMARK_EFFICIENCY = 0.3  # for a rate not measured here (a GPU's nominal fp32 rate)
# Training rate / matmul rate at the run's shapes on this CPU (benchmarks/estimate_accuracy.py: 0.5-1.2, median ~0.9):
# PyTorch's kernels beat numpy's on the same shapes, which about pays for the non-matmul work.
CPU_TRAINING_EFFICIENCY = 0.9
# bf16 autocast over float32 on a CPU with bf16 instructions, whole SST-2 runs (benchmarks/results/sst2.json and its
# earlier versions): 1.35 and 1.48 on an AMD EPYC with AVX-512 BF16, 1.66 on a Sapphire Rapids with AMX. About 1.5.
CPU_BF16_SPEEDUP = 1.5
STARTUP_SECONDS = 15.0  # launch to first step (imports, data, model) + first-step warm-up + final evaluation, on 2 busy cores
FP32_ACTIVATION_FACTOR = 3  # bytes per fp32 activation relative to the 16-bit formula: measured 2.7-3.0 on the bundled model
# bf16 autocast on a CPU keeps many activations in float32 (and caches bf16 copies of the weights): measured 2.3
CPU_BF16_ACTIVATION_FACTOR = 2.3
PROCESS_OVERHEAD_BYTES = 600 * 2**20
GPU_CONTEXT_BYTES = 500 * 2**20
# A causal LM's training step scores the vocabulary through TRL's fused LM head, in tiles of at most 4,096 tokens by
# 32,768 words (trl.kernels.chunked_logprob's TOKEN_CHUNK_SIZE, trl.trainer.utils' _CHUNKED_LOGPROB_CHUNK_SIZE), never
# the whole b x s x V scores. On a CPU its torch fallback holds several float32 copies of a tile at once: measured 8.8 to
# 10.6 through its backward pass on its own (1,020 to 4,080 tokens x 49,152 words), 7.6 in a run of 16 x 256 tokens
# evaluating 1 row a batch (benchmarks/estimate_accuracy.py --task causal-lm --eval-batch 1: peak RSS minus the other
# terms); on a GPU its Triton kernel folds the tile in place (one copy).
FUSED_TILE_TOKENS, FUSED_TILE_WORDS = 4096, 32768
CPU_FUSED_TILE_COPIES = 8
# Evaluation through the same head (no backward: the Trainer's evaluations and the final one, an eval batch a step) holds
# fewer: 3.6 to 4.2 float32 copies of a tile measured on a CPU (4,096 and 2,048 tokens x 49,152 words, bf16 autocast and
# float32), on top of the weights, gradients and AdamW moments the Trainer keeps, without the step's activations.
CPU_FUSED_EVAL_TILE_COPIES = 4
MEGABATCH_MULTIPLIER = 50  # transformers' LengthGroupedSampler sorts mega-batches of 50 batches


@dataclass
class ParameterCount:
    total: int
    embedding: int  # the input tables (words, positions, token types): lookups cost memory but (almost) no compute
    hidden_size: int | None = None
    num_layers: int | None = None
    num_heads: int | None = None
    vocabulary: int = 0  # the word table among them: what freeze_embeddings freezes
    tied_output: bool = False  # no output layer of its own: a language model's logits multiply by the word table
    decoder_layers: int | None = None  # an encoder-decoder's (num_layers then counts the encoder's)
    # What a layer keeps for its backward pass depends on the architecture (layer_activation_units): "t5" (T5, mT5,
    # Flan-T5: RMSNorm in float32, a gated feed-forward in v1.1), "bart" (BART, mBART, Marian, Pegasus: BERT-like
    # layers, a dropout after the feed-forward's activation), None for the BERT-like layers the constants were fitted on.
    family: str | None = None
    attention_inner: int | None = None  # heads x head size (T5's d_kv x num_heads), when it is not the hidden size
    feed_forward: int | None = None  # the feed-forward's inner size (T5's d_ff, BART's encoder_ffn_dim)
    gated: bool = False  # a gated feed-forward (T5 v1.1's wi_0 and wi_1)
    activation_dropout: float = 0.0  # BART's dropout after the feed-forward's activation

    def compute(self, task: str) -> int:
        """Parameters every token of `task` multiplies by: all but the input tables, and the word table too where a
        generative task's output layer is tied to it (it computes every token's logits)."""
        generative = task in TASKS and "generation" in TASKS[task].features
        tied = self.vocabulary if self.tied_output and generative else 0
        return max(self.total - self.embedding + tied, 1)


@dataclass
class Machine:
    device: str  # "cpu" or "cuda"
    description: str
    memory_bytes: int | None  # what training may use: free RAM, or the GPU's memory
    flops_per_second: float  # benchmark peak, before the training efficiency factor
    benchmarked: bool = False  # measured here: the estimate may then benchmark the run's own matrix shapes
    fast_bf16: bool = False  # bf16 units (GPU compute capability 8+, CPU AMX or AVX-512 BF16): training defaults to bf16 (finetuner/precision.py)


@dataclass
class Estimate:
    train_examples: int
    eval_examples: int
    batch_size: int
    steps_per_epoch: int
    total_steps: int
    epochs: float
    evaluations: int
    tokens_per_example: float
    train_tokens: int
    padded_tokens: int
    truncated_share: float
    parameters: int | None
    seconds: float | None
    rate_source: str
    memory_bytes: int | None
    memory_breakdown: dict[str, int] = field(default_factory=dict)
    available_bytes: int | None = None
    machine: str = ""
    precision: str = FP32  # what training will compute in (finetuner/precision.py)
    warnings: list[str] = field(default_factory=list)
    train_sequences: int | None = None  # with packing: the max_length blocks the examples are joined into
    disk_bytes: int | None = None  # at most, in the run folder: the checkpoints kept at once and the final model
    disk_free_bytes: int | None = None  # free where the runs folder is

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- model size


def _safetensors_shapes(path: Path) -> dict[str, list[int]]:
    """Tensor shapes from a safetensors file's header, without reading the weights."""
    with open(path, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(length))
    return {name: meta["shape"] for name, meta in header.items() if name != "__metadata__"}


def _model_folder(name_or_path: str) -> Path | None:
    path = Path(name_or_path)
    if path.is_dir():
        return path
    return _cached_folder(name_or_path, ("config.json", "model.safetensors", "model.safetensors.index.json"))


def _cached_folder(repo_id: str, filenames: tuple[str, ...]) -> Path | None:
    """The folder of the first of `filenames` of a Hub id already in the local cache, or None. It never downloads, nor
    asks the Hub anything (the plan calls this as the form changes): the shared cache first, which holds no visitor's
    private model, then the visitor's own (`hub_reads.own_models_cache`)."""
    try:
        from huggingface_hub import try_to_load_from_cache  # noqa: PLC0415

        from .hub_reads import own_models_cache  # noqa: PLC0415

        def cached_in(cache_dir: str | None) -> Path | None:
            for filename in filenames:
                found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir)
                if isinstance(found, str):
                    return Path(found).parent
            return None

        own = None if (shared := cached_in(None)) else own_models_cache()
        return shared or (cached_in(own) if own else None)
    except Exception:  # noqa: BLE001 - an estimate must never fail the page
        return None


def count_parameters(name_or_path: str) -> ParameterCount | None:
    """Parameters of a local (or cached) model: exact from safetensors, else from config.json; None if unknown."""
    folder = _model_folder(name_or_path)
    if folder is None:
        return None
    dims, config = _dims(folder), _config(folder)
    files = sorted(folder.glob("*.safetensors"))
    if files:
        shapes: dict[str, list[int]] = {}
        for file in files:
            try:
                shapes.update(_safetensors_shapes(file))
            except (OSError, ValueError, struct.error):
                shapes = {}
                break
        if shapes:
            for name, shape in _unsaved_tables(config).items():
                shapes.setdefault(name, shape)
            return _parameters_from_shapes(shapes, config.get("vocab_size"), dims, tied=config.get("tie_word_embeddings", True), t5="d_kv" in config)
    if not dims.get("hidden_size"):
        return None
    encoder_decoder = "d_kv" in config or "decoder_layers" in config  # T5's family, BART's
    decoder = _rotary(config) or any(name.endswith(("ForCausalLM", "LMHeadModel")) for name in config.get("architectures") or [])
    if encoder_decoder or decoder:
        built = _built_from_config(folder, config, dims, "seq2seq" if encoder_decoder else "causal-lm")
        if built is not None or encoder_decoder:  # counted as an encoder, an encoder-decoder's decoder (half of it) was left out
            return built
    return _parameters_from_config(config, dims) if dims.get("num_layers") else None


def _unsaved_tables(config: dict[str, Any]) -> dict[str, list[int]]:
    """Parameters a model has that its checkpoint leaves out: Marian's sinusoidal position tables, which transformers
    computes when it loads the model (opus-mt's 2 x 512 x 512 were missing from the count)."""
    if config.get("model_type") != "marian":
        return {}
    shape = [config.get("max_position_embeddings", 512), config.get("d_model", 512)]
    return {f"model.{side}.embed_positions.weight": shape for side in ("encoder", "decoder")}


# The input tables by the names models give them: BERT's family *embeddings*, GPT-2's wte and wpe, Llama's, Qwen's,
# BART's and T5's embed_tokens, embed_positions and shared, GPT-NeoX's embed_in.
_TABLE_NAMES = {"embed_tokens", "embed_positions", "shared", "wte", "wpe", "embed_in"}


def _is_table(name: str, shape: list[int]) -> bool:
    return len(shape) == 2 and any(part in _TABLE_NAMES or "embeddings" in part for part in name.split(".")[:-1])


# Tensors a checkpoint may hold that are buffers, not parameters: token position ids, BART's final_logits_bias, and the
# causal masks of older GPT-2, GPT-J and GPT-NeoX checkpoints (a 4-D `bias`, 1024 x 1024 a layer: GPT-2's 124M counted
# as 137M; a real bias has one dimension), with their scalar masked_bias.
_BUFFER_NAMES = ("position_ids", "final_logits_bias", "masked_bias")


def _is_buffer(name: str, shape: list[int]) -> bool:
    return name.endswith(_BUFFER_NAMES) or (name.endswith(".bias") and len(shape) == 4)


def _parameters_from_shapes(shapes: dict[str, list[int]], vocab_size: int | None, dims: dict[str, Any], *, tied: bool = True, t5: bool = False) -> ParameterCount:
    """The count from the weights' shapes, each tied table once, as transformers ties them: all of them when config.json
    ties the word embeddings (`tied`, its default), none when it unties them, but T5's family always shares its encoder's
    and decoder's word table. The word table is the input table of vocab_size rows (else the largest); it is tied to
    the output layer when no other weight has its shape (no lm_head of its own), or when the lm_head is a tied copy."""
    shapes = {name: shape for name, shape in shapes.items() if not _is_buffer(name, shape)}
    if tied or t5:
        shapes = {name: shape for name, shape in shapes.items() if name not in _shared_copies(shapes)}
    tables = {name: shape for name, shape in shapes.items() if _is_table(name, shape)}
    rows = vocab_size if any(shape[0] == vocab_size for shape in tables.values()) else max((shape[0] for shape in tables.values()), default=0)
    words = [shape for shape in tables.values() if shape[0] == rows]
    if tied and words:
        shapes = {name: shape for name, shape in shapes.items() if not (name.split(".")[-2:] == ["lm_head", "weight"] and shape == words[0])}
    return ParameterCount(
        total=sum(math.prod(shape) for shape in shapes.values()),
        embedding=sum(math.prod(shape) for shape in tables.values()),
        vocabulary=math.prod(words[0]) if words else 0,  # the input table, which freeze_embeddings freezes
        tied_output=bool(words) and not any(shape == words[0] for name, shape in shapes.items() if name not in tables),
        **dims,
    )


def _shared_copies(shapes: dict[str, list[int]]) -> set[str]:
    """An encoder-decoder's encoder and decoder word tables saved beside the `shared` table they are (T5's, BART's:
    checkpoints written by older transformers hold all three names). The model has the table once: counted three
    times, Flan-T5-base's 32,128 x 768 table added 49M parameters to its 223M."""
    shared = [shape for name, shape in shapes.items() if name.split(".")[-2:] == ["shared", "weight"]]
    return {
        name for name, shape in shapes.items()
        if shape in shared and name.split(".")[-2:] == ["embed_tokens", "weight"] and {"encoder", "decoder"} & set(name.split("."))
    }


def _config(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _dims(folder: Path) -> dict[str, Any]:
    config = _config(folder)
    t5, bart = "d_kv" in config, "d_kv" not in config and "decoder_layers" in config
    return {
        "hidden_size": config.get("hidden_size") or config.get("d_model") or config.get("dim") or config.get("n_embd"),  # n_*: GPT-2's names
        "num_layers": config.get("num_hidden_layers") or config.get("n_layers") or config.get("num_layers") or config.get("n_layer") or config.get("encoder_layers"),
        "num_heads": config.get("num_attention_heads") or config.get("n_heads") or config.get("n_head") or config.get("encoder_attention_heads") or config.get("num_heads"),
        # T5's family names its decoder's layers num_decoder_layers (absent: as many as the encoder's), BART's decoder_layers
        "decoder_layers": config.get("decoder_layers") or (config.get("num_decoder_layers") or config.get("num_layers") if t5 else None),
        "family": "t5" if t5 else "bart" if bart else None,
        "attention_inner": config["d_kv"] * (config.get("num_heads") or 8) if t5 else None,
        "feed_forward": config.get("d_ff") if t5 else config.get("encoder_ffn_dim") if bart else None,
        "gated": t5 and str(config.get("feed_forward_proj", "relu")).startswith("gated"),
        "activation_dropout": float(config.get("activation_dropout") or 0.0) if bart else 0.0,
    }


def _parameters_from_config(config: dict[str, Any], dims: dict[str, Any]) -> ParameterCount:
    """A BERT-like count, for an encoder (or a decoder transformers cannot build): embeddings + per layer 4h^2
    (attention) + 2*h*i (feed-forward), + an output layer of its own when config.json says it is not tied to the word
    table; no position table where the positions are rotary (ModernBERT's, a remote-code Llama's)."""
    h, layers = dims["hidden_size"], dims["num_layers"]
    intermediate = config.get("intermediate_size") or 4 * h
    vocabulary = config.get("vocab_size", 30522) * h
    positions = 0 if _rotary(config) else config.get("max_position_embeddings", config.get("n_positions", 512))
    embedding = vocabulary + (positions + config.get("type_vocab_size", 0)) * h
    per_layer = 4 * h * h + 2 * h * intermediate + 9 * h + intermediate
    tied = config.get("tie_word_embeddings", True)
    total = embedding + layers * per_layer + (0 if tied else vocabulary)
    return ParameterCount(total, embedding, vocabulary=vocabulary, tied_output=tied, **dims)


def _rotary(config: dict[str, Any]) -> bool:
    """Rotary positions (Llama's, Qwen's, ModernBERT's): no position table."""
    return any(key in config for key in ("rope_theta", "rope_scaling", "rope_parameters"))


def _built_from_config(folder: Path, config: dict[str, Any], dims: dict[str, Any], task: str) -> ParameterCount | None:
    """A decoder's or encoder-decoder's count from config.json alone, built as `task`'s model on the meta device and
    counted as its weights' shapes would be; None when transformers cannot build it (an unknown or remote-code
    architecture). By formulas, a Llama-style decoder's grouped key/value heads and gated feed-forward layers were
    miscounted (SmolLM2-135M as 121M, Llama-3.2-1B as 1.07B of 1.24B), and one formula for T5's and one for BART's
    family missed what the rest of each family does differently (mBART's final norms, Marian's and M2M100's
    sinusoidal positions, LED's global attention projections)."""
    from .tasks.base import meta_model  # noqa: PLC0415 - imports torch and transformers

    try:
        model = meta_model(RunConfig.from_dict({"task": task, "model_name_or_path": str(folder)}), "AutoModelForSeq2SeqLM" if task == "seq2seq" else "AutoModelForCausalLM")
    except Exception:  # noqa: BLE001 - an estimate must never fail the page
        return None
    shapes = {name: list(parameter.shape) for name, parameter in model.named_parameters()}  # a tied table once
    tied = config.get("tie_word_embeddings", model.config.tie_word_embeddings)  # config.json's own word (`config`)
    output = model.get_output_embeddings()
    if not tied and output is not None and output.weight is model.get_input_embeddings().weight:
        # transformers 5's T5 config ties the output layer whatever config.json says, but a checkpoint that has one of its
        # own (T5 v1.1's, Flan-T5's, mT5's: tie_word_embeddings false) loads it untied, as a weight of its own
        shapes["lm_head.weight"] = list(output.weight.shape)
    return _parameters_from_shapes(shapes, model.config.vocab_size, dims, tied=tied)


# ---------------------------------------------------------------- this machine


@lru_cache(maxsize=1)
def describe_machine() -> Machine:
    """CPU cores and free memory (or the first GPU), and a measured matrix-multiply rate. Cached per process."""
    gpu = _nvidia_gpu()
    if gpu:
        name, memory, compute_capability = gpu
        # No benchmark without torch; a conservative rate for a modern GPU in fp32.
        return Machine("cuda", f"GPU {name}", memory, 20e12, fast_bf16=compute_capability >= 8.0)
    cores = os.cpu_count() or 1
    return Machine("cpu", f"CPU, {cores} core{'s' if cores > 1 else ''}", _available_memory(), _benchmark_flops(), benchmarked=True, fast_bf16=cpu_has_fast_bf16())


def _nvidia_gpu() -> tuple[str, int, float] | None:
    """(name, memory in bytes, compute capability) of the first NVIDIA GPU, from nvidia-smi."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "" or not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,compute_cap", "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=5, check=True).stdout
        name, memory, compute_capability = out.strip().splitlines()[0].rsplit(",", 2)
        return name.strip(), int(float(memory)) * 2**20, float(compute_capability)
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def _available_memory() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _benchmark_flops(seconds: float = 0.3, rows: int = 384, hidden: int = 384, columns: int = 2048) -> float:
    """float32 matrix multiplies (rows x hidden) @ (hidden x columns), for `seconds`: FLOP/s."""
    import numpy as np  # noqa: PLC0415

    rng = np.random.default_rng(0)
    a = rng.random((rows, hidden), dtype=np.float32)
    b = rng.random((hidden, columns), dtype=np.float32)
    a @ b
    start, count = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return count * 2 * rows * hidden * columns / (time.perf_counter() - start)


@lru_cache(maxsize=32)
def _shape_flops(rows: int, hidden: int) -> float:
    return _benchmark_flops(0.2, rows=rows, hidden=hidden, columns=4 * hidden)


def layer_matmul_flops(tokens_per_batch: float, hidden: int) -> float:
    """This CPU's rate on a feed-forward layer's matrix product for batches of this many tokens (cached per power of two)."""
    rows = 2 ** max(5, min(13, round(math.log2(max(tokens_per_batch, 1)))))
    return _shape_flops(rows, hidden)


def measured_rate(runs_dir: str | Path | None, *, like: RunConfig | None = None) -> tuple[float, str] | None:
    """Effective training FLOP/s of a recent run here: tokens/s x 6 x compute parameters (for that run's task).

    Among the 10 newest runs, the one most like `like` (same model, then same batch size and length:
    the rate depends on the matrix shapes), else the newest.
    """
    found = _measured_run(runs_dir, like=like)
    return found[:2] if found else None


def _tokens_per_batch(run_dir: Path, config: dict[str, Any]) -> float | None:
    """About how many tokens an earlier run put in each batch: its batch size x its mean (cut) length."""
    try:
        stats = json.loads((run_dir / "token_stats.json").read_text(encoding="utf-8"))["train"]
        length = min(float(stats["mean"]), float(config.get("max_seq_length") or stats["mean"]))
        return length * int(config.get("per_device_train_batch_size") or 0) or None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _measured_run(runs_dir: str | Path | None, *, like: RunConfig | None = None) -> tuple[float, str, Path, dict[str, Any], str] | None:
    """(rate, source, run folder, config, precision) of the earlier run most like `like`."""
    if runs_dir is None or not Path(runs_dir).is_dir():
        return None
    candidates = []
    for events_path in sorted(Path(runs_dir).glob("*/events.jsonl"), key=lambda p: p.stat().st_mtime, reverse=True)[:10]:
        try:
            candidates.append((events_path, _load_yaml(events_path.parent / "config.yaml")))  # each config read once
        except (OSError, ValueError):
            continue
    if like is not None:
        candidates.sort(key=lambda found: -_similarity(found[1], like))  # stable: newest first among equals
    for events_path, config in candidates:
        try:
            tokens_per_second = None
            precision = FP16 if (config.get("extra_training_args") or {}).get("fp16") else BF16 if (config.get("extra_training_args") or {}).get("bf16") else FP32
            for line in events_path.read_text(encoding="utf-8").splitlines():
                event = json.loads(line) if line.strip() else {}
                if event.get("type") == "train_begin" and event.get("precision"):
                    precision = event["precision"]  # what it trained in (runs before this was recorded: their options)
                if event.get("type") in ("log", "eval") and event.get("tokens_per_second") and (event.get("step") or 0) >= 5:
                    tokens_per_second = event["tokens_per_second"]
        except (OSError, ValueError):
            continue
        if not tokens_per_second:
            continue
        params = count_parameters(str(config.get("model_name_or_path", "")))
        if params is None:
            continue
        # Measured rates serve CPU estimates only, where a run's processes share the cores: the tokens/s
        # of a run on several processes is this machine's rate, as one process's is.
        # Counted for that run's task, as its tokens were: the rate stays this machine's FLOP/s whatever the task now.
        rate = tokens_per_second * TRAIN_FLOPS_PER_PARAM_TOKEN * params.compute(config.get("task") or "text-classification")
        return rate, f"measured on this machine (run {events_path.parent.name}, {precision})", events_path.parent, config, precision
    return None


def _similarity(other: dict[str, Any], like: RunConfig) -> int:
    score = 4 * (str(other.get("model_name_or_path")) == str(like.model.model_name_or_path))
    score += 2 * (other.get("per_device_train_batch_size") == like.training.per_device_train_batch_size)
    return score + (other.get("max_seq_length") == like.model.max_seq_length)


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml  # noqa: PLC0415

    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


# ---------------------------------------------------------------- the plan


def plan_steps(train_examples: int, *, batch_size: int, accumulation: int, epochs: float, max_steps: int = -1) -> tuple[int, int]:
    """(steps per epoch, total optimizer steps) as the Trainer counts them."""
    batches = math.ceil(train_examples / batch_size) if train_examples else 0
    per_epoch = max(math.ceil(batches / accumulation), 1) if batches else 0
    total = max_steps if max_steps and max_steps > 0 else math.ceil(per_epoch * epochs)
    return per_epoch, total


# Fewer optimizer steps than this and fine-tuning tends to end before the model has learned the task. On the
# bundled example (256 training rows: 16 steps an epoch at the default batch), 3 epochs (48 steps) scored
# 0.773 test accuracy over 8 seeds and 10 epochs (160 steps) 0.832, +0.059 on the same reviews (95%
# interval +0.020 to +0.102; benchmarks/example_epochs.py).
ENOUGH_STEPS = 100
SUGGESTED_STEPS = 150


def few_steps_warning(train_examples: int, training: TrainingConfig, *, processes: int = 1) -> str | None:
    """What to do when training on `train_examples` would take too few optimizer steps to learn much; None
    when it takes enough, or when the user fixed the number of steps (`max_steps`) on purpose."""
    steps_per_epoch, total_steps = plan_steps(
        train_examples, batch_size=training.per_device_train_batch_size * processes, accumulation=training.gradient_accumulation_steps, epochs=training.num_train_epochs
    )
    if not total_steps or total_steps >= ENOUGH_STEPS or training.max_steps > 0:
        return None
    epochs = math.ceil(SUGGESTED_STEPS / steps_per_epoch)
    return (
        f"Only {total_steps} optimizer steps ({steps_per_epoch} an epoch): a pretrained model usually needs a hundred or more "
        f"to learn a task, and stops short with fewer. Train {epochs} epochs ({epochs * steps_per_epoch} steps) or lower the batch size."
    )


# `Dataset.map`'s default batch size, in which TRL's pack_dataset packs (one batch never spills into the next).
PACKING_BATCH = 1000
PACKING_STRATEGY = "wrapped"  # the run's default, for every model and attention; TRL's own default "bfd" trains padding-free, which relies on the attention keeping examples apart by their positions
PACKING_STRATEGIES = ("wrapped", "bfd", "bfd_split")  # TRL's `pack_dataset`'s


def check_packing_strategy(strategy: str) -> None:
    """A ConfigError for a packing_strategy TRL's `pack_dataset` does not know."""
    if strategy not in PACKING_STRATEGIES:
        raise ConfigError(f"packing_strategy {strategy!r} is not one of TRL's: {', '.join(PACKING_STRATEGIES)}.")


def packing_options(extra_training_args: dict[str, Any] | None, *, seed: int = 42) -> dict[str, Any]:
    """How TRL will pack, from a run's extra TrainingArguments (and its seed): `strategy` (SFTConfig's
    `packing_strategy`, the run's PACKING_STRATEGY unless set; TRL's old name "bfd-requeue" is its "bfd_split"),
    `num_proc` (`dataset_num_proc`: `Dataset.map` cuts the data into that many contiguous shards, each packed on its
    own) and `shuffle_seed` (with `shuffle_dataset`, TRL shuffles the examples at the run's seed before packing)."""
    extra = current_names(dict(extra_training_args or {}))
    strategy = extra.get("packing_strategy") or PACKING_STRATEGY
    num_proc = extra.get("dataset_num_proc")
    return {
        "strategy": "bfd_split" if strategy == "bfd-requeue" else strategy,
        "num_proc": int(num_proc) if num_proc else None,
        "shuffle_seed": seed if extra.get("shuffle_dataset") else None,  # the run's seed: extra arguments may not set it
    }


def packing_shards(count: int, num_proc: int | None = None) -> int:
    """How many contiguous shards `Dataset.map` cuts `count` examples into with `num_proc` processes (no more
    than there are examples), TRL's `pack_dataset` packing each on its own."""
    return min(int(num_proc), count) if num_proc and num_proc > 1 and count else 1


def packing_batches(count: int, num_proc: int | None = None) -> list[range]:
    """The batches (places in the data) that TRL's `pack_dataset` packs each on its own: the contiguous shards
    of `packing_shards` (`Dataset.shard(contiguous=True)`'s bounds), each read in `map`'s batches of PACKING_BATCH."""
    shards = packing_shards(count, num_proc)
    div, mod = divmod(count, shards)
    batches = []
    for index in range(shards):
        start = div * index + min(index, mod)
        end = start + div + (1 if index < mod else 0)
        batches += [range(at, min(at + PACKING_BATCH, end)) for at in range(start, end, PACKING_BATCH)]
    return batches


def _best_fit(lengths: Sequence[int], max_length: int) -> list[int]:
    """The sequence lengths of TRL's best-fit-decreasing packing (`trl.data_utils._pack_bfd`) of examples this long
    (each already at most max_length), in its order: longest first, each into the sequence whose room left is the
    smallest that holds it (the oldest of those that tie), else a new sequence."""
    rooms: list[int] = []  # distinct room left in open sequences, ascending
    open_at: dict[int, deque] = defaultdict(deque)
    sequences: list[int] = []
    for length in sorted((n for n in lengths if n > 0), reverse=True):
        i = bisect.bisect_left(rooms, length)
        if i < len(rooms):
            room = rooms[i]
            number = open_at[room].popleft()
            if not open_at[room]:
                rooms.pop(i)
        else:
            room, number = max_length, len(sequences)
            sequences.append(0)
        sequences[number] += length
        if room - length > 0:
            if not open_at[room - length]:
                bisect.insort(rooms, room - length)
            open_at[room - length].append(number)
    return sequences


def trained_sequences(
    lengths: Sequence[int], *, max_length: int, packing: bool = False, strategy: str = PACKING_STRATEGY, num_proc: int | None = None, shuffle_seed: int | None = None,
) -> list[int]:
    """The token lengths of the sequences training takes from examples of these lengths: each cut at
    `max_length`, and with packing those TRL's `pack_dataset` makes, which are fewer and fuller, so fewer steps:
    "wrapped" joins the examples end to end and cuts them into `max_length` blocks; "bfd" and "bfd_split" put whole
    examples into sequences best fit first (`_best_fit`). TRL packs each of `packing_batches` on its own (`map`'s
    batches of PACKING_BATCH, within `dataset_num_proc`'s shards), so each ends in a sequence of its own, after the
    shuffle `shuffle_seed` names (`Dataset.shuffle(seed=...)`'s permutation: which examples share a batch)."""
    kept = [min(n, max_length) for n in lengths]
    if not packing:
        return kept
    if shuffle_seed is not None:
        import numpy as np  # noqa: PLC0415

        kept = [kept[i] for i in np.random.default_rng(shuffle_seed).permutation(len(kept))]
    check_packing_strategy(strategy)
    sequences = []
    for batch in packing_batches(len(kept), num_proc):
        if strategy == "wrapped":
            blocks, rest = divmod(sum(kept[batch.start : batch.stop]), max_length)
            sequences += [max_length] * blocks + ([rest] if rest else [])
        else:
            sequences += _best_fit(kept[batch.start : batch.stop], max_length)
    return sequences


def describe_plan(train_examples: int, training: TrainingConfig, *, processes: int = 1, sequences: int | None = None) -> str:
    """The optimizer steps a run will take, in a sentence: what a user checks before starting, since too few
    steps (`few_steps_warning`) and too many epochs both cost. `sequences`: the packed sequences, with packing."""
    batch = training.per_device_train_batch_size * training.gradient_accumulation_steps * processes
    per_epoch, total = plan_steps(train_examples if sequences is None else sequences, batch_size=training.per_device_train_batch_size * processes, accumulation=training.gradient_accumulation_steps, epochs=training.num_train_epochs, max_steps=training.max_steps)
    what = f"{train_examples:,} training examples" + (f" packed into {sequences:,} sequences" if sequences is not None else "")
    steps = f"{per_epoch:,} optimizer steps an epoch at an effective batch of {batch}"
    if training.max_steps > 0:
        return f"{what}: {steps}; Max steps stops it after {total:,} ({total / per_epoch:.3g} epochs)." if per_epoch else f"{what}."
    return f"{what}: {steps}, {total:,} in {training.num_train_epochs:g} epochs."


def padded_tokens(lengths: Sequence[int], *, batch_size: int, group_by_length: bool, seed: int = 42) -> int:
    """Tokens computed for one epoch, padding included: each batch is padded to its longest example."""
    order = list(lengths)
    random.Random(seed).shuffle(order)
    if group_by_length:
        size = batch_size * MEGABATCH_MULTIPLIER
        order = [x for start in range(0, len(order), size) for x in sorted(order[start : start + size], reverse=True)]
    return sum(max(order[i : i + batch_size]) * len(order[i : i + batch_size]) for i in range(0, len(order), batch_size))


def estimate_training(
    config: RunConfig,
    *,
    train_lengths: Sequence[int],
    eval_lengths: Sequence[int] = (),
    runs_dir: str | Path | None = None,
    machine: Machine | None = None,
    parameters: ParameterCount | None = None,
    processes: int = 1,
    trainable_parameters: int | None = None,
) -> Estimate:
    """Steps, tokens, time and memory of training `config` on examples of these (untruncated) token lengths.

    With `processes` data-parallel processes each optimizer step takes a batch per process: fewer steps.
    On GPUs (one per process) about proportionally less time and the same memory per device; on a CPU the
    processes share the cores and the memory, so about the same time and `processes` times the memory.
    `trainable_parameters` (LoRA: the adapters' count) makes the backward pass and the optimizer cheaper.
    """
    t, m = config.training, config.model
    max_length = m.max_seq_length
    kept = trained_sequences(train_lengths, max_length=max_length, packing=t.packing, **packing_options(t.extra_training_args, seed=t.seed))
    kept_eval = [min(n, max_length) for n in eval_lengths]
    batch = min(t.per_device_train_batch_size, len(kept)) if kept else t.per_device_train_batch_size  # no batch holds more than the data
    processes = max(int(processes or 1), 1)
    per_epoch, total_steps = plan_steps(len(kept), batch_size=batch * processes, accumulation=t.gradient_accumulation_steps, epochs=t.num_train_epochs, max_steps=t.max_steps)
    epochs = total_steps / per_epoch if per_epoch else 0.0
    grouped = t.train_sampling_strategy == "group_by_length"
    epoch_tokens = sum(kept)
    epoch_padded = padded_tokens(kept, batch_size=batch, group_by_length=grouped, seed=t.seed) if kept else 0
    train_tokens = round(epoch_tokens * epochs)
    padded = round(epoch_padded * epochs)
    if t.eval_strategy == "epoch":
        evaluations = math.ceil(epochs)
    elif t.eval_strategy == "steps" and t.eval_steps:
        evaluations = math.ceil(total_steps / t.eval_steps)  # and one at the last step, when it is not on the schedule
    else:
        evaluations = 0
    machine = machine or describe_machine()
    precision = chosen_precision(t.extra_training_args, fast_bf16=machine.fast_bf16)
    parameters = parameters or count_parameters(m.model_name_or_path)
    warnings: list[str] = []
    truncated = sum(n > max_length for n in train_lengths) / len(train_lengths) if train_lengths else 0.0
    if truncated > 0.05:
        warnings.append(f"{truncated:.0%} of training texts are longer than max_seq_length {max_length} and will be cut.")

    seconds = memory = disk = None
    breakdown: dict[str, int] = {}
    source = "unknown model size"
    if parameters is not None:
        measured = _measured_run(runs_dir, like=config) if machine.device == "cpu" else None
        batches = math.ceil(len(kept) / batch) if kept else 0
        if measured:
            rate, source, earlier, earlier_config, earlier_precision = measured
            if earlier_precision != precision and BF16 in (precision, earlier_precision) and machine.device == "cpu":
                rate *= CPU_BF16_SPEEDUP if precision == BF16 else 1 / CPU_BF16_SPEEDUP
                source += f", scaled to {precision}"
            then = _tokens_per_batch(earlier, earlier_config)
            now = epoch_padded / batches if batches else None
            if machine.benchmarked and then and now and not 2 / 3 < now / then < 3 / 2:
                # Another batch shape multiplies matrices at another rate on a CPU: scale by this machine's ratio.
                hidden = parameters.hidden_size or 768
                rate *= layer_matmul_flops(now, hidden) / layer_matmul_flops(then, hidden)
                source += f", scaled from {then:.0f} to {now:.0f} tokens per batch"
        elif machine.device == "cpu" and machine.benchmarked and batches:
            shape_rate = layer_matmul_flops(epoch_padded / batches, parameters.hidden_size or 768)
            rate = shape_rate * CPU_TRAINING_EFFICIENCY * (CPU_BF16_SPEEDUP if precision == BF16 else 1)
            source = f"benchmark of this machine at this run's matrix sizes ({shape_rate / 1e9:.0f} GFLOP/s float32)" + (", bf16 autocast" if precision == BF16 else "")
        else:
            rate, source = machine.flops_per_second * BENCHMARK_EFFICIENCY, f"benchmark of this machine ({machine.flops_per_second / 1e9:.0f} GFLOP/s peak)"
        if machine.device != "cpu":
            rate *= processes  # each process trains its share of the batches on its own device
        compute = parameters.compute(m.task)
        # A frozen weight (LoRA; with freeze_embeddings, a word table that is the output layer) needs no weight
        # gradient: 2 of the 6 FLOPs per parameter and token are saved.
        if trainable_parameters is not None and parameters.total:
            frozen = 1 - min(trainable_parameters, parameters.total) / parameters.total
        elif m.freeze_embeddings:
            frozen = max(compute - (parameters.total - parameters.embedding), 0) / compute
        else:
            frozen = 0.0
        train_flops = TRAIN_FLOPS_PER_PARAM_TOKEN - 2 * frozen
        eval_padded = padded_tokens(kept_eval, batch_size=t.per_device_eval_batch_size, group_by_length=True) if kept_eval else 0
        if measured:
            # The measured rate counts real (non-padding) tokens over whole runs, evaluations included.
            flops = train_flops * compute * train_tokens + EVAL_FLOPS_PER_PARAM_TOKEN * compute * eval_padded * 2
        else:
            flops = train_flops * compute * padded + EVAL_FLOPS_PER_PARAM_TOKEN * compute * eval_padded * (evaluations + 2)
        seconds = STARTUP_SECONDS + parameters.total * 4 / 200e6 + flops / rate
        trained = trainable_parameters
        if trained is None and m.freeze_embeddings:  # no gradients or AdamW moments for the word table (the position table does get them)
            trained = parameters.total - parameters.vocabulary
        breakdown = _memory(parameters, config, batch=batch, seq=max(kept, default=max_length), device=machine.device, half=precision != FP32, trainable=trained)
        if machine.device == "cpu" and processes > 1:
            breakdown["other processes"] = (processes - 1) * sum(breakdown.values())  # each holds its own copy, in the same memory
        memory = sum(breakdown.values())
        disk = disk_needed(parameters, t, trainable=trainable_parameters)
        if machine.memory_bytes and memory > 0.8 * machine.memory_bytes:
            warnings.append(
                f"Training needs about {memory / 2**30:.1f} GB but this machine has {machine.memory_bytes / 2**30:.1f} GB free: "
                "lower per_device_train_batch_size (raise gradient_accumulation_steps to keep the effective batch) or max_seq_length."
            )
    else:
        warnings.append(f"The size of '{m.model_name_or_path}' is unknown until it is downloaded, so time and memory are not estimated.")
    if machine.device == "cpu" and processes > 1:
        warnings.append(
            f"{processes} processes on a CPU share its cores (torchrun gives each one thread): they train about as fast as one "
            "process, exchange gradients at every step and each holds its own copy of the model. Several processes pay off "
            "with one GPU each."
        )
    free = free_disk(runs_dir)
    if disk and free is not None and disk > free:
        warnings.append(
            f"Its checkpoints and model need up to {_size(disk)} on disk but {_size(free)} are free where runs are kept: "
            "a save would fail midway. Lower save_total_limit, free some space (old runs' checkpoints/ folders), or choose another runs folder."
        )
    busy = _busy_cpu(machine)
    if busy and seconds is not None:
        warnings.append(
            f"This machine is busy (load {busy[0]:.1f} on {busy[1]} cores): training may take several times longer than estimated."
        )
    few = few_steps_warning(len(kept), t, processes=processes)
    if few:
        warnings.append(few)
    for warning in (prefix_warning(config), language_warning(config), rotary_warning(config)):
        if warning:
            warnings.append(warning)
    return Estimate(
        train_examples=len(train_lengths),
        eval_examples=len(kept_eval),
        batch_size=batch * t.gradient_accumulation_steps * processes,
        steps_per_epoch=per_epoch,
        total_steps=total_steps,
        epochs=epochs,
        evaluations=evaluations,
        tokens_per_example=epoch_tokens / len(train_lengths) if train_lengths else 0.0,
        train_tokens=train_tokens,
        padded_tokens=padded,
        truncated_share=truncated,
        parameters=parameters.total if parameters else None,
        seconds=seconds,
        rate_source=source,
        memory_bytes=memory,
        memory_breakdown=breakdown,
        available_bytes=machine.memory_bytes,
        machine=machine.description,
        precision=precision,
        warnings=warnings,
        train_sequences=len(kept) if t.packing else None,
        disk_bytes=disk,
        disk_free_bytes=free,
    )


def prefix_warning(config: RunConfig) -> str | None:
    """A seq2seq run without a source prefix on a model whose config.json names one for summarization (T5's and
    Flan-T5's task_specific_params: 'summarize: '); None otherwise, or when the model is not here yet."""
    m = config.model
    folder = _model_folder(m.model_name_or_path) if m.task == "seq2seq" and not m.source_prefix else None
    params = (_config(folder).get("task_specific_params") or {}).get("summarization") if folder else None
    declared = params.get("prefix") if isinstance(params, dict) else None
    if not declared:
        return None
    return (
        f"{m.model_name_or_path} names {declared!r} as its summarization prefix (config.json's task_specific_params: T5 learned to "
        f"summarize texts that start with it), but source_prefix is empty. Set source_prefix to {declared!r} to start from what it knows."
    )


def language_warning(config: RunConfig) -> str | None:
    """A seq2seq run without source_lang and target_lang on a multilingual model (mBART, mBART-50, NLLB, M2M100) whose
    saved tokenizer names no languages of its own either (no tgt_lang, and src_lang empty or its class's default, as
    transformers saves it): every document and summary is marked with the tokenizer's default language, English.
    None otherwise, or when the tokenizer is not here yet."""
    from .tasks.seq2seq import language_family  # noqa: PLC0415 - the multilingual families' one table

    m = config.model
    if m.task != "seq2seq" or m.source_lang or m.target_lang:
        return None
    name = m.tokenizer_name or m.model_name_or_path
    folder = _model_folder(name)
    found = folder / "tokenizer_config.json" if folder else None
    if found is None or not found.is_file():  # a Hub id whose tokenizer files alone are cached
        folder = _cached_folder(name, ("tokenizer_config.json",))
        found = folder / "tokenizer_config.json" if folder else None
    try:
        saved = json.loads(found.read_text(encoding="utf-8")) if found else {}
    except (OSError, ValueError):
        saved = {}
    family = language_family(saved.get("tokenizer_class"))
    if family is None or saved.get("tgt_lang") or saved.get("src_lang") not in (None, family.default):
        return None
    kind = str(saved["tokenizer_class"]).removesuffix("Fast")
    return (
        f"{name} is multilingual ({kind}: its tokenizer marks every document and summary with a language code, such as "
        f"{family.default}, {', '.join(family.examples)}), but source_lang and target_lang are empty, so both are marked {family.default}, its default. Set source_lang "
        "to the documents' language code and target_lang to the summaries'."
    )


def rotary_warning(config: RunConfig) -> str | None:
    """`tasks.base.rotary_length_warning` from the model's config.json where it is here (a folder, or the Hub's copy in
    the cache, which the checks before Estimate and Start read); None otherwise: an estimate never downloads, nor fails."""
    from .tasks.base import rotary_length_warning  # noqa: PLC0415

    m = config.model
    folder = _model_folder(m.model_name_or_path)
    path = folder / "config.json" if folder is not None else None
    if path is None or not path.is_file():
        return None
    return rotary_length_warning(config, _parsed_config(str(path.absolute()), path.stat().st_mtime, m.trust_remote_code))


def _parsed_config(path: str, stamp: float, trust_remote_code: bool):
    """transformers' config of the model whose config.json is `path` (a Hub cache snapshot's own path, not the blob its link
    resolves to), once per file and modification time (`stamp`): the plan asks for it at every change of the Train tab's form.
    None when it cannot be read (loading the model says why); a failure is not kept, as it may come from something other
    than config.json (remote code files that come later, a file read that failed once), so the next call reads it again."""
    try:
        return _read_config(path, stamp, trust_remote_code)
    except Exception:  # noqa: BLE001 - an unreadable config: loading the model says why
        return None


@lru_cache(maxsize=32)
def _read_config(path: str, stamp: float, trust_remote_code: bool):
    """`_parsed_config`'s read, kept (`lru_cache` keeps no call that raised)."""
    from transformers import AutoConfig  # noqa: PLC0415

    return AutoConfig.from_pretrained(str(Path(path).parent), trust_remote_code=trust_remote_code)


def disk_needed(parameters: ParameterCount, training: TrainingConfig, *, trainable: int | None = None) -> int:
    """Bytes a run folder holds at most: the checkpoints at the moment a new one is written before the oldest goes
    (save_total_limit, one more while the best is kept apart from them, and the new one), each with the weights
    (a LoRA checkpoint: the adapters') in float32 and AdamW's two moments of the trained ones, plus the final model."""
    trained = parameters.total if trainable is None else trainable
    checkpoint = (trained if trainable is not None else parameters.total) * 4 + trained * 8
    kept = training.save_total_limit + 1 + (training.eval_strategy != "no")
    return kept * checkpoint + parameters.total * 4


def _size(num_bytes: int) -> str:
    return f"{num_bytes / 2**30:.1f} GB" if num_bytes >= 2**30 else f"{num_bytes / 2**20:.0f} MB"


def free_disk(runs_dir: str | Path | None) -> int | None:
    """Free bytes on the disk that holds (or will hold) the runs folder; None when unknown."""
    if runs_dir is None:
        return None
    folder = Path(runs_dir).resolve()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _busy_cpu(machine: Machine) -> tuple[float, int] | None:
    """(load, cores) when other work already keeps this machine's cores busy: measured times then vary several-fold."""
    if machine.device != "cpu" or not machine.benchmarked:
        return None
    try:
        load = os.getloadavg()[0]
    except OSError:
        return None
    cores = os.cpu_count() or 1
    return (load, cores) if load > 1.5 * cores else None


# Bytes a layer saves for its backward pass per token and hidden unit, counted from transformers 5's modeling code and
# checked tensor by tensor (benchmarks/layer_activations.py: torch's saved-tensor hooks, CPU, dropout on). Each entry is
# (float32, 16-bit autocast): autocast saves a 16-bit copy of a linear layer's input for each linear layer that reads
# it, keeps norms, residuals and (CPU) the attention's matrices in float32; eager dropout saves its scaled mask at the
# input's precision. `r` = attention heads x head size / hidden, `f` = feed-forward size / hidden.
# The BERT-like encoder layer the constants were fitted on: q/k/v input (a 16-bit copy each), q, k, v, attention output,
# dropout mask, LayerNorm input; feed-forward input, its fc1 output and GELU output, dropout mask, LayerNorm input.
def _bert_layer_bytes(r: float, f: float, half: bool) -> float:
    return 20 + 14 * r + 4 * f if half else 24 + 16 * r + 8 * f


def _saved_bytes_per_token(parameters: ParameterCount, *, half: bool, decoder: bool) -> tuple[float, float]:
    """(bytes per query token and hidden unit, bytes per source token and hidden unit) a layer of `parameters`' family
    saves for backward, besides its attention scores; a decoder layer's cross-attention keeps the encoder output's keys
    and values per source token."""
    h = parameters.hidden_size or 768
    r = (parameters.attention_inner or h) / h
    f = (parameters.feed_forward or 4 * h) / h
    if parameters.family == "t5":
        # Self-attention: RMSNorm's input and normalised input (float32, T5LayerNorm upcasts), its scaled output (q/k/v
        # input: float32, or three 16-bit copies), q, k, v, attention output, dropout mask. Feed-forward: the same
        # norm, and per d_ff unit the gated GELU's wi_0 output, gelu_new's tanh, sum and product, wi_1 output, the
        # product, the dropout mask and wo's input (8; ReLU's T5 v1.0: its output, the mask, wo's input), then the
        # output dropout's mask. No biases to keep, and the relative position bias is one heads x s x s table a stack.
        units = 8 if parameters.gated else 3
        attention = 16 + 14 * r if half else 16 + 16 * r
        feed_forward = (14 + 2 * units * f) if half else (16 + 4 * units * f)
        layer = attention + feed_forward
        # Cross-attention: its norm (input, normalised, query input), q, output input, dropout mask; per source token
        # the keys and values (float32) and, in 16-bit, the two copies of the encoder output they read.
        cross, source = (12 + 6 * r, 8 * r + 4) if half else (16 + 8 * r, 8 * r)
    else:
        layer = _bert_layer_bytes(r, f, half)
        if parameters.family == "bart" and parameters.activation_dropout:
            layer += (2 if half else 4) * f  # the mask of the dropout after the activation (BERT has none there)
        # Cross-attention (post-norm, as BERT's): query input, q, output input, dropout mask, LayerNorm input.
        cross, source = (8 + 6 * r, 8 * r + 4) if half else (12 + 8 * r, 8 * r)
    return (layer + cross, source) if decoder else (layer, 0.0)


def layer_activation_units(parameters: ParameterCount, *, batch: int, seq: int, target: int = 0, decoder: bool = False, half: bool = False, family: str | None = "") -> float:
    """One layer's activations in the unit of Korthikanti et al.'s formula (bytes in 16-bit), which the precision
    factors (FP32_ACTIVATION_FACTOR, CPU_BF16_ACTIVATION_FACTOR) scale to a measured peak. A BERT-like encoder layer of
    s tokens: s*b*h*(34 + 5*a*s/h), the formula the factors were fitted on. Another family's layer keeps a different
    amount per token (its saved tensors, _saved_bytes_per_token): its per-token term is 34 times its bytes over the
    BERT layer's (hidden 4h feed-forward, as fitted) at the same precision; the attention scores (softmax output,
    dropout mask, dropped-out scores: 5*a*s*s*b) are the same. A decoder layer (`decoder`) runs over the target's t
    tokens, and its cross-attention keeps scores over t x s and the source's keys and values. `family` overrides
    `parameters.family` (None: the BERT-like formula)."""
    h = parameters.hidden_size or 768
    heads = parameters.num_heads or max(h // 64, 1)
    family = parameters.family if family == "" else family
    queries = target if decoder else seq
    scores = 5 * heads * queries * queries * batch + (5 * heads * queries * seq * batch if decoder else 0)
    if family is None and not decoder:
        return seq * batch * h * 34 + scores
    counted = ParameterCount(0, 0, hidden_size=h, num_heads=heads, family=family, attention_inner=parameters.attention_inner,
                             feed_forward=parameters.feed_forward, gated=parameters.gated, activation_dropout=parameters.activation_dropout)
    per_query, per_source = _saved_bytes_per_token(counted, half=half, decoder=decoder)
    reference = _bert_layer_bytes(1, 4, half)
    return 34 * batch * h * (queries * per_query + seq * per_source) / reference + scores


def _memory(parameters: ParameterCount, config: RunConfig, *, batch: int, seq: int, device: str, half: bool, trainable: int | None = None) -> dict[str, int]:
    extra = config.training.extra_training_args
    h = parameters.hidden_size or 768
    layers = parameters.num_layers or 12
    factor = FP32_ACTIVATION_FACTOR if not half else CPU_BF16_ACTIVATION_FACTOR if device == "cpu" else 1
    per_layer = layer_activation_units(parameters, batch=batch, seq=seq, half=half) * factor
    decoder_layers, target = (parameters.decoder_layers or 0, config.model.max_target_length) if config.model.task == "seq2seq" else (0, 0)
    # An encoder-decoder's decoder layer: its self-attention and feed-forward at the summaries' length, and a
    # cross-attention block (its query and output at that length, the encoder output's keys and values, scores over both).
    decoder_layer = layer_activation_units(parameters, batch=batch, seq=seq, target=target, decoder=True, half=half) * factor if decoder_layers else 0
    if current_names(extra).get("activation_checkpointing"):
        activations = max(per_layer, decoder_layer if decoder_layers else 0) + (layers * seq + decoder_layers * target) * batch * h * (2 if half else 4)
    else:
        activations = layers * per_layer + decoder_layers * decoder_layer
    trained = parameters.total if trainable is None else trainable  # LoRA, frozen embeddings: gradients and AdamW moments for the trained ones only
    breakdown = {
        "weights": parameters.total * 4,
        "gradients": trained * 4,
        "optimizer": trained * 8,
        "activations": int(activations),
        "runtime": GPU_CONTEXT_BYTES if device == "cuda" else PROCESS_OVERHEAD_BYTES,
    }
    if target and parameters.vocabulary:
        # The summaries' scores over the vocabulary, in float32 (the loss upcasts them): a training step keeps them, their
        # log-softmax and their gradient, evaluation's loss its batch's scores and log-softmax. The measured peaks hold
        # both (benchmarks/results/estimate_accuracy_seq2seq.md): without them the estimate was 37% to 41% short.
        breakdown["logits"] = 4 * (parameters.vocabulary // h) * target * (3 * batch + 2 * config.training.per_device_eval_batch_size)
    if config.model.task == "causal-lm" and parameters.vocabulary:
        breakdown["logits"] = _causal_lm_scores(parameters.vocabulary // h, config, batch=batch, seq=seq, device=device)
    return breakdown


def _causal_lm_scores(vocabulary: int, config: RunConfig, *, batch: int, seq: int, device: str) -> int:
    """Bytes of a causal LM's float32 scores over the vocabulary at the largest of three moments. Training: the fused
    LM head's tiles (see FUSED_TILE_TOKENS), which do not depend on LoRA. Evaluation by the Trainer (during training
    and at the end, on validation and test): the same head's tiles at the eval batch, fewer copies
    (CPU_FUSED_EVAL_TILE_COPIES). Scoring by finetuner (tasks/causal_lm.token_loss: the base model on validation and
    general text before training, the tuned one on general text after, when the AdamW moments are still held): a chunk
    of tokens at a time, the LM head's output, its float32 copy and log-softmax of at most SCORE_BYTES, whatever the
    batch. The evaluation and the scoring run a forward at the eval batch (or 8 rows) whose own activations stand where
    the training step's are counted: with those subtracted instead, the estimate was 6% below the measured peak at
    2 x 512 tokens evaluating 16 rows a batch (benchmarks/results/estimate_accuracy_causal_lm.md)."""
    from .tasks.causal_lm import SCORE_COPIES, score_chunk_tokens  # noqa: PLC0415

    copies, eval_copies = (CPU_FUSED_TILE_COPIES, CPU_FUSED_EVAL_TILE_COPIES) if device == "cpu" else (1, 1)
    words = min(vocabulary, FUSED_TILE_WORDS)
    training = copies * 4 * min(batch * seq, FUSED_TILE_TOKENS) * words
    evaluation = eval_copies * 4 * min(config.training.per_device_eval_batch_size * seq, FUSED_TILE_TOKENS) * words
    rows = max(8, config.training.per_device_eval_batch_size if config.training.eval_strategy != "no" else 0)
    scoring = SCORE_COPIES * 4 * vocabulary * min(rows * seq, score_chunk_tokens(vocabulary))
    return max(training, evaluation, scoring)
