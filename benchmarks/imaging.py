"""Imaging benchmark: test metrics of the shipped models against published baselines, and CPU latency.

    python benchmarks/imaging.py [--data DIR] [--runs 50] [--full-runs 10]

Latency is end to end from file bytes: decode + preprocess + predict, the same plus our Grad-CAM,
the same plus pytorch-grad-cam's GradCAM on the same model, layers and input (the ``grad-cam``
package, a benchmark-only dependency: ``make benchmark`` installs it), and the Imaging page's whole
result (both maps and their faithfulness checks), on a 28x28 PNG and on the 1955x1841 chest radiograph
RG1_UNCR.dcm (pydicom-data). Grad-CAM alone on the preprocessed input is timed too, for both
implementations. Prints a table, then one JSON line. Metrics need the data
folder ($MEDMODELS_DATA); latency does not.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import platform
import resource
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from pydicom.data import get_testdata_file
from timing import timings_ms  # benchmarks/timing.py (scripts run from this folder)

from medmodels.data import DataNotFoundError, resolve_data_dir
from medmodels.imaging.analysis import explain
from medmodels.imaging.classifier import ImageClassifier
from medmodels.imaging.display import default_display
from medmodels.imaging.explain import grad_cam, place_on_original
from medmodels.imaging.recipes import evaluate_model
from medmodels.imaging.scans import read_scan

MODELS = ("imaging.pneumonia", "imaging.breast")
# MedMNIST v2 (Yang et al., Sci Data 10:41, 2023), Table 2: test ROC AUC / accuracy.
BASELINES = {
    "imaging.pneumonia": {
        "ResNet-18 (28 px)": (0.944, 0.854),
        "ResNet-50 (224 px)": (0.962, 0.884),
        "Google AutoML Vision": (0.991, 0.946),
    },
    "imaging.breast": {
        "ResNet-18 (28 px)": (0.901, 0.863),
        "ResNet-50 (224 px)": (0.866, 0.842),
        "Google AutoML Vision": (0.919, 0.861),
    },
}
CAM_METHODS = ("ours", "pytorch-grad-cam")


def _stand_in_for_torchvision() -> None:
    """pytorch-grad-cam imports torchvision at package level for helpers GradCAM never calls (image
    transforms, box IoU). PyPI's torchvision is built against CUDA torch and fails to load with the
    CPU wheel, so when none is installed an empty placeholder module satisfies those imports."""
    if "torchvision" in sys.modules or importlib.util.find_spec("torchvision") is not None:
        return
    names = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional", "torchvision.ops")
    modules = {name: types.ModuleType(name) for name in names}
    for name, attributes in (
        ("torchvision.transforms", ("Compose", "Normalize", "ToTensor")),
        ("torchvision.transforms.functional", ("resize",)),
        ("torchvision.ops", ("box_iou",)),
    ):
        for attribute in attributes:
            setattr(modules[name], attribute, None)
    modules["torchvision"].transforms = modules["torchvision.transforms"]
    modules["torchvision"].ops = modules["torchvision.ops"]
    modules["torchvision.transforms"].functional = modules["torchvision.transforms.functional"]
    sys.modules.update(modules)


def pytorch_grad_cam(classifier: ImageClassifier) -> Callable[[torch.Tensor, int], np.ndarray]:
    """pytorch-grad-cam's GradCAM on the same model and target layers (hooks attached once, as its docs show)."""
    _stand_in_for_torchvision()
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cam = GradCAM(model=classifier.model, target_layers=classifier.model.target_layers)
    return lambda inputs, target: cam(input_tensor=inputs, targets=[ClassifierOutputTarget(target)])[0]


def our_grad_cam(classifier: ImageClassifier) -> Callable[[torch.Tensor, int], np.ndarray]:
    return lambda inputs, target: grad_cam(classifier.model, classifier.model.target_layers, inputs, target)


def full_result_step(classifier: ImageClassifier, data: bytes, filename: str) -> Callable[[], object]:
    """What the Imaging page computes for an upload: decode, predict, then both maps (Grad-CAM, occlusion)
    with their faithfulness checks (``medmodels.imaging.analysis.explain``)."""

    def step() -> object:
        scan = read_scan(data, filename)
        image = default_display(scan)
        prediction = classifier.predict(image)
        return explain(classifier, image, classifier.label_at(prediction))

    return step


def predict_step(
    classifier: ImageClassifier, data: bytes, filename: str, cam: Callable[[torch.Tensor, int], np.ndarray] | None
) -> Callable[[], object]:
    def step() -> object:
        scan = read_scan(data, filename)
        image = default_display(scan)
        prediction = classifier.predict(image)
        if cam is None:
            return prediction
        target = classifier.card.labels.index(classifier.label_at(prediction))
        saliency = cam(classifier.preprocessing.to_tensor(image), target)
        return place_on_original(saliency, image.size, classifier.preprocessing.crop_box(image.size))

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument(
        "--full-runs", type=int, default=10, help="runs of the page's full result (both maps, faithfulness)"
    )
    args = parser.parse_args()

    png = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)).save(png, format="PNG")
    inputs = {
        "28x28 PNG": (png.getvalue(), "scan.png"),
        "RG1_UNCR.dcm 1955x1841": (Path(get_testdata_file("RG1_UNCR.dcm")).read_bytes(), "RG1_UNCR.dcm"),
    }
    results: dict[str, object] = {
        "benchmark": "imaging",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads",
        "runs": args.runs,
    }
    try:
        data_dir = resolve_data_dir(args.data)
    except DataNotFoundError as error:
        data_dir = None
        print(f"(metrics skipped: {error})")

    latency: dict[str, dict[str, float]] = {}
    cam_only: dict[str, dict[str, float]] = {}
    metrics: dict[str, dict[str, float]] = {}
    load_ms: dict[str, float] = {}
    for name in MODELS:
        start = time.perf_counter()
        classifier = ImageClassifier.load(name)
        load_ms[name] = round((time.perf_counter() - start) * 1000, 1)
        cams = {"ours": our_grad_cam(classifier), "pytorch-grad-cam": pytorch_grad_cam(classifier)}
        for label, (data, filename) in inputs.items():
            latency[f"{name} | {label} | predict"] = timings_ms(
                predict_step(classifier, data, filename, None), args.runs
            )
            image = default_display(read_scan(data, filename))
            tensor = classifier.preprocessing.to_tensor(image)
            for method in CAM_METHODS:
                latency[f"{name} | {label} | predict + Grad-CAM ({method})"] = timings_ms(
                    predict_step(classifier, data, filename, cams[method]), args.runs
                )
                cam_only[f"{name} | {label} | Grad-CAM only ({method})"] = timings_ms(
                    lambda cam=cams[method], tensor=tensor: cam(tensor, 1), args.runs
                )
            latency[f"{name} | {label} | page result: both maps + faithfulness"] = timings_ms(
                full_result_step(classifier, data, filename), args.full_runs
            )
        if data_dir is not None:
            test = evaluate_model(name, data_dir, "test")  # scores the split; selects nothing
            metrics[name] = {"roc_auc": test.roc_auc, "accuracy": test.accuracy, "ece": test.ece}
    results.update(load_ms=load_ms, latency_ms=latency, grad_cam_only_ms=cam_only, test_metrics=metrics)
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    for name in MODELS:
        print(f"{name + ' (test split)':<32} {'ROC AUC':>8} {'accuracy':>9}")
        for baseline, (auc, acc) in BASELINES[name].items():
            print(f"  {baseline:<30} {auc:>8.3f} {acc:>9.3f}")
        if name in metrics:
            print(f"  {'medmodels ' + name:<30} {metrics[name]['roc_auc']:>8.3f} {metrics[name]['accuracy']:>9.3f}")
    print()
    print(f"{'latency, decode included (CPU)':<78} {'median ms':>9} {'p95 ms':>9}")
    for key, value in {**latency, **cam_only}.items():
        print(f"{key:<78} {value['median']:>9.2f} {value['p95']:>9.2f}")
    print(f"model load {load_ms} ms, peak RSS {results['peak_rss_mb']} MB")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
