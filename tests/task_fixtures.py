"""Data and tiny models for the token-classification, causal-LM and seq2seq tests, all made here.

Each model has random weights and a tokenizer trained in the test on the data's own words, so nothing is
downloaded and a few training steps on a CPU are enough to see the loss fall.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from support import save_seeded

PEOPLE = [["alice"], ["bob"], ["carol", "smith"], ["dave"], ["erin", "jones"], ["frank"]]
PLACES = [["paris"], ["london"], ["new", "york"], ["tokyo"], ["rome"], ["san", "diego"]]
VERBS = ["visited", "left", "loves", "praised", "saw", "reached"]
TAILS = [[], ["today"], ["on", "monday"], ["again"], ["last", "week"]]


def make_ner_records(rows: int = 120, seed: int = 0) -> list[dict]:
    """Sentences "<person> <verb> <place> <tail>" with BIO tags: person and location entities, some two words long."""
    rng = random.Random(seed)
    records = []
    for _ in range(rows):
        person, place, verb, tail = rng.choice(PEOPLE), rng.choice(PLACES), rng.choice(VERBS), rng.choice(TAILS)
        tokens = [*person, verb, *place, *tail]
        tags = ["B-person"] + ["I-person"] * (len(person) - 1) + ["O"] + ["B-location"] + ["I-location"] * (len(place) - 1) + ["O"] * len(tail)
        records.append({"tokens": tokens, "ner_tags": tags})
    return records


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def make_instruction_records(rows: int = 96, seed: int = 0) -> list[dict]:
    """Instruction/input/output records whose answer is a fixed function of the question: learnable in a few steps."""
    rng = random.Random(seed)
    colours = {"apple": "red", "banana": "yellow", "grass": "green", "sky": "blue", "snow": "white", "coal": "black"}
    records = []
    for i in range(rows):
        thing = rng.choice(sorted(colours))
        records.append({"instruction": f"what colour is the {thing}?", "input": "", "output": f"the {thing} is {colours[thing]}."})
    return records


def make_summary_records(rows: int = 80, seed: int = 0) -> list[dict]:
    """Documents whose summary is their first clause: a copy task a tiny seq2seq model can start to learn."""
    rng = random.Random(seed)
    subjects = ["the cat", "the dog", "a bird", "the team", "our model", "the city"]
    verbs = ["won", "slept", "moved", "grew", "failed", "changed"]
    fillers = ["after a long day", "in the morning", "without warning", "as expected", "for the first time", "near the river"]
    records = []
    for _ in range(rows):
        subject, verb = rng.choice(subjects), rng.choice(verbs)
        extra = " ".join(rng.choice(fillers) for _ in range(rng.randint(2, 4)))
        records.append({"document": f"{subject} {verb} {extra} .", "summary": f"{subject} {verb} ."})
    return records


def reference_token_loss(model, rows) -> tuple[float, int]:
    """Mean loss per predicted token the straightforward way, to check `causal_lm.token_loss` against: each row
    alone, through the model's own logits. (mean loss, predicted tokens)."""
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for r in rows:
            logits = model(input_ids=torch.tensor([r["input_ids"]])).logits.float()[0, :-1]
            targets = torch.tensor(r["labels"][1:])
            total += float(torch.nn.functional.cross_entropy(logits, targets, ignore_index=-100, reduction="sum"))
            count += int((targets != -100).sum())
    return total / count, count


def _word_level_tokenizer(texts: list[str], special: list[str], *, vocab_size: int = 600):
    """A small WordPiece tokenizer (lower-cased) trained on `texts`."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordPiece(unk_token="<unk>"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=special))
    return tokenizer


CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_causal_lm(folder: Path, texts: list[str], *, chat_template: str | None = None) -> Path:
    """A 2-layer LLaMA (hidden size 32) with a WordPiece tokenizer trained on `texts`; optionally a chat template."""
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    special = ["<pad>", "<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "###"]
    tokenizer = _word_level_tokenizer(texts + ["instruction response user assistant system"], special)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>", model_max_length=256)
    if chat_template:
        fast.chat_template = chat_template
    config = LlamaConfig(
        vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
        max_position_embeddings=256, bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id, tie_word_embeddings=True,
    )
    save_seeded(LlamaForCausalLM, config, folder)
    fast.save_pretrained(folder)
    return folder


def build_tiny_gpt2(folder: Path, texts: list[str], *, positions: int = 64, pad_token: bool = True) -> Path:
    """A 2-layer GPT-2 (GPT2LMHeadModel, learned positions: it reads at most `positions` tokens) with a WordPiece tokenizer trained on `texts`;
    without `pad_token`, the tokenizer has none, as GPT-2's own has not."""
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tokenizer = _word_level_tokenizer(texts + ["instruction response"], ["<pad>", "<unk>", "</s>", "###"])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", eos_token="</s>", pad_token="<pad>" if pad_token else None, model_max_length=positions)
    config = GPT2Config(vocab_size=len(fast), n_embd=32, n_layer=2, n_head=2, n_positions=positions, bos_token_id=fast.eos_token_id, eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id)
    save_seeded(GPT2LMHeadModel, config, folder)
    fast.save_pretrained(folder)
    return folder


def build_tiny_t5(folder: Path, texts: list[str]) -> Path:
    """A 2-layer T5 (d_model 32) with a WordPiece tokenizer trained on `texts` that ends every text with </s>."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    tokenizer = _word_level_tokenizer(texts, ["<pad>", "</s>", "<unk>"])
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", tokenizer.token_to_id("</s>"))])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", eos_token="</s>", pad_token="<pad>", model_max_length=256)
    config = T5Config(
        vocab_size=len(fast), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
        pad_token_id=fast.pad_token_id, eos_token_id=fast.eos_token_id, decoder_start_token_id=fast.pad_token_id,
    )
    save_seeded(T5ForConditionalGeneration, config, folder)
    fast.save_pretrained(folder)
    return folder


def build_tiny_bart(folder: Path, texts: list[str], *, positions: int = 64) -> Path:
    """A 1+1-layer BART (d_model 32; learned positions: encoder and decoder read at most `positions` tokens each)
    with a WordPiece tokenizer trained on `texts` that wraps every text in <s> ... </s>."""
    from tokenizers import processors
    from transformers import BartConfig, BartForConditionalGeneration, PreTrainedTokenizerFast

    tokenizer = _word_level_tokenizer(texts, ["<pad>", "<s>", "</s>", "<unk>"])
    ends = [("<s>", tokenizer.token_to_id("<s>")), ("</s>", tokenizer.token_to_id("</s>"))]
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> $B </s>", special_tokens=ends)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>", model_max_length=positions)
    config = BartConfig(
        vocab_size=len(fast), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
        encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=positions, pad_token_id=fast.pad_token_id,
        bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id, decoder_start_token_id=fast.eos_token_id, forced_eos_token_id=fast.eos_token_id,
    )
    save_seeded(BartForConditionalGeneration, config, folder)
    fast.save_pretrained(folder)
    return folder


def _unigram_pieces(texts: list[str], size: int = 300) -> list[tuple[str, float]]:
    """The pieces and scores of a small SentencePiece-style Unigram model trained on `texts` (no special tokens):
    the vocabulary T5's, mBART's and Pegasus's tokenizer classes are built from."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.train_from_iterator(texts, trainers.UnigramTrainer(vocab_size=size, unk_token="<unk>", special_tokens=["<unk>"]))
    return [(piece, score) for piece, score in json.loads(tokenizer.to_str())["model"]["vocab"] if piece != "<unk>"]


# Multilingual families (their tokenizers mark texts with language codes): mbart-large-cc25's, mbart-large-50's, nllb-200's.
MULTILINGUAL_SEQ2SEQ = ("mbart", "mbart-50", "nllb")


# Each family as its Hub checkpoints are: T5 v1.0 ties its output layer to the word table and uses ReLU, v1.1, Flan-T5,
# mT5 and UMT5 untie it and gate the feed-forward with GELU (UMT5: a relative position bias in every layer); BART's
# pretrained generation settings are bart-large-cnn's (4 beams, summaries of 56 tokens at least); mbart-large-cc25
# names no decoder start token; Pegasus and Marian start the decoder with the padding token, and Marian's sinusoidal
# positions are not in its checkpoint; LED reads long documents through windowed attention.
SEQ2SEQ_FAMILIES = ("t5", "t5-v1.1", "umt5", "bart", "mbart", "pegasus", "marian", "led")


def build_tiny_seq2seq(family: str, folder: Path, texts: list[str]) -> Path:
    """A 1- or 2-layer encoder-decoder of `family` (d_model 32, 64 positions where it has a table of them) with its
    own tokenizer class where that needs no sentencepiece model (T5's, mBART's, Pegasus's, with a vocabulary trained
    on `texts`), else a WordPiece one that ends texts as the family does."""
    import transformers as tf

    if family == "bart":
        build_tiny_bart(folder, texts)
        tf.GenerationConfig.from_pretrained(folder, num_beams=4, min_length=56, length_penalty=2.0).save_pretrained(folder)
        return folder
    layers = {"d_model": 32, "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 2, "decoder_attention_heads": 2, "encoder_ffn_dim": 64, "decoder_ffn_dim": 64}
    if family in ("t5", "t5-v1.1", "umt5"):
        tokenizer = tf.T5Tokenizer(vocab=[("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), *_unigram_pieces(texts)], extra_ids=0)
        # t5-small's config.json names its summarization prefix; v1.1 and UMT5 name none
        gated = {"task_specific_params": {"summarization": {"prefix": "summarize: "}}} if family == "t5" else {"feed_forward_proj": "gated-gelu", "tie_word_embeddings": False}
        config = (tf.UMT5Config if family == "umt5" else tf.T5Config)(
            vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
            pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id, **gated,
        )
        model_class = tf.UMT5ForConditionalGeneration if family == "umt5" else tf.T5ForConditionalGeneration
    elif family == "mbart":
        tokenizer = tf.MBartTokenizer(vocab=[("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), *_unigram_pieces(texts)], model_max_length=64)
        config = tf.MBartConfig(
            vocab_size=len(tokenizer), max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id, forced_eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=None, **layers,
        )
        model_class = tf.MBartForConditionalGeneration
    elif family == "mbart-50":  # mbart-large-50's: summaries start with their language code, the decoder with </s>
        tokenizer = tf.MBart50Tokenizer(vocab=[("<unk>", 0.0), ("<s>", 0.0), ("</s>", 0.0), *_unigram_pieces(texts)], model_max_length=64)
        config = tf.MBartConfig(
            vocab_size=len(tokenizer), max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.cls_token_id,
            eos_token_id=tokenizer.eos_token_id, forced_eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.eos_token_id, **layers,
        )
        model_class = tf.MBartForConditionalGeneration
    elif family == "nllb":  # nllb-200's: an M2M100 model, a BPE tokenizer with 202 language codes put first in every text
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers

        bpe = Tokenizer(models.BPE(unk_token="<unk>"))
        bpe.pre_tokenizer = pre_tokenizers.Metaspace()
        bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>"]))
        trained = json.loads(bpe.to_str())["model"]
        merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in trained["merges"]]
        tokenizer = tf.NllbTokenizer(vocab=trained["vocab"], merges=merges, model_max_length=64)
        config = tf.M2M100Config(
            vocab_size=len(tokenizer), max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id, forced_eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.eos_token_id, **layers,
        )
        model_class = tf.M2M100ForConditionalGeneration
    elif family == "pegasus":
        reserved = [("<pad>", 0.0), ("</s>", 0.0), ("<mask_1>", 0.0), ("<mask_2>", 0.0), *((f"<unk_{i}>", 0.0) for i in range(2, 103)), ("<unk>", 0.0)]
        tokenizer = tf.PegasusTokenizer(vocab=reserved + _unigram_pieces(texts), model_max_length=64)
        config = tf.PegasusConfig(
            vocab_size=len(tokenizer), max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
            forced_eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id, **layers,
        )
        model_class = tf.PegasusForConditionalGeneration
    else:  # Marian's tokenizer needs sentencepiece; LED's is BART's
        from tokenizers import processors

        marian = family == "marian"
        special = ["<pad>", "</s>", "<unk>"] + ([] if marian else ["<s>"])
        words = _word_level_tokenizer(texts, special)
        ends = [(token, words.token_to_id(token)) for token in ("<s>", "</s>") if token in special]
        words.post_processor = processors.TemplateProcessing(single="$A </s>" if marian else "<s> $A </s>", special_tokens=ends)
        tokenizer = tf.PreTrainedTokenizerFast(tokenizer_object=words, unk_token="<unk>", eos_token="</s>", pad_token="<pad>", bos_token=None if marian else "<s>", model_max_length=64 if marian else 256)
        ids = {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id, "forced_eos_token_id": tokenizer.eos_token_id}
        if marian:
            config = tf.MarianConfig(vocab_size=len(tokenizer), max_position_embeddings=64, decoder_start_token_id=tokenizer.pad_token_id, **ids, **layers)
        else:
            config = tf.LEDConfig(
                vocab_size=len(tokenizer), max_encoder_position_embeddings=256, max_decoder_position_embeddings=64, attention_window=[8],
                bos_token_id=tokenizer.bos_token_id, decoder_start_token_id=tokenizer.eos_token_id, **ids, **layers,
            )
        model_class = tf.MarianMTModel if marian else tf.LEDForConditionalGeneration
    save_seeded(model_class, config, folder)
    tokenizer.save_pretrained(folder)
    return folder


# Chat templates as the families' instruction-tuned models ship them (shortened where nothing here depends on the rest),
# each with what sets it apart: Llama 3 writes the BOS itself and ends turns with <|eot_id|>; Qwen2 adds a default system
# prompt and a newline after <|im_end|>; Mistral has no generation prompt and refuses turns that do not alternate; Gemma
# refuses a system turn and calls the assistant "model"; Qwen3 writes the last answer after a reasoning block; Phi-3
# puts the end-of-sequence token after the last <|end|>.
FAMILY_TEMPLATES = {
    "llama3": (
        "{% for message in messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' %}"
        "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
    ),
    "qwen2": (
        "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    ),
    "mistral": (
        "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}"
    ),
    "gemma2": (
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
        "{% for message in messages %}{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
        "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
    ),
    "qwen3": (  # the last answer after an empty (or its own) reasoning block; the generation prompt has one only with thinking off
        "{% set ns = namespace(last_query=0) %}{% for message in messages %}{% if message['role'] == 'user' %}{% set ns.last_query = loop.index0 %}{% endif %}{% endfor %}"
        "{% for message in messages %}{% if message['role'] == 'assistant' %}{% set content = message['content'].split('</think>')[-1].lstrip('\n') %}"
        "{% set reasoning = message['content'].split('</think>')[0].split('<think>')[-1].strip('\n') if '</think>' in message['content'] else '' %}"
        "{% if loop.index0 > ns.last_query and (loop.last or reasoning) %}{% set content = '<think>\n' + reasoning + '\n</think>\n\n' + content %}{% endif %}"
        "{{ '<|im_start|>assistant\n' + content + '<|im_end|>\n' }}{% else %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% if enable_thinking is defined and enable_thinking is false %}{{ '<think>\n\n</think>\n\n' }}{% endif %}{% endif %}"
    ),
    "phi3": (
        "{% for message in messages %}{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
    ),
}

# Per family: byte-level BPE (GPT-2's, Llama 3's, Qwen's) or SentencePiece-like (Metaspace: Mistral's, Gemma's, Phi-3's)
# tokens, the special tokens and their roles (no padding token where the family's has none), the token the tokenizer
# puts before every text, and the stop tokens of generation_config.json. "mistral-base" has no chat template.
FAMILY_TOKENIZERS = {
    "gpt2": ("bytelevel", {"eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>"}, [], None, None),
    "llama3": ("bytelevel", {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}, ["<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>"], "<|begin_of_text|>", ["<|end_of_text|>", "<|eot_id|>"]),
    "qwen2": ("bytelevel", {"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}, ["<|im_start|>", "<|im_end|>"], None, None),  # a base Qwen2.5: its turns end before its end of text
    "qwen3": ("bytelevel", {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}, ["<|im_start|>"], None, ["<|im_end|>", "<|endoftext|>"]),
    "mistral": ("metaspace", {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, [], "<s>", None),
    "mistral-base": ("metaspace", {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, [], "<s>", None),
    "gemma2": ("metaspace", {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"}, ["<start_of_turn>", "<end_of_turn>"], "<bos>", ["<eos>", "<end_of_turn>"]),
    "phi3": ("metaspace", {"bos_token": "<s>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": "<unk>"}, ["<|user|>", "<|assistant|>", "<|system|>", "<|end|>"], None, ["<|endoftext|>", "<|end|>"]),
}


def _family_tokenizer(texts: list[str], style: str, roles: dict[str, str], extra: list[str], bos: str | None, positions: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    special = list(dict.fromkeys([*roles.values(), *extra]))
    if style == "bytelevel":
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer, tokenizer.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    else:
        tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
        tokenizer.pre_tokenizer, tokenizer.decoder = pre_tokenizers.Metaspace(prepend_scheme="first"), decoders.Metaspace(prepend_scheme="first")
        trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=special)
    tokenizer.train_from_iterator([*texts, "[INST] [/INST]\n\n### Instruction:\n### Response:\n user model assistant system"], trainer)
    if bos:
        tokenizer.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tokenizer.token_to_id(bos))])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, model_max_length=positions, **roles)
    if extra:
        fast.add_special_tokens({"additional_special_tokens": extra})
    return fast


def build_tiny_family(folder: Path, family: str, texts: list[str], *, positions: int = 128) -> Path:
    """A 2-layer model of `family` (hidden size 32; grouped key/value heads where the family has them) with a tokenizer
    trained on `texts` as the family's is made (see FAMILY_TOKENIZERS) and its chat template (FAMILY_TEMPLATES)."""
    import transformers as tf

    style, roles, extra, bos, stops = FAMILY_TOKENIZERS[family]
    tokenizer = _family_tokenizer(texts, style, roles, extra, bos, positions)
    tokenizer.chat_template = FAMILY_TEMPLATES.get(family)
    if family == "qwen3":
        tokenizer.add_tokens(["<think>", "</think>"])  # Qwen3's are not special: decoding keeps them
    ids = {"vocab_size": len(tokenizer), "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}
    sizes = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": positions, **ids}
    model_class, config = {
        "gpt2": lambda: (tf.GPT2LMHeadModel, tf.GPT2Config(n_embd=32, n_layer=2, n_head=2, n_positions=positions, **ids)),
        "llama3": lambda: (tf.LlamaForCausalLM, tf.LlamaConfig(**sizes, tie_word_embeddings=False)),
        "qwen2": lambda: (tf.Qwen2ForCausalLM, tf.Qwen2Config(**sizes, tie_word_embeddings=True)),
        "qwen3": lambda: (tf.Qwen3ForCausalLM, tf.Qwen3Config(**sizes, head_dim=16, tie_word_embeddings=True)),
        "mistral": lambda: (tf.MistralForCausalLM, tf.MistralConfig(**sizes, sliding_window=64)),
        "mistral-base": lambda: (tf.MistralForCausalLM, tf.MistralConfig(**sizes, sliding_window=64)),
        "gemma2": lambda: (tf.Gemma2ForCausalLM, tf.Gemma2Config(**sizes, head_dim=16, sliding_window=64)),
        "phi3": lambda: (tf.Phi3ForCausalLM, tf.Phi3Config(**sizes, original_max_position_embeddings=positions)),
    }[family]()
    save_seeded(model_class, config, folder)
    if stops:
        generation = tf.GenerationConfig.from_pretrained(folder)
        generation.eos_token_id = tokenizer.convert_tokens_to_ids(stops)
        generation.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
