"""The findings database: documents, extracted entities and scored chemical-disease pairs in one SQLite
file, with FTS5 full-text search over titles and abstracts.

Indexing commits one batch of documents at a time and skips documents already stored, so an
interrupted run resumes where it stopped; WAL journaling lets the dashboard read while it runs.
Every chemical-disease pair that co-occurs in an abstract is stored with the relation the model read
there (induces, treats or co-mention) and each class's probability. The database records the model that
wrote it (name, version, weights' SHA-256): findings of two models are never mixed, and a database written
by another version is offered for reindexing.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd

from medmodels.data import medmodels_home
from medmodels.errors import UsageError
from medmodels.literature.reading import Document, Mention
from medmodels.literature.results import COMENTION, INDUCES, TREATS, Extraction, Extractor, display_names

SCHEMA_VERSION = 2  # 2: a relation type and each class's probability per pair, and the model that wrote them
_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    pmid TEXT PRIMARY KEY, source TEXT NOT NULL, title TEXT NOT NULL, abstract TEXT NOT NULL, year INTEGER
);
CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5(title, abstract, content='documents', content_rowid='rowid');
CREATE TABLE IF NOT EXISTS {prefix}entities (
    pmid TEXT NOT NULL REFERENCES documents(pmid), start INTEGER NOT NULL, end INTEGER NOT NULL,
    text TEXT NOT NULL, type TEXT NOT NULL, mesh TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {prefix}pairs (
    pmid TEXT NOT NULL REFERENCES documents(pmid), chemical TEXT NOT NULL, disease TEXT NOT NULL,
    relation TEXT NOT NULL, induces REAL NOT NULL, treats REAL, comention REAL NOT NULL,
    evidence_start INTEGER NOT NULL, evidence_end INTEGER NOT NULL,
    PRIMARY KEY (pmid, chemical, disease)
);
CREATE TABLE IF NOT EXISTS {prefix}model (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_INDEXES = """
CREATE INDEX IF NOT EXISTS entities_by_mesh ON entities(mesh);
CREATE INDEX IF NOT EXISTS entities_by_pmid ON entities(pmid);
CREATE INDEX IF NOT EXISTS pairs_by_chemical_disease ON pairs(chemical, disease);
"""
# A reindex writes into side tables, then swaps them in: readers see the old findings until it finishes.
_REINDEX_PREFIX = "reindex_"
_REINDEX_DONE = "CREATE TABLE IF NOT EXISTS reindex_done (pmid TEXT PRIMARY KEY);"
# Each class's probability column; treats is NULL where the model does not read treatments.
_PROBABILITY_COLUMNS = {INDUCES: "induces", TREATS: "treats", COMENTION: "comention"}
# A pair that as many abstracts read as induces as read as treats: listed under neither.
DISPUTED = "disputed (as often induces as treats)"
RELATION_FILTERS = (INDUCES, TREATS, COMENTION)


def default_store_path() -> Path:
    """``findings.sqlite`` in ``medmodels_home()``."""
    return medmodels_home() / "findings.sqlite"


@dataclass(frozen=True)
class IndexProgress:
    done: int  # documents stored by this run
    skipped: int  # already in the database (resumed) or without an abstract
    total: int | None  # when known


@dataclass(frozen=True)
class ModelStamp:
    """The model a database's findings come from: every stored finding was read by this one model."""

    name: str
    version: int
    weights_sha256: str

    def describe(self) -> str:
        return f"{self.name} version {self.version}"


class FindingsStoreError(UsageError):
    """A database path that cannot be opened (a folder, a file that is not SQLite): the user must name another."""


class StaleStoreError(UsageError):
    """A database whose findings another model version wrote: adding to it would mix two models' readings."""


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
            fresh = self.connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
            if fresh:
                self.connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self.schema_version = self.connection.execute("PRAGMA user_version").fetchone()[0]
            if self.schema_version == SCHEMA_VERSION:
                self.connection.executescript(_SCHEMA.format(prefix="") + _INDEXES)
        except (sqlite3.Error, OSError) as error:  # a folder, a file that is not SQLite, a path that cannot exist
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            raise FindingsStoreError(f"cannot open the findings database {self.path}: {reason}") from None

    def close(self) -> None:
        self.connection.close()

    @property
    def outdated_schema(self) -> bool:
        """Written before relation types were stored: its documents can be read (to reindex them), its findings not."""
        return self.schema_version != SCHEMA_VERSION

    def stamp(self) -> ModelStamp | None:
        """The model whose findings the database holds; None for an empty or outdated database."""
        return None if self.outdated_schema else self._read_stamp()

    def _read_stamp(self, prefix: str = "") -> ModelStamp | None:
        values = dict(self.connection.execute(f"SELECT key, value FROM {prefix}model"))
        return ModelStamp(values["name"], int(values["version"]), values["weights_sha256"]) if values else None

    def staleness(self, model: ModelStamp) -> str | None:
        """Why the stored findings do not come from ``model`` (for the reindex offer), or None when they do."""
        if self.outdated_schema:
            return (
                f"this database was written by an earlier version of {model.name}, before relation types "
                "(induces, treats, co-mention) were stored"
            )
        stamp = self.stamp()
        if stamp is None or stamp == model or self.count() == 0:
            return None
        if stamp.version == model.version:
            return f"this database was written by other weights of {model.describe()} (retrained or replaced)"
        return f"this database was written by {stamp.describe()}; the installed model is {model.describe()}"

    def require_model(self, model: ModelStamp) -> None:
        """Refuse to add ``model`` 's findings to a database another model wrote."""
        reason = self.staleness(model)
        if reason:
            raise StaleStoreError(f"{reason}: reindex it (python -m medmodels index --reindex) before adding abstracts")

    def stored_pmids(self) -> set[str]:
        return {row[0] for row in self.connection.execute("SELECT pmid FROM documents")}

    def count(self) -> int:
        return self.connection.execute("SELECT COUNT(*) FROM documents").fetchone()[0]

    def sources(self) -> list[str]:
        return [row[0] for row in self.connection.execute("SELECT DISTINCT source FROM documents ORDER BY source")]

    def add(self, source: str, documents: list[Document], extractions: list[Extraction], model: ModelStamp) -> None:
        """Store documents with their extractions by ``model`` in one transaction (all or nothing); a database
        holding another model's findings is refused."""
        by_pmid = {e.pmid: e for e in extractions}
        entities, pairs = [], []
        for document in documents:
            if document.pmid in by_pmid:
                extraction_entities, extraction_pairs = finding_rows(by_pmid[document.pmid])
                entities += extraction_entities
                pairs += extraction_pairs
        self.add_rows(source, documents, entities, pairs, model)

    def add_rows(
        self, source: str, documents: list[Document], entities: list[tuple], pairs: list[tuple], model: ModelStamp
    ) -> None:
        """``add`` from rows of the ``entities`` and ``pairs`` tables (``finding_rows``), as the Parquet shards
        of a Ray index hold them: the one writer loads what the workers extracted."""
        self.require_model(model)
        with self.connection:
            self._write_stamp(model)
            for document in documents:
                cursor = self.connection.execute(
                    "INSERT INTO documents (pmid, source, title, abstract, year) VALUES (?, ?, ?, ?, ?)",
                    (document.pmid, source, document.title, document.abstract, document.year),
                )
                self.connection.execute(
                    "INSERT INTO documents_fts (rowid, title, abstract) VALUES (?, ?, ?)",
                    (cursor.lastrowid, document.title, document.abstract),
                )
            self._insert_rows(entities, pairs)

    def _insert_rows(self, entities: list[tuple], pairs: list[tuple], prefix: str = "") -> None:
        self.connection.executemany(f"INSERT INTO {prefix}entities VALUES (?, ?, ?, ?, ?, ?)", entities)
        self.connection.executemany(f"INSERT INTO {prefix}pairs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", pairs)

    def _write_stamp(self, model: ModelStamp, prefix: str = "") -> None:
        self.connection.executemany(
            f"INSERT OR REPLACE INTO {prefix}model VALUES (?, ?)",
            [("name", model.name), ("version", str(model.version)), ("weights_sha256", model.weights_sha256)],
        )

    def reindex(
        self,
        extract: Extractor,
        model: ModelStamp,
        *,
        batch_size: int = 64,
        progress: Callable[[IndexProgress], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> IndexProgress:
        """Read every stored document again with ``model`` (``extract`` 's model), a batch per transaction,
        into side tables that replace the findings in one transaction once all are read. Readers see the
        old findings until then; stopping keeps the work done, and the next call resumes it (started over
        if the model changed in between). ``done`` counts this call's documents, ``skipped`` earlier calls'."""
        connection = self.connection
        with connection:
            connection.executescript(_SCHEMA.format(prefix=_REINDEX_PREFIX) + _REINDEX_DONE)
        written = self._read_stamp(_REINDEX_PREFIX)
        if written is not None and written != model:
            with connection:
                for table in ("entities", "pairs", "model", "done"):
                    connection.execute(f"DELETE FROM {_REINDEX_PREFIX}{table}")
        with connection:
            self._write_stamp(model, _REINDEX_PREFIX)
        finished = {row[0] for row in connection.execute("SELECT pmid FROM reindex_done")}
        todo = [
            Document(*row)
            for row in connection.execute("SELECT pmid, title, abstract, year FROM documents ORDER BY rowid").fetchall()
            if row[0] not in finished
        ]
        total, done = len(todo) + len(finished), 0
        for batch in document_batches(todo, batch_size):
            if should_stop():
                return IndexProgress(done, len(finished), total)
            extractions = extract(batch)
            with connection:
                for extraction in extractions:
                    self._insert_rows(*finding_rows(extraction), _REINDEX_PREFIX)
                connection.executemany("INSERT INTO reindex_done VALUES (?)", [(d.pmid,) for d in batch])
            done += len(batch)
            if progress:
                progress(IndexProgress(done, len(finished), total))
        connection.execute("BEGIN")
        try:
            for table in ("entities", "pairs", "model"):
                connection.execute(f"DROP TABLE IF EXISTS {table}")
                connection.execute(f"ALTER TABLE {_REINDEX_PREFIX}{table} RENAME TO {table}")
            connection.execute("DROP TABLE reindex_done")
            for statement in filter(str.strip, _INDEXES.split(";")):
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            connection.execute("COMMIT")
        except sqlite3.Error:
            connection.execute("ROLLBACK")
            raise
        self.schema_version = SCHEMA_VERSION
        return IndexProgress(done, len(finished), total)

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

    def spellings(self) -> pd.DataFrame:
        """How often each MeSH id is spelled each way: ``mesh``, ``text``, ``n``, most frequent first."""
        return pd.read_sql_query(
            "SELECT mesh, text, COUNT(*) AS n FROM entities GROUP BY mesh, lower(text) ORDER BY n DESC, text",
            self.connection,
        )

    def findings(
        self,
        relation: str | None = INDUCES,
        years: tuple[int, int] | None = None,
        text: str = "",
        headings: Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        """One row per chemical-disease pair: display names, how many abstracts the model read as induces, as
        treats and as a co-mention, the best probability of ``relation``, first and last year.

        A pair's relation is the stated type more of its abstracts read (``DISPUTED`` when as many read it as
        induces as treats; co-mention when none states either). ``induces`` or ``treats`` keeps the pairs whose
        relation it is, ranked by how many abstracts read them that way, then by the best probability: a drug
        that most abstracts say treats a disease is not listed as causing it because a few read it so. On the
        MeSH-indexed 1977-79 abstracts of the train and validation shares, this kept 24 of 403 pairs the
        indexers call treated, against 53 when one reading was enough, and 110 of the 111 they call induced,
        as before. ``co-mention`` keeps pairs that at least one abstract names together without a stated
        relation, ranked by how many do. None keeps every pair, ranked by stated relations, then by abstracts. ``years``
        keeps abstracts published in that range (inclusive; undated ones only without it); ``text`` pairs
        whose name, MeSH id or any stored spelling of either contains it (any case). ``headings`` (MeSH id ->
        heading name) names the concepts; see ``display_names``. Without treats probabilities stored (a model
        that does not read treatments), the table has no treats column."""
        columns = [
            "chemical",
            "disease",
            "relation",
            "supporting",
            "best_probability",
            "induces",
            "treats",
            "co_mentions",
            "first_year",
            "last_year",
            "chemical_mesh",
            "disease_mesh",
        ]
        pairs = pd.read_sql_query(
            "SELECT p.chemical, p.disease, p.relation, p.induces, p.treats, p.comention, d.year FROM pairs p "
            "JOIN documents d ON d.pmid = p.pmid",
            self.connection,
        )
        if years is not None:
            pairs = pairs[pairs["year"].between(*years)]
        if pairs.empty:
            return pd.DataFrame(columns=columns)
        if pairs["treats"].isna().all():
            columns.remove("treats")  # a model that does not read treatments counts none
        for kind in RELATION_FILTERS:
            pairs[f"is_{kind}"] = pairs["relation"] == kind
        grouped = pairs.groupby(["chemical", "disease"])
        table = grouped.agg(
            induces=(f"is_{INDUCES}", "sum"),
            treats=(f"is_{TREATS}", "sum"),
            co_mentions=(f"is_{COMENTION}", "sum"),
            abstracts=("relation", "size"),
            first_year=("year", "min"),
            last_year=("year", "max"),
            best_induces=("induces", "max"),
            best_treats=("treats", "max"),
            best_comention=("comention", "max"),
        ).reset_index()
        table = table.rename(columns={"chemical": "chemical_mesh", "disease": "disease_mesh"})
        table["relation"] = np.select(
            [
                table["induces"] > table["treats"],
                table["treats"] > table["induces"],
                table["induces"] > 0,
            ],
            [INDUCES, TREATS, DISPUTED],
            default=COMENTION,
        )
        if relation is None:
            table["supporting"] = table["induces"] + table["treats"]
            table["best_probability"] = table[["best_induces", "best_treats"]].max(axis=1)
            order = ["supporting", "abstracts", "best_probability"]
        else:
            counted = {INDUCES: "induces", TREATS: "treats", COMENTION: "co_mentions"}[relation]
            kept = table[counted] > 0 if relation == COMENTION else table["relation"] == relation
            table = table[kept].assign(relation=relation)
            table["supporting"] = table[counted]
            table["best_probability"] = table[f"best_{_PROBABILITY_COLUMNS[relation]}"]
            order = ["supporting", "best_probability"]
        spellings = self.spellings()
        names = display_names(spellings, headings or {})
        table["chemical"] = table["chemical_mesh"].map(names).fillna(table["chemical_mesh"])
        table["disease"] = table["disease_mesh"].map(names).fillna(table["disease_mesh"])
        if text.strip():
            needle = text.strip().lower()
            matching = set(spellings.loc[spellings["text"].str.lower().str.contains(needle, regex=False), "mesh"])
            keep = (
                (
                    table[["chemical", "disease", "chemical_mesh", "disease_mesh"]]
                    .apply(lambda column: column.str.lower().str.contains(needle, regex=False))
                    .any(axis=1)
                )
                | table["chemical_mesh"].isin(matching)
                | table["disease_mesh"].isin(matching)
            )
            table = table[keep]
        return table.sort_values(order, ascending=False, kind="stable")[columns].reset_index(drop=True)

    def year_range(self) -> tuple[int, int] | None:
        """The earliest and latest publication year stored, if any document has one."""
        low, high = self.connection.execute("SELECT MIN(year), MAX(year) FROM documents").fetchone()
        return (low, high) if low is not None else None

    def evidence(self, chemical: str, disease: str, relation: str | None = None) -> pd.DataFrame:
        """The abstracts mentioning one pair, with the relation the model read in each, every class's
        probability and the evidence sentence: those read as ``relation`` first, most probable first."""
        rows = self.connection.execute(
            "SELECT d.pmid, d.title, d.abstract, d.year, p.relation, p.induces, p.treats, p.comention, "
            "p.evidence_start, p.evidence_end FROM pairs p JOIN documents d ON d.pmid = p.pmid "
            "WHERE p.chemical = ? AND p.disease = ?",
            (chemical, disease),
        ).fetchall()
        table = pd.DataFrame(
            rows,
            columns=[
                "pmid", "title", "abstract", "year", "relation", INDUCES, TREATS, COMENTION,
                "evidence_start", "evidence_end",
            ],
        )  # fmt: skip
        if table[TREATS].isna().all():
            table = table.drop(columns=TREATS)  # a model that does not read treatments
        shown = relation or INDUCES
        table = table.assign(_first=table["relation"] == shown).sort_values(
            ["_first", shown], ascending=False, kind="stable"
        )
        text = [
            Document(pmid, title, abstract).text
            for pmid, title, abstract in zip(table["pmid"], table["title"], table["abstract"])
        ]
        table["evidence"] = [t[a:b] for t, a, b in zip(text, table["evidence_start"], table["evidence_end"])]
        return table.drop(columns="_first").reset_index(drop=True)

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


def finding_rows(extraction: Extraction) -> tuple[list[tuple], list[tuple]]:
    """An extraction as rows of the ``entities`` and ``pairs`` tables, their columns in order."""
    entities = [(extraction.pmid, m.start, m.end, m.text, m.type, m.mesh) for m in extraction.entities]
    pairs = [
        (
            extraction.pmid,
            p.chemical,
            p.disease,
            p.relation,
            p.score,
            dict(p.probabilities).get(TREATS),
            p.probability(COMENTION),
            p.evidence_start,
            p.evidence_end,
        )
        for p in extraction.pairs
    ]
    return entities, pairs


def new_documents(batch: list[Document], stored: set[str]) -> list[Document]:
    """The documents of ``batch`` to index: with an abstract, not stored, and a PMID repeated in the input once
    (``stored`` gains the PMIDs returned)."""
    todo = []
    for document in batch:
        if document.pmid not in stored and document.abstract.strip():
            todo.append(document)
            stored.add(document.pmid)
    return todo


def document_batches(items: Iterable[Document], size: int) -> Iterator[list[Document]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def index_documents(
    store: FindingsStore,
    source: str,
    documents: Iterable[Document],
    extract: Extractor,
    model: ModelStamp,
    *,
    total: int | None = None,
    batch_size: int = 64,
    progress: Callable[[IndexProgress], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> IndexProgress:
    """Extract and store every document with an abstract that the store lacks, a batch per transaction, as
    read by ``model`` (``extract`` 's model); a store holding another model's findings is refused.

    ``should_stop`` is asked between batches: stopping loses no stored work, and the next call resumes.
    """
    store.require_model(model)  # before any extraction: a refusal costs nothing
    stored = store.stored_pmids()
    done = skipped = 0
    for batch in document_batches(documents, batch_size):
        if should_stop():
            break
        todo = new_documents(batch, stored)
        skipped += len(batch) - len(todo)
        if todo:
            store.add(source, todo, extract(todo), model)
            done += len(todo)
        if progress:
            progress(IndexProgress(done, skipped, total))
    return IndexProgress(done, skipped, total)
