"""Imaging benchmark: test metrics of the shipped pneumonia model against published baselines, and CPU latency.

    python benchmarks/imaging.py [--data DIR] [--runs 50]

Latency is end to end from file bytes: decode + preprocess + predict, and the same plus Grad-CAM,
on a 28x28 PNG and on the 1955x1841 chest radiograph RG1_UNCR.dcm (pydicom-data).
Prints a table, then one JSON line. Metrics need the data folder ($MEDMODELS_DATA); latency does not.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image
from pydicom.data import get_testdata_file

from medmodels.data import DataNotFoundError, resolve_data_dir
from medmodels.imaging.classifier import ImageClassifier
from medmodels.imaging.explain import grad_cam, place_on_original
from medmodels.imaging.scans import default_display, read_scan
from medmodels.imaging.recipes import evaluate_model

NAME = "imaging.pneumonia"
# MedMNIST v2 (Yang et al., Sci Data 2023), Table: PneumoniaMNIST test AUC / ACC.
BASELINES = {
    "ResNet-18 (28 px)": (0.944, 0.854),
    "ResNet-50 (224 px)": (0.962, 0.884),
    "Google AutoML Vision": (0.991, 0.946),
}


def timings_ms(step: Callable[[], object], runs: int) -> dict[str, float]:
    for _ in range(3):  # warm-up
        step()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    return {"median": round(statistics.median(times), 2), "p95": round(float(np.percentile(times, 95)), 2)}


def predict_step(classifier: ImageClassifier, data: bytes, filename: str, with_cam: bool) -> Callable[[], object]:
    def step() -> object:
        scan = read_scan(data, filename)
        image = default_display(scan)
        prediction = classifier.predict(image)
        if with_cam:
            target = classifier.card.labels.index(prediction.label)
            inputs = classifier.preprocessing.to_tensor(image)
            cam = grad_cam(classifier.model, classifier.model.target_layer, inputs, target)
            return place_on_original(cam, image.size, classifier.preprocessing.crop_box(image.size))
        return prediction

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    start = time.perf_counter()
    classifier = ImageClassifier.load(NAME)
    load_ms = (time.perf_counter() - start) * 1000

    png = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)).save(png, format="PNG")
    inputs = {"28x28 PNG": (png.getvalue(), "scan.png"), "RG1_UNCR.dcm 1955x1841": (Path(get_testdata_file("RG1_UNCR.dcm")).read_bytes(), "RG1_UNCR.dcm")}
    results: dict[str, object] = {
        "benchmark": "imaging",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads",
        "runs": args.runs,
        "load_ms": round(load_ms, 1),
    }
    latency: dict[str, dict[str, float]] = {}
    for label, (data, filename) in inputs.items():
        for with_cam in (False, True):
            key = f"{label} | predict{' + Grad-CAM' if with_cam else ''}"
            latency[key] = timings_ms(predict_step(classifier, data, filename, with_cam), args.runs)
    results["latency_ms"] = latency

    try:
        metrics = evaluate_model(NAME, resolve_data_dir(args.data), "test")  # scores the split; selects nothing
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
    print(f"{'latency, decode included (CPU)':<48} {'median ms':>9} {'p95 ms':>9}")
    for key, value in latency.items():
        print(f"{key:<48} {value['median']:>9.2f} {value['p95']:>9.2f}")
    print(f"model load {load_ms:.0f} ms, peak RSS {results['peak_rss_mb']} MB")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
