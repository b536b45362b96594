"""Turning frames of modality values into grey images for the screen.

Apart from the readers so the page can re-window a scan (a preset or the user's sliders) without decoding it
again, and so what a window means stays in one place for DICOM, NIfTI and plain images alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from medmodels.imaging.images import grey_levels, min_max_scaled

if TYPE_CHECKING:
    from medmodels.imaging.scans import Scan


@dataclass(frozen=True)
class Window:
    """A VOI window (DICOM PS3.3 C.11.2.1.2) in modality units; ``function`` as in VOI LUT Function."""

    center: float
    width: float
    function: str = "LINEAR"


WINDOW_PRESETS: dict[str, Window] = {
    "CT lung": Window(-600, 1500),
    "CT mediastinum / soft tissue": Window(40, 400),
    "CT bone": Window(480, 2500),
    "CT brain": Window(40, 80),
}


def display_image(
    frame: np.ndarray,
    *,
    window: Window | None = None,
    voi_lut: Callable[[np.ndarray], np.ndarray] | None = None,
    monochrome1: bool = False,
) -> Image.Image:
    """Map one frame of modality values to an 8-bit grey image for the screen.

    An explicit ``window`` (a preset or the user's sliders) wins over ``voi_lut``; with neither the frame
    is min-max scaled. ``monochrome1`` inverts, since in MONOCHROME1 higher values are darker.
    """
    frame = np.asarray(frame)
    if window is not None:
        shown = _apply_window(frame, window)
    elif voi_lut is not None:
        shown = np.asarray(voi_lut(frame), dtype=np.float64)
    else:
        shown = min_max_scaled(frame)
    grey = grey_levels(shown)
    if monochrome1:
        grey = 255 - grey
    return Image.fromarray(grey)


def default_display(scan: Scan, index: int = 0) -> Image.Image:
    """Display a frame as the file itself asks: its VOI LUT, else its window, else min-max.

    Plain images are shown with their own grey levels unchanged.
    """
    frame = scan.frame(index)
    if scan.source == "image":
        return Image.fromarray(np.clip(np.rint(frame), 0, 255).astype(np.uint8))
    return display_image(
        frame, window=scan.window if scan.voi_lut is None else None, voi_lut=scan.voi_lut, monochrome1=scan.monochrome1
    )


def _apply_window(frame: np.ndarray, window: Window) -> np.ndarray:
    from pydicom.dataset import Dataset
    from pydicom.pixels import apply_windowing

    function = window.function.upper()
    width = float(window.width)
    width = max(width, 1.0) if function == "LINEAR" else max(width, 1e-6)
    # An 8-bit unsigned output range makes pydicom's formula produce 0..255 directly.
    voi = Dataset()
    voi.PhotometricInterpretation = "MONOCHROME2"
    voi.BitsStored = 8
    voi.PixelRepresentation = 0
    voi.WindowCenter = float(window.center)
    voi.WindowWidth = width
    voi.VOILUTFunction = function
    return apply_windowing(np.asarray(frame, dtype=np.float64), voi)
