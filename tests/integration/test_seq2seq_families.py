"""Summarization across encoder-decoder families (tiny random-weight models built here, see task_fixtures): each
trains through the CLI with its loss falling; evaluation generates and scores; the predictor, the model card's
snippet and the evaluation's generations give the same summaries; training pads labels with -100 and generation
starts the decoder as training did; the estimate counts the model's own parameters."""

from __future__ import annotations

import pandas as pd
import pytest

from finetuner.cli import main
from finetuner.config import RunConfig
from finetuner.estimate import count_parameters
from finetuner.inference import load_predictor
from finetuner.runs import find_run
from finetuner.tasks import seq2seq
from task_fixtures import SEQ2SEQ_FAMILIES, build_tiny_seq2seq, make_summary_records, write_jsonl

T5_FAMILIES = ("t5", "t5-v1.1", "umt5")


@pytest.mark.parametrize("family", SEQ2SEQ_FAMILIES)
def test_family_trains_and_every_way_of_summarizing_agrees(family, tmp_path, capsys):
    from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer, GenerationConfig

    records = make_summary_records(64)
    model_dir = build_tiny_seq2seq(family, tmp_path / "model", [r["document"] for r in records] + ["summarize :"])
    if family == "bart":  # a base model trained before with a prefix keeps it in its config: this run's has none
        base = AutoConfig.from_pretrained(model_dir)
        base.prefix = "summarize: "
        base.save_pretrained(model_dir)
    prefix = "summarize: " if family in T5_FAMILIES else ""
    options = {"max_seq_length": 20, "max_target_length": 12, "generation_max_new_tokens": 6, "learning_rate": 5e-3, "num_train_epochs": 2,
               "per_device_train_batch_size": 8, "per_device_eval_batch_size": 1, "logging_steps": 1, "warmup_steps": 0}
    argv = [f"--{k}={v}" for k, v in options.items()] + ["--source_prefix", prefix]
    code = main(["train", "--task", "seq2seq", "--model_name_or_path", str(model_dir), "--train_file", str(write_jsonl(tmp_path / "d.jsonl", records)),
                 "--output_dir", str(tmp_path / "runs/run"), *argv])
    err = capsys.readouterr().err
    assert code == 0 and "source_prefix is empty" not in err, err
    run = find_run(tmp_path / "runs", "run")
    losses = [e["metrics"]["loss"] for e in run.events() if e["type"] == "log" and "loss" in e["metrics"]]
    assert sum(losses[-3:]) < 0.8 * sum(losses[:3]), losses
    evals = [e["metrics"] for e in run.events() if e["type"] == "eval"]
    assert evals and all({"eval_rougeL", "eval_bleu", "eval_gen_len"} <= set(m) for m in evals)

    generations = pd.read_csv(run.eval_dir / "generations_test.csv", keep_default_na=False)
    documents = list(generations["document"])
    predictor = load_predictor(str(run.path))
    assert predictor.source_prefix == prefix, "the run's own prefix, not the base model's"
    summaries = predictor.generate(documents, batch_size=1)  # one at a time, as Try it: no padding to tell them apart by rounding
    assert summaries == list(generations["generated"]), "Try it summarizes a test document as the evaluation did"
    tokenizer, model = AutoTokenizer.from_pretrained(run.model_dir), AutoModelForSeq2SeqLM.from_pretrained(run.model_dir)
    snippet = []  # the model card's usage snippet (and the demo Space), as written there
    for document in documents:
        inputs = tokenizer(prefix + document, truncation=True, return_tensors="pt")
        snippet.append(tokenizer.decode(model.generate(**inputs, max_new_tokens=options["generation_max_new_tokens"])[0], skip_special_tokens=True).strip())
    assert snippet == summaries, "the Hub snippet reads as much of each document, and decodes as Try it does"
    saved = GenerationConfig.from_pretrained(run.model_dir)  # what the snippet and the demo Space generate with
    assert (saved.num_beams or 1) == 1 and not saved.min_length and saved.max_new_tokens == 6, "greedy, as evaluation and Try it; bart-large-cnn's 56 tokens at least are gone"

    config = RunConfig.from_dict({"task": "seq2seq", "model_name_or_path": str(run.model_dir), **options, "source_prefix": prefix})
    short, long = {"document": "the cat won .", "summary": "."}, {"document": records[0]["document"], "summary": records[0]["document"]}
    features = [{k: v[0] for k, v in seq2seq._encode({"document": [r["document"]], "summary": [r["summary"]]}, tokenizer, config).items()} for r in (short, long)]
    trainer = seq2seq.build_trainer(config, model=model, tokenizer=tokenizer, train_dataset=None, eval_dataset=None, output_dir=tmp_path / "t", callbacks=[], for_training=False)
    batch = trainer.data_collator(features)
    assert (batch["labels"][0] == -100).any() and not (batch["labels"] == tokenizer.pad_token_id).any(), "padding is left out of the loss"
    started = model.generate(input_ids=batch["input_ids"][:1], attention_mask=batch["attention_mask"][:1], max_new_tokens=1)[0, 0]
    assert started == batch["decoder_input_ids"][0, 0], f"generation starts with {tokenizer.convert_ids_to_tokens(int(started))}, training with {tokenizer.convert_ids_to_tokens(int(batch['decoder_input_ids'][0, 0]))}"
    inspected = seq2seq.inspect_example(tokenizer, long, config)
    assert inspected["rendered"].startswith(prefix + long["document"][:5]) and inspected["target_tokens"][-1] in tokenizer.all_special_tokens
    assert count_parameters(str(model_dir)).total == sum(p.numel() for p in AutoModelForSeq2SeqLM.from_pretrained(model_dir).parameters())


def test_leds_decoder_positions_bound_the_summaries(tmp_path, capsys):
    """LED reads 16,384 document positions but writes 1,024 (here 256 and 64): the summaries' lengths were checked
    against the encoder's, so generation_max_new_tokens 100 passed, and an evaluation whose summary ran past the
    decoder's 64 positions failed the run (IndexError). Now `train` refuses it before a run exists and names them."""
    records = make_summary_records(24)
    model_dir = build_tiny_seq2seq("led", tmp_path / "model", [r["document"] for r in records])
    code = main(["--runs_dir", str(tmp_path / "runs"), "train", "--task", "seq2seq", "--model_name_or_path", str(model_dir), "--train_file", str(write_jsonl(tmp_path / "d.jsonl", records)),
                 "--max_seq_length", "200", "--generation_max_new_tokens", "100", "--num_train_epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "generation_max_new_tokens 100 is longer than" in err and "its decoder has positions for 64 tokens" in err, err
    assert not (tmp_path / "runs").exists()


def test_an_mbart_model_saved_without_a_decoder_start_is_read_from_its_language_code(tmp_path):
    """An mBART model that names no decoder start token (mbart-large-cc25, or a run saved before generation started
    as training does): Try it generated from <s>, a start the fine-tuned decoder never saw; it starts with en_XX."""
    records = make_summary_records(12)
    predictor = load_predictor(str(build_tiny_seq2seq("mbart", tmp_path / "model", [r["document"] for r in records])))
    started = predictor.model.generate(**predictor.tokenizer(["the cat won ."], return_tensors="pt"), max_new_tokens=1)[0, 0]
    assert predictor.tokenizer.convert_ids_to_tokens(int(started)) == "en_XX"


def test_t5_without_its_summarization_prefix_is_warned_about(tmp_path, capsys):
    """t5-small names 'summarize: ' in config.json: a run without a source prefix trained it on bare documents, and
    nothing said so. `train` now warns, before training and again with the outcome."""
    records = make_summary_records(24)
    model_dir = build_tiny_seq2seq("t5", tmp_path / "model", [r["document"] for r in records])
    code = main(["--runs_dir", str(tmp_path / "runs"), "train", "--task", "seq2seq", "--model_name_or_path", str(model_dir), "--train_file", str(write_jsonl(tmp_path / "d.jsonl", records)),
                 "--max_seq_length", "32", "--max_target_length", "12", "--generation_max_new_tokens", "4", "--max_steps", "2"])
    err = capsys.readouterr().err
    assert code == 0 and err.count("names 'summarize: ' as its summarization prefix") == 2 and "Set source_prefix to 'summarize: '" in err, err
