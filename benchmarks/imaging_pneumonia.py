"""Benchmark of the shipped imaging.pneumonia model: test metrics against published baselines, and CPU latency.

    python benchmarks/imaging_pneumonia.py [--data DIR] [--runs 200]

Prints a table, then one JSON line. Metrics need the data folder ($MEDMODELS_DATA); latency does not.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import resource
import statistics
import time

import numpy as np
import torch
from PIL import Image

from medmodels.data import DataNotFoundError, resolve_data_dir
from medmodels.imaging.classifier import ImageClassifier
from medmodels.imaging.io import read_image
from medmodels.imaging.recipes import evaluate_model

NAME = "imaging.pneumonia"
# MedMNIST v2 (Yang et al., Sci Data 2023), Table: PneumoniaMNIST test AUC / ACC.
BASELINES = {
    "ResNet-18 (28 px)": (0.944, 0.854),
    "ResNet-50 (224 px)": (0.962, 0.884),
    "Google AutoML Vision": (0.991, 0.946),
}


def latency_ms(classifier: ImageClassifier, data: bytes, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        classifier.predict(read_image(data))
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    start = time.perf_counter()
    classifier = ImageClassifier.load(NAME)
    load_ms = (time.perf_counter() - start) * 1000

    rng = np.random.default_rng(0)
    results: dict[str, object] = {"benchmark": NAME, "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads", "load_ms": round(load_ms, 1)}
    for label, size in (("28x28 PNG", (28, 28)), ("2000x2000 PNG", (2000, 2000))):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, size, dtype=np.uint8)).save(buffer, format="PNG")
        latency_ms(classifier, buffer.getvalue(), 5)  # warm-up
        times = latency_ms(classifier, buffer.getvalue(), args.runs if size[0] < 100 else max(args.runs // 10, 5))
        results[f"latency_ms_{size[0]}px"] = {"median": round(statistics.median(times), 2), "p95": round(float(np.percentile(times, 95)), 2)}

    try:
        metrics = evaluate_model(NAME, resolve_data_dir(args.data), "test")
        results["test_roc_auc"] = metrics["roc_auc"]
        results["test_accuracy"] = metrics["accuracy"]
        results["test_ece"] = metrics["ece"]
    except DataNotFoundError as error:
        print(f"(metrics skipped: {error})")
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    print(f"{'model':<28} {'test AUC':>9} {'test acc':>9}")
    for name, (auc, acc) in BASELINES.items():
        print(f"{name:<28} {auc:>9.3f} {acc:>9.3f}")
    if "test_roc_auc" in results:
        print(f"{'medmodels ' + NAME:<28} {results['test_roc_auc']:>9.3f} {results['test_accuracy']:>9.3f}")
    print()
    print(f"{'latency (predict, CPU)':<28} {'median ms':>9} {'p95 ms':>9}")
    for key in ("latency_ms_28px", "latency_ms_2000px"):
        print(f"{key:<28} {results[key]['median']:>9.2f} {results[key]['p95']:>9.2f}")  # type: ignore[index]
    print(f"model load {load_ms:.0f} ms, peak RSS {results['peak_rss_mb']} MB")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
