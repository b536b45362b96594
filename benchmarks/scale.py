"""Scale benchmark: the same batch run (sequence.amp over a FASTA of random peptides) on the local engine, on a
one-worker Ray cluster, and on a two-node Ray cluster, all on this machine's loopback.

    python benchmarks/scale.py [--peptides 200000] [--shard-size 10000]

The cluster is Ray's own multi-node cluster on one machine (``ray.cluster_utils.Cluster``: a head node, then a
second node, each its own raylet with 1 CPU, all on 127.0.0.1), and the runs join it with ``--address`` as
they would join one started by ``ray start``. ``ray start`` itself cannot do this on loopback in Ray 2.60: it
swaps 127.0.0.1 for the machine's routable address and listens on every interface, and in the single-machine
mode that keeps it on loopback (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``) it refuses a second node. Each run is the command line end to end (start-up, reading, predicting,
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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from medmodels.batch import read_results

LETTERS = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
# As medmodels.cluster sets them: no usage report, token authentication, and Ray's single-machine mode, in which
# a node keeps 127.0.0.1 as its address and listens there only (read when Ray is imported).
RAY_SETTINGS = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
os.environ.update(RAY_SETTINGS)


def write_peptides(path: Path, count: int) -> None:
    rng = np.random.default_rng(0)
    with open(path, "w") as handle:
        handle.writelines(
            f">pep{i}\n{''.join(rng.choice(LETTERS, size=int(length)))}\n"
            for i, length in enumerate(rng.integers(10, 51, size=count))
        )


def timed_batch(fasta: Path, out: Path, shard_size: int, *engine: str) -> float:
    command = [sys.executable, "-m", "medmodels", "batch", "sequence.amp", str(fasta), "--out", str(out)]
    command += ["--shard-size", str(shard_size), *engine]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=3600)
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
    runs["local, 1 process"] = timed_batch(fasta, folder / "local", args.shard_size)
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 500 * 2**20}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    try:
        ray_engine = ("--engine", "ray", "--address", cluster.address)
        runs["Ray, 1 node, 1 worker"] = timed_batch(
            fasta, folder / "ray1", args.shard_size, *ray_engine, "--workers", "1"
        )
        cluster.add_node(**node)  # each worker holds 1 CPU: one lands on each node
        assert len(cluster.list_all_nodes()) == 2
        runs["Ray, 2 nodes, 2 workers"] = timed_batch(
            fasta, folder / "ray2", args.shard_size, *ray_engine, "--workers", "2"
        )
    finally:
        cluster.shutdown()
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
