"""Helpers the tests share: a tiny BERT built in the test (random weights, WordPiece tokenizer trained
here), small labelled data, and the real datasets beside the project. Imported as `support` (a plain
module: several folders have a conftest.py, so `from conftest import` would be ambiguous)."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

POSITIVE = ["great", "wonderful", "superb", "delightful", "moving", "brilliant", "charming", "fun"]
NEGATIVE = ["awful", "boring", "dreadful", "tedious", "clumsy", "dull", "painful", "bland"]
SUBJECTS = ["the film", "this movie", "the acting", "the plot", "the story", "the ending", "the score", "the cast"]


def make_sentiment_frame(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    """Short reviews whose label follows from one sentiment word: learnable in a few steps."""
    rng = random.Random(seed)
    records = []
    for i in range(rows):
        label = "positive" if i % 2 == 0 else "negative"
        word = rng.choice(POSITIVE if label == "positive" else NEGATIVE)
        extra = " ".join(rng.choice(SUBJECTS) for _ in range(rng.randint(0, 3)))  # varied lengths
        records.append({"text": f"{rng.choice(SUBJECTS)} was {word} and {rng.choice(SUBJECTS)} felt {word} {extra} {i}", "label": label})
    return pd.DataFrame(records)


def build_tiny_model(folder: Path, texts: list[str]) -> Path:
    """A 2-layer BERT with hidden size 32 and a WordPiece tokenizer trained on `texts`, saved to `folder`."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=400, special_tokens=special))
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]", model_max_length=128,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )
    config = BertConfig(
        vocab_size=fast.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=128
    )
    save_seeded(BertForSequenceClassification, config, folder)
    fast.save_pretrained(folder)
    return folder


def save_seeded(model_class, config, folder: Path) -> None:
    """Build `model_class(config)` from seed 0 and save it: the same random weights in every session, so
    whether a test's tiny model learns never hangs on a lucky draw."""
    import torch

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model_class(config).save_pretrained(folder)


def completed_run(runs_dir: Path, run_id: str, *, task: str, model_dir: Path, data_report: dict | None = None, state: str = "completed", **status):
    """A run folder in `state` (completed: with `model_dir` as its model) whose training data had the columns
    `data_report` names: for the tests of what uses a run's model, without training one."""
    import shutil

    from finetuner.config import RunConfig
    from finetuner.runs import RunStore, write_json_atomic

    run = RunStore(runs_dir).create(RunConfig.from_dict({"task": task, "model_name_or_path": str(model_dir), "max_seq_length": 64}), run_id=run_id)
    if state == "completed":
        shutil.copytree(model_dir, run.model_dir)
    write_json_atomic(run.path / "data_report.json", data_report or {})
    run.update_status(state=state, **status)
    return run


def copied_run(run):
    """Another run with the same files (`<id>-copy` beside it): two runs that agree on every example, which
    a comparison pairs (a run compared with itself is refused as the same run)."""
    import shutil

    from finetuner.runs import Run

    copy = run.path.parent / f"{run.id}-copy"
    if not copy.exists():
        shutil.copytree(run.path, copy, ignore=shutil.ignore_patterns("checkpoints", "model"))
    return Run(copy)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def hub_dropping_connections():
    """(address, connections): a Hub address whose every connection is closed unanswered, as a broken network
    drops it (a network error to huggingface_hub, which retries it), and the list of connections made to it."""
    import threading  # noqa: PLC0415

    server = socket.create_server(("127.0.0.1", 0))
    made: list[int] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:  # closed: the test is over
                return
            made.append(1)
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", made
    finally:
        server.close()


def cache_hub_model(hub_cache: Path, model_dir: Path, repo: str = "someone/tiny") -> None:
    """`model_dir` in the Hugging Face cache folder `hub_cache` as the Hub model `repo`, in the layout a download leaves."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    cached = Path(hub_cache) / f"models--{repo.replace('/', '--')}"
    (cached / "refs").mkdir(parents=True)
    (cached / "refs" / "main").write_text(commit)
    shutil.copytree(model_dir, cached / "snapshots" / commit)


def require_shared_data(name: str) -> Path:
    """The real dataset folder from ../shared/data, or a skip that says why."""
    folder = SHARED_DATA / name
    if not folder.is_dir():
        pytest.skip(f"../shared/data/{name} is absent (the shared datasets sit beside the project in CI)")
    return folder


def follow_to_end(client, run_id: str, timeout: float = 600) -> dict | None:
    """The last snapshot /follow_run streams for `run_id` (a gradio_client Client), following it again while a
    queued run outlasts one stream, until the run is done or `timeout` seconds pass."""
    deadline, final = time.monotonic() + timeout, None
    while not (final and final["done"]) and time.monotonic() < deadline:
        job = client.submit(run_id, api_name="/follow_run")
        for snap, *_ in job:
            if snap:
                final = snap
                if snap["done"]:
                    break
        job.cancel()
    return final


def stop_at_step(run, step: int):
    """A TrainerCallback that asks the run to stop the way the studio and the CLI do, by writing its CANCEL
    file, when training reaches `step`."""
    from transformers import TrainerCallback

    class StopAtStep(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == step:
                run.cancel_path.touch()

    return StopAtStep()


# Loaded by a training process at start-up (PYTHONPATH): reading the data never ends, so the run stays in its
# preparation (loading data, a tokenizer, a model: on a Space, minutes for a Hub model) until stopped.
ENDLESS_DATA = """
import threading
import pandas
pandas.read_csv = lambda *args, **kwargs: threading.Event().wait()
"""


def endless_data_loading(tmp_path: Path, monkeypatch) -> None:
    """Training processes started from now on (in this test) never finish reading their data."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(ENDLESS_DATA)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))


class HeldData:
    """The studio's data preparation (`services.prepared`) held for one training file (and, given, one seed)
    until `release`: a data load that ends when the test says, for the tests of loads that overlap."""

    def __init__(self, monkeypatch, file_name: str, seed: int | None = None):
        from finetuner.ui import services

        self.entered, self.released, real = threading.Event(), threading.Event(), services.prepared

        def prepared(selection, **options):
            if Path(selection.get("train_file") or "").name == file_name and seed in (None, options.get("seed")):
                self.entered.set()
                assert self.released.wait(timeout=60), "the test never released the held load"
            return real(selection, **options)

        monkeypatch.setattr(services, "prepared", prepared)

    def release(self) -> None:
        self.released.set()


@contextlib.contextmanager
def launched_studio(runs_dir: Path):
    """The studio over `runs_dir`, launched in this process as `python app.py` launches it; yields its address.
    The browser tests' `studio` (tests/e2e/conftest.py) starts one a test module, over a runs folder of its own."""
    from finetuner.ui.studio import build_studio, launch_options

    demo = build_studio(runs_dir)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True, **launch_options())
    try:
        yield demo.local_url
    finally:
        demo.close()


def refuse_writes(monkeypatch, folder: Path, code: int, *, folder_writable: bool) -> None:
    """Writes inside `folder` fail with `code`, as on a read-only file system, a full disk or a folder of
    another user (the tests run as root, whom permissions do not stop); `folder_writable`: what `os.access`
    says of a folder inside it (the runs folder itself)."""
    real_mkdir, real_access = Path.mkdir, os.access

    def mkdir(self, *args, **kwargs):
        if self.resolve().is_relative_to(folder.resolve()):
            raise OSError(code, os.strerror(code), str(self))
        return real_mkdir(self, *args, **kwargs)

    def access_(path, mode, *args, **kwargs):
        if Path(path).resolve().is_relative_to(folder.resolve()) and mode & os.W_OK:
            return folder_writable
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    monkeypatch.setattr(os, "access", access_)
