"""The README's benchmark commands are ones a reader can run: each script and results file it names exists,
and `--help` says how to run a script instead of running it (and overwriting its committed results)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SCRIPTS = sorted(set(re.findall(r"python (benchmarks/\w+\.py)", README)))
RESULTS = sorted(set(re.findall(r"benchmarks/results/[\w.]+\.(?:json|md)", README)))


def test_the_readme_names_benchmarks_that_exist():
    assert SCRIPTS and RESULTS
    assert [path for path in SCRIPTS + RESULTS if not (ROOT / path).is_file()] == []


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_help_answers_without_running(script):
    results = {path: path.stat().st_mtime_ns for path in (ROOT / "benchmarks" / "results").iterdir()}
    done = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage:")
    assert {path: path.stat().st_mtime_ns for path in (ROOT / "benchmarks" / "results").iterdir()} == results
