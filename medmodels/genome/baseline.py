"""The baselines each genome model is scored beside, in the same run and on the same splits:

- ``one-hot``: logistic regression on the one-hot bases of a fixed-length window (``genome.splice``);
- ``k-mer``: logistic regression on k-mer frequencies, optionally counting both strands (``genome.tfbs``,
  ``genome.lncrna``);
- ``orf``: logistic regression on the longest open reading frame's length and coverage (``genome.lncrna``).

Each picks its regularisation ``C`` on validation (or, without a validation split, by cross-validation over
train) and is refitted on train.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from Bio.Seq import Seq
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from medmodels.sequences.data import SequenceSet

C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
STOP_CODONS = ("TAA", "TAG", "TGA")


def reverse_complement(sequence: str) -> str:
    """The other strand, read 5' to 3' (N stays N; other letters are complemented as N)."""
    return sequence.translate(_COMPLEMENT)[::-1]


def one_hot(sequences: list[str]) -> np.ndarray:
    """``(N, 4 L)``: A, C, G, T indicators per position (any other letter: all zero)."""
    letters = np.frombuffer("".join(sequences).encode(), dtype=np.uint8).reshape(len(sequences), -1)
    return np.concatenate([(letters == ord(base)) for base in "ACGT"], axis=1).astype(np.float32)


def _frequencies(counts):  # per sequence: counts -> shares of its k-mers
    counts = counts.toarray().astype(np.float32)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)


def _both_strands(sequences):  # a k-mer counts wherever it occurs on either strand
    return [f"{s} {reverse_complement(s)}" for s in sequences]


def kmer_pipeline(c: float, k: tuple[int, int], both_strands: bool) -> Pipeline:
    steps = [FunctionTransformer(_both_strands)] if both_strands else []
    return make_pipeline(
        *steps,
        CountVectorizer(analyzer="char", ngram_range=k, lowercase=False, token_pattern=None, dtype=np.float32),
        FunctionTransformer(_frequencies, accept_sparse=True),
        StandardScaler(),
        LogisticRegression(C=c, max_iter=3000),
    )


@dataclass(frozen=True)
class OrfFeatures:
    """The longest open reading frame (ATG to a stop codon, on the given strand, any of three frames)."""

    start: int  # 0-based position of its ATG; -1 when there is none
    length: int  # in nucleotides, stop codon included (0 when there is none)

    def coverage(self, sequence_length: int) -> float:
        return self.length / max(sequence_length, 1)


def longest_orf(sequence: str) -> OrfFeatures:
    """The longest ATG-initiated reading frame that ends in a stop codon, found through Biopython's translation
    of each frame (``*`` marks stops); a frame that runs off the end without a stop does not count."""
    best = OrfFeatures(-1, 0)
    for frame in range(3):
        usable = (len(sequence) - frame) // 3 * 3
        if usable < 3:
            continue
        protein = str(Seq(sequence[frame : frame + usable]).translate())
        position = 0
        for piece in protein.split("*")[:-1]:  # the last piece has no stop after it
            methionine = piece.find("M")
            if methionine >= 0 and (len(piece) - methionine + 1) * 3 > best.length:
                best = OrfFeatures(frame + 3 * (position + methionine), (len(piece) - methionine + 1) * 3)
            position += len(piece) + 1
    return best


def orf_features(sequences: list[str]) -> np.ndarray:
    """``(N, 3)``: log longest-ORF length, its share of the transcript, and log transcript length."""
    rows = []
    for sequence in sequences:
        orf = longest_orf(sequence)
        rows.append((np.log1p(orf.length), orf.coverage(len(sequence)), np.log(len(sequence))))
    return np.asarray(rows, dtype=np.float64)


def orf_pipeline(c: float) -> Pipeline:
    return make_pipeline(FunctionTransformer(orf_features), StandardScaler(), LogisticRegression(C=c, max_iter=3000))


def one_hot_pipeline(c: float) -> Pipeline:
    return make_pipeline(FunctionTransformer(one_hot), LogisticRegression(C=c, max_iter=3000))


def _score(pipeline: Pipeline, data: SequenceSet) -> float:
    probabilities = pipeline.predict_proba(data.sequences)
    if probabilities.shape[1] == 2:
        return float(roc_auc_score(data.labels, probabilities[:, 1]))
    return float((probabilities.argmax(axis=1) == data.labels).mean())


def fit_baseline(make, train: SequenceSet, validation: SequenceSet | None, seed: int = 0) -> tuple[Pipeline, float]:
    """``make(C)`` with the ``C`` that scores best on ``validation`` (ROC AUC, or accuracy for several classes),
    or by 5-fold cross-validation over ``train`` without one; refitted on train. Returns it and ``C``."""
    if validation is not None:
        best = max(C_GRID, key=lambda c: _score(make(c).fit(train.sequences, train.labels), validation))
    else:
        folds = StratifiedKFold(5, shuffle=True, random_state=seed)
        scoring = "roc_auc" if len(train.label_names) == 2 else "accuracy"
        best = max(
            C_GRID,
            key=lambda c: cross_val_score(make(c), train.sequences, train.labels, cv=folds, scoring=scoring).mean(),
        )
    return make(best).fit(train.sequences, train.labels), best
