"""A loaded imaging model plus its card: scan in, calibrated diagnosis out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from medmodels.checkpoints import WEIGHTS_DIR, ModelCard, load_checkpoint
from medmodels.imaging.io import Preprocessing


@dataclass(frozen=True)
class ImagePrediction:
    label: str
    probabilities: dict[str, float]  # calibrated, label -> probability
    positive_probability: float
    threshold: float
    model_input: np.ndarray  # (S, S) grey levels in [0, 1] exactly as the model saw them


class ImageClassifier:
    """Applies the card's preprocessing, temperature and threshold; never mutates the model."""

    def __init__(self, model: nn.Module, card: ModelCard) -> None:
        self.model = model.eval()
        self.card = card
        self.preprocessing = Preprocessing.from_dict(card.preprocessing)
        self.positive_index = card.labels.index(card.positive_label) if card.positive_label else 1
        self.threshold = card.threshold if card.threshold is not None else 0.5

    @classmethod
    def load(cls, name: str, directory: Path | str = WEIGHTS_DIR) -> ImageClassifier:
        return cls(*load_checkpoint(name, directory))

    @torch.inference_mode()
    def calibrated_probabilities(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(B, 1, S, S)`` normalised inputs -> ``(B, C)`` temperature-scaled probabilities."""
        return torch.softmax(self.model(inputs) / self.card.temperature, dim=1)

    def decide(self, probabilities: np.ndarray) -> str:
        """Label for one row of calibrated probabilities under the card's threshold."""
        if len(self.card.labels) == 2:
            positive = probabilities[self.positive_index] >= self.threshold
            return self.card.labels[self.positive_index if positive else 1 - self.positive_index]
        return self.card.labels[int(np.argmax(probabilities))]

    def predict(self, image: Image.Image) -> ImagePrediction:
        inputs = self.preprocessing.to_tensor(image)
        probabilities = self.calibrated_probabilities(inputs)[0].numpy().astype(float)
        seen = inputs[0, 0].numpy() * self.preprocessing.std + self.preprocessing.mean
        return ImagePrediction(
            label=self.decide(probabilities),
            probabilities={label: float(p) for label, p in zip(self.card.labels, probabilities)},
            positive_probability=float(probabilities[self.positive_index]),
            threshold=self.threshold,
            model_input=np.clip(seen, 0.0, 1.0),
        )
