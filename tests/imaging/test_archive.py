"""A zip of class folders from the browser: read in memory, crafted members refused one by one."""

import io
import zipfile

import pytest

from medmodels.imaging.archive import MAX_RATIO, ArchiveError, zip_sources


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zipped_folder_is_looked_through_and_system_files_are_left_out():
    sources, refused = zip_sources(
        _zip(
            {
                "my-scans/normal/a.png": b"a",
                "my-scans/lesion/patient-1/b.dcm": b"b",
                "__MACOSX/my-scans/normal/._a.png": b"junk",
                "my-scans/.DS_Store": b"junk",
            }
        )
    )
    assert [s.path for s in sources] == ["normal/a.png", "lesion/patient-1/b.dcm"] and refused == []
    assert sources[1].read() == b"b"


def test_crafted_members_are_refused_with_the_reason_and_the_rest_kept():
    bomb = b"\0" * (8 * 2**20)  # deflates more than a thousand to one
    sources, refused = zip_sources(
        _zip(
            {
                "normal/a.png": b"fine",
                "normal/../../etc/passwd": b"x",
                "/abs/lesion/b.png": b"x",
                "lesion/inner.zip": _zip({"c.png": b"c"}),
                "lesion/bomb.dcm": bomb,
            }
        )
    )
    assert [s.path for s in sources] == ["normal/a.png"]
    reasons = dict(refused)
    assert reasons["normal/../../etc/passwd"].startswith("unsafe path")
    assert reasons["/abs/lesion/b.png"].startswith("unsafe path")
    assert reasons["lesion/inner.zip"].startswith("an archive inside the archive")
    assert reasons["lesion/bomb.dcm"] == f"compressed more than {MAX_RATIO} to 1 (a zip bomb?)"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04 not really a zip", "not a readable zip archive"),
        (b"%PDF-1.7", "not a readable zip archive"),
        (_zip({"__MACOSX/x": b"x"}), "the archive holds no files"),
    ],
)
def test_something_that_is_no_usable_zip_is_one_clear_message(data, message):
    with pytest.raises(ArchiveError, match=message):
        zip_sources(data)
