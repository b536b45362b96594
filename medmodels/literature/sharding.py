"""Literature indexing on Ray: workers extract into Parquet shards, and one writer loads them into the findings
database (SQLite has one writer).

The driver reads the documents in order and cuts them exactly as the local indexer does (batches of 64 read,
those already stored or without an abstract left out), so every extraction sees the same documents together
and the database comes out the same. A shard holds ``shard_size / 64`` such batches; a worker writes its
three tables (``documents``, ``entities``, ``pairs``: the database's own columns) to ``SHARDS/.pending/``, and
the writer loads finished shards in input order, one transaction each, then moves their files to
``SHARDS/<table>/``. That folder is a plain Parquet copy of the findings, for DuckDB or pyarrow once a
database file is outgrown (``SELECT chemical, disease, count(*) FROM 'SHARDS/pairs/*.parquet' ...``).

An interrupted run keeps what was loaded; the next run skips those documents (as the local indexer does)
and clears the pending files of the one before.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from medmodels.batch import write_atomically
from medmodels.cards import CheckpointError
from medmodels.checkpoints import card_path
from medmodels.literature.pipeline import NAME
from medmodels.literature.reading import Document
from medmodels.literature.store import (
    FindingsStore,
    IndexProgress,
    ModelStamp,
    document_batches,
    finding_rows,
    new_documents,
)

if TYPE_CHECKING:
    from medmodels.literature.pipeline import LiteratureModel

SHARD_SIZE = 2560  # documents read per shard (40 batches of 64): about a minute of one worker
PENDING = ".pending"
# The database tables' own columns, in order (``_SCHEMA`` in store.py), typed for Parquet.
SCHEMAS = {
    "documents": pa.schema(
        [("pmid", pa.string()), ("source", pa.string()), ("title", pa.string()), ("abstract", pa.string()),
         ("year", pa.int64())]
    ),
    "entities": pa.schema(
        [("pmid", pa.string()), ("start", pa.int64()), ("end", pa.int64()), ("text", pa.string()),
         ("type", pa.string()), ("mesh", pa.string())]
    ),
    "pairs": pa.schema(
        [("pmid", pa.string()), ("chemical", pa.string()), ("disease", pa.string()), ("relation", pa.string()),
         ("induces", pa.float64()), ("treats", pa.float64()), ("comention", pa.float64()),
         ("evidence_start", pa.int64()), ("evidence_end", pa.int64())]
    ),
}  # fmt: skip
FIELDS = {table: tuple(schema.names) for table, schema in SCHEMAS.items()}


def default_shards_dir(store_path: Path) -> Path:
    """``findings-shards/`` beside ``findings.sqlite``."""
    return store_path.with_name(f"{store_path.stem}-shards")


def extract_shard(model: LiteratureModel, units: list[list[Document]], source: str) -> dict[str, pa.Table]:
    """One shard's tables: each unit extracted together, as the local indexer extracts a batch."""
    rows: dict[str, list[tuple]] = {table: [] for table in SCHEMAS}
    for unit in units:
        by_pmid = {extraction.pmid: extraction for extraction in model.extract(unit)}
        for document in unit:
            rows["documents"].append((document.pmid, source, document.title, document.abstract, document.year))
            entities, pairs = finding_rows(by_pmid[document.pmid])
            rows["entities"] += entities
            rows["pairs"] += pairs
    return {
        table: pa.Table.from_pylist([dict(zip(FIELDS[table], row)) for row in rows[table]], schema=SCHEMAS[table])
        for table in SCHEMAS
    }


class ShardExtractor:
    """One ``literature.cdr`` replica on a Ray worker: loaded once, then a shard per row it is given."""

    def __init__(self, weights: str, source: str, shards: str, threads: int) -> None:
        import torch

        from medmodels.literature.pipeline import LiteratureModel

        torch.set_num_threads(threads)
        self.model = LiteratureModel.load(weights)
        self.source, self.pending = source, Path(shards) / PENDING

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        import ray

        for index, units in zip(batch["index"], batch["inputs"]):
            for table, data in extract_shard(self.model, ray.get(units), self.source).items():
                path = self.pending / f"{table}-{int(index):05d}.parquet"
                write_atomically(path, lambda partial, data=data: pq.write_table(data, partial))
        weights = self.model.stamp.weights_sha256
        return {"index": list(batch["index"]), "weights_sha256": [weights] * len(batch["index"])}


def _load_shard(store: FindingsStore, shards: Path, index: int, run: str, model: ModelStamp) -> int:
    """Load one pending shard into the database (one transaction), then file it under ``shards/<table>/``."""
    pending = {table: shards / PENDING / f"{table}-{index:05d}.parquet" for table in SCHEMAS}
    rows = {
        table: [tuple(row[field] for field in FIELDS[table]) for row in pq.read_table(path).to_pylist()]
        for table, path in pending.items()
    }
    documents = [Document(pmid, title, abstract, year) for pmid, _, title, abstract, year in rows["documents"]]
    source = rows["documents"][0][1] if rows["documents"] else ""
    store.add_rows(source, documents, rows["entities"], rows["pairs"], model)
    for table, path in pending.items():
        (shards / table).mkdir(exist_ok=True)
        os.replace(path, shards / table / f"{run}-{index:05d}.parquet")
    return len(documents)


def index_on_ray(
    store: FindingsStore,
    source: str,
    documents: Iterable[Document],
    model: LiteratureModel,
    weights: Path | str | None,
    shards: Path,
    *,
    total: int | None = None,
    batch_size: int = 64,
    shard_size: int = SHARD_SIZE,
    progress: Callable[[IndexProgress], None] | None = None,
    address: str | None = None,
    workers: int | None = None,
) -> IndexProgress:
    """``index_documents`` with the extraction on Ray workers: the same documents stored, the same findings.
    ``model`` is the driver's copy of the model in ``weights`` (its stamp goes into the database)."""
    from medmodels.cluster import map_on_actors, ray_cluster  # Ray is an optional extra

    stamp = model.stamp
    store.require_model(stamp)  # before any extraction: a refusal costs nothing
    shutil.rmtree(shards / PENDING, ignore_errors=True)  # an interrupted run's shards that were never loaded
    (shards / PENDING).mkdir(parents=True)
    card = card_path(NAME, weights)  # the workers load the very card the driver loaded
    stored = store.stored_pmids()
    done = skipped = 0
    with ray_cluster(address) as ray:
        rows: list[dict[str, Any]] = []
        units: list[list[Document]] = []
        for batch in document_batches(documents, batch_size):
            todo = new_documents(batch, stored)
            skipped += len(batch) - len(todo)
            if todo:
                units.append(todo)
            if len(units) == max(1, shard_size // batch_size):
                rows.append({"index": len(rows), "inputs": ray.put(units)})
                units = []
        if units:
            rows.append({"index": len(rows), "inputs": ray.put(units)})
        if progress:
            progress(IndexProgress(done, skipped, total))
        if not rows:
            return IndexProgress(done, skipped, total)
        settings = {"weights": str(card.parent) if card else "", "source": source, "shards": str(shards.resolve())}
        run, finished, loaded = time.strftime("%Y%m%d-%H%M%S"), set(), 0
        for result in map_on_actors(ray, rows, ShardExtractor, settings, workers=workers):
            if result["weights_sha256"] != stamp.weights_sha256:
                raise CheckpointError("a Ray worker loaded other weights than this process; install the same model")
            finished.add(int(result["index"]))
            while loaded in finished:  # in input order, whatever order the workers finish in
                done += _load_shard(store, shards, loaded, run, stamp)
                loaded += 1
                if progress:
                    progress(IndexProgress(done, skipped, total))
    return IndexProgress(done, skipped, total)
