"""The single-scan report a user downloads: a summary they can file and an overlay they can show."""

import csv
import io

import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

import medmodels
from medmodels.imaging.analysis import explain, explanation_overlay, report_csv, report_png, report_rows
from medmodels.imaging.classifier import ImageClassifier
from medmodels.imaging.display import default_display
from medmodels.imaging.scans import read_scan


@pytest.fixture(scope="module")
def classifier() -> ImageClassifier:
    return ImageClassifier.load("imaging.pneumonia")


def ct_slice() -> Image.Image:
    return default_display(read_scan(open(get_testdata_file("CT_small.dcm"), "rb").read(), "CT_small.dcm"))


def test_report_of_an_out_of_distribution_scan_says_withheld_and_names_no_class_probability(classifier):
    image = ct_slice()
    prediction = classifier.predict(image)
    explanations = explain(classifier, image, "pneumonia")
    rows = dict(report_rows(classifier, prediction, explanations, "CT_small.dcm", threshold=0.5))
    assert rows["result"].startswith("withheld") and rows["out of distribution"] == "yes"
    assert rows["model"] == "imaging.pneumonia" and rows["file"] == "CT_small.dcm"
    assert not any(field.startswith("calibrated P(") or "faithfulness" in field for field in rows)
    assert rows["OOD score / threshold"] and rows["disclaimer"] == medmodels.DISCLAIMER


def test_report_result_follows_the_chosen_threshold(classifier):
    image = Image.fromarray(np.full((64, 64), 120, dtype=np.uint8))
    prediction = ImageClassifier(classifier.model, classifier.card).predict(image)  # no gate: always a result
    low = dict(report_rows(classifier, prediction, (), "flat.png", threshold=0.0))
    high = dict(report_rows(classifier, prediction, (), "flat.png", threshold=1.01))
    assert (low["result"], high["result"]) == ("pneumonia", "normal")
    assert low["out of distribution"] == "unknown (no gate)"


def test_report_csv_and_png_open_in_ordinary_tools(classifier):
    image = ct_slice()
    prediction = classifier.predict(image)
    explanations = explain(classifier, image, "normal")
    rows = report_rows(classifier, prediction, explanations, "CT_small.dcm", threshold=0.5)
    parsed = list(csv.reader(io.StringIO(report_csv(rows))))
    assert parsed[0] == ["field", "value"] and [tuple(r) for r in parsed[1:]] == rows
    overlays = [(e.method, explanation_overlay(image, e, 0.5)) for e in explanations]
    png = Image.open(io.BytesIO(report_png(image, overlays, "title")))
    assert png.format == "PNG" and png.mode == "RGB"
    assert png.width > image.width * (1 + len(explanations)) and png.height > image.height
