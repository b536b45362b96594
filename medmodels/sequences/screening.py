"""A loaded sequence model plus its card: sequences in, calibrated scores and per-residue attention out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from medmodels.checkpoints import WEIGHTS_DIR, ModelCard, load_checkpoint
from medmodels.metrics import softmax
from medmodels.sequences.models import encode


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
    positive_probability: float
    in_length_range: bool  # inside the training data's length range


class SequenceScreener:
    """Applies the card's truncation, temperature and threshold; never mutates the shared model."""

    def __init__(self, model: nn.Module, card: ModelCard) -> None:
        self.model = model.eval()
        self.card = card
        self.max_length = int(card.config["max_length"])
        self.positive_index = card.labels.index(card.positive_label)
        self.threshold = float(card.threshold if card.threshold is not None else 0.5)
        self.length_range = tuple(card.preprocessing.get("length_range", (1, self.max_length)))

    @classmethod
    def load(cls, name: str, directory: Path | str = WEIGHTS_DIR) -> SequenceScreener:
        return cls(*load_checkpoint(name, directory))

    def probabilities(self, sequences: list[str], batch_size: int = 256) -> np.ndarray:
        """``(N, C)`` calibrated probabilities, in input order."""
        return softmax(batched_logits(self.model, sequences, self.max_length, batch_size), self.card.temperature)

    def decide(self, probabilities: np.ndarray, threshold: float | None = None) -> str:
        positive = probabilities[self.positive_index] >= (self.threshold if threshold is None else threshold)
        return self.card.labels[self.positive_index if positive else 1 - self.positive_index]

    def score(self, sequences: list[str]) -> list[SequenceScore]:
        low, high = self.length_range
        return [
            SequenceScore(
                label=self.decide(row),
                probabilities={label: float(p) for label, p in zip(self.card.labels, row)},
                positive_probability=float(row[self.positive_index]),
                in_length_range=low <= len(sequence) <= high,
            )
            for sequence, row in zip(sequences, self.probabilities(sequences))
        ]

    @torch.inference_mode()
    def attention(self, sequence: str) -> np.ndarray:
        """Attention weight of each residue the model read (``min(len, max_length)`` values summing to one)."""
        _, weights = self.model(encode([sequence], self.max_length), return_attention=True)
        return weights[0].numpy().astype(np.float64)
