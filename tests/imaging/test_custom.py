"""Training a model on your own labelled scans: a folder of class sub-folders in any format, grouped by
patient, series or file, split without leakage, then used by name like a shipped model."""

import contextlib
import io
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from medmodels.cli import main
from medmodels.errors import UsageError
from medmodels.imaging.custom import (
    assign_splits,
    folder_files,
    frame_indices,
    positive_class,
    read_labelled_scans,
    read_split_file,
    split_rows,
)


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _scan(rng: np.random.Generator, lesion: bool, size: int = 40) -> np.ndarray:
    """Speckle, with a bright blob for the 'lesion' class: a task a small CNN learns in a few epochs."""
    image = rng.normal(90, 20, (size, size))
    if lesion:
        y, x = rng.integers(10, size - 10, 2)
        yy, xx = np.mgrid[:size, :size]
        image += 120 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 20)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def scans_folder(tmp_path_factory) -> Path:
    """normal/ and lesion/ with 14 PNGs each, a patient folder of two slices, a 10-frame MR DICOM, a NIfTI
    volume of 20 slices, an unreadable file, and a stray file outside the class folders."""
    import nibabel as nib

    root = tmp_path_factory.mktemp("scans")
    rng = np.random.default_rng(0)
    for label in ("normal", "lesion"):
        (root / label).mkdir()
        for i in range(14):
            (root / label / f"{label}-{i}.png").write_bytes(_png(_scan(rng, label == "lesion")))
    (root / "lesion" / "patient-7").mkdir()
    for i in range(2):
        (root / "lesion" / "patient-7" / f"slice-{i}.png").write_bytes(_png(_scan(rng, True)))
    (root / "normal" / "IM000001").write_bytes(Path(get_testdata_file("emri_small.dcm")).read_bytes())
    volume = np.stack([_scan(rng, True) for _ in range(20)], axis=-1).astype(np.int16)
    nib.save(nib.Nifti1Image(volume, np.eye(4)), root / "lesion" / "volume.nii.gz")
    (root / "lesion" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (root / "notes.txt").write_text("labels checked by two readers")
    return root


@pytest.fixture
def own_home(tmp_path, monkeypatch) -> Path:
    """A MEDMODELS_HOME of the test's own, so models trained here never reach other tests."""
    monkeypatch.setenv("MEDMODELS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.mark.parametrize(
    ("count", "frames"),
    [(1, [0]), (2, [0, 1]), (10, [2, 3, 4, 5, 6, 7]), (100, list(np.linspace(25, 74, 16).round().astype(int)))],
)
def test_volumes_give_up_to_sixteen_evenly_spaced_frames_from_their_central_half(count, frames):
    assert frame_indices(count) == frames


def test_a_folder_is_read_by_content_with_groups_and_skipped_files_listed(scans_folder):
    scans = read_labelled_scans(folder_files(scans_folder), 28)
    assert scans.classes == ["lesion", "normal"] and scans.images.shape[1:] == (28, 28)
    per_file = {path: scans.files.count(path) for path in set(scans.files)}
    assert per_file["normal/IM000001"] == 6 and per_file["lesion/volume.nii.gz"] == 10
    assert per_file["lesion/lesion-0.png"] == 1
    skipped = dict(scans.skipped)
    assert set(skipped) == {"lesion/broken.png", "notes.txt"}
    assert skipped["notes.txt"] == "not inside a class folder"
    # The two slices of patient-7 are one group; each plain file is its own.
    groups = {path: group for path, group in zip(scans.files, scans.groups)}
    assert groups["lesion/patient-7/slice-0.png"] == groups["lesion/patient-7/slice-1.png"]
    assert groups["lesion/lesion-0.png"] != groups["lesion/lesion-1.png"]
    assert scans.group_counts() == (14 + 1 + 1) + (
        14 + 1
    )  # lesion: PNGs, patient-7, the volume; normal: PNGs, the DICOM


def test_splits_keep_each_group_whole_and_every_class_in_every_split(scans_folder):
    scans = read_labelled_scans(folder_files(scans_folder), 28)
    rows = split_rows(scans, None)
    by_group: dict[str, set[str]] = {}
    for split, indices in rows.items():
        for i in indices:
            by_group.setdefault(scans.groups[i], set()).add(split)
        assert set(scans.labels[indices].tolist()) == {0, 1}
    assert all(len(splits) == 1 for splits in by_group.values())
    assert sum(len(indices) for indices in rows.values()) == len(scans.labels)
    assert assign_splits(scans) == assign_splits(scans)  # seeded


def test_a_class_with_two_groups_and_a_split_file_that_divides_a_patient_are_refused(scans_folder, tmp_path):
    scans = read_labelled_scans(folder_files(scans_folder), 28)
    few = [
        i for i, path in enumerate(scans.files) if not path.startswith("normal/") or path.endswith(("-0.png", "-1.png"))
    ]
    scans.images, scans.labels = scans.images[few], scans.labels[few]
    scans.files, scans.groups = [scans.files[i] for i in few], [scans.groups[i] for i in few]
    with pytest.raises(UsageError, match="class 'normal' has 2 patient"):
        assign_splits(scans)

    split_file = b"file,split\nlesion/patient-7/slice-0.png,train\nlesion/patient-7/slice-1.png,test\n"
    full = read_labelled_scans(folder_files(scans_folder), 28)
    with pytest.raises(UsageError, match="one patient or series into two splits"):
        split_rows(full, read_split_file(split_file))
    with pytest.raises(UsageError, match="'holdout' is not train, validation or test"):
        read_split_file(b"file,split\na.png,holdout\n")


def test_the_positive_class_is_the_one_not_named_like_a_negative():
    assert positive_class(["lesion", "normal"], None) == "lesion"
    assert positive_class(["benign", "malignant"], None) == "malignant"
    assert positive_class(["a", "b"], None) == "b"
    assert positive_class(["a", "b"], "a") == "a"
    with pytest.raises(UsageError, match="not a class folder"):
        positive_class(["a", "b"], "c")


@pytest.fixture(scope="module")
def trained(scans_folder, tmp_path_factory) -> Iterator[tuple[Path, str]]:
    """A MEDMODELS_HOME holding imaging.test-scans, trained once on ``scans_folder``, and what train printed."""
    home = tmp_path_factory.mktemp("trained-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDMODELS_HOME", str(home))
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            status = main([*TRAIN, "--images", str(scans_folder), "--size", "28", "--epochs", "3"])
        assert status == 0
    return home, output.getvalue()


TRAIN = ["train", "imaging.custom", "--name", "imaging.test-scans"]


def test_train_on_a_folder_then_list_predict_and_evaluate_it_by_name(scans_folder, trained, monkeypatch, capsys):
    home, out = trained
    monkeypatch.setenv("MEDMODELS_HOME", str(home))
    assert "the test split of imaging.test-scans has now been scored 1 time(s)" in out
    assert "skipped 2 input(s) that could not be used:\n  lesion/broken.png: not a readable scan" in out
    card = json.loads((home / "models" / "imaging.test-scans.json").read_text())
    assert card["builder"] == "imaging.custom" and card["labels"] == ["lesion", "normal"]
    assert card["positive_label"] == "lesion" and card["preprocessing"]["input_size"] == 28
    counts = card["data"]["counts"]
    assert sum(counts["groups"].values()) == 31 and set(card["data"]["skipped"]) == {"lesion/broken.png", "notes.txt"}
    assert sum(card["data"]["class_counts"]["test"].values()) == card["data"]["splits"]["test"]
    assert card["population"] is None  # plain images state no modality
    assert "PatientID" not in json.dumps(card) and "patient-7" not in json.dumps(card)  # group keys stay in memory

    assert main(["list", "--json"]) == 0
    listed = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert listed["imaging.test-scans"]["installed"] and listed["imaging.test-scans"]["version"] == 1

    assert main(["predict", "imaging.test-scans", str(scans_folder / "lesion" / "lesion-3.png"), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert set(record["probabilities"] or {}) in ({"lesion", "normal"}, set())

    assert main(["evaluate", "imaging.test-scans", "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["roc_auc"] == pytest.approx(card["metrics"]["test"]["roc_auc"], abs=1e-6)

    # A second version needs a reason, like any scored model; a built-in name cannot be taken.
    assert main([*TRAIN, "--images", str(scans_folder)]) == 2
    assert "give a one-line --reason" in capsys.readouterr().err
    assert main(["train", "imaging.custom", "--images", str(scans_folder), "--name", "imaging.breast"]) == 2
    assert "is a built-in model" in capsys.readouterr().err


def test_a_folder_with_one_class_or_no_folder_is_a_one_line_error(tmp_path, own_home, capsys):
    (tmp_path / "only" / "normal").mkdir(parents=True)
    (tmp_path / "only" / "normal" / "a.png").write_bytes(_png(np.zeros((30, 30), np.uint8)))
    (tmp_path / "only" / "lesion").mkdir()
    (tmp_path / "only" / "lesion" / "small.png").write_bytes(_png(np.zeros((20, 20), np.uint8)))
    assert (
        main(["train", "imaging.custom", "--images", str(tmp_path / "only"), "--name", "imaging.x", "--size", "28"])
        == 2
    )
    err = capsys.readouterr().err
    assert "holds 1 class folder(s) with readable scans (normal); give 2 to 20" in err and err.count("\n") == 1
    assert (
        "1 file(s) skipped, the first lesion/small.png: the image is 20 x 20 pixels; the model needs at least 28" in err
    )
    assert main(["train", "imaging.custom", "--images", str(tmp_path / "missing"), "--name", "imaging.x"]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["train", "imaging.custom", "--images", str(tmp_path / "only"), "--name", "Imaging X"]) == 2
    assert "use imaging. then lower-case letters" in capsys.readouterr().err


def test_the_trained_model_is_offered_on_the_imaging_and_models_pages(trained, scans_folder, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import REPO_ROOT

    monkeypatch.setenv("MEDMODELS_HOME", str(trained[0]))
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    app.run()
    app.switch_page("pages/imaging.py").run()
    model = app.selectbox[0]
    option = next(o for o in model.options if o.startswith("imaging.test-scans"))
    model.set_value("imaging.test-scans").run()
    scan = (scans_folder / "lesion" / "lesion-2.png").read_bytes()
    app.file_uploader[0].set_value([("lesion-2.png", scan, "image/png")]).run()
    assert not app.exception and "your scans: lesion vs normal" in option
    assert app.metric[0].label == "Diagnosis" and app.metric[0].value in ("lesion", "normal", "Withheld")

    app.switch_page("pages/models.py").run()
    assert not app.exception
    assert any(h.value == "imaging.test-scans" for h in app.subheader)


def test_a_model_of_dicom_files_states_their_modality_as_its_population(scans_folder):
    from medmodels.imaging.custom import _population

    mixed = read_labelled_scans(folder_files(scans_folder), 28)
    assert _population(mixed) is None  # the PNGs state no modality, so nothing can be claimed
    only_dicom = read_labelled_scans([s for s in folder_files(scans_folder) if s.path == "normal/IM000001"], 28)
    population = _population(only_dicom)
    assert population.modalities == ["MR"] and population.body_parts == ["HEAD"]
    assert population.description == "your MR scans of the head"


def _zipped(folder: Path, top: str) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{top}/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()


def test_training_in_the_browser_shows_the_counts_then_trains_in_the_background_and_installs_the_model(
    scans_folder, tmp_path, monkeypatch
):
    from streamlit.testing.v1 import AppTest

    from pages._shared import background_trainer
    from tests.conftest import REPO_ROOT

    monkeypatch.setenv("MEDMODELS_HOME", str(tmp_path / "home"))
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    app.run()
    app.switch_page("pages/train.py").run()
    assert not app.exception and any("Zip a folder" in i.value for i in app.info)

    app.file_uploader[0].set_value([("Chest scans.zip", _zipped(scans_folder, "scans"), "application/zip")]).run()
    app.button_group[0].set_value(28).run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    counts = next(d.value for d in app.dataframe if "split" in d.value.columns).set_index("split")
    assert list(counts.index) == ["train", "validation", "test"]
    assert (
        counts["patients, series or files"].sum() == 31
        and (counts[["images: lesion", "images: normal"]] > 0).all().all()
    )
    skipped = next(d.value for d in app.dataframe if "why" in d.value.columns)
    assert set(skipped["file"]) == {"lesion/broken.png", "notes.txt"}
    assert app.text_input[0].value == "imaging.chest-scans"
    assert next(s for s in app.selectbox if s.label == "Positive class").value == "lesion"

    app.number_input[0].set_value(2).run()
    next(b for b in app.button if b.label == "Train").click().run()
    trainer = background_trainer()
    trainer.wait(180)
    assert trainer.error is None and trainer.card is not None and trainer.card.name == "imaging.chest-scans"
    assert len(trainer.history) == 3 * 2  # every epoch of each network, for the live curves
    app.run()
    assert any("**imaging.chest-scans** version 1 is trained and installed" in s.value for s in app.success)
    assert (tmp_path / "home" / "models" / "imaging.chest-scans.json").is_file()
    assert trainer.card.data.details["origin"] == "the upload Chest scans.zip"

    app.switch_page("pages/imaging.py").run()
    assert any(o.startswith("imaging.chest-scans") for o in app.selectbox[0].options)


def test_a_training_can_be_cancelled_and_saves_nothing(scans_folder, tmp_path):
    from medmodels.cards import plan_version
    from medmodels.imaging.background import TRAINING_NICENESS, BackgroundTrainer, TrainingRequest

    scans = read_labelled_scans(folder_files(scans_folder), 28)
    request = TrainingRequest(
        "imaging.cancelled",
        scans,
        split_rows(scans, None),
        "lesion",
        50,
        "a test",
        plan_version("imaging.cancelled", None, None),
        tmp_path,
    )
    trainer = BackgroundTrainer()
    own_priority = os.getpriority(os.PRIO_PROCESS, 0)
    assert trainer.start(request, owner="me")
    assert not trainer.start(request, owner="someone else")  # one training at a time
    for _ in range(600):  # the first training step reports progress
        if trainer.progress is not None:
            break
        time.sleep(0.05)
    # Other sessions' predictions come first: the training thread runs niced, the server's threads as before.
    assert os.getpriority(os.PRIO_PROCESS, trainer._thread.native_id) == max(own_priority, TRAINING_NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, 0) == own_priority
    trainer.cancel()
    trainer.wait(60)
    assert trainer.cancelled and trainer.card is None and trainer.error is None
    assert list(tmp_path.iterdir()) == []


def _ring(rng: np.random.Generator, size: int = 40) -> np.ndarray:
    """A third kind of image: a bright ring."""
    yy, xx = np.mgrid[:size, :size]
    radius = np.hypot(yy - size / 2, xx - size / 2)
    image = rng.normal(90, 20, (size, size)) + 110 * (np.abs(radius - 12) < 2)
    return np.clip(image, 0, 255).astype(np.uint8)


def test_three_class_folders_give_a_model_that_calls_the_most_probable_class(tmp_path, monkeypatch, capsys):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import REPO_ROOT

    rng = np.random.default_rng(1)
    makers = {"normal": lambda: _scan(rng, False), "lesion": lambda: _scan(rng, True), "ring": lambda: _ring(rng)}
    for label, make in makers.items():
        (tmp_path / "scans" / label).mkdir(parents=True)
        for i in range(10):
            (tmp_path / "scans" / label / f"{i}.png").write_bytes(_png(make()))
    monkeypatch.setenv("MEDMODELS_HOME", str(tmp_path / "home"))
    command = ["train", "imaging.custom", "--images", str(tmp_path / "scans"), "--name", "imaging.three"]
    assert main([*command, "--size", "28", "--positive", "ring"]) == 2
    assert "--positive is for two classes" in capsys.readouterr().err
    assert main([*command, "--size", "28", "--epochs", "3"]) == 0
    capsys.readouterr()
    card = json.loads((tmp_path / "home" / "models" / "imaging.three.json").read_text())
    assert (
        card["labels"] == ["lesion", "normal", "ring"] and card["positive_label"] is None and card["threshold"] is None
    )
    assert card["metrics"]["test"]["kind"] == "multiclass_classification"
    assert card["main_metric"] == "accuracy_and_macro_f1"

    assert main(["predict", "imaging.three", str(tmp_path / "scans" / "ring" / "0.png"), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["threshold"] is None
    if not record["ood"]:
        assert set(record["probabilities"]) == {"lesion", "normal", "ring"}
        assert record["label"] == max(record["probabilities"], key=record["probabilities"].get)
    assert main(["evaluate", "imaging.three", "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["accuracy"] == pytest.approx(card["metrics"]["test"]["accuracy"])

    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    app.run()
    app.switch_page("pages/imaging.py").run()
    app.selectbox[0].set_value("imaging.three").run()
    scans = [(f"{label}.png", (tmp_path / "scans" / label / "1.png").read_bytes(), "image/png") for label in makers]
    app.file_uploader[0].set_value(scans[:1]).run()
    assert not app.exception
    assert not any(s.label.startswith("Decision threshold") for s in app.slider)  # no threshold with three classes
    assert app.metric[0].value in ("lesion", "normal", "ring", "Withheld")
    if app.metric[0].value != "Withheld":
        assert any("The most probable class is called." in c.value for c in app.caption)
    app.file_uploader[0].set_value(scans).run()
    table = app.dataframe[0].value
    assert "P(called class)" in table.columns and set(table["label"]) <= {"lesion", "normal", "ring", "withheld"}


def test_a_shipped_model_is_fine_tuned_on_your_scans_when_its_input_size_and_classes_match(
    scans_folder, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("MEDMODELS_HOME", str(tmp_path / "home"))
    command = ["train", "imaging.custom", "--images", str(scans_folder), "--name", "imaging.tuned"]
    assert main([*command, "--start-from", "imaging.pneumonia", "--size", "64"]) == 2
    assert "fine-tuning it needs the input size 28, not 64" in capsys.readouterr().err
    assert main([*command, "--start-from", "literature.cdr"]) == 2
    assert "literature.cdr is not an imaging model" in capsys.readouterr().err

    assert main([*command, "--start-from", "imaging.pneumonia", "--epochs", "1"]) == 0  # its size, 28, by default
    capsys.readouterr()
    card = json.loads((tmp_path / "home" / "models" / "imaging.tuned.json").read_text())
    shipped = json.loads(Path(__file__).parents[2].joinpath("medmodels/weights/imaging.pneumonia.json").read_text())
    assert card["config"] == shipped["config"] and card["preprocessing"]["mean"] == shipped["preprocessing"]["mean"]
    assert card["training"]["details"]["fine_tuned_from"].startswith("imaging.pneumonia version 2")
    assert card["training"]["settings"]["learning_rate"] == 5e-4
    assert "--start-from imaging.pneumonia" in card["reproduce"]


def test_a_folder_of_dicom_series_never_splits_a_series(tmp_path):
    """Each class folder holds loose DICOM slices (no sub-folders): only their tags say which series and
    patient they belong to."""
    import pydicom
    from pydicom.uid import generate_uid

    template = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    series_of: dict[str, str] = {}
    for label in ("tumour", "normal"):
        (tmp_path / label).mkdir()
        for patient in range(5):
            uid = generate_uid()
            for slice_number in range(4):
                template.PatientID = f"{label}-{patient}"
                template.SeriesInstanceUID = uid
                template.SOPInstanceUID = generate_uid()
                template.InstanceNumber = slice_number + 1
                path = f"{label}/IM{patient:02d}{slice_number:02d}"
                template.save_as(tmp_path / path)
                series_of[path] = uid
    scans = read_labelled_scans(folder_files(tmp_path), 28)
    assert len(scans.files) == 40 and scans.group_counts() == 10
    for seed in range(5):
        rows = split_rows(scans, None, seed=seed)
        split_of_series: dict[str, set[str]] = {}
        for split, indices in rows.items():
            for i in indices:
                split_of_series.setdefault(series_of[scans.files[i]], set()).add(split)
        assert all(len(splits) == 1 for splits in split_of_series.values())
        assert {len(rows[split]) % 4 for split in rows} == {0}  # whole series of four slices


def _zip_members(members: dict[str, bytes]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _pngs(label: str, count: int) -> dict[str, bytes]:
    rng = np.random.default_rng(3)
    return {f"{label}/{i}.png": _png(_scan(rng, label == "lesion")) for i in range(count)}


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        (b"%PDF-1.7 not a zip", "cannot be used: not a readable zip archive"),
        (
            _zip_members({"normal/bomb.png": b"\0" * (8 * 2**20), **_pngs("lesion", 3)}),
            "the first normal/bomb.png: compressed more than 200 to 1 (a zip bomb?)",
        ),
        (_zip_members({"../../normal/a.png": b"x", **_pngs("lesion", 3)}), "the first ../../normal/a.png: unsafe path"),
        (
            _zip_members({**_pngs("normal", 3), **_pngs("lesion", 1)}),
            "class 'lesion' has 1 patient(s), series or file(s); at least 3 are needed",
        ),
        (
            _zip_members({**_pngs("normal", 3), "lesion/": b""}),
            "holds 1 class folder(s) with readable scans (normal); give 2 to 20",
        ),
        (
            _zip_members({**_pngs("normal", 3), "lesion/report.txt": b"not an image"}),
            "the first lesion/report.txt: not a readable scan or image",
        ),
    ],
    ids=["not a zip", "zip bomb", "path traversal", "a class of one image", "an empty class", "a non-image"],
)
def test_a_bad_archive_gets_one_clear_message_on_the_training_page(archive, message, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import REPO_ROOT

    monkeypatch.setenv("MEDMODELS_HOME", str(tmp_path / "home"))
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    app.run()
    app.switch_page("pages/train.py").run()
    app.file_uploader[0].set_value([("scans.zip", archive, "application/zip")]).run()
    app.button_group[0].set_value(28).run()
    assert not app.exception
    errors = [e.value for e in app.error]
    assert len(errors) == 1 and message in errors[0], errors
    assert not any(b.label == "Train" for b in app.button)
