"""Peak memory of a causal LM's scoring of a split (`finetuner.tasks.causal_lm.token_loss`, the base and tuned model's
loss on validation and general text), this tree against an earlier commit.

A Qwen2-shaped decoder with random weights (hidden 256, 4 layers, SmolLM2's vocabulary of 49,152, output layer tied
to the word table) scores one evaluation batch of 16 rows of 512 tokens, every token predicted, in a fresh process per
measurement; the rise of the process's peak RSS over the scoring, the loss and the seconds are recorded.

    python benchmarks/causal_lm_scoring_memory.py                    # against e84714c (full scores of the batch)
    python benchmarks/causal_lm_scoring_memory.py --before <commit>
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

MEASURE = r"""
import json, resource, sys, time, torch
sys.path.insert(0, sys.argv[1])
from finetuner.tasks import causal_lm
from transformers import Qwen2Config, Qwen2ForCausalLM
torch.manual_seed(0)
model = Qwen2ForCausalLM(Qwen2Config(vocab_size=49152, hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)).eval()
g = torch.Generator().manual_seed(1)
rows = []
for _ in range(int(sys.argv[2])):
    ids = torch.randint(1, 49152, (int(sys.argv[3]),), generator=g).tolist()
    rows.append({"input_ids": ids, "labels": ids})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
out = causal_lm.token_loss(model, rows, pad_token_id=0, batch_size=len(rows))
print(json.dumps({**out, "seconds": time.perf_counter() - start, "peak_rss_rise_bytes": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024}))
"""


def measure(tree: Path, rows: int, tokens: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([sys.executable, "-c", MEASURE, str(tree), str(rows), str(tokens)], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="e84714c")
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--out", type=Path, default=RESULTS / "causal_lm_scoring_memory.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as old:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", old], input=archive, check=True)
        before = measure(Path(old), args.rows, args.tokens)
    after = measure(ROOT, args.rows, args.tokens)
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        "model": "Qwen2-shaped, hidden 256, 4 layers, 49,152 words, random weights", "rows": args.rows, "tokens": args.tokens,
        "before": {"commit": args.before, **before}, "after": after,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for name in ("before", "after"):
        r = result[name]
        print(f"{name}: loss {r['loss']:.6f} over {r['tokens']} tokens, peak RSS +{r['peak_rss_rise_bytes'] / 2**20:.0f} MiB, {r['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
