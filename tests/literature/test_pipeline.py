"""From raw text to findings: decoding, offsets, MeSH ids, pair scores against the threshold, explanations."""

import json

import numpy as np
import pytest
import torch

from medmodels.cards import CheckpointError
from medmodels.literature.pipeline import LiteratureModel, decode_batch, document_sentences, lexicon_path
from medmodels.literature.reading import Document, Mention
from medmodels.literature.text import TAGS
from tests.conftest import relist

DOCUMENT = Document(
    "42", "Lithium-induced tremor.", "Tremor and seizures appeared in rats given lithium. Captopril did nothing."
)
GOLD = Document(
    DOCUMENT.pmid,
    DOCUMENT.title,
    DOCUMENT.abstract,
    mentions=(
        Mention(0, 7, "Lithium", "Chemical", "D008094"),
        Mention(16, 22, "tremor", "Disease", "D014202"),
        Mention(24, 30, "Tremor", "Disease", "D014202"),
        Mention(35, 43, "seizures", "Disease", "D012640"),
        Mention(67, 74, "lithium", "Chemical", "D008094"),
        Mention(76, 85, "Captopril", "Chemical", "D002216"),
    ),
)


def test_decoding_never_starts_a_mention_with_an_inside_tag():
    logits = torch.full((4, len(TAGS)), -5.0)
    logits[0, TAGS.index("I-Disease")] = 5.0  # argmax would open with I-Disease
    logits[1, TAGS.index("I-Chemical")] = 5.0  # and switch type inside a mention
    logits[2, TAGS.index("O")] = 5.0
    logits[3, TAGS.index("B-Chemical")] = 5.0
    tags, shorter = decode_batch(torch.stack([logits, logits]), [4, 2])
    assert all(not (b.startswith("I-") and (a == "O" or a[2:] != b[2:])) for a, b in zip(["O"] + tags, tags))
    assert tags[2:] == ["O", "B-Chemical"]
    assert shorter == tags[:2]  # a shorter text in the batch is decoded over its own tokens only


def test_the_title_is_always_a_sentence_of_its_own():
    untidy = Document("1", "Lithium and tremor", "Tremor appeared. It stopped.")  # no full stop after the title
    assert document_sentences(untidy) == [(0, 18), (19, 35), (36, 47)]


def test_extraction_gives_mentions_whose_offsets_index_the_text(tiny_weights):
    model = LiteratureModel.load(tiny_weights)
    (extraction,) = model.extract([DOCUMENT])
    assert extraction.pmid == "42" and extraction.entities  # an untrained tagger still tags something
    for mention in extraction.entities:
        assert DOCUMENT.text[mention.start : mention.end] == mention.text and mention.type in ("Chemical", "Disease")


def test_pairs_of_annotated_mentions_are_scored_with_their_evidence_and_thresholded(tiny_weights):
    model = LiteratureModel.load(tiny_weights)
    (extraction,) = model.extract_prepared([model.prepare(GOLD)], gold_mentions=True)
    assert {(p.chemical, p.disease) for p in extraction.pairs} == {
        (c, d) for c in ("D008094", "D002216") for d in ("D014202", "D012640")
    }
    scores = [p.score for p in extraction.pairs]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    lithium_seizures = next(p for p in extraction.pairs if (p.chemical, p.disease) == ("D008094", "D012640"))
    assert (
        DOCUMENT.text[lithium_seizures.evidence_start : lithium_seizures.evidence_end]
        == "Tremor and seizures appeared in rats given lithium."
    )
    for pair in extraction.pairs:
        assert [c for c, _ in pair.probabilities] == ["co-mention", "induces", "treats"]
        assert sum(v for _, v in pair.probabilities) == pytest.approx(1.0, abs=1e-5)
    model.threshold = float(np.median(scores))
    assert model.relations(extraction) == [p for p in extraction.pairs if p.score >= model.threshold]


def test_induces_is_called_at_the_threshold_and_otherwise_the_likelier_of_treats_and_co_mention(tiny_weights):
    model = LiteratureModel.load(tiny_weights)
    model.threshold = 0.3
    assert model.relation_type({"co-mention": 0.2, "induces": 0.3, "treats": 0.5}) == "induces"
    assert model.relation_type({"co-mention": 0.2, "induces": 0.29, "treats": 0.51}) == "treats"
    assert model.relation_type({"co-mention": 0.51, "induces": 0.29, "treats": 0.2}) == "co-mention"


def test_a_model_reading_induces_over_treats_calls_a_likelier_treatment_treats_at_any_threshold(tiny_weights):
    model = LiteratureModel.load(tiny_weights)
    model.model.config.induces_over_treats = True
    model.threshold = 0.15
    assert model.relation_type({"co-mention": 0.1, "induces": 0.2, "treats": 0.7}) == "treats"
    assert model.relation_type({"co-mention": 0.5, "induces": 0.3, "treats": 0.2}) == "induces"
    (extraction,) = model.extract_prepared([model.prepare(GOLD)], gold_mentions=True)
    # The relations the CID scores count are the pairs the rule reads as induces, at any threshold asked for.
    for threshold in (0.0, 0.15, 0.5):
        assert model.relations(extraction, threshold) == [
            p for p in extraction.pairs if p.score >= threshold and p.score >= p.probability("treats")
        ]


def test_an_explanation_covers_the_evidence_sentence_and_matches_the_pair_score(tiny_weights):
    model = LiteratureModel.load(tiny_weights)
    (extraction,) = model.extract_prepared([model.prepare(GOLD)], gold_mentions=True)
    pair = next(p for p in extraction.pairs if (p.chemical, p.disease) == ("D008094", "D012640"))
    explanation = model.explain(GOLD, list(GOLD.mentions), "D008094", "D012640")
    assert explanation.tokens == ["Tremor", "and", "seizures", "appeared", "in", "rats", "given", "lithium", "."]
    assert explanation.attention.shape == (2, 2, 9, 9) and explanation.attribution.shape == (9,)
    assert explanation.relation == "induces" and explanation.probability == pytest.approx(pair.score, abs=1e-5)
    treats = model.explain(GOLD, list(GOLD.mentions), "D008094", "D012640", "treats")
    assert treats.probability == pytest.approx(pair.probability("treats"), abs=1e-5)
    assert not np.allclose(treats.attribution, explanation.attribution)  # each class explained on its own
    assert all(p.grad is None for p in model.model.parameters())  # explaining leaves no gradients behind
    with pytest.raises(ValueError, match="not both mentioned"):
        model.explain(GOLD, list(GOLD.mentions), "D008094", "D000001")


def test_a_lexicon_that_does_not_fit_the_weights_is_refused(tiny_weights):
    path = lexicon_path(tiny_weights)
    lexicon = json.loads(path.read_text())
    path.write_text(json.dumps({**lexicon, "words": lexicon["words"][:-1]}))
    relist(tiny_weights, "literature.cdr")
    with pytest.raises(CheckpointError, match="expects 6"):
        LiteratureModel.load(tiny_weights)
    path.write_text("{not json")
    relist(tiny_weights, "literature.cdr")
    with pytest.raises(CheckpointError, match="malformed"):
        LiteratureModel.load(tiny_weights)


def test_extractions_come_back_in_the_order_documents_were_given(tiny_weights, monkeypatch):
    from medmodels.literature import pipeline

    monkeypatch.setattr(pipeline, "BATCH_SIZE", 2)  # several batches, each sorted by length
    model = LiteratureModel.load(tiny_weights)
    documents = [Document(str(i), f"Title {i}.", "Lithium " * (7 - i) + "tremor.") for i in range(5)]
    together = model.extract(documents)
    assert [e.pmid for e in together] == ["0", "1", "2", "3", "4"]
    for batched, alone in zip(
        together, (model.extract([document])[0] for document in documents)
    ):  # batching changes nothing
        assert batched.entities == alone.entities
        assert [p.score for p in batched.pairs] == pytest.approx([p.score for p in alone.pairs], abs=1e-5)
    assert model.extract([]) == []
