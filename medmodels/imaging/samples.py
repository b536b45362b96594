"""Built-in sample scans, so a new user sees the imaging page work at once.

Files come from installed packages (pydicom, pydicom-data) and, when the data folder is present,
from MedMNIST test splits rendered to PNG in memory. Nothing is downloaded.
"""

from __future__ import annotations

import io
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


# Exact names only: asking pydicom for a pattern would try the network for files not installed.
PACKAGED_DICOM = {
    "RG1_UNCR.dcm": "Chest radiograph (CR, MONOCHROME1, 1955 x 1841)",
    "MR2_UNCR.dcm": "MR (head)",
    "explicit_VR-UN.dcm": "CT (abdomen)",
    "CT_small.dcm": "CT (small, 128 x 128)",
    "MR_small.dcm": "MR (small, 64 x 64)",
}

MEDMNIST_SAMPLES = {"PneumoniaMNIST": "medmnist/pneumoniamnist.npz", "BreastMNIST": "medmnist/breastmnist.npz"}


def packaged_dicom_samples() -> list[Sample]:
    from pydicom.data import get_testdata_file

    samples = []
    for filename, title in PACKAGED_DICOM.items():
        path = get_testdata_file(filename)
        if path:
            samples.append(Sample(title, filename, Path(path).read_bytes()))
    return samples


def medmnist_samples(data_dir: Path | None, per_class: int = 2) -> list[Sample]:
    """A few test-split images of each MedMNIST set as PNG bytes; empty without the data folder."""
    if data_dir is None:
        return []
    samples = []
    for dataset, relative in MEDMNIST_SAMPLES.items():
        try:
            split = load_medmnist(data_file(data_dir, relative), "test")
        except (DataNotFoundError, DataFormatError):
            continue
        for label in sorted(set(split.labels.tolist())):
            for index in [i for i, y in enumerate(split.labels) if y == label][:per_class]:
                buffer = io.BytesIO()
                Image.fromarray(split.images[index]).save(buffer, format="PNG")
                title = f"{dataset} test #{index} (label {label})"
                samples.append(Sample(title, f"{dataset.lower()}_test_{index}.png", buffer.getvalue()))
    return samples
