"""The nucleotide input policy and telling DNA / RNA from protein input."""

import io

import pytest

from medmodels.genome.parsing import clean_nucleotides, looks_like_nucleotides, stream_fasta
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
    assert looks_like_nucleotides(["ACGTTGCAACGT", "acguu"])
    assert looks_like_nucleotides(["ACGTNACGTTGCA"])
    assert not looks_like_nucleotides(["MKTAYIAKQRQISFVK"])
    assert not looks_like_nucleotides(["GAGA", "KLAKLAK"])  # one protein record makes it protein input
    assert not looks_like_nucleotides(["NNNNRYSWAC"])  # mostly ambiguity codes: not read as DNA
    assert not looks_like_nucleotides([""])


def test_fasta_streams_record_by_record_and_pasted_text_uses_the_same_policy():
    stream = io.StringIO(">one\nACGU\n>two\nAC-GT\n")
    records = list(stream_fasta(stream))
    assert [r.id for r in records] == ["one", "two"]
    assert records[0].sequence == "ACGT" and records[1].sequence is None
    (pasted,) = parse_text("acgtacgtacgtn" * 3, clean=clean_nucleotides)
    assert pasted.id == "query" and pasted.sequence == "ACGTACGTACGTN" * 3
