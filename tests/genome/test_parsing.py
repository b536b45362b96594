"""The nucleotide input policy and telling DNA / RNA from protein input."""

import io

import pytest

from medmodels.genome.parsing import alphabet_vote, clean_nucleotides, stream_fasta
from medmodels.sequences.parsing import parse_text


def test_rna_is_read_as_dna_with_a_notice_and_numbered_lines_are_cleaned():
    record = clean_nucleotides("r1", "1 acgu uuag\n11 GC")
    assert record.sequence == "ACGTTTAGGC" and record.error is None
    assert record.notices == ("read as RNA: U taken as T",)


def test_a_few_ambiguous_bases_are_kept_with_a_notice_and_many_are_refused():
    kept = clean_nucleotides("a", "ACGTN" + "ACGT" * 5)
    assert kept.sequence == "ACGTN" + "ACGT" * 5 and kept.notices == (
        "1 ambiguous base(s) (N or IUPAC codes) read as unknown",
    )
    refused = clean_nucleotides("b", "NNNNRYACGT")
    assert refused.sequence is None and "6 of 10 bases are N or ambiguity codes" in refused.error


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("ACG-T", "position 4: '-' is a gap"),
        ("ACGTQ", "position 5: 'Q' is not a nucleotide letter"),
        ("  ", "is empty"),
    ],
)
def test_gaps_foreign_letters_and_empty_records_are_refused_with_the_position(raw, message):
    record = clean_nucleotides("x", raw)
    assert record.sequence is None and message in record.error


def test_records_over_the_length_limit_are_refused():
    assert "limit is 10" in clean_nucleotides("x", "A" * 11, max_length=10).error


def test_nucleotide_input_is_told_from_protein_input():
    assert alphabet_vote(["ACGTTGCAACGT", "acguu"]).nucleotides
    assert alphabet_vote(["ACGTNACGTTGCA"]).nucleotides
    assert not alphabet_vote(["MKTAYIAKQRQISFVK"]).nucleotides
    assert not alphabet_vote(["GAGA", "KLAKLAK"]).nucleotides  # a tie stays protein
    assert not alphabet_vote(["NNNNRYSWAC"]).nucleotides  # mostly ambiguity codes: not read as DNA
    assert not alphabet_vote([""]).nucleotides


def test_one_broken_record_does_not_decide_how_the_others_are_read():
    dna = "GGTGAGTCCTTGACGTACGTAGGCAAGTAAGTCTGGTG"
    vote = alphabet_vote([dna, "ACGT<b>12ACGT", dna.lower()])
    assert vote.nucleotides and (vote.nucleotide, vote.protein) == (2, 0)
    # A DNA record among peptides is outvoted, and the page says the records disagree.
    vote = alphabet_vote(["GIGKFLHSAKKFGKAFVGEIMNS", "ILPWKWPWWPWRR", dna])
    assert not vote.nucleotides and vote.mixed
    # A terminal stop codon and ambiguous residues are still protein letters.
    assert alphabet_vote(["MKTX*", "MKTB"]) == alphabet_vote(["MKT", "MKT"])


def test_fasta_streams_record_by_record_and_pasted_text_uses_the_same_policy():
    stream = io.StringIO(">one\nACGU\n>two\nAC-GT\n")
    records = list(stream_fasta(stream))
    assert [r.id for r in records] == ["one", "two"]
    assert records[0].sequence == "ACGT" and records[1].sequence is None
    (pasted,) = parse_text("acgtacgtacgtn" * 3, clean=clean_nucleotides)
    assert pasted.id == "query" and pasted.sequence == "ACGTACGTACGTN" * 3
