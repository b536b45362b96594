"""User-supplied files: one size cap for the dashboard's uploads and the command line's inputs, and a
reader that keeps to it without first loading a huge file (or an endless device) into memory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from medmodels.errors import InputError

MAX_UPLOAD_BYTES = 100 * 2**20  # the dashboard's own cap (.streamlit/config.toml: maxUploadSize = 100)


class FileTooLargeError(InputError):
    """A file over ``MAX_UPLOAD_BYTES``; the message is one line meant for the user."""


def too_large_message(name: str, size: int | None = None) -> str:
    found = f" ({size / 2**20:,.0f} MB)" if size is not None else ""
    return f"{name} is over the {MAX_UPLOAD_BYTES // 2**20} MB limit{found}"


def read_capped(path: str | Path) -> bytes:
    """A file's bytes, reading no more than the cap allows; raises FileTooLargeError past it and OSError as
    ``open`` does (missing file, a folder, no permission)."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > MAX_UPLOAD_BYTES:  # a regular file says its size; a device or pipe reports 0 and is read
            raise FileTooLargeError(too_large_message(str(path), size))
        data = handle.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise FileTooLargeError(too_large_message(str(path)))
    return data


def count_marker(stream: BinaryIO, marker: bytes, before: bytes = b"") -> int:
    """How often ``marker`` occurs in ``stream``, as if ``before`` preceded it: a cheap count of the records a
    file holds (for a progress bar's total), read in 4 MB chunks whatever its size. A marker split across two
    chunks is counted once."""
    count, tail, keep = 0, before, len(marker) - 1
    while chunk := stream.read(1 << 22):
        data = tail + chunk
        count += data.count(marker)
        tail = data[-keep:] if keep else b""  # shorter than the marker: never counted twice
    return count
