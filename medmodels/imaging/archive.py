"""A zip of class folders, uploaded in the browser, read in memory and never unpacked to disk.

Archives come from anyone, so every member is checked before it is read: no more than ``MAX_MEMBERS``
files and ``MAX_TOTAL_BYTES`` uncompressed in all (counted as members are read, since a header can lie),
no member over the upload cap or compressed more than ``MAX_RATIO`` to one (a zip bomb), no absolute
path or ``..`` (path traversal, harmless here as nothing is written, but a sign of a crafted file), no
nested archive and no encrypted member. A refused member is listed with the reason, never fatal. macOS's
``__MACOSX`` folder and hidden files are left out silently. A single folder holding everything (what zipping
a folder gives) is looked through, so its sub-folders are the classes.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

from medmodels.errors import InputError
from medmodels.imaging.custom import SourceFile
from medmodels.uploads import MAX_UPLOAD_BYTES

MAX_MEMBERS = 20_000
MAX_TOTAL_BYTES = 2 * 2**30
MAX_RATIO = 200
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tar.xz", ".7z", ".rar", ".gz.tar")


class ArchiveError(InputError):
    """An upload that cannot be read as a zip of class folders; the message is one line meant for the user."""


def _refusal(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    parts = PurePosixPath(name).parts
    if name.startswith("/") or "\\" in name or ".." in parts or (parts and parts[0].endswith(":")):
        return "unsafe path (absolute, or leading out of the archive with ..)"
    if info.flag_bits & 0x1:
        return "encrypted"
    if name.lower().endswith(ARCHIVE_SUFFIXES):
        return "an archive inside the archive: unpack it into the class folders instead"
    if info.file_size > MAX_UPLOAD_BYTES:
        return f"over the {MAX_UPLOAD_BYTES // 2**20} MB limit per file ({info.file_size / 2**20:,.0f} MB)"
    if info.file_size > 2**20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return f"compressed more than {MAX_RATIO} to 1 (a zip bomb?)"
    return None


def _ignored(name: str) -> bool:
    parts = PurePosixPath(name).parts
    hidden = any(part.startswith(".") and part not in (".", "..") for part in parts)
    return not parts or parts[0] == "__MACOSX" or hidden


def zip_sources(data: bytes) -> tuple[list[SourceFile], list[tuple[str, str]]]:
    """The archive's files as ``SourceFile``s read lazily from memory (paths as below the class folders'
    parent), and the members refused, with why. Raises ArchiveError for something that is no usable zip."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [info for info in archive.infolist() if not info.is_dir() and not _ignored(info.filename)]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
        raise ArchiveError(f"not a readable zip archive ({error})") from None
    if not infos:
        raise ArchiveError("the archive holds no files")
    if len(infos) > MAX_MEMBERS:
        raise ArchiveError(f"the archive holds {len(infos):,} files; the limit is {MAX_MEMBERS:,}")
    declared = sum(info.file_size for info in infos)
    if declared > MAX_TOTAL_BYTES:
        raise ArchiveError(
            f"the archive unpacks to {declared / 2**30:,.1f} GB; the limit is {MAX_TOTAL_BYTES // 2**30} GB"
        )
    # Zipping a folder puts everything in it: look through it when it is the only thing at the top (empty
    # folders count, an empty class folder among them) and something inside it is itself in a folder.
    tops = {PurePosixPath(i.filename).parts[0] for i in archive.infolist() if not _ignored(i.filename)}
    depths = [len(PurePosixPath(i.filename).parts) for i in infos]
    strip = 1 if len(tops) == 1 and min(depths) > 1 and max(depths) > 2 else 0
    budget = [MAX_TOTAL_BYTES]  # what may still be read, whatever the headers claim

    def reader(info: zipfile.ZipInfo):
        def read() -> bytes:
            limit = min(MAX_UPLOAD_BYTES, budget[0])
            try:
                with archive.open(info) as member:
                    content = member.read(limit + 1)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as error:
                raise ArchiveError(f"the archive member cannot be read ({error})") from None
            if len(content) > limit:
                raise ArchiveError("the member unpacks to more than the archive's limits allow (a zip bomb?)")
            budget[0] -= len(content)
            return content

        return read

    sources, refused = [], []
    for info in infos:
        path = "/".join(PurePosixPath(info.filename).parts[strip:])
        reason = _refusal(info)
        if reason:
            refused.append((info.filename, reason))  # as the archive names it: a crafted name shows as crafted
        else:
            sources.append(SourceFile(path, reader(info)))
    return sources, refused
