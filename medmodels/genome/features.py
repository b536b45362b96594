"""Whole-transcript features that join the lncRNA network beside its convolutional branch: what coding-potential
tools (CPAT, LncFinder) read, computed on the full sequence however long it is.

- k-mer composition: the share of each 1- to 4-mer among the transcript's k-mers (4 + 16 + 64 + 256);
- codon usage inside the longest open reading frame (Biopython's translation finds it): the share of each of
  the 64 codons, read in frame;
- the ORF itself: log length, share of the transcript it covers, and the log transcript length.

On validation, a one-layer MLP on these 407 features reached ROC AUC 0.951; with 1- to 5-mers and in-frame
hexamers (5,463 features, CPAT's raw material) 0.919-0.932: the larger set overfits 7,560 transcripts.
"""

from __future__ import annotations

import numpy as np

from medmodels.genome.baseline import longest_orf

KMER_SIZES = (1, 2, 3, 4)
CODON = 3
_LOOKUP = np.full(256, -1, dtype=np.int64)
_LOOKUP[np.frombuffer(b"ACGT", dtype=np.uint8)] = np.arange(4)
FEATURE_COUNT = sum(4**k for k in KMER_SIZES) + 4**CODON + 3


def _shares(codes: np.ndarray, k: int, step: int = 1) -> np.ndarray:
    """Shares of each k-mer (4^k) starting every ``step`` letters; k-mers holding an unknown base are skipped."""
    counts = np.zeros(4**k)
    if len(codes) >= k:
        windows = np.lib.stride_tricks.sliding_window_view(codes, k)[::step]
        windows = windows[(windows >= 0).all(axis=1)]
        if len(windows):
            np.add.at(counts, windows @ (4 ** np.arange(k)[::-1]), 1)
    return counts / max(counts.sum(), 1.0)


def transcript_features(sequences: list[str]) -> np.ndarray:
    """``(N, FEATURE_COUNT)`` float32 features of whole transcripts (see the module docstring)."""
    rows = np.zeros((len(sequences), FEATURE_COUNT), dtype=np.float32)
    for row, sequence in enumerate(sequences):
        codes = _LOOKUP[np.frombuffer(sequence.encode("ascii", "replace"), dtype=np.uint8)]
        orf = longest_orf(sequence)
        frame = codes[orf.start : orf.start + orf.length] if orf.length else codes[:0]
        rows[row] = np.concatenate(
            [
                *(_shares(codes, k) for k in KMER_SIZES),
                _shares(frame, CODON, step=3),
                [np.log1p(orf.length), orf.length / max(len(sequence), 1), np.log(max(len(sequence), 1))],
            ]
        )
    return rows
