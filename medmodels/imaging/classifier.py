"""A loaded imaging model plus its card: scan in, calibrated diagnosis out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from medmodels.cards import ModelCard
from medmodels.checkpoints import find_card, load_weights
from medmodels.imaging.deidentify import DicomTag
from medmodels.imaging.images import Preprocessing
from medmodels.imaging.ood import MahalanobisGate, load_gate
from medmodels.imaging.population import PopulationCheck, check_population


@dataclass(frozen=True)
class ImagePrediction:
    # None when the scan is out of distribution: the model's output is then no diagnosis.
    label: str | None
    probabilities: dict[str, float]  # calibrated, label -> probability
    positive_probability: float | None  # None for a model of more than two classes, which calls the most probable
    threshold: float | None  # on the positive class's probability; None with more than two classes
    model_input: np.ndarray  # (S, S) grey levels in [0, 1] exactly as the model saw them
    # True when the gate finds the pixels unfamiliar or the file's tags contradict the training population;
    # None when the model ships without a gate and the tags contradict nothing.
    ood: bool | None
    ood_score: float | None
    ood_threshold: float | None
    population: PopulationCheck = field(default_factory=lambda: PopulationCheck((), ()))
    data_name: str = "training"  # the training images, in words, for the reason

    @property
    def unfamiliar(self) -> bool:
        """The gate's verdict on the pixels alone."""
        return self.ood_score is not None and self.ood_threshold is not None and self.ood_score > self.ood_threshold

    @property
    def withheld_reason(self) -> str | None:
        """One line on why no diagnosis is given (the population first: the file says it outright), or None."""
        reasons = [self.population.reason] if self.population.reason else []
        if self.unfamiliar:
            reasons.append(
                f"it does not look like the {self.data_name} images (distance {self.ood_score:.0f}, "
                f"above {self.ood_threshold:.0f} counts as unfamiliar)"
            )
        return "; and ".join(reasons) or None


class ImageClassifier:
    """Applies the card's preprocessing, temperature and threshold; never mutates the model."""

    def __init__(self, model: nn.Module, card: ModelCard, gate: MahalanobisGate | None = None) -> None:
        self.model = model.eval()
        self.card = card
        self.gate = gate
        self.preprocessing = Preprocessing.from_dict(card.preprocessing)
        # Two classes: the positive one is called at a threshold. More: the most probable class is called.
        self.positive_index = card.positive_index
        self.threshold = None if self.positive_index is None else card.threshold if card.threshold is not None else 0.5

    @classmethod
    def load(cls, name: str, directory: Path | str | None = None) -> ImageClassifier:
        """The installed model ``name`` (from ``directory``, or the model folders) with the gate its card lists."""
        card = find_card(name, directory)
        gate = load_gate(card.name, card.folder) if card.has_file("ood_gate") else None
        # Channels-last weights make PyTorch's CPU convolutions about a fifth faster on the batches of masked
        # images that occlusion and the faithfulness check score (the same outputs, to float rounding).
        return cls(load_weights(card).to(memory_format=torch.channels_last), card, gate)

    @torch.inference_mode()
    def calibrated_probabilities(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(B, 1, S, S)`` normalised inputs -> ``(B, C)`` temperature-scaled probabilities."""
        return torch.softmax(self.model(inputs) / self.card.temperature, dim=1)

    def label_at(self, prediction: ImagePrediction, threshold: float | None = None) -> str:
        """The label ``prediction``'s probabilities get under ``threshold`` (default: the card's), OOD or not."""
        return self.card.decide(np.array(list(prediction.probabilities.values())), threshold)

    @torch.inference_mode()
    def ood_scores(self, inputs: torch.Tensor) -> torch.Tensor | None:
        """``(B, 1, S, S)`` normalised inputs -> ``(B,)`` gate scores (higher is less familiar), or None without a gate."""
        if self.gate is None:
            return None
        return self.gate.scores(self.model.feature_statistics(inputs))

    def predict(self, image: Image.Image, tags: Sequence[DicomTag] = ()) -> ImagePrediction:
        """The calibrated call for ``image``, withheld when the gate finds it unfamiliar or ``tags`` (the DICOM
        header it came from) contradict the card's population."""
        inputs = self.preprocessing.to_tensor(image)
        probabilities = self.calibrated_probabilities(inputs)[0].numpy().astype(float)
        seen = inputs[0, 0].numpy() * self.preprocessing.std + self.preprocessing.mean
        scores = self.ood_scores(inputs)
        population = check_population(self.card.population, tags)
        unfamiliar = None if scores is None else bool(scores[0] > self.gate.threshold)
        ood = True if population.reason else unfamiliar
        return ImagePrediction(
            label=None if ood else self.card.decide(probabilities),
            probabilities={label: float(p) for label, p in zip(self.card.labels, probabilities)},
            positive_probability=None if self.positive_index is None else float(probabilities[self.positive_index]),
            threshold=self.threshold,
            model_input=np.clip(seen, 0.0, 1.0),
            ood=ood,
            ood_score=None if scores is None else float(scores[0]),
            ood_threshold=None if self.gate is None else self.gate.threshold,
            population=population,
            data_name=self.card.data.name if self.card.data else "training",
        )
