"""Multilingual encoder-decoders (mBART cc25, mBART-50, NLLB; tiny random-weight models built here, see task_fixtures)
with source_lang and target_lang: the inspector's tokens and the training labels carry the language codes, generation
starts with the target code as training does (cc25: the decoder starts with it; mBART-50 and NLLB: it is forced
first), and the saved run, Try it, the card's snippet and the demo Space's app all write in the target language
without the languages being entered again. A code the tokenizer lacks, or a language for a model that has none, is
refused before a run exists; a multilingual model without languages is warned about."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from finetuner import hub
from finetuner.card import CardOptions, build_card
from finetuner.cli import main
from finetuner.config import RunConfig
from finetuner.estimate import language_warning
from finetuner.inference import load_predictor
from finetuner.runs import find_run
from finetuner.tasks import seq2seq
from task_fixtures import MULTILINGUAL_SEQ2SEQ, build_tiny_seq2seq, make_summary_records, write_jsonl

LANGUAGES = {"mbart": ("de_DE", "fr_XX"), "mbart-50": ("de_DE", "fr_XX"), "nllb": ("deu_Latn", "fra_Latn")}
# What the decoder reads first in training, and so what generation must write first: cc25 starts it with the target
# code (its labels end with it); mBART-50 and NLLB start it with </s> and the labels with the code.
STARTS = {"mbart": lambda target: [target], "mbart-50": lambda target: ["</s>", target], "nllb": lambda target: ["</s>", target]}
OPTIONS = {"max_seq_length": 24, "max_target_length": 12, "generation_max_new_tokens": 5, "learning_rate": 5e-3, "num_train_epochs": 1,
           "per_device_train_batch_size": 8, "per_device_eval_batch_size": 1, "logging_steps": 1, "warmup_steps": 0}


def _train(tmp_path, model_dir, records, *extra: str) -> int:
    argv = [f"--{k}={v}" for k, v in OPTIONS.items()]
    return main(["train", "--task", "seq2seq", "--model_name_or_path", str(model_dir), "--train_file", str(write_jsonl(tmp_path / "d.jsonl", records)),
                 "--output_dir", str(tmp_path / "runs/run"), *argv, *extra])


@pytest.mark.parametrize("family", MULTILINGUAL_SEQ2SEQ)
def test_languages_mark_the_texts_and_generation_starts_in_the_target_language(family, tmp_path, capsys, monkeypatch):
    records = make_summary_records(24)
    model_dir = build_tiny_seq2seq(family, tmp_path / "model", [r["document"] for r in records])
    source, target = LANGUAGES[family]
    config = RunConfig.from_dict({"task": "seq2seq", "model_name_or_path": str(model_dir), **OPTIONS, "source_lang": source, "target_lang": target})

    # The Data tab's inspector: the document carries the source code, the summary the target code (and not the default).
    inspected = seq2seq.inspect_example(seq2seq.load_tokenizer(config), records[0], config)
    default = "en_XX" if family.startswith("mbart") else "eng_Latn"
    assert source in inspected["tokens"] and target not in inspected["tokens"] and default not in inspected["tokens"], inspected["tokens"]
    assert target in inspected["target_tokens"] and source not in inspected["target_tokens"], inspected["target_tokens"]

    assert _train(tmp_path, model_dir, records, "--source_lang", source, "--target_lang", target) == 0
    err = capsys.readouterr().err
    assert "source_lang and target_lang are empty" not in err, err
    run = find_run(tmp_path / "runs", "run")
    assert run.config().model.source_lang == source and run.config().model.target_lang == target

    # Try it on the finished run: no languages entered, the saved tokenizer and generation config carry them.
    predictor = load_predictor(str(run.path))
    tokenizer, model = predictor.tokenizer, predictor.model
    inputs = tokenizer(["the cat won ."], return_tensors="pt")
    assert source in tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    generated = tokenizer.convert_ids_to_tokens(model.generate(**inputs, max_new_tokens=3)[0])
    starts = STARTS[family](target)
    assert generated[: len(starts)] == starts, f"generation starts {generated}"
    # ... as training started the decoder: the collator's decoder inputs of the run's own batch
    trainer = seq2seq.build_trainer(config, model=model, tokenizer=tokenizer, train_dataset=None, eval_dataset=None, output_dir=tmp_path / "t", callbacks=[], for_training=False)
    features = [{k: v[0] for k, v in seq2seq._encode({"document": [r["document"]], "summary": [r["summary"]]}, tokenizer, config).items()} for r in records[:2]]
    batch = trainer.data_collator(features)
    if "decoder_input_ids" not in batch:  # M2M100 (NLLB) shifts the labels itself, after the decoder start token
        from transformers.models.m2m_100.modeling_m2m_100 import shift_tokens_right

        batch["decoder_input_ids"] = shift_tokens_right(batch["labels"], model.config.pad_token_id, model.config.decoder_start_token_id)
    assert tokenizer.convert_ids_to_tokens(batch["decoder_input_ids"][0])[: len(starts)] == starts
    assert target in tokenizer.convert_ids_to_tokens([t for t in batch["labels"][0].tolist() if t >= 0])

    generations = pd.read_csv(run.eval_dir / "generations_test.csv", keep_default_na=False)
    documents = list(generations["document"])
    assert predictor.generate(documents, batch_size=1) == list(generations["generated"]), "Try it writes what the evaluation wrote"

    # The card's snippet names the languages and writes what Try it writes; the demo Space's app too.
    snippet = build_card(run, CardOptions(repo_id="alice/tiny-translator"), images=False).text.split("```python\n", 1)[1].split("```", 1)[0]
    assert f"src_lang={source!r}, tgt_lang={target!r}" in snippet
    printed: list[str] = []
    code = snippet.replace('"alice/tiny-translator"', repr(str(run.model_dir))).replace("print(", "printed.append(")
    for document in documents[:2]:
        example = snippet.split("inputs = tokenizer(", 1)[1].split(", truncation", 1)[0]
        exec(compile(code.replace(example, repr(document)), "card-snippet", "exec"), {"printed": printed})
    assert [p.strip() for p in printed] == list(generations["generated"])[:2]
    app_file = tmp_path / "space" / "app.py"
    app_file.parent.mkdir()
    app_file.write_text(hub.render_demo_app("alice/tiny-translator", title="t", examples=[], pipeline_tag="summarization", languages={"src_lang": source, "tgt_lang": target}))
    assert f"LANGUAGES = {{'src_lang': {source!r}, 'tgt_lang': {target!r}}}" in app_file.read_text()
    monkeypatch.setenv("MODEL_ID", str(run.model_dir))
    spec = importlib.util.spec_from_file_location(f"language_space_{family.replace('-', '_')}", app_file)
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    assert [app.predict(d).strip() for d in documents[:2]] == list(generations["generated"])[:2]


def test_a_code_the_tokenizer_lacks_is_refused_with_codes_it_knows(tmp_path, capsys):
    records = make_summary_records(12)
    model_dir = build_tiny_seq2seq("mbart-50", tmp_path / "model", [r["document"] for r in records])
    assert _train(tmp_path, model_dir, records, "--source_lang", "en_XX", "--target_lang", "fra_Latn") == 2
    err = capsys.readouterr().err
    assert "target_lang 'fra_Latn' is not a language code of the tokenizer" in err and "it knows 52 codes, such as ar_AR, cs_CZ, de_DE" in err, err
    assert not (tmp_path / "runs").exists()


def test_a_language_for_a_model_without_languages_is_refused(tmp_path, capsys):
    records = make_summary_records(12)
    model_dir = build_tiny_seq2seq("marian", tmp_path / "model", [r["document"] for r in records])
    assert _train(tmp_path, model_dir, records, "--target_lang", "fr_XX") == 2
    err = capsys.readouterr().err
    assert "target_lang 'fr_XX' given, but the tokenizer of" in err and "marks no language" in err, err
    assert "only multilingual ones (mBART, mBART-50, NLLB, M2M100) read language codes" in err, err


@pytest.mark.parametrize("family", MULTILINGUAL_SEQ2SEQ)
def test_the_multilingual_table_is_what_the_tokenizers_do(family, tmp_path):
    """One table (seq2seq.MULTILINGUAL_TOKENIZERS) says which tokenizers mark languages, their default code and a few
    others, for the estimate's warning, which reads only the saved tokenizer_config.json: each family's default is what
    its tokenizer marks texts with when no language is given, and its examples are codes the tokenizer knows."""
    from transformers import AutoTokenizer

    records = make_summary_records(4)
    model_dir = build_tiny_seq2seq(family, tmp_path / "model", [r["document"] for r in records])
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    known = seq2seq.language_family(type(tokenizer).__name__)
    assert known is not None and known.default == tokenizer.src_lang
    assert {known.default, *known.examples} <= set(seq2seq.language_codes(tokenizer))
    warning = language_warning(RunConfig.from_dict({"task": "seq2seq", "model_name_or_path": str(model_dir)}))
    assert f"such as {known.default}, {', '.join(known.examples)})" in warning and f"both are marked {known.default}" in warning


def test_a_multilingual_model_without_languages_is_warned_about(tmp_path, capsys):
    """Nothing said that an mBART-50 run without languages marks every document and summary en_XX."""
    records = make_summary_records(12)
    model_dir = build_tiny_seq2seq("mbart-50", tmp_path / "model", [r["document"] for r in records])
    config = RunConfig.from_dict({"task": "seq2seq", "model_name_or_path": str(model_dir)})
    assert "is multilingual (MBart50Tokenizer" in language_warning(config)
    assert language_warning(RunConfig.from_dict({"task": "seq2seq", "model_name_or_path": str(model_dir), "source_lang": "de_DE"})) is None
    assert _train(tmp_path, model_dir, records, "--max_steps", "1") == 0
    err = capsys.readouterr().err
    assert err.count("source_lang and target_lang are empty") == 2, err  # before training and with the outcome


def test_the_inspector_marks_the_languages_the_train_form_sets(tmp_path):
    """The Data tab's inspector reads the Train form's languages; the cached tokenizer goes back to its own after."""
    from finetuner.ui import services

    records = make_summary_records(12)
    model_dir = build_tiny_seq2seq("nllb", tmp_path / "model", [r["document"] for r in records])
    selection = services.make_selection(services.SOURCE_FILE, train_file=str(write_jsonl(tmp_path / "d.jsonl", records)), runs_dir=tmp_path / "runs", task="seq2seq")
    row = dict(services.prepared(selection).splits["train"][0])
    marked = services.inspect_row(selection, str(model_dir), 32, row, runs_dir=tmp_path / "runs", source_lang="deu_Latn", target_lang="fra_Latn")
    assert marked["tokens"][0] == "deu_Latn" and marked["target_tokens"][0] == "fra_Latn"
    plain = services.inspect_row(selection, str(model_dir), 32, row, runs_dir=tmp_path / "runs")
    assert plain["tokens"][0] == "eng_Latn" and plain["target_tokens"][0] == "eng_Latn"


def test_the_train_tab_shows_the_languages_for_seq2seq_only():
    from finetuner.ui.training_tab import visible_options

    assert all(visible_options("seq2seq")[name] for name in ("source_lang", "target_lang", "forced_bos_token"))
    assert not any(visible_options("causal-lm")[name] for name in ("source_lang", "target_lang", "forced_bos_token"))


def test_forced_bos_token_sets_the_first_generated_token(tmp_path):
    """As run_translation.py's --forced_bos_token: the token generation writes first, whatever the labels start with."""
    from transformers import AutoModelForSeq2SeqLM

    from finetuner.errors import ConfigError

    model_dir = build_tiny_seq2seq("mbart", tmp_path / "model", [r["document"] for r in make_summary_records(12)])
    config = RunConfig.from_dict({"task": "seq2seq", "model_name_or_path": str(model_dir), "target_lang": "fr_XX", "forced_bos_token": "de_DE"})
    tokenizer, model = seq2seq.load_tokenizer(config), AutoModelForSeq2SeqLM.from_pretrained(model_dir)
    seq2seq.build_trainer(config, model=model, tokenizer=tokenizer, train_dataset=None, eval_dataset=None, output_dir=tmp_path / "t", callbacks=[], for_training=False)
    generated = tokenizer.convert_ids_to_tokens(model.generate(**tokenizer(["the cat won ."], return_tensors="pt"), max_new_tokens=2)[0])
    assert generated[:2] == ["fr_XX", "de_DE"], generated  # cc25: the decoder starts with the target code, then the forced token
    with pytest.raises(ConfigError, match="forced_bos_token 'xx_YY' is not a token of the tokenizer"):
        seq2seq.forced_first_token(tokenizer, RunConfig.from_dict({"task": "seq2seq", "model_name_or_path": str(model_dir), "forced_bos_token": "xx_YY"}))


def test_two_visitors_inspecting_with_other_languages_each_see_their_own_codes(tmp_path):
    """The studio shares one cached tokenizer between requests, and marking texts changes it (its src_lang and tgt_lang,
    and the switch to target mode for a summary): a visitor's inspection that set other languages while another's was
    tokenizing showed the other visitor's codes. Here visitor B inspects with other languages at the moment A's
    summary is being tokenized; each must see their own codes."""
    import threading

    from finetuner.ui import services

    records = make_summary_records(12)
    model_dir = build_tiny_seq2seq("nllb", tmp_path / "model", [r["document"] for r in records])
    selection = services.make_selection(services.SOURCE_FILE, train_file=str(write_jsonl(tmp_path / "d.jsonl", records)), runs_dir=tmp_path / "runs", task="seq2seq")
    row = dict(services.prepared(selection).splits["train"][0])
    shared = services.tokenizer(str(model_dir), "seq2seq")
    seen: dict[str, dict] = {}
    b_done = threading.Event()

    def visitor_b():
        seen["b"] = services.inspect_row(selection, str(model_dir), 32, row, runs_dir=tmp_path / "runs", source_lang="spa_Latn", target_lang="ita_Latn")
        b_done.set()

    switch = type(shared)._switch_to_target_mode
    started: list[threading.Thread] = []

    def switch_while_b_inspects(self=shared):
        if threading.current_thread() is threading.main_thread() and not started:
            started.append(threading.Thread(target=visitor_b))
            started[0].start()
            b_done.wait(timeout=1)  # B runs through here where nothing keeps it out
        return switch(shared)

    shared._switch_to_target_mode = switch_while_b_inspects
    try:
        seen["a"] = services.inspect_row(selection, str(model_dir), 32, row, runs_dir=tmp_path / "runs", source_lang="deu_Latn", target_lang="fra_Latn")
        started[0].join(timeout=60)
    finally:
        del shared._switch_to_target_mode
    assert (seen["a"]["tokens"][0], seen["a"]["target_tokens"][0]) == ("deu_Latn", "fra_Latn"), (seen["a"]["tokens"][:2], seen["a"]["target_tokens"][:2])
    assert (seen["b"]["tokens"][0], seen["b"]["target_tokens"][0]) == ("spa_Latn", "ita_Latn"), (seen["b"]["tokens"][:2], seen["b"]["target_tokens"][:2])
