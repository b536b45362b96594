"""The standard BC5CDR scores: mentions by exact start, end and type (micro precision, recall and F1 per
type), and chemical-induced disease relations as document-level (PMID, chemical MeSH, disease MeSH)
triples against the gold relations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from medmodels.sections import MetricSection, register_section

# (pmid, start, end, type)
MentionKey = tuple[str, int, int, str]
# (pmid, chemical MeSH, disease MeSH)
RelationKey = tuple[str, str, str]


@dataclass(frozen=True)
class Score:
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 0.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 0.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
        }


def _exact(gold: Iterable, predicted: Iterable) -> Score:
    """Exact-match counts between two collections of hashable keys (duplicates count once)."""
    gold, predicted = set(gold), set(predicted)
    hits = len(gold & predicted)
    return Score(hits, len(predicted) - hits, len(gold) - hits)


def mention_scores(gold: Iterable[MentionKey], predicted: Iterable[MentionKey]) -> dict[str, Score]:
    """One ``Score`` per entity type found in either collection."""
    gold, predicted = set(gold), set(predicted)
    kinds = sorted({key[3] for key in gold | predicted})
    return {kind: _exact((k for k in gold if k[3] == kind), (k for k in predicted if k[3] == kind)) for kind in kinds}


def relation_scores(gold: Iterable[RelationKey], predicted: Iterable[RelationKey]) -> Score:
    return _exact(gold, predicted)


@register_section
@dataclass(frozen=True)
class ExtractionMetrics(MetricSection):
    """BC5CDR figures of one split: chemical and disease mentions (exact span), and document-level
    chemical-induced disease relations end to end, and given the annotated mentions."""

    kind: ClassVar[str] = "entity_relation_extraction"
    title: ClassVar[str] = "entity and relation extraction"
    LABELS: ClassVar[dict[str, str]] = {
        "threshold": "Relation threshold",
        "chemical_precision": "Chemical mentions: precision",
        "chemical_recall": "Chemical mentions: recall",
        "chemical_f1": "Chemical mentions: F1 (exact span)",
        "disease_precision": "Disease mentions: precision",
        "disease_recall": "Disease mentions: recall",
        "disease_f1": "Disease mentions: F1 (exact span)",
        "overall_f1": "All mentions: F1",
        "cid_precision": "CID relations: precision",
        "cid_recall": "CID relations: recall",
        "cid_f1": "CID relations: F1 (document level, end to end)",
        "gold_mentions_cid_f1": "CID relations: F1 given the annotated mentions",
        "mesh_documents": "MeSH: indexed MEDLINE abstracts (held out by PMID)",
        "mesh_labelled_pairs": "MeSH: pairs the qualifiers label",
        "mesh_induces_precision": "MeSH: induces calls indexed as induced (precision)",
        "mesh_induces_recall": "MeSH: induced pairs called induces (recall)",
        "mesh_treats_recall": "MeSH: treated pairs called treats (recall)",
        "mesh_treats_called_induces": "MeSH: treated pairs called induces",
    }
    HEADLINE: ClassVar[tuple[str, ...]] = ("chemical_f1", "disease_f1", "cid_f1")
    SHORT_LABELS: ClassVar[dict[str, str]] = {
        "chemical_f1": "chemical F1",
        "disease_f1": "disease F1",
        "cid_f1": "CID F1",
    }

    threshold: float  # the relation threshold the figures were counted at
    n: int
    chemical_precision: float
    chemical_recall: float
    chemical_f1: float
    chemical_true_positives: int
    chemical_false_positives: int
    chemical_false_negatives: int
    disease_precision: float
    disease_recall: float
    disease_f1: float
    disease_true_positives: int
    disease_false_positives: int
    disease_false_negatives: int
    overall_f1: float
    cid_precision: float
    cid_recall: float
    cid_f1: float
    cid_true_positives: int
    cid_false_positives: int
    cid_false_negatives: int
    gold_mentions_cid_precision: float
    gold_mentions_cid_recall: float
    gold_mentions_cid_f1: float
    gold_mentions_cid_true_positives: int
    gold_mentions_cid_false_positives: int
    gold_mentions_cid_false_negatives: int
    # Relation types on MEDLINE abstracts labelled by their MeSH qualifiers (``distant``); absent from
    # version 1, which read induces alone.
    mesh_documents: int | None = None
    mesh_labelled_pairs: int | None = None
    mesh_induces_precision: float | None = None
    mesh_induces_recall: float | None = None
    mesh_treats_recall: float | None = None
    mesh_treats_called_induces: float | None = None

    def figures(self) -> dict[str, float]:
        """The headline figures, and the relation-type figures where the section has them."""
        typed = ("mesh_induces_precision", "mesh_treats_called_induces", "mesh_treats_recall")
        return {**super().figures(), **{key: getattr(self, key) for key in typed if getattr(self, key) is not None}}
