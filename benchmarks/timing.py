"""Latency measurement shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np


def timings_ms(step: Callable[[], object], runs: int) -> dict[str, float]:
    """Median and 95th percentile of ``runs`` calls, in milliseconds, after three warm-up calls."""
    for _ in range(3):
        step()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    return {"median": round(statistics.median(times), 2), "p95": round(float(np.percentile(times, 95)), 2)}
