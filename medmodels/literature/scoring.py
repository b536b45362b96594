"""The standard BC5CDR scores: mentions by exact start, end and type (micro precision, recall and F1 per
type), and chemical-induced disease relations as document-level (PMID, chemical MeSH, disease MeSH)
triples against the gold relations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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
