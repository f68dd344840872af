"""`predict_file` (the CLI's `predict --input_file` and the studio's batch prediction) on files in each task's
own training format: sentence pairs, NER words, chats and instruction/input records are read as training
reads them, and a file that cannot be read so says what it lacks.

The runs here are completed run folders holding a tiny untrained model: what is checked is what each model is
given, not how well it answers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from finetuner.cli import main
from finetuner.data import read_table
from finetuner.errors import DataError
from finetuner.inference import load_predictor, predict_file
from finetuner.tasks import causal_lm
from support import completed_run, save_seeded
from task_fixtures import CHATML, build_tiny_causal_lm, build_tiny_gpt2, build_tiny_t5, make_instruction_records, make_ner_records, make_summary_records, write_jsonl

NER_TAGS = ["O", "B-location", "I-location", "B-person", "I-person"]


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- sentence pairs


@pytest.fixture(scope="module")
def pair_run(tmp_path_factory, tiny_model_dir):
    report = {"text_columns": ["premise", "hypothesis"], "label_column": "label", "label_names": ["LABEL_0", "LABEL_1"]}
    return completed_run(tmp_path_factory.mktemp("pairs") / "runs", "pairs", task="text-classification", model_dir=tiny_model_dir, data_report=report)


PAIRS = pd.DataFrame({"premise": ["the film was great", "the plot was dull"], "hypothesis": ["the acting felt bland", "the cast was fun"]})


def test_a_pair_model_is_given_both_texts_of_each_pair(pair_run, tmp_path):
    predictor = load_predictor(pair_run.id, runs_dir=pair_run.path.parent)
    out = predict_file(predictor, write_csv(tmp_path / "pairs.csv", PAIRS), run=pair_run)
    both = predictor.predict(list(PAIRS["premise"]), list(PAIRS["hypothesis"]))
    alone = predictor.predict(list(PAIRS["premise"]))
    assert list(out["prob_LABEL_1"]) == pytest.approx([p["LABEL_1"] for p in both])
    assert list(out["prob_LABEL_1"]) != pytest.approx([p["LABEL_1"] for p in alone]), "the hypothesis changes what the model sees"
    # Other column names: both named, comma-separated.
    renamed = write_csv(tmp_path / "renamed.csv", PAIRS.rename(columns={"premise": "a", "hypothesis": "b"}))
    out = predict_file(predictor, renamed, text_column="a, b", run=pair_run)
    assert list(out["prob_LABEL_1"]) == pytest.approx([p["LABEL_1"] for p in both])


def test_cli_predict_writes_a_pair_models_predictions_of_both_texts(pair_run, tmp_path, capsys):
    code = main(["--runs_dir", str(pair_run.path.parent), "predict", "pairs", "--input_file", str(write_csv(tmp_path / "pairs.csv", PAIRS)), "--output_file", str(tmp_path / "out.csv")])
    assert code == 0 and "Wrote 2 predictions" in capsys.readouterr().out
    both = load_predictor(pair_run.id, runs_dir=pair_run.path.parent).predict(list(PAIRS["premise"]), list(PAIRS["hypothesis"]))
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns[:2]) == ["premise", "hypothesis"] and list(out["prob_LABEL_1"]) == pytest.approx([p["LABEL_1"] for p in both], abs=1e-6)


def test_cli_predict_gives_a_pair_model_the_text_pair_of_each_text(pair_run, capsys):
    runs = str(pair_run.path.parent)
    premises, hypotheses = list(PAIRS["premise"]), list(PAIRS["hypothesis"])
    code = main(["--runs_dir", runs, "predict", "pairs", premises[0], "--text_pair", hypotheses[0], premises[1], "--text_pair", hypotheses[1]])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    both = load_predictor(pair_run.id, runs_dir=runs).predict(premises, hypotheses)
    assert code == 0 and [(line["text"], line["text_pair"]) for line in lines] == list(zip(premises, hypotheses))
    assert [line["probabilities"]["LABEL_1"] for line in lines] == pytest.approx([p["LABEL_1"] for p in both])
    # A model folder (its pairs unknown to finetuner) takes them too.
    assert main(["predict", str(pair_run.model_dir), premises[0], "--text_pair", hypotheses[0]]) == 0
    assert json.loads(capsys.readouterr().out)["probabilities"]["LABEL_1"] == pytest.approx(both[0]["LABEL_1"])


@pytest.mark.parametrize(
    "args, words",
    [
        (["pairs", "the film was great"], "Run pairs was trained on sentence pairs ('premise' and 'hypothesis'): give each text's second text with --text_pair"),
        (["pairs", "a", "b", "--text_pair", "c"], "2 text(s) and 1 --text_pair value(s): give one --text_pair for each text, in the same order."),
        (["single", "a", "--text_pair", "b"], "Run single was trained on single texts (its column 'text'), not pairs: give its texts without --text_pair."),
        (["{runs}/pairs/model", "a premise"], "Run pairs was trained on sentence pairs"),  # its model folder, named by its path
        (["pairs", "--input_file", "pairs.csv", "--text_pair", "b"], "Give texts to predict on or --input_file, not both (a file gives both texts of its pairs"),
    ],
)
def test_cli_predict_says_how_to_give_pairs(pair_run, tiny_model_dir, capsys, args, words):
    runs = pair_run.path.parent
    if not (runs / "single").exists():
        completed_run(runs, "single", task="text-classification", model_dir=tiny_model_dir, data_report={"text_columns": ["text"], "label_column": "label"})
    assert main(["--runs_dir", str(runs), "predict", *[a.format(runs=runs) for a in args]]) == 2
    captured = capsys.readouterr()
    assert words in captured.err and captured.out == ""


def test_cli_predict_prints_a_files_predictions_as_json_lines_as_written(pair_run, tmp_path, capsys):
    data = write_csv(tmp_path / "pairs.csv", pd.DataFrame({"premise": ["un café délicieux"], "hypothesis": ["the cast was fun"]}))
    assert main(["--runs_dir", str(pair_run.path.parent), "predict", "pairs", "--input_file", str(data)]) == 0
    out = capsys.readouterr().out
    assert "un café délicieux" in out, "as typed texts' predictions print it, not as \\u00e9 escapes"
    assert [json.loads(line)["premise"] for line in out.splitlines()] == ["un café délicieux"], "one JSON line per row, no blank line"


@pytest.mark.parametrize("name", ["out.jsonl", "out.parquet", "out.tsv"])
def test_cli_predict_writes_the_format_the_output_files_extension_names(pair_run, tmp_path, capsys, name):
    data = write_csv(tmp_path / "pairs.csv", PAIRS)
    assert main(["--runs_dir", str(pair_run.path.parent), "predict", "pairs", "--input_file", str(data), "--output_file", str(tmp_path / name)]) == 0
    out = read_table(tmp_path / name)  # as --input_file reads it: predictions can be predicted on, or evaluated, again
    assert list(out.columns[:3]) == ["premise", "hypothesis", "predicted"] and list(out["premise"]) == list(PAIRS["premise"])


def test_a_pair_models_file_without_the_second_text_is_refused(pair_run, tmp_path):
    predictor = load_predictor(pair_run.id, runs_dir=pair_run.path.parent)
    with pytest.raises(DataError) as error:
        predict_file(predictor, write_csv(tmp_path / "premises.csv", PAIRS[["premise"]]), run=pair_run)
    assert "trained on sentence pairs ('premise' and 'hypothesis'), but 'premises.csv' has only 'premise'" in str(error.value)
    assert "Add the second text column, or name both text columns separated by a comma (premise,hypothesis)" in str(error.value)


# ---------------------------------------------------------------- NER


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory, tiny_model_dir):
    from transformers import AutoConfig, AutoTokenizer, BertForTokenClassification

    folder = tmp_path_factory.mktemp("tiny-ner-model")
    config = AutoConfig.from_pretrained(tiny_model_dir, num_labels=len(NER_TAGS), id2label=dict(enumerate(NER_TAGS)), label2id={t: i for i, t in enumerate(NER_TAGS)})
    save_seeded(BertForTokenClassification, config, folder)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(folder)
    report = {"text_columns": ["tokens"], "label_column": "ner_tags", "label_names": NER_TAGS}
    return completed_run(tmp_path_factory.mktemp("ner") / "runs", "ner", task="token-classification", model_dir=folder, data_report=report)


def test_ner_file_in_the_training_format_is_tagged_word_for_word(ner_run, tmp_path):
    records = make_ner_records(4, seed=3) + [{"tokens": ["st.", "louis", "visited", "u.s.a"], "ner_tags": ["O", "O", "O", "O"]}]
    data = write_jsonl(tmp_path / "ner_pred.jsonl", records)
    predictor = load_predictor(ner_run.id, runs_dir=ner_run.path.parent)
    expected = predictor.predict([r["tokens"] for r in records])
    for text_column in (None, "tokens"):
        out = predict_file(predictor, data, text_column=text_column, run=ner_run)
        assert [len(tags.split()) for tags in out["tags"]] == [len(r["tokens"]) for r in records], "one tag per word of the file"
        assert list(out["tags"]) == [" ".join(r["tags"]) for r in expected]
    # A file whose words column has another name, without a run: found by its name (words), read as words.
    out = predict_file(predictor, write_jsonl(tmp_path / "words.jsonl", [{"words": r["tokens"]} for r in records]))
    assert list(out["tags"]) == [" ".join(r["tags"]) for r in expected]


def test_cli_predict_refuses_a_text_pair_for_another_task(ner_run, capsys):
    assert main(["--runs_dir", str(ner_run.path.parent), "predict", "ner", "alice visited paris", "--text_pair", "x"]) == 2
    assert "--text_pair is for sentence-pair classification; 'ner' is a token-classification model. Give only its texts." in capsys.readouterr().err


@pytest.mark.parametrize("name, separator", [("out.csv", ","), ("out.tsv", "\t")])
def test_cli_predict_writes_a_files_word_lists_as_json_that_reads_back(ner_run, tmp_path, capsys, name, separator):
    """Lists in CSV/TSV cells were Python's repr (['EU', 'rejects']), which no other tool parses and which
    finetuner read back as words such as "['EU',"."""
    records = make_ner_records(3, seed=5)
    pd.DataFrame(records).to_parquet(tmp_path / "ner.parquet")  # whose lists pandas reads as numpy arrays
    assert main(["--runs_dir", str(ner_run.path.parent), "predict", "ner", "--input_file", str(tmp_path / "ner.parquet"), "--output_file", str(tmp_path / name)]) == 0
    written = pd.read_csv(tmp_path / name, sep=separator, keep_default_na=False)
    assert [json.loads(cell) for cell in written["tokens"]] == [r["tokens"] for r in records]
    assert [json.loads(cell) for cell in written["ner_tags"]] == [r["ner_tags"] for r in records]
    predictor = load_predictor(ner_run.id, runs_dir=ner_run.path.parent)
    again = predict_file(predictor, tmp_path / name, run=ner_run)  # the predictions file predicted on again: the same words
    assert list(again["tags"]) == list(written["tags"]) == [" ".join(r["tags"]) for r in predictor.predict([r["tokens"] for r in records])]


def test_ner_words_give_entities_with_offsets_into_the_joined_words(ner_run):
    predictor = load_predictor(ner_run.id, runs_dir=ner_run.path.parent)
    (result,) = predictor.predict([["st.", "louis", "u.s.a"]])
    assert result["text"] == "st. louis u.s.a" and result["words"] == ["st.", "louis", "u.s.a"]
    for entity in result["entities"]:
        assert result["text"][entity["start"] : entity["end"]] == entity["text"]


def test_ner_file_without_a_usable_column_says_what_was_looked_for(ner_run, tmp_path):
    predictor = load_predictor(ner_run.id, runs_dir=ner_run.path.parent)
    data = write_jsonl(tmp_path / "numbers.jsonl", [{"id": 1, "score": 0.5}, {"id": 2, "score": 0.7}])
    with pytest.raises(DataError) as error:
        predict_file(predictor, data, run=ner_run)
    message = str(error.value)
    assert message.startswith("No words or text column in 'numbers.jsonl': looked for the run's words column 'tokens'; a words column (tokens, words")
    assert "Its columns are: id, score." in message and "  " not in message


# ---------------------------------------------------------------- causal LM


@pytest.fixture(scope="module")
def chat_model_dir(tmp_path_factory):
    texts = [f"{r['instruction']} {r['output']}" for r in make_instruction_records(40)]
    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-chat"), texts, chat_template=CHATML)


@pytest.fixture
def asked(monkeypatch):
    """The conversations the causal LM is asked to answer (its answers: 'answer 0', 'answer 1', ...)."""
    seen: list = []

    def answers(model, tokenizer, prompts, **options):
        seen.extend(prompts)
        return [f"answer {i}" for i in range(len(prompts))]

    monkeypatch.setattr(causal_lm, "generate_answers", answers)
    return seen


CHATS = [
    {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "what colour is snow?"}, {"role": "assistant", "content": "white."}]},
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello."}, {"role": "user", "content": "what colour is coal?"}]},
]


def test_chat_file_asks_the_conversation_up_to_its_answer(tmp_path, chat_model_dir, asked):
    run = completed_run(tmp_path / "runs", "chat", task="causal-lm", model_dir=chat_model_dir, data_report={"text_columns": ["messages"], "source_format": "chat messages"})
    out = predict_file(load_predictor(run.id, runs_dir=run.path.parent), write_jsonl(tmp_path / "chat.jsonl", CHATS), run=run)
    assert asked == [CHATS[0]["messages"][:2], CHATS[1]["messages"]], "the answer training learns is left out; a conversation ending with the user is asked as it is"
    assert list(out["generated"]) == ["answer 0", "answer 1"]


def test_cli_predict_writes_chats_as_json_in_a_csv(tmp_path, chat_model_dir, asked, capsys):
    run = completed_run(tmp_path / "runs", "chat", task="causal-lm", model_dir=chat_model_dir, data_report={"text_columns": ["messages"], "source_format": "chat messages"})
    out_file = tmp_path / "out.csv"
    assert main(["--runs_dir", str(run.path.parent), "predict", "chat", "--input_file", str(write_jsonl(tmp_path / "chat.jsonl", CHATS)), "--output_file", str(out_file)]) == 0
    written = pd.read_csv(out_file, keep_default_na=False)
    assert [json.loads(cell) for cell in written["messages"]] == [chat["messages"] for chat in CHATS]
    assert list(written["generated"]) == ["answer 0", "answer 1"]


def test_instruction_file_keeps_the_input_as_training_does(tmp_path, chat_model_dir, asked):
    report = {"text_columns": ["instruction", "input"], "source_format": "instruction/input/output"}
    run = completed_run(tmp_path / "runs", "alpaca", task="causal-lm", model_dir=chat_model_dir, data_report=report)
    records = [{"instruction": "translate to french", "input": "the sky", "output": "le ciel"}, {"instruction": "name a colour", "input": "", "output": "red"}]
    out = predict_file(load_predictor(run.id, runs_dir=run.path.parent), write_jsonl(tmp_path / "alpaca.jsonl", records), run=run)
    assert asked == [[{"role": "user", "content": "translate to french\n\nthe sky"}], [{"role": "user", "content": "name a colour"}]]
    assert len(out) == 2
    # Without the answers, and without a run (a model folder): the same prompts, found by the training names.
    asked.clear()
    predict_file(load_predictor(str(run.model_dir)), write_csv(tmp_path / "questions.csv", pd.DataFrame(records)[["instruction", "input"]]))
    assert asked == [[{"role": "user", "content": "translate to french\n\nthe sky"}], [{"role": "user", "content": "name a colour"}]]


def test_cli_predict_asks_an_instruction_run_a_typed_question(tmp_path, chat_model_dir, asked, capsys):
    """Its two text columns (instruction, input) are no sentence pair: a question alone is what it takes."""
    report = {"text_columns": ["instruction", "input"], "source_format": "instruction/input/output"}
    run = completed_run(tmp_path / "runs", "alpaca", task="causal-lm", model_dir=chat_model_dir, data_report=report)
    assert main(["--runs_dir", str(run.path.parent), "predict", "alpaca", "name a colour"]) == 0
    assert asked == [[{"role": "user", "content": "name a colour"}]]
    assert main(["--runs_dir", str(run.path.parent), "predict", "alpaca", "name a colour", "--text_pair", "red"]) == 2
    assert "--text_pair is for sentence-pair classification; 'alpaca' is a causal-lm model." in capsys.readouterr().err


def test_causal_lm_file_without_a_prompt_column_says_what_was_looked_for(tmp_path, chat_model_dir, asked):
    predictor = load_predictor(str(chat_model_dir))
    with pytest.raises(DataError, match=r"No prompt column found among: id, score\. Looked for a chat column \(messages, .*\) and a prompt column \(prompt, instruction"):
        predict_file(predictor, write_csv(tmp_path / "numbers.csv", pd.DataFrame({"id": [1], "score": [2]})))


# ---------------------------------------------------------------- seq2seq


def test_seq2seq_file_uses_the_runs_document_column(tmp_path):
    records = make_summary_records(6)
    model_dir = build_tiny_t5(tmp_path / "t5", [r["document"] + " " + r["summary"] for r in records])
    run = completed_run(tmp_path / "runs", "summaries", task="seq2seq", model_dir=model_dir, data_report={"text_columns": ["body"], "label_column": "tldr"})
    frame = pd.DataFrame({"title": ["a", "b"], "body": [r["document"] for r in records[:2]]})
    predictor = load_predictor(run.id, runs_dir=run.path.parent)
    out = predict_file(predictor, write_csv(tmp_path / "docs.csv", frame), run=run)
    assert list(out["summary"]) == predictor.generate(list(frame["body"]))


def test_cli_predicts_a_summaries_file_with_the_generation_options_keeping_its_references(tmp_path, capsys):
    records = make_summary_records(6)
    model_dir = build_tiny_t5(tmp_path / "t5", [r["document"] + " " + r["summary"] for r in records])
    run = completed_run(tmp_path / "runs", "summaries", task="seq2seq", model_dir=model_dir, data_report={"text_columns": ["document"], "label_column": "summary"})
    data = write_jsonl(tmp_path / "test.jsonl", records[:3])  # the training format: documents with their reference summaries
    out_file = tmp_path / "out.csv"
    assert main(["--runs_dir", str(run.path.parent), "predict", "summaries", "--input_file", str(data), "--max_new_tokens", "2", "--output_file", str(out_file)]) == 0
    out = pd.read_csv(out_file, keep_default_na=False)
    predictor = load_predictor(run.id, runs_dir=run.path.parent)
    documents = [r["document"] for r in records[:3]]
    assert list(out.columns) == ["document", "file_summary", "summary"]
    assert list(out["file_summary"]) == [r["summary"] for r in records[:3]], "the references are kept, not replaced by the predictions"
    assert list(out["summary"]) == predictor.generate(documents, max_new_tokens=2) != predictor.generate(documents), "--max_new_tokens applies to a file too"


def test_cli_summarizes_with_beam_search_and_refuses_it_elsewhere(tmp_path, chat_model_dir, capsys):
    """`--num_beams`, the studio's beams, was an unknown option of `predict`."""
    records = make_summary_records(6)
    model_dir = build_tiny_t5(tmp_path / "t5", [r["document"] + " " + r["summary"] for r in records])
    run = completed_run(tmp_path / "runs", "summaries", task="seq2seq", model_dir=model_dir, data_report={"text_columns": ["document"], "label_column": "summary"})
    assert main(["--runs_dir", str(run.path.parent), "predict", "summaries", records[0]["document"], "--num_beams", "3", "--max_new_tokens", "4"]) == 0
    expected = load_predictor(run.id, runs_dir=run.path.parent).generate([records[0]["document"]], num_beams=3, max_new_tokens=4)[0]
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["summary"] == expected
    assert main(["--runs_dir", str(run.path.parent), "predict", "summaries", "a text", "--num_beams", "0"]) == 2
    assert "--num_beams must be 1 or more (1 is greedy decoding); it is 0." in capsys.readouterr().err
    completed_run(tmp_path / "runs", "chat", task="causal-lm", model_dir=chat_model_dir)
    assert main(["--runs_dir", str(run.path.parent), "predict", "chat", "hi", "--num_beams", "2"]) == 2
    assert "--num_beams applies to summarization (seq2seq) models; chat is a causal-lm model. Leave it out." in capsys.readouterr().err


def test_cli_predicts_a_prompts_file_with_the_sampling_options(tmp_path, chat_model_dir, monkeypatch, capsys):
    used: list = []
    monkeypatch.setattr(causal_lm, "generate_answers", lambda model, tokenizer, prompts, **options: used.append(options) or ["an answer"] * len(prompts))
    run = completed_run(tmp_path / "runs", "chat", task="causal-lm", model_dir=chat_model_dir, data_report={"text_columns": ["prompt"]})
    data = write_csv(tmp_path / "prompts.csv", pd.DataFrame({"prompt": ["what colour is snow?"]}))
    assert main(["--runs_dir", str(run.path.parent), "predict", "chat", "--input_file", str(data), "--max_new_tokens", "3", "--temperature", "0.7", "--top_p", "0.9"]) == 0
    assert used == [{"max_new_tokens": 3, "temperature": 0.7, "top_p": 0.9}]
    assert json.loads(capsys.readouterr().out.splitlines()[0]) == {"prompt": "what colour is snow?", "generated": "an answer"}


def test_an_empty_file_says_it_has_no_rows(pair_run, tmp_path):
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(DataError) as error:
        predict_file(load_predictor(pair_run.id, runs_dir=pair_run.path.parent), tmp_path / "empty.csv", run=pair_run)
    assert str(error.value) == "'empty.csv' is empty: it has no rows. Check that it is the right file, or save it again."


def test_summaries_refuse_a_num_beams_below_1(tmp_path):
    """It failed with "ZeroDivisionError: integer division or modulo by zero"."""
    records = make_summary_records(4)
    predictor = load_predictor(str(build_tiny_t5(tmp_path / "t5", [r["document"] + " " + r["summary"] for r in records])))
    with pytest.raises(DataError, match=r"num_beams must be 1 or more \(1 is greedy decoding\); it is 0\."):
        predictor.generate([records[0]["document"]], num_beams=0)


def test_generation_refuses_a_max_new_tokens_below_1(chat_model_dir):
    predictor = load_predictor(str(chat_model_dir))
    for value in (0, -3):
        with pytest.raises(DataError, match=f"max_new_tokens must be 1 or more .*; it is {value}"):
            predictor.generate(["hi"], max_new_tokens=value)


def test_a_classifier_without_a_padding_id_predicts_a_batch_as_it_predicts_each_text(tmp_path):
    """A classifier made from GPT-2 whose config and tokenizer name no padding (a Hub model not trained here):
    a batch of two texts stopped prediction ("Cannot handle batch sizes > 1 if no padding token is defined")."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    texts = ["a great film", "dull and far too long for what it is"]
    base = build_tiny_gpt2(tmp_path / "gpt2", texts, pad_token=False)
    classifier = AutoModelForSequenceClassification.from_pretrained(base, num_labels=2)
    assert classifier.config.pad_token_id is None
    classifier.save_pretrained(tmp_path / "classifier")
    AutoTokenizer.from_pretrained(base).save_pretrained(tmp_path / "classifier")
    predictor = load_predictor(str(tmp_path / "classifier"))
    batched = predictor.predict(texts)
    for together, alone in zip(batched, [predictor.predict([text])[0] for text in texts]):
        assert together == pytest.approx(alone, abs=1e-4)


def test_an_ner_files_preview_shows_its_words_as_text(ner_run, tmp_path):
    """Try it's preview of an NER file in the training format showed each row's words as the browser shows a list,
    joined by commas ('carol,smith,praised'): they read as the sentence, joined by spaces, each entity its words
    with their type ('carol smith [person]'), entities apart by '; '. The file written keeps the words a JSON list,
    which reads back as the training data's."""
    from finetuner.inference import write_predictions
    from finetuner.ui.tables import prediction_preview

    records = [{"tokens": ["carol", "smith", "praised", "rome", "last", "week"], "ner_tags": ["B-person", "I-person", "O", "B-location", "O", "O"]}]
    predictor = load_predictor(ner_run.id, runs_dir=ner_run.path.parent)
    predictor.tag_words = lambda sentences, **_: [[("B-person", 0.9), ("I-person", 0.9), ("O", 0.9), ("B-location", 0.8), ("O", 0.9), ("O", 0.9)] for _ in sentences]
    out = predict_file(predictor, write_jsonl(tmp_path / "ner.jsonl", records), run=ner_run)
    shown = prediction_preview(out).iloc[0]
    assert shown["tokens"] == "carol smith praised rome last week"
    assert shown["ner_tags"] == "B-person I-person O B-location O O"
    assert shown["entities"] == "carol smith [person]; rome [location]"
    assert shown["tags"] == "B-person I-person O B-location O O"
    write_predictions(out, tmp_path / "predictions.csv")
    written = pd.read_csv(tmp_path / "predictions.csv").iloc[0]
    assert (written["entities"], written["tags"]) == (shown["entities"], shown["tags"])
    assert json.loads(written["tokens"]) == records[0]["tokens"], "the file's own words: a JSON list, read back as a list"
