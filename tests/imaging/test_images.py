import io

import numpy as np
import pytest
import torch
from PIL import Image

from medmodels.imaging.datasets import to_tensor
from medmodels.imaging.images import ImageReadError, Preprocessing, read_image


def _png(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"patient notes, not an image", "not a readable image"),
        (b"<html><script>alert(1)</script></html>", "not a readable image"),
    ],
)
def test_non_images_are_refused_with_one_line(data, message):
    with pytest.raises(ImageReadError, match=message) as raised:
        read_image(data)
    assert "\n" not in str(raised.value)


def test_truncated_png_is_refused():
    data = _png(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)))
    with pytest.raises(ImageReadError, match="corrupt or truncated"):
        read_image(data[: len(data) // 2])


def test_oversized_image_is_refused_before_decoding():
    huge = _png(Image.new("1", (9000, 9000)))  # 81 megapixels, a few kilobytes on disk
    with pytest.raises(ImageReadError, match="megapixels"):
        read_image(huge)


def test_sixteen_bit_images_keep_their_contrast():
    ramp = np.linspace(1000, 1255, 256, dtype=np.uint16).reshape(16, 16)
    grey = read_image(_png(Image.fromarray(ramp)))
    pixels = np.asarray(grey)
    assert grey.mode == "L" and pixels.min() == 0 and pixels.max() == 255


def test_a_float_image_with_a_nan_pixel_keeps_its_contrast():
    ramp = np.linspace(0.0, 1.0, 256, dtype=np.float32).reshape(16, 16)
    ramp[3, 3] = np.nan  # one stray NaN used to make the whole image black
    buffer = io.BytesIO()
    Image.fromarray(ramp, mode="F").save(buffer, format="TIFF")
    pixels = np.asarray(read_image(buffer.getvalue()))
    assert pixels.min() == 0 and pixels.max() == 255 and len(np.unique(pixels)) > 200
    assert pixels[3, 3] == 0


def test_colour_and_transparent_images_become_grey():
    rgba = Image.new("RGBA", (10, 10), (255, 255, 255, 0))
    assert np.asarray(read_image(_png(rgba))).max() == 0  # transparent composites onto black
    rgb = Image.new("RGB", (10, 10), (200, 200, 200))
    assert read_image(_png(rgb, "JPEG")).mode == "L"


def test_preprocessing_an_exported_28px_scan_equals_the_training_tensor():
    # A MedMNIST image saved as PNG must reach the model exactly as in training.
    pixels = np.random.default_rng(1).integers(0, 256, (28, 28), dtype=np.uint8)
    preprocessing = Preprocessing(input_size=28, mean=0.57, std=0.17)
    from_file = preprocessing.to_tensor(read_image(_png(Image.fromarray(pixels))))
    from_training = to_tensor(pixels[None], 0.57, 0.17)
    torch.testing.assert_close(from_file, from_training)


def test_full_size_scans_are_centre_cropped_then_resized():
    wide = np.zeros((100, 300), dtype=np.uint8)
    wide[:, 100:200] = 255  # only the centre square is bright
    small = Preprocessing(input_size=28, mean=0.0, std=1.0).resize(Image.fromarray(wide))
    assert small.size == (28, 28)
    assert np.asarray(small).min() > 200
