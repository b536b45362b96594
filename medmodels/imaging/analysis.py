"""One scan through one model: prediction and explanations, as plain results for the page and the CLI."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

import medmodels
from medmodels.imaging.classifier import ImageClassifier, ImagePrediction
from medmodels.imaging.display import default_display
from medmodels.imaging.explain import (
    Faithfulness,
    GradCAM,
    faithfulness,
    occlusion_sensitivity,
    overlay,
    place_on_original,
)
from medmodels.imaging.images import ImageReadError
from medmodels.imaging.scans import read_scan

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
    window. Raises ImageReadError (ScanReadError, its subclass, for a file that cannot be read) and
    for an image smaller than the model's input.
    """
    scan = read_scan(data, filename)
    return classifier.predict(default_display(scan, scan.frame_count() // 2), scan.tags)


def probability_column(classifier: ImageClassifier) -> str:
    """The several-scans table's probability: of the positive class, or of the class called when there are more
    than two."""
    positive = classifier.card.positive_label
    return f"P({positive})" if classifier.positive_index is not None else "P(called class)"


def scan_row(classifier: ImageClassifier, data: bytes, filename: str) -> dict[str, object]:
    """One row of the several-scans table: the label ("withheld" for a scan unlike the training images or
    outside the training population), the calibrated probability of the positive class, the
    out-of-distribution flag and why, or why the file could not be read."""
    positive = probability_column(classifier)
    try:
        prediction = predict_upload(classifier, data, filename)
    except ImageReadError as error:
        return {
            "file": filename,
            "label": None,
            positive: None,
            "out of distribution": None,
            "error": str(error),
            "why withheld": "",
        }
    called = prediction.positive_probability  # with more than two classes: the called class's probability
    if called is None:
        called = max(prediction.probabilities.values())
    return {
        "file": filename,
        "label": prediction.label or "withheld",
        positive: None if prediction.ood else called,
        "out of distribution": prediction.ood,
        "error": "",
        "why withheld": prediction.withheld_reason or "",
    }


def explain(
    classifier: ImageClassifier, image: Image.Image, target_label: str, methods: tuple[str, ...] = METHODS
) -> tuple[Explanation, ...]:
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
            with GradCAM(model, model.target_layers) as cam:
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


def report_rows(
    classifier: ImageClassifier,
    prediction: ImagePrediction,
    explanations: tuple[Explanation, ...],
    filename: str,
    threshold: float | None,
) -> list[tuple[str, str]]:
    """The single-scan summary as (field, value) rows: model, result, threshold, OOD status, faithfulness."""
    card = classifier.card
    withheld = bool(prediction.ood)  # then no class and no probability is reported: nothing that reads as a diagnosis
    rows = [
        ("file", filename),
        ("model", card.name),
        ("model version", f"card of {card.created}, medmodels {medmodels.__version__}"),
        (
            "result",
            f"withheld: {prediction.withheld_reason}" if withheld else classifier.label_at(prediction, threshold),
        ),
        *(
            ()
            if withheld
            else ((f"calibrated P({label})", f"{p:.4f}") for label, p in prediction.probabilities.items())
        ),
        *(
            (
                (f"decision threshold on P({card.positive_label})", f"{threshold:.3f}"),
                ("threshold chosen on validation", f"{classifier.threshold:.3f}"),
            )
            if classifier.threshold is not None and threshold is not None
            else (("decision rule", "the most probable class"),)
        ),
        ("out of distribution", "unknown (no gate)" if prediction.ood is None else ("yes" if prediction.ood else "no")),
    ]
    if prediction.ood_score is not None:
        rows.append(("OOD score / threshold", f"{prediction.ood_score:.1f} / {prediction.ood_threshold:.1f}"))
    if card.population is not None:
        rows.append(("training population", card.population.description))
        rows.append(("DICOM tags checked against it", ", ".join(prediction.population.checked) or "none stated"))
    for explanation in () if withheld else explanations:
        check = explanation.faithfulness
        for fraction, top, random in zip(check.fractions, check.drop_top, check.drop_random):
            rows.append(
                (
                    f"{explanation.method} faithfulness, top {fraction:.0%} removed",
                    f"P({explanation.target_label}) drops {top:+.3f} (random pixels: {random:+.3f})",
                )
            )
    rows.append(("disclaimer", medmodels.DISCLAIMER))
    return rows


def report_csv(rows: list[tuple[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("field", "value"))
    writer.writerows(rows)
    return buffer.getvalue()


def display_saliency(explanation: Explanation, size: tuple[int, int]) -> np.ndarray:
    """``explanation``'s map over the displayed scan, resized to its ``(width, height)`` and clipped to [0, 1]."""
    saliency = np.asarray(Image.fromarray(explanation.original_map, mode="F").resize(size, Image.Resampling.BILINEAR))
    return np.clip(saliency, 0, 1)


def explanation_overlay(image: Image.Image, explanation: Explanation, opacity: float) -> Image.Image:
    """``explanation``'s map over ``image`` (the displayed scan, at whatever size it is shown)."""
    return overlay(image, display_saliency(explanation, image.size), opacity=opacity)


def report_png(image: Image.Image, overlays: list[tuple[str, Image.Image]], title: str) -> bytes:
    """The scan beside each captioned overlay (see ``explanation_overlay``), with a title line, as PNG bytes."""
    panels = [("scan", image.convert("RGB")), *overlays]
    gap, header = 8, 56
    canvas = Image.new(
        "RGB", (sum(p.width for _, p in panels) + gap * (len(panels) + 1), image.height + header + gap), "white"
    )
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=16)
    draw.text((gap, 6), title, fill="black", font=font)
    x = gap
    for caption, panel in panels:
        draw.text((x, 30), caption, fill="black", font=font)
        canvas.paste(panel, (x, header))
        x += panel.width + gap
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()
