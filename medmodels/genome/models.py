"""The genome models' architectures: the sequence stack's ``AttentionGRU`` (embedding, convolution, max
pooling, bidirectional GRU, attention pooling) over the nucleotide alphabet, one config per task."""

from __future__ import annotations

from dataclasses import dataclass

from medmodels.sequences.models import RecurrentConfig


@dataclass
class SpliceConfig(RecurrentConfig):
    """60-nt windows; the junction lies between the two middle bases, so positions are embedded."""

    num_classes: int = 3
    alphabet: str = "nucleotide"
    attention_bias: bool = False
    embedding_dim: int = 16
    hidden: int = 32
    max_length: int = 60
    conv_channels: int = 64
    conv_kernel: int = 9
    positional: bool = True
    members: int = 5  # one per cross-validation fold


@dataclass
class TfbsConfig(RecurrentConfig):
    """200-nt peak windows; a 15-nt convolution spans a factor's motif, pooling 4 shortens the GRU's input."""

    num_classes: int = 2
    alphabet: str = "nucleotide"
    attention_bias: bool = False
    embedding_dim: int = 16
    hidden: int = 32
    max_length: int = 200
    conv_channels: int = 96
    conv_kernel: int = 15
    pool: int = 4
