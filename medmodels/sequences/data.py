"""Sequence data sets shipped inside registry packages, with honest train / validation / test splits.

- Antimicrobial (``sequence.amp``): modlamp's ``AMPvsUniProt.csv``.
- Anticancer (``sequence.anticancer``): modlamp's two ACP sets (CancerPPD actives against random
  and against transmembrane peptides), pooled.
- Subcellular location (``sequence.localisation``): p-scldata's homology-reduced splits.

For the peptide sets, exact duplicates are merged and sequences that carry both labels dropped;
then near-identical peptides are kept on one side of every split: two peptides sharing any
identical stretch of ``KMER`` residues fall in one cluster (single linkage), and whole clusters are
assigned to train, validation or test (stratified by label).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from medmodels.data import DataFormatError, DataNotFoundError

# A shared identical run of 8 residues marks two peptides as near-identical.
KMER = 8
FOLDS = 7
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class SequenceSet:
    sequences: list[str]
    labels: np.ndarray  # (N,) int64
    label_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.sequences)

    def subset(self, indices: np.ndarray) -> SequenceSet:
        return SequenceSet([self.sequences[i] for i in indices], self.labels[indices], self.label_names)


def package_data_dir(package: str) -> Path:
    """The ``data`` folder an installed package ships (modlamp, scldata)."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise DataNotFoundError(f"the {package} package is not installed; install the pinned requirements")
    return Path(spec.origin).parent / "data"


def _read_modlamp_csv(path: Path) -> pd.DataFrame:
    """modlamp's format: a header line (count, features, class names), then ``sequence,label`` rows."""
    try:
        table = pd.read_csv(path, skiprows=1, header=None, names=["sequence", "label"], dtype={"sequence": str})
    except (OSError, pd.errors.ParserError) as error:
        raise DataFormatError(f"{path.name} is not a readable modlamp CSV ({error})") from None
    if table["label"].isna().any() or not set(table["label"].unique()) <= {0, 1}:
        raise DataFormatError(f"{path.name}: labels must be 0 or 1")
    table["sequence"] = table["sequence"].str.strip().str.upper()
    return table


def _without_conflicts(table: pd.DataFrame) -> pd.DataFrame:
    """Exact duplicates merged; sequences that carry both labels dropped."""
    labels_per_sequence = table.groupby("sequence")["label"].nunique()
    conflicting = set(labels_per_sequence[labels_per_sequence > 1].index)
    return table[~table["sequence"].isin(conflicting)].drop_duplicates("sequence").reset_index(drop=True)


def load_peptides(name: str) -> SequenceSet:
    """The de-duplicated peptide set of ``sequence.amp`` or ``sequence.anticancer``."""
    folder = package_data_dir("modlamp")
    if name == "sequence.amp":
        table = _read_modlamp_csv(folder / "AMPvsUniProt.csv")
        label_names = ("not antimicrobial", "antimicrobial")
    elif name == "sequence.anticancer":
        table = pd.concat(
            [_read_modlamp_csv(folder / f) for f in ("ACP_CancPPD_vs_Random.csv", "ACP_CancPPD_vs_TM.csv")]
        )
        label_names = ("not anticancer", "anticancer")
    else:
        raise LookupError(f"{name} has no peptide data set")
    table = _without_conflicts(table)
    return SequenceSet(list(table["sequence"]), table["label"].to_numpy(np.int64), label_names)


def near_identity_clusters(sequences: list[str], k: int = KMER) -> np.ndarray:
    """Cluster id per sequence: sequences sharing any identical ``k``-residue stretch are joined (single linkage)."""
    parent = list(range(len(sequences)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_seen: dict[str, int] = {}
    for index, sequence in enumerate(sequences):
        # A sequence shorter than k is its own k-mer, so exact short duplicates still meet.
        for start in range(max(len(sequence) - k + 1, 1)):
            kmer = sequence[start : start + k]
            if kmer in first_seen:
                parent[root(index)] = root(first_seen[kmer])
            else:
                first_seen[kmer] = index
    roots = np.array([root(i) for i in range(len(sequences))])
    return np.unique(roots, return_inverse=True)[1]


def cluster_split(clusters: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Indices per split: scikit-learn's StratifiedGroupKFold with seven folds, one each for test and
    validation (about 14 % each), the rest train. No cluster crosses a split; class shares stay close."""
    folds = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    (_, test), (_, validation) = list(folds.split(np.zeros(len(labels)), labels, clusters))[:2]
    train = np.setdiff1d(np.arange(len(labels)), np.concatenate([test, validation]))
    return {"train": train, "validation": np.sort(validation), "test": np.sort(test)}


def peptide_splits(name: str, seed: int = 0) -> dict[str, SequenceSet]:
    data = load_peptides(name)
    indices = cluster_split(near_identity_clusters(data.sequences), data.labels, seed)
    return {split: data.subset(index) for split, index in indices.items()}


def localisation_splits() -> dict[str, SequenceSet]:
    """p-scldata's homology-reduced splits: ``trn`` (train), ``evl`` (validation), ``tst`` (held out, the test split)."""
    folder = package_data_dir("scldata")
    try:
        table = pd.read_csv(folder / "scl2205.csv")
        splits = json.loads((folder / "splits.json").read_text())
        index_to_label = json.loads((folder / "labels.json").read_text())["index_to_label"]
    except (OSError, ValueError, KeyError) as error:
        raise DataFormatError(f"p-scldata's files are unreadable ({error})") from None
    label_names = tuple(index_to_label[str(i)] for i in range(len(index_to_label)))
    result = {}
    for split, key in (("train", "trn"), ("validation", "evl"), ("test", "tst")):
        rows = table.iloc[splits[key]]  # splits.json lists row positions
        result[split] = SequenceSet(
            [s.strip().upper() for s in rows["seq"]],
            rows["scl"].to_numpy(np.int64),
            label_names,  # scl is the label index
        )
    return result


def localisation_cross_validation() -> tuple[SequenceSet, list[tuple[np.ndarray, np.ndarray]]]:
    """p-scldata's own 5-fold cross-validation track (``splits.json`` "cv"): the proteins of its train and
    validation splits (in that order, as ``localisation_splits``), and per fold the indices into them of the
    fold's training proteins and of its held-out ones. The held-out sets are disjoint (6,165 proteins in all);
    the package's authors reduced homology between each fold's two sides. The test split is in no fold."""
    folder = package_data_dir("scldata")
    splits = localisation_splits()
    try:
        tracks = json.loads((folder / "splits.json").read_text())
        rows = np.concatenate([tracks["trn"], tracks["evl"]])
        position = {int(row): index for index, row in enumerate(rows)}
        folds = [
            (
                np.array([position[int(row)] for row in tracks["cv"][f"f{fold}"]["trn"]]),
                np.array([position[int(row)] for row in tracks["cv"][f"f{fold}"]["tst"]]),
            )
            for fold in range(5)
        ]
    except (OSError, ValueError, KeyError) as error:
        raise DataFormatError(f"p-scldata's cross-validation track is unreadable ({error})") from None
    train, validation = splits["train"], splits["validation"]
    pooled = SequenceSet(
        train.sequences + validation.sequences,
        np.concatenate([train.labels, validation.labels]),
        train.label_names,
    )
    return pooled, folds


def sequence_splits(name: str) -> dict[str, SequenceSet]:
    """Train / validation / test of a ``sequence.*`` model's data set."""
    return localisation_splits() if name == "sequence.localisation" else peptide_splits(name)


def example_fasta(models: list[tuple[str, bool]]) -> str:
    """Test-split sequences of each ``(name, screening)`` model as FASTA: two of each class for a screening
    model, one of each of the three commonest classes for a multi-class one."""
    lines = []
    for name, screening in models:
        test = sequence_splits(name)["test"]
        classes = (1, 0) if screening else np.argsort(np.bincount(test.labels))[::-1][:3]
        for label in classes:
            for index in np.flatnonzero(test.labels == label)[: 2 if screening else 1]:
                title = test.label_names[label].replace(" ", "_").replace(";", "+")
                lines += [f">{name.split('.', 1)[1]}_test_{index}_{title}", test.sequences[index]]
    return "\n".join(lines)
