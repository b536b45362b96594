"""Reading NIfTI volumes (and inflating gzip uploads) into a :class:`~medmodels.imaging.scans.Scan`.

Kept apart so the gzip bomb and truncation limits, the RAS reorientation and the upright slicing a re-sliced
volume needs live next to each other, without loading nibabel until a NIfTI file arrives.
"""

from __future__ import annotations

import io
import zlib

import numpy as np

from medmodels.imaging.scans import (
    MAX_SCAN_PIXELS,
    Scan,
    ScanReadError,
    luminance,
    one_line,
    quiet_libraries,
    read_only,
)

# A gzip upload is inflated in memory up to this many bytes; more is treated as a gzip bomb.
MAX_GUNZIP_BYTES = 512 * 1024 * 1024


def _nifti_version(data: bytes) -> int | None:
    if data[:4] in (b"\x5c\x01\x00\x00", b"\x00\x00\x01\x5c") or data[344:347] in (b"n+1", b"ni1"):
        return 1
    if data[:4] in (b"\x1c\x02\x00\x00", b"\x00\x00\x02\x1c") and data[4:7] in (b"n+2", b"ni2"):
        return 2
    return None


def is_nifti(data: bytes) -> bool:
    return _nifti_version(data) is not None


def gunzip(data: bytes, limit: int | None = None) -> bytes:
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
        raise ScanReadError(f"the gzip file is corrupt ({one_line(str(error))})") from None


def read_nifti(data: bytes) -> Scan:
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
        raise ScanReadError(f"the NIfTI header is corrupt ({one_line(str(error))})") from None
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
        with quiet_libraries():
            image = image_class.from_bytes(data)
            index = (slice(None),) * min(len(shape), 3) + (0,) * max(len(shape) - 3, 0)
            volume = np.asarray(image.dataobj[index])
    except (HeaderDataError, ImageFileError, ValueError, TypeError, OSError, EOFError) as error:
        raise ScanReadError(f"the NIfTI file is corrupt or unsupported ({one_line(str(error))})") from None
    if volume.dtype.names:  # RGB(A) voxels
        volume = luminance(np.stack([volume[name] for name in volume.dtype.names[:3]], axis=-1))
    elif np.iscomplexobj(volume):
        volume = np.abs(volume)
    volume = volume.reshape(spatial)
    codes = "unknown orientation"
    try:
        orientation = nib.orientations.io_orientation(image.affine)
        volume = nib.orientations.apply_orientation(volume, orientation)
        codes = "RAS (reoriented from " + "".join(nib.aff2axcodes(image.affine)) + ")"
    except Exception:  # noqa: BLE001, S110 - a degenerate affine, whatever nibabel raises for it: keep the stored axis order
        pass
    volume = read_only(np.ascontiguousarray(volume, dtype=np.float32))
    zooms = " x ".join(f"{z:g}" for z in header.get_zooms()[:3])
    extra = f", volume 1 of {shape[3]}" if len(shape) > 3 and shape[3] > 1 else ""
    return Scan(
        pixels=upright_slices(volume, 2),
        source="nifti",
        description=(
            f"NIfTI-{version}, {' x '.join(map(str, volume.shape))} voxels of {zooms} mm, {dtype.name}, {codes}{extra}"
        ),
        volume=volume,
    )


def upright_slices(volume: np.ndarray, axis: int) -> np.ndarray:
    # Same as np.rot90 of every slice volume.take(k, axis), as one read-only view.
    stacked = np.moveaxis(volume, axis, 0)
    return read_only(np.swapaxes(stacked, 1, 2)[:, ::-1, :])
