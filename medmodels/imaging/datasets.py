"""MedMNIST v2 ``.npz`` splits as tensors, with on-the-fly augmentation for training."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from medmodels.data import DataFormatError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ImageSplit:
    images: np.ndarray  # (N, H, W) uint8
    labels: np.ndarray  # (N,) int64


def load_medmnist(path: Path, split: str) -> ImageSplit:
    """One split of an official MedMNIST v2 file (keys ``{split}_images`` / ``{split}_labels``)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    # allow_pickle=False: the official files hold plain arrays, and nothing is ever unpickled.
    try:
        with np.load(path, allow_pickle=False) as archive:
            images = archive[f"{split}_images"]
            labels = archive[f"{split}_labels"].reshape(-1).astype(np.int64)
    except KeyError as error:
        raise DataFormatError(f"{path.name} is not a MedMNIST file: it lacks {error}") from None
    except (OSError, ValueError) as error:
        raise DataFormatError(f"{path.name} is not a readable .npz file ({error})") from None
    if images.ndim != 3 or len(images) != len(labels):
        raise DataFormatError(
            f"{path.name}: expected grey images (N, H, W) with N labels, got {images.shape} and {labels.shape}"
        )
    return ImageSplit(images, labels)


def to_tensor(images: np.ndarray, mean: float, std: float) -> torch.Tensor:
    """uint8 ``(N, H, W)`` -> normalised float ``(N, 1, H, W)``."""
    return ((torch.from_numpy(images).float() / 255.0 - mean) / std).unsqueeze(1)


@dataclass(frozen=True)
class Augmentation:
    """Random per-image transforms for training; recorded in the model card."""

    max_degrees: float = 10.0
    max_shift: float = 0.08  # fraction of the half-width
    max_zoom: float = 0.1
    horizontal_flip: bool = False

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Random rotation, zoom, shift (and flip, if enabled) of a ``(B, 1, H, W)`` batch."""
        batch = images.shape[0]
        angle = (torch.rand(batch) * 2 - 1) * math.radians(self.max_degrees)
        scale = 1.0 + (torch.rand(batch) * 2 - 1) * self.max_zoom
        shift = (torch.rand(batch, 2) * 2 - 1) * self.max_shift
        flip = torch.where(torch.rand(batch) < 0.5, -1.0, 1.0) if self.horizontal_flip else torch.ones(batch)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack(
            [torch.stack([cos * flip, -sin, shift[:, 0]], dim=1), torch.stack([sin * flip, cos, shift[:, 1]], dim=1)],
            dim=1,
        )  # (B, 2, 3)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def collate(self, samples: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        images = torch.stack([image for image, _ in samples])
        labels = torch.stack([label for _, label in samples])
        return self(images), labels


def make_loader(
    inputs: torch.Tensor,
    labels: np.ndarray,
    batch_size: int,
    *,
    augmentation: Augmentation | None = None,
    seed: int = 0,
) -> DataLoader:
    """Shuffled, augmented batches when ``augmentation`` is given (training); plain ordered batches otherwise."""
    training = augmentation is not None
    return DataLoader(
        TensorDataset(inputs, torch.from_numpy(labels)),
        batch_size=batch_size,
        shuffle=training,
        collate_fn=augmentation.collate if training else None,
        generator=torch.Generator().manual_seed(seed) if training else None,
    )
