"""The literature model's contract: token inputs in; tag logits, relation logits and self-attention maps out; padding inert."""

import pytest
import torch

from medmodels.literature.models import (
    CHARACTERS,
    MAX_WORD_CHARS,
    PAD,
    UNKNOWN,
    CdrModel,
    collate,
    encode_batch,
)
from medmodels.literature.relations import Entity, candidate_pairs, pair_index
from medmodels.literature.text import TAGS, tokenize
from tests.literature.conftest import tiny_config

VOCABULARY = {"doxorubicin": 2, "induced": 3, "cardiomyopathy": 4, "in": 5, "rats": 6}
TEXTS = ["Doxorubicin-induced cardiomyopathy in rats.", "Zzzyxin " + "a" * 30 + " in rats."]


@pytest.fixture
def model() -> CdrModel:
    torch.manual_seed(0)
    return CdrModel(tiny_config(7)).eval()


def _encode(texts):
    return encode_batch(texts, [tokenize(t) for t in texts], VOCABULARY)


def _pairs(texts, length):
    """One pair per text: its first token a chemical, its second-to-last a disease."""
    found = []
    for text in texts:
        tokens = tokenize(text)
        entities = [Entity(0, 1, "Chemical", "C1"), Entity(len(tokens) - 2, len(tokens) - 1, "Disease", "D1")]
        found.append(candidate_pairs(tokens, [(0, len(text))], entities, len(text)))
    return pair_index(found, length)


def test_encoding_maps_words_characters_shapes_and_dictionary_matches():
    batch = _encode(TEXTS)
    assert batch.words.shape == batch.spelling_ids.shape == (2, 7) and batch.spellings.shape[1] == MAX_WORD_CHARS
    # Each token's spelling row holds its characters (the first 20 of a long word); "in" and "rats" are stored once.
    spelled = [
        "".join(CHARACTERS[i - 2] for i in row if i != PAD)
        for row in batch.spellings[batch.spelling_ids.flatten()].tolist()
    ]
    assert spelled[:7] == ["Doxorubicin", "-", "induced", "cardiomyopathy", "in", "rats", "."]
    assert spelled[7:12] == ["Zzzyxin", "a" * MAX_WORD_CHARS, "in", "rats", "."] and spelled[12:] == ["", ""]
    assert (
        len(batch.spelling_texts) == len(set(batch.spelling_texts)) == 10
    )  # the padding's empty spelling, then 9 words
    assert batch.words[0].tolist() == [2, UNKNOWN, 3, 4, 5, 6, UNKNOWN]  # "-" and "." have no vector
    assert batch.words[1, :2].tolist() == [UNKNOWN, UNKNOWN] and batch.words[1, 5:].tolist() == [PAD, PAD]
    assert TAGS[batch.dictionary[0, 0]] == "B-Chemical" and TAGS[batch.dictionary[0, 3]] == "B-Disease"
    assert batch.shapes[0, 0] == 2 and batch.shapes[0, 1] == 8  # initial capital; punctuation
    with pytest.raises(ValueError, match="at least one token"):
        encode_batch(["..."], [[]], VOCABULARY)


def test_texts_encoded_one_by_one_collate_into_the_batch_encoded_together():
    together, one_by_one = _encode(TEXTS), collate([_encode([text]) for text in TEXTS])
    for field in ("words", "shapes", "dictionary"):
        torch.testing.assert_close(getattr(one_by_one, field), getattr(together, field))
    torch.testing.assert_close(one_by_one.spellings[one_by_one.spelling_ids], together.spellings[together.spelling_ids])
    assert one_by_one.spelling_texts == together.spelling_texts


def test_model_returns_tag_logits_per_token_a_logit_per_pair_and_attention_rows_that_sum_to_one(model):
    batch = _encode(TEXTS)
    tags, relations, maps = model(batch, _pairs(TEXTS, 7), return_attention=True)
    assert tags.shape == (2, 7, len(TAGS)) and relations.shape == (2, 2) and len(maps) == 2  # induces, treats
    for weights in maps:
        assert weights.shape == (2, 2, 7, 7)
        torch.testing.assert_close(weights.sum(dim=-1), torch.ones(2, 2, 7))
        assert torch.all(weights[1, :, :, 5:] == 0)  # the second text's two padded tokens are never attended
    assert model(batch)[1].shape == (0, 2)  # no pairs given, no relation logits


def test_padding_never_changes_a_texts_tags_or_its_pair_scores(model):
    longer = TEXTS[0] + " More words follow in this longer sentence."
    tags_alone, relation_alone = model(_encode(TEXTS[:1]), _pairs(TEXTS[:1], 7))
    tags_beside, relation_beside = model(_encode([TEXTS[0], longer]), _pairs([TEXTS[0], longer], len(tokenize(longer))))
    torch.testing.assert_close(tags_beside[:1, : tags_alone.shape[1]], tags_alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(relation_beside[:1], relation_alone, atol=1e-5, rtol=0)


def test_every_parameter_learns(model):
    model.train()
    tags, relations = model(_encode(TEXTS), _pairs(TEXTS, 7))
    (tags.sum() + relations.sum()).backward()
    assert [name for name, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0] == []
