"""Token features the entity tagger reads beside the words themselves: word shape, and whether a token
sits inside a name from the packaged drug and disease dictionaries (longest match first)."""

from __future__ import annotations

from functools import lru_cache

from medmodels.literature.mesh import lookup_key, synonym_groups
from medmodels.literature.reading import ENTITY_TYPES
from medmodels.literature.text import OUTSIDE, Token, tokenize

MAX_MATCH_TOKENS = 6  # longer dictionary names are rare; each extra token costs a lookup per position
SHAPES = 16  # word_shape values


def word_shape(token: Token) -> int:
    """Four bits: all capitals (2+ letters), initial capital only, contains a digit, not alphanumeric."""
    text = token.text
    return (
        (text.isupper() and len(text) > 1) * 1
        + (text[:1].isupper() and not text.isupper()) * 2
        + any(c.isdigit() for c in text) * 4
        + (not text.isalnum()) * 8
    )


@lru_cache(maxsize=None)
def _first_words(kind: str) -> frozenset[str]:
    """The first token of every dictionary name: positions starting with anything else are skipped."""
    return frozenset(tokens[0].text for tokens in map(tokenize, synonym_groups(kind)) if tokens)


def dictionary_tags(text: str, tokens: list[Token]) -> list[str]:
    """BIO tags of the longest dictionary names found, chemicals first; a name needs at least one letter."""
    tags = [OUTSIDE] * len(tokens)
    for kind in ENTITY_TYPES:
        names, first_words = synonym_groups(kind), _first_words(kind)
        start = 0
        while start < len(tokens):
            if tokens[start].text.lower() not in first_words:
                start += 1
                continue
            length = next(
                (
                    n
                    for n in range(min(MAX_MATCH_TOKENS, len(tokens) - start), 0, -1)
                    if all(tag == OUTSIDE for tag in tags[start : start + n])
                    and any(c.isalpha() for c in text[tokens[start].start : tokens[start + n - 1].end])
                    and lookup_key(text[tokens[start].start : tokens[start + n - 1].end]) in names
                ),
                0,
            )
            if length:
                tags[start : start + length] = [f"B-{kind}"] + [f"I-{kind}"] * (length - 1)
            start += max(length, 1)
    return tags
