"""Small convolutional classifiers for 28x28 grey scans (MedMNIST scale), as seed ensembles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass
class SmallCNNConfig:
    in_channels: int = 1
    num_classes: int = 2
    input_size: int = 28
    # Output channels of each conv block; every block halves the spatial size.
    widths: tuple[int, ...] = (32, 64, 128)
    hidden: int = 128
    dropout: float = 0.3
    # Independently trained copies (different seeds) whose logits are averaged.
    members: int = 1


class SmallCNN(nn.Module):
    """Conv blocks (two 3x3 conv + BN + ReLU, then 2x2 max-pool) followed by two fully connected layers."""

    def __init__(self, config: SmallCNNConfig) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        channels = config.in_channels
        size = config.input_size
        for width in config.widths:
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(channels, width, 3, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True),
                    nn.Conv2d(width, width, 3, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True),
                )
            )
            channels = width
        self.blocks = nn.ModuleList(blocks)
        self.pool = nn.MaxPool2d(2)
        for _ in config.widths:
            size //= 2
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * size * size, config.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.num_classes),
        )

    @property
    def target_layers(self) -> list[nn.Module]:
        """The last convolutional block, whose activations Grad-CAM explains."""
        return [self.blocks[-1]]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images  # (B, 1, 28, 28)
        for block in self.blocks:
            x = self.pool(block(x))  # (B, C, H/2, W/2)
        return self.classifier(x)  # (B, num_classes) logits

    def feature_statistics(self, images: torch.Tensor) -> torch.Tensor:
        """Mean and standard deviation of each channel of the first conv block, ``(B, 2 * widths[0])``.

        Low-level texture (grain, speckle, contrast) tells X-ray, ultrasound, CT and MR apart better
        than deeper features, and few dimensions keep the gate's covariance well estimated from a
        few hundred images. Chosen on validation splits: the own set's (in distribution) and the
        other MedMNIST set's (out of distribution).
        """
        activation = self.blocks[0](images)  # (B, C, H, W)
        return torch.cat([activation.mean(dim=(2, 3)), activation.std(dim=(2, 3))], dim=1)


class SeedEnsemble(nn.Module):
    """Members trained one by one from different seeds; the ensemble's logits are the mean of theirs.

    Averaging a few small networks lowers the variance that a 28x28 data set of a few hundred or
    thousand images leaves in any one of them, at a cost of about a millisecond per member.
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    @property
    def target_layers(self) -> list[nn.Module]:
        """Every member's Grad-CAM layer: the ensemble's map sums their contributions to the mean logit."""
        return [layer for member in self.members for layer in member.target_layers]

    def feature_statistics(self, images: torch.Tensor) -> torch.Tensor:
        """The first member's conv-block statistics, ``(B, features)``: the OOD gate's input."""
        return self.members[0].feature_statistics(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(images) for member in self.members]).mean(dim=0)  # (B, num_classes)


@torch.inference_mode()
def logits_in_batches(model: nn.Module, inputs: torch.Tensor, batch_size: int = 512) -> np.ndarray:
    """``(N, 1, S, S)`` inputs -> ``(N, classes)`` logits as a NumPy array, in eval mode and in batches."""
    model.eval()
    return torch.cat([model(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)]).numpy()


def small_cnn_ensemble(config: SmallCNNConfig) -> SeedEnsemble:
    return SeedEnsemble([SmallCNN(config) for _ in range(config.members)])


def example_images(config: SmallCNNConfig, batch_size: int) -> torch.Tensor:
    return torch.randn(batch_size, config.in_channels, config.input_size, config.input_size)
