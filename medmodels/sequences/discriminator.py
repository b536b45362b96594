"""A learned part for an applicability check: trees that tell the training sequences from random letters.

A peptide of 10 to 40 residues carries too few letters for a composition distance to tell it from uniformly
random letters when the training set's own negatives are UniProt peptides of near-uniform composition
(``benchmarks/peptide_domain.py``). Gradient-boosted trees trained to tell the training peptides from uniformly
random peptides of the same lengths read more of what little there is: letter shares, length, how skewed and
how repetitive the letters are, hydrophobic periodicity, charge, residue-group pairs, and the first and last
residue (over half of the UniProt negatives start with methionine; antimicrobial peptides mostly start with
glycine or phenylalanine and often end in cysteine, where a random peptide starts with any of 20).

A 60-base splice window is as short, and genomic letter statistics as weak: the trees for nucleotides read the
shares of words of 1 to 3 bases (CpG is rare in vertebrate DNA) and the base at each position of a window of one
length (a real window has its junction, or its lack of one, in the middle), and are trained against shuffled
training windows as well as random ones.

The trees are fitted with scikit-learn's ``HistGradientBoostingClassifier`` and stored as arrays in the check's
safetensors file, never pickled. Walking a hundred trees node by node for each of a million peptides would cost the
batch runner its speed, so each tree is written as three small matrices (the tensor form of Nakandala et al.,
OSDI 2020, "Hummingbird"): the feature and threshold of each internal node; for each leaf, which internal
nodes lie above it and on which side; and the leaf values. A batch is then one gather, one comparison and two
batched matrix products, whatever the trees' depth. Reading the fitted trees uses scikit-learn's ``_predictors``
(the pinned 1.9.1); ``tests/sequences/test_discriminator.py`` checks the arrays reproduce its
``decision_function``, so a changed layout fails there, not silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingClassifier

from medmodels.sequences.letters import joined_codes, letter_counts, positions_in_sequence, shuffled, word_counts

ROWS_PER_CHUNK = 2048  # bounds memory: rows x trees x leaves float32 values per chunk
RANDOM_PER_SEQUENCE = 8  # uniformly random sequences drawn per training sequence, at its length (default)
TREES = 600  # at most: scikit-learn stops early on a tenth of the rows held out (52 trees for genome.splice)
LEARNING_RATE = 0.15  # default

# Eisenberg consensus hydrophobicity (J Mol Biol 179:125, 1984); charge at neutral pH (histidine mostly neutral).
_EISENBERG = {
    "A": 0.62, "R": -2.53, "N": -0.78, "D": -0.90, "C": 0.29, "Q": -0.85, "E": -0.74, "G": 0.48, "H": -0.40,
    "I": 1.38, "L": 1.06, "K": -1.50, "M": 0.64, "F": 1.19, "P": 0.12, "S": -0.18, "T": -0.05, "W": 0.81,
    "Y": 0.26, "V": 1.08,
}  # fmt: skip
_CHARGE = {"K": 1.0, "R": 1.0, "D": -1.0, "E": -1.0, "H": 0.1}
# Four residue groups for pair shares: hydrophobic, polar or small, basic, acidic.
_GROUPS = ("AILMFVW", "STNQGPCY", "KRH", "DE")
HELIX_ANGLES = (100, 160, 180)  # degrees per residue: alpha helix; two for the alternation of a beta strand
LAGS = (1, 2, 3, 4)
NUCLEOTIDE_WORDS = (1, 2, 3)  # word lengths whose shares the nucleotide trees read (84 shares)


def _tables(letters: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    hydrophobicity = np.array([_EISENBERG[letter] for letter in letters])
    charge = np.array([_CHARGE.get(letter, 0.0) for letter in letters])
    group = np.array([next(g for g, members in enumerate(_GROUPS) if letter in members) for letter in letters])
    return hydrophobicity, charge, group


def peptide_features(sequences: list[str], letters: str) -> np.ndarray:
    """``(N, 94)`` per peptide: letter shares (20) and log length; the entropy of the shares, distinct letters
    over min(length, 20), the largest share; hydrophobic moments at 100, 160 and 180 degrees, mean
    hydrophobicity, net and absolute charge per residue; at lags 1-4 the mean hydrophobicity product and the
    share of identical letters; residue-group pair shares (16); the first and the last letter one-hot (40).
    Letters outside ``letters`` (the 20 amino acids) count in nothing but the position."""
    count = len(sequences)
    codes, owner = joined_codes(sequences, letters)
    known = codes >= 0
    safe = np.where(known, codes, 0)
    hydrophobicity, charge, group = _tables(letters)
    position = positions_in_sequence(sequences, owner)
    h = np.where(known, hydrophobicity[safe], 0.0)
    q = np.where(known, charge[safe], 0.0)

    counts = letter_counts(sequences, letters)
    totals = np.maximum(counts.sum(axis=1), 1)
    shares = counts / totals[:, None]
    columns = [shares, np.log(totals)[:, None]]
    logs = np.log(np.where(shares > 0, shares, 1.0))
    columns += [-(shares * logs).sum(axis=1), (counts > 0).sum(axis=1) / np.minimum(totals, 20), shares.max(axis=1)]
    for angle in HELIX_ANGLES:
        radians = np.deg2rad(angle) * position
        x = np.bincount(owner, h * np.cos(radians), count)
        y = np.bincount(owner, h * np.sin(radians), count)
        columns.append(np.hypot(x, y) / totals)
    columns += [np.bincount(owner, h, count) / totals, np.bincount(owner, q, count) / totals]
    columns.append(np.bincount(owner, np.abs(q), count) / totals)
    for lag in LAGS:
        # Position i paired with i + lag of the same peptide.
        same = owner == _ahead(owner, lag, -1)
        columns.append(np.bincount(owner, np.where(same, h * _ahead(h, lag, 0.0), 0.0), count) / totals)
        columns.append(
            np.bincount(owner, (same & known & (codes == _ahead(codes, lag, -1))).astype(float), count) / totals
        )
    following = _ahead(codes, 1, -1)
    both = (owner == _ahead(owner, 1, -1)) & known & (following >= 0)
    index = group[safe] * len(_GROUPS) + group[np.where(following >= 0, following, 0)]
    flat = np.bincount(owner[both] * len(_GROUPS) ** 2 + index[both], minlength=count * len(_GROUPS) ** 2)
    columns.append(flat.reshape(count, -1) / np.maximum(totals - 1, 1)[:, None])
    columns.append(letter_counts([s[:1] for s in sequences], letters))
    columns.append(letter_counts([s[-1:] for s in sequences], letters))
    return np.column_stack(columns)


def nucleotide_features(sequences: list[str], letters: str, positions: int = 0) -> np.ndarray:
    """``(N, 85 + 4 x positions)`` per sequence: the shares of its words of 1, 2 and 3 bases, log length, and
    the base at each of its first ``positions`` positions one-hot (zeros past its end, or for an ambiguous base)."""
    columns = []
    for k in NUCLEOTIDE_WORDS:
        counts = word_counts(sequences, letters, k)
        columns.append(counts / np.maximum(counts.sum(axis=1, keepdims=True), 1))
    columns.append(np.log(np.maximum([len(s) for s in sequences], 1))[:, None])
    if positions:
        codes, owner = joined_codes(sequences, letters)
        position = positions_in_sequence(sequences, owner)
        keep = (position < positions) & (codes >= 0)
        one_hot = np.zeros((len(sequences), positions, len(letters)))
        one_hot[owner[keep], position[keep], codes[keep]] = 1.0
        columns.append(one_hot.reshape(len(sequences), -1))
    return np.column_stack(columns)


def discriminator_features(sequences: list[str], letters: str, positions: int = 0) -> np.ndarray:
    """The learned part's feature rows: ``peptide_features`` for the 20 amino acids, ``nucleotide_features``
    for bases."""
    if len(letters) == len(_EISENBERG):  # by size: A, C, G and T are amino-acid letters too
        return peptide_features(sequences, letters)
    return nucleotide_features(sequences, letters, positions)


def _ahead(values: np.ndarray, lag: int, fill: float) -> np.ndarray:
    """``values`` moved ``lag`` places earlier (position i holds i + lag), the last ``lag`` places ``fill``."""
    return np.r_[values[lag:], np.full(lag, fill, values.dtype)][: len(values)]


@dataclass(frozen=True)
class TreeEnsemble:
    """``T`` trees of at most ``I`` internal nodes and ``L`` leaves. A row goes left at a node when its feature is
    <= the threshold. Leaf ``l`` of tree ``t`` is reached when the sum over nodes of ``paths[t, i, l]`` (+1 if the
    leaf lies left of node ``i``, -1 if right, 0 if not below it) times "went left" equals ``left_turns[t, l]``,
    the count of its +1s; a padding leaf (-1) is never reached."""

    features: np.ndarray  # (T, I) int64
    thresholds: np.ndarray  # (T, I) float64
    paths: np.ndarray  # (T, I, L) float32
    left_turns: np.ndarray  # (T, L) float32
    values: np.ndarray  # (T, L) float32: leaf values (the learning rate included)

    FIELDS = ("features", "thresholds", "paths", "left_turns", "values")

    def decision(self, rows: np.ndarray) -> np.ndarray:
        """``(N,)`` the summed leaf values for ``(N, F)`` feature rows: the classifier's log-odds that a row is a
        training sequence, less its constant (a check's threshold is set on these same sums)."""
        features, thresholds, paths, left_turns, values = (torch.from_numpy(getattr(self, f)) for f in self.FIELDS)
        sums = [torch.zeros(0, dtype=torch.float64)]
        with torch.inference_mode():
            for start in range(0, len(rows), ROWS_PER_CHUNK):
                chunk = torch.from_numpy(np.asarray(rows[start : start + ROWS_PER_CHUNK], np.float64))
                went_left = (chunk[:, features] <= thresholds).float().transpose(0, 1)  # (T, N, I)
                reached = (torch.bmm(went_left, paths) == left_turns[:, None, :]).float()  # (T, N, L)
                sums.append(torch.bmm(reached, values[:, :, None]).sum(dim=0)[:, 0].double())
        return torch.cat(sums).numpy()

    def tensors(self, prefix: str) -> dict[str, torch.Tensor]:
        return {f"{prefix}.{f}": torch.from_numpy(np.ascontiguousarray(getattr(self, f))) for f in self.FIELDS}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], prefix: str) -> TreeEnsemble:
        return cls(*(tensors[f"{prefix}.{f}"].numpy() for f in cls.FIELDS))


def tree_arrays(
    model: HistGradientBoostingClassifier, class_index: int = 0, shape: tuple[int, int, int] | None = None
) -> TreeEnsemble:
    """A fitted ``HistGradientBoostingClassifier`` (numeric features, no missing values) as arrays: a binary one's
    trees, or a multiclass one's trees for class ``class_index`` (scikit-learn grows one tree per class per round).
    ``shape``: (trees, internal nodes, leaves) to pad to, so that fits of one setting share one shape (a padding
    node sends every row left; a padding leaf or tree is never reached); by default, the fitted trees' own."""
    trees = [predictors[class_index].nodes for predictors in model._predictors]
    internal = max(1, max(int((~nodes["is_leaf"].astype(bool)).sum()) for nodes in trees))
    leaves = max(int(nodes["is_leaf"].sum()) for nodes in trees)
    count = len(trees)
    if shape is not None:
        if count > shape[0] or internal > shape[1] or leaves > shape[2]:
            raise ValueError(f"{count} trees of {internal} nodes and {leaves} leaves exceed the shape {shape}")
        count, internal, leaves = shape
    features = np.zeros((count, internal), np.int64)
    thresholds = np.full((count, internal), np.inf)
    paths = np.zeros((count, internal, leaves), np.float32)
    left_turns = np.full((count, leaves), -1.0, np.float32)
    values = np.zeros((count, leaves), np.float32)
    for t, nodes in enumerate(trees):
        internal_slots = leaf_slots = 0
        stack: list[tuple[int, list[tuple[int, float]]]] = [(0, [])]  # node, its ancestors' (slot, side)
        while stack:
            node, ancestors = stack.pop()
            if nodes["is_leaf"][node]:
                for slot, side in ancestors:
                    paths[t, slot, leaf_slots] = side
                left_turns[t, leaf_slots] = sum(side > 0 for _, side in ancestors)
                values[t, leaf_slots] = nodes["value"][node]
                leaf_slots += 1
                continue
            slot, internal_slots = internal_slots, internal_slots + 1
            features[t, slot] = nodes["feature_idx"][node]
            thresholds[t, slot] = nodes["num_threshold"][node]
            stack.append((int(nodes["right"][node]), [*ancestors, (slot, -1.0)]))
            stack.append((int(nodes["left"][node]), [*ancestors, (slot, 1.0)]))
    return TreeEnsemble(features, thresholds, paths, left_turns, values)


def fit_random_discriminator(
    sequences: list[str],
    letters: str,
    seed: int = 0,
    shuffles: int = 0,
    positions: int = 0,
    random_per_sequence: int = RANDOM_PER_SEQUENCE,
    learning_rate: float = LEARNING_RATE,
) -> TreeEnsemble:
    """Trees scoring how much more a sequence looks like ``sequences`` than like uniformly random letters of
    their lengths (``random_per_sequence`` random sequences per training one) and, with ``shuffles``, that many
    shuffles of each training sequence; classes weighted equally. ``positions``: how many leading positions
    nucleotide features read base by base. A lower ``learning_rate`` grows more trees before early stopping."""
    return _fit_random_discriminator(
        tuple(sequences), letters, seed, shuffles, positions, random_per_sequence, learning_rate
    )


# A check's order is chosen by refitting it per order on each fold, and the trees do not depend on the order:
# five cross-validation folds of five inner folds each, plus the fit on all, are 36 sets of trees.
@lru_cache(maxsize=64)
def _fit_random_discriminator(
    sequences: tuple[str, ...],
    letters: str,
    seed: int,
    shuffles: int,
    positions: int,
    random_per_sequence: int,
    learning_rate: float,
) -> TreeEnsemble:
    # A stream of its own: the reference random sequences a check is measured on come from random_sequences.
    rng = np.random.default_rng((seed, 8))
    lengths = rng.choice([len(s) for s in sequences], size=random_per_sequence * len(sequences))
    drawn = np.array(list(letters))[rng.integers(0, len(letters), size=int(lengths.sum()))]
    random = ["".join(part) for part in np.split(drawn, np.cumsum(lengths)[:-1])]
    # Shuffles from seeds the reference shuffles (``shuffled``'s default seed 0) never use.
    for _ in range(shuffles):
        random += shuffled(list(sequences), seed=int(rng.integers(1, 2**31)))
    rows = discriminator_features([*sequences, *random], letters, positions)
    labels = np.r_[np.ones(len(sequences)), np.zeros(len(random))]
    trees = HistGradientBoostingClassifier(
        max_iter=TREES, learning_rate=learning_rate, early_stopping=True, class_weight="balanced", random_state=0
    )
    return tree_arrays(trees.fit(rows, labels))
