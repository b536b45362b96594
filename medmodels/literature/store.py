"""The findings database: documents, extracted entities and scored chemical-disease pairs in one SQLite
file, with FTS5 full-text search over titles and abstracts.

Indexing commits one batch of documents at a time and skips documents already stored, so an
interrupted run resumes where it stopped; WAL journaling lets the dashboard read while it runs.
Every chemical-disease pair that co-occurs in an abstract is stored with the relation model's score;
``threshold`` separates predicted relations from co-mentions.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import pandas as pd

from medmodels.data import medmodels_home
from medmodels.errors import UsageError
from medmodels.literature.reading import Document, Mention
from medmodels.literature.results import Extraction, Extractor

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    pmid TEXT PRIMARY KEY, source TEXT NOT NULL, title TEXT NOT NULL, abstract TEXT NOT NULL, year INTEGER
);
CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5(title, abstract, content='documents', content_rowid='rowid');
CREATE TABLE IF NOT EXISTS entities (
    pmid TEXT NOT NULL REFERENCES documents(pmid), start INTEGER NOT NULL, end INTEGER NOT NULL,
    text TEXT NOT NULL, type TEXT NOT NULL, mesh TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entities_by_mesh ON entities(mesh);
CREATE INDEX IF NOT EXISTS entities_by_pmid ON entities(pmid);
CREATE TABLE IF NOT EXISTS pairs (
    pmid TEXT NOT NULL REFERENCES documents(pmid), chemical TEXT NOT NULL, disease TEXT NOT NULL,
    score REAL NOT NULL, evidence_start INTEGER NOT NULL, evidence_end INTEGER NOT NULL,
    PRIMARY KEY (pmid, chemical, disease)
);
CREATE INDEX IF NOT EXISTS pairs_by_chemical_disease ON pairs(chemical, disease);
"""


def default_store_path() -> Path:
    """``findings.sqlite`` in ``medmodels_home()``."""
    return medmodels_home() / "findings.sqlite"


@dataclass(frozen=True)
class IndexProgress:
    done: int  # documents stored by this run
    skipped: int  # already in the database (resumed) or without an abstract
    total: int | None  # when known


class FindingsStoreError(UsageError):
    """A database path that cannot be opened (a folder, a file that is not SQLite): the user must name another."""


def _fts_query(text: str) -> str:
    """Words of a user's search as quoted FTS5 terms (all must match): FTS5 syntax never leaks through."""
    words = re.findall(r"\w+", text)
    return " ".join(f'"{word}"' for word in words)


class FindingsStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One store per thread: the indexing thread writes through its own, pages read through theirs.
            self.connection = sqlite3.connect(self.path, timeout=30)
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as error:  # a folder, a file that is not SQLite, a path that cannot exist
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            raise FindingsStoreError(f"cannot open the findings database {self.path}: {reason}") from None

    def close(self) -> None:
        self.connection.close()

    def stored_pmids(self) -> set[str]:
        return {row[0] for row in self.connection.execute("SELECT pmid FROM documents")}

    def count(self) -> int:
        return self.connection.execute("SELECT COUNT(*) FROM documents").fetchone()[0]

    def add(self, source: str, documents: list[Document], extractions: list[Extraction]) -> None:
        """Store documents with their extractions in one transaction (all or nothing)."""
        by_pmid = {e.pmid: e for e in extractions}
        with self.connection:
            for document in documents:
                cursor = self.connection.execute(
                    "INSERT INTO documents (pmid, source, title, abstract, year) VALUES (?, ?, ?, ?, ?)",
                    (document.pmid, source, document.title, document.abstract, document.year),
                )
                self.connection.execute(
                    "INSERT INTO documents_fts (rowid, title, abstract) VALUES (?, ?, ?)",
                    (cursor.lastrowid, document.title, document.abstract),
                )
                extraction = by_pmid.get(document.pmid)
                if extraction is None:
                    continue
                self.connection.executemany(
                    "INSERT INTO entities VALUES (?, ?, ?, ?, ?, ?)",
                    [(document.pmid, m.start, m.end, m.text, m.type, m.mesh) for m in extraction.entities],
                )
                self.connection.executemany(
                    "INSERT INTO pairs VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (document.pmid, p.chemical, p.disease, p.score, p.evidence_start, p.evidence_end)
                        for p in extraction.pairs
                    ],
                )

    def search(self, text: str, limit: int = 50) -> pd.DataFrame:
        """Documents whose title or abstract contain every word of ``text``, best matches first."""
        query = _fts_query(text)
        columns = ["pmid", "title", "year"]
        if not query:
            return pd.DataFrame(columns=columns)
        rows = self.connection.execute(
            "SELECT d.pmid, d.title, d.year FROM documents_fts JOIN documents d ON d.rowid = documents_fts.rowid "
            "WHERE documents_fts MATCH ? ORDER BY rank LIMIT ?",
            (query, limit),
        ).fetchall()
        return pd.DataFrame(rows, columns=columns)

    def findings(
        self,
        threshold: float,
        relations_only: bool = False,
        years: tuple[int, int] | None = None,
        text: str = "",
        min_score: float = 0.0,
    ) -> pd.DataFrame:
        """One row per chemical-disease pair: names (each MeSH id's most frequent mention), number of supporting
        abstracts, best and mean score, first and last year, and whether any abstract scores at least ``threshold``.

        ``years`` keeps abstracts published in that range (inclusive; undated ones only without it), ``text``
        pairs whose chemical or disease name or MeSH id contains it (any case), ``min_score`` pairs whose
        best score reaches it."""
        pairs = pd.read_sql_query(
            "SELECT p.chemical, p.disease, p.score, d.year FROM pairs p JOIN documents d ON d.pmid = p.pmid",
            self.connection,
        )
        if years is not None:
            pairs = pairs[pairs["year"].between(*years)]
        columns = [
            "chemical",
            "disease",
            "chemical_mesh",
            "disease_mesh",
            "abstracts",
            "best_score",
            "mean_score",
            "first_year",
            "last_year",
            "relation",
        ]
        if pairs.empty:
            return pd.DataFrame(columns=columns)
        names = (
            pd.read_sql_query(
                "SELECT mesh, text, COUNT(*) AS n FROM entities GROUP BY mesh, lower(text) ORDER BY n DESC",
                self.connection,
            )
            .drop_duplicates("mesh")
            .set_index("mesh")["text"]
        )
        table = (
            pairs.groupby(["chemical", "disease"])
            .agg(
                abstracts=("score", "size"),
                best_score=("score", "max"),
                mean_score=("score", "mean"),
                first_year=("year", "min"),
                last_year=("year", "max"),
            )
            .reset_index()
            .rename(columns={"chemical": "chemical_mesh", "disease": "disease_mesh"})
        )
        table["chemical"] = table["chemical_mesh"].map(names).fillna(table["chemical_mesh"])
        table["disease"] = table["disease_mesh"].map(names).fillna(table["disease_mesh"])
        table["relation"] = table["best_score"] >= threshold
        keep = table["best_score"] >= min_score
        if relations_only:
            keep &= table["relation"]
        if text.strip():
            needle = text.strip().lower()
            keep &= (
                table[["chemical", "disease", "chemical_mesh", "disease_mesh"]]
                .apply(lambda column: column.str.lower().str.contains(needle, regex=False))
                .any(axis=1)
            )
        table = table[keep]
        return (
            table[columns].sort_values(["relation", "abstracts", "best_score"], ascending=False).reset_index(drop=True)
        )

    def year_range(self) -> tuple[int, int] | None:
        """The earliest and latest publication year stored, if any document has one."""
        low, high = self.connection.execute("SELECT MIN(year), MAX(year) FROM documents").fetchone()
        return (low, high) if low is not None else None

    def evidence(self, chemical: str, disease: str) -> pd.DataFrame:
        """The abstracts supporting one pair, best score first, with the evidence sentence."""
        rows = self.connection.execute(
            "SELECT d.pmid, d.title, d.abstract, d.year, p.score, p.evidence_start, p.evidence_end FROM pairs p "
            "JOIN documents d ON d.pmid = p.pmid WHERE p.chemical = ? AND p.disease = ? ORDER BY p.score DESC",
            (chemical, disease),
        ).fetchall()
        table = pd.DataFrame(
            rows, columns=["pmid", "title", "abstract", "year", "score", "evidence_start", "evidence_end"]
        )
        text = [
            Document(pmid, title, abstract).text
            for pmid, title, abstract in zip(table["pmid"], table["title"], table["abstract"])
        ]
        table["evidence"] = [t[a:b] for t, a, b in zip(text, table["evidence_start"], table["evidence_end"])]
        return table

    def document(self, pmid: str) -> Document:
        row = self.connection.execute(
            "SELECT pmid, title, abstract, year FROM documents WHERE pmid = ?", (pmid,)
        ).fetchone()
        if row is None:
            raise KeyError(f"no document {pmid} in the database")
        return Document(*row)

    def entities(self, pmid: str) -> list[Mention]:
        rows = self.connection.execute(
            "SELECT start, end, text, type, mesh FROM entities WHERE pmid = ? ORDER BY start", (pmid,)
        )
        return [Mention(*row) for row in rows]


def _batches(items: Iterable[Document], size: int) -> Iterator[list[Document]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def index_documents(
    store: FindingsStore,
    source: str,
    documents: Iterable[Document],
    extract: Extractor,
    *,
    total: int | None = None,
    batch_size: int = 64,
    progress: Callable[[IndexProgress], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> IndexProgress:
    """Extract and store every document with an abstract that the store lacks, a batch per transaction.

    ``should_stop`` is asked between batches: stopping loses no stored work, and the next call resumes.
    """
    stored = store.stored_pmids()
    done = skipped = 0
    for batch in _batches(documents, batch_size):
        if should_stop():
            break
        todo = []
        for document in batch:
            if document.pmid not in stored and document.abstract.strip():
                todo.append(document)
                stored.add(document.pmid)  # a PMID repeated in the input is stored once
        skipped += len(batch) - len(todo)
        if todo:
            store.add(source, todo, extract(todo))
            done += len(todo)
        if progress:
            progress(IndexProgress(done, skipped, total))
    return IndexProgress(done, skipped, total)
