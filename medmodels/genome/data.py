"""The genome data sets in the data folder (``genome/``; ``../shared/data/README.md`` gives their sources),
read into the sequence stack's ``SequenceSet`` with documented splits:

- ``genome.splice``: primate splice junctions, 60 nt, EI / IE / N. The StatLog protocol: the first 2,000
  records train, the last 1,186 test. Selection runs by 5-fold cross-validation inside the 2,000 (a held-out
  share would leave tens of sequences per class). The de-duplicated test drops test sequences that also occur
  in the training part, and repeats within the test part.
- ``genome.tfbs``: Oct4 vs MafK ChIP-seq peaks, 200 nt; the package's own test file (200) is the test split,
  and 10 % of its training file (stratified, seed 0) the validation split.
- ``genome.lncrna``: mouse lncRNA vs mRNA transcripts; the source's training / testing tags give train and
  test, and 10 % of training (stratified, seed 0) the validation split.

Sequences are upper-cased with U read as T; the labels come from each header's ``|`` fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from medmodels.data import DataFormatError, data_file
from medmodels.sequences.data import SequenceSet

STATLOG_TRAIN = 2000  # StatLog's training records, first in the file
FOLDS = 5
VALIDATION_SHARE = 0.1


@dataclass(frozen=True)
class GenomeData:
    """One data set: its labels, the file(s) it was read from, and where it came from."""

    labels: tuple[str, ...]
    files: tuple[str, ...]  # relative to the data folder


DATASETS = {
    "genome.splice": GenomeData(("EI", "IE", "N"), ("genome/splice/splice_junctions.fasta",)),
    "genome.tfbs": GenomeData(
        ("MafK", "Oct4"), ("genome/tfbs/oct4_mafk_train.fasta", "genome/tfbs/oct4_mafk_test.fasta")
    ),
    "genome.lncrna": GenomeData(("mRNA", "lncRNA"), ("genome/lncrna/lncrna_mrna.fasta",)),
}


def read_fasta(path: Path) -> Iterator[tuple[str, str]]:
    """``(header, sequence)`` pairs of a FASTA file, sequences upper-cased with U read as T."""
    header, parts = None, []
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            line = line.strip()
            if line.startswith(">"):
                if header is not None:
                    yield header, "".join(parts).upper().replace("U", "T")
                header, parts = line[1:], []
            elif line:
                parts.append(line)
    if header is not None:
        yield header, "".join(parts).upper().replace("U", "T")


def _labelled(
    records: list[tuple[str, str]], label_of: dict[str, int], path: Path, names: tuple[str, ...]
) -> SequenceSet:
    """The records with the class their header's second field names (``label_of``: field -> index in ``names``)."""
    field = 1
    sequences, labels = [], []
    for header, sequence in records:
        fields = header.split("|")
        if len(fields) <= field or fields[field] not in label_of:
            raise DataFormatError(f"{path.name}: header '{header[:60]}' has no label among {sorted(label_of)}")
        sequences.append(sequence)
        labels.append(label_of[fields[field]])
    return SequenceSet(sequences, np.asarray(labels, dtype=np.int64), names)


def _held_out(data: SequenceSet, seed: int = 0) -> dict[str, SequenceSet]:
    train, validation = train_test_split(
        np.arange(len(data)), test_size=VALIDATION_SHARE, stratify=data.labels, random_state=seed
    )
    return {"train": data.subset(np.sort(train)), "validation": data.subset(np.sort(validation))}


def genome_splits(name: str, data_dir: Path) -> dict[str, SequenceSet]:
    """Train / validation / test of a genome model's data set (``genome.splice`` has no validation split: it
    selects by ``cross_validation_folds`` over train)."""
    spec = DATASETS[name]
    paths = [data_file(data_dir, relative) for relative in spec.files]
    if name == "genome.splice":
        data = _labelled(list(read_fasta(paths[0])), {"EI": 0, "IE": 1, "N": 2}, paths[0], spec.labels)
        return {
            "train": data.subset(np.arange(STATLOG_TRAIN)),
            "test": data.subset(np.arange(STATLOG_TRAIN, len(data))),
        }
    if name == "genome.tfbs":
        train, test = (_labelled(list(read_fasta(path)), {"MAFK": 0, "OCT4": 1}, path, spec.labels) for path in paths)
        return {**_held_out(train), "test": test}
    records = list(read_fasta(paths[0]))
    train, test = (
        _labelled([r for r in records if r[0].split("|")[-1] == tag], {"0": 0, "1": 1}, paths[0], spec.labels)
        for tag in ("training", "testing")
    )
    return {**_held_out(train), "test": test}


def cross_validation_folds(data: SequenceSet, folds: int = FOLDS, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train indices, held-out indices)`` of stratified folds over ``data``."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(data)), data.labels))


def deduplicated_rows(test: SequenceSet, seen: Iterable[str]) -> np.ndarray:
    """Indices of the ``test`` sequences that are not in ``seen`` (the training sequences), first occurrences only."""
    seen = set(seen)
    keep = []
    for index, sequence in enumerate(test.sequences):
        if sequence not in seen:
            keep.append(index)
            seen.add(sequence)
    return np.asarray(keep, dtype=np.int64)


# Textbook windows for the page's examples when no data folder is set: a donor (MAG|GTRAGT) and an acceptor
# (polypyrimidine tract, CAG|G), each with the junction between bases 30 and 31.
TEXTBOOK_WINDOWS = {
    "donor_consensus": "CCAGCTGCATCCCAGAGGCCAGGCACCAAG" + "GTAAGTGGGGCAGGGCTGGGGCCGCAGGCT",
    "acceptor_consensus": "TTTCTCCCTTTTCCCTTTTCCTCTCTGCAG" + "CCAGCTGCATCCCAGAGGCCAGGCACCAAG",
}


def example_fasta(data_dir: Path | None) -> str:
    """Example DNA for the page: from the data folder, one test sequence of each class of each genome model (the
    shortest transcript of each class for lncRNA); without one, the textbook splice windows."""
    lines = []
    if data_dir is not None:
        for name in DATASETS:
            test = genome_splits(name, data_dir)["test"]
            lengths = np.array([len(s) for s in test.sequences])
            for label, title in enumerate(test.label_names):
                members = np.flatnonzero(test.labels == label)
                index = int(members[np.argmin(lengths[members])] if name == "genome.lncrna" else members[0])
                lines += [f">{name.split('.', 1)[1]}_test_{index}_{title}", test.sequences[index]]
    else:
        for title, sequence in TEXTBOOK_WINDOWS.items():
            lines += [f">{title}", sequence]
    return "\n".join(lines)
