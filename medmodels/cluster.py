"""Ray, for runs past one machine: shards of a batch run (``medmodels.batch``), or a domain's own shards (the
findings index), processed by a pool of model replicas.

Ray is an optional extra (``requirements-scale.txt``); nothing else in medmodels imports it. Without an address
a local cluster starts on loopback (127.0.0.1, no dashboard, no usage report) and stops with the run; with
``address`` the run joins a cluster started by ``ray start``, whose nodes must see the same paths (inputs,
weights and the output folder: each worker writes its shards itself).

The driver reads the inputs in order and cuts the same shards as the local engine; each shard's inputs go to
the object store, so the driver holds only references whatever the file size. Ray Data maps the shards over an
explicit actor pool (``ActorPoolStrategy``): each actor loads the model once, with as many torch threads as
CPUs it holds, and predicts a shard with the same batches as the local engine, so the records are identical.
One CPU of the cluster is left to Ray Data's own tasks: with every CPU held by an actor a job can stall.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from medmodels.data import HOME_ENV
from medmodels.errors import MedmodelsError, UsageError

LOOPBACK = "127.0.0.1"
_LOOPBACK_NAMES = (LOOPBACK, "localhost")


class ClusterError(MedmodelsError):
    """A Ray worker failed (weights missing on a node, a folder it cannot write): shards already finished are
    kept, and the same command resumes once the cause is fixed."""


def import_ray(loopback: bool = True) -> Any:
    """The ``ray`` module, or a one-line usage error naming the extra to install. With ``loopback`` (a cluster on
    this machine), Ray keeps 127.0.0.1 as the node address and its servers listen there only: by default it
    swaps 127.0.0.1 for the machine's routable address and listens on every interface."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report leaves the machine
    # Token authentication (the token in ~/.ray/auth_token, made for a new local cluster), also when joining a
    # cluster: Ray 2.60 turns it on for clusters it starts, but a driver joining one only sends it when asked.
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    if loopback:  # read when Ray is imported; Ray's switch for single-machine clusters (its default off Linux)
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
        import ray.data  # Ray Data, the engine's API, is a subpackage
    except ImportError:
        raise UsageError("the Ray engine needs Ray: pip install -r requirements-scale.txt") from None
    return ray


@contextlib.contextmanager
def ray_cluster(address: str | None = None) -> Iterator[Any]:
    """Ray connected to the cluster at ``address``, or to a local one started on loopback and stopped on exit;
    a connection the caller already holds is used as it is."""
    loopback = address is None or address.rsplit(":", 1)[0].removeprefix("ray://") in _LOOPBACK_NAMES
    ray = import_ray(loopback)
    if ray.is_initialized():
        yield ray
        return
    options: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    logging.getLogger("ray").setLevel(logging.ERROR)  # Ray's start-up notices would break the progress bar
    if address is None:
        ray.init(_node_ip_address=LOOPBACK, include_dashboard=False, **options)
    else:
        if loopback:  # a cluster on this machine's loopback: the driver joins it there too
            options["_node_ip_address"] = LOOPBACK
        try:
            ray.init(address=address, **options)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise UsageError(f"cannot join the Ray cluster at {address}: {str(error).splitlines()[0]}") from None
    # Ray's core installs a handler that dumps a stack on SIGTERM; a stopped run is ordinary (it resumes), so
    # SIGTERM stops it as Ctrl-C does, and the cluster this run started is shut down below.
    previous = (
        signal.signal(signal.SIGTERM, _interrupt) if threading.current_thread() is threading.main_thread() else None
    )
    try:
        data_context = ray.data.DataContext.get_current()
        data_context.enable_progress_bars = False  # the command line draws its own
        data_context.print_on_execution_start = False
        # Ray Data warns that the input column falls back to pickled objects: it holds object references.
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        yield ray
    finally:
        ray.shutdown()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def default_workers(ray: Any) -> int:
    """Model replicas of one CPU each, leaving one CPU of the cluster to Ray Data's own tasks."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)) - 1)


class ShardPredictor:
    """One model replica on a Ray worker: loaded once by the constructor, then a shard per row it is given."""

    def __init__(self, name: str, weights: str, batch_size: int, out_dir: str, threads: int) -> None:
        import torch

        from medmodels.registry import get_model_info

        torch.set_num_threads(threads)  # torch threads = the CPUs this actor holds
        self.predictor = get_model_info(name).recipe.load_predictor(name, Path(weights))
        self.batch_size, self.out_dir = batch_size, Path(out_dir)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        import ray

        from medmodels.batch import predict_shard, write_shard

        shards = []
        for index, first, inputs in zip(batch["index"], batch["first_position"], batch["inputs"]):
            table = predict_shard(self.predictor, ray.get(inputs), self.batch_size, int(first))
            shards.append(json.dumps(asdict(write_shard(self.out_dir, int(index), int(first), table))))
        return {"shard": shards}


def map_on_actors(
    ray: Any,
    rows: list[dict[str, Any]],
    actor: type,
    settings: dict[str, Any],
    *,
    workers: int | None = None,
    cpus_per_worker: int = 1,
) -> Iterator[dict[str, Any]]:
    """Each row through a pool of ``workers`` ``actor`` s, as results arrive (in any order). Each actor is built
    once with ``settings`` and ``threads`` (its CPUs) and called with one row at a time."""
    from ray.data import ActorPoolStrategy

    # The driver's numerical settings (MKL_CBWR: records identical to the local engine's) and its folder of
    # user models reach the workers, on this machine or another.
    env = {key: os.environ[key] for key in ("MKL_CBWR", HOME_ENV) if key in os.environ}
    with warnings.catch_warnings():
        # max_restarts has no named parameter in Ray 2.60 (the keyword is deprecated); a lost actor fails the run,
        # which resumes from its finished shards, and Ray does not warn that a restarted actor would need its
        # constructor arguments from the object store.
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
        results = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            actor,
            fn_constructor_kwargs={**settings, "threads": cpus_per_worker},
            batch_size=1,
            compute=ActorPoolStrategy(size=min(workers or default_workers(ray), len(rows))),
            num_cpus=cpus_per_worker,
            runtime_env={"env_vars": env},
            max_restarts=0,
        )
    try:
        yield from results.iter_rows()
    except ray.exceptions.RayError as error:  # a worker failed: the message, not Ray's nested traceback
        lines = [line for line in str(error).splitlines() if line.strip()]
        raise ClusterError(f"a Ray worker failed: {lines[-1] if lines else type(error).__name__}") from None


def predict_shards_on_ray(
    name: str,
    weights: Path,
    batch_size: int,
    out_dir: Path,
    tasks: Iterator[Any],
    finished: Callable[[Any], None],
    *,
    address: str | None = None,
    workers: int | None = None,
) -> None:
    """Predict each ``ShardTask`` of ``tasks`` with the model in ``weights`` (a folder holding its card) on
    ``workers`` actors; ``finished(shard)`` is called on the driver as each shard's file is written."""
    from medmodels.batch import Shard

    with ray_cluster(address) as ray:
        rows = [
            {"index": task.index, "first_position": task.first_position, "inputs": ray.put(task.inputs)}
            for task in tasks
        ]
        if not rows:
            return
        settings = {"name": name, "weights": str(weights), "batch_size": batch_size, "out_dir": str(out_dir.resolve())}
        for row in map_on_actors(ray, rows, ShardPredictor, settings, workers=workers):
            finished(Shard(**json.loads(row["shard"])))
