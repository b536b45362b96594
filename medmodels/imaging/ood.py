"""Out-of-distribution gate: is this input like the images the model was trained on?

Mahalanobis distance of the first conv block's channel statistics (mean and standard deviation of
each channel, ``feature_statistics``) to the nearest class mean, with one covariance shared by the
classes (Lee et al., NeurIPS 2018), fitted on the training split; the threshold comes from
held-out folds of that split, so validation and test images measure how often it flags
in-distribution scans. For an ensemble the caller passes its first member's features: any one
network's texture statistics tell scan types apart, and one member keeps the file small. The
statistics live in ``NAME.ood.safetensors`` beside the weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from sklearn.covariance import LedoitWolf

from medmodels.cards import FlaggedShare, OodSummary
from medmodels.checkpoints import WEIGHTS_DIR, CheckpointError

# Share of the training images' own scores that the gate lets through.
OOD_QUANTILE = 0.99


@dataclass(frozen=True)
class MahalanobisGate:
    means: torch.Tensor  # (classes, features) class means of the training features
    precision: torch.Tensor  # (features, features) inverse of the covariance shared by the classes
    threshold: float  # scores above this are out of distribution

    def scores(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, features)`` -> ``(B,)`` squared Mahalanobis distance to the nearest class mean."""
        if features.ndim != 2 or features.shape[1] != self.means.shape[1]:
            raise ValueError(f"expected features of shape (B, {self.means.shape[1]}), got {tuple(features.shape)}")
        offsets = features.to(self.means.dtype)[:, None, :] - self.means[None]  # (B, C, D)
        return torch.einsum("bcd,de,bce->bc", offsets, self.precision, offsets).min(dim=1).values

    def is_out_of_distribution(self, features: torch.Tensor) -> torch.Tensor:
        return self.scores(features) > self.threshold


def _fit_statistics(values: np.ndarray, labels: np.ndarray, classes: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    centres = np.stack([values[labels == c].mean(axis=0) for c in classes])  # (C, D)
    residuals = values - centres[np.searchsorted(classes, labels)]
    # Ledoit-Wolf shrinkage keeps the precision finite when features outnumber the images in a class.
    precision = LedoitWolf(assume_centered=True).fit(residuals).precision_
    return torch.from_numpy(centres).float(), torch.from_numpy(precision).float()


def fit_gate(
    features: torch.Tensor, labels: np.ndarray, quantile: float, folds: int = 5, seed: int = 0
) -> MahalanobisGate:
    """Class means and a shrunk shared covariance of ``(N, features)`` training features.

    The threshold is the ``quantile`` of out-of-fold scores (each fold scored by statistics fitted
    on the others): images a gate was fitted on sit closer to its means than new images do, the
    more so when features are many and images few, so in-sample scores would set it too low.
    """
    values = features.to(torch.float64).numpy()
    labels = np.asarray(labels)
    classes = np.unique(labels)
    order = np.random.default_rng(seed).permutation(len(values))
    held_out_scores = []
    for fold in np.array_split(order, folds):
        keep = np.setdiff1d(order, fold)
        means, precision = _fit_statistics(values[keep], labels[keep], classes)
        held_out_scores.append(MahalanobisGate(means, precision, float("inf")).scores(features[fold]).numpy())
    means, precision = _fit_statistics(values, labels, classes)
    return MahalanobisGate(means, precision, float(np.quantile(np.concatenate(held_out_scores), quantile)))


def gate_path(name: str, directory: Path | str = WEIGHTS_DIR) -> Path:
    return Path(directory) / f"{name}.ood.safetensors"


def save_gate(gate: MahalanobisGate, name: str, directory: Path | str = WEIGHTS_DIR) -> Path:
    path = gate_path(name, directory)
    path.parent.mkdir(parents=True, exist_ok=True)  # it is written before the weights, which would make the folder
    tensors = {
        "means": gate.means.contiguous(),
        "precision": gate.precision.contiguous(),
        "threshold": torch.tensor(gate.threshold, dtype=torch.float64),
    }
    save_file(tensors, str(path), metadata={"name": name, "method": "mahalanobis"})
    return path


def load_gate(name: str, directory: Path | str = WEIGHTS_DIR) -> MahalanobisGate | None:
    """The model's gate, or None when the model was saved without one."""
    path = gate_path(name, directory)
    if not path.exists():
        return None
    try:
        tensors = load_file(str(path))
        return MahalanobisGate(tensors["means"], tensors["precision"], float(tensors["threshold"]))
    except (SafetensorError, KeyError) as error:
        raise CheckpointError(f"OOD statistics {path.name} are unreadable: {error}") from None


@torch.inference_mode()
def feature_statistics(model: torch.nn.Module, inputs: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """``model.feature_statistics`` of ``(N, 1, S, S)`` inputs, in batches: the gate's ``(N, features)`` input."""
    model.eval()
    return torch.cat([model.feature_statistics(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)])


def flagged_share(gate: MahalanobisGate, model: torch.nn.Module, inputs: torch.Tensor) -> FlaggedShare:
    """How many of ``inputs`` the gate flags, for the card."""
    flags = gate.is_out_of_distribution(feature_statistics(model, inputs))
    return FlaggedShare(len(flags), round(float(flags.float().mean()), 4))


def gate_summary(gate: MahalanobisGate, flagged: dict[str, FlaggedShare]) -> OodSummary:
    """The card's account of a gate fitted by ``fit_gate`` at ``OOD_QUANTILE``, with the shares it flags."""
    return OodSummary(
        method="Mahalanobis distance of the first conv block's channel means and standard deviations to the nearest class mean, "
        "shared Ledoit-Wolf covariance, on the ensemble's first member (Lee et al. 2018)",
        threshold=gate.threshold,
        threshold_rule=f"{OOD_QUANTILE:.0%} quantile of the training images' scores, each scored by a gate "
        "fitted on the other four of five folds",
        flagged=flagged,
    )
