"""Scale benchmark: the same batch run (sequence.amp over a FASTA of random peptides) on the local engine, on a
one-worker Ray cluster, and on a two-node Ray cluster, all on this machine's loopback.

    python benchmarks/scale.py [--peptides 200000] [--shard-size 10000]

The clusters are started as a user would (``ray start --head`` and ``ray start --address``, 1 CPU per node,
127.0.0.1 only) and stopped at the end. Each run is the command line end to end (start-up, reading, predicting,
writing shards); the records of the three runs are compared byte for byte. Prints a table, then one JSON line.
On a 2-core machine the two-node speed-up is bounded by the cores: the point is the mechanics, Ray's overhead
against one local process, and identical results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from medmodels.batch import read_results

LETTERS = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
RAY = str(Path(sys.executable).with_name("ray"))


def write_peptides(path: Path, count: int) -> None:
    rng = np.random.default_rng(0)
    with open(path, "w") as handle:
        handle.writelines(
            f">pep{i}\n{''.join(rng.choice(LETTERS, size=int(length)))}\n"
            for i, length in enumerate(rng.integers(10, 51, size=count))
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ray_start(*arguments: str) -> None:
    command = [RAY, "start", "--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--disable-usage-stats", *arguments]
    subprocess.run(command, check=True, env=ENV, capture_output=True, text=True, timeout=120)


def timed_batch(fasta: Path, out: Path, shard_size: int, *engine: str) -> float:
    command = [sys.executable, "-m", "medmodels", "batch", "sequence.amp", str(fasta), "--out", str(out)]
    command += ["--shard-size", str(shard_size), *engine]
    start = time.perf_counter()
    subprocess.run(command, check=True, env=ENV, capture_output=True, text=True, timeout=3600)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peptides", type=int, default=200_000)
    parser.add_argument("--shard-size", type=int, default=10_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="medmodels-scale-"))
    fasta = folder / "peptides.fasta"
    write_peptides(fasta, args.peptides)
    runs: dict[str, float] = {}
    try:
        runs["local, 1 process"] = timed_batch(fasta, folder / "local", args.shard_size)
        port = free_port()
        ray_start("--head", "--port", str(port), "--include-dashboard", "false")
        address = f"127.0.0.1:{port}"
        ray_engine = ("--engine", "ray", "--address", address)
        runs["Ray, 1 node, 1 worker"] = timed_batch(
            fasta, folder / "ray1", args.shard_size, *ray_engine, "--workers", "1"
        )
        ray_start("--address", address)
        runs["Ray, 2 nodes, 2 workers"] = timed_batch(
            fasta, folder / "ray2", args.shard_size, *ray_engine, "--workers", "2"
        )
    finally:
        subprocess.run([RAY, "stop", "--force"], env=ENV, capture_output=True, timeout=120, check=False)
    outputs = {"local, 1 process": "local", "Ray, 1 node, 1 worker": "ray1", "Ray, 2 nodes, 2 workers": "ray2"}
    reference = read_results(folder / "local")
    identical = all(read_results(folder / name).equals(reference) for name in outputs.values())
    local = runs["local, 1 process"]
    print(f"{args.peptides:,} peptides, sequence.amp, shards of {args.shard_size:,}; {os.cpu_count()} cores")
    print(f"{'run':<26}{'seconds':>9}{'peptides/s':>12}{'vs local':>10}")
    for name, seconds in runs.items():
        print(f"{name:<26}{seconds:>9.1f}{args.peptides / seconds:>12,.0f}{local / seconds:>10.2f}")
    print(f"records identical across the three runs: {identical}")
    summary = {
        "benchmark": "scale",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "peptides": args.peptides,
        "seconds": {name: round(seconds, 1) for name, seconds in runs.items()},
        "peptides_per_second": {name: round(args.peptides / seconds) for name, seconds in runs.items()},
        "identical_records": identical,
    }
    print(json.dumps(summary))
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
