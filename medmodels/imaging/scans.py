"""Reading uploaded scans (DICOM, NIfTI or plain images) from bytes in memory, and displaying them.

Everything happens in memory: uploads may hold patient data, so nothing is written to disk and neither
pixel data nor tag values are logged.
"""

from __future__ import annotations

import functools
import io
import logging
import struct
import threading
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

from medmodels.imaging.io import MAX_PIXELS, ImageReadError, grey_levels, min_max_scaled, read_image
from medmodels.uploads import MAX_UPLOAD_BYTES, too_large_message

# A DICOM or NIfTI may hold many frames or slices; the budget counts frames * rows * columns.
MAX_SCAN_PIXELS = 4 * MAX_PIXELS
# A gzip upload is inflated in memory up to this many bytes; more is treated as a gzip bomb.
MAX_GUNZIP_BYTES = 512 * 1024 * 1024
MAX_TAG_VALUE_CHARS = 200
_NOT_DICOM = "not a DICOM file: no DICOM header or elements were found"


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

# Attributes the DICOM basic application level confidentiality profile removes or replaces (PS3.15
# Annex E, Table E.1-1) come from dicom-anonymizer's copy of the table (see ``_profile_tags``). These few
# are not in it but name or date a patient all the same. Every PN, DA, DT and TM element and every
# private element is also treated as identifying (see ``_tag``).
EXTRA_IDENTIFYING_KEYWORDS: frozenset[str] = frozenset(
    {
        "PatientAlternativeCalendar", "PatientBirthDateInAlternativeCalendar",
        "PatientDeathDateInAlternativeCalendar", "PatientSpeciesDescription", "PatientBreedDescription",
        "CreatorVersionUID",
    }
)
_IDENTIFYING_VRS = frozenset({"PN", "DA", "DT", "TM"})
_BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN", "OB or OW", "US or OW"})

# Encodings of a dataset read without file meta, as (implicit VR, little endian) -> transfer syntax.
_TRANSFER_SYNTAX_FROM_ENCODING = {
    (True, True): "1.2.840.10008.1.2",
    (False, True): "1.2.840.10008.1.2.1",
    (False, False): "1.2.840.10008.1.2.2",
}


class ScanReadError(ImageReadError):
    """An upload that cannot be read as a scan; the message is one line meant for the user."""


@dataclass(frozen=True)
class DicomTag:
    """One DICOM element as shown to the user, flagged when the de-identification profile would remove it."""

    tag: str
    keyword: str
    name: str
    vr: str
    value: str
    identifying: bool


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
        return replace(self, pixels=_upright_slices(self.volume, axis))


def read_scan(data: bytes, filename: str = "") -> Scan:
    """Read an upload of any supported kind (sniffed from its content) into a :class:`Scan`.

    DICOM and NIfTI keep their modality values so windows mean what they say (e.g. Hounsfield units);
    anything else goes through :func:`read_image` as one grey frame.
    """
    if not data:
        raise ScanReadError("the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ScanReadError(too_large_message("the file", len(data)))
    name = filename.lower()
    if data[:2] == b"\x1f\x8b":
        inflated = _gunzip(data)
        if _is_dicom(inflated):
            return _read_dicom(inflated, force=False)
        if _is_nifti(inflated):
            return _read_nifti(inflated)
        raise ScanReadError("the gzip file holds neither a NIfTI volume nor a DICOM file")
    if _is_dicom(data):
        return _read_dicom(data, force=False)
    if _is_nifti(data):
        return _read_nifti(data)
    refusal = "not a readable scan or image (expected DICOM, NIfTI, PNG, JPEG, BMP or TIFF)"
    if name.endswith((".nii", ".nii.gz")):
        refusal = "not a NIfTI file: it has no NIfTI-1 or NIfTI-2 header"
    elif name.endswith((".dcm", ".dicom")):
        try:
            return _read_dicom(data, force=True)
        except ScanReadError as error:
            if str(error) != _NOT_DICOM:
                raise
            refusal = _NOT_DICOM  # unless it is a PNG or JPEG given a DICOM name: content decides
    try:
        image = read_image(data)
    except ImageReadError as error:
        message = str(error)
        raise ScanReadError(refusal if message.startswith("not a readable image") else message) from None
    width, height = image.size
    return Scan(
        pixels=_read_only(np.asarray(image, dtype=np.float32)[None]),
        source="image",
        description=f"image, {width} x {height}, 8-bit grey",
    )


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
    return display_image(frame, window=scan.window if scan.voi_lut is None else None,
                         voi_lut=scan.voi_lut, monochrome1=scan.monochrome1)


# --- sniffing and gzip -------------------------------------------------------------------------


def _is_dicom(data: bytes) -> bool:
    return data[128:132] == b"DICM"


def _nifti_version(data: bytes) -> int | None:
    if data[:4] in (b"\x5c\x01\x00\x00", b"\x00\x00\x01\x5c") or data[344:347] in (b"n+1", b"ni1"):
        return 1
    if data[:4] in (b"\x1c\x02\x00\x00", b"\x00\x00\x02\x1c") and data[4:7] in (b"n+2", b"ni2"):
        return 2
    return None


def _is_nifti(data: bytes) -> bool:
    return _nifti_version(data) is not None


def _gunzip(data: bytes, limit: int | None = None) -> bytes:
    """Inflate gzip data in memory, refusing to produce more than ``limit`` bytes (a gzip bomb)."""
    limit = MAX_GUNZIP_BYTES if limit is None else limit
    out = bytearray()
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pending = data
    try:
        while True:
            chunk = inflater.decompress(pending, limit + 1 - len(out))
            out += chunk
            if len(out) > limit:
                raise ScanReadError(
                    f"the gzip file inflates to more than {limit / 1e6:.0f} MB; refused as a possible gzip bomb"
                )
            pending = inflater.unconsumed_tail
            if inflater.eof:
                rest = inflater.unused_data
                if not rest.strip(b"\0"):
                    return bytes(out)
                inflater, pending = zlib.decompressobj(16 + zlib.MAX_WBITS), rest  # another gzip member
            elif not pending and not chunk:
                raise ScanReadError("the gzip file is truncated")
    except zlib.error as error:
        raise ScanReadError(f"the gzip file is corrupt ({_one_line(str(error))})") from None


# --- DICOM -------------------------------------------------------------------------------------


_quiet = threading.local()


class _QuietWhileReading(logging.Filter):
    """Drops pydicom's and nibabel's records while this thread reads an upload: they can quote header values."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_quiet, "active", False)


for _name in ("pydicom", "nibabel.global"):
    logging.getLogger(_name).addFilter(_QuietWhileReading())


@contextmanager
def _quiet_libraries() -> Iterator[None]:
    previous = getattr(_quiet, "active", False)
    _quiet.active = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        _quiet.active = previous


def _read_dicom(data: bytes, *, force: bool) -> Scan:
    import pydicom
    from pydicom.errors import BytesLengthException, InvalidDicomError

    try:
        with _quiet_libraries():
            dataset = pydicom.dcmread(io.BytesIO(data), force=force)
            if force and not _looks_like_dicom(dataset):
                raise ScanReadError(_NOT_DICOM)
            return _scan_from_dataset(dataset)
    except ScanReadError:
        raise
    except InvalidDicomError:
        raise ScanReadError(_NOT_DICOM) from None
    except (ValueError, RuntimeError, NotImplementedError, AttributeError, KeyError, TypeError, IndexError,
            EOFError, OSError, OverflowError, MemoryError, BytesLengthException, struct.error) as error:
        raise ScanReadError(f"the DICOM file is corrupt or unsupported ({_one_line(str(error))})") from None


def _looks_like_dicom(dataset) -> bool:
    # A forced read parses almost anything as elements; text cannot encode a standard tag below group 0x2000
    # (that needs a NUL byte), while real files always carry some.
    from pydicom.datadict import dictionary_has_tag

    return any(
        (tag.group < 0x2000 or tag.group == 0x7FE0) and not tag.is_private and dictionary_has_tag(tag)
        for tag in dataset.keys()
    )


def _scan_from_dataset(dataset) -> Scan:
    from pydicom.uid import UID

    if not any(keyword in dataset for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise ScanReadError("the DICOM file has no pixel data (e.g. a structured report or DICOMDIR)")
    if "TransferSyntaxUID" not in dataset.file_meta:
        syntax = _TRANSFER_SYNTAX_FROM_ENCODING.get(tuple(dataset.original_encoding))
        if syntax is None:
            raise ScanReadError("the DICOM file has no transfer syntax and its encoding cannot be told")
        dataset.file_meta.TransferSyntaxUID = syntax
    syntax = UID(dataset.file_meta.TransferSyntaxUID)
    rows, columns = int(dataset.get("Rows") or 0), int(dataset.get("Columns") or 0)
    frames = int(dataset.get("NumberOfFrames") or 1)
    if rows <= 0 or columns <= 0 or frames <= 0:
        raise ScanReadError("the DICOM file has pixel data but no valid Rows, Columns or Number of Frames")
    if frames * rows * columns > MAX_SCAN_PIXELS:
        raise ScanReadError(
            f"the DICOM has {frames} frames of {columns} x {rows} pixels; "
            f"the limit is {MAX_SCAN_PIXELS / 1e6:.0f} million pixels in all"
        )
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    grey = photometric in ("MONOCHROME1", "MONOCHROME2")
    pixels = _decode_dicom(dataset, syntax, frames, rows, columns, photometric)
    modality = str(dataset.get("Modality") or "").strip() or None
    return Scan(
        pixels=_read_only(pixels),
        source="dicom",
        window=_dicom_window(dataset) if grey else None,
        voi_lut=_dicom_voi_lut(dataset) if grey else None,
        monochrome1=photometric == "MONOCHROME1",
        tags=tuple(_dicom_tags(dataset)),
        description=(
            f"DICOM{' ' + modality if modality else ''}, {columns} x {rows}, "
            f"{frames} frame{'s' if frames != 1 else ''}, transfer syntax {syntax.name}"
        ),
        modality=modality,
    )


def _syntax_label(syntax) -> str:
    return str(syntax) if syntax.name == str(syntax) else f"{syntax.name} ({syntax})"


def _no_decoder(syntax) -> ScanReadError:
    return ScanReadError(f"cannot decode transfer syntax {_syntax_label(syntax)}: no installed decoder")


def _decode_dicom(dataset, syntax, frames: int, rows: int, columns: int, photometric: str) -> np.ndarray:
    """Decode frame by frame into modality values, so peak memory stays near the float32 result."""
    from pydicom.pixels import apply_color_lut
    from pydicom.pixels.decoders.base import get_decoder

    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise _no_decoder(syntax) from None
    if not decoder.is_available:
        raise _no_decoder(syntax)
    out = np.empty((frames, rows, columns), dtype=np.float32)
    try:
        count = 0
        for index, (frame, properties) in enumerate(decoder.iter_array(dataset)):
            if index >= frames:
                break
            current = str(properties.get("photometric_interpretation", photometric)).upper()
            if current == "PALETTE COLOR":
                frame = apply_color_lut(frame, dataset)
            if frame.ndim == 3:
                out[index] = _luminance(frame)
            else:
                out[index] = _modality_values(frame, dataset, index)
            count += 1
    except ScanReadError:
        raise
    except (RuntimeError, ValueError, NotImplementedError, TypeError, IndexError, struct.error) as error:
        raise ScanReadError(
            f"the pixel data could not be decoded ({_syntax_label(syntax)}): {_one_line(str(error))}"
        ) from None
    except BaseException as error:
        # Rust-based plugins (pylibjpeg-rle) panic on some corrupt data with pyo3's PanicException,
        # which derives from BaseException; anything else (KeyboardInterrupt, ...) goes on.
        if type(error).__name__ != "PanicException":
            raise
        raise ScanReadError(
            f"the pixel data could not be decoded ({_syntax_label(syntax)}): the decoder failed on corrupt data"
        ) from None
    if count < frames:
        raise ScanReadError(f"the DICOM file is truncated: {count} of {frames} frames could be decoded")
    return out


def _luminance(rgb: np.ndarray) -> np.ndarray:
    # ITU-R 601-2, as Pillow's "L" conversion.
    rgb = rgb.astype(np.float32)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _modality_values(frame: np.ndarray, dataset, index: int) -> np.ndarray:
    from pydicom.pixels import apply_modality_lut

    return apply_modality_lut(frame, _functional_group(dataset, index, "PixelValueTransformationSequence") or dataset)


def _functional_group(dataset, index: int, keyword: str):
    """The item of an enhanced multi-frame functional group for a frame (per-frame first, then shared)."""
    for groups, position in (("PerFrameFunctionalGroupsSequence", index), ("SharedFunctionalGroupsSequence", 0)):
        sequence = dataset.get(groups)
        if sequence and position < len(sequence):
            item = sequence[position].get(keyword)
            if item:
                return item[0]
    return None


def _first(value) -> float:
    from pydicom.multival import MultiValue

    if isinstance(value, (list, tuple, MultiValue)):
        value = value[0]
    return float(value)


def _dicom_window(dataset) -> Window | None:
    source = _functional_group(dataset, 0, "FrameVOILUTSequence") or dataset
    if source.get("WindowCenter") is None or source.get("WindowWidth") is None:
        return None
    try:
        center, width = _first(source.WindowCenter), _first(source.WindowWidth)
    except (TypeError, ValueError, IndexError):
        return None
    function = str(source.get("VOILUTFunction") or "LINEAR").strip().upper()
    if width <= 0 or not np.isfinite(center) or not np.isfinite(width):
        return None
    return Window(center, width, function if function in ("LINEAR", "LINEAR_EXACT", "SIGMOID") else "LINEAR")


def _dicom_voi_lut(dataset) -> Callable[[np.ndarray], np.ndarray] | None:
    """A closure applying the file's first VOI LUT with pydicom, scaled to 0..255 for the screen."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.pixels import apply_voi_lut

    sequence = dataset.get("VOILUTSequence")
    if not sequence:
        return None
    item = sequence[0]
    descriptor, lut_data = item.get("LUTDescriptor"), item.get("LUTData")
    if descriptor is None or lut_data is None or len(descriptor) != 3:
        return None
    entries, first_mapped, bits = int(descriptor[0]) or 2**16, int(descriptor[1]), int(descriptor[2])
    if bits != 8 and not 10 <= bits <= 16:
        return None
    # Keep only what the LUT needs, not the whole dataset with its pixel data.
    lut_dataset = Dataset()
    lut_dataset.file_meta = FileMetaDataset()
    lut_dataset.file_meta.TransferSyntaxUID = dataset.file_meta.TransferSyntaxUID
    lut_dataset.VOILUTSequence = sequence
    top = float(2**bits - 1)

    def voi_lut(frame: np.ndarray) -> np.ndarray:
        values = np.clip(np.rint(np.nan_to_num(np.asarray(frame, dtype=np.float64))),
                         first_mapped, first_mapped + entries - 1).astype(np.int64)
        mapped = apply_voi_lut(values, lut_dataset)
        return mapped.astype(np.float64) * (255.0 / top)

    return voi_lut


def _dicom_tags(dataset) -> Iterator[DicomTag]:
    for element in list(dataset.file_meta) + list(dataset):
        if element.tag.group == 0x7FE0:
            continue
        yield _tag(element)


def _tag(element) -> DicomTag:
    keyword = element.keyword or ""
    vr = str(element.VR)
    try:
        value = _tag_value(element, vr)
    except Exception:  # a malformed value must not stop the rest of the header from showing
        value = "<unreadable>"
    return DicomTag(
        tag=str(element.tag),
        keyword=keyword,
        name=element.name,
        vr=vr,
        value=value,
        identifying=vr in _IDENTIFYING_VRS or keyword in EXTRA_IDENTIFYING_KEYWORDS or element.tag.is_private or _in_profile(int(element.tag)),
    )


@functools.cache
def _profile_tags() -> tuple[frozenset[int], tuple[tuple[int, int, int, int], ...]]:
    """PS3.15 Table E.1-1 as exact tags, plus (group, element, group mask, element mask) entries for
    repeating groups such as overlays and curves."""
    from dicomanonymizer.dicom_anonymization_databases.dicomfields_2026c import ALL_TAGS

    exact = frozenset((group << 16) | element for group, element, *mask in ALL_TAGS if not mask)
    masked = tuple(entry for entry in ALL_TAGS if len(entry) == 4)
    return exact, masked


def _in_profile(tag: int) -> bool:
    exact, masked = _profile_tags()
    group, element = tag >> 16, tag & 0xFFFF
    return tag in exact or any(
        group & group_mask == profile_group and element & element_mask == profile_element
        for profile_group, profile_element, group_mask, element_mask in masked
    )


def _tag_value(element, vr: str) -> str:
    value = element.value
    if vr == "SQ":
        count = len(value or ())
        return f"<{count} item{'s' if count != 1 else ''}>"
    if isinstance(value, (bytes, bytearray)) or vr in _BINARY_VRS:
        size = len(value) if value is not None else 0
        return f"<binary, {size} bytes>"
    text = _one_line("" if value is None else str(value))
    return text if len(text) <= MAX_TAG_VALUE_CHARS else text[: MAX_TAG_VALUE_CHARS - 1] + "…"


# --- NIfTI -------------------------------------------------------------------------------------


def _read_nifti(data: bytes) -> Scan:
    import nibabel as nib
    from nibabel.filebasedimages import ImageFileError
    from nibabel.spatialimages import HeaderDataError

    version = _nifti_version(data)
    image_class, header_class, header_size = (
        (nib.Nifti1Image, nib.Nifti1Header, 348) if version == 1 else (nib.Nifti2Image, nib.Nifti2Header, 540)
    )
    magic = data[344:348] if version == 1 else data[4:8]
    if magic not in (b"n+1\0", b"n+2\0"):
        raise ScanReadError("this is a NIfTI/Analyze header without its image data; upload a single .nii or .nii.gz")
    try:
        header = header_class.from_fileobj(io.BytesIO(data[:header_size]), check=False)
        shape = tuple(int(n) for n in header.get_data_shape())
        dtype = header.get_data_dtype()
        offset = int(header.get_data_offset())
    except (HeaderDataError, ValueError, TypeError, KeyError, OverflowError) as error:
        raise ScanReadError(f"the NIfTI header is corrupt ({_one_line(str(error))})") from None
    if not shape or min(shape) <= 0:
        raise ScanReadError("the NIfTI header has no valid dimensions")
    spatial = shape[:3] + (1,) * (3 - len(shape[:3]))
    voxels = spatial[0] * spatial[1] * spatial[2]
    if voxels > MAX_SCAN_PIXELS:
        raise ScanReadError(
            f"the NIfTI volume is {' x '.join(map(str, spatial))} voxels; "
            f"the limit is {MAX_SCAN_PIXELS / 1e6:.0f} million voxels"
        )
    needed = offset + voxels * dtype.itemsize
    if len(data) < needed:
        raise ScanReadError(f"the NIfTI file is truncated: {len(data)} bytes where the header needs {needed}")
    try:
        with _quiet_libraries():
            image = image_class.from_bytes(data)
            index = (slice(None),) * min(len(shape), 3) + (0,) * max(len(shape) - 3, 0)
            volume = np.asarray(image.dataobj[index])
    except (HeaderDataError, ImageFileError, ValueError, TypeError, OSError, EOFError) as error:
        raise ScanReadError(f"the NIfTI file is corrupt or unsupported ({_one_line(str(error))})") from None
    if volume.dtype.names:  # RGB(A) voxels
        volume = _luminance(np.stack([volume[name] for name in volume.dtype.names[:3]], axis=-1))
    elif np.iscomplexobj(volume):
        volume = np.abs(volume)
    volume = volume.reshape(spatial)
    codes = "unknown orientation"
    try:
        orientation = nib.orientations.io_orientation(image.affine)
        volume = nib.orientations.apply_orientation(volume, orientation)
        codes = "RAS (reoriented from " + "".join(nib.aff2axcodes(image.affine)) + ")"
    except Exception:  # a degenerate affine: keep the stored axis order
        pass
    volume = _read_only(np.ascontiguousarray(volume, dtype=np.float32))
    zooms = " x ".join(f"{z:g}" for z in header.get_zooms()[:3])
    extra = f", volume 1 of {shape[3]}" if len(shape) > 3 and shape[3] > 1 else ""
    return Scan(
        pixels=_upright_slices(volume, 2),
        source="nifti",
        description=(
            f"NIfTI-{version}, {' x '.join(map(str, volume.shape))} voxels of {zooms} mm, {dtype.name}, "
            f"{codes}{extra}"
        ),
        volume=volume,
    )


def _upright_slices(volume: np.ndarray, axis: int) -> np.ndarray:
    # Same as np.rot90 of every slice volume.take(k, axis), as one read-only view.
    stacked = np.moveaxis(volume, axis, 0)
    return _read_only(np.swapaxes(stacked, 1, 2)[:, ::-1, :])


# --- helpers -----------------------------------------------------------------------------------


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


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _one_line(text: str) -> str:
    return " ".join(text.split())
