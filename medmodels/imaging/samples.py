"""Built-in sample scans, so a new user sees the imaging page work at once.

Files come from installed packages (pydicom, pydicom-data) and, when the data folder is present,
from MedMNIST test splits rendered to PNG in memory. Nothing is downloaded.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from medmodels.data import DataFormatError, DataNotFoundError, data_file
from medmodels.imaging.datasets import load_medmnist


@dataclass(frozen=True)
class Sample:
    title: str
    filename: str
    data: bytes
    model: str | None = None  # the model whose test split it comes from; None for the packaged files


# Exact names only: asking pydicom for a pattern would try the network for files not installed.
PACKAGED_DICOM = {
    "RG1_UNCR.dcm": "Chest radiograph of an adult (CR, MONOCHROME1, 1955 x 1841)",
    "MR2_UNCR.dcm": "MR (head)",
    "explicit_VR-UN.dcm": "CT (abdomen)",
    "CT_small.dcm": "CT (small, 128 x 128)",
    "MR_small.dcm": "MR (small, 64 x 64)",
}


@dataclass(frozen=True)
class TestSplitSamples:
    model: str
    dataset: str
    file: str  # relative to the data folder
    classes: tuple[str, ...]  # the data set's class names, by label number


MEDMNIST_SAMPLES = (
    TestSplitSamples("imaging.pneumonia", "PneumoniaMNIST", "medmnist/pneumoniamnist.npz", ("normal", "pneumonia")),
    TestSplitSamples("imaging.breast", "BreastMNIST", "medmnist/breastmnist.npz", ("malignant", "normal or benign")),
)


def packaged_dicom_samples() -> list[Sample]:
    from pydicom.data import get_testdata_file

    samples = []
    for filename, title in PACKAGED_DICOM.items():
        path = get_testdata_file(filename)
        if path:
            samples.append(Sample(title, filename, Path(path).read_bytes()))
    return samples


def medmnist_samples(data_dir: Path | None, per_class: int = 2) -> list[Sample]:
    """A few test-split images of each class of each shipped model's MedMNIST set, as PNG bytes, titled with
    the class the data set gives them; empty without the data folder."""
    if data_dir is None:
        return []
    samples = []
    for source in MEDMNIST_SAMPLES:
        try:
            split = load_medmnist(data_file(data_dir, source.file), "test")
        except (DataNotFoundError, DataFormatError):
            continue
        for label in sorted(set(split.labels.tolist())):
            for index in [i for i, y in enumerate(split.labels) if y == label][:per_class]:
                buffer = io.BytesIO()
                Image.fromarray(split.images[index]).save(buffer, format="PNG")
                title = f"{source.dataset} test image #{index}, labelled '{source.classes[label]}'"
                filename = f"{source.dataset.lower()}_test_{index}.png"
                samples.append(Sample(title, filename, buffer.getvalue(), source.model))
    return samples


def samples_for(model: str, samples: list[Sample]) -> list[Sample]:
    """``samples`` with those from ``model``'s own test split first (in their order), then the rest."""
    return [s for s in samples if s.model == model] + [s for s in samples if s.model != model]


def packaged_ct_mr_files() -> list[tuple[str, bytes]]:
    """Every CT and MR file with readable pixels in pydicom's and pydicom-data's test files: an OOD reference set."""
    import importlib.metadata

    import pydicom
    import pydicom.data
    from pydicom.errors import InvalidDicomError

    from medmodels.imaging.scans import ScanReadError, read_scan

    candidates = sorted(p for p in (Path(pydicom.data.__file__).parent / "test_files").rglob("*") if p.is_file())
    try:
        candidates += sorted(
            Path(str(f.locate())) for f in importlib.metadata.files("pydicom-data") or [] if f.suffix in ("", ".dcm")
        )
    except importlib.metadata.PackageNotFoundError:
        pass
    found = []
    for path in candidates:
        try:
            with warnings.catch_warnings():  # some test files are deliberately irregular
                warnings.simplefilter("ignore")
                modality = pydicom.dcmread(path, stop_before_pixels=True).get("Modality")
        except (InvalidDicomError, OSError, ValueError, AttributeError, EOFError):
            continue
        if modality not in ("CT", "MR"):
            continue
        data = path.read_bytes()
        try:
            read_scan(data, path.name)
        except ScanReadError:
            continue  # no pixel data, or a deliberately broken file
        found.append((f"{path.parent.name}/{path.name}", data))
    return found
