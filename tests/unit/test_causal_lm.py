"""Instruction data, templates and loss masks: what a causal LM is trained on, token by token; the exact
perplexity; LoRA trains only its adapters and merges back."""

from __future__ import annotations

import json
import math

import datasets
import pandas as pd
import pytest
import torch

from finetuner import estimate
from finetuner.config import DataConfig, RunConfig
from finetuner.data import prepare_instruction_data
from finetuner.errors import ConfigError, DataError, ModelLoadError
from finetuner.tasks import causal_lm
from task_fixtures import CHATML, build_tiny_causal_lm, build_tiny_family, build_tiny_gpt2, make_instruction_records, write_jsonl

RECORD = {"prompt": [{"role": "user", "content": "what colour is the sky?"}], "completion": "the sky is blue."}


@pytest.fixture(scope="module")
def lm_dirs(tmp_path_factory):
    texts = [r["instruction"] + " " + r["output"] for r in make_instruction_records(40)]
    plain = build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"), texts)
    chat = build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-chat-lm"), texts, chat_template=CHATML)
    return plain, chat


def lm_config(model_dir, **values) -> RunConfig:
    return RunConfig.from_dict({"task": "causal-lm", "model_name_or_path": str(model_dir), "max_seq_length": 64, **values})


@pytest.mark.parametrize(
    "record, source_format, prompt, completion",
    [
        ({"prompt": "hi", "completion": "hello"}, "prompt/completion", "hi", "hello"),
        ({"instruction": "add", "input": "2 and 3", "output": "5"}, "instruction/input/output", "add\n\n2 and 3", "5"),
        ({"instruction": "say hi", "input": "", "output": "hi"}, "instruction/input/output", "say hi", "hi"),
        ({"instruction": "shorten", "context": "a long text", "response": "short", "category": "summarization"}, "instruction/input/output", "shorten\n\na long text", "short"),  # Dolly
        ({"question": "who?", "context": "Ann did.", "answer": "Ann"}, "instruction/input/output", "who?\n\nAnn did.", "Ann"),  # reading comprehension
        ({"question": "why?", "answer": "because"}, "prompt/completion", "why?", "because"),
        ({"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}, "chat messages", "hi", "hello"),
        ({"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}, "chat messages", "hi", "hello"),
    ],
)
def test_every_layout_becomes_a_chat(tmp_path, record, source_format, prompt, completion):
    data = prepare_instruction_data(DataConfig(train_file=str(write_jsonl(tmp_path / "d.jsonl", [record] * 12)), test_split_ratio=0))
    assert data.source_format == source_format
    row = data.splits["train"][0]
    assert row["prompt"][-1] == {"role": "user", "content": prompt} and row["completion"] == completion
    if source_format == "chat messages" and "messages" in record:
        assert row["prompt"][0] == {"role": "system", "content": "be brief"}


def test_an_input_column_under_any_name_is_added_to_the_prompt(tmp_path):
    records = [{"ask": "add", "background": "2 and 3", "reply": "5"}] * 12
    config = DataConfig(train_file=str(write_jsonl(tmp_path / "d.jsonl", records)), prompt_column_name="ask", completion_column_name="reply", input_column_name="background", test_split_ratio=0)
    row = prepare_instruction_data(config).splits["train"][0]
    assert row["prompt"][-1]["content"] == "add\n\n2 and 3" and row["completion"] == "5"


@pytest.mark.parametrize(
    "records, columns, words",
    [
        ([{"instruction": "add", "input": "2 and 3", "output": "5"}], {"input_column_name": "context"}, "no column 'context'; its columns are: instruction, input, output"),
        ([{"instruction": "add", "input": "2 and 3", "output": "5"}], {"input_column_name": "output"}, "input column 'output' is also the answer column"),
        ([{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}], "note": "y"}], {"input_column_name": "note"}, "holds chat messages.*takes no input column"),
    ],
)
def test_an_unusable_input_column_says_why(tmp_path, records, columns, words):
    with pytest.raises(DataError, match=words):
        prepare_instruction_data(DataConfig(train_file=str(write_jsonl(tmp_path / "d.jsonl", records * 12)), **columns))


@pytest.mark.parametrize(
    "records, words",
    [
        ([{"messages": [{"role": "user", "content": "hi"}]}], "must end with the assistant's answer"),
        ([{"messages": [{"role": "wizard", "content": "hi"}, {"role": "assistant", "content": "x"}]}], "unknown role 'wizard'"),
        ([{"text": "just text", "id": 1}], "Could not tell the prompt from the answer"),
    ],
)
def test_unusable_conversations_say_why(tmp_path, records, words):
    with pytest.raises(DataError, match=words):
        prepare_instruction_data(DataConfig(train_file=str(write_jsonl(tmp_path / "d.jsonl", records * 12))))


@pytest.mark.parametrize("written", ["json", "pandas"])
def test_a_csv_keeps_chats_as_text_and_they_are_read_as_chats(tmp_path, written):
    """A CSV cannot hold lists: a chat dataset saved as CSV keeps each conversation as JSON text (or, from pandas'
    to_csv, as Python's form of the list). It was not recognised: "Could not tell the prompt from the answer among the columns: messages"."""
    chat = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi, you"}, {"role": "assistant", "content": "hello"}]
    path = tmp_path / "chats.csv"
    pd.DataFrame({"messages": [json.dumps(chat) if written == "json" else chat] * 12}).to_csv(path, index=False)
    data = prepare_instruction_data(DataConfig(train_file=str(path), test_split_ratio=0))
    assert data.source_format == "chat messages"
    assert data.splits["train"][0] == {"prompt": chat[:2], "completion": "hello"}


def test_message_content_in_parts_is_read_as_its_text(tmp_path):
    """OpenAI's form, a list of {"type": "text", "text": ...} parts, was trained on as the list's Python text."""
    parts = [{"type": "text", "text": "what colour"}, {"type": "text", "text": "is the sky?"}]
    records = [{"messages": [{"role": "user", "content": parts}, {"role": "assistant", "content": [{"type": "text", "text": "blue."}]}]}] * 12
    row = prepare_instruction_data(DataConfig(train_file=str(write_jsonl(tmp_path / "d.jsonl", records)), test_split_ratio=0)).splits["train"][0]
    assert row == {"prompt": [{"role": "user", "content": "what colour\nis the sky?"}], "completion": "blue."}


@pytest.mark.parametrize(
    "message, words",
    [
        ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "cat.png"}}]}, r"Row 0 of the train data \(numbered from 0, as the Data tab's # column: the 1st record\): a message holds a 'image_url' part; only text can be learned"),
        ({"content": "hi"}, r"Row 0 of the train data \(.*\): a message has no 'role' \(nor ShareGPT's 'from'\); give each message its role"),
    ],
)
def test_a_message_that_cannot_be_learned_says_why(tmp_path, message, words):
    records = [{"messages": [message, {"role": "assistant", "content": "x"}]}] * 12
    with pytest.raises(DataError, match=words):
        prepare_instruction_data(DataConfig(train_file=str(write_jsonl(tmp_path / "d.jsonl", records))))


def test_a_malformed_row_is_named_by_its_number_in_the_data_tabs_preview(tmp_path):
    """Errors counted rows from 1 while the preview's # column (and the inspector) count from 0: told "Row 5",
    the user found the row before it under # 5."""
    from finetuner.ui import services
    from finetuner.ui.dataset_tab import numbered, preview_frame

    records = [{"messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]} for i in range(12)]
    records[5]["messages"][1]["role"] = "robot"
    selection = {"source": services.SOURCE_FILE, "task": "causal-lm", "train_file": str(write_jsonl(tmp_path / "chats.jsonl", records))}
    with pytest.raises(DataError, match=r"Row (\d+) of the train data \(numbered from 0, as the Data tab's # column: the 6th record\): unknown role 'robot'") as raised:
        prepare_instruction_data(DataConfig(train_file=selection["train_file"]))
    named = int(raised.value.args[0].split()[1])
    preview = numbered(preview_frame(services.raw_frames(selection)["train"]))
    assert "robot: answer 5" in preview.loc[preview["#"] == named, "messages"].item()


def test_a_file_to_predict_on_names_its_rows_as_the_data_tab_does():
    frame = pd.DataFrame({"messages": [[{"role": "user", "content": "hi"}], [{"role": "assistant", "content": "no question"}]]})
    columns = {"messages": "messages"}
    with pytest.raises(DataError, match=r"^Row 1 of chats.jsonl \(numbered from 0, as the Data tab's # column: the 2nd record\): the conversation must have a user message"):
        from finetuner.data import prompt_conversations

        prompt_conversations(frame, columns, "chats.jsonl")


def test_plain_template_renders_instruction_and_response(lm_dirs):
    config = lm_config(lm_dirs[0])
    tokenizer = causal_lm.load_tokenizer(config)
    assert causal_lm.uses_plain_template(tokenizer) and tokenizer.pad_token == "<pad>"
    shown = causal_lm.inspect_example(tokenizer, RECORD, config)
    assert shown["rendered"] == "### Instruction:\nwhat colour is the sky?\n\n### Response:\nthe sky is blue.</s>"
    assert shown["template"].startswith("plain")
    # Loss only on the answer and the end-of-sequence token that teaches the model to stop.
    answer = [t for t, m in zip(shown["input_ids"], shown["loss_mask"]) if m]
    assert tokenizer.decode(answer) == "the sky is blue. </s>" or tokenizer.decode(answer).replace(" ", "") == "theskyisblue.</s>"
    assert answer[-1] == tokenizer.eos_token_id and shown["loss_tokens"] == len(answer)
    assert shown["labels"][: shown["num_tokens"] - len(answer)] == [-100] * (shown["num_tokens"] - len(answer))
    everything = causal_lm.inspect_example(tokenizer, RECORD, lm_config(lm_dirs[0], completion_only_loss=False))
    assert everything["labels"] == everything["input_ids"] and everything["loss_tokens"] == everything["num_tokens"]


def test_the_plain_template_starts_with_the_bos_the_tokenizer_puts_before_a_text(tmp_path):
    """A base model without a chat template whose tokenizer starts every text with <s> (Llama 2's, Mistral's) read it
    first in all its pretraining; the plain template's text is tokenized without the tokenizer's special tokens, so it
    was trained, scored and asked without it (the inspector's first chip was '▁', not '<s>'). GPT-2's has none to add."""
    texts = [r["instruction"] + " " + r["output"] for r in make_instruction_records(40)]
    for family, start in (("mistral-base", "<s>###"), ("gpt2", "###")):
        config = lm_config(build_tiny_family(tmp_path / family, family, texts))
        tokenizer = causal_lm.load_tokenizer(config)
        shown = causal_lm.inspect_example(tokenizer, RECORD, config)
        assert shown["template"].startswith("plain") and shown["rendered"].startswith(start)
        assert (shown["tokens"][0] == tokenizer.bos_token) == (shown["tokens"].count("<s>") == 1) == (family == "mistral-base"), "the BOS first, once"
        prompt = causal_lm.render(tokenizer, RECORD["prompt"], tokenize=False, add_generation_prompt=True)
        assert prompt.startswith(start), "generation reads the prompt as training did"


def test_a_hybrid_reasoning_template_learns_and_shows_the_answer_alone(tmp_path):
    """Qwen3's template writes the last answer after an empty <think>\n\n</think>\n\n block, and puts that block in the
    generation prompt only with thinking off: rendered with thinking on, the block was learned as the answer's start
    (the inspector's first loss tokens were '<think>' 'Ċ' 'Ċ' '</think>') and, its tokens not being special, shown in
    the chat and scored as part of every answer. Thinking is now off: the block is the prompt's, at training and inference."""
    texts = [r["instruction"] + " " + r["output"] for r in make_instruction_records(40)]
    config = lm_config(build_tiny_family(tmp_path / "qwen3", "qwen3", texts))
    tokenizer = causal_lm.load_tokenizer(config)
    shown = causal_lm.inspect_example(tokenizer, RECORD, config)
    assert shown["rendered"].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\nthe sky is blue.<|im_end|>\n")
    assert [t for t, m in zip(shown["tokens"], shown["loss_mask"]) if m] == ["the", "Ġsky", "Ġis", "Ġblue", ".", "<|im_end|>", "Ċ"]
    prompt = causal_lm.render(tokenizer, RECORD["prompt"], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n") and shown["rendered"].startswith(prompt)


def test_models_own_chat_template_is_used(lm_dirs):
    config = lm_config(lm_dirs[1])
    tokenizer = causal_lm.load_tokenizer(config)
    shown = causal_lm.inspect_example(tokenizer, RECORD, config)
    assert not causal_lm.uses_plain_template(tokenizer) and shown["template"] == "the model's chat template"
    assert shown["rendered"] == "<|im_start|>user\nwhat colour is the sky?<|im_end|>\n<|im_start|>assistant\nthe sky is blue.<|im_end|>\n"
    loss_tokens = [tok for tok, m in zip(shown["tokens"], shown["loss_mask"]) if m]
    assert loss_tokens[0] == "the" and "<|im_end|>" in loss_tokens and "<|im_start|>" not in loss_tokens


def test_a_chat_template_that_refuses_a_conversation_says_what_to_do(lm_dirs):
    config = lm_config(lm_dirs[1])
    tokenizer = causal_lm.load_tokenizer(config)
    tokenizer.chat_template = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" + CHATML  # as Gemma's
    chat = {"prompt": [{"role": "system", "content": "be brief"}, *RECORD["prompt"]], "completion": RECORD["completion"]}
    refused = r"The model's chat template refused a conversation \(roles: system, user\): System role not supported\. Make the conversations fit it"
    with pytest.raises(DataError, match=refused):
        causal_lm.tokenize({"train": datasets.Dataset.from_list([chat])}, tokenizer, config)
    with pytest.raises(DataError, match=refused):
        causal_lm.generate_answers(causal_lm.build_model(config), tokenizer, [chat["prompt"]], max_new_tokens=2)


def test_answers_end_where_the_chat_template_ends_the_assistant_s_turn(lm_dirs, monkeypatch):
    """A base model given a chat template whose turns end with another token than its end of sequence (<|im_end|>
    here, </s> its end of sequence) went on past the turn's end into made-up turns, shown and scored as its answer."""
    config = lm_config(lm_dirs[1])
    tokenizer, model = causal_lm.load_tokenizer(config), causal_lm.build_model(config)
    end_of_turn = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert causal_lm.stop_token_ids(model, tokenizer) == [tokenizer.eos_token_id, end_of_turn]
    plain = lm_config(lm_dirs[0])
    assert causal_lm.stop_token_ids(causal_lm.build_model(plain), causal_lm.load_tokenizer(plain)) == [tokenizer.eos_token_id], "the plain template ends answers with </s>"

    def generate(input_ids, eos_token_id=None, **options):  # as transformers does: the first stop token ends the answer
        stop = eos_token_id or [model.generation_config.eos_token_id]
        goes_on = tokenizer("the sky is blue. <|im_end|> user what colour is the grass? <|im_end|>", add_special_tokens=False)["input_ids"]
        stops = [i for i, token in enumerate(goes_on) if token in stop]
        return torch.cat([input_ids, torch.tensor([goes_on[: stops[0] + 1] if stops else goes_on])], dim=1)

    monkeypatch.setattr(model, "generate", generate)
    assert causal_lm.generate_answers(model, tokenizer, [RECORD["prompt"]], max_new_tokens=20) == ["the sky is blue."]
    tokenizer.chat_template = CHATML.split("{% if add_generation_prompt")[0]  # ignores add_generation_prompt: the answer starts with <|im_start|>
    assert causal_lm.stop_token_ids(model, tokenizer) == [tokenizer.eos_token_id, end_of_turn], "not the header's <|im_start|>, which would end every answer at once"


def test_truncation_and_answers_cut_off(lm_dirs):
    config = lm_config(lm_dirs[0], max_seq_length=24)
    tokenizer = causal_lm.load_tokenizer(config)
    long_prompt = {"prompt": [{"role": "user", "content": "what colour is the sky? " * 4}], "completion": "blue."}
    shown = causal_lm.inspect_example(tokenizer, long_prompt, config)
    assert shown["truncated"] and shown["num_tokens"] == 24 and shown["loss_tokens"] == 0
    from finetuner.ui.render import token_summary

    assert "**left out of training**: the prompt fills max_length, so no token of the answer is left to learn" in token_summary(shown)
    assert "left out" not in token_summary(causal_lm.inspect_example(tokenizer, RECORD, config))
    split = datasets.Dataset.from_list([long_prompt, RECORD])
    stats = causal_lm.length_statistics({"train": split}, tokenizer, config)["train"]
    assert stats["answers_cut_off"] == 1 and stats["truncated"] >= 1
    features = causal_lm.tokenize({"train": split}, tokenizer, config)["train"]
    assert len(features) == 1, "an example whose whole answer is cut off teaches nothing and is dropped"
    whole_text = causal_lm.tokenize({"train": split}, tokenizer, config.replace(completion_only_loss=False))["train"]
    assert len(whole_text) == 1, "with the prompt in the loss too, an example without its answer is still left out, as the statistics count it"


@pytest.mark.parametrize("which", [0, 1], ids=["plain template", "chat template"])
def test_examples_encoded_in_one_batch_are_encoded_as_one_at_a_time(lm_dirs, which):
    """The length statistics encode a split's examples in one batch; each is what training's one-at-a-time encoding makes."""
    tokenizer = causal_lm.load_tokenizer(lm_config(lm_dirs[which]))
    prompts = [
        [{"role": "user", "content": "what colour is the sky? " * 4}],
        [{"role": "system", "content": "be brief"}, {"role": "user", "content": "add 2 and 3"}],
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "say it again"}],
    ]
    completions = ["blue.", "5", "hello hello"]
    for completion_only_loss in (True, False):
        one_by_one = [causal_lm.encode_example(tokenizer, p, c, max_length=24, completion_only_loss=completion_only_loss) for p, c in zip(prompts, completions)]
        assert causal_lm.encode_examples(tokenizer, prompts, completions, max_length=24, completion_only_loss=completion_only_loss) == one_by_one
    assert causal_lm.encode_examples(tokenizer, [], [], max_length=24, completion_only_loss=True) == []


def test_a_split_whose_every_answer_is_cut_off_is_refused_with_what_to_do(lm_dirs):
    config = lm_config(lm_dirs[0], max_seq_length=24)
    tokenizer = causal_lm.load_tokenizer(config)
    long_prompt = {"prompt": [{"role": "user", "content": "what colour is the sky? " * 4}], "completion": "blue."}
    splits = {"train": datasets.Dataset.from_list([RECORD]), "validation": datasets.Dataset.from_list([long_prompt, long_prompt])}
    with pytest.raises(DataError, match=r"None of the 2 example\(s\) of validation keeps any of its answer within max_seq_length 24.*Raise max_seq_length"):
        causal_lm.tokenize(splits, tokenizer, config)


GEMMA_LIKE = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" + CHATML


def test_the_check_before_a_run_finds_what_would_stop_it_by_encoding_a_few_examples(lm_dirs, monkeypatch):
    """A template's refusal of one conversation, or a split whose every answer is past max_seq_length, stopped the run
    once it had started, leaving a failed run. The check before the run finds both with the same message as the run's,
    encoding one example per sequence of roles (and, until one keeps its answer, each), not the whole data."""
    config = lm_config(lm_dirs[1], max_seq_length=24)
    tokenizer = causal_lm.load_tokenizer(config)
    tokenizer.chat_template = GEMMA_LIKE
    system = {"prompt": [{"role": "system", "content": "be brief"}, *RECORD["prompt"]], "completion": RECORD["completion"]}
    long_prompt = {"prompt": [{"role": "user", "content": "what colour is the sky? " * 4}], "completion": "blue."}
    encoded, encode = [], causal_lm.encode_example

    def counted(tokenizer, prompt, *args, **kwargs):
        encoded.append(prompt)
        return encode(tokenizer, prompt, *args, **kwargs)

    monkeypatch.setattr(causal_lm, "encode_example", counted)

    fine = {"train": datasets.Dataset.from_list([long_prompt, *[RECORD] * 300]), "validation": datasets.Dataset.from_list([RECORD] * 50)}
    causal_lm.check_tokenization(fine, tokenizer, config)
    assert len(encoded) == 3, "the long prompt, the first kept example of train, one example of validation: not 351"

    refused = {"train": datasets.Dataset.from_list([*[RECORD] * 40, system, *[RECORD] * 40])}
    with pytest.raises(DataError, match=r"chat template refused a conversation \(roles: system, user\): System role not supported"):
        causal_lm.check_tokenization(refused, tokenizer, config)
    encoded.clear()
    with pytest.raises(DataError, match=r"None of the 3 example\(s\) of validation keeps any of its answer within max_seq_length 24.*Raise max_seq_length"):
        causal_lm.check_tokenization({"train": fine["train"], "validation": datasets.Dataset.from_list([long_prompt] * 3)}, tokenizer, config)
    assert len(encoded) == 2 + 3, "train's two, then every example of validation: none keeps its answer"


def test_inspector_matches_what_the_trainer_trains_on(lm_dirs, tmp_path):
    config = lm_config(lm_dirs[0], per_device_train_batch_size=4, eval_strategy="no", max_steps=1)
    tokenizer = causal_lm.load_tokenizer(config)
    records = make_instruction_records(12)
    data = prepare_instruction_data(DataConfig(train_file=str(write_jsonl(tmp_path / "d.jsonl", records)), validation_split_ratio=0.2, test_split_ratio=0))
    features = causal_lm.tokenize(data.splits, tokenizer, config)
    trainer = causal_lm.build_trainer(config, model=causal_lm.build_model(config), tokenizer=tokenizer, train_dataset=features["train"], eval_dataset=None, output_dir=tmp_path / "out", callbacks=[])
    shown = causal_lm.inspect_example(tokenizer, data.splits["train"][0], config)
    fed = trainer.train_dataset[0]
    assert fed["input_ids"] == shown["input_ids"] and fed["labels"] == shown["labels"]


def test_evaluation_loss_is_the_exact_mean_per_token(lm_dirs, tmp_path):
    config = lm_config(lm_dirs[0], per_device_eval_batch_size=3)
    tokenizer = causal_lm.load_tokenizer(config)
    records = [{"prompt": [{"role": "user", "content": f"what colour is the {t}?"}], "completion": " ".join(["the", t, "is"] * (i + 1))} for i, t in enumerate(["sky", "grass", "snow", "coal", "apple"])]
    split = datasets.Dataset.from_list(records)
    features = causal_lm.tokenize({"validation": split}, tokenizer, config)["validation"]
    model = causal_lm.build_model(config)
    trainer = causal_lm.build_trainer(config, model=model, tokenizer=tokenizer, train_dataset=features, eval_dataset=None, output_dir=tmp_path / "out", callbacks=[], for_training=False)
    metrics = causal_lm.evaluate_split(trainer, features, split="validation", out_dir=tmp_path / "eval", prefix="eval", config=config.replace(generation_num_samples=0))
    by_hand = causal_lm.token_loss(model, [{"input_ids": r["input_ids"], "labels": r["labels"]} for r in features], pad_token_id=tokenizer.pad_token_id, batch_size=1)
    assert by_hand["tokens"] == sum(sum(label != -100 for label in r["labels"][1:]) for r in features)
    assert metrics["eval_loss"] == pytest.approx(by_hand["loss"], rel=1e-4), "batches of 3 + 2 uneven examples: a mean of batch means would differ"
    assert metrics["eval_perplexity"] == pytest.approx(math.exp(metrics["eval_loss"]))


def test_lora_trains_only_adapters_and_merges(lm_dirs, tmp_path):
    # float32: under bf16 the Trainer leaves the trained model's forward autocast, which the merged model is not
    config = lm_config(lm_dirs[0], use_lora=True, lora_r=4, lora_alpha=8, lora_dropout=0.0, learning_rate=1e-2, max_steps=3, eval_strategy="no", per_device_train_batch_size=4, warmup_steps=0, bf16=False)
    tokenizer = causal_lm.load_tokenizer(config)
    split = datasets.Dataset.from_list([RECORD] * 8)
    features = causal_lm.tokenize({"train": split}, tokenizer, config)["train"]
    trainer = causal_lm.build_trainer(config, model=causal_lm.build_model(config), tokenizer=tokenizer, train_dataset=features, eval_dataset=None, output_dir=tmp_path / "out", callbacks=[])
    peft_model = trainer.model
    trainable = {n for n, p in peft_model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert {n.split(".")[-3] for n in trainable} == {"lora_A", "lora_B"}  # ...q_proj.lora_A.default.weight
    before = {n: p.detach().clone() for n, p in peft_model.named_parameters()}
    trainer.train()
    changed = {n for n, p in peft_model.named_parameters() if not torch.equal(p.detach(), before[n])}
    assert changed and changed <= trainable, "base weights stay frozen"
    assert any("lora_B" in n for n in changed)
    inputs = tokenizer(["what colour is the sky?"], return_tensors="pt")
    peft_model.eval()
    with torch.no_grad():
        adapted = peft_model(**inputs).logits
    causal_lm.save_model(trainer, tokenizer, config, model_dir=tmp_path / "model", run_dir=tmp_path)
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    assert not any("lora" in n for n, _ in merged.named_parameters())
    with torch.no_grad():
        assert torch.allclose(merged(**inputs).logits, adapted, atol=1e-4), "the merged model answers as base + adapters did"


def test_causal_lm_options_and_defaults():
    config = RunConfig.from_dict({"task": "causal-lm", "use_lora": "true", "lora_target_modules": "q_proj, v_proj", "packing": "true"})
    assert config.model.model_name_or_path == "HuggingFaceTB/SmolLM2-135M-Instruct" and config.model.max_seq_length == 512
    assert config.model.lora_target_modules == ["q_proj", "v_proj"] and config.training.packing
    assert config.training.metric_for_best_model == "loss"
    for values, words in (
        ({"lora_r": 0}, "lora_r must be at least 1"),
        ({"lora_dropout": 1.5}, "lora_dropout must be between 0 and 1"),
        ({"metric_for_best_model": "rougeL"}, "not reported by the causal-lm task"),
        ({"generation_num_samples": -1}, "generation_num_samples must be 0 or more"),
    ):
        with pytest.raises(ConfigError, match=words):
            RunConfig.from_dict({"task": "causal-lm", **values})
    with pytest.raises(ConfigError, match="packing applies to the causal-lm task, not to seq2seq; turn it off or change the task"):
        RunConfig.from_dict({"task": "seq2seq", "packing": True})


def test_offline_default_and_wrong_model_kind(tiny_model_dir):
    with pytest.raises(ModelLoadError, match="hf download HuggingFaceTB/SmolLM2-135M-Instruct"):
        causal_lm.load_tokenizer(RunConfig.from_dict({"task": "causal-lm"}))
    with pytest.raises(ModelLoadError, match="needs a decoder-only language model"):
        causal_lm.build_model(RunConfig.from_dict({"task": "causal-lm", "model_name_or_path": str(tiny_model_dir)}))


def test_general_text_sample_is_bundled():
    lines = [line for line in causal_lm.GENERAL_TEXT.read_text().splitlines() if line.strip()]
    assert len(lines) == 30 and pd.Series(lines).str.split().str.len().sum() > 600


@pytest.mark.parametrize("asked", [{}, {"gradient_checkpointing": True}, {"activation_checkpointing": True}])
def test_checkpointing_is_the_user_s_choice_under_its_current_name(tmp_path, asked):
    """TRL turns activation checkpointing on by default and transformers 5 renamed gradient_checkpointing:
    off unless asked, asked under either name, and no deprecation warning at every run."""
    import warnings

    from finetuner.tasks.causal_lm import sft_arguments

    config = RunConfig.from_dict({"task": "causal-lm", "model_name_or_path": "lm", "train_file": "x.jsonl", **asked})
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        args = sft_arguments(config, tmp_path)
    assert args.activation_checkpointing is bool(asked)


def test_the_inspector_marks_the_loss_as_the_train_form_sets_it(lm_dirs, tmp_path):
    """The Data tab's inspector showed the answer alone in the loss even with the Train form's "Loss on the
    completion only" off, when training puts the prompt in the loss too."""
    from finetuner.ui import render, services

    data_file = write_jsonl(tmp_path / "d.jsonl", make_instruction_records(20))
    selection = services.make_selection(services.SOURCE_FILE, train_file=str(data_file), runs_dir=tmp_path / "runs", task="causal-lm")
    row = dict(services.prepared(selection).splits["train"][0])
    answer_only = services.inspect_row(selection, str(lm_dirs[0]), 64, row, runs_dir=tmp_path / "runs")
    everything = services.inspect_row(selection, str(lm_dirs[0]), 64, row, runs_dir=tmp_path / "runs", completion_only_loss=False)
    assert everything["loss_tokens"] == everything["num_tokens"] > answer_only["loss_tokens"] > 0
    assert "token(s) in the loss (the answer only: Loss on the completion only is on)" in render.token_summary(answer_only)
    assert "token(s) in the loss (prompt and answer: Loss on the completion only is off)" in render.token_summary(everything)


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"), [r["instruction"] + " " + r["output"] for r in make_instruction_records(40)])


def test_a_gpt2_folder_is_read_as_a_causal_lm(gpt2_dir):
    """GPT-2's class is GPT2LMHeadModel: `predict` read such a folder as a text classifier and gave it a new, random head."""
    from finetuner.inference import load_predictor, model_task

    assert model_task(str(gpt2_dir)) == "causal-lm"
    predictor = load_predictor(str(gpt2_dir))
    assert predictor.task == "causal-lm" and isinstance(predictor.generate(["what colour is the sky?"], max_new_tokens=3)[0], str)


def test_a_prompt_past_the_model_s_positions_keeps_its_end(gpt2_dir):
    """A prompt (or a prompt and its answer) longer than GPT-2's learned positions failed with "IndexError: index out of range in self"."""
    from finetuner.inference import load_predictor

    predictor = load_predictor(str(gpt2_dir))  # 64 positions
    long = "what colour is the sky? " * 20
    assert len(predictor.tokenizer(long)["input_ids"]) > 64
    assert [isinstance(a, str) for a in predictor.generate([long, "hi"], max_new_tokens=5)] == [True, True]
    assert isinstance(predictor.chat([{"role": "user", "content": long}], max_new_tokens=5), str)
    assert isinstance(predictor.generate(["what colour is the sky?"], max_new_tokens=60)[0], str)
    with pytest.raises(DataError, match=r"max_new_tokens 64 leaves no room for the prompt: the model reads at most 64 tokens, its answer included"):
        predictor.chat([{"role": "user", "content": "hi"}], max_new_tokens=64)


def test_the_packing_layout_is_what_trl_s_trainer_trains_on(lm_dirs, tmp_path):
    """With packing on, the inspector showed each example alone, when TRL's trainer joins examples end to end and
    cuts them into max_length sequences. The layout (`packed_sequences`, TRL's own `pack_dataset`) rebuilds every
    sequence the trainer holds, token for token: over 1,000 examples, so TRL's batch of 1,000 ends a sequence early."""
    config = lm_config(lm_dirs[0], packing=True, max_seq_length=24, per_device_train_batch_size=4, eval_strategy="no", max_steps=1)
    tokenizer = causal_lm.load_tokenizer(config)
    records = [{"prompt": [{"role": "user", "content": r["instruction"]}], "completion": r["output"]} for r in make_instruction_records(1030)]
    records[5] = {"prompt": [{"role": "user", "content": "what colour is the sky? " * 10}], "completion": "blue."}  # its prompt fills max_length: left out
    records[7]["completion"] = "the sky is blue and the grass is green and the snow is white."  # cut at max_length
    split = datasets.Dataset.from_list(records)
    features = causal_lm.tokenize({"train": split}, tokenizer, config)["train"]
    trainer = causal_lm.build_trainer(config, model=causal_lm.build_model(config), tokenizer=tokenizer, train_dataset=features, eval_dataset=None, output_dir=tmp_path / "out", callbacks=[])
    fed = trainer.train_dataset

    layout = causal_lm.packing_layout(split, tokenizer, config)
    assert len(layout["sequences"]) == len(fed) < len(features)
    tokens = {place: causal_lm.encode_example(tokenizer, list(split[place]["prompt"]), split[place]["completion"], max_length=24, completion_only_loss=True) for place in range(len(split))}
    for pieces, sequence in zip(layout["sequences"], fed):
        assert [t for name, start, end in pieces for t in tokens[name]["input_ids"][start:end]] == sequence["input_ids"]
        assert [t for name, start, end in pieces for t in tokens[name]["labels"][start:end]] == sequence["labels"]
    short = [len(s["input_ids"]) for s in fed][:-1]
    assert min(short) < 24, "TRL packs 1,000 examples at a time: the first thousand's last sequence is short"
    planned = estimate.trained_sequences([len(f["input_ids"]) for f in features], max_length=24, packing=True)
    assert planned == [len(s["input_ids"]) for s in fed], "the plan counts the sequences, and their lengths, that training packs"

    shown = causal_lm.packing_of(layout, 7)
    total = sum(len(t["input_ids"]) for place, t in tokens.items() if place != 5)
    assert shown["sequences"] == len(fed) and shown["tokens"] == total and shown["fill"] == pytest.approx(total / (len(fed) * 24))
    assert shown["strategy"] == "wrapped" and shown["attends_across"]
    landed = shown["landed"]
    assert landed and all(any(piece["example"] == 7 for piece in p["pieces"]) for p in landed)
    ours = [piece for p in landed for piece in p["pieces"] if piece["example"] == 7]
    assert len(landed) == 2 and (ours[0]["start"], ours[-1]["end"]) == (0, len(tokens[7]["input_ids"])) == (0, 24), "cut across two sequences"
    assert [p["pieces"][0]["example"] for p in landed] == [6, 7] and landed[1]["pieces"][-1]["example"] == 8, "its neighbours"
    first = landed[0]
    at = next(piece["at"] for piece in first["pieces"] if piece["example"] == 7)
    assert fed[first["sequence"]]["input_ids"][at : at + ours[0]["end"] - ours[0]["start"]] == tokens[7]["input_ids"][ours[0]["start"] : ours[0]["end"]]
    assert causal_lm.packing_of(layout, 5)["landed"] == [], "an example training leaves out lands nowhere"


@pytest.mark.parametrize(
    "extra, max_length",
    [
        ({"packing_strategy": "bfd"}, 48),
        ({"dataset_num_proc": 2}, 24),
        ({"packing_strategy": "bfd", "dataset_num_proc": 3, "shuffle_dataset": True}, 64),
    ],
)
def test_the_packing_layout_follows_bfd_and_dataset_num_proc(lm_dirs, tmp_path, extra, max_length):
    """A run may set `packing_strategy: bfd` or `dataset_num_proc` in its extra TrainingArguments. TRL then puts whole
    examples into sequences best fit first, and packs each of dataset_num_proc's shards apart (each ends in a sequence
    of its own); the plan counted "wrapped" sequences in batches of 1,000 whatever they said. The layout and the plan
    rebuild every sequence TRL's trainer holds, token for token, over 1,030 examples of varied lengths."""
    config = lm_config(lm_dirs[0], packing=True, max_seq_length=max_length, per_device_train_batch_size=4, eval_strategy="no", max_steps=1, extra_training_args=extra)
    tokenizer = causal_lm.load_tokenizer(config)
    records = [{"prompt": [{"role": "user", "content": r["instruction"]}], "completion": r["output"] + " and so on" * (i % 4)} for i, r in enumerate(make_instruction_records(1030))]
    split = datasets.Dataset.from_list(records)
    features = causal_lm.tokenize({"train": split}, tokenizer, config)["train"]
    trainer = causal_lm.build_trainer(config, model=causal_lm.build_model(config), tokenizer=tokenizer, train_dataset=features, eval_dataset=None, output_dir=tmp_path / "out", callbacks=[])
    fed = trainer.train_dataset
    strategy = extra.get("packing_strategy", "wrapped")
    assert trainer.args.packing_strategy == strategy and trainer.args.dataset_num_proc == extra.get("dataset_num_proc")

    layout = causal_lm.packing_layout(split, tokenizer, config)
    tokens = {place: causal_lm.encode_example(tokenizer, list(split[place]["prompt"]), split[place]["completion"], max_length=max_length, completion_only_loss=True) for place in range(len(split))}
    trained = sorted((tuple(s["input_ids"]), tuple(s["labels"])) for s in fed)  # the trainer shuffles the sequences again with shuffle_dataset
    shown = sorted((tuple(t for name, start, end in pieces for t in tokens[name]["input_ids"][start:end]), tuple(t for name, start, end in pieces for t in tokens[name]["labels"][start:end])) for pieces in layout["sequences"])
    assert shown == trained, "the layout's sequences are the trainer's, token for token"
    if not extra.get("shuffle_dataset"):
        assert [[t for name, start, end in pieces for t in tokens[name]["input_ids"][start:end]] for pieces in layout["sequences"]] == [s["input_ids"] for s in fed], "in its order"
    lengths = [len(f["input_ids"]) for f in features]
    planned = estimate.trained_sequences(lengths, max_length=max_length, packing=True, **estimate.packing_options(extra, seed=config.training.seed))
    fed_lengths = [len(s["input_ids"]) for s in fed]
    assert sorted(planned) == sorted(fed_lengths), "the plan counts the sequences, and their lengths, that training packs"
    if not extra.get("shuffle_dataset"):
        assert planned == fed_lengths, "in their order"
    assert sorted(estimate.trained_sequences(lengths, max_length=max_length, packing=True)) != sorted(fed_lengths), "the defaults make other sequences"

    shown = causal_lm.packing_of(layout, 3)
    assert shown["strategy"] == strategy and shown["sequences"] == len(fed)
    if strategy == "bfd":
        assert not shown["attends_across"] and len(shown["landed"]) == 1, "best fit never cuts an example"
        assert max(len(pieces) for pieces in layout["sequences"]) > 1, "and puts several in a sequence"
    else:
        assert shown["attends_across"]
