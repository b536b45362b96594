"""The population check: a DICOM file whose own tags contradict the training population gets no diagnosis."""

import json

import pytest

from medmodels.cards import Population
from medmodels.cli import main
from medmodels.imaging.analysis import predict_upload, report_rows, scan_row
from medmodels.imaging.classifier import ImageClassifier
from medmodels.imaging.deidentify import DicomTag
from medmodels.imaging.population import check_population, patient_age_years, population_rule
from medmodels.imaging.scans import read_scan
from tests.conftest import radiograph, radiograph_without_age

CHILDREN = Population(
    "frontal chest radiographs of children aged 1 to 5",
    modalities=["CR", "DX"],
    body_parts=["CHEST"],
    views=["AP", "PA"],
    min_age_years=1,
    max_age_years=5,
)
WOMEN = Population("breast ultrasound of women", modalities=["US"], sexes=["F"], min_age_years=25, max_age_years=75)


def tags(identifying: tuple[str, ...] = ("PatientAge", "PatientBirthDate", "StudyDate", "PatientSex"), **values: str):
    return tuple(DicomTag("", keyword, keyword, "", value, keyword in identifying) for keyword, value in values.items())


@pytest.fixture(scope="module")
def pneumonia() -> ImageClassifier:
    return ImageClassifier.load("imaging.pneumonia")


@pytest.mark.parametrize(
    ("values", "years"),
    [
        ({"PatientAge": "064Y"}, 64),
        ({"PatientAge": "018M"}, 1.5),
        ({"PatientAge": "006W"}, 42 / 365.25),
        ({"PatientAge": "000Y"}, None),  # what anonymisers write for an unknown age
        ({"PatientBirthDate": "20200610", "StudyDate": "20230609"}, 2.995),
        ({"PatientBirthDate": "19400305", "StudyDate": ""}, None),  # no exam date: no age
        ({"PatientBirthDate": "not a date", "StudyDate": "20040826"}, None),
        ({"PatientAge": "064Y", "PatientBirthDate": "20200101", "StudyDate": "20230101"}, 64),  # the stated age wins
    ],
)
def test_the_patients_age_is_read_from_the_age_tag_or_birth_and_exam_dates(values, years):
    age = patient_age_years(tags(**values))
    assert age == pytest.approx(years, abs=1e-3) if years is not None else age is None


def test_an_adult_is_outside_a_childrens_population_and_the_reason_does_not_quote_the_age():
    check = check_population(
        CHILDREN, tags(Modality="CR", BodyPartExamined="CHEST", ViewPosition="PA", PatientAge="064Y")
    )
    assert check.checked == ("modality", "body part", "view", "age")
    assert check.contradictions == ("the patient's age is outside the 1 to 5 years of the training data",)
    assert "64" not in check.reason  # an identifying value, hidden on the page by default


@pytest.mark.parametrize("age", ["001Y", "005Y", "030M"])
def test_a_child_within_the_age_range_passes(age):
    check = check_population(CHILDREN, tags(Modality="DX", BodyPartExamined="chest", ViewPosition="AP", PatientAge=age))
    assert check.reason is None and "age" in check.checked


def test_a_lateral_view_an_mri_and_another_body_part_are_named_in_the_reason():
    check = check_population(CHILDREN, tags(Modality="MR", BodyPartExamined="HEAD", ViewPosition="LL"))
    assert check.contradictions == (
        "modality MR (MRI), not CR or DX",
        "body part HEAD, not CHEST",
        "view LL, not AP or PA",
    )


def test_a_male_patient_is_outside_a_population_of_women_without_quoting_the_tag():
    check = check_population(WOMEN, tags(Modality="US", PatientSex="M"))
    assert check.contradictions == ("the patient's sex is not female",)


def test_tags_that_are_absent_or_say_nothing_contradict_nothing():
    assert check_population(CHILDREN, ()).checked == ()
    assert check_population(CHILDREN, tags(Modality="OT", PatientAge="000Y", ViewPosition="")).reason is None
    assert check_population(None, tags(Modality="MR")).checked == ()


def test_the_card_states_the_population_and_the_rule():
    card = ImageClassifier.load("imaging.pneumonia").card
    assert card.population.min_age_years == 1 and card.population.max_age_years == 5
    rule = population_rule(card.population)
    assert "age 1 to 5 years" in rule and "view AP or PA" in rule


def test_an_adults_chest_film_is_withheld_with_the_reason_and_its_de_identified_copy_is_judged_on_pixels(pneumonia):
    adult = predict_upload(pneumonia, radiograph(), "RG1_UNCR.dcm")
    assert adult.ood is True and adult.label is None
    assert adult.withheld_reason.startswith("its DICOM tags place it outside the training population")
    assert not adult.unfamiliar  # the pixels alone would have passed: the tags are what withhold it

    anonymous = predict_upload(pneumonia, radiograph_without_age(), "RG1_anonymous.dcm")
    assert anonymous.population.checked == ("modality", "body part", "view")
    assert anonymous.ood is False and anonymous.label in ("normal", "pneumonia")

    lateral = predict_upload(pneumonia, radiograph(ViewPosition="LL", PatientAge="004Y"), "lateral.dcm")
    assert lateral.ood is True and "view LL, not AP or PA" in lateral.withheld_reason


def test_the_report_and_the_several_scans_table_give_the_population_reason(pneumonia):
    scan = read_scan(radiograph(), "RG1_UNCR.dcm")
    from medmodels.imaging.display import default_display

    prediction = pneumonia.predict(default_display(scan), scan.tags)
    rows = dict(report_rows(pneumonia, prediction, (), "RG1_UNCR.dcm", threshold=0.5))
    assert rows["result"].startswith("withheld: its DICOM tags place it outside the training population")
    assert rows["DICOM tags checked against it"] == "modality, body part, view, age"
    assert not any(field.startswith("calibrated P(") for field in rows)
    row = scan_row(pneumonia, radiograph(), "RG1_UNCR.dcm")
    assert row["label"] == "withheld" and row["P(pneumonia)"] is None and row["out of distribution"] is True
    assert "1 to 5 years" in row["why withheld"]


def test_predict_on_the_command_line_gives_the_population_reason_in_its_ood_fields(capsys, tmp_path):
    adult = tmp_path / "RG1_UNCR.dcm"
    adult.write_bytes(radiograph())
    anonymous = tmp_path / "anonymous.dcm"
    anonymous.write_bytes(radiograph_without_age())
    assert main(["predict", "imaging.pneumonia", str(adult), str(anonymous), "--json"]) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["ood"] is True and first["label"] is None and first["probabilities"] is None
    assert "outside the training population" in first["ood_reason"]
    assert second["ood"] is False and second["ood_reason"] is None and second["label"] in ("normal", "pneumonia")
    assert main(["predict", "imaging.pneumonia", str(adult)]) == 0
    assert "withheld, no diagnosis: its DICOM tags place it outside" in capsys.readouterr().out
