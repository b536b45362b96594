"""Where training and evaluation data live: a folder the user names, never a download."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from medmodels.errors import MedmodelsError, UsageError

DATA_ENV = "MEDMODELS_DATA"
HOME_ENV = "MEDMODELS_HOME"


class DataNotFoundError(UsageError, FileNotFoundError):
    """The data folder or a file inside it is missing: the user must name the right folder."""


class DataFormatError(MedmodelsError, ValueError):
    """A data file exists but does not hold what the loader expects."""


def resolve_data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """``path`` if given, else ``$MEDMODELS_DATA``; refuses a folder that does not exist."""
    chosen = path if path is not None else os.environ.get(DATA_ENV)
    if not chosen:
        raise DataNotFoundError(f"no data folder: pass --data DIR or set {DATA_ENV}")
    folder = Path(chosen).expanduser()
    if not folder.is_dir():
        raise DataNotFoundError(f"data folder {folder} does not exist")
    return folder


def medmodels_home() -> Path:
    """The folder medmodels keeps its own files in (the findings database, caches): ``$MEDMODELS_HOME``,
    else ``~/.medmodels``."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".medmodels")


def user_models_dir() -> Path:
    """Where models a user trains are written: ``$MEDMODELS_HOME/models`` (default ``~/.medmodels/models``)."""
    return medmodels_home() / "models"


def data_file(data_dir: Path, relative: str) -> Path:
    path = data_dir / relative
    if not path.is_file():
        raise DataNotFoundError(f"{relative} not found in data folder {data_dir}")
    return path


def md5sum(path: Path) -> str:
    """MD5 of a data file, as the cards record their data (not for security: to recognise the file)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest()
