"""The whole-transcript features the lncRNA model reads beside its bases."""

import numpy as np

from medmodels.genome.features import FEATURE_COUNT, transcript_features


def test_kmer_shares_codon_usage_and_orf_size_are_where_the_model_reads_them():
    # An ORF of ATG, AAA x 3, TAA (15 nt) inside a 25-nt transcript.
    sequence = "CCCCC" + "ATGAAAAAAAAATAA" + "CCCCC"
    (row,) = transcript_features([sequence])
    assert row.shape == (FEATURE_COUNT,) == (407,)
    monomers, dimers, trimers, tetramers = row[:4], row[4:20], row[20:84], row[84:340]
    for shares in (monomers, dimers, trimers, tetramers):
        assert np.isclose(shares.sum(), 1.0)
    assert np.isclose(monomers[1], 10 / 25)  # C
    codons = row[340:404]
    aaa = 0  # AAA is the first codon in A, C, G, T order
    assert np.isclose(codons[aaa], 3 / 5) and np.isclose(codons.sum(), 1.0)  # ATG, AAA x 3, TAA
    assert np.allclose(row[404:], [np.log1p(15), 15 / 25, np.log(25)], atol=1e-6)


def test_a_transcript_without_an_orf_or_with_unknown_bases_still_has_features():
    no_orf, ambiguous = transcript_features(["CCCCCCCCC", "ACGNNACGT"])
    assert no_orf[340:404].sum() == 0 and no_orf[404] == 0  # no codon usage, ORF length zero
    assert np.isfinite(ambiguous).all() and np.isclose(ambiguous[:4].sum(), 1.0)  # N counts in no k-mer
