"""The pre-launch estimate: exact step and token arithmetic, parameters read from a safetensors header,
time from a measured rate, memory that grows with the batch, and warnings a user can act on."""

from __future__ import annotations

import json
import math
import shutil
import struct
from pathlib import Path

import pytest

from finetuner.config import RunConfig, default_model_path
from finetuner.estimate import (
    packing_options,
    BENCHMARK_EFFICIENCY,
    STARTUP_SECONDS,
    Machine,
    ParameterCount,
    count_parameters,
    describe_plan,
    estimate_training,
    measured_rate,
    padded_tokens,
    plan_steps,
    trained_sequences,
)
from task_fixtures import build_tiny_bart, build_tiny_causal_lm, build_tiny_gpt2, build_tiny_t5

MACHINE = Machine("cpu", "CPU, 2 cores", 8 * 2**30, 40e9)
PARAMS = ParameterCount(total=22_000_000, embedding=12_000_000, hidden_size=384, num_layers=6, num_heads=12, vocabulary=11_700_000)


def config(**values) -> RunConfig:
    return RunConfig.from_dict({"train_file": "x.csv", **values})


@pytest.mark.parametrize(
    ("examples", "batch", "accumulation", "epochs", "max_steps", "expected"),
    [
        (256, 32, 1, 3, -1, (8, 24)),
        (257, 32, 1, 3, -1, (9, 27)),
        (256, 32, 2, 3, -1, (4, 12)),
        (256, 32, 1, 1.5, -1, (8, 12)),
        (256, 32, 1, 3, 5, (8, 5)),
    ],
)
def test_plan_steps_counts_like_the_trainer(examples, batch, accumulation, epochs, max_steps, expected):
    assert plan_steps(examples, batch_size=batch, accumulation=accumulation, epochs=epochs, max_steps=max_steps) == expected


def test_padding_is_lower_when_grouped_by_length():
    lengths = [5, 50] * 64
    grouped = padded_tokens(lengths, batch_size=8, group_by_length=True)
    random_order = padded_tokens(lengths, batch_size=8, group_by_length=False)
    assert sum(lengths) <= grouped < random_order
    assert grouped == sum(lengths), "sorted batches of equal lengths need no padding"


def test_estimate_steps_tokens_time_and_memory():
    lengths = [20] * 200 + [300] * 56  # 56 longer than max_seq_length 128
    result = estimate_training(config(max_seq_length=128), train_lengths=lengths, eval_lengths=[20] * 32, machine=MACHINE, parameters=PARAMS)
    assert (result.steps_per_epoch, result.total_steps, result.evaluations) == (16, 48, 3), "classification's default batch is 16"
    assert result.train_tokens == (200 * 20 + 56 * 128) * 3
    assert result.truncated_share == pytest.approx(56 / 256)
    assert any("longer than max_seq_length" in w for w in result.warnings)
    assert result.seconds and result.seconds > 25, "start-up plus compute"
    assert result.memory_breakdown["optimizer"] == 8 * PARAMS.total
    assert result.memory_bytes == sum(result.memory_breakdown.values())
    frozen = estimate_training(config(max_seq_length=128, freeze_embeddings=True), train_lengths=lengths, machine=MACHINE, parameters=PARAMS)
    assert frozen.memory_breakdown["gradients"] == 4 * (PARAMS.total - PARAMS.vocabulary), "no gradients for frozen word embeddings"
    assert frozen.memory_breakdown["optimizer"] == 8 * (PARAMS.total - PARAMS.vocabulary), "nor AdamW moments (the position table gets them)"
    bigger = estimate_training(config(max_seq_length=128, per_device_train_batch_size=64), train_lengths=lengths, machine=MACHINE, parameters=PARAMS)
    assert bigger.memory_breakdown["activations"] > result.memory_breakdown["activations"]
    for name in ("activation_checkpointing", "gradient_checkpointing"):  # the current name and transformers 4's
        checkpointed = estimate_training(config(max_seq_length=128, **{name: True}), train_lengths=lengths, machine=MACHINE, parameters=PARAMS)
        assert checkpointed.memory_breakdown["activations"] < result.memory_breakdown["activations"] / 2, name


def test_evaluations_every_n_steps_count_the_one_at_the_last_step(tmp_path, tiny_model_dir, sentiment_csv):
    """The Trainer evaluates at the last step too when it is off the eval_steps schedule: 12 steps every 5 is 3."""
    from finetuner.runs import RunStore
    from finetuner.train import run_training

    values = {"model_name_or_path": str(tiny_model_dir), "train_file": str(sentiment_csv), "max_seq_length": 32, "per_device_train_batch_size": 8,
              "max_steps": 12, "eval_strategy": "steps", "eval_steps": 5, "warmup_steps": 0}
    estimated = estimate_training(config(**values), train_lengths=[20] * 96, machine=MACHINE, parameters=PARAMS)
    run = RunStore(tmp_path / "runs").create(config(**values))
    run_training(run)
    assert estimated.evaluations == len([e for e in run.events() if e["type"] == "eval"]) == 3


def test_a_batch_larger_than_the_data_is_counted_as_the_data():
    huge = estimate_training(config(max_seq_length=128, per_device_train_batch_size=100_000), train_lengths=[100] * 256, machine=MACHINE, parameters=PARAMS)
    whole = estimate_training(config(max_seq_length=128, per_device_train_batch_size=256), train_lengths=[100] * 256, machine=MACHINE, parameters=PARAMS)
    assert huge.batch_size == 256 and huge.memory_breakdown == whole.memory_breakdown and huge.total_steps == whole.total_steps


def test_too_little_memory_is_warned_about():
    small = Machine("cpu", "CPU", 256 * 2**20, 40e9)
    result = estimate_training(config(), train_lengths=[100] * 64, machine=small, parameters=PARAMS)
    assert any("lower per_device_train_batch_size" in w for w in result.warnings)


def test_the_disk_the_checkpoints_need_is_counted_and_a_full_disk_warned_about(tmp_path, monkeypatch):
    """A save that fails midway on a full disk kills the run: the estimate says before launch how much its
    checkpoints (weights + AdamW's moments, as many as kept at once) and model take, against what is free."""
    import shutil
    from collections import namedtuple

    result = estimate_training(config(save_total_limit=2), train_lengths=[100] * 64, machine=MACHINE, parameters=PARAMS, runs_dir=tmp_path / "runs")
    checkpoint = PARAMS.total * (4 + 8)
    assert result.disk_bytes == (2 + 1 + 1) * checkpoint + PARAMS.total * 4, "two kept, the best apart, the new one, the model"
    assert result.disk_free_bytes == shutil.disk_usage(tmp_path).free, "the runs folder's disk, before the folder exists"
    assert not any("on disk" in w for w in result.warnings)
    fewer = estimate_training(config(save_total_limit=1), train_lengths=[100] * 64, machine=MACHINE, parameters=PARAMS, runs_dir=tmp_path)
    assert fewer.disk_bytes == result.disk_bytes - checkpoint

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 * 2**30, 10 * 2**30 - 300 * 2**20, 300 * 2**20))
    full = estimate_training(config(), train_lengths=[100] * 64, machine=MACHINE, parameters=PARAMS, runs_dir=tmp_path)
    assert "Its checkpoints and model need up to 1.1 GB on disk but 300 MB are free where runs are kept: a save would fail midway. Lower save_total_limit" in full.warnings[0]


def test_unknown_model_size_is_said_not_guessed():
    result = estimate_training(config(model_name_or_path="someone/unknown-model"), train_lengths=[10] * 64, machine=MACHINE)
    assert result.seconds is None and result.memory_bytes is None
    assert any("unknown" in w for w in result.warnings)


def test_few_steps_are_warned_about_with_the_epochs_that_make_enough():
    # The bundled example: 256 training rows at batches of 16 make 16 steps an epoch.
    result = estimate_training(config(per_device_train_batch_size=16, num_train_epochs=3), train_lengths=[10] * 256, machine=MACHINE, parameters=PARAMS)
    assert result.total_steps == 48
    assert "Only 48 optimizer steps (16 an epoch): a pretrained model usually needs a hundred or more to learn a task, and stops short with fewer. Train 10 epochs (160 steps) or lower the batch size." in result.warnings
    enough = estimate_training(config(per_device_train_batch_size=16, num_train_epochs=10), train_lengths=[10] * 256, machine=MACHINE, parameters=PARAMS)
    assert not any("optimizer steps" in w for w in enough.warnings)
    chosen = estimate_training(config(per_device_train_batch_size=16, max_steps=20), train_lengths=[10] * 256, machine=MACHINE, parameters=PARAMS)
    assert chosen.total_steps == 20 and not any("optimizer steps" in w for w in chosen.warnings), "max_steps set on purpose: no advice"


def test_the_plan_packs_as_trl_s_best_fit_and_shards_do():
    """`packing_strategy: bfd` or `dataset_num_proc` in a run's extra TrainingArguments: the plan counted "wrapped"
    sequences in batches of 1,000 whatever they said. Its best fit is TRL's own `_pack_bfd`, sequence for sequence,
    and its batches are `Dataset.map`'s within the shards (each ends in a sequence of its own)."""
    import random

    import numpy as np
    import pyarrow as pa
    from trl.data_utils import _pack_bfd

    rng = random.Random(0)
    lengths = [rng.choice([0, 1, 3, 17, 40, 64, 64, 90, 200]) if i % 7 else rng.randint(1, 128) for i in range(2500)]
    options = {"strategy": "bfd", "num_proc": 3}
    planned = trained_sequences(lengths, max_length=128, packing=True, **options)
    kept = [min(n, 128) for n in lengths]
    trl_packed = []
    for shard in np.array_split(np.arange(len(kept)), 3):  # `Dataset.shard(contiguous=True)`'s bounds
        for at in range(0, len(shard), 1000):
            batch = [kept[i] for i in shard[at : at + 1000]]
            offsets = np.concatenate([[0], np.cumsum(batch)]).astype(np.int32)
            table = pa.table({"input_ids": pa.ListArray.from_arrays(pa.array(offsets), pa.nulls(int(offsets[-1])))})
            trl_packed += pc_lengths(_pack_bfd(table, 128))
    assert planned == trl_packed and len(planned) < len([n for n in lengths if n])
    assert trained_sequences(lengths, max_length=128, packing=True, strategy="bfd") != planned, "three shards end in three short sequences"
    assert trained_sequences([100, 30, 300], max_length=128, packing=True, strategy="bfd") == [128, 100, 30], "whole examples, never cut"
    assert trained_sequences([100] * 4, max_length=128, packing=True, num_proc=2) == [128, 72] * 2, "each shard packed on its own"
    assert packing_options({"packing_strategy": "bfd-requeue", "dataset_num_proc": 4, "shuffle_dataset": True}, seed=7) == {"strategy": "bfd_split", "num_proc": 4, "shuffle_seed": 7}
    assert packing_options({}) == {"strategy": "wrapped", "num_proc": None, "shuffle_seed": None}
    lm = config(task="causal-lm", max_seq_length=128, per_device_train_batch_size=1, num_train_epochs=1, packing=True, extra_training_args={"packing_strategy": "bfd"})
    assert estimate_training(lm, train_lengths=[100] * 10, machine=MACHINE, parameters=PARAMS).train_sequences == 10, "no two fit together"


def pc_lengths(table) -> list[int]:
    return table.column("input_ids").combine_chunks().value_lengths().to_pylist()


def test_packing_joins_examples_into_full_sequences():
    assert trained_sequences([100, 30, 300], max_length=128) == [100, 30, 128], "each example cut at max_length"
    assert trained_sequences([100, 30, 300], max_length=128, packing=True) == [128, 128, 2], "258 tokens: two full 128-token blocks and the 2 left over"
    assert trained_sequences([64, 64], max_length=128, packing=True) == [128]
    lm = config(task="causal-lm", max_seq_length=128, per_device_train_batch_size=8, num_train_epochs=1, packing=True)
    packed = estimate_training(lm, train_lengths=[32] * 320, machine=MACHINE, parameters=PARAMS)
    assert (packed.train_examples, packed.train_sequences, packed.total_steps) == (320, 80, 10), "320 x 32 tokens make 80 sequences of 128"
    assert packed.tokens_per_example == 32 and packed.train_tokens == 320 * 32
    unpacked = estimate_training(config(task="causal-lm", max_seq_length=128, per_device_train_batch_size=8, num_train_epochs=1), train_lengths=[32] * 320, machine=MACHINE, parameters=PARAMS)
    assert (unpacked.train_sequences, unpacked.total_steps) == (None, 40)


def test_the_plan_in_a_sentence():
    training = config(per_device_train_batch_size=16, gradient_accumulation_steps=2, num_train_epochs=3).training
    assert describe_plan(256, training) == "256 training examples: 8 optimizer steps an epoch at an effective batch of 32, 24 in 3 epochs."
    assert describe_plan(256, training, processes=2) == "256 training examples: 4 optimizer steps an epoch at an effective batch of 64, 12 in 3 epochs."
    assert describe_plan(2000, training, sequences=300).startswith("2,000 training examples packed into 300 sequences: 10 optimizer steps an epoch")
    capped = config(per_device_train_batch_size=16, max_steps=20).training
    assert describe_plan(256, capped) == "256 training examples: 16 optimizer steps an epoch at an effective batch of 16; Max steps stops it after 20 (1.25 epochs)."


def test_parameters_from_the_safetensors_header(tmp_path):
    header = {
        "__metadata__": {"format": "pt"},
        "embeddings.word_embeddings.weight": {"dtype": "F32", "shape": [100, 8], "data_offsets": [0, 3200]},
        "embeddings.position_ids": {"dtype": "I64", "shape": [1, 16], "data_offsets": [3200, 3328]},
        "encoder.layer.0.weight": {"dtype": "F32", "shape": [8, 8], "data_offsets": [3328, 3584]},
    }
    raw = json.dumps(header).encode()
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 3584)
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2}))
    count = count_parameters(str(tmp_path))
    assert (count.total, count.embedding, count.compute("text-classification")) == (864, 800, 64)
    assert count.hidden_size == 8 and count.num_layers == 1


def test_bundled_model_size_is_known():
    count = count_parameters(default_model_path())
    assert count is not None and math.isclose(count.total, 22.7e6, rel_tol=0.01)


def test_parameters_from_config_only(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64, "vocab_size": 400, "max_position_embeddings": 128, "type_vocab_size": 2}))
    count = count_parameters(str(tmp_path))
    assert count.embedding == (400 + 128 + 2) * 32
    assert count.total > count.embedding


def test_a_rotary_decoders_config_has_no_position_table(tmp_path):
    """Before its weights are downloaded, a Qwen2.5-0.5B-like config.json was counted with a 32,768 x 896 position table
    it does not have (rotary positions), and without the lm_head of an untied model."""
    values = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128, "vocab_size": 1000, "max_position_embeddings": 32768, "rope_theta": 1e6}
    for tied in (True, False):
        folder = tmp_path / str(tied)
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({**values, "tie_word_embeddings": tied}))
    tied, untied = count_parameters(str(tmp_path / "True")), count_parameters(str(tmp_path / "False"))
    assert tied.embedding == tied.vocabulary == 1000 * 64
    assert untied.total == tied.total + 1000 * 64 and not untied.tied_output
    assert untied.compute("causal-lm") == tied.compute("causal-lm")


@pytest.mark.parametrize("family", ["llama", "qwen2", "phi3", "gpt2"])
def test_a_decoders_size_from_its_config_alone_is_the_models(tmp_path, family):
    """Before a Hub model's weights are downloaded only config.json is cached, and the estimate counted a decoder as a
    BERT-like encoder: grouped key/value heads and a gated feed-forward layer miscounted (SmolLM2-135M, the causal-LM
    default, as 121M; Llama-3.2-1B as 1.07B of 1.24B), with the memory and time that follow. Phi-3's fused projections,
    Qwen2's attention biases and GPT-2's final norm count too."""
    import transformers as tf

    sizes = {"pad_token_id": 0, "vocab_size": 100, "hidden_size": 32, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1}
    model_config = {
        "llama": lambda: tf.LlamaConfig(**sizes, tie_word_embeddings=True),
        "qwen2": lambda: tf.Qwen2Config(**sizes),
        "phi3": lambda: tf.Phi3Config(**sizes),
        "gpt2": lambda: tf.GPT2Config(vocab_size=100, n_embd=32, n_layer=2, n_head=2, n_positions=64),
    }[family]()
    model_class = tf.AutoModelForCausalLM._model_mapping[type(model_config)]
    model_config.architectures = [model_class.__name__]
    model_config.save_pretrained(tmp_path)
    real = sum(p.numel() for p in model_class(model_config).parameters())
    assert count_parameters(str(tmp_path)).total == real
    result = estimate_training(config(model_name_or_path=str(tmp_path), task="causal-lm", max_seq_length=32), train_lengths=[20] * 64, machine=MACHINE)
    assert result.parameters == real and result.memory_breakdown["weights"] == 4 * real


def test_a_gpt2_config_is_read_by_its_own_names(tmp_path):
    """GPT-2's config.json says n_embd, n_layer, n_head: read as BERT's names only, GPT-2 medium's time and memory
    were not estimated at all (size unknown) and, with its weights' file, taken for 12 layers of 768."""
    for layers in (12, 24):
        folder = tmp_path / f"gpt2-{layers}"
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_embd": 1024, "n_layer": layers, "n_head": 16, "vocab_size": 50257, "n_positions": 1024}))
    count = count_parameters(str(tmp_path / "gpt2-24"))
    assert (count.hidden_size, count.num_layers, count.num_heads) == (1024, 24, 16)
    assert count.embedding == (50257 + 1024) * 1024
    estimates = {layers: estimate_training(config(model_name_or_path=str(tmp_path / f"gpt2-{layers}")), train_lengths=[30] * 64, machine=MACHINE) for layers in (12, 24)}
    assert not any("unknown" in w for e in estimates.values() for w in e.warnings)
    assert estimates[24].memory_breakdown["activations"] == 2 * estimates[12].memory_breakdown["activations"]


@pytest.fixture(scope="module")
def decoders(tmp_path_factory) -> dict[str, str]:
    """Tiny GPT-2 (wte, wpe), Llama (embed_tokens) and BART (shared, embed_positions) folders as transformers saves them:
    each output layer tied to the word table, so none has an lm_head weight of its own."""
    root = tmp_path_factory.mktemp("decoders")
    texts = ["the cat sat on the mat", "a dog ran far away today"] * 10
    return {name: str(build(root / name, texts)) for name, build in (("gpt2", build_tiny_gpt2), ("llama", build_tiny_causal_lm), ("bart", build_tiny_bart))}


def _vocabulary(folder: str) -> int:
    return json.loads((Path(folder) / "config.json").read_text())["vocab_size"]


def test_a_decoders_word_table_is_a_lookup_for_classification_and_ner(decoders):
    """Only tensors named *embeddings* were taken for tables: GPT-2's wte and wpe and Llama's (Qwen's) embed_tokens
    counted as compute, so classifying or tagging with a decoder was estimated as if every token multiplied by the
    vocabulary table (Qwen2.5-0.5B: 38% too long)."""
    gpt2, llama = count_parameters(decoders["gpt2"]), count_parameters(decoders["llama"])
    assert gpt2.embedding == (_vocabulary(decoders["gpt2"]) + 64) * 32, "wte and wpe"
    assert llama.embedding == llama.vocabulary == _vocabulary(decoders["llama"]) * 32, "embed_tokens (rotary positions: no table)"
    for task in ("text-classification", "token-classification"):
        assert gpt2.compute(task) == gpt2.total - gpt2.embedding
        assert llama.compute(task) == llama.total - llama.embedding
    times = {}
    for task in ("text-classification", "causal-lm"):
        values = {"model_name_or_path": decoders["llama"], "task": task, "per_device_train_batch_size": 8, "max_seq_length": 64, "learning_rate": 1e-4}
        result = estimate_training(config(**values), train_lengths=[30] * 64, machine=MACHINE)
        times[task] = result.seconds - STARTUP_SECONDS - llama.total * 4 / 200e6
    assert times["text-classification"] == pytest.approx(6 * llama.compute("text-classification") * 64 * 30 * 3 / (MACHINE.flops_per_second * BENCHMARK_EFFICIENCY))
    assert times["text-classification"] < times["causal-lm"], "a language model's logits cost compute"


def test_freezing_a_decoders_word_table_saves_its_gradients_and_optimizer_state(decoders):
    """With freeze_embeddings, GPT-2's wte gets no gradient nor AdamW moments; its position table (wpe) does."""
    count = count_parameters(decoders["gpt2"])
    values = {"model_name_or_path": decoders["gpt2"], "max_seq_length": 64, "freeze_embeddings": True}
    frozen = estimate_training(config(**values), train_lengths=[30] * 64, machine=MACHINE)
    trained = count.total - _vocabulary(decoders["gpt2"]) * 32
    assert (frozen.memory_breakdown["gradients"], frozen.memory_breakdown["optimizer"]) == (4 * trained, 8 * trained)


def test_a_tied_output_layer_counts_as_compute_for_causal_lm_and_seq2seq(decoders, tmp_path):
    """A language model's logits multiply by the word table when the output layer is tied to it: 2 x vocabulary x hidden
    FLOPs a token forward, so there the table counts; an lm_head of its own counts instead, and the input table not."""
    gpt2, llama, bart = (count_parameters(decoders[name]) for name in ("gpt2", "llama", "bart"))
    assert gpt2.tied_output and llama.tied_output and bart.tied_output
    assert gpt2.compute("causal-lm") == gpt2.total - 64 * 32, "all but the position table"
    assert llama.compute("causal-lm") == llama.total
    assert bart.compute("seq2seq") == bart.total - 2 * 66 * 32, "all but the encoder's and decoder's position tables"
    header = {
        "model.embed_tokens.weight": {"dtype": "F32", "shape": [100, 8], "data_offsets": [0, 3200]},
        "model.layers.0.mlp.up_proj.weight": {"dtype": "F32", "shape": [16, 8], "data_offsets": [3200, 3712]},
        "lm_head.weight": {"dtype": "F32", "shape": [100, 8], "data_offsets": [3712, 6912]},
    }
    raw = json.dumps(header).encode()
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 6912)
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8, "num_hidden_layers": 1, "vocab_size": 100, "tie_word_embeddings": False}))
    untied = count_parameters(str(tmp_path))
    assert not untied.tied_output
    assert untied.compute("causal-lm") == untied.compute("text-classification") == 128 + 800, "up_proj and lm_head"


@pytest.fixture(scope="module")
def seq2seq_models(tmp_path_factory) -> dict[str, Path]:
    """Tiny T5 and BART as transformers 5 saves them (the word table once, as `shared`), and as older transformers
    saved them: the encoder's and decoder's word tables and the tied lm_head written out beside `shared`; a
    Flan-T5-like T5 whose lm_head is a weight of its own (tie_word_embeddings false), and a BART untied so (whose
    encoder and decoder then have word tables of their own too, in transformers 5)."""
    from safetensors.torch import load_file, save_file
    from transformers import AutoConfig, BartForConditionalGeneration

    root = tmp_path_factory.mktemp("seq2seq")
    texts = ["the cat sat on the mat", "a dog ran far away today"] * 10
    t5, bart = build_tiny_t5(root / "t5", texts), build_tiny_bart(root / "bart", texts)

    def rewritten(source: Path, name: str, copies: dict[str, str], *, untied_head: bool = False) -> Path:
        folder = root / name
        shutil.copytree(source, folder)
        tensors = load_file(folder / "model.safetensors")
        tensors.update({copy: tensors[table].clone() for copy, table in copies.items()})
        if untied_head:
            tensors["lm_head.weight"] = tensors["shared.weight"].flip(0).contiguous()
            values = json.loads((folder / "config.json").read_text())
            (folder / "config.json").write_text(json.dumps({**values, "tie_word_embeddings": False}))
        save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
        return folder

    untied_bart = root / "bart-untied"
    BartForConditionalGeneration(AutoConfig.from_pretrained(bart, tie_word_embeddings=False)).save_pretrained(untied_bart)
    t5_copies = {"encoder.embed_tokens.weight": "shared.weight", "decoder.embed_tokens.weight": "shared.weight"}
    return {
        "t5": t5,
        "t5 with copies": rewritten(t5, "t5-copies", {**t5_copies, "lm_head.weight": "shared.weight"}),
        "flan-t5 with copies": rewritten(t5, "flan-t5-copies", t5_copies, untied_head=True),
        "bart": bart,
        "bart with copies": rewritten(bart, "bart-copies", {"model.encoder.embed_tokens.weight": "model.shared.weight", "model.decoder.embed_tokens.weight": "model.shared.weight", "lm_head.weight": "model.shared.weight"}),
        "untied bart": untied_bart,
    }


@pytest.mark.parametrize("name", ["t5", "t5 with copies", "flan-t5 with copies", "bart", "bart with copies", "untied bart"])
def test_a_tied_word_table_is_counted_once(seq2seq_models, name):
    """T5 and BART checkpoints from older transformers hold the one word table under three or four names (shared, the
    encoder's and decoder's embed_tokens, a tied lm_head): each was counted, so a seq2seq run on Flan-T5-base was
    estimated with 49M parameters too many (272M for its 223M), and the memory and time that go with them."""
    from transformers import AutoModelForSeq2SeqLM

    folder = seq2seq_models[name]
    model = AutoModelForSeq2SeqLM.from_pretrained(folder)
    real = sum(p.numel() for p in model.parameters())  # each tied table once
    table = model.get_input_embeddings().weight.numel()
    count = count_parameters(str(folder))
    assert count.total == real
    assert count.vocabulary == table, "what freeze_embeddings freezes: the one table"
    assert count.tied_output == (name not in ("flan-t5 with copies", "untied bart"))
    result = estimate_training(config(model_name_or_path=str(folder), task="seq2seq", max_seq_length=32), train_lengths=[20] * 64, machine=MACHINE)
    assert result.parameters == real and result.memory_breakdown["weights"] == 4 * real


@pytest.mark.parametrize("name", ["t5", "flan-t5 with copies", "bart", "untied bart"])
def test_an_encoder_decoders_size_from_its_config_alone(seq2seq_models, tmp_path, name):
    """Before its weights are downloaded only config.json is cached: T5 was counted as a BERT-like encoder (its decoder,
    half the model, left out) and BART's size was unknown, so no time or memory was estimated for it. From config.json
    alone, both now count as the model transformers loads, its word table once (twice untied, BART's thrice)."""
    from transformers import AutoModelForSeq2SeqLM

    real = sum(p.numel() for p in AutoModelForSeq2SeqLM.from_pretrained(seq2seq_models[name]).parameters())
    shutil.copy(seq2seq_models[name] / "config.json", tmp_path / "config.json")
    count = count_parameters(str(tmp_path))
    assert count.total == real and count.tied_output == (name in ("t5", "bart"))
    result = estimate_training(config(model_name_or_path=str(tmp_path), task="seq2seq", max_seq_length=32), train_lengths=[20] * 64, machine=MACHINE)
    assert result.parameters == real and result.seconds is not None


@pytest.mark.parametrize("family", ["t5", "gated t5", "bart", "mbart", "pegasus", "marian", "led"])
def test_a_decoder_layer_counts_its_cross_attention(tmp_path, family):
    """A decoder layer attends to the encoder's output too: with fewer encoder than decoder layers, and another
    feed-forward size in the decoder (BART), the count from config.json is still the model's. So it is for the rest of
    BART's family, which a BART formula miscounted: mBART's final norms, Pegasus's and Marian's sinusoidal positions,
    LED's global attention projections."""
    import torch
    from transformers import AutoModelForSeq2SeqLM, BartConfig, LEDConfig, MarianConfig, MBartConfig, PegasusConfig, T5Config

    t5 = {"vocab_size": 100, "d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 2, "num_decoder_layers": 3, "num_heads": 4}
    bart = {"vocab_size": 100, "d_model": 32, "encoder_layers": 1, "decoder_layers": 2, "encoder_ffn_dim": 64, "decoder_ffn_dim": 48, "max_position_embeddings": 64}
    model_config = {
        "t5": T5Config(**t5),
        "gated t5": T5Config(**t5, feed_forward_proj="gated-gelu"),
        "bart": BartConfig(**bart),
        "mbart": MBartConfig(**bart),
        "pegasus": PegasusConfig(**bart),
        "marian": MarianConfig(**bart, pad_token_id=0, decoder_start_token_id=0),
        "led": LEDConfig(**bart, max_encoder_position_embeddings=64, max_decoder_position_embeddings=64),
    }[family]
    model_config.save_pretrained(tmp_path)
    with torch.device("meta"):
        model = AutoModelForSeq2SeqLM.from_config(model_config)
    assert count_parameters(str(tmp_path)).total == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("family", ["t5", "bart"])
def test_an_encoder_decoders_activations_count_its_decoder_layers(tmp_path, family):
    """The memory estimate counted an encoder-decoder's encoder layers alone: T5's num_layers, BART's num_hidden_layers
    (absent from configs transformers 5 writes: 12 were assumed), whatever the decoder's layers and the summaries'
    length. A T5 of 4 + 4 layers (d_model 256) measured 684 MiB of activations at batch 8 x 128 + 128 tokens, 301
    MiB with summaries of 8 tokens: the estimate said 132 for both; it now grows with the decoder and the summaries."""
    from transformers import BartConfig, T5Config

    def activations(decoder_layers: int, max_target_length: int) -> int:
        folder = tmp_path / f"{decoder_layers}"
        if family == "t5":
            T5Config(vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=decoder_layers, num_heads=4).save_pretrained(folder)
        else:
            BartConfig(vocab_size=100, d_model=32, encoder_layers=2, decoder_layers=decoder_layers, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64).save_pretrained(folder)
        run = config(task="seq2seq", model_name_or_path=str(folder), max_seq_length=64, max_target_length=max_target_length)
        return estimate_training(run, train_lengths=[64] * 32, machine=MACHINE).memory_breakdown["activations"]

    assert activations(2, 64) < activations(4, 64), "more decoder layers, more activations"
    assert activations(2, 8) < activations(2, 64), "longer summaries, more activations"


@pytest.mark.parametrize("family", ["t5", "bart"])
def test_an_encoder_decoder_layers_activations_are_counted_for_its_family(tmp_path, family):
    """A layer's activations were BERT's per-layer formula for every family, and a T5 v1.1-shaped summarizer's
    measured peak was 13% to 24% above the estimate: a T5 layer keeps about twice what a BERT layer of its size does
    (float32 RMSNorm inputs, gated GELU's wi_0 and wi_1 outputs and gelu_new's intermediates, a dropout mask after the
    product; benchmarks/results/layer_activations.md). The activations for a tiny config, counted by hand in float32
    bytes per token and hidden unit (h 16, 2 heads, batch 2, 4 source and 3 target tokens, factor 3) and put in the
    unit the factor was fitted on: 34 x bytes / the BERT layer's 72 (24 + 16 + 8 x 4), + 5 x heads x s x s x b."""
    from transformers import BartConfig, T5Config

    if family == "t5":  # d_kv 4 x 2 heads: attention inner r = 8 / 16 = 0.5; d_ff 32: f = 2
        T5Config(vocab_size=100, d_model=16, d_kv=4, num_heads=2, d_ff=32, num_layers=1, num_decoder_layers=1, feed_forward_proj="gated-gelu").save_pretrained(tmp_path)
        # self-attention: norm input, normalised, q/k/v input (3 x 4) + q, k, v, attention output (4 x 4 x 0.5) + mask (4)
        # feed-forward: the same norm (12) + 8 tensors of d_ff (8 x 4 x 2) + the output dropout's mask (4)
        encoder = (12 + 4 * 4 * 0.5 + 4) + (12 + 8 * 4 * 2 + 4)  # 104
        cross = 12 + 2 * 4 * 0.5 + 4  # norm input, normalised, query input; q and attention output; mask: 20
        keys_values = 2 * 4 * 0.5  # per source token: 4
    else:  # BART: attention inner = hidden (r = 1); ffn 32: f = 2
        BartConfig(vocab_size=100, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                   encoder_ffn_dim=32, decoder_ffn_dim=32, activation_dropout=0.1, max_position_embeddings=64).save_pretrained(tmp_path)
        # BERT's layer: q/k/v input, q, k, v, attention output, mask, LayerNorm input (4 + 16 + 8); feed-forward input, fc1
        # output, GELU output (2 x 4 x 2), mask, LayerNorm input (12 + 16); + the activation dropout's mask (4 x 2)
        encoder = (4 + 4 * 4 + 8) + (12 + 2 * 4 * 2) + 4 * 2  # 64
        cross = 4 + 2 * 4 + 4 + 4  # query input, q and attention output, mask, LayerNorm input: 20
        keys_values = 2 * 4  # 8
    b, s, t, h, heads = 2, 4, 3, 16, 2
    encoder_units = 34 * b * s * h * encoder / 72 + 5 * heads * s * s * b
    decoder_units = 34 * b * h * (t * (encoder + cross) + s * keys_values) / 72 + 5 * heads * t * t * b + 5 * heads * t * s * b
    run = config(task="seq2seq", model_name_or_path=str(tmp_path), max_seq_length=8, max_target_length=t, per_device_train_batch_size=b)  # the texts: 4 tokens
    result = estimate_training(run, train_lengths=[s] * 8, machine=MACHINE)
    assert result.precision == "fp32"
    assert result.memory_breakdown["activations"] == int(3 * (encoder_units + decoder_units))


def test_a_bert_like_layers_activations_are_unchanged():
    """The constants were fitted on the bundled BERT-like encoder: its layer stays s*b*h*(34 + 5*a*s/h) x 3 in float32."""
    run = config(model_name_or_path="unknown", max_seq_length=32, per_device_train_batch_size=8)
    result = estimate_training(run, train_lengths=[32] * 64, machine=MACHINE, parameters=PARAMS)
    assert result.memory_breakdown["activations"] == int(6 * 32 * 8 * 384 * (34 + 5 * 12 * 32 / 384) * 3)


def test_a_summarizers_scores_over_the_vocabulary_are_counted(tmp_path):
    """A seq2seq step holds the summaries' float32 scores over the whole vocabulary (with their log-softmax and
    gradient), and evaluation's loss its own batch's: the estimate left them out and was 37% to 41% below the
    measured peak (benchmarks/results/estimate_accuracy_seq2seq.md). They grow with both batches and the summaries."""
    from transformers import T5Config

    T5Config(vocab_size=8000, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4).save_pretrained(tmp_path)

    def logits(**values) -> int:
        run = config(task="seq2seq", model_name_or_path=str(tmp_path), max_seq_length=64, **values)
        return estimate_training(run, train_lengths=[64] * 64, machine=MACHINE).memory_breakdown.get("logits", 0)

    base = logits(max_target_length=32, per_device_train_batch_size=8, per_device_eval_batch_size=16)
    assert 0 < base < logits(max_target_length=64, per_device_train_batch_size=8, per_device_eval_batch_size=16)
    assert base < logits(max_target_length=32, per_device_train_batch_size=16, per_device_eval_batch_size=16)
    assert base < logits(max_target_length=32, per_device_train_batch_size=8, per_device_eval_batch_size=32)


def test_a_t5_trained_without_its_summarization_prefix_is_warned_about(tmp_path):
    """T5 checkpoints name 'summarize: ' in config.json (task_specific_params): a run with no source_prefix trained
    T5 on bare documents, which nothing said; BART names none and gets no warning."""
    from transformers import BartConfig, T5Config

    summarization = {"summarization": {"prefix": "summarize: ", "num_beams": 4}}
    T5Config(vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, task_specific_params=summarization).save_pretrained(tmp_path / "t5")
    BartConfig(vocab_size=100, d_model=32, encoder_layers=1, decoder_layers=1, max_position_embeddings=64).save_pretrained(tmp_path / "bart")

    def warnings(model: str, prefix: str) -> list[str]:
        run = config(task="seq2seq", model_name_or_path=str(tmp_path / model), max_seq_length=32, source_prefix=prefix, max_steps=200)
        return [w for w in estimate_training(run, train_lengths=[16] * 8, machine=MACHINE).warnings if "prefix" in w]

    (said,) = warnings("t5", "")
    assert "names 'summarize: ' as its summarization prefix" in said and "Set source_prefix to 'summarize: '" in said
    assert warnings("t5", "summarize: ") == [] and warnings("bart", "") == []


def test_max_seq_length_past_a_rotary_models_positions_is_warned_about(tmp_path):
    """A rotary (RoPE) model has no position table to index past, so nothing refused a max_seq_length beyond its
    max_position_embeddings, and it trained on positions it never learned, its quality falling silently. The estimate
    now says so with the numbers; rope scaling in config.json (rope_scaling, transformers 5's rope_parameters) extends
    the positions it reads, and warns only past them; a model with a learned table (GPT-2) is refused elsewhere."""
    from transformers import GPT2Config, LlamaConfig, ModernBertConfig, Qwen2Config

    sizes = {"vocab_size": 100, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
    LlamaConfig(**sizes, max_position_embeddings=64).save_pretrained(tmp_path / "llama")
    LlamaConfig(**sizes, max_position_embeddings=64, rope_scaling={"rope_type": "linear", "factor": 4.0}).save_pretrained(tmp_path / "linear")
    Qwen2Config(**sizes, max_position_embeddings=64, rope_scaling={"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 64}).save_pretrained(tmp_path / "yarn")
    ModernBertConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=64).save_pretrained(tmp_path / "modernbert")
    GPT2Config(vocab_size=100, n_embd=32, n_layer=1, n_head=2, n_positions=64).save_pretrained(tmp_path / "gpt2")

    def warnings(model: str, length: int, task: str = "causal-lm") -> list[str]:
        run = config(task=task, model_name_or_path=str(tmp_path / model), max_seq_length=length, max_steps=200)
        return [w for w in estimate_training(run, train_lengths=[16] * 8, machine=MACHINE).warnings if "max_seq_length" in w and "reads well" in w]

    (said,) = warnings("llama", 128)
    assert said.startswith(f"max_seq_length 128 is longer than {tmp_path / 'llama'} reads well: it was trained on 64 positions (max_position_embeddings)")
    assert "quality falls" in said and "Set max_seq_length to 64 or less" in said
    assert warnings("llama", 64) == []
    assert warnings("linear", 256) == [] and "linear rope scaling, factor 4 on 64 positions extends it to 256 positions" in warnings("linear", 512)[0]
    assert warnings("yarn", 128) == [] and "Set max_seq_length to 128 or less." in warnings("yarn", 129)[0]
    assert "trained on 64 positions" in warnings("modernbert", 128, "text-classification")[0]  # any task on a rotary model
    assert warnings("gpt2", 128) == []  # learned positions: check_max_length refuses it


def test_the_rotary_warning_reads_a_models_config_once(tmp_path, monkeypatch):
    """The Train tab's plan asks rotary_warning at every change of the form, and each call parsed the model's config
    with AutoConfig again; now once per config.json, and again when the file changes."""
    import os

    import transformers
    from transformers import LlamaConfig

    from finetuner.estimate import rotary_warning

    LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=64).save_pretrained(tmp_path)
    parse = transformers.AutoConfig.from_pretrained.__func__
    parsed: list[str] = []
    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", classmethod(lambda cls, *a, **k: parsed.append(a[0]) or parse(cls, *a, **k)))
    run = config(task="causal-lm", model_name_or_path=str(tmp_path), max_seq_length=128)
    assert "trained on 64 positions" in rotary_warning(run) and "trained on 64 positions" in rotary_warning(run)
    assert len(parsed) == 1, parsed
    values = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**values, "max_position_embeddings": 256}))
    os.utime(tmp_path / "config.json", ns=(0, (tmp_path / "config.json").stat().st_mtime_ns + 10**9))  # a later edit
    assert rotary_warning(run) is None and len(parsed) == 2, "the edited config.json is read again"


def test_a_config_that_failed_to_read_is_read_again(tmp_path, monkeypatch):
    """A failed read of a model's config was kept until config.json changed: a failure from anything else (a read
    that failed once, remote code files that came later) left the plan without the rotary warning for good."""
    import transformers
    from transformers import LlamaConfig

    from finetuner.estimate import rotary_warning

    LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=64).save_pretrained(tmp_path)
    parse = transformers.AutoConfig.from_pretrained.__func__
    failures = [OSError("the disk did not answer")]

    def flaky(cls, *args, **kwargs):
        if failures:
            raise failures.pop()
        return parse(cls, *args, **kwargs)

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", classmethod(flaky))
    run = config(task="causal-lm", model_name_or_path=str(tmp_path), max_seq_length=128)
    assert rotary_warning(run) is None, "a config that cannot be read: no warning (loading the model says why)"
    assert "trained on 64 positions" in rotary_warning(run), "read again once it can be, config.json unchanged"


def test_a_causal_lms_scores_over_the_vocabulary_are_counted():
    """A causal LM scores every token against its whole vocabulary in float32: each training step through TRL's fused
    LM head in tiles of up to 4,096 tokens x 32,768 words, and finetuner's scoring of the base and tuned model on
    validation and general text a chunk of tokens at a time (tasks/causal_lm.SCORE_BYTES). The estimate left them out
    and said a Qwen2.5-0.5B run fits when these alone take gigabytes (benchmarks/results/estimate_accuracy_causal_lm.md:
    64% to 81% below the measured peak, at SmolLM2's vocabulary); then it counted the scoring's full scores of a whole
    evaluation batch (3 x 4 x V x s bytes a row: 60 GB at 64 rows of 512 tokens), which scoring no longer holds."""
    vocabulary, hidden = 151_936, 896
    qwen = ParameterCount(total=494_032_768, embedding=vocabulary * hidden, hidden_size=hidden, num_layers=24, num_heads=14, vocabulary=vocabulary * hidden, tied_output=True)

    def estimate(trainable: int | None = None, **values):
        run = config(task="causal-lm", model_name_or_path="Qwen/Qwen2.5-0.5B-Instruct", **values)
        return estimate_training(run, train_lengths=[4096] * 256, machine=MACHINE, parameters=qwen, trainable_parameters=trainable)

    tiles = 8 * 4 * 4096 * 32768  # a training step of 8 x 512 tokens: one full tile, 8 float32 copies on a CPU
    evaluated = {rows: estimate(max_seq_length=512, per_device_train_batch_size=8, per_device_eval_batch_size=rows, eval_strategy="epoch") for rows in (8, 64)}
    assert evaluated[64].memory_breakdown["logits"] == evaluated[8].memory_breakdown["logits"] == tiles
    assert evaluated[64].memory_bytes == evaluated[8].memory_bytes, "scoring's memory does not grow with the evaluation batch"
    assert evaluated[64].memory_bytes < 40 * 2**30
    # LoRA on one row of 512 tokens: the Trainer's evaluation (4 copies of a full tile) is the largest, scoring's
    # chunk of at most SCORE_BYTES below it
    from finetuner.tasks.causal_lm import SCORE_BYTES

    lora = estimate(1_000_000, max_seq_length=512, per_device_train_batch_size=1, per_device_eval_batch_size=64, eval_strategy="epoch")
    assert lora.memory_breakdown["logits"] == 4 * 4 * 4096 * 32768 > 8 * 4 * 512 * 32768 > SCORE_BYTES
    full, lora = (estimate(trainable, max_seq_length=128, per_device_train_batch_size=32, eval_strategy="no") for trainable in (None, 1_000_000))
    assert full.memory_breakdown["logits"] == lora.memory_breakdown["logits"] == tiles, "the scores do not depend on LoRA"


def test_a_causal_lms_evaluation_tiles_are_counted():
    """The Trainer evaluates a causal LM (during training and at the end) through TRL's fused LM head too, an eval batch
    a step, while it keeps the gradients and AdamW moments: on a CPU about 4 float32 copies of a tile of up to 4,096
    tokens x 32,768 words. For the benchmark's decoder (hidden 256, 4 layers, 49,152 words) at 2 x 256 tokens evaluating
    16 rows a batch, those 2 GiB are the peak (benchmarks/results/estimate_accuracy_causal_lm.md); counting only the
    training step's tiles (512 MiB) and scoring's chunk, the estimate was half the measured peak RSS."""
    vocabulary, hidden = 49_152, 256
    decoder = ParameterCount(total=16_519_424, embedding=vocabulary * hidden, hidden_size=hidden, num_layers=4, num_heads=4, vocabulary=vocabulary * hidden, tied_output=True)

    def estimate(rows: int):
        run = config(task="causal-lm", model_name_or_path="decoder", max_seq_length=256, per_device_train_batch_size=2, per_device_eval_batch_size=rows, eval_strategy="epoch")
        return estimate_training(run, train_lengths=[256] * 12, machine=MACHINE, parameters=decoder)

    tile = 4 * 4096 * 32768
    sixteen, one = estimate(16), estimate(1)
    assert sixteen.memory_breakdown["logits"] == 4 * tile
    assert one.memory_breakdown["logits"] == 8 * 4 * 512 * 32768, "one row a batch: the training step's tile is the larger"
    assert sixteen.memory_bytes - one.memory_bytes > 2**30


def test_an_older_gpt2_checkpoints_causal_masks_are_not_parameters(decoders, tmp_path):
    """GPT-2's checkpoint on the Hub holds each layer's causal mask (`h.N.attn.bias`, 1 x 1 x 1024 x 1024) and a scalar
    `masked_bias`: buffers transformers does not even load, which were counted as 12.6M parameters (137M for 124M)."""
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForCausalLM

    shutil.copytree(decoders["gpt2"], tmp_path / "gpt2")
    folder = tmp_path / "gpt2"
    tensors = load_file(folder / "model.safetensors")
    for layer in range(json.loads((folder / "config.json").read_text())["n_layer"]):
        tensors[f"h.{layer}.attn.bias"] = torch.tril(torch.ones(1, 1, 64, 64))
        tensors[f"h.{layer}.attn.masked_bias"] = torch.tensor(-1e4)
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    real = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(folder).parameters())
    assert count_parameters(str(folder)).total == real


def test_freezing_a_tied_word_table_saves_the_output_layers_weight_gradient(decoders):
    """In a causal LM whose output layer is the word table, freeze_embeddings freezes the output layer too: its weight
    gradient (2 of the 6 FLOPs a token per parameter) is not computed."""
    count = count_parameters(decoders["llama"])
    times = {}
    for freeze in (False, True):
        values = {"model_name_or_path": decoders["llama"], "task": "causal-lm", "max_seq_length": 64, "freeze_embeddings": freeze}
        result = estimate_training(config(**values), train_lengths=[30] * 64, machine=MACHINE)
        times[freeze] = result.seconds - STARTUP_SECONDS - count.total * 4 / 200e6
    assert times[True] / times[False] == pytest.approx((6 * count.total - 2 * count.vocabulary) / (6 * count.total))


def test_an_earlier_runs_rate_is_counted_for_its_own_task(decoders, tmp_path):
    """The measured rate is tokens/s x 6 x the parameters that run's tokens multiplied by: for a classification run on a
    decoder, without its word table; for a causal LM run on the same tied model, with it."""
    count = count_parameters(decoders["llama"])
    for task in ("text-classification", "causal-lm"):
        run = tmp_path / task / "r1"
        run.mkdir(parents=True)
        (run / "config.yaml").write_text(f"model_name_or_path: {decoders['llama']}\ntask: {task}\n")
        (run / "events.jsonl").write_text(json.dumps({"type": "log", "step": 10, "tokens_per_second": 100.0, "metrics": {}}) + "\n")
        rate, _ = measured_rate(tmp_path / task)
        assert rate == pytest.approx(100.0 * 6 * count.compute(task))
    assert count.compute("text-classification") < count.compute("causal-lm")


def test_rate_is_measured_from_earlier_runs(tmp_path):
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(f"model_name_or_path: {default_model_path()}\n")
    events = [{"type": "log", "step": 10, "tokens_per_second": 200.0, "metrics": {"loss": 0.5}}]
    (run / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    rate, source = measured_rate(tmp_path / "runs")
    assert rate == pytest.approx(200.0 * 6 * count_parameters(default_model_path()).compute("text-classification"))
    assert "r1" in source
    assert measured_rate(tmp_path / "nothing") is None
