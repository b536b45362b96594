"""Recurrent sequence classifiers: embedding, bidirectional GRU, attention pooling, classifier head.

``forward(tokens, return_attention=True)`` also returns the attention weight of every residue
(zero on padding, summing to one over the real residues), which the page draws under the sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from medmodels.registry import register_model

PAD = 0
# Index 0 pads; then the 20 standard residues; then one token for anything else in the training data
# (B, Z, J, X). U and O are mapped to C and K before encoding, as the input policy does for users.
ALPHABET = "ACDEFGHIKLMNPQRSTVWY"
UNKNOWN = len(ALPHABET) + 1
VOCAB_SIZE = len(ALPHABET) + 2
_INDEX = {letter: i + 1 for i, letter in enumerate(ALPHABET)}
_INDEX.update(U=_INDEX["C"], O=_INDEX["K"])


def encode(sequences: list[str], max_length: int) -> torch.Tensor:
    """``(B, L)`` token ids, padded with 0 to the longest sequence (at most ``max_length``).

    A longer sequence keeps its first and last ``max_length // 2`` residues: sorting signals sit
    at the ends of a protein.
    """
    if not sequences:
        raise ValueError("no sequences to encode")
    clipped = [s if len(s) <= max_length else s[: max_length // 2] + s[len(s) - (max_length - max_length // 2) :] for s in sequences]
    tokens = torch.zeros(len(clipped), max(len(s) for s in clipped), dtype=torch.long)
    for row, sequence in enumerate(clipped):
        tokens[row, : len(sequence)] = torch.tensor([_INDEX.get(letter, UNKNOWN) for letter in sequence], dtype=torch.long)
    return tokens


@dataclass
class RecurrentConfig:
    num_classes: int = 2
    embedding_dim: int = 32
    hidden: int = 64  # per direction
    layers: int = 1
    dropout: float = 0.3
    max_length: int = 200  # residues kept per sequence (both ends, see ``encode``)


class AttentionGRU(nn.Module):
    def __init__(self, config: RecurrentConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(VOCAB_SIZE, config.embedding_dim, padding_idx=PAD)
        self.gru = nn.GRU(
            config.embedding_dim,
            config.hidden,
            num_layers=config.layers,
            batch_first=True,
            bidirectional=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        states = 2 * config.hidden
        self.attention = nn.Sequential(nn.Linear(states, states), nn.Tanh(), nn.Linear(states, 1))
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(states, config.num_classes))

    def encode_states(self, embedded: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, L, E)`` embeddings -> ``(B, L, 2H)`` GRU states; padding never reaches the real residues."""
        lengths = (tokens != PAD).sum(dim=1).clamp(min=1).cpu()
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        states, _ = pad_packed_sequence(self.gru(packed)[0], batch_first=True, total_length=tokens.shape[1])
        return states

    def forward_embedded(self, embedded: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and attention from given embeddings (saliency differentiates through this)."""
        states = self.encode_states(embedded, tokens)  # (B, L, 2H)
        scores = self.attention(states).squeeze(-1)  # (B, L)
        scores = scores.masked_fill(tokens == PAD, float("-inf"))
        weights = torch.softmax(scores, dim=1)  # (B, L), zero on padding
        pooled = torch.bmm(weights.unsqueeze(1), states).squeeze(1)  # (B, 2H)
        return self.head(pooled), weights

    def forward(self, tokens: torch.Tensor, return_attention: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        logits, weights = self.forward_embedded(self.embedding(tokens), tokens)
        return (logits, weights) if return_attention else logits


def example_tokens(config: RecurrentConfig, batch_size: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(1, VOCAB_SIZE, (batch_size, 30), generator=generator)
    tokens[0, 20:] = PAD  # one shorter sequence, so padding is exercised
    return tokens


@register_model(
    "sequence.amp",
    config=RecurrentConfig,
    task="antimicrobial peptide screening",
    labels=("not antimicrobial", "antimicrobial"),
    summary="Bidirectional GRU with attention pooling: antimicrobial vs not (modlamp AMP vs UniProt).",
    example_input=example_tokens,
)
def amp_gru(config: RecurrentConfig) -> nn.Module:
    return AttentionGRU(config)


@register_model(
    "sequence.anticancer",
    config=RecurrentConfig,
    task="anticancer peptide screening",
    labels=("not anticancer", "anticancer"),
    summary="Bidirectional GRU with attention pooling: anticancer vs not (modlamp CancerPPD sets).",
    example_input=example_tokens,
)
def anticancer_gru(config: RecurrentConfig) -> nn.Module:
    return AttentionGRU(config)
