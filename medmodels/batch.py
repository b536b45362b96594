"""Batch prediction over the recipe interface, for inputs past what the pages take: records written as Parquet
shards with a manifest, inputs read as a stream, an interrupted run resumed shard by shard.

A run reads its inputs in order (``Recipe.read_batch_inputs``: FASTA files of any size as a stream, scans, ...)
and cuts them into shards of ``shard_size`` inputs. Each shard is predicted ``batch_size`` inputs at a time and
written to ``DIR/shards/shard-NNNNN.parquet`` (first to a temporary name, then renamed, so a file that exists is
complete); ``DIR/manifest.json`` records the inputs, the model's name, version and card SHA-256, and each shard's
status and counts. Rerun with the same arguments, a run skips the shards the manifest lists as done: their inputs
are read again (a stream has no index) but not predicted. An unreadable input is an error row, never a failed run.
The local engine predicts the shards in this process; the Ray engine (``medmodels.cluster``) hands the same shards
to a pool of workers, which predict them with the same batches and write them under the same names.

Each row holds the input's position in the run, its id, the call (``label``, null when withheld or unreadable),
the ``error`` (null when readable) and the whole record as sorted-key JSON, so engines can be compared byte for
byte and the shards queried with DuckDB or pyarrow.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from medmodels.cards import read_card
from medmodels.checkpoints import card_path
from medmodels.errors import UsageError
from medmodels.recipe import Record, predict_all
from medmodels.registry import get_model_info

SHARD_SIZE = 10_000
ENGINES = ("local", "ray")
MANIFEST = "manifest.json"
SHARDS = "shards"  # a folder of Parquet files only, so pyarrow.parquet.read_table(DIR / "shards") reads them all
SCHEMA = pa.schema(
    [
        ("position", pa.int64()),
        ("id", pa.string()),
        ("label", pa.string()),
        ("error", pa.string()),
        ("record", pa.string()),
    ]
)


@dataclass
class Shard:
    index: int
    file: str
    first_position: int
    records: int
    errors: int
    status: str = "done"


@dataclass
class Manifest:
    model: str
    version: int
    card_sha256: str
    inputs: list[str]
    shard_size: int
    shards: list[Shard] = field(default_factory=list)
    complete: bool = False

    def same_run(self, other: Manifest) -> bool:
        keys = ("model", "version", "card_sha256", "inputs", "shard_size")
        return all(getattr(self, key) == getattr(other, key) for key in keys)


def _installed_card(name: str, weights: Path | None) -> Path:
    """The installed card's file (the shipped folder, then the user's, or ``weights``)."""
    path = card_path(name, weights)
    if path is None:
        raise UsageError(f"{name} is not installed; train it first or give --weights DIR")
    return path


def _read_manifest(out_dir: Path) -> Manifest | None:
    path = out_dir / MANIFEST
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text())
        return Manifest(**{**raw, "shards": [Shard(**shard) for shard in raw["shards"]]})
    except (ValueError, TypeError, KeyError) as error:
        raise UsageError(f"{path} is not a batch manifest ({error}); choose another --out") from None


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """``write(temporary)`` beside ``path``, then rename: a reader or a resumed run never sees half a file."""
    temporary = path.with_name(path.name + ".partial")
    write(temporary)
    os.replace(temporary, path)  # a file under its final name is always complete


def _row(position: int, record: Record) -> dict[str, Any]:
    identifier = next((str(value) for key, value in record.items() if key != "error"), "")
    return {
        "position": position,
        "id": identifier,
        "label": None if record.get("label") is None else str(record["label"]),
        "error": record.get("error"),
        "record": json.dumps(record, sort_keys=True, default=str),
    }


def predict_shard(predictor: Any, inputs: list[Any], batch_size: int, first_position: int) -> pa.Table:
    """One shard's rows: every input in order, an unreadable one as its error row."""
    rows = [
        _row(first_position + offset, record)
        for offset, record in enumerate(predict_all(predictor, inputs, batch_size))
    ]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def write_shard(out_dir: Path, index: int, first_position: int, table: pa.Table) -> Shard:
    """Write one shard's table under its final name (complete or absent) and describe it for the manifest."""
    file = f"{SHARDS}/shard-{index:05d}.parquet"
    (out_dir / SHARDS).mkdir(exist_ok=True)
    write_atomically(out_dir / file, lambda path: pq.write_table(table, path))
    errors = sum(1 for error in table.column("error").to_pylist() if error is not None)
    return Shard(index, file, first_position, table.num_rows, errors)


@dataclass(frozen=True)
class ShardTask:
    """What an engine predicts: one shard's inputs, read by the driver in input order."""

    index: int
    first_position: int
    inputs: list[Any]


def _pending_shards(stream: Iterator[Any], shard_size: int, finished: set[int]) -> Iterator[ShardTask]:
    for index in itertools.count():
        chunk = list(itertools.islice(stream, shard_size))
        if not chunk:
            return
        if index not in finished:  # a finished shard is read again to keep positions, not predicted again
            yield ShardTask(index, index * shard_size, chunk)


def run_batch(
    name: str,
    inputs: list[str],
    out_dir: Path,
    *,
    shard_size: int = SHARD_SIZE,
    batch_size: int | None = None,
    weights: Path | None = None,
    progress: Callable[[int, int, int | None], None] | None = None,
    engine: str = "local",
    address: str | None = None,
    workers: int | None = None,
) -> Manifest:
    """Predict every input of ``inputs`` (paths) with the installed model ``name`` into ``out_dir``; resumes a run
    of the same model, card and inputs found there. ``progress(done, shard_records, total)`` is called after each
    shard, ``total`` being the recipe's count of the inputs (None when it cannot count them cheaply).

    ``engine="ray"`` predicts the shards on a Ray cluster (``medmodels.cluster``: the one at ``address``, or a
    local one on loopback) with ``workers`` model replicas; both engines cut the same shards and batches, so
    their records are identical."""
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; choose {' or '.join(ENGINES)}")
    recipe = get_model_info(name).recipe
    card = _installed_card(name, weights)
    card_sha = hashlib.sha256(card.read_bytes()).hexdigest()
    manifest = Manifest(name, read_card(card).version, card_sha, [str(path) for path in inputs], shard_size)
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = _read_manifest(out_dir)
    if previous is not None:
        if not previous.same_run(manifest):
            raise UsageError(
                f"{out_dir} holds a run of other inputs or another model version ({previous.model} version "
                f"{previous.version}); choose another --out"
            )
        manifest.shards = [s for s in previous.shards if s.status == "done" and (out_dir / s.file).exists()]
    batch_size = batch_size or recipe.predict_batch_size
    done = sum(shard.records for shard in manifest.shards)
    total = recipe.count_batch_inputs(list(manifest.inputs)) if progress else None
    tasks = _pending_shards(
        recipe.read_batch_inputs(list(manifest.inputs)), shard_size, {shard.index for shard in manifest.shards}
    )

    def finished(shard: Shard) -> None:
        nonlocal done
        manifest.shards.append(shard)
        manifest.shards.sort(key=lambda s: s.index)
        _save(manifest, out_dir)  # after every shard, so an interrupted run resumes from here
        done += shard.records
        if progress:
            progress(done, shard.records, total)

    if engine == "ray":
        from medmodels.cluster import predict_shards_on_ray  # Ray is an optional extra

        # The workers load the very card hashed above, whatever folders they would search.
        folder = card.parent
        predict_shards_on_ray(name, folder, batch_size, out_dir, tasks, finished, address=address, workers=workers)
    else:
        predictor = None
        for task in tasks:
            if predictor is None:  # loaded once, and only when something is left to predict
                predictor = recipe.load_predictor(name, weights)
            table = predict_shard(predictor, task.inputs, batch_size, task.first_position)
            finished(write_shard(out_dir, task.index, task.first_position, table))
    manifest.complete = True
    _save(manifest, out_dir)
    return manifest


def _save(manifest: Manifest, out_dir: Path) -> None:
    text = json.dumps(asdict(manifest), indent=2)
    write_atomically(out_dir / MANIFEST, lambda path: path.write_text(text))


def read_results(out_dir: Path) -> pa.Table:
    """Every shard of a run, in input order."""
    manifest = _read_manifest(out_dir)
    if manifest is None:
        raise UsageError(f"{out_dir} holds no batch run")
    tables = [pq.read_table(out_dir / shard.file) for shard in sorted(manifest.shards, key=lambda s: s.index)]
    return pa.concat_tables(tables) if tables else SCHEMA.empty_table()


def iterate_records(out_dir: Path) -> Iterator[Record]:
    """The records of a run, in input order."""
    for text in read_results(out_dir).column("record").to_pylist():
        yield json.loads(text)
