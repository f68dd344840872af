"""Inference from a finished run or a model folder, for every task.

`load_predictor` finds the run's task (or guesses it from a model folder's architecture) and asks the
task module for its predictor: label probabilities for text classification (`Predictor`, here), entities
for token classification, generated text for causal LMs and seq2seq models. Every predictor offers
`records(texts, **options)` (one JSON-able dict per text, for the CLI) and `output_columns(texts)` (new
columns for a predictions file). Loaded models are cached per folder (and its modification time), so the
studio's inference tab and repeated CLI calls do not reload weights for every text.

Loading is serialized (`MODEL_LOAD_LOCK`): transformers' `from_pretrained` patches process-wide state while
it builds a model (the meta device, `torch.linspace`, weight initialization), so two loads in two threads
(two studio visitors trying models at once) can leave that state broken for the rest of the process: every
later model with tied weights then fails with "Cannot copy out of meta tensor".
"""

from __future__ import annotations

import functools
import json
import threading
from pathlib import Path
from typing import Sequence

from .errors import DataError, ModelLoadError, RunError, RunNotFoundError
from .runs import ACTIVE_STATES, COMPLETED, FAILED, INTERRUPTED, STOPPED, Run, RunStore, find_run, read_json
from .hub_reads import models_cache, token_for


class Predictor:
    """A classification model with its tokenizer, on CPU or the first GPU."""

    task = "text-classification"  # whose `prediction_inputs` reads a file for it (every task's predictor names its task)

    def __init__(self, model_path: str, *, max_length: int = 512, token: str | None = None):
        import torch  # noqa: PLC0415 - heavy
        from transformers import AutoModelForSequenceClassification  # noqa: PLC0415

        from .tasks.text_classification import load_trained_tokenizer  # noqa: PLC0415
        from .tokenization import load_failure_message  # noqa: PLC0415

        self.tokenizer = load_trained_tokenizer(model_path, token=token)
        try:
            self.model = AutoModelForSequenceClassification.from_pretrained(model_path, token=token)
        except Exception as error:  # OSError, ValueError, HTTP errors: all mean "cannot load this"
            raise ModelLoadError(load_failure_message("model", model_path, error)) from error
        from .tasks.text_classification import with_padding_id  # noqa: PLC0415

        with_padding_id(self.model, self.tokenizer)  # a Hub classifier made from GPT-2 may lack it too
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model.to(self.device).eval()
        self.max_length = min(max_length, self.tokenizer.model_max_length)
        self.label_names = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]

    def predict(self, texts: Sequence[str], text_pairs: Sequence[str] | None = None, *, batch_size: int = 64) -> list[dict[str, float]]:
        """One {label: probability} mapping per text; probabilities sum to 1 (softmax)."""
        import torch  # noqa: PLC0415

        from .tokenization import encode_batch  # noqa: PLC0415

        if isinstance(texts, str):
            raise DataError("predict() takes a list of texts; wrap a single text in a list.")
        results: list[dict[str, float]] = []
        for start in range(0, len(texts), batch_size):
            batch = {"text": list(texts[start : start + batch_size])}
            if text_pairs is not None:
                batch["text_pair"] = list(text_pairs[start : start + batch_size])
            inputs = encode_batch(self.tokenizer, batch, self.max_length, padding=True, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                probabilities = torch.softmax(self.model(**inputs).logits.float(), dim=-1).cpu().tolist()
            results.extend({name: p for name, p in zip(self.label_names, row)} for row in probabilities)
        return results

    def records(self, texts: Sequence[str], text_pairs: Sequence[str] | None = None, **options) -> list[dict]:
        """One {"text"[, "text_pair"], "label", "probabilities"} per text (per pair for a sentence-pair model)."""
        pairs = [{"text_pair": pair} for pair in text_pairs] if text_pairs is not None else [{}] * len(texts)
        return [{"text": text, **pair, "label": max(p, key=p.get), "probabilities": p} for text, pair, p in zip(texts, pairs, self.predict(texts, text_pairs))]

    def output_columns(self, texts: Sequence[str], text_pairs: Sequence[str] | None = None, **options) -> dict[str, list]:
        """`predicted`, `confidence` and one `prob_<label>` column per class (generation options do not apply)."""
        results = self.predict(texts, text_pairs)
        columns: dict[str, list] = {"predicted": [max(r, key=r.get) for r in results], "confidence": [max(r.values()) for r in results]}
        for name in self.label_names:
            columns[f"prob_{name}"] = [r[name] for r in results]
        return columns


# Held while a model is built from its files; anything else in this process that calls `from_pretrained`
# from a thread that may run beside the studio's handlers should hold it too. Reentrant, so a loader may nest.
MODEL_LOAD_LOCK = threading.RLock()


@functools.lru_cache(maxsize=4)
def _cached_predictor(task: str, model_path: str, max_length: int, mtime: float):
    from .tasks import get_task  # noqa: PLC0415

    return get_task(task).load_predictor(model_path, max_length=max_length)


def named_run(model: str, *, runs_dir: str | Path = "runs") -> Run | None:
    """The run `model` names (a run id under `runs_dir`, or a run folder), or None for a model folder or Hub id."""
    try:
        return find_run(runs_dir, model)
    except RunNotFoundError:
        return None


def load_predictor(model: str, *, runs_dir: str | Path = "runs"):
    """A predictor for a run id, a run folder, a model folder or a Hub id (cached)."""
    path = Path(model)
    run = named_run(model, runs_dir=runs_dir)
    if run is not None:
        if run.state != COMPLETED or not run.model_dir.is_dir():
            raise RunError(no_model_message(run))
        path = run.model_dir
        config = run.config()
        task, max_length = config.model.task, config.model.max_seq_length
    else:
        if not path.exists() and looks_like_a_path(model):
            raise ModelLoadError(f"No run folder or model folder at '{model}'. List runs with `python -m finetuner runs`, or give an existing folder or a Hub model id.")
        if not path.exists():
            try:
                path = Path(hub_model_location(model))
            except ModelLoadError as error:
                raise _nowhere(model, runs_dir, "the Hugging Face Hub, where it could be a model id, cannot be reached", offline=True) from error
        task, max_length = model_task(str(path)), 512
    mtime = path.stat().st_mtime if path.exists() else 0.0
    try:
        with MODEL_LOAD_LOCK:  # one load at a time (see the module docstring); a cached predictor returns at once
            return _cached_predictor(task, str(path), max_length, mtime)
    except ModelLoadError as error:
        if run is not None or path.exists():
            raise
        # Neither a run nor a folder: as a Hub id it failed too. Say all three, not only the Hub's answer.
        if "unreachable" not in str(error):
            raise _nowhere(model, runs_dir, "no Hub model by that name") from error
        raise _nowhere(model, runs_dir, "the Hub, where it could be a model id, is unreachable from here", offline=True) from error


OFFLINE_ADVICE = "Check your connection or proxy (HTTPS_PROXY); working offline, set HF_HUB_OFFLINE=1 to use the models in the local cache at once."


def hub_model_location(model: str, *, revision: str | None = None, token: str | None = None) -> str:
    """Where to load `model`, a name that can only be a Hub id, from: the id itself, or, when the Hub cannot be
    reached, its copy in the local cache (a snapshot folder); neither: a `ModelLoadError` at once.

    huggingface_hub 2 retries a file missing from its cache 5 times with a growing backoff (1+2+4+8+8 s,
    `retry_on_errors=True` in `hf_hub_download`; no setting changes it) after a network error, and loading a
    model looks for several files, optional ones too: offline without HF_HUB_OFFLINE=1, `predict` hung for over
    a minute on a mistyped run id (`train` 50 s), and for minutes on a model in the cache. One request for the
    model's config.json, without retries and within HF_HUB_ETAG_TIMEOUT, tells. Offline mode (HF_HUB_OFFLINE=1)
    is left to huggingface_hub, which then reads the cache only."""
    import httpx2  # noqa: PLC0415 - huggingface_hub's HTTP client
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url, snapshot_download  # noqa: PLC0415
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalEntryNotFoundError  # noqa: PLC0415

    if constants.is_offline_mode() or looks_like_a_path(model):
        return model
    token = token or token_for(model)
    try:
        get_hf_file_metadata(hf_hub_url(model, "config.json", revision=revision), token=token, timeout=constants.HF_HUB_ETAG_TIMEOUT)
    except (HfHubHTTPError, HFValidationError):
        return model  # the Hub answered (no such model, gated, ...), or not a Hub id: the loader says which
    except httpx2.TransportError as error:
        try:
            return snapshot_download(model, revision=revision, local_files_only=True, cache_dir=models_cache(model, token))
        except LocalEntryNotFoundError:
            raise ModelLoadError(
                f"Could not download the model '{model}': the Hugging Face Hub cannot be reached from here ({type(error).__name__}), and the model is "
                f"not in the local cache. {OFFLINE_ADVICE}"
            ) from error
    return model


# The Hub ids this process reads from the cache because the Hub could not be reached (`read_cache_if_hub_unreachable`):
# where any are, offline mode is finetuner's doing, not the user's, and hub.py's messages say so.
READ_FROM_CACHE: list[str] = []


def read_cache_if_hub_unreachable(names) -> list[str]:
    """For the Hub ids among `names` (a model and its tokenizer): when the Hub cannot be reached and they are in
    the local cache, switch this process (and those it starts) to huggingface_hub's offline mode, which reads
    the cache only; returns those ids ([] when the Hub answered, or offline mode was on already). Not in the
    cache: `hub_model_location`'s ModelLoadError, at once.

    Loading a model by its Hub id asks the Hub for each of its files, optional ones too, and pays
    huggingface_hub's retries for each (minutes) when the Hub is unreachable; a tokenizer's listing of its
    chat templates fails outright. The id stays what the run's config, model and card name: only where the
    files are read from changes. Offline mode is read once, at import, so it is set in the libraries too."""
    import os  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from huggingface_hub import constants  # noqa: PLC0415

    cached = [name for name in dict.fromkeys(n for n in names if n) if not Path(name).exists() and hub_model_location(name) != name]
    if cached:
        READ_FROM_CACHE.extend(cached)
        os.environ["HF_HUB_OFFLINE"] = "1"
        constants.HF_HUB_OFFLINE = True
        if "datasets" in sys.modules:  # a copy of its own, taken at its import
            sys.modules["datasets"].config.HF_HUB_OFFLINE = True
    return cached


def looks_like_a_path(name: str) -> bool:
    """A folder's path, never a Hub id ('org/name' has one slash and starts with neither '/', '.' nor '~')."""
    return name.startswith(("/", ".", "~")) or name.count("/") > 1


def _nowhere(model: str, runs_dir: str | Path, hub: str, *, offline: bool = False) -> ModelLoadError:
    """`model` is no run, no folder and no model the Hub gave: all three said, with what to do."""
    from huggingface_hub import constants  # noqa: PLC0415

    advice = ""
    if offline:
        advice = (
            " HF_HUB_OFFLINE=1 is set: a Hub model is only found in the local cache, where it is not."
            if constants.is_offline_mode()
            else f" {OFFLINE_ADVICE}"
        )
    return ModelLoadError(
        f"No run '{model}' in {RunStore(runs_dir).root}, no local folder by that name, and {hub}.{advice} Check the name: list runs with "
        "`python -m finetuner runs`, or give a run folder, a model folder or a Hub model id."
    )


def no_model_message(run: Run) -> str:
    """Why a run has no model to predict with, and what to do, by its state."""
    state = run.state
    if state == FAILED:
        reason = (run.status().get("error") or "").strip().splitlines()
        return (
            f"Run {run.id} failed{f' ({reason[0]})' if reason else ''}, so it has no trained model. "
            "Fix the cause, then resume it (it continues from its last checkpoint, if it saved one) or train it again."
        )
    if state in ACTIVE_STATES:
        return f"Run {run.id} is {state} and has no trained model yet; wait for it to finish."
    if state in (STOPPED, INTERRUPTED):
        return f"Run {run.id} was {state} before it finished, so it has no trained model; resume it to finish training."
    if state == COMPLETED:
        return f"Run {run.id} is completed but its model folder (model/ in the run's folder) is missing; train it again."
    return f"Run {run.id} is {state}; only a completed run has a final model."


def model_task(model_path: str) -> str:
    """The task a model folder (or Hub id) was trained for, from its architecture; text classification when unknown."""
    import json  # noqa: PLC0415

    config_file = Path(model_path) / "config.json"
    try:
        if config_file.is_file():
            values = json.loads(config_file.read_text(encoding="utf-8"))
        else:
            from transformers import AutoConfig  # noqa: PLC0415 - heavy

            values = AutoConfig.from_pretrained(model_path).to_dict()
    except Exception:  # noqa: BLE001 - the predictor's own loading error is the clearer one
        return "text-classification"
    architecture = (values.get("architectures") or [""])[0]
    if architecture.endswith("ForTokenClassification"):
        return "token-classification"
    if architecture.endswith("ForCausalLM") or architecture in causal_lm_architectures():
        return "causal-lm"
    if values.get("is_encoder_decoder") or architecture.endswith("ForConditionalGeneration"):
        return "seq2seq"
    return "text-classification"


def causal_lm_architectures() -> set[str]:
    """The class names transformers loads as causal LMs, beside the *ForCausalLM ones: GPT-2's GPT2LMHeadModel,
    Gemma 3's Gemma3ForConditionalGeneration, ... (GPT-2 was read as a text classifier with a new, random head)."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES  # noqa: PLC0415 - heavy

    return {name for names in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values() for name in ([names] if isinstance(names, str) else names)}


def trained_text_columns(run: Run) -> list[str]:
    """The run's own input columns as its training read them (data_report.json's text_columns); [] when unknown."""
    report = read_json(run.path / "data_report.json", {}) or {}
    return [str(c) for c in report.get("text_columns") or []] if isinstance(report, dict) else []


def predict_file(predictor, file: str | Path, *, text_column: str | None = None, run: Run | None = None, **options):
    """Predictions for every row of a data file: its columns plus the predictor's (classification: `predicted`,
    `confidence`, one `prob_` per class; NER: `entities`, `tags`; generation: `generated` or `summary`). The
    predicted columns always have these names: a column of the file with one of them is kept as `file_<name>` (a
    file in the training format holds the reference summaries or tags, which the predictions must not replace).
    `options` are generation options (max_new_tokens, temperature, top_p, num_beams), as `records` takes them.

    The file is read by the task's `prediction_inputs`, as its training data are: a file in the format the
    model was trained on (sentence pairs, NER words, chats, instruction/input) is predicted on as training
    saw it. With `run`, the run's own column names (its data_report.json) are looked for first;
    `text_column` names the column (two, comma-separated, for a sentence-pair model)."""
    from .data import read_table  # noqa: PLC0415
    from .tasks import get_task  # noqa: PLC0415

    frame = read_table(file)
    data_report = (read_json(run.path / "data_report.json", {}) or {}) if run is not None else {}
    inputs = get_task(predictor.task).prediction_inputs(frame, data_report, text_column=text_column, source=f"'{Path(file).name}'")
    predicted = predictor.output_columns(**inputs, **options)
    out = frame.rename(columns={name: f"file_{name}" for name in predicted if name in frame.columns})
    for name, values in predicted.items():
        out[name] = values
    return out


def write_predictions(frame, path: str | Path) -> None:
    """The predictions in the format the file's extension names (those `read_table` reads), else CSV: a
    `predictions.jsonl` holding CSV would be read back wrong, or not at all. JSON Lines and Parquet keep a
    list cell (chat messages, a file's words or tags) as a list; CSV and TSV write it as JSON text, which
    other tools parse (pandas wrote Python's repr, with single quotes, that only Python reads back)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):  # JSON Lines either way: one record a line, as the CLI prints predictions
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame = frame.copy()
        for column in frame.columns[frame.dtypes == object]:
            frame[column] = frame[column].map(_json_cell)
        frame.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)


def _json_cell(value):
    """A list or mapping as JSON text (numpy arrays, which Parquet files give, as lists); anything else as it is."""
    if isinstance(value, (list, tuple, dict)) or type(value).__name__ == "ndarray":
        return json.dumps(value, ensure_ascii=False, default=lambda inner: inner.tolist() if hasattr(inner, "tolist") else str(inner))
    return value
