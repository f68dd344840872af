"""What the tokenizer makes of the data: exactly what training feeds the model, and how long texts are.

Tokenization is batched, truncates at `max_length` and does not pad: the collator pads each batch only
to its own longest example (dynamic padding), which on short texts is most of the speed. Tokenized
splits are cached on disk under a key made of the data's content hash, the tokenizer and `max_length`,
so an unchanged second run does not tokenize again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .errors import ModelLoadError
from .hub_reads import READ_TOKEN_HINT, model_options, token_for

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def load_tokenizer(name_or_path: str, *, revision: str = "main", trust_remote_code: bool = False, token: str | None = None, offline_hint: str | None = None, **options: Any):
    """A fast tokenizer for a Hub id or folder (`options` go to `from_pretrained`), or a ModelLoadError that says what to do.

    One without a padding token (GPT-2's, Llama's) pads with its end-of-text token: every task pads its
    batches, and the collator stopped such a run at its first step ("Asking to pad but the tokenizer does
    not have a padding token"). Padding is masked out, so the token it uses does not matter."""
    from transformers import AutoTokenizer  # noqa: PLC0415 - heavy

    try:
        token = token or token_for(name_or_path)  # a visitor's private model: from their own cache folder (`model_options`)
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, revision=revision, trust_remote_code=trust_remote_code, token=token, **{**model_options(name_or_path, token), **options})
    except Exception as error:  # OSError, ValueError, HTTP errors: all mean "cannot load this"
        raise ModelLoadError(load_failure_message("tokenizer", name_or_path, error, offline_hint=offline_hint)) from error
    if not tokenizer.is_fast:
        raise ModelLoadError(f"'{name_or_path}' has no fast tokenizer; finetuner needs one to show token offsets and tokenize quickly.")
    if set(tokenizer.get_vocab().values()) <= set(tokenizer.all_special_ids):
        # transformers builds such a tokenizer from config.json alone (a folder of weights without the tokenizer's
        # files): every word becomes the unknown token, and a run trained on that completed without an error.
        raise ModelLoadError(
            f"'{name_or_path}' has no tokenizer files (tokenizer.json, or the vocabulary): the tokenizer made without them knows only "
            "its special tokens and would read every word as unknown. Copy the tokenizer's files beside the model's, or name the "
            "tokenizer's folder or Hub id (tokenizer_name)."
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def separate_pairs(tokenizer) -> None:
    """Put the separator (or end-of-text) token between a pair's two texts where the tokenizer puts nothing.

    GPT-2's, Qwen2's and other decoder tokenizers join a pair as it is: ("great", "the") became 'great' 'the',
    so a sequence-pair classifier (NLI) could not see where the first text ends. BERT's ([SEP]) and RoBERTa's
    (</s></s>) separate them already and are left as they are. The separator goes into the tokenizer's own
    post-processor, so it is saved with the model and the Hub pipeline (demo Space, model card) reads a pair as
    training did. A single text is encoded as before, a Llama-style BOS included. A tokenizer whose special
    tokens the template syntax cannot name (a ':' in them) is left as it is."""
    from tokenizers import processors  # noqa: PLC0415

    separator = tokenizer.sep_token or tokenizer.eos_token
    pair = tokenizer("a", "b", truncation=False, padding=False).sequence_ids(0)
    if separator is None or 0 not in pair or 1 not in pair or _span(pair, 1)[0] != _span(pair, 0)[1] + 1:
        return  # nothing to separate, or something lies between the texts already
    single = tokenizer("a", truncation=False, padding=False)
    first, last = _span(single.sequence_ids(0), 0)
    tokens, ids = tokenizer.convert_ids_to_tokens(single["input_ids"]), single["input_ids"]
    before, after = tokens[:first], tokens[last + 1 :]
    specials = dict(zip(before + after, ids[:first] + ids[last + 1 :]))
    specials[separator] = tokenizer.convert_tokens_to_ids(separator)
    try:
        template = processors.TemplateProcessing(
            single=[f"{t}:0" for t in before] + ["$A:0"] + [f"{t}:0" for t in after],
            pair=[f"{t}:0" for t in before] + ["$A:0", f"{separator}:0", "$B:1"] + [f"{t}:1" for t in after],
            special_tokens=list(specials.items()),
        )
    except ValueError:
        return
    backend = tokenizer.backend_tokenizer
    kept = [step for step in _steps(backend.post_processor) if not isinstance(step, processors.TemplateProcessing)]
    backend.post_processor = processors.Sequence([*kept, template]) if kept else template


def _span(sequence_ids: list, sequence: int) -> tuple[int, int]:
    """The first and last position of one text's tokens in an encoding."""
    positions = [i for i, s in enumerate(sequence_ids) if s == sequence]
    return positions[0], positions[-1]


def _steps(post_processor) -> list:
    """A post-processor's steps: those of a Sequence (ByteLevel's offset trimming, a template), or itself."""
    from tokenizers import processors  # noqa: PLC0415

    if post_processor is None:
        return []
    if not isinstance(post_processor, processors.Sequence):
        return [post_processor]
    steps = []
    while True:
        try:
            steps.append(post_processor[len(steps)])
        except IndexError:
            return steps


def load_failure_message(what: str, name_or_path: str, error: Exception, *, offline_hint: str | None = None) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    # A missing package's message (transformers': which library a tokenizer class needs, and where to get it) is
    # whole; it starts with a blank line, so its first line said nothing (Marian's: "...fakemarian': " and no reason).
    text = (" ".join(lines) if isinstance(error, ImportError) else lines[0]) if lines else type(error).__name__
    folder = Path(name_or_path).expanduser()
    if (folder / "config.yaml").is_file() and (folder / "model").is_dir():  # a run's folder given for its model
        return f"Could not load the {what} from folder '{name_or_path}': it is a run folder; its trained model is in '{folder / 'model'}'. Give that folder."
    if Path(name_or_path).exists():
        return f"Could not load the {what} from folder '{name_or_path}': {text}"
    if name_or_path.startswith(("/", ".", "~")) or name_or_path.count("/") > 1:  # a path, never a Hub id
        return f"Could not load the {what} '{name_or_path}': there is no such folder. Give an existing model folder, or a Hub id such as 'bert-base-uncased'."
    if "offline" in text.lower() or "connect" in text.lower() or "resolve" in text.lower():
        return (
            f"Could not download the {what} '{name_or_path}': the Hugging Face Hub is unreachable from here. "
            + (offline_hint or "Use a local model folder, or the bundled default model.")
        )
    return (
        f"Could not load the {what} '{name_or_path}': it is not a local folder, and the Hub has no such model (or it is private). "
        f"Check the id; for a private or gated model, read it with a token that may ({READ_TOKEN_HINT}). ({text})"
    )


def tokenizer_signature(tokenizer) -> str:
    """Identifies a tokenizer's behaviour (vocabulary and settings), for the cache key."""
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    state.pop("truncation", None)  # per-call settings the backend remembers from the last call
    state.pop("padding", None)
    digest = hashlib.sha256(json.dumps(state, sort_keys=True).encode())
    digest.update(type(tokenizer).__name__.encode())
    return digest.hexdigest()[:16]


def encode_batch(tokenizer, batch: dict[str, list], max_length: int, **options: Any):
    """The one place that turns text into model inputs: training, inspection and inference all use it."""
    return tokenizer(batch["text"], batch.get("text_pair"), truncation=True, max_length=max_length, **options)


def tokenize_splits(splits, tokenizer, *, max_length: int, fingerprint: str, cache_dir: str | Path | None = None):
    """Tokenize every split (batched, no padding); reuse the on-disk cache when nothing changed."""
    key = hashlib.sha256(f"{fingerprint}|{tokenizer_signature(tokenizer)}|{max_length}".encode()).hexdigest()[:16]
    tokenized = {}
    for role, split in splits.items():
        cache_file = None
        if cache_dir is not None:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
            cache_file = str(Path(cache_dir) / f"{key}-{role}.arrow")
        tokenized[role] = split.map(
            lambda batch: encode_batch(tokenizer, batch, max_length),
            batched=True,
            batch_size=1000,
            cache_file_name=cache_file,
            load_from_cache_file=cache_file is not None,
            desc=f"Tokenizing {role}",
            new_fingerprint=f"{key}-{role}",
        )
    return type(splits)(tokenized)


def inspect_example(tokenizer, text: str, text_pair: str | None = None, *, max_length: int) -> dict[str, Any]:
    """Exactly what training feeds the model for one example, and what truncation removed.

    Returns tokens, input_ids, attention_mask, token_type_ids, special-token flags, the length before
    truncation, and `dropped_text`: for each text, the part after the last kept token, which the
    model never sees.
    """
    batch = {"text": [text], "text_pair": [text_pair] if text_pair is not None else None}
    encoded = encode_batch(tokenizer, batch, max_length, return_offsets_mapping=True, return_special_tokens_mask=True)
    untruncated = len(tokenizer(text, text_pair, truncation=False, verbose=False)["input_ids"])
    ids = encoded["input_ids"][0]
    dropped = []
    if untruncated > len(ids):
        sequence_ids = encoded.sequence_ids(0)
        for seq, source in ((0, text), (1, text_pair)):
            ends = [end for s, (_, end) in zip(sequence_ids, encoded["offset_mapping"][0]) if s == seq]
            kept_until = max(ends, default=0)
            if source and source[kept_until:].strip():
                dropped.append(source[kept_until:].strip())
    return {
        "tokens": tokenizer.convert_ids_to_tokens(ids),
        "input_ids": ids,
        "attention_mask": encoded["attention_mask"][0],
        "token_type_ids": encoded["token_type_ids"][0] if "token_type_ids" in encoded else None,
        "special_tokens_mask": encoded["special_tokens_mask"][0],
        "num_tokens": len(ids),
        "num_tokens_untruncated": untruncated,
        "truncated": untruncated > len(ids),
        "dropped_text": " | ".join(dropped),
        "max_length": max_length,
    }


def dump_stats(stats: dict[str, dict[str, Any]]) -> str:
    """The statistics without the per-example lengths, as readable JSON."""
    return json.dumps({role: {k: v for k, v in s.items() if k != "lengths"} for role, s in stats.items()}, indent=2)
