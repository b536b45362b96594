"""What the literature model finds in a document, as plain results: scored chemical-disease pairs and the
mentions behind them, and the tables the page and the exports show of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from medmodels.literature.reading import Document, Mention


@dataclass(frozen=True)
class Pair:
    """A chemical and a disease (MeSH ids) mentioned in one document, with the relation score and the
    character span of the sentence that best supports it."""

    chemical: str
    disease: str
    score: float
    evidence_start: int
    evidence_end: int


@dataclass(frozen=True)
class Extraction:
    pmid: str
    entities: tuple[Mention, ...]
    pairs: tuple[Pair, ...]


Extractor = Callable[[list[Document]], list[Extraction]]


PAIR_COLUMNS = ["pmid", "chemical", "disease", "chemical_mesh", "disease_mesh", "score", "relation"]
ENTITY_COLUMNS = ["pmid", "start", "end", "text", "type", "mesh"]


def mention_names(extractions: list[Extraction]) -> dict[tuple[str, str], str]:
    """A name to show for each (type, MeSH id): the spelling of one of its mentions."""
    return {(m.type, m.mesh): m.text for e in extractions for m in e.entities}


def pairs_table(extractions: list[Extraction], threshold: float) -> pd.DataFrame:
    """Every scored chemical-disease pair, named as the documents spell them; ``relation`` when the score
    reaches ``threshold``."""
    names = mention_names(extractions)
    rows = [
        {
            "pmid": e.pmid,
            "chemical": names.get(("Chemical", p.chemical), p.chemical),
            "disease": names.get(("Disease", p.disease), p.disease),
            "chemical_mesh": p.chemical,
            "disease_mesh": p.disease,
            "score": p.score,
            "relation": p.score >= threshold,
        }
        for e in extractions
        for p in e.pairs
    ]
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def entities_table(extractions: list[Extraction]) -> pd.DataFrame:
    """Every mention found, with its character span, type and MeSH id (-1 when unresolved)."""
    rows = [
        {"pmid": e.pmid, "start": m.start, "end": m.end, "text": m.text, "type": m.type, "mesh": m.mesh}
        for e in extractions
        for m in e.entities
    ]
    return pd.DataFrame(rows, columns=ENTITY_COLUMNS)


def top_counts(findings: pd.DataFrame, column: str, count: int) -> dict[str, int]:
    """The ``count`` chemicals (or diseases) with the most supporting abstracts across ``findings``."""
    return findings.groupby(column)["abstracts"].sum().nlargest(count).to_dict()
