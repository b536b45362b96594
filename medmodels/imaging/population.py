"""Does a DICOM file's own header contradict the population a model was trained on?

The OOD gate judges pixels; a film can look familiar and still come from someone the model never saw
(an adult's chest film shown to a model of children's). The card's ``Population`` states modality, body
part, view, sex and age range where the data set's source does; this module compares them with the
file's tags. A tag that is absent or empty contradicts nothing, so a plain image or a de-identified file
is checked only on what it states. Values of identifying tags (age, sex, birth date) are never quoted in
the reason: the page hides them by default.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from medmodels.cards import Population
from medmodels.imaging.deidentify import DicomTag

MODALITY_NAMES = {
    "CR": "computed radiography",
    "DX": "digital radiography",
    "MR": "MRI",
    "US": "ultrasound",
    "MG": "mammography",
    "NM": "nuclear medicine",
    "PT": "PET",
    "XA": "angiography",
    "RF": "fluoroscopy",
}
# "OT" (other) and "SC" (secondary capture) say nothing about how the image was made.
_UNINFORMATIVE_MODALITIES = frozenset({"OT", "SC"})
SEX_NAMES = {"F": "female", "M": "male", "O": "other"}
# The exam's date first: PatientAge, when present, is the age at the study.
_DATE_KEYWORDS = ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate")
_AGE_UNITS_IN_YEARS = {"D": 1 / 365.25, "W": 7 / 365.25, "M": 1 / 12, "Y": 1.0}


@dataclass(frozen=True)
class PopulationCheck:
    """What the file's tags state about the patient and the scan, and which of them contradict the card."""

    checked: tuple[str, ...]  # fields the file states, in words: "modality", "age", ...
    contradictions: tuple[str, ...]  # one phrase per contradicting field

    @property
    def reason(self) -> str | None:
        """One line on why the diagnosis is withheld, or None when nothing contradicts the population."""
        if not self.contradictions:
            return None
        return "its DICOM tags place it outside the training population: " + "; ".join(self.contradictions)


def _values(tags: Sequence[DicomTag]) -> dict[str, DicomTag]:
    found: dict[str, DicomTag] = {}
    for tag in tags:
        if tag.keyword and tag.value.strip() and tag.keyword not in found:
            found[tag.keyword] = tag
    return found


def _date(text: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(text.strip()[:8], "%Y%m%d").date()
    except ValueError:
        return None


def patient_age_years(tags: Sequence[DicomTag]) -> float | None:
    """The patient's age at the exam: Patient's Age ("064Y", "018M", "003W", "010D"), else the birth date
    and the first exam date (study, series, acquisition, content). None when neither is stated; "000Y",
    which anonymisers write for an unknown age, counts as not stated."""
    values = _values(tags)
    if "PatientAge" in values:
        match = re.fullmatch(r"(\d{3})([DWMY])", values["PatientAge"].value.strip().upper())
        if match and int(match[1]) > 0:
            return int(match[1]) * _AGE_UNITS_IN_YEARS[match[2]]
    birth = _date(values["PatientBirthDate"].value) if "PatientBirthDate" in values else None
    exam = next((d for k in _DATE_KEYWORDS if k in values and (d := _date(values[k].value)) is not None), None)
    if birth is None or exam is None or exam < birth:
        return None
    return (exam - birth).days / 365.25


def _alternatives(values: list[str]) -> str:
    return " or ".join(values) if len(values) <= 2 else ", ".join(values[:-1]) + " or " + values[-1]


def check_population(population: Population | None, tags: Sequence[DicomTag]) -> PopulationCheck:
    """Compare the file's tags with ``population``; without a population nothing is checked."""
    if population is None:
        return PopulationCheck((), ())
    values = _values(tags)
    checked: list[str] = []
    contradictions: list[str] = []

    def compare(keyword: str, field: str, allowed: list[str], words: dict[str, str] | None = None) -> None:
        tag = values.get(keyword)
        if not allowed or tag is None:
            return
        value = tag.value.strip().upper()
        if keyword == "Modality" and value in _UNINFORMATIVE_MODALITIES:
            return
        checked.append(field)
        if value in (a.upper() for a in allowed):
            return
        expected = _alternatives([words.get(a, a) if words is SEX_NAMES else a for a in allowed])
        if tag.identifying:  # hidden on the page by default: say that it differs, not what it is
            contradictions.append(f"the patient's {field} is not {expected}")
        else:
            named = f"{value} ({words[value]})" if words and value in words else value
            contradictions.append(f"{field} {named}, not {expected}")

    compare("Modality", "modality", population.modalities, MODALITY_NAMES)
    compare("BodyPartExamined", "body part", population.body_parts)
    compare("ViewPosition", "view", population.views)
    compare("PatientSex", "sex", population.sexes, SEX_NAMES)
    bounds = (population.min_age_years, population.max_age_years)
    age = patient_age_years(tags)
    if age is not None and bounds != (None, None):
        checked.append("age")
        low, high = bounds
        if (low is not None and age < low) or (high is not None and int(age) > high):
            span = (
                f"{low} to {high} years"
                if low is not None and high is not None
                else (f"at least {low} years" if low is not None else f"at most {high} years")
            )
            contradictions.append(f"the patient's age is outside the {span} of the training data")
    return PopulationCheck(tuple(checked), tuple(contradictions))


def population_rule(population: Population) -> str:
    """The population and the rule that applies it, in words, for the model card's readers."""
    stated = [
        f"modality {_alternatives(population.modalities)}" if population.modalities else "",
        f"body part {_alternatives(population.body_parts)}" if population.body_parts else "",
        f"view {_alternatives(population.views)}" if population.views else "",
        f"sex {_alternatives([SEX_NAMES.get(s, s) for s in population.sexes])}" if population.sexes else "",
    ]
    low, high = population.min_age_years, population.max_age_years
    if low is not None or high is not None:
        stated.append(f"age {low if low is not None else 0} to {high if high is not None else 'any'} years")
    stated = [s for s in stated if s]
    return (
        f"{population.description[0].upper()}{population.description[1:]}. A DICOM file whose own tags state "
        f"otherwise ({'; '.join(stated)}) gets no diagnosis; a tag the file leaves out is not held against it."
    )
