"""DICOM header elements as shown to the user, flagged where they identify a patient.

Uploads may hold patient data: the page shows the header so the user can see what the file carries, and the
flags (the PS3.15 confidentiality profile plus every name, date, time and private element) let it hide what
identifies someone until the user asks to see it. Values are cut to one short line and never logged.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

from medmodels.imaging.scans import one_line

MAX_TAG_VALUE_CHARS = 200

# Attributes the DICOM basic application level confidentiality profile removes or replaces (PS3.15
# Annex E, Table E.1-1) come from dicom-anonymizer's copy of the table (see ``_profile_tags``). These few
# are not in it but name or date a patient all the same. Every PN, DA, DT and TM element and every
# private element is also treated as identifying (see ``_tag``).
EXTRA_IDENTIFYING_KEYWORDS: frozenset[str] = frozenset(
    {
        "PatientAlternativeCalendar",
        "PatientBirthDateInAlternativeCalendar",
        "PatientDeathDateInAlternativeCalendar",
        "PatientSpeciesDescription",
        "PatientBreedDescription",
        "CreatorVersionUID",
    }
)
_IDENTIFYING_VRS = frozenset({"PN", "DA", "DT", "TM"})
_BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN", "OB or OW", "US or OW"})


@dataclass(frozen=True)
class DicomTag:
    """One DICOM element as shown to the user, flagged when the de-identification profile would remove it."""

    tag: str
    keyword: str
    name: str
    vr: str
    value: str
    identifying: bool


def dicom_tags(dataset) -> Iterator[DicomTag]:
    for element in list(dataset.file_meta) + list(dataset):
        if element.tag.group == 0x7FE0:
            continue
        yield _tag(element)


def _tag(element) -> DicomTag:
    keyword = element.keyword or ""
    vr = str(element.VR)
    try:
        value = _tag_value(element, vr)
    except Exception:  # noqa: BLE001 - a malformed value of any kind must not stop the rest of the header from showing
        value = "<unreadable>"
    return DicomTag(
        tag=str(element.tag),
        keyword=keyword,
        name=element.name,
        vr=vr,
        value=value,
        identifying=vr in _IDENTIFYING_VRS
        or keyword in EXTRA_IDENTIFYING_KEYWORDS
        or element.tag.is_private
        or _in_profile(int(element.tag)),
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
    text = one_line("" if value is None else str(value))
    return text if len(text) <= MAX_TAG_VALUE_CHARS else text[: MAX_TAG_VALUE_CHARS - 1] + "…"
