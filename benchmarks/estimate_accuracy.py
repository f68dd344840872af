"""Are the pre-launch estimates honest? Estimate vs measured time and peak memory on the bundled model.

For each (batch size, sequence length) in the grid, a short run of the bundled all-MiniLM-L6-v2 on SST-2
text is estimated exactly as the studio estimates it (`finetuner.estimate.estimate_training`, on the
run's config and the token lengths of its examples), then trained as the studio trains it (`python -m
finetuner train --run_dir ...` in its own process), and measured:

* wall time of the training process, launch to exit (what the user waits; the estimate's `seconds`);
* peak resident memory of that process (`wait4` rusage; the estimate's `memory_bytes` on a CPU), and
  on a GPU the peak allocated by torch, read back from the run folder;
* the training loop alone (`train_runtime`) against the estimate's compute share, to separate the
  rate from the fixed start-up cost.

Training texts are several SST-2 sentences joined, longer than every sequence length, so each example
is cut to exactly `max_seq_length` tokens: the sequence length is the variable, not the data.

Two estimates per configuration, made before it is trained: *cold* (an empty runs folder: the rate
comes from a matmul benchmark of this machine at the run's shapes) and *warm* (the runs folder holds the
benchmark's earlier runs of *other* configurations: the rate is the one the most similar of them
measured), the two situations a studio user meets. Each configuration is trained `--repeats` times;
the fastest is compared (the estimate cannot know what else the machine will be running), and every
measurement is kept in the results to show the noise of a shared machine.

    python benchmarks/estimate_accuracy.py                       # 8 runs, about 10 minutes on 2 busy cores
    python benchmarks/estimate_accuracy.py --batch-sizes 8 16 32 --lengths 64 128 --steps 12
    python benchmarks/estimate_accuracy.py --task seq2seq --repeats 1   # summarization, below
    python benchmarks/estimate_accuracy.py --task causal-lm --batch-sizes 2 8 --lengths 256 512 --steps 6 --repeats 1 --eval-rows 32

`--task seq2seq` does the same for summarization: SciTLDR abstracts (cut at each length) and their TLDRs (cut at
`--target-length`, which some of them reach) on a T5 v1.1-shaped model with random weights built here (d_model 256,
4 + 4 layers, a Unigram tokenizer of 8,000 pieces trained on the abstracts), no pretrained summarizer being
available offline; its encoder and decoder both hold activations, the decoder's at the summaries' length.

`--task causal-lm` does the same for instruction tuning: GSM8K problems and their worked answers (cut at each length) on
a Qwen2-shaped decoder with random weights built here (hidden 256, 4 layers, its output layer tied to the word table,
SmolLM2's vocabulary of 49,152 scores a token over a WordPiece tokenizer trained on the problems, ChatML template),
evaluating every epoch as the studio's default does, with `--eval-batch` validation rows a batch: a large vocabulary
makes its scores over the vocabulary as big as its layers' activations.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pandas as pd  # noqa: E402

from finetuner.config import RunConfig, default_model_path  # noqa: E402
from finetuner.estimate import describe_machine, estimate_training  # noqa: E402
from finetuner.runs import RunStore  # noqa: E402

SST2 = ROOT.parent / "shared" / "data" / "sst2"
SCITLDR = ROOT.parent / "shared" / "data" / "scitldr"
GSM8K = ROOT.parent / "shared" / "data" / "gsm8k"
RESULTS = ROOT / "benchmarks" / "results"


def long_texts(frame: pd.DataFrame, rows: int, words: int, seed: int) -> pd.DataFrame:
    """`rows` examples of about `words` words each: consecutive SST-2 sentences joined; the label is the first one's."""
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    out, i = [], 0
    while len(out) < rows:
        label, parts = frame.loc[i % len(frame), "label"], []
        while sum(len(p.split()) for p in parts) < words:
            parts.append(frame.loc[i % len(frame), "text"])
            i += 1
        out.append({"text": " ".join(parts), "label": label})
    return pd.DataFrame(out)


def build_t5(folder: Path, texts: list[str]) -> Path:
    """A T5 v1.1-shaped summarizer (gated feed-forward, untied output layer) with random weights and a T5 tokenizer
    whose 8,000 Unigram pieces are trained on `texts`."""
    import torch  # noqa: PLC0415
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers  # noqa: PLC0415
    from transformers import T5Config, T5ForConditionalGeneration, T5Tokenizer  # noqa: PLC0415

    unigram = Tokenizer(models.Unigram())
    unigram.pre_tokenizer = pre_tokenizers.Metaspace()
    unigram.train_from_iterator(texts, trainers.UnigramTrainer(vocab_size=8000, unk_token="<unk>", special_tokens=["<unk>"]))
    pieces = [(piece, score) for piece, score in json.loads(unigram.to_str())["model"]["vocab"] if piece != "<unk>"]
    tokenizer = T5Tokenizer(vocab=[("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), *pieces], extra_ids=0, model_max_length=512)
    config = T5Config(
        vocab_size=len(tokenizer), d_model=256, d_kv=64, d_ff=1024, num_layers=4, num_decoder_layers=4, num_heads=4, feed_forward_proj="gated-gelu",
        tie_word_embeddings=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    T5ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_decoder(folder: Path, texts: list[str], vocabulary: int) -> Path:
    """A Qwen2-shaped decoder (grouped key/value heads, gated feed-forward, output layer tied to the word table) with
    random weights, scoring `vocabulary` tokens, and a ChatML WordPiece tokenizer of 8,000 pieces trained on `texts`
    (a model's vocabulary may be larger than its tokenizer's, as Qwen2.5's is)."""
    import torch  # noqa: PLC0415
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers  # noqa: PLC0415
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM  # noqa: PLC0415

    words = Tokenizer(models.WordPiece(unk_token="<unk>"))
    words.normalizer = normalizers.BertNormalizer(lowercase=True)
    words.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    words.decoder = decoders.WordPiece()
    words.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=8000, special_tokens=["<|endoftext|>", "<unk>", "<|im_start|>", "<|im_end|>"]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=words, unk_token="<unk>", eos_token="<|im_end|>", pad_token="<|endoftext|>", model_max_length=1024)
    tokenizer.chat_template = (
        "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    config = Qwen2Config(
        vocab_size=vocabulary, hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=1024, tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def token_lengths(tokenizer, texts: list[str]) -> list[int]:
    return [len(ids) for ids in tokenizer(texts, truncation=False)["input_ids"]]


def train_and_measure(run) -> dict:
    """Train the run in its own process, as the studio does; wall time and the process's peak RSS."""
    command = [sys.executable, "-m", "finetuner", "train", "--run_dir", str(run.path)]
    start = time.monotonic()
    with open(run.log_path, "ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"run {run.id} failed (exit {process.returncode}); see {run.log_path}")
    train = json.loads((run.eval_dir / "train_results.json").read_text())
    return {"wall_seconds": wall, "peak_rss_bytes": usage.ru_maxrss * 1024, "train_runtime": train["train_runtime"]}


def error(estimate: float | None, measured: float) -> float | None:
    """Signed relative error: +0.25 means the estimate was 25% too high."""
    return None if estimate is None else estimate / measured - 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--lengths", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--steps", type=int, default=10, help="optimizer steps per run")
    parser.add_argument("--repeats", type=int, default=2, help="trainings per configuration (the fastest is compared)")
    parser.add_argument("--eval-rows", type=int, default=64)
    parser.add_argument("--task", choices=["text-classification", "seq2seq", "causal-lm"], default="text-classification")
    parser.add_argument("--target-length", type=int, default=64, help="seq2seq: max_target_length")
    parser.add_argument("--vocabulary", type=int, default=49152, help="causal-lm: the model's vocabulary (SmolLM2's; Qwen2.5's is 151,936)")
    parser.add_argument("--eval-batch", type=int, default=16, help="causal-lm: per_device_eval_batch_size")
    parser.add_argument("--out", type=Path, help="default: results/estimate_accuracy.json (estimate_accuracy_seq2seq.json, estimate_accuracy_causal_lm.json)")
    args = parser.parse_args(argv)
    args.out = args.out or RESULTS / {"seq2seq": "estimate_accuracy_seq2seq.json", "causal-lm": "estimate_accuracy_causal_lm.json"}.get(args.task, "estimate_accuracy.json")

    from transformers import AutoTokenizer  # noqa: PLC0415

    work = Path(tempfile.mkdtemp(prefix="finetuner-estimate-benchmark-"))
    max_rows = max(args.batch_sizes) * args.steps
    if args.task == "seq2seq":
        frames = {split: pd.read_json(SCITLDR / f"{split}.jsonl", lines=True) for split in ("train", "validation", "test")}
        model = str(build_t5(work / "t5", list(frames["train"]["document"])))
        train, validation, test = frames["train"].head(max_rows), frames["validation"].head(args.eval_rows), frames["test"].head(args.eval_rows)
        column, suffix, options = "document", "jsonl", {"task": "seq2seq", "max_target_length": args.target_length, "generation_max_new_tokens": 16}
    elif args.task == "causal-lm":
        frame = pd.read_json(GSM8K / "train.jsonl", lines=True)
        model = str(build_decoder(work / "decoder", list(frame["instruction"] + "\n" + frame["output"]), args.vocabulary))
        train, validation = frame.head(max_rows), frame.iloc[max_rows : max_rows + args.eval_rows]
        test = validation
        column, suffix = None, "jsonl"  # the lengths are the problem's and its answer's together
        options = {"task": "causal-lm", "eval_strategy": "epoch", "per_device_eval_batch_size": args.eval_batch, "generation_max_new_tokens": 16, "generation_num_samples": 8}
    else:
        model = default_model_path()
        frames = {split: pd.read_csv(SST2 / f"{split}.csv") for split in ("train", "validation")}
        train = long_texts(frames["train"], max_rows, words=2 * max(args.lengths), seed=0)
        validation, test = frames["validation"].head(args.eval_rows), frames["validation"].iloc[args.eval_rows : 2 * args.eval_rows]
        column, suffix, options = "text", "csv", {}
    tokenizer = AutoTokenizer.from_pretrained(model)
    files = {split: work / f"{split}.{suffix}" for split in ("train", "validation", "test")}
    for split, frame in {"train": train, "validation": validation, "test": test}.items():
        frame.to_json(files[split], orient="records", lines=True) if suffix == "jsonl" else frame.to_csv(files[split], index=False)
    def texts(frame: pd.DataFrame) -> list[str]:
        return list(frame[column] if column else frame["instruction"] + "\n" + frame["output"])

    train_lengths_all = token_lengths(tokenizer, texts(train))
    eval_lengths = token_lengths(tokenizer, texts(validation))

    machine = describe_machine()
    warm_store = RunStore(work / "runs")  # accumulates the benchmark's runs: the warm estimates read their rates
    rows = []
    for batch in args.batch_sizes:
        for length in args.lengths:
            rows_used = batch * args.steps
            config = RunConfig.from_dict(
                {
                    "model_name_or_path": model,
                    "train_file": str(files["train"]),
                    "validation_file": str(files["validation"]),
                    "test_file": str(files["test"]),
                    "max_train_samples": rows_used,
                    "max_seq_length": length,
                    "per_device_train_batch_size": batch,
                    "per_device_eval_batch_size": 64,
                    "num_train_epochs": 1,
                    "eval_strategy": "no",
                    "logging_steps": 1,
                    "warmup_steps": 0,
                    **options,
                }
            )
            lengths = train_lengths_all[:rows_used]
            cold = estimate_training(config, train_lengths=lengths, eval_lengths=eval_lengths, runs_dir=work / "empty", machine=machine)
            warm = estimate_training(config, train_lengths=lengths, eval_lengths=eval_lengths, runs_dir=warm_store.root, machine=machine)
            warm_measured = warm.rate_source.startswith("measured")
            load_before = os.getloadavg()[0]
            repeats = [train_and_measure(warm_store.create(config, run_id=f"b{batch}-s{length}-r{i}")) for i in range(args.repeats)]
            measured = {
                "wall_seconds": min(r["wall_seconds"] for r in repeats),
                "train_runtime": min(r["train_runtime"] for r in repeats),
                "peak_rss_bytes": max(r["peak_rss_bytes"] for r in repeats),
            }
            startup = cold.seconds - _compute_seconds(cold) if cold.seconds else None
            row = {
                "batch_size": batch,
                "max_seq_length": length,
                "steps": cold.total_steps,
                "padded_tokens": cold.padded_tokens,
                "estimate_seconds_cold": cold.seconds,
                "estimate_seconds_warm": warm.seconds if warm_measured else None,
                "measured_wall_seconds": measured["wall_seconds"],
                "estimate_train_seconds_cold": _compute_seconds(cold),
                "estimate_train_seconds_warm": _compute_seconds(warm) if warm_measured else None,
                "measured_train_seconds": measured["train_runtime"],
                "estimate_startup_seconds": startup,
                "estimate_memory_bytes": cold.memory_bytes,
                "estimate_memory_breakdown": cold.memory_breakdown,
                "measured_peak_rss_bytes": measured["peak_rss_bytes"],
                "rate_source_cold": cold.rate_source,
                "rate_source_warm": warm.rate_source,
                "load_average": load_before,
                "repeats": repeats,
            }
            row["time_error_cold"] = error(row["estimate_seconds_cold"], row["measured_wall_seconds"])
            row["time_error_warm"] = error(row["estimate_seconds_warm"], row["measured_wall_seconds"])
            row["train_time_error_cold"] = error(row["estimate_train_seconds_cold"], row["measured_train_seconds"])
            row["train_time_error_warm"] = error(row["estimate_train_seconds_warm"], row["measured_train_seconds"])
            row["memory_error"] = error(row["estimate_memory_bytes"], row["measured_peak_rss_bytes"])
            rows.append(row)
            print(_line(row), flush=True)

    summary = {
        key: _summary([r[key] for r in rows if r[key] is not None])
        for key in ("time_error_cold", "time_error_warm", "train_time_error_cold", "train_time_error_warm", "memory_error")
    }
    result = {
        "machine": {"description": machine.description, "benchmark_gflops": machine.flops_per_second / 1e9, "python": platform.python_version(), "cpus": os.cpu_count()},
        "model": model,
        "task": args.task,
        "target_length": args.target_length if args.task == "seq2seq" else None,
        "vocabulary": args.vocabulary if args.task == "causal-lm" else None,
        "eval_batch": args.eval_batch if args.task == "causal-lm" else None,
        "steps": args.steps,
        "rows": rows,
        "summary": summary,
        "when": time.strftime("%Y-%m-%d %H:%M"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    return 0


def _compute_seconds(estimate) -> float | None:
    """The estimate's training-and-evaluation share (its seconds minus the fixed start-up and model load)."""
    from finetuner.estimate import STARTUP_SECONDS  # noqa: PLC0415

    if estimate.seconds is None or estimate.parameters is None:
        return None
    return estimate.seconds - STARTUP_SECONDS - estimate.parameters * 4 / 200e6


def _summary(values: list[float]) -> dict | None:
    if not values:
        return None
    return {"mean_abs": statistics.fmean(abs(v) for v in values), "max_abs": max(abs(v) for v in values), "mean": statistics.fmean(values), "n": len(values)}


def _pct(value: float | None) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.0%}"


def _line(row: dict) -> str:
    return (
        f"batch {row['batch_size']:>3} x {row['max_seq_length']:>3} tokens: time est {row['estimate_seconds_cold']:.0f} s (cold) / "
        f"{row['estimate_seconds_warm'] or float('nan'):.0f} s (warm) vs {row['measured_wall_seconds']:.0f} s measured; "
        f"memory est {row['estimate_memory_bytes'] / 2**20:.0f} MiB vs {row['measured_peak_rss_bytes'] / 2**20:.0f} MiB peak RSS"
    )


def _model_name(result: dict) -> str:
    if result.get("task") == "seq2seq":
        return f"summarization on SciTLDR, a T5 v1.1-shaped model (d_model 256, 4 + 4 layers, random weights), summaries cut at {result['target_length']} tokens"
    if result.get("task") == "causal-lm":
        return (
            f"instruction tuning on GSM8K, a Qwen2-shaped decoder (hidden 256, 4 layers, random weights) scoring {result['vocabulary']:,} tokens, "
            f"evaluated every epoch {result['eval_batch']} rows a batch"
        )
    return Path(result["model"]).parent.name


def markdown(result: dict) -> str:
    lines = [
        f"# Estimate vs measured: {_model_name(result)}, {result['steps']} steps per run",
        "",
        f"{result['machine']['description']}, matmul benchmark {result['machine']['benchmark_gflops']:.0f} GFLOP/s, {result['when']}. "
        "Signed error = estimate / measured - 1 (+ = the estimate was too high). *Cold*: no earlier runs (benchmark rate); "
        "*warm*: the rate measured by the earlier runs in the same runs folder.",
        "",
        "| batch | tokens | steps | time est. cold | time est. warm | wall measured | error cold | error warm | train loop est. cold / warm | train loop measured | memory est. | peak RSS | memory error | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        warm_train = "n/a" if r["estimate_train_seconds_warm"] is None else f"{r['estimate_train_seconds_warm']:.0f}"
        warm_total = "n/a" if r["estimate_seconds_warm"] is None else f"{r['estimate_seconds_warm']:.0f} s"
        lines.append(
            f"| {r['batch_size']} | {r['max_seq_length']} | {r['steps']} | {r['estimate_seconds_cold']:.0f} s | {warm_total} | {r['measured_wall_seconds']:.0f} s "
            f"| {_pct(r['time_error_cold'])} | {_pct(r['time_error_warm'])} | {r['estimate_train_seconds_cold']:.0f} / {warm_train} s | {r['measured_train_seconds']:.0f} s "
            f"| {r['estimate_memory_bytes'] / 2**20:.0f} MiB | {r['measured_peak_rss_bytes'] / 2**20:.0f} MiB | {_pct(r['memory_error'])} | {r['load_average']:.1f} |"
        )
    lines += ["", "Mean absolute error (max):"]
    names = {"time_error_cold": "wall time, cold", "time_error_warm": "wall time, warm", "train_time_error_cold": "training loop, cold",
             "train_time_error_warm": "training loop, warm", "memory_error": "peak memory"}
    for key, name in names.items():
        s = result["summary"].get(key)
        if s:
            lines.append(f"- {name}: {s['mean_abs']:.0%} ({s['max_abs']:.0%}), mean signed {s['mean']:+.0%}, {s['n']} runs")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
