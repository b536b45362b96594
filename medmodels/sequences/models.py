"""Recurrent sequence classifiers: embedding, (optionally a convolution and max pooling,) a
bidirectional GRU, attention pooling and a classifier head.

``forward(tokens, return_attention=True)`` also returns the attention weight of every residue
(zero on padding, summing to one over the real residues), which the page draws under the sequence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.ensemble import HistGradientBoostingClassifier
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from medmodels.sequences.alphabet import ALPHABETS, PAD, PROTEIN, Alphabet
from medmodels.sequences.discriminator import TreeEnsemble, tree_arrays

# The protein alphabet's standard letters, in id order (the mutation scan's rows).
ALPHABET = PROTEIN.letters


def read_positions(length: int, max_length: int) -> np.ndarray:
    """Indices of the letters ``encode`` keeps of a sequence of ``length``: all, or both ends."""
    if length <= max_length:
        return np.arange(length)
    head = max_length // 2
    return np.concatenate([np.arange(head), np.arange(length - (max_length - head), length)])


# Whole-sequence features a model may read beside its letters (a transcript's ORF and codon usage), by name:
# (feature count, function from sequences to an (N, count) array). A domain registers its own.
_FEATURES: dict[str, tuple[int, Callable[[list[str]], np.ndarray]]] = {}


def register_features(name: str, count: int, compute: Callable[[list[str]], np.ndarray]) -> None:
    _FEATURES[name] = (count, compute)


def sequence_features(config: RecurrentConfig, sequences: list[str]) -> torch.Tensor | None:
    """``(N, count)`` features of whole sequences (never truncated) for a model that reads them, else None."""
    if not config.features:
        return None
    return torch.as_tensor(_FEATURES[config.features][1](sequences), dtype=torch.float32)


def model_inputs(config: RecurrentConfig, sequences: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """What a model reads of ``sequences``: token ids ``(B, L)`` (truncated to ``max_length``) and, when it
    reads them, whole-sequence features ``(B, count)``."""
    return alphabet_of(config).encode(sequences, config.max_length), sequence_features(config, sequences)


def alphabet_of(config: RecurrentConfig) -> Alphabet:
    """The alphabet a model reads (``RecurrentConfig.alphabet``)."""
    return ALPHABETS[config.alphabet]


@dataclass
class RecurrentConfig:
    num_classes: int = 2
    embedding_dim: int = 32
    hidden: int = 64  # per direction
    layers: int = 1
    dropout: float = 0.3
    max_length: int = 200  # residues kept per sequence (both ends, see ``encode``)
    # Optional convolution before the GRU (0 channels: none), then max pooling over ``pool`` residues,
    # which shortens the GRU's input ``pool``-fold: whole proteins stay affordable on a CPU.
    conv_channels: int = 0
    conv_kernel: int = 9
    pool: int = 1
    members: int = 1  # more than one: an ensemble of independently trained networks
    alphabet: str = "protein"  # a name in ``alphabet.ALPHABETS``
    # A learned embedding of each position, added to the letter's: for fixed windows whose meaning depends on
    # where a letter sits (a splice junction lies between the window's two middle bases).
    positional: bool = False
    # A bias on the attention scores changes nothing (softmax over positions ignores a shift) and never learns;
    # the protein models' shipped weights hold one, so it stays on for them.
    attention_bias: bool = True
    # Whole-sequence features (``register_features``) read by a small dense branch whose output joins the pooled
    # states before the head; "" reads the letters alone.
    features: str = ""
    feature_hidden: int = 32
    # Networks of the ensemble that read the whole-sequence features alone (``FeatureNetwork``), beside the
    # ``members`` that read the letters; their width.
    feature_members: int = 0
    feature_network_hidden: int = 512
    feature_network_dropout: float = 0.5
    # Gradient-boosted tree members on the whole-sequence features (``TreeMember``), after the networks; their
    # shape (rounds of one tree per class, at most ``tree_leaves`` leaves each) and their share of the logits.
    tree_members: int = 0
    tree_rounds: int = 150
    tree_leaves: int = 15
    tree_weight: float = 0.5


@dataclass
class LocalisationConfig(RecurrentConfig):
    """Per fold of p-scldata's 5-fold cross-validation track, a letter network that also reads the whole-protein
    features (``sequences/features.py``) through a side branch, a feature network and (version 5) boosted trees."""

    num_classes: int = 13
    # Version 4 reads the first and last 250 residues (version 3: 500 each), where most sorting signals lie; the
    # whole-protein features read all of it. See the recipe's epochs for the evidence.
    max_length: int = 500
    conv_channels: int = 64
    pool: int = 5
    members: int = 5
    features: str = "protein"
    feature_hidden: int = 64
    feature_members: int = 5
    # Version 5 adds each fold's boosted trees on the whole-protein features, weighted as much as the ten networks
    # together (see the recipe's tree settings for the evidence).
    tree_members: int = 5


class AttentionGRU(nn.Module):
    reads_letters = True  # an ensemble averages the attention of the networks that read letters

    def __init__(self, config: RecurrentConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(alphabet_of(config).size, config.embedding_dim, padding_idx=PAD)
        self.positions = nn.Embedding(config.max_length, config.embedding_dim) if config.positional else None
        self.conv = (
            nn.Conv1d(config.embedding_dim, config.conv_channels, config.conv_kernel, padding=config.conv_kernel // 2)
            if config.conv_channels
            else None
        )
        self.gru = nn.GRU(
            config.conv_channels or config.embedding_dim,
            config.hidden,
            num_layers=config.layers,
            batch_first=True,
            bidirectional=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        states = 2 * config.hidden
        self.side = None
        if config.features:
            count = _FEATURES[config.features][0]
            # Batch norm without affine terms standardises the features with training statistics kept in the weights.
            self.side = nn.Sequential(
                nn.BatchNorm1d(count, affine=False),
                nn.Linear(count, config.feature_hidden),
                nn.ReLU(),
                nn.Dropout(config.dropout),
            )
        self.attention = nn.Sequential(
            nn.Linear(states, states), nn.Tanh(), nn.Linear(states, 1, bias=config.attention_bias)
        )
        self.head = nn.Sequential(
            nn.Dropout(config.dropout),
            nn.Linear(states + (config.feature_hidden if config.features else 0), config.num_classes),
        )

    def encode_states(self, embedded: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, L, E)`` embeddings -> GRU states ``(B, P, 2H)`` and their mask ``(B, P)``, where ``P`` is
        ``L`` pooled (``ceil(L / pool)``). Padding never reaches the real residues' states."""
        mask = tokens != PAD
        if self.positions is not None:
            embedded = embedded + self.positions.weight[: tokens.shape[1]] * mask.unsqueeze(-1)
        inputs = embedded
        if self.conv is not None:
            # The padding embedding is zero, as the convolution's own padding: a sequence's features do not
            # depend on its batch. Zeroing padded outputs keeps them out of the max pool (ReLU output >= 0).
            features = F.relu(self.conv(embedded.transpose(1, 2))) * mask.unsqueeze(1)
            pool = self.config.pool
            if pool > 1:
                features = F.max_pool1d(features, pool, ceil_mode=True)
                mask = F.max_pool1d(mask.unsqueeze(1).float(), pool, ceil_mode=True).squeeze(1) > 0
            inputs = features.transpose(1, 2)
        lengths = mask.sum(dim=1).clamp(min=1).cpu()
        packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
        states, _ = pad_packed_sequence(self.gru(packed)[0], batch_first=True, total_length=inputs.shape[1])
        return states, mask

    def _per_residue(self, weights: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Pooled attention ``(B, P)`` shared equally among the real residues of each window: ``(B, L)``."""
        pool = self.config.pool if self.conv is not None else 1
        if pool == 1:
            return weights
        real = (tokens != PAD).float()
        length = tokens.shape[1]
        padded = F.pad(real, (0, weights.shape[1] * pool - length))
        per_window = padded.view(len(tokens), -1, pool).sum(dim=2).clamp(min=1)  # (B, P)
        return (weights / per_window).repeat_interleave(pool, dim=1)[:, :length] * real

    def forward_embedded(
        self, embedded: torch.Tensor, tokens: torch.Tensor, features: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and per-residue attention from given embeddings (saliency differentiates through this)."""
        states, mask = self.encode_states(embedded, tokens)  # (B, P, 2H), (B, P)
        scores = self.attention(states).squeeze(-1).masked_fill(~mask, float("-inf"))  # (B, P)
        weights = torch.softmax(scores, dim=1)  # zero on padding
        pooled = torch.bmm(weights.unsqueeze(1), states).squeeze(1)  # (B, 2H)
        if self.side is not None:
            if features is None:
                raise ValueError("this model reads whole-sequence features beside its tokens: pass features")
            pooled = torch.cat([pooled, self.side(features)], dim=1)  # (B, 2H + feature_hidden)
        return self.head(pooled), self._per_residue(weights, tokens)

    def gradient_x_input(self, tokens: torch.Tensor, target: int, features: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, L)``: gradient of the ``target`` logit times the residue embedding, summed over the embedding
        (whole-sequence features are held fixed: they are no one letter's).

        Gradients come from ``torch.autograd.grad``, so no parameter's ``.grad`` is written: the model
        may be shared between users.
        """
        with torch.inference_mode(False), torch.enable_grad():  # callers may be under inference mode
            tokens = tokens.clone()  # a tensor made under inference mode cannot join autograd; its clone can
            embedded = self.embedding(tokens).detach().requires_grad_(True)
            logits, _ = self.forward_embedded(embedded, tokens, features)
            (gradient,) = torch.autograd.grad(logits[:, target].sum(), embedded)
        return (gradient * embedded).sum(dim=-1).detach()

    @torch.no_grad()
    def shift_logits(self, offsets: torch.Tensor) -> None:
        """Add a fixed offset per class to every logit, folded into the head's bias (and so into the weights)."""
        self.head[-1].bias += offsets

    def forward(
        self, tokens: torch.Tensor, features: torch.Tensor | None = None, *, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        logits, weights = self.forward_embedded(self.embedding(tokens), tokens, features)
        return (logits, weights) if return_attention else logits


class FeatureNetwork(nn.Module):
    """A two-layer network on the whole-sequence features alone: an ensemble member that sees what the letter
    networks read only through their narrow side branch (a protein's full composition, its termini's residues).
    It reads no letter, so it has no attention and adds nothing to gradient x input."""

    reads_letters = False

    def __init__(self, config: RecurrentConfig) -> None:
        super().__init__()
        if not config.features:
            raise ValueError("a feature network needs whole-sequence features (RecurrentConfig.features)")
        self.config = config
        count = _FEATURES[config.features][0]
        self.layers = nn.Sequential(
            nn.BatchNorm1d(count, affine=False),  # standardised with training statistics kept in the weights
            nn.Dropout(config.feature_network_dropout),
            nn.Linear(count, config.feature_network_hidden),
            nn.GELU(),
            nn.Dropout(config.feature_network_dropout),
            nn.Linear(config.feature_network_hidden, config.num_classes),
        )

    def forward(self, tokens: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        if features is None:
            raise ValueError("this model reads whole-sequence features beside its tokens: pass features")
        return self.layers(features)

    def gradient_x_input(self, tokens: torch.Tensor, target: int, features: torch.Tensor | None = None) -> torch.Tensor:
        return torch.zeros(tokens.shape, dtype=torch.float32)

    @torch.no_grad()
    def shift_logits(self, offsets: torch.Tensor) -> None:
        self.layers[-1].bias += offsets


class TreeMember(nn.Module):
    """Gradient-boosted trees on the whole-sequence features (scikit-learn's ``HistGradientBoostingClassifier``,
    one tree per class per round), kept as buffers in the tensor form of ``discriminator.TreeEnsemble`` so that
    they load from safetensors with the networks. Its logits are the boosting's raw scores (log-probabilities up
    to a per-row constant). It reads no letter: no attention, nothing added to gradient x input."""

    reads_letters = False
    FIELDS = TreeEnsemble.FIELDS

    def __init__(self, config: RecurrentConfig) -> None:
        super().__init__()
        self.config = config
        classes, rounds, leaves = config.num_classes, config.tree_rounds, config.tree_leaves
        shapes = {
            "features": ((classes, rounds, leaves - 1), torch.int64),
            "thresholds": ((classes, rounds, leaves - 1), torch.float64),
            "paths": ((classes, rounds, leaves - 1, leaves), torch.float32),
            "left_turns": ((classes, rounds, leaves), torch.float32),
            "values": ((classes, rounds, leaves), torch.float32),
        }
        for field, (shape, dtype) in shapes.items():
            self.register_buffer(field, torch.zeros(shape, dtype=dtype))
        self.register_buffer("baseline", torch.zeros(classes, dtype=torch.float64))

    @torch.no_grad()
    def set_trees(self, model: HistGradientBoostingClassifier) -> None:
        """Copy a fitted classifier's trees in (``config.tree_rounds`` rounds of at most ``tree_leaves`` leaves)."""
        rounds, leaves = self.config.tree_rounds, self.config.tree_leaves
        for k in range(self.config.num_classes):
            trees = tree_arrays(model, k, shape=(rounds, leaves - 1, leaves))
            for field in self.FIELDS:
                getattr(self, field)[k] = torch.from_numpy(getattr(trees, field))
        self.baseline.copy_(torch.from_numpy(np.ravel(model._baseline_prediction).astype(np.float64)))

    def forward(self, tokens: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        if features is None:
            raise ValueError("this model reads whole-sequence features beside its tokens: pass features")
        rows = features.detach().double().cpu().numpy()
        scores = [
            TreeEnsemble(*(getattr(self, field)[k].numpy() for field in self.FIELDS)).decision(rows)
            for k in range(self.config.num_classes)
        ]
        return (torch.from_numpy(np.stack(scores, axis=1)) + self.baseline).float()

    def gradient_x_input(self, tokens: torch.Tensor, target: int, features: torch.Tensor | None = None) -> torch.Tensor:
        return torch.zeros(tokens.shape, dtype=torch.float32)

    @torch.no_grad()
    def shift_logits(self, offsets: torch.Tensor) -> None:
        self.baseline += offsets.double()


class SequenceEnsemble(nn.Module):
    """Networks trained one by one (different seeds, losses or folds); the ensemble's logits and gradient x
    input are the means of theirs, its attention the mean over the networks that read letters (so it still
    sums to one over the real residues)."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.config = members[0].config
        self.networks = [member for member in members if not isinstance(member, TreeMember)]
        self.trees = [member for member in members if isinstance(member, TreeMember)]

    def forward(
        self, tokens: torch.Tensor, features: torch.Tensor | None = None, *, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        outputs = [member(tokens, features, return_attention=True) for member in self.members if member.reads_letters]
        feature_logits = [member(tokens, features) for member in self.networks if not member.reads_letters]
        logits = torch.stack([logits for logits, _ in outputs] + feature_logits).mean(dim=0)
        if self.trees:
            tree_logits = torch.stack([member(tokens, features) for member in self.trees]).mean(dim=0)
            logits = (1 - self.config.tree_weight) * logits + self.config.tree_weight * tree_logits
        if not return_attention:
            return logits
        return logits, torch.stack([weights for _, weights in outputs]).mean(dim=0)

    def gradient_x_input(self, tokens: torch.Tensor, target: int, features: torch.Tensor | None = None) -> torch.Tensor:
        # Each member's logit depends on its own embeddings only, so the mean logit's gradient x input
        # over all members' embeddings is the mean of the networks' values (trees read no letter).
        values = torch.stack([member.gradient_x_input(tokens, target, features) for member in self.networks])
        return (1 - self.config.tree_weight if self.trees else 1.0) * values.mean(dim=0)

    def shift_logits(self, offsets: torch.Tensor) -> None:
        for member in self.members:
            member.shift_logits(offsets)


def recurrent_model(config: RecurrentConfig) -> nn.Module:
    """One network, or an ensemble of ``config.members`` letter networks, ``config.feature_members`` feature
    networks and ``config.tree_members`` tree members (in that order)."""
    if config.members == 1 and not config.feature_members and not config.tree_members:
        return AttentionGRU(config)
    return SequenceEnsemble(
        [AttentionGRU(config) for _ in range(config.members)]
        + [FeatureNetwork(config) for _ in range(config.feature_members)]
        + [TreeMember(config) for _ in range(config.tree_members)]
    )


def example_tokens(config: RecurrentConfig, batch_size: int) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Random token ids (one shorter sequence, so padding is exercised), with random whole-sequence features
    for a model that reads them."""
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(1, alphabet_of(config).size, (batch_size, 30), generator=generator)
    tokens[0, 20:] = PAD
    if not config.features:
        return tokens
    return tokens, torch.rand(batch_size, _FEATURES[config.features][0], generator=generator)


LOCALISATION_LABELS = (
    "Cytoplasm",
    "Plastid",
    "Secreted",
    "Mitochondrion",
    "Membrane",
    "Peroxisome",
    "Nucleus",
    "Cell projection",
    "ER",
    "Cytoplasm;Nucleus",
    "Centrosome;Cytoplasm;Cytoskeleton;Microtubule organizing center",
    "Cytoplasm;Membrane",
    "Cytoplasm;Cytoskeleton",
)  # p-scldata's label index order (labels.json)
