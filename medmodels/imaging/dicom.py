"""Reading DICOM uploads into a :class:`~medmodels.imaging.scans.Scan` with pydicom.

Kept apart because DICOM needs the most care: forced reads of files without a preamble, transfer syntaxes
without a decoder, enhanced multi-frame functional groups, and the file's own window or VOI LUT, so that
values stay in modality units (e.g. Hounsfield) and corrupt files fail with one line for the user.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable

import numpy as np

from medmodels.imaging.deidentify import dicom_tags
from medmodels.imaging.display import Window
from medmodels.imaging.scans import (
    MAX_SCAN_PIXELS,
    Scan,
    ScanReadError,
    luminance,
    one_line,
    quiet_libraries,
    read_only,
)

NOT_DICOM = "not a DICOM file: no DICOM header or elements were found"

# Encodings of a dataset read without file meta, as (implicit VR, little endian) -> transfer syntax.
_TRANSFER_SYNTAX_FROM_ENCODING = {
    (True, True): "1.2.840.10008.1.2",
    (False, True): "1.2.840.10008.1.2.1",
    (False, False): "1.2.840.10008.1.2.2",
}


def is_dicom(data: bytes) -> bool:
    return data[128:132] == b"DICM"


def read_dicom(data: bytes, *, force: bool) -> Scan:
    import pydicom
    from pydicom.errors import BytesLengthException, InvalidDicomError

    try:
        with quiet_libraries():
            dataset = pydicom.dcmread(io.BytesIO(data), force=force)
            if force and not _looks_like_dicom(dataset):
                raise ScanReadError(NOT_DICOM)
            return _scan_from_dataset(dataset)
    except ScanReadError:
        raise
    except InvalidDicomError:
        raise ScanReadError(NOT_DICOM) from None
    except (
        ValueError,
        RuntimeError,
        NotImplementedError,
        AttributeError,
        KeyError,
        TypeError,
        IndexError,
        EOFError,
        OSError,
        OverflowError,
        MemoryError,
        BytesLengthException,
        struct.error,
    ) as error:
        raise ScanReadError(f"the DICOM file is corrupt or unsupported ({one_line(str(error))})") from None


def _looks_like_dicom(dataset) -> bool:
    # A forced read parses almost anything as elements; text cannot encode a standard tag below group 0x2000
    # (that needs a NUL byte), while real files always carry some.
    from pydicom.datadict import dictionary_has_tag

    return any(
        (tag.group < 0x2000 or tag.group == 0x7FE0) and not tag.is_private and dictionary_has_tag(tag)
        for tag in dataset.keys()  # noqa: SIM118 - iterating a pydicom Dataset yields elements, not tags
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
        pixels=read_only(pixels),
        source="dicom",
        window=_dicom_window(dataset) if grey else None,
        voi_lut=_dicom_voi_lut(dataset) if grey else None,
        monochrome1=photometric == "MONOCHROME1",
        tags=tuple(dicom_tags(dataset)),
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
                out[index] = luminance(frame)
            else:
                out[index] = _modality_values(frame, dataset, index)
            count += 1
    except ScanReadError:
        raise
    except (RuntimeError, ValueError, NotImplementedError, TypeError, IndexError, struct.error) as error:
        raise ScanReadError(
            f"the pixel data could not be decoded ({_syntax_label(syntax)}): {one_line(str(error))}"
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
        values = np.clip(
            np.rint(np.nan_to_num(np.asarray(frame, dtype=np.float64))), first_mapped, first_mapped + entries - 1
        ).astype(np.int64)
        mapped = apply_voi_lut(values, lut_dataset)
        return mapped.astype(np.float64) * (255.0 / top)

    return voi_lut
