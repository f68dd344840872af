"""Instruction tuning of a causal (decoder-only) language model, fully or with LoRA adapters, on TRL's SFTTrainer.

Data: prompt/completion pairs, instruction/input/output records or chat messages, all normalised to a
chat (`prompt`: messages up to the user's last turn, `completion`: the assistant's answer). Each example is
rendered with the model's chat template, or, when the tokenizer has none, with `PLAIN_TEMPLATE`
("### Instruction: / ### Response:"), which is then saved with the model so inference uses it too.

Tokenization is done here, once, so that training, the tokenization inspector and evaluation all see the
same tokens: the completion starts where the rendered prompt (with the generation prompt) and the rendered
prompt + answer diverge (TRL's `common_prefix_length`); `labels` are the token ids, with -100 on the prompt
when `completion_only_loss` is on. TRL's `SFTTrainer` does the rest: batching, packing, the loss, LoRA.

Evaluation: `loss` is the mean negative log-likelihood per predicted token (exact over the whole split, not a
mean of batch means) and `perplexity` its exponential. ROUGE/BLEU score greedy generations for the first
`generation_num_samples` examples. Before training, the untouched model is scored the same way (and on a
general-text sample), so `comparison.json` shows what fine-tuning gained and what it forgot.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Sequence

from .. import data as data_module
from ..config import DataConfig, RunConfig
from ..errors import DataError, ModelLoadError
from ..estimate import PACKING_STRATEGY, check_packing_strategy, packing_shards
from ..runs import COMPARISON_FILE, read_json, write_json_atomic
from .base import EVALUATION_ONLY, cache_key, device, in_order, length_settings, length_summary, load_pretrained, measured_statistics, meta_model, model_lengths, offline_hint, position_limit, predict_in_order, wrong_kind_message  # noqa: F401

_log = logging.getLogger(__name__)
GENERATION_THREAD = "finetuner-generate"  # the thread that runs `generate` for a streamed answer

PIPELINE_TAG = "text-generation"
AUTO_MODEL = "AutoModelForCausalLM"
# completion_only_loss chooses the tokens that carry loss (`tokenize`, `inspect_example`); it changes no token count.
TOKENIZATION_OPTIONS = ("completion_only_loss",)
LENGTH_OPTIONS: tuple[str, ...] = ()
IGNORED = -100
GENERAL_TEXT = Path(__file__).resolve().parent.parent / "examples" / "general_text.txt"
BASE_FILE = "base_model.json"
ENCODER_ONLY = {"bert", "roberta", "xlm-roberta", "distilbert", "albert", "electra", "deberta", "deberta-v2", "mpnet", "camembert", "modernbert"}

# Used when the tokenizer has no chat template: readable, widely known (Alpaca-style), and it ends each
# answer with the end-of-sequence token so the model learns to stop.
PLAIN_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ '### System:\\n' + message['content'] }}"
    "{% elif message['role'] == 'user' %}{{ '### Instruction:\\n' + message['content'] }}"
    "{% else %}{{ '### Response:\\n' + message['content'] + eos_token }}{% endif %}"
    "{% if not loop.last %}{{ '\\n\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '\\n\\n### Response:\\n' }}{% endif %}"
)
# The same for a tokenizer that starts every text with its beginning-of-sequence token (Llama 2's, Mistral's <s>): a
# template's text is tokenized without the tokenizer's own special tokens, so the template must write it, as chat
# templates do; a model that always read <s> first during pretraining was otherwise trained and asked without it.
PLAIN_TEMPLATE_WITH_BOS = "{{ bos_token }}" + PLAIN_TEMPLATE


# ---------------------------------------------------------------- data


def prepare_data(config: RunConfig) -> data_module.TaskData:
    return data_module.prepare_instruction_data(config.data, seed=config.training.seed)


def data_report(prepared: data_module.TaskData) -> dict[str, Any]:
    return prepared.report


def evaluation_data(frame, data_report: dict[str, Any], config: RunConfig):
    import datasets  # noqa: PLC0415

    columns = data_module.resolve_instruction_columns(frame, DataConfig(prompt_column_name=config.data.prompt_column_name, completion_column_name=config.data.completion_column_name, input_column_name=config.data.input_column_name))
    normalised, _ = data_module.normalise_instruction_frame(frame, columns, "evaluation")
    return datasets.Dataset.from_list(normalised.to_dict("records"))


def prediction_inputs(frame, data_report: dict[str, Any], *, text_column: str | None = None, source: str = "the file") -> dict[str, Any]:
    """The prompt of each row of a file to predict on, built by the code that reads the training data: a chat's
    conversation up to its last answer, or the instruction with its input (an instruction without the input
    it refers to asks something else). The prompt column is the named one, else the run's own when the file
    has it (with the run's input column), else detected by the training names; the answer column may be absent."""
    trained = list(data_report.get("text_columns") or [])  # [messages] or [prompt] or [prompt, input]
    chosen = data_module.chosen_columns(frame, text_column, source)
    prompt = chosen[0] if chosen else trained[0] if trained and trained[0] in frame.columns else None
    extra = trained[1] if prompt and trained[:1] == [prompt] and len(trained) == 2 and trained[1] in frame.columns else None
    columns = data_module.resolve_instruction_columns(frame, DataConfig(prompt_column_name=prompt, input_column_name=extra), answers=False)
    return {"texts": data_module.prompt_conversations(frame, columns, source)}


# ---------------------------------------------------------------- tokens


def load_tokenizer(config: RunConfig, *, token: str | None = None):
    """The model's tokenizer, with a padding token (the end-of-sequence token when it has none) and a chat
    template (PLAIN_TEMPLATE when it has none)."""
    from ..tokenization import load_tokenizer as load  # noqa: PLC0415

    m = config.model
    tokenizer = load(m.tokenizer_name or m.model_name_or_path, revision=m.model_revision, trust_remote_code=m.trust_remote_code, token=token, offline_hint=offline_hint(config))
    return prepare_tokenizer(tokenizer)


def load_trained_tokenizer(model_path, *, token: str | None = None):
    """A trained model's tokenizer as its predictor reads it."""
    return load_tokenizer(RunConfig.from_dict({"task": "causal-lm", "model_name_or_path": str(model_path)}), token=token)


def prepare_tokenizer(tokenizer):
    if tokenizer.eos_token is None:
        raise ModelLoadError("The tokenizer has no end-of-sequence token, so the model could not learn where an answer ends. Choose a causal language model's tokenizer.")
    if not tokenizer.chat_template:
        tokenizer.chat_template = PLAIN_TEMPLATE_WITH_BOS if _starts_with_bos(tokenizer) else PLAIN_TEMPLATE
    return tokenizer


def _starts_with_bos(tokenizer) -> bool:
    """Whether the tokenizer puts its beginning-of-sequence token before a text (Llama 2's, Mistral's; not GPT-2's)."""
    return tokenizer.bos_token_id is not None and tokenizer("a")["input_ids"][:1] == [tokenizer.bos_token_id]


def uses_plain_template(tokenizer) -> bool:
    return tokenizer.chat_template in (PLAIN_TEMPLATE, PLAIN_TEMPLATE_WITH_BOS)


def render(tokenizer, messages: Sequence[dict[str, str]], **options):
    """`apply_chat_template`, with a template's own refusal (Jinja's `raise_exception`: "System role not
    supported", "Conversation roles must alternate user/assistant/...") said as a DataError with what to do.

    With thinking off (`enable_thinking` False; templates without it ignore it): the data's answers have no reasoning,
    and a hybrid-reasoning template (Qwen3's) writes the last answer as an empty `<think>\n\n</think>\n\n` block and
    the answer, while its generation prompt puts that block only with thinking off. Rendered with thinking on, the block
    was learned as the answer's start, and its tokens, which are not special, were shown and scored as the answer's.
    Not verbose: finetuner cuts conversations at max_seq_length itself, so the tokenizer's warning that a longer one
    "will result in indexing errors" is false here (as for the untruncated lengths of every task's statistics)."""
    from jinja2 import TemplateError  # noqa: PLC0415 - transformers renders chat templates with Jinja

    try:
        return tokenizer.apply_chat_template(list(messages), **{"enable_thinking": False, "tokenizer_kwargs": {"verbose": False}, **options})
    except TemplateError as error:
        roles = ", ".join(str(m.get("role")) for m in messages)
        raise DataError(
            f"The model's chat template refused a conversation (roles: {roles}): {error}. Make the conversations fit it (for "
            "example, put a system message's text into the first user message, or make the turns alternate user, assistant), "
            "or choose a model whose chat template takes them."
        ) from error


def _ids(tokenizer, messages: list[dict[str, str]], *, add_generation_prompt: bool) -> list[int]:
    result = render(tokenizer, messages, tokenize=True, return_dict=True, add_generation_prompt=add_generation_prompt)
    return list(result["input_ids"])


def encode_example(tokenizer, prompt: list[dict[str, str]], completion: str, *, max_length: int, completion_only_loss: bool) -> dict[str, Any]:
    """input_ids, completion_mask and labels of one example, as training sees them (before packing)."""
    prompt_ids = _ids(tokenizer, prompt, add_generation_prompt=True)
    full_ids = _ids(tokenizer, [*prompt, {"role": "assistant", "content": completion}], add_generation_prompt=False)
    return _encoded(prompt_ids, full_ids, max_length=max_length, completion_only_loss=completion_only_loss)


def encode_examples(tokenizer, prompts: Sequence[list[dict[str, str]]], completions: Sequence[str], *, max_length: int, completion_only_loss: bool) -> list[dict[str, Any]]:
    """`encode_example` of each example, the conversations rendered and tokenized as one batch (the fast
    tokenizer's batch call, instead of two calls an example: a third of the time on GSM8K's long answers)."""
    if not prompts:
        return []
    fulls = [[*prompt, {"role": "assistant", "content": completion}] for prompt, completion in zip(prompts, completions)]
    prompt_ids = render(tokenizer, [list(prompt) for prompt in prompts], tokenize=True, return_dict=True, add_generation_prompt=True)["input_ids"]
    full_ids = render(tokenizer, fulls, tokenize=True, return_dict=True, add_generation_prompt=False)["input_ids"]
    return [_encoded(list(p), list(f), max_length=max_length, completion_only_loss=completion_only_loss) for p, f in zip(prompt_ids, full_ids)]


def _encoded(prompt_ids: list[int], full_ids: list[int], *, max_length: int, completion_only_loss: bool) -> dict[str, Any]:
    from trl.data_utils import common_prefix_length  # noqa: PLC0415

    start = common_prefix_length(prompt_ids, full_ids)
    mask = [0] * start + [1] * (len(full_ids) - start)
    labels = [t if (m or not completion_only_loss) else IGNORED for t, m in zip(full_ids, mask)]
    return {
        "input_ids": full_ids[:max_length],
        "completion_mask": mask[:max_length],
        "labels": labels[:max_length],
        "num_tokens_untruncated": len(full_ids),
        "completion_tokens_untruncated": len(full_ids) - start,
    }


def tokenize(splits, tokenizer, config: RunConfig, *, label_names: list[str] | None = None, fingerprint: str | None = None, cache_dir: Path | None = None):
    """input_ids, completion_mask, labels per example (prompt and completion kept for generation); examples
    whose answer is cut off entirely by max_seq_length are dropped, since they teach nothing (with or without
    `completion_only_loss`), and a split left with none is refused with what to do."""
    from ..tokenization import tokenizer_signature  # noqa: PLC0415
    from .base import cached_map  # noqa: PLC0415

    m, t = config.model, config.training

    def encode(batch):
        out: dict[str, list] = {"input_ids": [], "completion_mask": [], "labels": []}
        for prompt, completion in zip(batch["prompt"], batch["completion"]):
            encoded = encode_example(tokenizer, prompt, completion, max_length=m.max_seq_length, completion_only_loss=t.completion_only_loss)
            for key in out:
                out[key].append(encoded[key])
        return out

    key = cache_key(fingerprint, tokenizer_signature(tokenizer), tokenizer.chat_template, m.max_seq_length, t.completion_only_loss, "causal") if fingerprint else None
    encoded = cached_map(splits, encode, key=key, cache_dir=cache_dir)
    kept = {role: split.filter(lambda mask: any(mask), input_columns="completion_mask") for role, split in encoded.items()}
    for role, split in kept.items():
        if len(split) == 0 and len(encoded[role]):
            raise DataError(no_answer_left_message(role, len(encoded[role]), m.max_seq_length))
    return kept


# The most sequences of roles (system, user, assistant, ...) `check_tokenization` renders per split: conversations
# differ mostly by their number of turns, so a few dozen cover a dataset.
MAX_ROLE_SEQUENCES = 100


def check_tokenization(splits, tokenizer, config: RunConfig) -> None:
    """Find before a run exists (the CLI's `train`, the studio's Start) the data problems that only the model's
    tokenizer shows and that stop `tokenize`, without tokenizing the data twice: a few examples are encoded, not all.

    * A chat template that refuses a conversation refuses it for its roles (Gemma's "System role not supported",
      turns that must alternate user/assistant), so one conversation of each sequence of roles is rendered (the
      first MAX_ROLE_SEQUENCES of a split). A template that refused one for its text alone would still stop the
      run, with the same message.
    * A split of which no example keeps an answer token within max_seq_length: examples are encoded in order until
      one does; that is the first one, unless the split's first prompts fill max_seq_length.
    """
    m, t = config.model, config.training
    for role, split in splits.items():
        seen: set[tuple[str, ...]] = set()
        answered = len(split) == 0
        for prompt, completion in _examples(split):
            if answered and len(seen) >= MAX_ROLE_SEQUENCES:
                break
            roles = tuple(message["role"] for message in prompt)
            if answered and roles in seen:
                continue
            seen.add(roles)
            encoded = encode_example(tokenizer, prompt, completion, max_length=m.max_seq_length, completion_only_loss=t.completion_only_loss)
            answered = answered or any(encoded["completion_mask"])
        if not answered:
            raise DataError(no_answer_left_message(role, len(split), m.max_seq_length))


def _examples(split) -> Iterator[tuple[list[dict[str, str]], str]]:
    """(prompt, completion) of each example, read a thousand at a time."""
    for batch in split.select_columns(["prompt", "completion"]).iter(batch_size=1000):
        yield from zip(batch["prompt"], batch["completion"])


def no_answer_left_message(role: str, examples: int, max_length: int) -> str:
    """Why a split has nothing to learn or score: every prompt fills max_seq_length, and what to do."""
    return (
        f"None of the {examples} example(s) of {role} keeps any of its answer within max_seq_length {max_length}: each prompt, "
        f"rendered with the chat template, takes {max_length} tokens or more, and only answer tokens are learned and scored. "
        "Raise max_seq_length (the Data tab's inspector shows an example's length), or shorten the prompts."
    )



LENGTH_COLUMNS = ("prompt", "completion")  # the conversation, rendered with the tokenizer's chat template (part of the tokenizer)


def measure_lengths(columns: dict[str, list], tokenizer, config: RunConfig) -> list[tuple[int, int]]:
    """Each example's (rendered conversation's tokens, untruncated; where its answer starts): `_encoded`'s
    `num_tokens_untruncated` and the prompt's length within it, whatever max_seq_length cuts."""
    encoded = encode_examples(tokenizer, columns["prompt"], columns["completion"], max_length=1, completion_only_loss=True)
    return [(example["num_tokens_untruncated"], example["num_tokens_untruncated"] - example["completion_tokens_untruncated"]) for example in encoded]


def answer_left(total: int, start: int, max_length: int) -> bool:
    """Whether an example of `total` tokens whose answer starts at token `start` (`measure_lengths`) keeps an answer
    token within max_length: `_encoded`'s completion_mask cut there holds a 1, which is what `tokenize` keeps.
    The others are left out of training (and of the plan's and the estimate's counts: `summarize_lengths`' `left_out`)."""
    return start < min(max_length, total)


def summarize_lengths(measured: list[tuple[int, int]], config: RunConfig) -> dict[str, Any]:
    """A whole answer lies past max_seq_length when no answer token starts before it (`answer_left`): training's
    labels cut there are all ignored (`tokenize` drops the example). `left_out`: those examples' places in the split
    measured; `answers_cut_off`: how many."""
    max_length = config.model.max_seq_length
    left_out = [i for i, (total, start) in enumerate(measured) if not answer_left(total, start, max_length)]
    return {**length_summary([total for total, _ in measured], max_length), "answers_cut_off": len(left_out), "left_out": left_out}


def length_statistics(splits, tokenizer, config: RunConfig, *, memo: dict | None = None) -> dict[str, dict[str, Any]]:
    """Rendered prompt + answer lengths against max_seq_length; `answers_cut_off` counts examples whose
    whole answer lies past it (they are left out of training). `memo`: see `base.measured_statistics`."""
    return measured_statistics(splits, tokenizer, config, columns=LENGTH_COLUMNS, measure=measure_lengths, summarize=summarize_lengths, memo=memo)


def inspect_example(tokenizer, example: dict[str, Any], config: RunConfig) -> dict[str, Any]:
    """The rendered template and which tokens carry loss, exactly as training sees the example."""
    encoded = encode_example(tokenizer, list(example["prompt"]), example["completion"], max_length=config.model.max_seq_length, completion_only_loss=config.training.completion_only_loss)
    full = [*example["prompt"], {"role": "assistant", "content": example["completion"]}]
    return {
        "rendered": render(tokenizer, full, tokenize=False),
        "template": "plain (### Instruction / ### Response)" if uses_plain_template(tokenizer) else "the model's chat template",
        "tokens": tokenizer.convert_ids_to_tokens(encoded["input_ids"]),
        "input_ids": encoded["input_ids"],
        "labels": encoded["labels"],
        "loss_mask": [int(label != IGNORED) for label in encoded["labels"]],
        "completion_mask": encoded["completion_mask"],
        "loss_tokens": sum(label != IGNORED for label in encoded["labels"]),
        "loss_scope": "the answer only: Loss on the completion only is on" if config.training.completion_only_loss else "prompt and answer: Loss on the completion only is off",
        "num_tokens": len(encoded["input_ids"]),
        "num_tokens_untruncated": encoded["num_tokens_untruncated"],
        "truncated": encoded["num_tokens_untruncated"] > len(encoded["input_ids"]),
        "left_out": not any(encoded["completion_mask"]),  # `tokenize` drops it: no answer token within max_length
        "max_length": config.model.max_seq_length,
    }


# ---------------------------------------------------------------- packing, as TRL does it

EXAMPLE = "__example"  # the column that follows each token through TRL's packing to the example it came from


def packed_sequences(features, config: RunConfig, *, examples: Sequence[int] | None = None) -> dict[str, Any]:
    """How TRL's `SFTTrainer` packs `features` (`tokenize`'s train split) with `packing` on: TRL's own
    `pack_dataset`, called as its `_prepare_dataset` calls it (the run's `SFTConfig`: max_length, packing_strategy,
    dataset_num_proc, and its shuffle before packing when `shuffle_dataset` is set), on the same token lists,
    with one more list column that carries each token's example through it. TRL packs batches of examples
    (`Dataset.map`'s 1,000, within the contiguous shards `dataset_num_proc` makes: `estimate.packing_shards`); its
    "wrapped" strategy cuts examples across sequences, "bfd" and "bfd_split" put whole examples into sequences, best
    fit first. The shards are packed here one after another, as `map` would in its processes, without forking the
    studio's process.

    `sequences`: per packed sequence, its pieces as (example, start, end): tokens start:end of that example
    (`examples[i]` names features' row i; by default i). `attends_across`: whether a token attends to the
    examples before it in its sequence ("wrapped": one attention mask and positions over the whole sequence;
    "bfd" and "bfd_split" train padding-free, the positions restarting at each example)."""
    import datasets  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    from trl import pack_dataset  # noqa: PLC0415

    args = sft_arguments(config, Path("finetuner-packing"))  # what the trainer reads; nothing is written there
    check_packing_strategy(args.packing_strategy)
    names = list(range(len(features))) if examples is None else [int(e) for e in examples]
    # One `map` writes the three columns together: TRL checks that their lists line up batch by batch (the same
    # offsets), which a column added on its own (`add_column`) breaks past the first batch.
    traced = features.select_columns(["input_ids", "labels"]).map(
        lambda batch, rows: {**batch, EXAMPLE: [[names[row]] * len(ids) for row, ids in zip(rows, batch["input_ids"])]},
        batched=True, with_indices=True, desc="Following the examples through packing",
    )
    if args.shuffle_dataset:
        traced = traced.shuffle(seed=args.seed)
    count = packing_shards(len(traced), args.dataset_num_proc)
    shards = [traced.shard(num_shards=count, index=index, contiguous=True) for index in range(count)]
    packed = datasets.concatenate_datasets([pack_dataset(shard, args.max_length, args.packing_strategy) for shard in shards])
    column = packed.with_format("arrow")[EXAMPLE]
    column = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    owners = np.asarray(column.flatten(), dtype=np.int64)
    offsets = np.asarray(column.offsets, dtype=np.int64) - int(column.offsets[0].as_py())
    used: dict[int, int] = {}
    sequences: list[list[tuple[int, int, int]]] = []
    for begin, end in zip(offsets[:-1], offsets[1:]):
        tokens = owners[begin:end]
        cuts = [0, *(np.flatnonzero(tokens[1:] != tokens[:-1]) + 1).tolist(), len(tokens)]
        pieces = []
        for a, b in zip(cuts[:-1], cuts[1:]):
            name = int(tokens[a])
            start = used.get(name, 0)
            used[name] = start + b - a
            pieces.append((name, start, start + b - a))
        sequences.append(pieces)
    return {
        "strategy": args.packing_strategy,
        "max_length": args.max_length,
        "sequences": sequences,
        "attends_across": args.packing_strategy == "wrapped" and not args.padding_free,
    }


def packing_layout(split, tokenizer, config: RunConfig) -> dict[str, Any]:
    """`packed_sequences` of a prepared train split: tokenized as `tokenize` does for training (examples left with
    no answer token dropped), each example named by its place in `split`."""
    place = "__place"
    features = tokenize({"train": split.add_column(place, list(range(len(split))))}, tokenizer, config)["train"]
    return packed_sequences(features, config, examples=features[place])


def packing_of(layout: dict[str, Any], example: int) -> dict[str, Any]:
    """What packing does to one example (its place in the train split) under `layout` (`packed_sequences`): the
    packed sequences and the fill (real tokens of all the sequences' max_length slots) of the whole split, and each
    packed sequence the example lands in (numbered from 0, in the order training reads them unshuffled), with the
    pieces it is made of: (example, start, end, offset in the sequence). `pieces` is empty for an example
    training leaves out (no answer token within max_seq_length)."""
    sequences, length = layout["sequences"], layout["max_length"]
    tokens = sum(end - start for pieces in sequences for _, start, end in pieces)
    landed = []
    for number, pieces in enumerate(sequences):
        if any(name == example for name, _, _ in pieces):
            offsets = [0]
            for _, start, end in pieces:
                offsets.append(offsets[-1] + end - start)
            landed.append({
                "sequence": number,
                "length": offsets[-1],
                "pieces": [{"example": name, "start": start, "end": end, "at": at} for (name, start, end), at in zip(pieces, offsets)],
            })
    return {
        "strategy": layout["strategy"],
        "max_length": length,
        "sequences": len(sequences),
        "tokens": tokens,
        "fill": tokens / (len(sequences) * length) if sequences else 0.0,
        "examples": len({name for pieces in sequences for name, _, _ in pieces}),
        "attends_across": layout["attends_across"],
        "example": example,
        "landed": landed,
    }


# ---------------------------------------------------------------- model and trainer


def fits_model(model_config) -> bool:
    """A decoder-only model: transformers can put a language-model head on an encoder (BertLMHeadModel), but it was never trained to write."""
    return not getattr(model_config, "is_encoder_decoder", False) and model_config.model_type not in ENCODER_ONLY


def build_model(config: RunConfig, label_names: list[str] | None = None, *, token: str | None = None):
    """The pretrained causal LM in float32 (the Trainer's mixed precision autocasts it: finetuner/precision.py)."""
    import torch  # noqa: PLC0415
    from transformers import AutoModelForCausalLM  # noqa: PLC0415

    model = load_pretrained(AutoModelForCausalLM, config, token=token, dtype=torch.float32)
    if not fits_model(model.config):
        raise ModelLoadError(wrong_kind_message(config))
    model.generation_config.max_new_tokens = config.model.generation_max_new_tokens
    return model


def lora_config(config: RunConfig):
    from peft import LoraConfig  # noqa: PLC0415

    m = config.model
    return LoraConfig(r=m.lora_r, lora_alpha=m.lora_alpha, lora_dropout=m.lora_dropout, target_modules=m.lora_target_modules or "all-linear", bias="none", task_type="CAUSAL_LM")


def parameter_counts(config: RunConfig, *, token: str | None = None) -> dict[str, Any]:
    """Trainable and total parameters of this config's model (with its LoRA adapters when `use_lora`),
    counted on the meta device: no weights are loaded, so the studio can show it before training starts."""
    from .base import count_parameters  # noqa: PLC0415

    model = meta_model(config, AUTO_MODEL, token=token)
    if config.model.use_lora:
        from peft import get_peft_model  # noqa: PLC0415

        model = get_peft_model(model, lora_config(config))
    return count_parameters(model)


@lru_cache(maxsize=1)
def trainer_class():
    """TRL's SFTTrainer, evaluating in dataset order, with an exact per-token loss and perplexity.

    SFTTrainer averages each batch's per-token loss, and the Trainer then averages batches by example
    count; here the evaluation instead sums the negative log-likelihood and the predicted tokens over the
    whole split, so `eval_loss` is the mean per token and `eval_perplexity` is exactly exp(eval_loss).
    """
    import torch  # noqa: PLC0415
    from trl import SFTTrainer  # noqa: PLC0415

    class FinetunerSFTTrainer(in_order(SFTTrainer)):
        def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
            loss, logits, labels = super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)
            if loss is not None and "labels" in inputs:
                tokens = (inputs["labels"][..., 1:] != IGNORED).sum()
                self._nll_total = getattr(self, "_nll_total", 0) + torch.stack([loss.detach().float() * tokens, tokens.float()])
            return loss, logits, labels

        def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None, metric_key_prefix="eval"):
            self._nll_total = 0
            output = super().evaluation_loop(dataloader, description, prediction_loss_only=prediction_loss_only, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)
            if torch.is_tensor(self._nll_total):
                nll, tokens = self.accelerator.reduce(self._nll_total.to(self.args.device), reduction="sum").tolist()
                if tokens > 0:
                    output.metrics[f"{metric_key_prefix}_loss"] = nll / tokens
                    output.metrics[f"{metric_key_prefix}_perplexity"] = _perplexity(nll / tokens)
            return output

    return FinetunerSFTTrainer


def sft_arguments(config: RunConfig, output_dir: Path, *, for_training: bool = True):
    """TRL's `SFTConfig` for this run: the common TrainingArguments and this task's own."""
    from trl import SFTConfig  # noqa: PLC0415

    from ..train import training_arguments  # noqa: PLC0415

    t = config.training
    return training_arguments(
        config,
        output_dir,
        args_class=SFTConfig,
        max_length=config.model.max_seq_length,
        packing=t.packing,
        packing_strategy=PACKING_STRATEGY,
        eval_packing=False,  # evaluation scores whole examples, one per row
        completion_only_loss=t.completion_only_loss,
        activation_checkpointing=False,  # TRL turns it on by default; here it is an explicit choice (extra_training_args)
        **({} if for_training else EVALUATION_ONLY),
    )


def build_trainer(config: RunConfig, *, model, tokenizer, label_names: list[str] | None = None, train_dataset, eval_dataset, output_dir: Path, callbacks: list, for_training: bool = True):
    args = sft_arguments(config, output_dir, for_training=for_training)

    def inputs(split):
        return None if split is None else split.select_columns(["input_ids", "labels"])

    return trainer_class()(
        model=model,
        args=args,
        train_dataset=inputs(train_dataset),
        eval_dataset=inputs(eval_dataset) if args.eval_strategy != "no" else None,
        processing_class=tokenizer,
        peft_config=lora_config(config) if config.model.use_lora and for_training else None,
        callbacks=callbacks,
    )


# ---------------------------------------------------------------- scoring helpers (also used before training)


def _perplexity(loss: float) -> float:
    from ..metrics_text import perplexity  # noqa: PLC0415

    return perplexity(loss)


# Scoring a split (`token_loss`) holds the float32 scores over the vocabulary of at most this many bytes at once: the
# LM head's output, its float32 copy and the cross-entropy's log-softmax, SCORE_COPIES x 4 bytes a word per token. The
# whole batch's scores (Qwen2.5's 151,936 words x 512 tokens x 64 rows: about 60 GB) ran out of memory where training fit.
SCORE_BYTES = 256 * 2**20
SCORE_COPIES = 3
_PROBE_TOKENS = 8  # the check that the LM head is applied as the model's own forward applies it


def score_chunk_tokens(vocabulary: int, score_bytes: int | None = None) -> int:
    """How many tokens' scores over `vocabulary` words `token_loss` computes at once."""
    return max(1, (SCORE_BYTES if score_bytes is None else score_bytes) // (SCORE_COPIES * 4 * max(vocabulary, 1)))


def token_loss(model, rows: Sequence[dict[str, list[int]]], *, pad_token_id: int, batch_size: int = 8, score_bytes: int | None = None) -> dict[str, float]:
    """Mean negative log-likelihood per predicted token (positions whose label is not -100) and its perplexity.

    The model's body runs a batch at a time to its last hidden states; its LM head (and the family's final logit
    scaling or soft-capping) then scores the predicted positions `score_chunk_tokens` at a time, so the scores over
    the vocabulary never take more than about `score_bytes` (SCORE_BYTES) whatever the batch. A model whose own
    forward turns hidden states into logits otherwise (`_head` finds no match on a short probe) is scored through
    that forward, as few rows at a time as the budget allows (one at least)."""
    import torch  # noqa: PLC0415

    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    target = next(model.parameters()).device
    try:
        with torch.inference_mode():
            head = _head(model, rows, target)
            vocabulary = _vocabulary(model)
            chunk = score_chunk_tokens(vocabulary, score_bytes)
            for start in range(0, len(rows), batch_size):
                batch = rows[start : start + batch_size]
                if head is None:  # the model's own forward, in sub-batches of rows
                    width = max(len(r["input_ids"]) for r in batch)
                    step = max(1, chunk // max(width, 1))
                    parts = [_full_scores(model, batch[i : i + step], pad_token_id, target) for i in range(0, len(batch), step)]
                else:
                    parts = [_chunked_scores(head, batch, pad_token_id, target, chunk)]
                for summed, counted in parts:
                    total += summed
                    count += counted
    finally:
        model.train(was_training)
    loss = total / count if count else float("nan")
    return {"loss": loss, "perplexity": _perplexity(loss) if count else float("nan"), "tokens": count}


def _padded(batch, pad_token_id: int, target):
    import torch  # noqa: PLC0415

    width = max(len(r["input_ids"]) for r in batch)
    ids = torch.tensor([r["input_ids"] + [pad_token_id] * (width - len(r["input_ids"])) for r in batch], device=target)
    mask = torch.tensor([[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in batch], device=target)
    labels = torch.tensor([r["labels"] + [IGNORED] * (width - len(r["labels"])) for r in batch], device=target)
    return ids, mask, labels


def _full_scores(model, batch, pad_token_id: int, target) -> tuple[float, int]:
    """Summed loss and token count of `batch` from the model's own logits (all its rows' scores at once)."""
    import torch  # noqa: PLC0415

    ids, mask, labels = _padded(batch, pad_token_id, target)
    logits = model(input_ids=ids, attention_mask=mask).logits.float()
    shifted, targets = logits[:, :-1], labels[:, 1:]
    summed = torch.nn.functional.cross_entropy(shifted.reshape(-1, shifted.size(-1)), targets.reshape(-1), ignore_index=IGNORED, reduction="sum")
    return float(summed), int((targets != IGNORED).sum())


def _chunked_scores(head, batch, pad_token_id: int, target, chunk: int) -> tuple[float, int]:
    """Summed loss and token count of `batch`: hidden states for the whole batch, scores `chunk` tokens at a time."""
    import torch  # noqa: PLC0415

    body, project = head
    ids, mask, labels = _padded(batch, pad_token_id, target)
    hidden = _last_hidden(body(input_ids=ids, attention_mask=mask, use_cache=False))
    targets = labels[:, 1:].to(hidden.device)
    keep = targets != IGNORED
    hidden, targets = hidden[:, :-1][keep], targets[keep]  # only the predicted positions: (tokens, hidden size)
    summed = 0.0
    for start in range(0, targets.numel(), chunk):
        scores = project(hidden[start : start + chunk]).float()
        summed += float(torch.nn.functional.cross_entropy(scores, targets[start : start + chunk].to(scores.device), reduction="sum"))
        del scores
    return summed, int(targets.numel())


def _last_hidden(output):
    return output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0]


def _vocabulary(model) -> int:
    head = model.get_output_embeddings()
    weight = getattr(head, "weight", None)
    return int(weight.shape[0]) if weight is not None else int(model.config.get_text_config().vocab_size)


def _logit_transform(model):
    """The family's final step from LM-head output to logits, read from its config as TRL's fused LM head reads it
    (trl.trainer.utils.add_fused_lm_head): a scale (Cohere's `logit_scale`, Falcon-H1's `lm_head_multiplier`,
    Granite's division by `logits_scaling`), then Gemma's soft-capping (`final_logit_softcapping`)."""
    import torch  # noqa: PLC0415

    config = model.config.get_text_config()
    cap = getattr(config, "final_logit_softcapping", None)
    scale = next((getattr(config, name) for name in ("logit_scale", "output_multiplier", "lm_head_multiplier") if getattr(config, name, None) is not None), None)
    divide = getattr(config, "logits_scaling", None) if scale is None else None

    def apply(logits):
        if scale is not None:
            logits = logits * scale
        elif divide is not None:
            logits = logits * divide if config.model_type == "hyperclovax" else logits / divide
        if cap is not None:
            logits = torch.tanh(logits / cap) * cap
        return logits

    return apply


def _head(model, rows, target):
    """(body, project): the model without its LM head (hidden states) and the LM head with the family's final step
    (`_logit_transform`), when together they give the model's own logits on a short probe; None otherwise."""
    import torch  # noqa: PLC0415

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model  # PEFT: the transformers model, adapters in place
    body, lm_head = getattr(inner, "base_model", inner), inner.get_output_embeddings()
    probe = next((r["input_ids"][:_PROBE_TOKENS] for r in rows if r["input_ids"]), None)
    if body is inner or lm_head is None or probe is None:
        return None
    transform = _logit_transform(inner)

    head_device = next(lm_head.parameters()).device

    def project(hidden):
        return transform(lm_head(hidden.to(head_device)))

    ids = torch.tensor([probe], device=target)
    mask = torch.ones_like(ids)
    try:
        own = model(input_ids=ids, attention_mask=mask).logits.float()
        ours = project(_last_hidden(body(input_ids=ids, attention_mask=mask, use_cache=False))).float()
    except (TypeError, ValueError, AttributeError):  # a body that takes other inputs
        return None
    if ours.shape != own.shape or not torch.allclose(ours, own.to(ours.device), rtol=1e-3, atol=1e-4):
        _log.warning("%s: its LM head's scores differ from its own logits; scoring through its forward, a few rows at a time", type(inner).__name__)
        return None
    return body, project


def general_text_rows(tokenizer, max_length: int) -> list[dict[str, list[int]]]:
    """The bundled general-English sample, one paragraph per row, every token predicted (no template)."""
    rows = []
    for line in GENERAL_TEXT.read_text(encoding="utf-8").splitlines():
        if line.strip():
            ids = tokenizer(line.strip(), truncation=True, max_length=max_length)["input_ids"]
            rows.append({"input_ids": ids, "labels": list(ids)})
    return rows


def _model(trainer):
    return trainer.accelerator.unwrap_model(trainer.model) if hasattr(trainer, "accelerator") else trainer.model


def generate_answers(model, tokenizer, prompts: Sequence[list[dict[str, str]]], *, max_new_tokens: int, batch_size: int = 8, temperature: float = 0.0, top_p: float = 1.0) -> list[str]:
    """Answers to chat prompts: greedy by default, left-padded batches, special tokens removed."""
    import torch  # noqa: PLC0415

    room = prompt_room(model, max_new_tokens)
    saved_sides = tokenizer.padding_side, tokenizer.truncation_side
    tokenizer.padding_side = tokenizer.truncation_side = "left"  # a prompt too long keeps its end, where the question is
    was_training = model.training
    model.eval()
    target = next(model.parameters()).device
    answers: list[str] = []
    try:
        for start in range(0, len(prompts), batch_size):
            texts = [render(tokenizer, p, tokenize=False, add_generation_prompt=True) for p in prompts[start : start + batch_size]]
            inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False, truncation=room is not None, max_length=room).to(target)
            with torch.inference_mode():
                output = model.generate(**inputs, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, eos_token_id=stop_token_ids(model, tokenizer), **_sampling(temperature, top_p))
            new = output[:, inputs["input_ids"].shape[1] :]
            answers.extend(text.strip() for text in tokenizer.batch_decode(new, skip_special_tokens=True))
    finally:
        tokenizer.padding_side, tokenizer.truncation_side = saved_sides
        model.train(was_training)
    return answers


def prompt_room(model, max_new_tokens: int) -> int | None:
    """The most prompt tokens a model with learned positions (GPT-2's 1,024) can read beside `max_new_tokens`
    new ones: past its positions, `generate` failed with "IndexError: index out of range in self". None: no limit."""
    limit = position_limit(model)
    if limit is None:
        return None
    if max_new_tokens >= limit:
        raise DataError(f"max_new_tokens {max_new_tokens} leaves no room for the prompt: the model reads at most {limit} tokens, its answer included. Ask for fewer new tokens.")
    return limit - max_new_tokens


def _sampling(temperature: float, top_p: float) -> dict[str, Any]:
    """`generate` options: greedy at temperature 0, else nucleus sampling."""
    return {"do_sample": True, "temperature": temperature, "top_p": top_p} if temperature > 0 else {"do_sample": False}


def stop_token_ids(model, tokenizer) -> list[int]:
    """Where an answer ends: the model's end-of-sequence token(s), and the special token with which the chat
    template closes the assistant's turn (<|im_end|>, <end_of_turn>, <|eot_id|>, ...), which training puts at the
    end of every answer. A base model given a chat template (a base Qwen, say) stops only at its own end of
    sequence, so its answers ran on past the turn's end into turns it made up, shown and scored as the answer."""
    configured = model.generation_config.eos_token_id
    ids = list(configured) if isinstance(configured, (list, tuple)) else [] if configured is None else [configured]
    return list(dict.fromkeys([*ids, tokenizer.eos_token_id, *_end_of_turn(tokenizer)]))


def _end_of_turn(tokenizer) -> list[int]:
    """The last token of a rendered answer that decoding drops as special ([] when the template has none): the
    last, since a template that ignores `add_generation_prompt` puts the assistant's header in the answer too."""
    try:
        encoded = encode_example(tokenizer, [{"role": "user", "content": "x"}], "y", max_length=1 << 20, completion_only_loss=True)
    except DataError:  # a template that refuses this conversation: the end-of-sequence token alone
        return []
    answer = [t for t, m in zip(encoded["input_ids"], encoded["completion_mask"]) if m]
    return next(([t] for t in reversed(answer) if tokenizer.decode([t], skip_special_tokens=True) == "" and tokenizer.decode([t]).strip()), [])


def _sample(dataset, config: RunConfig):
    n = min(config.training.generation_num_samples, len(dataset))
    return dataset.select(range(n)) if n else None


def _kept_sample(split, tokenizer, config: RunConfig):
    """`_sample` of the examples `tokenize` keeps (an answer token within max_seq_length), from the untokenized
    split: the prompts the fine-tuned model answers at the end (`evaluate_split`), so the base model answers
    the same ones before training."""
    kept = []
    for index, example in enumerate(split):
        if len(kept) == config.training.generation_num_samples:
            break
        encoded = encode_example(tokenizer, example["prompt"], example["completion"], max_length=config.model.max_seq_length, completion_only_loss=True)
        if any(encoded["completion_mask"]):
            kept.append(index)
    return split.select(kept) if kept else None


def _last_user_message(prompt: list[dict[str, str]]) -> str:
    return next((m["content"] for m in reversed(prompt) if m["role"] == "user"), "")


# ---------------------------------------------------------------- before and after


def before_training(trainer, splits, config: RunConfig, *, out_dir: Path) -> None:
    """Score the untouched model (LoRA adapters start at zero, so it is the base model) on the validation
    split and the general-text sample, and keep its answers, for the before/after comparison."""
    if (out_dir / BASE_FILE).is_file():  # resumed run: the base model was scored before the first start
        return
    from ..metrics_text import generation_metrics  # noqa: PLC0415

    model, tokenizer = _model(trainer), trainer.processing_class
    result: dict[str, Any] = {"general_text": token_loss(model, general_text_rows(tokenizer, config.model.max_seq_length), pad_token_id=tokenizer.pad_token_id)}
    if trainer.eval_dataset is not None:
        rows = [{"input_ids": r["input_ids"], "labels": r["labels"]} for r in trainer.eval_dataset]
        result["validation"] = token_loss(model, rows, pad_token_id=tokenizer.pad_token_id, batch_size=config.training.per_device_eval_batch_size)
    sample = _kept_sample(splits["validation"], tokenizer, config) if "validation" in splits else None
    if sample is not None:
        answers = generate_answers(model, tokenizer, list(sample["prompt"]), max_new_tokens=config.model.generation_max_new_tokens, batch_size=config.training.per_device_eval_batch_size)
        result.setdefault("validation", {}).update(generation_metrics(answers, list(sample["completion"])))
        _generations_frame(sample, answers).to_csv(out_dir / "base_generations_validation.csv", index=False)
    write_json_atomic(out_dir / BASE_FILE, result)


def after_training(trainer, splits, config: RunConfig, *, label_names: list[str] | None = None, out_dir: Path) -> None:
    """comparison.json: the base model against the fine-tuned one on validation and on general text, and
    baselines.json in the shape the other tasks use ({"base_model": {"validation": metrics}}), with the
    fine-tuned model's ROUGE-L gain over the base model's answers to the same prompts and its paired
    interval (`intervals.gain_keys`)."""
    base = read_json(out_dir / BASE_FILE, {}) or {}
    tokenizer = trainer.processing_class
    general = token_loss(_model(trainer), general_text_rows(tokenizer, config.model.max_seq_length), pad_token_id=tokenizer.pad_token_id)
    tuned = {k.removeprefix("eval_"): v for k, v in (read_json(out_dir / "eval_results.json", {}) or {}).items() if not k.endswith(("_runtime", "_per_second"))}
    comparison = {
        "validation": {"base": base.get("validation", {}), "fine_tuned": tuned},
        "general_text": {"base": base.get("general_text", {}), "fine_tuned": general},
    }
    if base.get("general_text", {}).get("perplexity"):
        comparison["general_text"]["perplexity_change"] = general["perplexity"] / base["general_text"]["perplexity"] - 1
    write_json_atomic(out_dir / COMPARISON_FILE, comparison)
    write_json_atomic(out_dir / "baselines.json", {"base_model": {"validation": {**base.get("validation", {}), **_rouge_gain(out_dir, "validation")}}})


def _rouge_gain(out_dir: Path, split: str) -> dict[str, float]:
    """The fine-tuned answers' ROUGE-L minus the base model's, answer by answer on the same sampled prompts
    (`generations_<split>.csv` beside `base_generations_<split>.csv`); {} when either is missing or they differ."""
    import pandas as pd  # noqa: PLC0415

    from ..intervals import paired_gain  # noqa: PLC0415

    files = [out_dir / f"generations_{split}.csv", out_dir / f"base_generations_{split}.csv"]
    if not all(f.is_file() for f in files):
        return {}
    tuned, base = (pd.read_csv(f, dtype={"prompt": str, "reference": str}, keep_default_na=False) for f in files)
    if len(tuned) != len(base) or not (tuned["prompt"].equals(base["prompt"]) and tuned["reference"].equals(base["reference"])) or tuned.empty:
        return {}
    return paired_gain("rougeL", tuned["rougeL"], base["rougeL"])


# ---------------------------------------------------------------- export


def save_model(trainer, tokenizer, config: RunConfig, *, model_dir: Path, run_dir: Path) -> None:
    """model/ holds a complete model: with LoRA, the adapters are saved to adapter/ (to push on their own)
    and merged into the base weights; the tokenizer carries the chat template used in training."""
    model = _model(trainer)
    model.generation_config.max_new_tokens = config.model.generation_max_new_tokens
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = stop_token_ids(model, tokenizer)  # any pipeline loading model/ stops at the turn's end
    if not (config.model.use_lora and hasattr(model, "merge_and_unload")):
        trainer.save_model(str(model_dir))  # the Trainer gathers sharded (FSDP/DeepSpeed) weights
        tokenizer.save_pretrained(str(model_dir))
        return
    from ..card import ADAPTER_DIR  # noqa: PLC0415 - card imports the tasks package

    model.save_pretrained(str(run_dir / ADAPTER_DIR))
    tokenizer.save_pretrained(str(run_dir / ADAPTER_DIR))
    merged = model.merge_and_unload()
    trainer.model = trainer.model_wrapped = merged  # evaluate the merged model, exactly what is exported
    merged.save_pretrained(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))


# ---------------------------------------------------------------- evaluation


def _generations_frame(sample, answers: list[str], base: list[str] | None = None):
    import pandas as pd  # noqa: PLC0415

    from ..metrics_text import rouge_per_example  # noqa: PLC0415

    frame = pd.DataFrame({"prompt": [_last_user_message(p) for p in sample["prompt"]], "reference": list(sample["completion"]), "generated": answers})
    frame["rougeL"] = rouge_per_example(answers, list(frame["reference"]))["rougeL"]
    if base is not None and len(base) == len(frame):
        frame["base_generated"] = base
    return frame


def evaluate_split(trainer, dataset, *, split: str, label_names: list[str] | None = None, out_dir: Path, prefix: str, config: RunConfig) -> dict[str, Any]:
    """Exact per-token loss and perplexity on the split; ROUGE/BLEU of greedy answers to its first
    `generation_num_samples` prompts, written to `generations_<split>.csv` beside the references (and the
    base model's answers, when they were kept before training); `report_<split>.json` sums it up."""
    import pandas as pd  # noqa: PLC0415

    from .. import intervals  # noqa: PLC0415
    from ..metrics_text import generation_metrics, rouge_intervals, rouge_per_example  # noqa: PLC0415

    saved, trainer.args.prediction_loss_only = trainer.args.prediction_loss_only, True  # no logits: only the loss is needed
    try:
        output = predict_in_order(trainer, dataset.select_columns(["input_ids", "labels"]), prefix=prefix)
    finally:
        trainer.args.prediction_loss_only = saved
    metrics = dict(output.metrics)
    out_dir.mkdir(parents=True, exist_ok=True)
    sample = _sample(dataset, config)
    found = {}
    if sample is not None:
        answers = generate_answers(_model(trainer), trainer.processing_class, list(sample["prompt"]), max_new_tokens=config.model.generation_max_new_tokens, batch_size=config.training.per_device_eval_batch_size)
        metrics.update({f"{prefix}_{k}": v for k, v in generation_metrics(answers, list(sample["completion"])).items()})
        rouge = rouge_per_example(answers, list(sample["completion"]))  # the sample is small: scored again for the table below
        found = intervals.report_fields(rouge_intervals(rouge), f"ROUGE: {intervals.bootstrap_method('generated answers')}; BLEU, a corpus score, and perplexity have none")
        base_file = out_dir / f"base_generations_{split}.csv"
        base = list(pd.read_csv(base_file, keep_default_na=False)["generated"]) if base_file.is_file() else None
        _generations_frame(sample, answers, base).to_csv(out_dir / f"generations_{split}.csv", index=False)
    report = {"task": "causal-lm", "metrics": {k.removeprefix(f"{prefix}_"): v for k, v in metrics.items()}, **found, "examples": len(dataset), "generated_examples": len(sample) if sample is not None else 0}
    write_json_atomic(out_dir / f"report_{split}.json", report)  # the studio may read it while it is written
    return metrics


# ---------------------------------------------------------------- inference


class CausalLMPredictor:
    """Chat with a causal LM: whole answers, or a stream of growing text for the studio's chat view."""

    task = "causal-lm"

    def __init__(self, model_path: str, *, max_length: int = 2048, token: str | None = None):
        import torch  # noqa: PLC0415
        from transformers import AutoModelForCausalLM  # noqa: PLC0415

        config = RunConfig.from_dict({"task": "causal-lm", "model_name_or_path": model_path})
        self.tokenizer = load_trained_tokenizer(model_path, token=token)
        self.model = load_pretrained(AutoModelForCausalLM, config, token=token, dtype=torch.float32)
        self.device = device()
        self.model.to(self.device).eval()
        self.max_length = max_length
        self.max_new_tokens = self.model.generation_config.max_new_tokens or 256
        self.plain_template = uses_plain_template(self.tokenizer)

    def _inputs(self, messages: Sequence[dict[str, str]], max_new_tokens: int):
        if not messages or messages[-1].get("role") != "user":
            raise DataError("The conversation must end with the user's message.")
        text = render(self.tokenizer, messages, tokenize=False, add_generation_prompt=True)
        inputs = self.tokenizer(text, return_tensors="pt", add_special_tokens=False)
        keep = min(self.max_length, prompt_room(self.model, max_new_tokens) or self.max_length)
        inputs = {k: v[:, -keep:] for k, v in inputs.items()}  # keep the latest turns when too long
        return {k: v.to(self.device) for k, v in inputs.items()}

    def _options(self, max_new_tokens: int | None, temperature: float, top_p: float) -> dict[str, Any]:
        if temperature < 0 or not 0 < top_p <= 1:
            raise DataError("temperature must be 0 or more, and top_p between 0 (exclusive) and 1.")
        if max_new_tokens is not None and max_new_tokens < 1:
            raise DataError(f"max_new_tokens must be 1 or more (the most tokens to generate); it is {max_new_tokens}.")
        return {"max_new_tokens": max_new_tokens or self.max_new_tokens, "pad_token_id": self.tokenizer.pad_token_id, "eos_token_id": stop_token_ids(self.model, self.tokenizer), **_sampling(temperature, top_p)}

    def chat(self, messages: Sequence[dict[str, str]], *, max_new_tokens: int | None = None, temperature: float = 0.0, top_p: float = 1.0) -> str:
        import torch  # noqa: PLC0415

        options = self._options(max_new_tokens, temperature, top_p)
        inputs = self._inputs(messages, options["max_new_tokens"])
        with torch.inference_mode():
            output = self.model.generate(**inputs, **options)
        return self.tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()

    def stream(self, messages: Sequence[dict[str, str]], *, max_new_tokens: int | None = None, temperature: float = 0.0, top_p: float = 1.0) -> Iterator[str]:
        """Yields the answer so far, growing as tokens are generated (a thread runs `generate`).

        Closing the generator early (a Stop button, a client that went away) stops generation at the next
        token: the thread never goes on computing an answer nobody reads."""
        import threading  # noqa: PLC0415

        import torch  # noqa: PLC0415
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer  # noqa: PLC0415

        stop = threading.Event()

        class StopWhenAsked(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), stop.is_set(), dtype=torch.bool, device=input_ids.device)

        chosen = self._options(max_new_tokens, temperature, top_p)
        inputs = self._inputs(messages, chosen["max_new_tokens"])
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=300)
        options = {**inputs, **chosen, "streamer": streamer, "stopping_criteria": StoppingCriteriaList([StopWhenAsked()])}

        def run() -> None:
            with torch.inference_mode():
                self.model.generate(**options)

        thread = threading.Thread(target=run, name=GENERATION_THREAD, daemon=True)
        thread.start()
        text = ""
        try:
            for piece in streamer:
                text += piece
                yield text.lstrip()
        finally:
            stop.set()
            thread.join()

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int | None = None, temperature: float = 0.0, top_p: float = 1.0) -> list[str]:
        if isinstance(prompts, str):
            raise DataError("generate() takes a list of prompts; wrap a single prompt in a list.")
        self._options(max_new_tokens, temperature, top_p)
        return generate_answers(self.model, self.tokenizer, [[{"role": "user", "content": p}] for p in prompts], max_new_tokens=max_new_tokens or self.max_new_tokens, temperature=temperature, top_p=top_p)

    def records(self, texts: Sequence[str], **options) -> list[dict[str, Any]]:
        allowed = {k: v for k, v in options.items() if k in ("max_new_tokens", "temperature", "top_p") and v is not None}
        return [{"prompt": p, "generated": g} for p, g in zip(texts, self.generate(texts, **allowed))]

    def output_columns(self, texts: Sequence[str | Sequence[dict[str, str]]], *, max_new_tokens: int | None = None, temperature: float = 0.0, top_p: float = 1.0, **options) -> dict[str, list]:
        """`generated`: the answer to each prompt, a text (the user's message) or a conversation ending with the user's turn."""
        conversations = [[{"role": "user", "content": text}] if isinstance(text, str) else list(text) for text in texts]
        self._options(max_new_tokens, temperature, top_p)
        return {"generated": generate_answers(self.model, self.tokenizer, conversations, max_new_tokens=max_new_tokens or self.max_new_tokens, temperature=temperature, top_p=top_p)}


def load_predictor(model_path: str, *, max_length: int = 2048, token: str | None = None) -> CausalLMPredictor:
    return CausalLMPredictor(model_path, max_length=max(max_length, 2048), token=token)
