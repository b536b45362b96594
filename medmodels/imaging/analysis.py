"""One scan through one model: prediction and explanations, as plain results for the page and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from medmodels.imaging.classifier import ImageClassifier, ImagePrediction
from medmodels.imaging.explain import Faithfulness, GradCAM, faithfulness, occlusion_sensitivity, place_on_original
from medmodels.imaging.scans import default_display, read_scan

METHODS = ("Grad-CAM", "Occlusion sensitivity")


@dataclass(frozen=True)
class Explanation:
    method: str
    target_label: str
    model_map: np.ndarray  # (S, S) over the model's input, in [0, 1]
    original_map: np.ndarray  # (H, W) over the displayed scan; zero outside the region the model saw
    faithfulness: Faithfulness


def predict_upload(classifier: ImageClassifier, data: bytes, filename: str) -> ImagePrediction:
    """Prediction for an uploaded file as a whole, for tables and the command line.

    Multi-frame files and volumes are judged on their middle frame, displayed with the file's own
    window. Raises ScanReadError for a file that cannot be read.
    """
    scan = read_scan(data, filename)
    return classifier.predict(default_display(scan, scan.frame_count() // 2))


def explain(classifier: ImageClassifier, image: Image.Image, target_label: str, methods: tuple[str, ...] = METHODS) -> tuple[Explanation, ...]:
    """Attribution maps for ``target_label`` by each method, each with its faithfulness check."""
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown explanation method(s): {', '.join(unknown)}")
    target = classifier.card.labels.index(target_label)
    inputs = classifier.preprocessing.to_tensor(image)
    model, temperature = classifier.model, classifier.card.temperature
    box = classifier.preprocessing.crop_box(image.size)
    results = []
    for method in methods:
        if method == "Grad-CAM":
            with GradCAM(model, model.target_layer) as cam:
                model_map = cam(inputs, target)
        else:
            model_map = occlusion_sensitivity(model, inputs, target, temperature=temperature)
        results.append(
            Explanation(
                method=method,
                target_label=target_label,
                model_map=model_map,
                original_map=place_on_original(model_map, image.size, box),
                faithfulness=faithfulness(model, inputs, target, model_map, temperature=temperature),
            )
        )
    return tuple(results)
