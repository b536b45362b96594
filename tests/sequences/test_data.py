"""The shipped peptide and protein sets, split so that near-identical sequences never straddle splits."""

from itertools import pairwise

import numpy as np
import pytest

from medmodels.registry import get_model_info
from medmodels.sequences.baseline import fit_composition_baseline
from medmodels.sequences.data import (
    KMER,
    SequenceSet,
    cluster_split,
    localisation_splits,
    near_identity_clusters,
    peptide_splits,
)
from medmodels.sequences.recipes import LengthBatches


def test_clusters_join_sequences_that_share_a_kmer_and_only_those():
    shared = "KWKLFKKI"  # KMER residues
    sequences = ["GG" + shared + "AA", "PP" + shared, "ACDEFGHIKLMN", "ACDEFGH", "ACDEFGH"]
    clusters = near_identity_clusters(sequences)
    assert len(shared) == KMER
    assert clusters[0] == clusters[1]
    assert clusters[3] == clusters[4]  # exact duplicates shorter than KMER still meet
    assert len({clusters[0], clusters[2], clusters[3]}) == 3  # a 7-residue overlap is not enough


@pytest.mark.parametrize("name", ["sequence.amp", "sequence.anticancer"])
def test_peptide_splits_have_no_duplicates_no_conflicts_and_no_shared_cluster(name):
    splits = peptide_splits(name)
    everything = [s for split in splits.values() for s in split.sequences]
    assert len(everything) == len(set(everything))
    clusters = near_identity_clusters(everything)
    sizes = np.cumsum([0] + [len(splits[s]) for s in ("train", "validation", "test")])
    members = [set(clusters[a:b]) for a, b in pairwise(sizes)]
    assert not (members[0] & members[1] or members[0] & members[2] or members[1] & members[2])
    shares = [len(splits[s]) / len(everything) for s in ("validation", "test")]
    assert all(0.1 < share < 0.2 for share in shares)


def test_the_amp_set_matches_the_documented_counts():
    splits = peptide_splits("sequence.amp")
    labels = np.concatenate([s.labels for s in splits.values()])
    assert len(labels) == 4620  # 5200 rows, 4620 unique after duplicates and both-label sequences go
    assert splits["train"].label_names == ("not antimicrobial", "antimicrobial")


def test_split_assignment_is_seeded():
    clusters = np.repeat(np.arange(50), 3)
    labels = np.tile([0, 1, 1], 50)
    first, again, other = (
        cluster_split(clusters, labels, 0),
        cluster_split(clusters, labels, 0),
        cluster_split(clusters, labels, 1),
    )
    assert all(np.array_equal(first[s], again[s]) for s in first)
    assert not np.array_equal(first["test"], other["test"])


def test_localisation_uses_the_packaged_homology_reduced_splits():
    splits = localisation_splits()
    assert {s: len(v) for s, v in splits.items()} == {"train": 15183, "validation": 1260, "test": 2631}
    assert len(splits["train"].label_names) == 13 and splits["train"].labels.max() == 12
    assert 0.2 < np.bincount(splits["test"].labels).max() / len(splits["test"]) < 0.3  # majority class about 25 %


def test_composition_baseline_learns_a_separable_toy_task():
    positives = ["KKKKRRKK", "RKRKKKRR", "KRKRKRKK", "RRKKRRKK"] * 5
    negatives = ["DDEEDDEE", "EDEDDDEE", "DEDEEEDD", "EEDDEEDD"] * 5
    train = SequenceSet(positives + negatives, np.array([1] * 20 + [0] * 20), ("no", "yes"))
    pipeline, _ = fit_composition_baseline(train, train)
    assert pipeline.predict(["KRRKKRKK", "DEEDDEDE"]).tolist() == [1, 0]


def test_localisation_labels_in_the_registry_match_the_packaged_label_index():
    assert get_model_info("sequence.localisation").labels == localisation_splits()["train"].label_names


def test_length_batches_cover_every_sequence_once_per_epoch_in_batches_of_similar_length():
    rng = np.random.default_rng(0)
    lengths = rng.integers(20, 1000, size=1000).tolist()
    sampler = LengthBatches(lengths, batch_size=64, seed=0)
    epochs = [list(sampler), list(sampler)]
    for batches in epochs:
        assert len(batches) == len(sampler) == 16
        assert sorted(i for batch in batches for i in batch) == list(range(1000))
        spreads = [np.ptp([lengths[i] for i in batch]) for batch in batches if len(batch) == 64]
        assert np.median(spreads) < 100  # random batches of 64 would span about 900 residues
    assert epochs[0] != epochs[1]  # a fresh order each epoch
