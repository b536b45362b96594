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
from collections.abc import Iterable, Iterator
from typing import TextIO

from medmodels.sequences.parsing import SequenceInputError, SequenceRecord

BASES = "ACGT"
AMBIGUITY_CODES = "NRYSWKMBDHV"
MAX_AMBIGUOUS_SHARE = 0.1
DEFAULT_MAX_LENGTH = 100_000
MAX_LINE = 1_000_000  # characters; FASTA wraps lines at 60-80
_CLEANED = re.compile(r"[\s\d]+")


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


def looks_like_nucleotides(sequences: Iterable[str]) -> bool:
    """Whether raw sequences read as DNA or RNA rather than protein: every letter is a nucleotide letter or
    an ambiguity code, and at least 90 % of them are A, C, G, T or U (a peptide such as 'GAGA' would pass the
    first test alone)."""
    letters = "".join(_CLEANED.sub("", s).upper().rstrip("*") for s in sequences)
    if not letters or set(letters) - set(BASES + "U" + AMBIGUITY_CODES):
        return False
    return sum(letters.count(base) for base in BASES + "U") >= 0.9 * len(letters)


def stream_fasta(handle: TextIO, max_length: int = DEFAULT_MAX_LENGTH) -> Iterator[SequenceRecord]:
    """Records of a FASTA stream as they are read, with no cap on their number (the command line's route) and
    bounded memory: a record over ``max_length`` stops growing and is refused, and a line over ``MAX_LINE``
    characters (a binary file, ``/dev/zero``) ends the stream with ``SequenceInputError``."""
    header: str | None = None
    parts: list[str] = []
    size = 0
    number = 0

    def finished() -> SequenceRecord:
        name = header.split()[0] if header and header.split() else f"record {number}"
        if size > max_length:
            return SequenceRecord(name, None, f"{name}: more than {max_length:,} bases; the limit is {max_length:,}")
        return clean_nucleotides(name, "".join(parts), max_length)

    while True:
        line = handle.readline(MAX_LINE + 1)
        if not line:
            break
        if len(line) > MAX_LINE:
            raise SequenceInputError(f"a line longer than {MAX_LINE:,} characters: not a FASTA text file")
        line = line.strip()
        if line.startswith(">"):
            if header is not None:
                yield finished()
            header, parts, size, number = line[1:], [], 0, number + 1
        elif line:
            if header is None:
                raise SequenceInputError("text before the first '>' header: start FASTA input with a '>' line")
            size += len(line)
            if size <= max_length:
                parts.append(line)
    if header is not None:
        yield finished()
    elif number == 0:
        raise SequenceInputError("no FASTA records found")
