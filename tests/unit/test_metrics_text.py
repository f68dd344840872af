"""Entity F1, ROUGE and BLEU against values worked out by hand from their definitions."""

from __future__ import annotations

import math

import pytest

from finetuner.errors import DataError
from finetuner.metrics_text import bleu_score, entity_intervals, entity_metrics, entity_spans, generation_metrics, perplexity, rouge_intervals, rouge_per_example, rouge_scores

TRUE = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-PER"]]
PREDICTED = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O", "O"]]


def test_entity_scores_count_whole_entities():
    # True entities: PER(0-2), LOC(3) | ORG(0), PER(2) = 4. Predicted: PER(0-2), ORG(3) | ORG(0) = 3.
    # Exact matches (type, start and end): PER(0-2) and ORG(0) = 2.
    m = entity_metrics(TRUE, PREDICTED)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 4)
    assert m["f1"] == pytest.approx(4 / 7)  # 2PR / (P + R) = (2/3) / (7/6)
    assert m["accuracy"] == pytest.approx(5 / 7)  # words: 3 of 4 right, then 2 of 3
    assert (m["true_entities"], m["predicted_entities"]) == (4, 3)
    per_type = {row["type"]: row for row in m["per_type"]}
    assert per_type["PER"] == {"type": "PER", "precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert per_type["ORG"] == {"type": "ORG", "precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 1}
    assert per_type["LOC"] == {"type": "LOC", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_entity_intervals_resample_sentences_as_seqeval_would_score_them():
    """The same interval as a plain bootstrap that scores each resample of the sentences with seqeval."""
    import numpy as np
    from seqeval.metrics import f1_score

    rng = np.random.default_rng(3)
    true, predicted = TRUE * 60, [list(p) for p in PREDICTED * 60]
    for sentence in rng.choice(len(predicted), 40, replace=False):  # some sentences get every entity right
        predicted[sentence] = list(true[sentence])
    rows = rng.integers(0, len(true), (500, len(true)))
    resampled = [f1_score([true[i] for i in r], [predicted[i] for i in r]) for r in rows]
    found = entity_intervals(true, predicted)
    assert found["f1"] == pytest.approx(np.percentile(resampled, [2.5, 97.5]), abs=0.015)
    scores = entity_metrics(true, predicted)
    assert all(low <= scores[name] <= high for name, (low, high) in found.items()) and set(found) == {"precision", "recall", "f1", "accuracy"}


def test_a_partly_found_entity_is_wrong():
    m = entity_metrics([["B-LOC", "I-LOC"]], [["B-LOC", "O"]])
    assert m["f1"] == 0.0 and m["accuracy"] == 0.5


def test_entity_conventions_follow_conlleval():
    # An I- tag after O starts an entity; a change of type inside a run starts a new one.
    assert entity_spans(["O", "I-PER", "I-PER", "B-LOC", "I-ORG"]) == [("PER", 1, 3), ("LOC", 3, 4), ("ORG", 4, 5)]


def test_iobes_and_bilou_tags_make_the_same_entities():
    """Two one-word persons, then a two-word location, in each scheme; BILOU's U- and L- were not read as
    entity tags (the two persons made one entity of two words, the first location vanished)."""
    iobes = ["S-PER", "S-PER", "B-LOC", "E-LOC", "B-LOC", "E-LOC"]
    bilou = ["U-PER", "U-PER", "B-LOC", "L-LOC", "B-LOC", "L-LOC"]
    expected = [("PER", 0, 1), ("PER", 1, 2), ("LOC", 2, 4), ("LOC", 4, 6)]
    assert entity_spans(iobes) == entity_spans(bilou) == expected
    found = entity_metrics([bilou], [["U-PER", "O", "B-LOC", "L-LOC", "O", "O"]])
    assert (found["true_entities"], found["predicted_entities"]) == (4, 2)
    assert (found["precision"], found["recall"]) == (1.0, 0.5)


def test_entity_inputs_must_line_up():
    with pytest.raises(DataError, match="Sentence 0 has 2 true tags but 1 predicted"):
        entity_metrics([["O", "O"]], [["O"]])


def test_rouge_by_hand():
    # Unigrams: 5 of 6 shared (the x2, cat, on, mat); bigrams: 3 of 5 (the cat, on the, the mat);
    # longest common subsequence: "the cat on the mat", 5 of 6.
    scores = rouge_scores(["the cat sat on the mat"], ["the cat is on the mat"])
    assert scores["rouge1"] == pytest.approx(5 / 6)
    assert scores["rouge2"] == pytest.approx(3 / 5)
    assert scores["rougeL"] == pytest.approx(5 / 6)
    assert scores["rougeLsum"] == pytest.approx(5 / 6)


def test_rouge_is_the_mean_over_examples_and_ignores_case_and_punctuation():
    scores = rouge_scores(["The Cat!", "dog"], ["the cat", "bird"])
    assert scores["rouge1"] == pytest.approx((1.0 + 0.0) / 2)


def test_rouge_reads_words_of_every_script():
    """rouge-score keeps [a-z0-9] alone: a perfect Russian or Greek summary scored 0, a Chinese one too."""
    assert rouge_scores(["Кошка сидит на ковре."], ["Кошка сидит на ковре."])["rouge1"] == 1.0
    assert rouge_scores(["Η γάτα κάθεται."], ["Ο σκύλος τρέχει."])["rouge1"] == 0.0, "no word in common"
    chinese = rouge_scores(["猫坐在垫子上"], ["猫在垫子上"])  # 6 and 5 characters, 5 in common, in order
    assert chinese["rouge1"] == pytest.approx(2 * 5 / 11) and chinese["rougeL"] == pytest.approx(2 * 5 / 11)
    assert rouge_scores(["Die Größe ändert sich."], ["Die Größe bleibt."])["rouge1"] == pytest.approx(2 * 2 / 7)


def test_rouge_of_english_is_rouge_score_s_own():
    from rouge_score import rouge_scorer

    pairs = [
        ("The cats were running_fast, aren't they? 3.5% more!", "A cat runs fast; they are 3.5 percent faster."),
        ("State-of-the-art models summarize well.\nThey generalize.", "Models summarise state of the art papers. They generalise!"),
        ("", "an empty prediction"),
    ]
    own = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    for prediction, reference in pairs:
        scores = rouge_per_example([prediction], [reference])
        expected = own.score(reference.replace(". ", ".\n").replace("! ", "!\n").replace("? ", "?\n"), prediction.replace(". ", ".\n").replace("! ", "!\n").replace("? ", "?\n"))
        assert {k: v[0] for k, v in scores.items()} == pytest.approx({k: v.fmeasure for k, v in expected.items()})


def test_rouge_intervals_bootstrap_the_mean_over_examples():
    import numpy as np

    rng = np.random.default_rng(5)
    words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran"]
    references = [" ".join(rng.choice(words, 6)) for _ in range(80)]
    generated = [" ".join(rng.choice(words, 5)) for _ in range(80)]
    per_example = rouge_per_example(generated, references)
    assert np.mean(per_example["rougeL"]) == pytest.approx(rouge_scores(generated, references)["rougeL"])
    values = np.array(per_example["rougeL"])
    resampled = [values[rows].mean() for rows in rng.integers(0, 80, (2000, 80))]
    found = rouge_intervals(per_example)
    assert set(found) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}
    assert found["rougeL"] == pytest.approx(np.percentile(resampled, [2.5, 97.5]), abs=0.01)
    assert found["rougeL"][0] < values.mean() < found["rougeL"][1]


def test_bleu_by_hand():
    # Candidate longer than the reference: n-gram precisions 6/7, 5/6, 4/5, 3/4, no brevity penalty.
    assert bleu_score(["the cat sat on the mat today"], ["the cat sat on the mat"]) == pytest.approx(100 * (3 / 7) ** 0.25, abs=0.01)
    # Candidate shorter: every precision is 1, brevity penalty exp(1 - 7/6).
    assert bleu_score(["the cat sat on the mat"], ["the cat sat on the mat today"]) == pytest.approx(100 * math.exp(1 - 7 / 6), abs=0.01)
    assert bleu_score(["a b c d"], ["a b c d"]) == pytest.approx(100.0)


def test_generation_metrics_and_perplexity():
    metrics = generation_metrics(["the cat sat on the mat"], ["the cat is on the mat"])
    assert set(metrics) == {"rouge1", "rouge2", "rougeL", "rougeLsum", "bleu", "gen_words"} and metrics["gen_words"] == 6
    assert perplexity(math.log(20)) == pytest.approx(20)
    assert perplexity(1e6) == math.inf
    with pytest.raises(DataError, match="one reference per text"):
        rouge_scores(["a"], ["a", "b"])
