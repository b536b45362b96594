import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from medmodels.data import DATA_ENV, HOME_ENV

REPO_ROOT = Path(__file__).resolve().parents[1]


def relist(folder: Path, name: str) -> None:
    """Record in ``name``'s card the SHA-256 its files have now, as a card written with them would: for
    tests of what loading makes of a file's content, not of a file altered after its card was written."""
    from dataclasses import replace

    from medmodels.cards import read_card, sha256sum, write_card

    card = read_card(folder / f"{name}.json", verify=False)
    card.files = [replace(f, sha256=sha256sum(folder / f.path)) for f in card.files]
    write_card(card, folder / f"{name}.json")


@pytest.fixture(autouse=True, scope="session")
def medmodels_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests never write into the user's ~/.medmodels: databases and caches go to a folder of the session
    (commands the tests start inherit it)."""
    with pytest.MonkeyPatch.context() as patch:
        home = tmp_path_factory.mktemp("medmodels-home")
        patch.setenv(HOME_ENV, str(home))
        yield home


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The public data folder; tests that need it skip with the reason when it is absent."""
    value = os.environ.get(DATA_ENV)
    if not value or not Path(value).is_dir():
        pytest.skip(
            f"needs the public data sets: set {DATA_ENV} to the folder holding medmnist/ and bc5cdr/ (see README)"
        )
    return Path(value)


@pytest.fixture(scope="session")
def pneumonia_npz(data_dir: Path) -> Path:
    path = data_dir / "medmnist" / "pneumoniamnist.npz"
    if not path.is_file():
        pytest.skip(f"needs {path}")
    return path


# The patient-age tags of pydicom's sample radiograph RG1_UNCR.dcm (an adult: born 1940, studied 2004).
AGE_KEYWORDS = ("PatientAge", "PatientBirthDate")


def radiograph(**changes: str | None) -> bytes:
    """pydicom's 1955 x 1841 chest radiograph with header elements changed by keyword (None removes one).
    ``radiograph(PatientBirthDate=None)`` is a de-identified copy that no longer states the patient's age,
    so only the pixels decide; the file itself belongs to an adult, outside the pneumonia model's population."""
    import io

    import pydicom
    from pydicom.data import get_testdata_file

    dataset = pydicom.dcmread(get_testdata_file("RG1_UNCR.dcm"))
    for keyword, value in changes.items():
        if value is None:
            if keyword in dataset:
                delattr(dataset, keyword)
        else:
            setattr(dataset, keyword, value)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def radiograph_without_age() -> bytes:
    return radiograph(**dict.fromkeys(AGE_KEYWORDS))
