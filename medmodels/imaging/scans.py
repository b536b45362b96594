"""Reading uploaded scans (DICOM, NIfTI or plain images) from bytes in memory.

Everything happens in memory: uploads may hold patient data, so nothing is written to disk and neither
pixel data nor tag values are logged. The format readers live in ``dicom`` and ``nifti``, the tag flags in
``deidentify`` and the screen mapping in ``display``; this module sniffs the content and holds what they share.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from medmodels.imaging.images import MAX_PIXELS, ImageReadError, read_image
from medmodels.uploads import MAX_UPLOAD_BYTES, too_large_message

if TYPE_CHECKING:
    from medmodels.imaging.deidentify import DicomTag
    from medmodels.imaging.display import Window

# A DICOM or NIfTI may hold many frames or slices; the budget counts frames * rows * columns.
MAX_SCAN_PIXELS = 4 * MAX_PIXELS


class ScanReadError(ImageReadError):
    """An upload that cannot be read as a scan; the message is one line meant for the user."""


@dataclass(frozen=True, eq=False)
class Scan:
    """A decoded upload: frames (or slices) in modality units, plus what is needed to display them faithfully."""

    pixels: np.ndarray
    source: str
    window: Window | None = None
    voi_lut: Callable[[np.ndarray], np.ndarray] | None = None
    monochrome1: bool = False
    tags: tuple[DicomTag, ...] = ()
    description: str = ""
    modality: str | None = None
    volume: np.ndarray | None = field(default=None, repr=False)

    def frame_count(self) -> int:
        """Number of frames (DICOM) or slices along the current axis (NIfTI)."""
        return int(self.pixels.shape[0])

    def frame(self, index: int) -> np.ndarray:
        """One ``(H, W)`` float32 frame; raises IndexError outside ``0 .. frame_count() - 1``."""
        if not 0 <= index < self.frame_count():
            raise IndexError(f"frame {index} is out of range: the scan has {self.frame_count()} frames")
        return self.pixels[index]

    def slices(self, axis: int) -> Scan:
        """Re-slice a NIfTI volume along ``axis`` (0, 1 or 2 of the RAS-oriented volume), each slice upright."""
        if self.volume is None:
            raise ValueError("only NIfTI volumes can be re-sliced along another axis")
        if axis not in (0, 1, 2):
            raise ValueError(f"axis must be 0, 1 or 2, not {axis}")
        from medmodels.imaging.nifti import upright_slices  # deferred: nifti imports this module

        return replace(self, pixels=upright_slices(self.volume, axis))


def read_scan(data: bytes, filename: str = "") -> Scan:
    """Read an upload of any supported kind (sniffed from its content) into a :class:`Scan`.

    DICOM and NIfTI keep their modality values so windows mean what they say (e.g. Hounsfield units);
    anything else goes through :func:`read_image` as one grey frame.
    """
    # Deferred: the readers build Scans and raise ScanReadError, so they import this module.
    from medmodels.imaging.dicom import NOT_DICOM, is_dicom, read_dicom
    from medmodels.imaging.nifti import gunzip, is_nifti, read_nifti

    if not data:
        raise ScanReadError("the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ScanReadError(too_large_message("the file", len(data)))
    name = filename.lower()
    if data[:2] == b"\x1f\x8b":
        inflated = gunzip(data)
        if is_dicom(inflated):
            return read_dicom(inflated, force=False)
        if is_nifti(inflated):
            return read_nifti(inflated)
        raise ScanReadError("the gzip file holds neither a NIfTI volume nor a DICOM file")
    if is_dicom(data):
        return read_dicom(data, force=False)
    if is_nifti(data):
        return read_nifti(data)
    refusal = "not a readable scan or image (expected DICOM, NIfTI, PNG, JPEG, BMP or TIFF)"
    if name.endswith((".nii", ".nii.gz")):
        refusal = "not a NIfTI file: it has no NIfTI-1 or NIfTI-2 header"
    elif name.endswith((".dcm", ".dicom")):
        try:
            return read_dicom(data, force=True)
        except ScanReadError as error:
            if str(error) != NOT_DICOM:
                raise
            refusal = NOT_DICOM  # unless it is a PNG or JPEG given a DICOM name: content decides
    try:
        image = read_image(data)
    except ImageReadError as error:
        message = str(error)
        raise ScanReadError(refusal if message.startswith("not a readable image") else message) from None
    width, height = image.size
    return Scan(
        pixels=read_only(np.asarray(image, dtype=np.float32)[None]),
        source="image",
        description=f"image, {width} x {height}, 8-bit grey",
    )


# --- shared by the readers ---------------------------------------------------------------------


_quiet = threading.local()


class _QuietWhileReading(logging.Filter):
    """Drops pydicom's and nibabel's records while this thread reads an upload: they can quote header values."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_quiet, "active", False)


for _name in ("pydicom", "nibabel.global"):
    logging.getLogger(_name).addFilter(_QuietWhileReading())


@contextmanager
def quiet_libraries() -> Iterator[None]:
    previous = getattr(_quiet, "active", False)
    _quiet.active = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        _quiet.active = previous


def luminance(rgb: np.ndarray) -> np.ndarray:
    # ITU-R 601-2, as Pillow's "L" conversion.
    rgb = rgb.astype(np.float32)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def one_line(text: str) -> str:
    return " ".join(text.split())
