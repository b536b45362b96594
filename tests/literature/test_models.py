"""The entity tagger's contract: token inputs in, tag logits and self-attention maps out, padding inert."""

import pytest
import torch

from medmodels.literature.models import MAX_WORD_CHARS, PAD, UNKNOWN, EncoderConfig, EntityTagger, encode_batch
from medmodels.literature.text import TAGS, tokenize

VOCABULARY = {"doxorubicin": 2, "induced": 3, "cardiomyopathy": 4, "in": 5, "rats": 6}
TEXTS = ["Doxorubicin-induced cardiomyopathy in rats.", "Zzzyxin " + "a" * 30 + " in rats."]


@pytest.fixture
def tagger() -> EntityTagger:
    torch.manual_seed(0)
    return EntityTagger(EncoderConfig(vocabulary_size=7, word_dim=8, char_dim=4, char_filters=6, feature_dim=2, hidden=16, layers=2, heads=2)).eval()


def _encode(texts):
    return encode_batch(texts, [tokenize(t) for t in texts], VOCABULARY)


def test_encoding_maps_words_characters_shapes_and_dictionary_matches():
    batch = _encode(TEXTS)
    assert batch.words.shape == (2, 7) and batch.chars.shape == (2, 7, MAX_WORD_CHARS)
    assert batch.words[0].tolist() == [2, UNKNOWN, 3, 4, 5, 6, UNKNOWN]  # "-" and "." have no vector
    assert batch.words[1, :2].tolist() == [UNKNOWN, UNKNOWN] and batch.words[1, 5:].tolist() == [PAD, PAD]
    assert TAGS[batch.dictionary[0, 0]] == "B-Chemical" and TAGS[batch.dictionary[0, 3]] == "B-Disease"
    assert batch.shapes[0, 0] == 2 and batch.shapes[0, 1] == 8  # initial capital; punctuation
    with pytest.raises(ValueError, match="at least one token"):
        encode_batch(["..."], [[]], VOCABULARY)


def test_tagger_returns_logits_per_token_and_attention_rows_that_sum_to_one(tagger):
    batch = _encode(TEXTS)
    logits, maps = tagger(batch, return_attention=True)
    assert logits.shape == (2, 7, len(TAGS)) and len(maps) == 2
    for weights in maps:
        assert weights.shape == (2, 2, 7, 7)
        torch.testing.assert_close(weights.sum(dim=-1), torch.ones(2, 2, 7))
        assert torch.all(weights[1, :, :, 5:] == 0)  # the second text's two padded tokens are never attended


def test_padding_never_changes_a_texts_tags(tagger):
    alone = tagger(_encode(TEXTS[:1]))
    beside_a_longer_text = tagger(_encode([TEXTS[0], TEXTS[0] + " More words follow in this longer sentence."]))
    torch.testing.assert_close(beside_a_longer_text[:1, : alone.shape[1]], alone, atol=1e-5, rtol=0)


def test_every_parameter_learns(tagger):
    tagger.train()
    tagger(_encode(TEXTS)).sum().backward()
    assert [name for name, p in tagger.named_parameters() if p.grad is None or p.grad.abs().sum() == 0] == []
