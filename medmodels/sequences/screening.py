"""A loaded sequence model plus its card: sequences in, calibrated scores and per-residue attention out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from medmodels.cards import ModelCard
from medmodels.checkpoints import load_checkpoint
from medmodels.metrics import softmax
from medmodels.sequences.alphabet import NUCLEOTIDE
from medmodels.sequences.applicability import load_check
from medmodels.sequences.models import alphabet_of, model_inputs, read_positions
from medmodels.sequences.parsing import SequenceRecord


@torch.inference_mode()
def batched_logits(model: nn.Module, sequences: list[str], batch_size: int = 256) -> np.ndarray:
    """``(N, C)`` logits, computed in length-sorted batches (little padding), returned in input order."""
    model.eval()
    order = np.argsort([len(s) for s in sequences], kind="stable")
    out = np.empty((len(sequences), model.config.num_classes), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        out[chunk] = model(*model_inputs(model.config, [sequences[i] for i in chunk])).numpy()
    return out


@dataclass(frozen=True)
class SequenceScore:
    label: str
    probabilities: dict[str, float]  # calibrated, label -> probability
    probability: float  # of the positive class for a screening model, of the call for a multi-class one
    in_length_range: bool  # inside the training data's length range
    # Why the applicability check withholds the call (outside the model's domain); None inside it. A withheld
    # score keeps its probabilities for ranking code only: pages, tables and the CLI show no call for it.
    withheld_reason: str | None = None


class SequenceScreener:
    """Applies the card's truncation, temperature and decision rule; never mutates the shared model.

    A screening model (card with a ``positive_label``) calls the positive class at the card's threshold;
    a multi-class model (``sequence.localisation``) calls the most probable class.
    """

    def __init__(self, model: nn.Module, card: ModelCard) -> None:
        self.model = model.eval()
        self.card = card
        self.max_length = int(card.config["max_length"])
        self.alphabet = alphabet_of(model.config)
        self.positive_index = card.positive_index
        self.threshold = float(card.threshold) if card.threshold is not None else None
        self.length_range = tuple(card.preprocessing.get("length_range", (1, self.max_length)))
        self.check = load_check(card.name, card.folder) if card.folder is not None else None

    @property
    def screening(self) -> bool:
        """True for a positive-versus-rest screening model, False for a multi-class one."""
        return self.positive_index is not None

    @classmethod
    def load(cls, name: str, directory: Path | str | None = None) -> SequenceScreener:
        return cls(*load_checkpoint(name, directory))

    def probabilities(self, sequences: list[str], batch_size: int = 256) -> np.ndarray:
        """``(N, C)`` calibrated probabilities, in input order."""
        return softmax(batched_logits(self.model, sequences, batch_size), self.card.temperature)

    def score(self, sequences: list[str]) -> list[SequenceScore]:
        low, high = self.length_range
        reasons = self.withheld_reasons(sequences)
        scores = []
        for sequence, row, reason in zip(sequences, self.probabilities(sequences), reasons):
            call = self.card.call_index(row)
            scores.append(
                SequenceScore(
                    label=self.card.labels[call],
                    probabilities={label: float(p) for label, p in zip(self.card.labels, row)},
                    probability=float(row[call if self.positive_index is None else self.positive_index]),
                    in_length_range=low <= len(sequence) <= high,
                    withheld_reason=reason,
                )
            )
        return scores

    def inputs(self, sequence: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What the model reads of one sequence: ``(1, L)`` token ids and, for a model that reads them, its
        whole-sequence features ``(1, count)``."""
        return model_inputs(self.model.config, [sequence])

    def withheld_reasons(self, sequences: list[str]) -> list[str | None]:
        """Per sequence, why the call is withheld; None inside the model's domain. A genome model reads only the
        lengths it was trained on (a 60-nt splice window, whole transcripts of 201 nt or more): outside them its
        input means something else. A protein model flags such a length with a notice instead (``in_length_range``).
        The applicability check, when the model has one, withholds sequences whose letter order (or, for a protein
        model, composition) is unlike its training data."""
        low, high = self.length_range
        checked = self.check.reasons(sequences) if self.check is not None else [None] * len(sequences)
        reasons: list[str | None] = []
        for sequence, check_reason in zip(sequences, checked):
            if self.alphabet is NUCLEOTIDE and not low <= len(sequence) <= high:
                trained = f"exactly {low}" if low == high else f"{low:,} to {high:,}"
                reasons.append(
                    f"the model was trained on sequences of {trained} {self.alphabet.unit}; this one has {len(sequence):,}"
                )
            else:
                reasons.append(check_reason)
        return reasons

    def per_residue(self, values: np.ndarray, length: int) -> np.ndarray:
        """Values for the residues the model read, placed at their positions in a sequence of ``length``;
        NaN for the middle of a protein longer than ``max_length``, which the model does not read."""
        full = np.full(length, np.nan)
        full[read_positions(length, self.max_length)] = values
        return full

    @torch.inference_mode()
    def attention(self, sequence: str) -> np.ndarray:
        """Attention weight of each residue (summing to one over the residues read; NaN on those not read)."""
        _, weights = self.model(*self.inputs(sequence), return_attention=True)
        return self.per_residue(weights[0].numpy().astype(np.float64), len(sequence))


WITHHELD = "withheld (outside the model's domain)"


def short_name(name: str) -> str:
    """``sequence.amp`` -> ``amp``: column names in a table of several models."""
    return name.split(".", 1)[1]


def score_column(screener: SequenceScreener) -> str:
    """The table column a model's ranking score goes in: P(positive) for screening, P(call) otherwise."""
    card = screener.card
    return f"P({card.positive_label})" if screener.screening else f"P({short_name(card.name)} call)"


def screening_table(
    screeners: list[SequenceScreener],
    records: list[SequenceRecord],
    progress: Callable[[float, str], None] | None = None,
    batch_size: int = 50,
) -> pd.DataFrame:
    """One row per valid record: id, length, and per model its ranking score, call (``WITHHELD``, with no score,
    outside the model's domain) and whether the length is outside its training range; the sequence last. ``progress(fraction, message)`` is called between batches."""
    sequences = [record.sequence for record in records]
    table = pd.DataFrame({"id": [record.id for record in records], "length": [len(s) for s in sequences]})
    total = max(len(screeners) * len(sequences), 1)
    for number, screener in enumerate(screeners):
        scores: list[SequenceScore] = []
        for start in range(0, len(sequences), batch_size):
            scores += screener.score(sequences[start : start + batch_size])
            if progress:
                progress(
                    min((number * len(sequences) + start + batch_size) / total, 1.0),
                    f"Scoring with {screener.card.name}…",
                )
        name = short_name(screener.card.name)
        # A withheld sequence (outside the model's domain) has no score and no call, only the reason.
        table[score_column(screener)] = [np.nan if s.withheld_reason else s.probability for s in scores]
        table[f"{name} call"] = [WITHHELD if s.withheld_reason else s.label for s in scores]
        table[f"{name} length outside training range"] = [not score.in_length_range for score in scores]
    table["sequence"] = sequences
    return table
