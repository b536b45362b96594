"""Candidate chemical-disease pairs: which pairs are scored, the sentence offered as evidence, and how
relation logits read as class probabilities."""

import torch
import torch.nn.functional as F

from medmodels.literature.relations import (
    CUE_FEATURES,
    NOT_INDUCES,
    PAIR_FEATURES,
    Entity,
    candidate_pairs,
    pair_index,
    relation_loss,
    relation_probabilities,
)
from medmodels.literature.text import tokenize

TEXT = "Lithium therapy and tremor. Lithium caused tremor and seizures in rats. Captopril was given later."
TOKENS = tokenize(TEXT)
SENTENCES = [(0, 27), (28, 71), (72, len(TEXT))]


def _at(word: str, occurrence: int = 0) -> int:
    return [i for i, t in enumerate(TOKENS) if t.text == word][occurrence]


def _entity(word: str, kind: str, mesh: str, occurrence: int = 0) -> Entity:
    return Entity(_at(word, occurrence), _at(word, occurrence) + 1, kind, mesh)


ENTITIES = [
    _entity("Lithium", "Chemical", "D008094"),
    _entity("tremor", "Disease", "D014202"),
    _entity("Lithium", "Chemical", "D008094", 1),
    _entity("tremor", "Disease", "D014202", 1),
    _entity("seizures", "Disease", "D012640"),
    _entity("Captopril", "Chemical", "D002216"),
    _entity("rats", "Disease", "-1"),  # unresolved: forms no pair
]


def test_every_resolved_chemical_pairs_with_every_resolved_disease_once():
    pairs = candidate_pairs(TOKENS, SENTENCES, ENTITIES, title_end=27)
    assert sorted((p.chemical, p.disease) for p in pairs) == [
        ("D002216", "D012640"),
        ("D002216", "D014202"),
        ("D008094", "D012640"),
        ("D008094", "D014202"),
    ]
    assert all(len(p.features) == PAIR_FEATURES + CUE_FEATURES for p in pairs)


def test_a_disease_mention_normalised_to_a_chemicals_id_forms_no_pair_with_that_chemical():
    misread = [*ENTITIES, _entity("therapy", "Disease", "D008094")]  # "lithium therapy" read as lithium itself
    pairs = {(p.chemical, p.disease) for p in candidate_pairs(TOKENS, SENTENCES, misread, title_end=27)}
    assert ("D008094", "D008094") not in pairs and ("D002216", "D008094") in pairs


def test_evidence_is_the_sentence_holding_both_closest_together_else_the_diseases_sentence():
    pairs = {(p.chemical, p.disease): p for p in candidate_pairs(TOKENS, SENTENCES, ENTITIES, title_end=27)}
    lithium_tremor = pairs["D008094", "D014202"]
    first, end = lithium_tremor.evidence
    assert (TOKENS[first].start, TOKENS[end - 1].end) == (
        28,
        71,
    )  # "Lithium caused tremor": 1 token apart, not 2 as in the title
    assert lithium_tremor.features[2:4] == (1.0, 1.0)  # both in the title
    captopril_seizures = pairs["D002216", "D012640"]
    first, end = captopril_seizures.evidence
    assert (TOKENS[first].start, TOKENS[end - 1].end) == (28, 71) and captopril_seizures.features[
        6
    ] == 1.0  # no shared sentence
    assert captopril_seizures.shared_tokens == ()
    assert set(lithium_tremor.chemical_tokens) == {_at("Lithium"), _at("Lithium", 1)}


def test_pair_masks_mark_each_sides_tokens_in_the_padded_batch():
    pairs = candidate_pairs(TOKENS, SENTENCES, ENTITIES, title_end=27)
    index = pair_index([[], pairs], length=len(TOKENS) + 3)
    assert index.rows.tolist() == [1] * len(pairs) and index.chemical.shape == (len(pairs), len(TOKENS) + 3)
    assert index.chemical[0].nonzero().flatten().tolist() == sorted(pairs[0].chemical_tokens)
    assert index.shared[:, len(TOKENS) :].sum() == 0


def test_a_one_type_scorer_reads_as_a_sigmoid_and_its_loss_as_binary_cross_entropy():
    logits = torch.tensor([[-1.0], [0.5], [2.0]])
    probabilities = relation_probabilities(logits)
    torch.testing.assert_close(probabilities[:, 1], torch.sigmoid(logits[:, 0]))
    torch.testing.assert_close(probabilities.sum(1), torch.ones(3))
    labels = torch.tensor([1, NOT_INDUCES, 0])
    expected = F.binary_cross_entropy_with_logits(logits[:, 0], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(relation_loss(logits, labels), expected)


def test_a_pair_not_annotated_as_induced_may_be_a_treatment_or_a_co_mention():
    logits = torch.tensor([[0.3, 1.2], [-0.4, 0.1]])  # induces, treats; co-mention's logit is 0
    probabilities = relation_probabilities(logits)
    loss = relation_loss(logits, torch.tensor([NOT_INDUCES, 2]))
    expected = -(torch.log(probabilities[0, 0] + probabilities[0, 2]) + torch.log(probabilities[1, 2])) / 2
    torch.testing.assert_close(loss, expected)


def test_cue_features_say_how_the_sentence_links_the_pair():
    def cues(text, chemical, disease):
        tokens = tokenize(text)
        at = lambda word: next(i for i, t in enumerate(tokens) if t.text == word)
        entities = [
            Entity(at(chemical), at(chemical) + 1, "Chemical", "C"),
            Entity(at(disease), at(disease) + 1, "Disease", "D"),
        ]
        (pair,) = candidate_pairs(tokens, [(0, len(text))], entities, len(text))
        return dict(
            zip(["causal", "therapeutic", "negation", "x_induced", "treated_with"], pair.features[PAIR_FEATURES:])
        )

    assert cues("Cisplatin-induced nephrotoxicity in children.", "Cisplatin", "nephrotoxicity") == {
        "causal": 1.0,
        "therapeutic": 0.0,
        "negation": 0.0,
        "x_induced": 1.0,
        "treated_with": 0.0,
    }
    assert cues("Patients were treated with captopril for hypertension.", "captopril", "hypertension") == {
        "causal": 0.0,
        "therapeutic": 1.0,
        "negation": 0.0,
        "x_induced": 0.0,
        "treated_with": 1.0,
    }
    assert cues("Lithium did not cause tremor.", "Lithium", "tremor")["negation"] == 1.0
