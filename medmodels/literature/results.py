"""What the literature model finds in a document, as plain results: scored chemical-disease pairs and the
mentions behind them, and the tables the page and the exports show of them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from medmodels.literature.mesh import lookup_key
from medmodels.literature.reading import Document, Mention

COMENTION, INDUCES, TREATS = "co-mention", "induces", "treats"
RELATION_LABELS = {
    INDUCES: "induces (the chemical causes the disease)",
    TREATS: "treats (the chemical is given for the disease)",
    COMENTION: "co-mention (no relation stated)",
}


@dataclass(frozen=True)
class Pair:
    """A chemical and a disease (MeSH ids) mentioned in one document: the relation the model reads there,
    each class's probability, and the character span of the sentence that best supports it."""

    chemical: str
    disease: str
    relation: str  # co-mention, or one of the model's relation types
    probabilities: tuple[tuple[str, float], ...]  # (class, probability), co-mention first
    evidence_start: int
    evidence_end: int

    def probability(self, relation: str) -> float:
        return dict(self.probabilities).get(relation, 0.0)

    @property
    def score(self) -> float:
        """The probability that the document states the chemical induces the disease (the CID score)."""
        return self.probability(INDUCES)


@dataclass(frozen=True)
class Extraction:
    pmid: str
    entities: tuple[Mention, ...]
    pairs: tuple[Pair, ...]


Extractor = Callable[[list[Document]], list[Extraction]]


PAIR_COLUMNS = ["pmid", "chemical", "disease", "chemical_mesh", "disease_mesh", "relation"]
ENTITY_COLUMNS = ["pmid", "start", "end", "text", "type", "mesh"]


_ABBREVIATION = re.compile(r"^[^\s]{1,8}$")


def is_abbreviation(text: str) -> bool:
    """A short single word written mostly in capitals ("TG", "5-FU", "CsA"): a name only its document defines."""
    upper, lower = sum(c.isupper() for c in text), sum(c.islower() for c in text)
    return bool(_ABBREVIATION.match(text)) and upper > 0 and upper >= lower


def display_names(spellings: pd.DataFrame, headings: Mapping[str, str]) -> dict[str, str]:
    """A name people recognise for each MeSH id, from ``spellings`` (``mesh``, ``text``, ``n``; most frequent
    first) and ``headings`` (MeSH id -> its heading's lookup key): the heading as the mentions spell it, else
    the heading as MeSH names it (lower case, "anemia, hemolytic"), else the most frequent spelling that is not an abbreviation,
    else the most frequent spelling. An abbreviation a document defined for something else ("TG" for
    triglycerides, filed under a kidney disease) never names a concept that has a full form."""
    names: dict[str, str] = {}
    full_forms: dict[str, str] = {}
    first: dict[str, str] = {}
    for mesh, text in zip(spellings["mesh"], spellings["text"]):
        first.setdefault(mesh, text)
        if mesh in headings and mesh not in names and lookup_key(text) == headings[mesh]:
            names[mesh] = text
        if not is_abbreviation(text):
            full_forms.setdefault(mesh, text)
    for mesh, most_frequent in first.items():
        heading = headings.get(mesh)
        # A lookup key drops the space after a comma ("rhinitis,allergic,seasonal"): MeSH writes one.
        names.setdefault(mesh, re.sub(r",(?=\S)", ", ", heading) if heading else full_forms.get(mesh) or most_frequent)
    return names


def mention_names(extractions: list[Extraction], headings: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """A name to show for each (type, MeSH id) the extractions mention, as ``display_names`` chooses it."""
    counts: dict[tuple[str, str, str], int] = {}
    for extraction in extractions:
        for mention in extraction.entities:
            key = (mention.type, mention.mesh, mention.text)
            counts[key] = counts.get(key, 0) + 1
    names = {}
    for kind in {kind for kind, _, _ in counts}:
        rows = sorted(((mesh, text, n) for (k, mesh, text), n in counts.items() if k == kind), key=lambda r: -r[2])
        spellings = pd.DataFrame(rows, columns=["mesh", "text", "n"])
        names.update({(kind, mesh): name for mesh, name in display_names(spellings, headings).items()})
    return names


def pairs_table(extractions: list[Extraction], headings: Mapping[str, str]) -> pd.DataFrame:
    """Every scored chemical-disease pair, named as the documents spell them, in each document's order (most
    likely induced first): the relation the model reads and one probability column per class."""
    names = mention_names(extractions, headings)
    classes = list(dict.fromkeys(c for e in extractions for p in e.pairs for c, _ in p.probabilities))
    classes = [c for c in classes if c != COMENTION] + [c for c in classes if c == COMENTION]  # stated first
    rows = [
        {
            "pmid": e.pmid,
            "chemical": names.get(("Chemical", p.chemical), p.chemical),
            "disease": names.get(("Disease", p.disease), p.disease),
            "chemical_mesh": p.chemical,
            "disease_mesh": p.disease,
            "relation": p.relation,
            **dict(p.probabilities),
        }
        for e in extractions
        for p in e.pairs
    ]
    return pd.DataFrame(rows, columns=PAIR_COLUMNS + classes)


def entities_table(extractions: list[Extraction]) -> pd.DataFrame:
    """Every mention found, with its character span, type and MeSH id (-1 when unresolved)."""
    rows = [
        {"pmid": e.pmid, "start": m.start, "end": m.end, "text": m.text, "type": m.type, "mesh": m.mesh}
        for e in extractions
        for m in e.entities
    ]
    return pd.DataFrame(rows, columns=ENTITY_COLUMNS)


def top_counts(findings: pd.DataFrame, column: str, by: str, count: int) -> dict[str, int]:
    """The ``count`` chemicals (or diseases) with the most abstracts across ``findings``, counted in ``by``."""
    return findings.groupby(column)[by].sum().nlargest(count).to_dict()
