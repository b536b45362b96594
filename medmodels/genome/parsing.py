"""DNA and RNA input: the nucleotide policy, and telling nucleotide input from protein input.

Policy, applied to every record and reported back as notices or errors naming the record and position:

- whitespace, digits (GenBank-style numbered lines) and case are cleaned silently;
- A, C, G and T are accepted; U is read as T (RNA and DNA share one alphabet), with a notice;
- N and the other IUPAC ambiguity codes (R, Y, S, W, K, M, B, D, H, V) are read as "unknown base", a token
  the models reserve but never saw in training, with a notice giving the count; a record where they exceed
  ``MAX_AMBIGUOUS_SHARE`` of the bases is rejected, since its score would rest on guesses;
- gaps (``-``, ``.``) and any other character are rejected;
- an empty record is rejected; a record longer than ``max_length`` is rejected.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from medmodels.sequences.parsing import AMBIGUOUS, AMINO_ACIDS, MAPPED, SequenceRecord, stream_records

BASES = "ACGT"
AMBIGUITY_CODES = "NRYSWKMBDHV"
MAX_AMBIGUOUS_SHARE = 0.1
DEFAULT_MAX_LENGTH = 100_000
_CLEANED = re.compile(r"[\s\d]+")
PROTEIN_LETTERS = AMINO_ACIDS + "".join(MAPPED) + "".join(AMBIGUOUS)


def clean_nucleotides(record_id: str, raw: str, max_length: int = DEFAULT_MAX_LENGTH) -> SequenceRecord:
    """Apply the module's policy to one raw DNA or RNA sequence."""
    text = _CLEANED.sub("", raw).upper()
    if not text:
        return SequenceRecord(record_id, None, f"{record_id}: the sequence is empty")
    notices = []
    for position, letter in enumerate(text, start=1):
        if letter not in BASES and letter != "U" and letter not in AMBIGUITY_CODES:
            shown = letter if letter.isprintable() else repr(letter)
            kind = "a gap" if letter in "-." else "not a nucleotide letter"
            return SequenceRecord(record_id, None, f"{record_id}, position {position}: '{shown}' is {kind}")
    if "U" in text:
        text = text.replace("U", "T")
        notices.append("read as RNA: U taken as T")
    ambiguous = sum(text.count(code) for code in AMBIGUITY_CODES)
    if ambiguous > MAX_AMBIGUOUS_SHARE * len(text):
        return SequenceRecord(
            record_id,
            None,
            f"{record_id}: {ambiguous} of {len(text)} bases are N or ambiguity codes (more than "
            f"{MAX_AMBIGUOUS_SHARE:.0%}); resolve them first",
        )
    if ambiguous:
        notices.append(f"{ambiguous} ambiguous base(s) (N or IUPAC codes) read as unknown")
    if len(text) > max_length:
        return SequenceRecord(record_id, None, f"{record_id}: {len(text):,} bases; the limit is {max_length:,}")
    return SequenceRecord(record_id, text, None, tuple(notices))


@dataclass(frozen=True)
class AlphabetVote:
    """How the records of one input read: as DNA or RNA, or as protein; records with a letter that is neither
    (HTML, a gap, a symbol) do not vote, so one broken record cannot decide how the others are read."""

    nucleotide: int
    protein: int

    @property
    def nucleotides(self) -> bool:
        """Read as DNA or RNA when more records vote for it than for protein (a tie stays protein)."""
        return self.nucleotide > self.protein

    @property
    def mixed(self) -> bool:
        return bool(self.nucleotide and self.protein)


def _reads_as(sequence: str) -> str | None:
    letters = _CLEANED.sub("", sequence).upper().rstrip("*")
    if not letters:
        return None
    # A peptide such as 'NNNNRYSWAC' uses only nucleotide letters: DNA needs 90 % of them to be A, C, G, T or U.
    bases = sum(letters.count(base) for base in BASES + "U")
    if not set(letters) - set(BASES + "U" + AMBIGUITY_CODES) and bases >= 0.9 * len(letters):
        return "nucleotide"
    if not set(letters) - set(PROTEIN_LETTERS):
        return "protein"
    return None


def alphabet_vote(sequences: Iterable[str]) -> AlphabetVote:
    """Each raw record's vote: DNA or RNA when every letter is a nucleotide letter or an ambiguity code and at
    least 90 % of them are A, C, G, T or U; protein when every letter is an amino-acid letter (with the
    ambiguous and rare ones); no vote otherwise."""
    votes = Counter(_reads_as(sequence) for sequence in sequences)
    return AlphabetVote(votes["nucleotide"], votes["protein"])


def stream_fasta(handle: TextIO, max_length: int = DEFAULT_MAX_LENGTH) -> Iterator[SequenceRecord]:
    """Nucleotide records of a FASTA stream as they are read (``sequences.parsing.stream_records``)."""
    return stream_records(handle, clean_nucleotides, max_length)
