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
        raise DataFormatError(f"{path.name}: expected grey images (N, H, W) with N labels, got {images.shape} and {labels.shape}")
    return ImageSplit(images, labels)


def to_tensor(images: np.ndarray, mean: float, std: float) -> torch.Tensor:
    """uint8 ``(N, H, W)`` -> normalised float ``(N, 1, H, W)``."""
    return ((torch.from_numpy(images).float() / 255.0 - mean) / std).unsqueeze(1)


def augment(images: torch.Tensor, max_degrees: float = 10.0, max_shift: float = 0.08, max_zoom: float = 0.1) -> torch.Tensor:
    """Random small rotation, zoom and shift of a ``(B, 1, H, W)`` batch, one transform per image.

    Radiographs vary in patient positioning and field of view, not in orientation, so the
    transforms stay small and there is no flipping.
    """
    batch = images.shape[0]
    angle = (torch.rand(batch) * 2 - 1) * math.radians(max_degrees)
    scale = 1.0 + (torch.rand(batch) * 2 - 1) * max_zoom
    shift = (torch.rand(batch, 2) * 2 - 1) * max_shift
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], dim=1), torch.stack([sin, cos, shift[:, 1]], dim=1)], dim=1
    )  # (B, 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _augmenting_collate(samples: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.stack([image for image, _ in samples])
    labels = torch.stack([label for _, label in samples])
    return augment(images), labels


def make_loader(inputs: torch.Tensor, labels: np.ndarray, batch_size: int, *, train: bool, seed: int = 0) -> DataLoader:
    dataset = TensorDataset(inputs, torch.from_numpy(labels))
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=train,
        collate_fn=_augmenting_collate if train else None,
        generator=torch.Generator().manual_seed(seed) if train else None,
    )
