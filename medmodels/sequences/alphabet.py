"""Alphabets: how letters become token ids, kept apart from the models that read them (ESM's habit).

Every alphabet pads with id 0, gives its standard letters ids 1..n in order, and one id (n + 1) to any other
letter the training data held. Letters that stand for a standard one are read as it (``read_as``): the input
policies (``parsing``) map them for users with a notice, and the alphabet maps them the same way, so a
model never sees a letter its policy would have refused silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

PAD = 0


@dataclass(frozen=True)
class Alphabet:
    name: str
    letters: str  # the standard letters, ids 1..len(letters)
    unit: str  # what one letter is called in messages: "residues", "bases"
    read_as: Mapping[str, str] = field(default_factory=dict)  # letter -> the standard letter it is read as

    @property
    def unknown(self) -> int:
        """The id of any letter that is neither standard nor read as one (ambiguity codes in training data)."""
        return len(self.letters) + 1

    @property
    def size(self) -> int:
        """Rows an embedding over this alphabet needs: padding, the letters, the unknown token."""
        return len(self.letters) + 2

    def index(self, letter: str) -> int:
        letter = self.read_as.get(letter, letter)
        position = self.letters.find(letter) if len(letter) == 1 else -1
        return position + 1 if position >= 0 else self.unknown

    def encode(self, sequences: list[str], max_length: int) -> torch.Tensor:
        """``(B, L)`` token ids, padded with ``PAD`` to the longest sequence (at most ``max_length``).

        A longer sequence keeps its first and last ``max_length // 2`` letters (``read_positions``)."""
        if not sequences:
            raise ValueError("no sequences to encode")
        ids = {letter: self.index(letter) for letter in set().union(*map(set, sequences))}
        clipped = [
            s if len(s) <= max_length else s[: max_length // 2] + s[len(s) - (max_length - max_length // 2) :]
            for s in sequences
        ]
        tokens = torch.zeros(len(clipped), max(len(s) for s in clipped), dtype=torch.long)
        for row, sequence in enumerate(clipped):
            tokens[row, : len(sequence)] = torch.tensor([ids[letter] for letter in sequence], dtype=torch.long)
        return tokens


# U (selenocysteine) and O (pyrrolysine) are read as their closest standard residues, C and K.
PROTEIN = Alphabet("protein", "ACDEFGHIKLMNPQRSTVWY", "residues", {"U": "C", "O": "K"})
# RNA's U is DNA's T: one alphabet serves both. N and the IUPAC ambiguity codes are the unknown token.
NUCLEOTIDE = Alphabet("nucleotide", "ACGT", "bases", {"U": "T"})
ALPHABETS = {alphabet.name: alphabet for alphabet in (PROTEIN, NUCLEOTIDE)}
