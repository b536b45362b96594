"""Protein and peptide input: raw sequences, FASTA text or files, CSV tables, cleaned and validated.

Policy, applied to every record and reported back as notices or errors naming the record and position:

- whitespace, digits (as in GenBank-style numbered lines) and case are cleaned silently;
- a terminal ``*`` (stop codon) is dropped with a notice;
- the 20 standard amino acids are accepted;
- ``U`` (selenocysteine) is mapped to ``C`` and ``O`` (pyrrolysine) to ``K``, their closest standard
  residues, with a notice: both are genetically encoded and rare, and the models never saw them;
- ``B``, ``Z``, ``J`` and ``X`` are rejected: each stands for more than one residue, and a score would
  depend on a guess;
- any other character (``#``, ``-`` gaps, ``*`` inside the sequence, ...) is rejected;
- a record made only of A, C, G, T/U and N is rejected as nucleotides;
- an empty record is rejected; a record longer than ``max_length`` is rejected.

FASTA is read with Biopython's ``SeqIO``; CSV with pandas.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TextIO

import pandas as pd
from Bio import SeqIO

from medmodels.errors import InputError

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
MAPPED = {"U": "C", "O": "K"}
AMBIGUOUS = {"B": "D or N", "Z": "E or Q", "J": "I or L", "X": "any residue"}
NUCLEOTIDES = set("ACGTUN")
MAX_RECORDS = 10_000
# Where the page's cap sends a larger file: the batch runner reads FASTA of any size as a stream.
_TOO_MANY = (
    "more than {:,} records; split the file, or screen it whole with `python -m medmodels batch` (FASTA of any size)"
)
DEFAULT_MAX_LENGTH = 5_000
_CLEANED = re.compile(r"[\s\d]+")


class SequenceInputError(InputError):
    """Input that cannot be read at all (not one bad record); the message is one line for the user."""


@dataclass(frozen=True)
class SequenceRecord:
    """One input record after cleaning: ``sequence`` is set when valid, ``error`` otherwise."""

    id: str
    sequence: str | None
    error: str | None = None
    notices: tuple[str, ...] = ()


def clean_record(record_id: str, raw: str, max_length: int = DEFAULT_MAX_LENGTH) -> SequenceRecord:
    """Apply the module's policy to one raw sequence."""
    text = _CLEANED.sub("", raw).upper()
    notices = []
    if text.endswith("*"):
        text = text[:-1]
        notices.append("dropped the terminal '*' (stop codon)")
    if not text:
        return SequenceRecord(record_id, None, f"{record_id}: the sequence is empty")
    for position, letter in enumerate(text, start=1):
        if letter in AMBIGUOUS:
            return SequenceRecord(
                record_id,
                None,
                f"{record_id}, position {position}: '{letter}' is ambiguous ({AMBIGUOUS[letter]}); replace it with one residue",
            )
        if letter not in AMINO_ACIDS and letter not in MAPPED:
            shown = letter if letter.isprintable() else repr(letter)
            return SequenceRecord(
                record_id, None, f"{record_id}, position {position}: '{shown}' is not an amino-acid letter"
            )
    if len(text) >= 10 and set(text) <= NUCLEOTIDES:
        return SequenceRecord(
            record_id,
            None,
            f"{record_id}: this looks like DNA or RNA (only A, C, G, T/U, N); paste the protein sequence",
        )
    for rare, standard in MAPPED.items():
        count = text.count(rare)
        if count:
            text = text.replace(rare, standard)
            notices.append(f"mapped {count} x '{rare}' to '{standard}'")
    if len(text) > max_length:
        return SequenceRecord(record_id, None, f"{record_id}: {len(text)} residues; the limit is {max_length}")
    return SequenceRecord(record_id, text, None, tuple(notices))


# How one raw record is checked and cleaned: ``clean_record`` for proteins, the genome domain's for nucleotides.
Cleaner = Callable[[str, str, int], SequenceRecord]


def parse_text(
    text: str, max_length: int = DEFAULT_MAX_LENGTH, max_records: int = MAX_RECORDS, clean: Cleaner = clean_record
) -> list[SequenceRecord]:
    """Pasted text: FASTA when it starts with '>', otherwise one raw sequence called ``query``."""
    stripped = text.strip()
    if not stripped:
        raise SequenceInputError("no sequence given")
    if not stripped.startswith(">"):
        if "\n>" in stripped:
            raise SequenceInputError("text before the first '>' header: start FASTA input with a '>' line")
        return [clean("query", stripped, max_length)]
    records = []
    for entry in SeqIO.parse(io.StringIO(stripped), "fasta"):
        if len(records) == max_records:
            raise SequenceInputError(_TOO_MANY.format(max_records))
        records.append(clean(entry.id or f"record {len(records) + 1}", str(entry.seq), max_length))
    if not records:
        raise SequenceInputError("no FASTA records found")
    return records


def parse_upload(
    data: bytes,
    filename: str,
    max_length: int = DEFAULT_MAX_LENGTH,
    max_records: int = MAX_RECORDS,
    clean: Cleaner = clean_record,
) -> list[SequenceRecord]:
    """An uploaded FASTA file, or a CSV with ``id`` and ``sequence`` columns."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SequenceInputError(f"{filename} is not UTF-8 text") from None
    if not filename.lower().endswith(".csv"):
        return parse_text(text, max_length, max_records, clean)
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise SequenceInputError(f"{filename} is not a readable CSV file ({str(error).splitlines()[0]})") from None
    columns = {column.strip().lower(): column for column in table.columns}
    if "id" not in columns or "sequence" not in columns:
        raise SequenceInputError(
            f"{filename} needs 'id' and 'sequence' columns; it has {', '.join(map(str, table.columns)) or 'none'}"
        )
    if len(table) > max_records:
        raise SequenceInputError(_TOO_MANY.format(max_records))
    # An id is one line, as in FASTA: a quoted CSV cell may hold line breaks, which would forge records on export.
    return [
        clean(" ".join(str(row_id).split()) or f"row {i + 2}", raw, max_length)
        for i, (row_id, raw) in enumerate(zip(table[columns["id"]], table[columns["sequence"]]))
    ]


MAX_LINE = 1_000_000  # characters; FASTA wraps lines at 60-80


def stream_records(handle: TextIO, clean: Cleaner, max_length: int) -> Iterator[SequenceRecord]:
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
            return SequenceRecord(name, None, f"{name}: more than {max_length:,} letters; the limit is {max_length:,}")
        return clean(name, "".join(parts), max_length)

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
