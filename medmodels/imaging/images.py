"""Reading uploaded scans safely and turning them into the model's input."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from medmodels.errors import InputError
from medmodels.uploads import MAX_UPLOAD_BYTES, too_large_message

# Larger uploads are refused before decoding: a chest film at 3000 x 3000 is ~9 MP.
MAX_PIXELS = 64_000_000


class ImageReadError(InputError):
    """An input that is not a readable image; the message is one line meant for the user."""


def read_image(data: bytes) -> Image.Image:
    """Decode image bytes (PNG, JPEG, BMP, TIFF, ...) into an 8-bit grey Pillow image.

    16-bit and float images are min-max scaled to 0-255 rather than clipped, so a 16-bit
    radiograph keeps its contrast. Multi-frame files give their first frame.
    """
    if not data:
        raise ImageReadError("the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageReadError(too_large_message("the file", len(data)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageReadError(
                    f"the image is {width}x{height} pixels; the limit is {MAX_PIXELS / 1e6:.0f} megapixels"
                )
            image.load()
            image = ImageOps.exif_transpose(image)
    except ImageReadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow refuses such files inside open(), before their size can be asked.
        raise ImageReadError(
            f"the image is far larger than the limit of {MAX_PIXELS / 1e6:.0f} megapixels (a decompression bomb?)"
        ) from None
    except UnidentifiedImageError:
        raise ImageReadError("not a readable image (expected PNG, JPEG, BMP or TIFF)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageReadError(f"the image is corrupt or truncated ({error})") from None
    return to_grey(image)


def finite_range(values: np.ndarray) -> tuple[float, float] | None:
    """The lowest and highest finite value, or None when there is none (NaN and infinities are ignored:
    one stray NaN must not blank a whole image)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return (float(finite.min()), float(finite.max())) if finite.size else None


def min_max_scaled(values: np.ndarray) -> np.ndarray:
    """``values`` scaled so their finite range spans 0..255 (float64; NaN stays NaN); a flat image is all 0."""
    values = np.asarray(values, dtype=np.float64)
    bounds = finite_range(values)
    if bounds is None or bounds[1] <= bounds[0]:
        return np.zeros_like(values)
    low, high = bounds
    return (values - low) * (255.0 / (high - low))


def grey_levels(scaled: np.ndarray) -> np.ndarray:
    """Values on a 0..255 scale as uint8 grey levels: rounded, clipped, NaN black, infinities at the ends."""
    return np.rint(np.clip(np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0), 0.0, 255.0)).astype(np.uint8)


def to_grey(image: Image.Image) -> Image.Image:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        return Image.fromarray(grey_levels(min_max_scaled(np.asarray(image))), mode="L")
    if image.mode in ("RGBA", "LA", "P", "PA"):
        # Composite transparency onto black, as a radiograph's background is dark.
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("L")


@dataclass(frozen=True)
class Preprocessing:
    """How a scan becomes the model's input; stored in the model card and applied identically at run time."""

    input_size: int
    mean: float
    std: float
    crop: str = "center square of the short edge"
    resample: str = "bicubic (Pillow, antialiased)"
    grey_levels: str = "8-bit luminance (ITU-R 601-2); 16-bit and float images min-max scaled"

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Preprocessing:
        return cls(**data)  # type: ignore[arg-type]

    @staticmethod
    def crop_box(size: tuple[int, int]) -> tuple[int, int, int, int]:
        """``(left, top, right, bottom)`` of the centre square of an image of ``(width, height)``."""
        width, height = size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        return left, top, left + side, top + side

    def resize(self, image: Image.Image) -> Image.Image:
        """Centre-crop to a square and resize to the model's input size, as MedMNIST was made.

        Raises ImageReadError for an image smaller than the input: enlarging it would invent detail.
        """
        if min(image.size) < self.input_size:
            width, height = image.size
            raise ImageReadError(
                f"the image is {width} x {height} pixels; the model needs at least {self.input_size} x {self.input_size}"
            )
        square = image.crop(self.crop_box(image.size))
        return square.resize((self.input_size, self.input_size), Image.Resampling.BICUBIC)

    def to_tensor(self, image: Image.Image) -> torch.Tensor:
        """An image of any size and mode (made grey as ``read_image`` does) -> normalised ``(1, 1, S, S)`` tensor."""
        small = np.asarray(self.resize(to_grey(image)), dtype=np.float32) / 255.0
        return ((torch.from_numpy(small) - self.mean) / self.std)[None, None]
