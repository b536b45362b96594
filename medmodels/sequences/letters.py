"""Letters as indices, per-sequence letter counts, and the reference sets applicability checks are measured on
(shuffled and uniformly random sequences); shared by the checks and their learned part."""

from __future__ import annotations

from functools import cache

import numpy as np


@cache
def _lookup(letters: str) -> np.ndarray:
    lookup = np.full(256, -1, dtype=np.int64)
    lookup[np.frombuffer(letters.encode(), dtype=np.uint8)] = np.arange(len(letters))
    return lookup


def _codes(sequence: str, letters: str) -> np.ndarray:
    """Letter indices; -1 for a letter outside ``letters`` (an ambiguity code), which no context includes."""
    return _lookup(letters)[np.frombuffer(sequence.encode("ascii", "replace"), dtype=np.uint8)]


def joined_codes(sequences: list[str], letters: str) -> tuple[np.ndarray, np.ndarray]:
    """Every sequence's letter indices end to end, and the index of the sequence each position belongs to."""
    codes = _codes("".join(sequences), letters)
    owner = np.repeat(np.arange(len(sequences)), [len(sequence) for sequence in sequences])
    return codes, owner


def letter_counts(sequences: list[str], letters: str) -> np.ndarray:
    """``(N, A)`` counts of each standard letter per sequence."""
    codes, owner = joined_codes(sequences, letters)
    known = codes >= 0
    flat = np.bincount(owner[known] * len(letters) + codes[known], minlength=len(sequences) * len(letters))
    return flat.reshape(len(sequences), len(letters)).astype(float)


def positions_in_sequence(sequences: list[str], owner: np.ndarray) -> np.ndarray:
    """For ``joined_codes``' positions, each one's place in its own sequence (0 for its first letter)."""
    starts = np.cumsum([0] + [len(sequence) for sequence in sequences[:-1]])
    return np.arange(len(owner)) - starts[owner]


def letter_windows(sequences: list[str], letters: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every run of ``k`` standard letters inside one sequence, all sequences at once (a batch of 10,000 peptides
    would otherwise spend its time in a loop over sequences): the index of its sequence, and its ``(M, k)``
    letter indices."""
    codes, owner = joined_codes(sequences, letters)
    if len(codes) < k:
        return np.empty(0, dtype=np.int64), np.empty((0, k), dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(codes, k)
    valid = (windows >= 0).all(axis=1) & (owner[: len(windows)] == owner[k - 1 :])
    return owner[: len(windows)][valid], windows[valid]


def word_counts(sequences: list[str], letters: str, k: int) -> np.ndarray:
    """``(N, A^k)`` counts of each word of ``k`` standard letters per sequence (overlapping; a word with a letter
    outside ``letters`` counts in none); word index = sum of letter index x A^position."""
    size = len(letters) ** k
    rows, windows = letter_windows(sequences, letters, k)
    words = windows @ (len(letters) ** np.arange(k))
    flat = np.bincount(rows * size + words, minlength=len(sequences) * size)
    return flat.reshape(len(sequences), size).astype(float)


def shuffled(sequences: list[str], seed: int = 0) -> list[str]:
    """Each sequence with its letters in a random order (composition kept): the check's first reference set."""
    rng = np.random.default_rng(seed)
    return ["".join(rng.permutation(list(sequence))) for sequence in sequences]


def random_sequences(letters: str, lengths: list[int], seed: int = 0) -> list[str]:
    """Uniformly random sequences of the given lengths: the check's second reference set."""
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list(letters), size=length)) for length in lengths]


def tandem_repeats(letters: str, lengths: list[int], seed: int = 0) -> list[str]:
    """Tandem repeats of a random unit of 1 to 4 letters (poly-A, ATATAT..., KLAKKLAK...), one per length: the
    check's low-complexity reference set."""
    rng = np.random.default_rng(seed)
    units = ["".join(rng.choice(list(letters), size=rng.integers(1, 5))) for _ in lengths]
    return [(unit * (length // len(unit) + 1))[:length] for unit, length in zip(units, lengths)]
