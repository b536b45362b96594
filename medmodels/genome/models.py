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


@dataclass
class LncrnaConfig(RecurrentConfig):
    """Transcripts read two ways: their first and last 125 bases through a 9-nt convolution pooled 8-fold into
    the GRU, and whole-transcript features (``genome.features``: k-mers, codon usage in the longest ORF, the
    ORF's size) through a dense branch, joined before the head.

    Chosen on validation ROC AUC among six variants, 8 epochs each: the bases read 1,500 / 1,000 / 500 / 250
    gave 0.935 / 0.937 / 0.944 / 0.953 (the longer the window, the more the convolutional branch overfits
    7,560 transcripts; the features carry the ORF and codon usage of the whole transcript); dropout 0.5 and
    weight decay 0.05 from the same comparison. The bases network alone, 3,000 bases, 10 epochs: 0.907."""

    num_classes: int = 2
    alphabet: str = "nucleotide"
    attention_bias: bool = False
    embedding_dim: int = 16
    hidden: int = 32
    dropout: float = 0.5
    max_length: int = 250
    conv_channels: int = 64
    conv_kernel: int = 9
    pool: int = 8
    features: str = "transcript"
    feature_hidden: int = 64
