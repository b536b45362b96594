"""What a researcher pastes or uploads, and what they are told about it."""

import pytest

from medmodels.sequences.parsing import SequenceInputError, clean_record, parse_text, parse_upload


def test_whitespace_digits_and_case_are_cleaned_silently():
    record = clean_record("p1", "  1 gigk flhs\n 11 AKKFGKAFVG eimns  ")
    assert record.sequence == "GIGKFLHSAKKFGKAFVGEIMNS" and record.error is None and record.notices == ()


@pytest.mark.parametrize(
    "raw, message",
    [
        ("", "p1: the sequence is empty"),
        ("  12  ", "p1: the sequence is empty"),
        ("GIGK#FLHS", "p1, position 5: '#' is not an amino-acid letter"),
        ("GIG-KFLHS", "p1, position 4: '-' is not an amino-acid letter"),
        ("GIGK*FLHS", "p1, position 5: '*' is not an amino-acid letter"),
        ("GIGKBFLHS", "p1, position 5: 'B' is ambiguous (D or N); replace it with one residue"),
        ("XGIGK", "p1, position 1: 'X' is ambiguous (any residue); replace it with one residue"),
        ("GIGKJ", "p1, position 5: 'J' is ambiguous (I or L); replace it with one residue"),
        ("GIGKZ", "p1, position 5: 'Z' is ambiguous (E or Q); replace it with one residue"),
        ("ATGGCGTTAGCCAATG", "p1: this looks like DNA or RNA (only A, C, G, T/U, N); paste the protein sequence"),
        ("AUGGCGUUAGCCAAUG", "p1: this looks like DNA or RNA (only A, C, G, T/U, N); paste the protein sequence"),
        ("K" * 51, "p1: 51 residues; the limit is 50"),
    ],
)
def test_each_bad_record_gets_a_message_naming_record_and_position(raw, message):
    record = clean_record("p1", raw, max_length=50)
    assert record.sequence is None and record.error == message


def test_rare_encoded_residues_are_mapped_and_a_stop_codon_dropped_with_notices():
    record = clean_record("p1", "GUIGKOFLHSU*")
    assert record.sequence == "GCIGKKFLHSC"
    assert record.notices == ("dropped the terminal '*' (stop codon)", "mapped 2 x 'U' to 'C'", "mapped 1 x 'O' to 'K'")


def test_a_short_all_acgt_peptide_is_still_a_peptide():
    assert clean_record("p1", "GATTACA").sequence == "GATTACA"  # Gly-Ala-Thr-Thr-Ala-Cys-Ala


def test_raw_text_is_one_query_and_fasta_keeps_every_record_even_bad_ones():
    (query,) = parse_text("gigkflhsakkfgkafvgeimns")
    assert (query.id, query.sequence) == ("query", "GIGKFLHSAKKFGKAFVGEIMNS")
    records = parse_text(
        ">magainin2 some description\nGIGKFLHSAKKF\nGKAFVGEIMNS\n>broken\nGIG#K\n>empty\n>ok\nKWKLFKKI\n"
    )
    assert [r.id for r in records] == ["magainin2", "broken", "empty", "ok"]
    assert records[0].sequence == "GIGKFLHSAKKFGKAFVGEIMNS"
    assert records[1].error == "broken, position 4: '#' is not an amino-acid letter"
    assert records[2].error == "empty: the sequence is empty"
    assert records[3].sequence == "KWKLFKKI"


@pytest.mark.parametrize(
    "text, message",
    [
        ("   \n ", "no sequence given"),
        ("GIGK\n>second\nKKK", "text before the first '>' header"),
        (">only a header with nothing after", None),
    ],
)
def test_unreadable_text_is_refused_as_a_whole(text, message):
    if message is None:  # a header alone is one empty record, not an unreadable input
        (record,) = parse_text(text)
        assert record.error.endswith("the sequence is empty")
        return
    with pytest.raises(SequenceInputError, match=message):
        parse_text(text)


def test_record_limit_is_enforced_with_a_clear_message():
    text = "".join(f">p{i}\nKWKLFKKI\n" for i in range(11))
    assert len(parse_text(text, max_records=11)) == 11
    with pytest.raises(SequenceInputError, match="more than 10 records"):
        parse_text(text, max_records=10)


def test_csv_uploads_need_id_and_sequence_columns():
    records = parse_upload(b"id,sequence\npep1,KWKLFKKI\npep2,GIG#K\n", "batch.csv")
    assert [(r.id, r.sequence) for r in records] == [("pep1", "KWKLFKKI"), ("pep2", None)]
    assert "position 4" in records[1].error
    with pytest.raises(SequenceInputError, match="needs 'id' and 'sequence' columns; it has name, seq"):
        parse_upload(b"name,seq\na,KKK\n", "batch.csv")


def test_a_csv_id_with_a_line_break_becomes_one_line():
    # Written into a FASTA export as is, the second line would forge a record of its own.
    (record,) = parse_upload(b'id,sequence\n"pep1\n>forged",KWKLFKKIGAVLKVLTTG\n', "peptides.csv")
    assert record.id == "pep1 >forged" and record.sequence == "KWKLFKKIGAVLKVLTTG"


def test_non_utf8_and_html_uploads_are_refused_or_rejected_plainly():
    with pytest.raises(SequenceInputError, match="not UTF-8 text"):
        parse_upload(b"\xff\xfe\x00G\x00I", "peptides.fasta")
    (record,) = parse_upload(b"<script>alert(1)</script>", "peptides.fasta")
    assert record.error == "query, position 1: '<' is not an amino-acid letter"
