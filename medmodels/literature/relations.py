"""Chemical-disease relations at document level: every chemical and disease (MeSH ids) an abstract
mentions form a candidate pair; the relation scorer reads the encoder's states pooled over each side's
mentions and over the sentences that mention both, beside a few counts that say how the pair sits in
the abstract (in the title, how often, how close).

A pair is a ``co-mention`` (no stated relation) or one of the model's relation types (``induces``,
``treats``): the scorer gives one logit per type, and co-mention's logit is fixed at 0, so a model with
the single type ``induces`` reads as a sigmoid over that logit.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass

import torch
from torch import nn

from medmodels.literature.mesh import UNRESOLVED
from medmodels.literature.text import Token

PAIR_FEATURES = 14
# Cue words in the sentences that mention both (else the evidence sentence): how a sentence says a chemical
# caused or treated a disease, or denies it. Read by models with ``cue_features`` (from version 2).
CUES = {
    "causal": frozenset(
        [
            "induced",
            "induce",
            "induces",
            "inducing",
            "caused",
            "cause",
            "causes",
            "causing",
            "associated",
            "toxicity",
            "toxic",
            "adverse",
            "side",
            "following",
            "after",
            "developed",
            "produced",
            "provoked",
            "precipitated",
            "due",
        ]
    ),
    "therapeutic": frozenset(
        [
            "treated",
            "treatment",
            "treating",
            "therapy",
            "therapeutic",
            "effective",
            "efficacy",
            "efficacious",
            "relief",
            "relieved",
            "prevent",
            "prevented",
            "prevention",
            "management",
            "improved",
            "improvement",
            "response",
            "responded",
        ]
    ),
    "negation": frozenset(["no", "not", "without", "neither", "nor", "absence", "absent", "unlikely", "failed"]),
}
CUE_FEATURES = len(CUES) + 2  # each cue group, "X-induced" right after the chemical, "treated with X"
NOT_INDUCES = -1  # a training label: any class but induces (a BC5CDR pair without a CID annotation)
DISTANCE_SCALE = 20.0  # tokens; the closest two mentions of a pair in one sentence, scaled and capped at 3


@dataclass(frozen=True)
class Entity:
    """A mention as the relation step sees it: token range (end exclusive), type and MeSH id."""

    first_token: int
    end_token: int
    type: str
    mesh: str


@dataclass(frozen=True)
class Candidate:
    chemical: str
    disease: str
    chemical_tokens: tuple[int, ...]
    disease_tokens: tuple[int, ...]
    shared_tokens: tuple[int, ...]  # tokens of the sentences that mention both
    evidence: tuple[int, int]  # token range of the sentence that best supports the pair
    features: tuple[float, ...]


@dataclass(frozen=True)
class PairIndex:
    """Candidate pairs of a batch of texts, as masks over the batch's tokens."""

    rows: torch.Tensor  # (P,) the text each pair belongs to
    chemical: torch.Tensor  # (P, L) 1 on the chemical's mention tokens
    disease: torch.Tensor  # (P, L)
    shared: torch.Tensor  # (P, L) 1 on tokens of sentences mentioning both (all 0 if none does)
    features: torch.Tensor  # (P, PAIR_FEATURES + CUE_FEATURES)


def _sentence_of_tokens(tokens: list[Token], sentences: list[tuple[int, int]]) -> list[int]:
    index, found = 0, []
    for token in tokens:
        while index < len(sentences) - 1 and token.start >= sentences[index][1]:
            index += 1
        found.append(index)
    return found


def _follows(tokens: list[Token], position: int, words: tuple[str, ...]) -> bool:
    return [t.text.lower() for t in tokens[position : position + len(words)]] == list(words)


def _precedes(tokens: list[Token], position: int) -> bool:
    """ "treated with" or "treatment with" right before ``position``."""
    before = [t.text.lower() for t in tokens[max(position - 2, 0) : position]]
    return len(before) == 2 and before[0].startswith("treat") and before[1] in ("with", "by")


def candidate_pairs(
    tokens: list[Token], sentences: list[tuple[int, int]], entities: list[Entity], title_end: int
) -> list[Candidate]:
    """Every (chemical, disease) pair of two different resolved MeSH ids among ``entities``, with its pooling
    masks and features; ``title_end`` is the title's length in characters."""
    sentence_of = _sentence_of_tokens(tokens, sentences)
    resolved = [e for e in entities if e.mesh != UNRESOLVED]
    by_id: dict[tuple[str, str], list[Entity]] = defaultdict(list)
    for entity in resolved:
        by_id[entity.type, entity.mesh].append(entity)
    counts = {
        kind: Counter({mesh: len(found) for (k, mesh), found in by_id.items() if k == kind})
        for kind in ("Chemical", "Disease")
    }
    most = {kind: max(counts[kind].values(), default=0) for kind in counts}
    in_title = lambda found: float(any(tokens[e.first_token].start < title_end for e in found))
    length = max(len(tokens), 1)
    sentence_tokens: dict[int, list[int]] = defaultdict(list)
    for position, sentence in enumerate(sentence_of):
        sentence_tokens[sentence].append(position)
    candidates = []
    for chemical in counts["Chemical"]:
        for disease in counts["Disease"]:
            if chemical == disease:  # a disease mention normalised to a chemical's id ("hycanthone hepatitis")
                continue
            chemicals, diseases = by_id["Chemical", chemical], by_id["Disease", disease]
            shared = sorted(
                {sentence_of[e.first_token] for e in chemicals} & {sentence_of[e.first_token] for e in diseases}
            )
            gaps = [
                (max(c.first_token, d.first_token) - min(c.end_token, d.end_token), sentence_of[c.first_token])
                for c in chemicals
                for d in diseases
                if sentence_of[c.first_token] == sentence_of[d.first_token]
            ]
            closest = min(gaps, default=None)
            if closest is not None:
                evidence_sentence = closest[1]
            else:  # no sentence holds both: the disease's first sentence
                evidence_sentence = sentence_of[diseases[0].first_token]
            evidence_tokens = sentence_tokens[evidence_sentence]
            read = [tokens[t].text.lower() for s in (shared or [evidence_sentence]) for t in sentence_tokens[s]]
            features = (
                math.log1p(len(chemicals)),
                math.log1p(len(diseases)),
                in_title(chemicals),
                in_title(diseases),
                math.log1p(len(shared)),
                float(bool(shared) and sentences[shared[0]][0] < title_end),
                float(not shared),
                min(max(closest[0], 0) / DISTANCE_SCALE, 3.0) if closest else 3.0,
                float(len(chemicals) == most["Chemical"]),
                float(len(diseases) == most["Disease"]),
                math.log1p(len(counts["Chemical"])),
                math.log1p(len(counts["Disease"])),
                chemicals[0].first_token / length,
                diseases[0].first_token / length,
                *(float(any(word in cue for word in read)) for cue in CUES.values()),
                float(
                    any(
                        _follows(tokens, e.end_token, ("-", "induced")) or _follows(tokens, e.end_token, ("induced",))
                        for e in chemicals
                    )
                ),
                float(any(_precedes(tokens, e.first_token) for e in chemicals)),
            )
            candidates.append(
                Candidate(
                    chemical,
                    disease,
                    tuple(t for e in chemicals for t in range(e.first_token, e.end_token)),
                    tuple(t for e in diseases for t in range(e.first_token, e.end_token)),
                    tuple(t for s in shared for t in sentence_tokens[s]),
                    (evidence_tokens[0], evidence_tokens[-1] + 1),
                    features,
                )
            )
    return candidates


def pair_index(candidates: list[list[Candidate]], length: int) -> PairIndex:
    """Masks for the candidates of each text of a batch padded to ``length`` tokens."""
    flat = [(row, c) for row, found in enumerate(candidates) for c in found]
    rows = torch.tensor([row for row, _ in flat], dtype=torch.long)
    masks = torch.zeros(3, len(flat), length)
    for number, (_, candidate) in enumerate(flat):
        for side, positions in enumerate(
            (candidate.chemical_tokens, candidate.disease_tokens, candidate.shared_tokens)
        ):
            masks[side, number, list(positions)] = 1.0
    features = torch.tensor([c.features for _, c in flat], dtype=torch.float32).reshape(
        len(flat), PAIR_FEATURES + CUE_FEATURES
    )
    return PairIndex(rows, masks[0], masks[1], masks[2], features)


def relation_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Relation logits ``(P, types)`` -> probabilities ``(P, 1 + types)``, co-mention first."""
    return torch.softmax(torch.cat([logits.new_zeros(len(logits), 1), logits], -1), -1)


def relation_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of ``labels`` ``(P,)``: a class index (0 co-mention, then the model's
    types in order) or ``NOT_INDUCES``, whose likelihood is that of every class but induces (index 1)."""
    log_probabilities = torch.log_softmax(torch.cat([logits.new_zeros(len(logits), 1), logits], -1), -1)
    known = log_probabilities.gather(1, labels.clamp(min=0).unsqueeze(1)).squeeze(1)
    others = torch.cat([log_probabilities[:, :1], log_probabilities[:, 2:]], -1).logsumexp(-1)
    return -torch.where(labels == NOT_INDUCES, others, known).mean()


class RelationScorer(nn.Module):
    """A logit per relation type for each candidate pair, from the encoder's token states."""

    def __init__(
        self, hidden: int, width: int = 128, dropout: float = 0.3, types: int = 1, cue_features: bool = False
    ) -> None:
        super().__init__()
        self.features = PAIR_FEATURES + (CUE_FEATURES if cue_features else 0)
        self.score = nn.Sequential(
            nn.Linear(4 * hidden + self.features, width), nn.GELU(), nn.Dropout(dropout), nn.Linear(width, types)
        )

    def forward(self, states: torch.Tensor, pairs: PairIndex) -> torch.Tensor:
        """``states`` ``(B, L, H)`` -> logits ``(P, types)``."""
        pooled = torch.zeros(len(pairs.rows), 3, states.shape[-1], dtype=states.dtype)
        # One text at a time: its pairs' masks meet only its own states, never a (pairs, L, H) copy.
        for row in pairs.rows.unique().tolist():
            chosen = (pairs.rows == row).nonzero().squeeze(1)
            own = states[row]  # (L, H)
            chemical, disease, shared = pairs.chemical[chosen], pairs.disease[chosen], pairs.shared[chosen]
            pooled[chosen, 0] = chemical @ own / chemical.sum(1, keepdim=True).clamp(min=1)
            pooled[chosen, 1] = disease @ own / disease.sum(1, keepdim=True).clamp(min=1)
            maxima = own.unsqueeze(0).masked_fill(shared.unsqueeze(-1) == 0, float("-inf")).max(1).values
            pooled[chosen, 2] = torch.where(
                torch.isfinite(maxima), maxima, torch.zeros_like(maxima)
            )  # no shared sentence
        chemical, disease, shared = pooled.unbind(1)
        features = pairs.features[:, : self.features]
        return self.score(torch.cat([chemical, disease, chemical * disease, shared, features], -1))
