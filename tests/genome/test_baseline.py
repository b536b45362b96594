"""The baselines' features: strands, one-hot bases and open reading frames."""

import numpy as np

from medmodels.genome.baseline import longest_orf, one_hot, orf_features, reverse_complement


def test_reverse_complement_reads_the_other_strand_five_to_three():
    assert reverse_complement("ATGCAAAT") == "ATTTGCAT"  # the octamer is its own motif on the other strand
    assert reverse_complement("AACGN") == "NCGTT"


def test_one_hot_marks_each_base_at_its_position():
    encoded = one_hot(["ACGT", "TTTN"])
    assert encoded.shape == (2, 16)
    # Columns are grouped by base: A at positions 0-3, then C, G, T.
    assert encoded[0].reshape(4, 4).tolist() == np.eye(4).tolist()
    assert encoded[1].reshape(4, 4)[3].tolist() == [1, 1, 1, 0] and encoded[1].sum() == 3  # N is no base


def test_longest_orf_is_atg_to_stop_in_any_frame_and_ignores_an_unterminated_frame():
    # frame 1: ATG AAA TAG (9 nt); frame 0 from position 12: ATG then no stop (does not count)
    sequence = "C" + "ATGAAATAG" + "CC" + "ATGCCCCCCCCC"
    orf = longest_orf(sequence)
    assert (orf.start, orf.length) == (1, 9)
    assert longest_orf("CCCCCC").length == 0 and longest_orf("CCCCCC").start == -1
    features = orf_features([sequence])
    assert np.allclose(features[0], [np.log1p(9), 9 / len(sequence), np.log(len(sequence))])
