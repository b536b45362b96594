"""Training a model of the user's own scans in the background, so the dashboard stays responsive.

One training runs at a time per process (the server): the page shares one ``BackgroundTrainer`` between
sessions, and a second start while one runs is refused. The training thread runs at a lower CPU priority, so
other sessions' predictions come first. ``cancel`` stops a run at its next training step;
nothing is written then. While it runs, ``history`` holds each finished epoch's row for live curves.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medmodels.cards import ModelCard, VersionPlan
from medmodels.imaging.custom import LabelledScans, train_custom
from medmodels.training import TrainingProgress

# Linux gives each thread its own nice value, and threads inherit it from the thread that starts them (here,
# PyTorch's worker threads for the training's parallel work). At 10 the scheduler gives a session's prediction
# about nine tenths of a busy CPU.
TRAINING_NICENESS = 10


def lower_thread_priority(niceness: int = TRAINING_NICENESS) -> bool:
    """Lower the calling thread's CPU priority (Linux); False where the system does not allow it."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):
        return False
    return True


class TrainingCancelled(Exception):
    """Raised inside the training thread, at its next step, once ``cancel`` is called."""


@dataclass(frozen=True)
class TrainingRequest:
    name: str
    scans: LabelledScans
    rows: dict[str, np.ndarray]
    positive: str | None  # None with more than two classes
    epochs: int | None
    origin: str  # where the scans came from, for the card: "the upload scans.zip"
    plan: VersionPlan
    out_dir: Path
    start_from: ModelCard | None = None  # an installed model to fine-tune instead of new networks


class BackgroundTrainer:
    """Runs ``train_custom`` for one request at a time in a daemon thread."""

    def __init__(self) -> None:
        self.request: TrainingRequest | None = None
        self.owner: str | None = None  # who started the current (or last) run: a session's token
        self.started: float | None = None
        self.progress: TrainingProgress | None = None
        self.history: list[dict[str, float]] = []
        self.card: ModelCard | None = None
        self.error: str | None = None
        self.cancelled = False
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, request: TrainingRequest, owner: str) -> bool:
        """Start training ``request``; False (and nothing started) when a training is already running."""
        with self._lock:
            if self.running:
                return False
            self.request, self.owner, self.started = request, owner, time.time()
            self.progress, self.history, self.card, self.error, self.cancelled = None, [], None, None, False
            self._cancel.clear()
            self._thread = threading.Thread(target=self._run, name="medmodels-trainer", daemon=True)
            self._thread.start()
            return True

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _update(self, update: TrainingProgress) -> None:
        if self._cancel.is_set():
            raise TrainingCancelled
        self.progress = update
        last = update.last_epoch
        if last is not None:
            row = {**last, "member": update.member}
            if not self.history or (self.history[-1]["member"], self.history[-1]["epoch"]) != (
                row["member"],
                row["epoch"],
            ):
                self.history.append(row)

    def _run(self) -> None:
        request = self.request
        assert request is not None
        lower_thread_priority()
        try:
            self.card = train_custom(
                request.name,
                request.scans,
                request.rows,
                origin=request.origin,
                folder=None,
                positive=request.positive,
                epochs=request.epochs,
                out_dir=request.out_dir,
                plan=request.plan,
                progress=self._update,
                start_from=request.start_from,
            )
        except TrainingCancelled:
            self.cancelled = True
        except Exception as error:  # noqa: BLE001 - shown in the page; the thread must never die silently
            self.error = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
