"""A loaded sequence model plus its card: sequences in, calibrated scores and per-residue attention out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from medmodels.checkpoints import WEIGHTS_DIR, ModelCard, load_checkpoint
from medmodels.metrics import softmax
from medmodels.sequences.models import encode, read_positions


@torch.inference_mode()
def batched_logits(model: nn.Module, sequences: list[str], max_length: int, batch_size: int = 256) -> np.ndarray:
    """``(N, C)`` logits, computed in length-sorted batches (little padding), returned in input order."""
    model.eval()
    order = np.argsort([len(s) for s in sequences], kind="stable")
    out = np.empty((len(sequences), model.config.num_classes), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        out[chunk] = model(encode([sequences[i] for i in chunk], max_length)).numpy()
    return out


@dataclass(frozen=True)
class SequenceScore:
    label: str
    probabilities: dict[str, float]  # calibrated, label -> probability
    probability: float  # of the positive class for a screening model, of the call for a multi-class one
    in_length_range: bool  # inside the training data's length range


class SequenceScreener:
    """Applies the card's truncation, temperature and decision rule; never mutates the shared model.

    A screening model (card with a ``positive_label``) calls the positive class at the card's threshold;
    a multi-class model (``sequence.localisation``) calls the most probable class.
    """

    def __init__(self, model: nn.Module, card: ModelCard) -> None:
        self.model = model.eval()
        self.card = card
        self.max_length = int(card.config["max_length"])
        self.positive_index = card.labels.index(card.positive_label) if card.positive_label is not None else None
        self.threshold = float(card.threshold) if card.threshold is not None else None
        self.length_range = tuple(card.preprocessing.get("length_range", (1, self.max_length)))

    @property
    def screening(self) -> bool:
        """True for a positive-versus-rest screening model, False for a multi-class one."""
        return self.positive_index is not None

    @classmethod
    def load(cls, name: str, directory: Path | str = WEIGHTS_DIR) -> SequenceScreener:
        return cls(*load_checkpoint(name, directory))

    def probabilities(self, sequences: list[str], batch_size: int = 256) -> np.ndarray:
        """``(N, C)`` calibrated probabilities, in input order."""
        return softmax(batched_logits(self.model, sequences, self.max_length, batch_size), self.card.temperature)

    def call_index(self, probabilities: np.ndarray, threshold: float | None = None) -> int:
        """Index of the class called for one row of calibrated probabilities."""
        if self.positive_index is None:
            return int(np.argmax(probabilities))
        positive = probabilities[self.positive_index] >= (self.threshold if threshold is None else threshold)
        return self.positive_index if positive else 1 - self.positive_index

    def decide(self, probabilities: np.ndarray, threshold: float | None = None) -> str:
        return self.card.labels[self.call_index(probabilities, threshold)]

    def score(self, sequences: list[str]) -> list[SequenceScore]:
        low, high = self.length_range
        scores = []
        for sequence, row in zip(sequences, self.probabilities(sequences)):
            call = self.call_index(row)
            scores.append(
                SequenceScore(
                    label=self.card.labels[call],
                    probabilities={label: float(p) for label, p in zip(self.card.labels, row)},
                    probability=float(row[call if self.positive_index is None else self.positive_index]),
                    in_length_range=low <= len(sequence) <= high,
                )
            )
        return scores

    def per_residue(self, values: np.ndarray, length: int) -> np.ndarray:
        """Values for the residues the model read, placed at their positions in a sequence of ``length``;
        NaN for the middle of a protein longer than ``max_length``, which the model does not read."""
        full = np.full(length, np.nan)
        full[read_positions(length, self.max_length)] = values
        return full

    @torch.inference_mode()
    def attention(self, sequence: str) -> np.ndarray:
        """Attention weight of each residue (summing to one over the residues read; NaN on those not read)."""
        _, weights = self.model(encode([sequence], self.max_length), return_attention=True)
        return self.per_residue(weights[0].numpy().astype(np.float64), len(sequence))
