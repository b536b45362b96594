"""Literature benchmark: CPU speed of ``literature.cdr`` (entities + relations) over the 500 BC5CDR test
abstracts, peak memory, and the time to index the default corpus (a stated subset, extrapolated, unless
``--full``).

    MEDMODELS_DATA=../shared/data python benchmarks/literature.py [--subset 3000] [--full]

Prints a table, then one JSON line. The BC5CDR row needs the data folder; the indexing rows do not.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import torch

from medmodels.data import DataNotFoundError, resolve_data_dir
from medmodels.literature.indexing import default_corpus
from medmodels.literature.pipeline import LiteratureModel
from medmodels.literature.reading import unannotated
from medmodels.literature.recipes import load_split
from medmodels.literature.store import FindingsStore, index_documents

FLOORS = {"abstracts_per_second": 50, "peak_rss_mb": 1536, "index_minutes": 15}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", type=int, default=3000, help="default-corpus records to index (then extrapolated)")
    parser.add_argument("--full", action="store_true", help="index the whole default corpus")
    args = parser.parse_args()
    results: dict[str, object] = {
        "benchmark": "literature",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads",
    }
    model = LiteratureModel.load()

    try:
        documents = [unannotated(d) for d in load_split(resolve_data_dir(), "test")]
    except DataNotFoundError as error:
        print(f"skipping the BC5CDR row: {error}")
        documents = []
    if documents:
        model.extract(documents[:64])  # warm-up: dictionaries, sentence splitter, allocator
        started = time.perf_counter()
        extractions = model.extract(documents)
        seconds = time.perf_counter() - started
        results["bc5cdr_test_abstracts"] = len(documents)
        results["abstracts_per_second"] = round(len(documents) / seconds, 1)
        results["mentions_found"] = sum(len(e.entities) for e in extractions)

    stream, records = default_corpus()
    chosen = records if args.full else min(args.subset, records)
    with tempfile.TemporaryDirectory() as folder:
        store = FindingsStore(Path(folder) / "findings.sqlite")
        started = time.perf_counter()
        report = index_documents(store, "benchmark", itertools.islice(stream, chosen), model.extract, model.stamp)
        seconds = time.perf_counter() - started
        store.close()
    results["index_records"] = chosen
    results["index_abstracts_stored"] = report.done
    results["index_seconds"] = round(seconds, 1)
    results["index_minutes"] = round(
        seconds / chosen * records / 60, 1
    )  # the whole corpus, extrapolated per record read
    results["index_extrapolated"] = not args.full
    results["default_corpus_records"] = records
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    results["floors"] = FLOORS

    print(f"{'literature.cdr on this CPU':<60} {'value':>12} {'floor':>10}")
    if documents:
        print(
            f"{f'entities + relations, {len(documents)} BC5CDR test abstracts':<60} {results['abstracts_per_second']:>9} /s {'>= 50 /s':>10}"
        )
    scope = "whole corpus" if args.full else f"{chosen:,} of {records:,} records, extrapolated"
    print(f"{f'index the default corpus ({scope})':<60} {results['index_minutes']:>8} min {'<= 15 min':>10}")
    print(f"{'peak memory (RSS)':<60} {results['peak_rss_mb']:>9} MB {'<= 1536 MB':>10}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
