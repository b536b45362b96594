"""Token features the entity tagger reads beside the words themselves: word shape, and whether a token
sits inside a name from the packaged drug and disease dictionaries (longest match first)."""

from __future__ import annotations

from functools import cache

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


@cache
def _name_prefixes(kind: str) -> tuple[frozenset[str], frozenset[str]]:
    """Every dictionary name as lower-case tokens joined by NUL, and every prefix of one: a position is
    only checked for names whose tokens follow it, so most positions cost one set lookup."""
    prefixes, names = set(), set()
    for name in synonym_groups(kind):
        words = [token.text for token in tokenize(name)]
        if 0 < len(words) <= MAX_MATCH_TOKENS:
            prefixes.update("\0".join(words[:n]) for n in range(1, len(words) + 1))
            names.add("\0".join(words))
    return frozenset(prefixes), frozenset(names)


def dictionary_tags(text: str, tokens: list[Token]) -> list[str]:
    """BIO tags of the longest dictionary names found, chemicals first; a name needs at least one letter."""
    tags = [OUTSIDE] * len(tokens)
    words = [token.text.lower() for token in tokens]
    for kind in ENTITY_TYPES:
        keys, (prefixes, names) = synonym_groups(kind), _name_prefixes(kind)
        start = 0
        while start < len(tokens):
            lengths, joined = [], words[start]
            for n in range(1, min(MAX_MATCH_TOKENS, len(tokens) - start) + 1):
                if n > 1:
                    joined += "\0" + words[start + n - 1]
                if joined not in prefixes:
                    break
                if joined in names:
                    lengths.append(n)
            first = tokens[start].start
            span = lambda n, first=first, start=start: text[first : tokens[start + n - 1].end]
            length = next(
                (
                    n
                    for n in reversed(lengths)
                    if all(tag == OUTSIDE for tag in tags[start : start + n])
                    and any(c.isalpha() for c in span(n))
                    and lookup_key(span(n)) in keys
                ),
                0,
            )
            if length:
                tags[start : start + length] = [f"B-{kind}"] + [f"I-{kind}"] * (length - 1)
            start += max(length, 1)
    return tags
