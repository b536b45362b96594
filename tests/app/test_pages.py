"""The dashboard as a user meets it, through Streamlit's AppTest."""

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.io
import pytest
from streamlit.testing.v1 import AppTest

from medmodels.checkpoints import installed_models
from medmodels.plots import METRIC_NAMES
from medmodels.sequences.models import LOCALISATION_LABELS
from medmodels.sequences.screening import WITHHELD
from pages._shared import Keys
from tests.conftest import REPO_ROOT, radiograph, radiograph_without_age

PAGES = [
    "pages/home.py",
    "pages/imaging.py",
    "pages/train.py",
    "pages/sequences.py",
    "pages/literature.py",
    "pages/models.py",
]


def _open(page: str) -> AppTest:
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    app.run()
    if page != "pages/home.py":
        app.switch_page(page)
        app.run()
    return app


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_without_an_exception(page):
    app = _open(page)
    assert not app.exception
    assert app.title, f"{page} shows no title"


def test_home_states_that_this_is_not_a_medical_device_and_lists_models():
    app = _open("pages/home.py")
    assert any("not a medical device" in w.value for w in app.warning)
    models = app.dataframe[0].value
    row = models[models["model"] == "imaging.pneumonia"].iloc[0]
    assert row["installed"] == "yes" and row["test ROC AUC"] >= 0.95


def _charts(app: AppTest) -> list:
    return [plotly.io.from_json(chart.proto.spec) for chart in app.get("plotly_chart")]


def _staged(card) -> bool:
    return any("stage" in row for row in card.history)


def test_models_page_draws_every_members_training_curves_from_each_card():
    cards = [card for card in installed_models() if not _staged(card)]  # one tab per card, in this order
    app = _open("pages/models.py")
    all_curves = [c for c in _charts(app) if any(t.name == "validation loss" for t in c.data)]
    assert len(all_curves) == len(cards)
    for card, curves in zip(cards, all_curves):
        metric = METRIC_NAMES[card.main_metric]
        for key, name in (
            ("train_loss", "train loss"),
            ("val_loss", "validation loss"),
            ("val_metric", f"validation {metric}"),
        ):
            traces = [t for t in curves.data if t.name == name]
            assert len(traces) == card.training.members
            for member, trace in enumerate(traces, start=1):
                rows = [row for row in card.history if row.get("member", 1) == member]
                assert list(trace.x) == [row["epoch"] for row in rows]
                assert list(trace.y) == [row[key] for row in rows]
        stars = [t for t in curves.data if t.name == "selected epoch"]
        assert [int(t.x[0]) for t in stars] == card.training.best_epochs


def test_models_page_shows_each_ood_gate_figures_and_roc_curve():
    cards = installed_models()
    app = _open("pages/models.py")
    tables = [d.value for d in app.dataframe if "flagged as out of distribution" in d.value.columns]
    rocs = [c for c in _charts(app) if any((t.name or "").startswith("test ROC") for t in c.data)]
    gated = [card for card in cards if card.ood]
    binary = [card for card in cards if card.metrics.test.roc_curve() is not None]
    assert len(tables) == len(gated) >= 2 and len(rocs) == len(binary)
    for card, table in zip(gated, tables):
        assert list(table[card.data.unit]) == list(card.ood.flagged)
        assert list(table["flagged as out of distribution"]) == [row.flagged for row in card.ood.flagged.values()]
    for card, roc in zip(binary, rocs):
        assert any(f"AUC {card.metrics.test.roc_auc:.3f}" in (t.name or "") for t in roc.data)
        assert any((t.name or "").startswith("validation-chosen threshold") for t in roc.data)


def test_models_page_states_each_imaging_models_training_population():
    app = _open("pages/models.py")
    stated = [m.value for m in app.markdown if m.value.startswith("**Training population.**")]
    assert len(stated) == sum(1 for card in installed_models() if card.population is not None) >= 2
    pneumonia = next(text for text in stated if "children aged 1 to 5" in text)
    assert "modality CR or DX" in pneumonia and "age 1 to 5 years" in pneumonia


def test_models_page_labels_cross_validated_figures_and_names_the_recipes_compared():
    cross_validated = [c for c in installed_models() if c.training and "cross_validation" in c.training.details]
    assert [card.name for card in cross_validated] == ["genome.splice", "imaging.breast", "sequence.localisation"]
    app = _open("pages/models.py")
    tables = [d.value for d in app.dataframe if "test" in d.value.columns and len(d.value.columns) == 2]
    assert sum("validation (out-of-fold)" in table.columns for table in tables) == 3
    plan = cross_validated[1].training.details["cross_validation"]  # imaging.breast compared three recipes
    caption = next(c.value for c in app.caption if "chosen by 5-fold cross-validation" in c.value)
    for candidate in plan["candidates"]:
        assert f"'{candidate['label']}' {candidate['mean_fold_roc_auc']:.3f}" in caption
    assert f"'{plan['chosen']}' " in caption and "(chosen)" in caption


def test_models_page_gives_a_multiclass_model_per_class_figures_and_its_baseline():
    cards = [card for card in installed_models() if card.threshold is None]
    if not cards:
        pytest.skip("no multi-class model installed")
    app = _open("pages/models.py")
    per_class = [d.value for d in app.dataframe if "recall" in d.value.columns]
    assert len(per_class) == len(cards)
    for card, table in zip(cards, per_class):
        test = card.metrics.test
        assert list(table["class"]) == card.labels
        assert list(table["recall"]) == [test.per_class[label].recall for label in card.labels]
        assert any(
            f"Macro-F1 (classes weighted equally) {card.metrics.baseline.figures['macro_f1']:.4f}" in c.value
            for c in app.caption
        )
    # Its test split was scored twice (see its limitations): the page must not claim once.
    assert not any("scored once" in c.value for c in app.caption)
    assert any(list(d.value.index) == ["sequences"] and "test" in d.value.columns for d in app.dataframe)


def test_models_page_gives_the_literature_model_entity_and_relation_figures_and_its_stages():
    card = next(card for card in installed_models() if card.name == "literature.cdr")
    app = _open("pages/models.py")
    table = next(d.value for d in app.dataframe if "CID relations: F1 (document level, end to end)" in d.value.index)
    for key, row in (
        ("chemical_f1", "Chemical mentions: F1 (exact span)"),
        ("disease_f1", "Disease mentions: F1 (exact span)"),
        ("cid_f1", "CID relations: F1 (document level, end to end)"),
    ):
        assert table.loc[row, "test"] == pytest.approx(getattr(card.metrics.test, key))
    curves = next(c for c in _charts(app) if any(t.name == "dev CID F1" for t in c.data))
    chemical = next(t for t in curves.data if t.name == "dev chemical F1")
    assert list(chemical.y) == [row["val_chemical_f1"] for row in card.history if "val_chemical_f1" in row]
    stars = [int(t.x[0]) for t in curves.data if t.name == "selected epoch"]
    assert stars == [card.training.best_epochs[0], card.training.details["relation_best_epoch"]]
    assert any("PubMedBERT" in c.value for c in app.caption)
    assert any(list(d.value.index) == ["abstracts", "mentions", "relations"] for d in app.dataframe)
    # Every version's look at the test split; version 1 did not measure the MeSH figures version 2 added.
    tab = next(tab for tab in app.tabs if tab.label == "literature.cdr")
    history = next(t.value for t in tab.table if "why this version" in t.value.columns)
    assert list(history["version"]) == [1, 2, 3] and history.columns[-1] == "why this version"
    mesh = history[card.metrics.test.label("mesh_induces_precision")]
    assert pd.isna(mesh.iloc[0]) and mesh.iloc[-1] == pytest.approx(card.metrics.test.mesh_induces_precision)


def _imaging(model: str = "imaging.pneumonia") -> AppTest:
    app = _open("pages/imaging.py")
    return app.selectbox[0].set_value(model).run()


def test_imaging_page_offers_every_imaging_model_and_asks_for_a_scan_first():
    app = _open("pages/imaging.py")
    assert set(app.selectbox[0].options) >= {
        f"{card.name} — {card.task}" for card in installed_models() if card.name.startswith("imaging.")
    }
    assert any("Choose one file" in info.value for info in app.info)
    assert not app.metric


def _upload(app: AppTest, *files: tuple[str, bytes]) -> AppTest:
    app.file_uploader[0].set_value([(name, data, "application/octet-stream") for name, data in files])
    return app.run()


def _radiograph() -> bytes:
    """A de-identified copy of pydicom's chest film: its tags no longer state the patient's age."""
    return radiograph_without_age()


def _png(image) -> bytes:
    import io as _io

    from PIL import Image

    buffer = _io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def chest_xray_png(pneumonia_npz) -> bytes:
    from medmodels.imaging.datasets import load_medmnist

    return _png(load_medmnist(pneumonia_npz, "test").images[0])


def test_uploading_a_radiograph_shows_diagnosis_overlays_and_masked_tags():
    app = _upload(_imaging(), ("RG1_anonymous.dcm", _radiograph()))
    assert not app.exception
    diagnosis = app.metric[0]
    assert diagnosis.label == "Diagnosis" and diagnosis.value in ("normal", "pneumonia")
    assert any(
        "tags agree with the training population" in c.value and "modality, body part, view checked" in c.value
        for c in app.caption
    )
    charts = _charts(app)
    bars = next(c for c in charts if c.data and c.data[0].orientation == "h")
    assert sum(bars.data[0].x) == pytest.approx(1.0)
    assert sum(1 for c in charts if "Faithfulness" in (c.layout.title.text or "")) == 2
    tags = app.dataframe[-1].value
    name_row = tags[tags["tag"] == "(0010,0010)"].iloc[0]
    assert name_row["identifying"] and name_row["value"] == "●●● hidden"
    reveal = next(t for t in app.toggle if t.label == "Reveal patient-identifying fields")
    reveal.set_value(True).run()
    assert app.dataframe[-1].value.set_index("tag").loc["(0010,0010)", "value"] != "●●● hidden"


def test_a_chest_x_ray_gets_a_diagnosis_that_follows_the_threshold_slider(chest_xray_png):
    app = _upload(_imaging(), ("xray.png", chest_xray_png))
    assert not app.exception
    assert app.metric[0].value in ("normal", "pneumonia")
    assert any("Familiar input" in c.value for c in app.caption)
    slider = next(s for s in app.slider if s.label.startswith("Decision threshold"))
    slider.set_value(0.0).run()
    assert app.metric[0].value == "pneumonia"  # every probability clears a zero threshold
    panel = {m.label: m.value for m in app.metric[1:]}
    assert panel["Sensitivity"] == "100.0%" and panel["Specificity"] == "0.0%"
    prevalence = next(n for n in app.number_input if n.label.startswith("Prevalence"))
    slider.set_value(0.5).run()
    ppv_at_test_prevalence = next(m.value for m in app.metric if m.label == "PPV")
    prevalence.set_value(5.0).run()
    assert float(next(m.value for m in app.metric if m.label == "PPV").rstrip("%")) < float(
        ppv_at_test_prevalence.rstrip("%")
    )
    labels = [b.proto.label for b in app.get("download_button")]
    assert "Download overlay (PNG)" in labels and "Download summary (CSV)" in labels


def test_a_chest_x_ray_shown_to_the_breast_model_is_withheld_and_the_pneumonia_model_suggested(chest_xray_png):
    app = _upload(_imaging("imaging.breast"), ("xray.png", chest_xray_png))
    assert not app.exception
    assert app.metric[0].value == "Withheld"
    assert any("Out of distribution" in e.value and "imaging.pneumonia" in e.value for e in app.error)


def test_a_ct_slice_is_withheld_and_nothing_on_the_page_reads_as_a_diagnosis():
    from pydicom.data import get_testdata_file

    app = _upload(_imaging(), ("CT_small.dcm", Path(get_testdata_file("CT_small.dcm")).read_bytes()))
    assert not app.exception
    assert app.metric[0].value == "Withheld"
    assert any("Out of distribution" in e.value for e in app.error)
    # No class probability bars, no class-named maps or faithfulness charts, no class selector.
    assert not any(c.data and c.data[0].orientation == "h" for c in _charts(app))
    assert not any("Faithfulness" in (c.layout.title.text or "") for c in _charts(app))
    assert not any(s.label == "Explain the class" for s in app.selectbox)
    assert not any("pneumonia" in text for text in [e.value for e in app.error] + [m.value for m in app.markdown])
    assert any("No attention maps" in c.value for c in app.caption)
    assert [link.proto.page for link in app.get("page_link")] == ["train"]  # a way forward: train a model of your own
    labels = [b.proto.label for b in app.get("download_button")]  # the report says "withheld", with no map
    assert labels == ["Download scan and result (PNG)", "Download summary (CSV)"]


def test_an_adults_chest_film_is_withheld_by_its_own_tags_and_the_age_is_not_shown():
    app = _upload(_imaging(), ("RG1_UNCR.dcm", radiograph()))  # born 1940, studied 2004; the model knows ages 1-5
    assert not app.exception
    assert app.metric[0].value == "Withheld"
    (message,) = [e.value for e in app.error]
    assert "Outside the training population" in message and "age is outside the 1 to 5 years" in message
    assert "Out of distribution" not in message  # its pixels pass the gate: the tags alone withhold it
    assert "64" not in message and "1940" not in message
    assert not any(c.data and c.data[0].orientation == "h" for c in _charts(app))
    assert not any(s.label == "Explain the class" for s in app.selectbox)
    tags = app.dataframe[-1].value.set_index("tag")
    assert tags.loc["(0010,0030)", "value"] == "●●● hidden"  # the birth date stays hidden


def _samples(model: str) -> AppTest:
    app = _imaging(model)
    return app.button_group[0].set_value("Built-in sample").run()


@pytest.mark.parametrize(
    ("model", "dataset", "classes"),
    [
        ("imaging.pneumonia", "PneumoniaMNIST", ("normal", "pneumonia")),
        ("imaging.breast", "BreastMNIST", ("malignant", "normal or benign")),
    ],
)
def test_each_model_offers_its_own_test_images_first_and_diagnoses_them(data_dir, model, dataset, classes):
    app = _samples(model)
    assert not app.exception
    sample = next(s for s in app.selectbox if s.label == "Sample")
    own = [title for title in sample.options if title.startswith(dataset)]
    assert sample.options[: len(own)] == own and len(own) == 4  # two of each class, before anything else
    assert {title.rsplit("'", 2)[1] for title in own} == set(classes)
    assert app.metric[0].value in classes  # the default sample is the model's own: a diagnosis, not a refusal


def test_without_the_data_folder_the_samples_say_where_a_models_test_images_come_from(monkeypatch):
    from medmodels.data import DATA_ENV

    monkeypatch.delenv(DATA_ENV, raising=False)
    app = _samples("imaging.breast")
    assert not app.exception
    assert any("No test images of imaging.breast here" in c.value for c in app.caption)
    assert app.metric[0].value == "Withheld"  # pydicom's adult chest film is no breast ultrasound


def test_opacity_and_target_class_controls_rerun_without_error():
    app = _upload(_imaging(), ("RG1_anonymous.dcm", _radiograph()))
    next(s for s in app.slider if s.label == "Overlay opacity").set_value(0.9).run()
    assert not app.exception
    target = next(s for s in app.selectbox if s.label == "Explain the class")
    other = next(label for label in target.options if label != target.value)
    target.set_value(other).run()
    assert not app.exception
    assert any(f"for '{other}'" in m.value for m in app.markdown)


def test_a_dicom_file_without_an_extension_is_accepted_and_read_by_content():
    # PACS and CD exports name files IM000001; the browser refuses names outside the uploader's type list.
    app = _imaging()
    assert list(app.file_uploader[0].proto.type) == []
    app = _upload(app, ("IM000001", _radiograph()))
    assert not app.exception
    assert app.metric[0].label == "Diagnosis"


def _custom_window(app: AppTest) -> AppTest:
    return next(s for s in app.selectbox if s.label == "Window / level").set_value("Custom").run()


def test_a_custom_window_on_a_flat_frame_explains_itself_instead_of_failing():
    import io as _io

    import pydicom
    from pydicom.data import get_testdata_file

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.PixelData = np.full((dataset.Rows, dataset.Columns), -924, dtype="<i2").tobytes()
    buffer = _io.BytesIO()
    dataset.save_as(buffer)
    app = _custom_window(_upload(_imaging(), ("flat.dcm", buffer.getvalue())))
    assert not app.exception
    assert any("single value" in info.value for info in app.info)


def test_a_custom_window_on_float_data_with_nan_spans_its_finite_range():
    import nibabel as nib

    volume = np.random.default_rng(0).random((40, 40, 40)).astype(np.float32)  # 0..1, like a probability map
    volume[:, 5, :] = np.nan
    app = _upload(_imaging(), ("map.nii", nib.Nifti1Image(volume, np.eye(4)).to_bytes()))
    app = _custom_window(app)
    assert not app.exception
    level = next(s for s in app.slider if s.label == "Level (centre)")
    width = next(s for s in app.slider if s.label == "Width")
    assert 0 <= level.min < 0.01 and 0.99 < level.max <= 1
    assert width.min < 0.01  # a window narrower than the data's unit range is possible


def _image_bytes(image) -> bytes:
    import io as _io

    buffer = _io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _no_pixel_data() -> bytes:
    from pydicom.data import get_testdata_file

    return open(get_testdata_file("reportsi.dcm"), "rb").read()


@pytest.mark.parametrize(
    "name, make, message",
    [
        ("empty.png", lambda: b"", "empty"),
        ("notes.dcm", lambda: b"patient notes, definitely not DICOM", "not a DICOM file"),
        ("truncated.png", lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "could not be read"),
        ("report.dcm", _no_pixel_data, "no pixel data"),
        (
            "bomb.png",
            lambda: _image_bytes(__import__("PIL.Image").Image.new("1", (30000, 30000))),
            "decompression bomb",
        ),
        ("tiny.png", lambda: _image_bytes(__import__("PIL.Image").Image.new("L", (1, 1), 90)), "at least 28 x 28"),
    ],
)
def test_a_bad_upload_gets_a_clear_message_and_no_exception(name, make, message):
    app = _upload(_imaging(), (name, make()))
    assert not app.exception
    assert any(name in e.value and message in e.value for e in app.error)
    assert not app.metric


@pytest.mark.parametrize("mode, fill", [("RGBA", (90, 90, 90, 128)), ("I;16", 40000)])
def test_alpha_channels_and_sixteen_bit_images_just_work(mode, fill):
    from PIL import Image

    app = _upload(_imaging(), ("scan.png", _image_bytes(Image.new(mode, (64, 64), fill))))
    assert not app.exception and not [e for e in app.error if "could not" in e.value]
    assert app.metric[0].label == "Diagnosis"


def test_several_uploads_give_a_table_with_errors_in_their_rows():
    import io as _io

    from PIL import Image

    buffer = _io.BytesIO()
    Image.fromarray(np.full((40, 40), 128, dtype=np.uint8)).save(buffer, format="PNG")
    app = _upload(
        _imaging(),
        ("a.png", buffer.getvalue()),
        ("broken.dcm", b"nope"),
        ("b.dcm", _radiograph()),
        ("adult.dcm", radiograph()),
    )
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["file"]) == ["a.png", "broken.dcm", "b.dcm", "adult.dcm"]
    assert table.loc[1, "error"] and not table.loc[0, "error"]
    # A flat grey square is withheld: no label and no probability bar in its row.
    assert table.loc[0, "out of distribution"] == True and table.loc[0, "label"] == "withheld"
    assert "does not look like" in table.loc[0, "why withheld"]
    assert pd.isna(table.loc[0, "P(pneumonia)"])
    assert table.loc[2, "label"] in ("normal", "pneumonia") and table.loc[2, "why withheld"] == ""
    # The adult's film looks familiar, but its own tags put it outside the training population.
    assert table.loc[3, "label"] == "withheld" and pd.isna(table.loc[3, "P(pneumonia)"])
    assert "outside the training population" in table.loc[3, "why withheld"]


def _sequences() -> AppTest:
    return _open("pages/sequences.py")


def test_pasting_fasta_gives_a_ranked_table_attention_tracks_and_names_bad_records():
    app = _sequences()
    assert any("Paste a sequence" in i.value for i in app.info)
    app.text_area[0].set_value(
        ">magainin2\nGIGKFLHSAKKFGKAFVGEIMNS\n>broken\nGIG#KFL\n>acidic\nDDEEDDEEGSDEEDSDE"
    ).run()
    assert not app.exception
    assert any("broken, position 4: '#' is not an amino-acid letter" in e.value for e in app.error)
    table = app.dataframe[0].value
    assert list(table["id"]) == ["magainin2", "acidic"]  # ranked by P(antimicrobial), the broken record left out
    assert table["P(antimicrobial)"].is_monotonic_decreasing
    assert table.loc[table["id"] == "magainin2", "amp call"].item() == "antimicrobial"
    tracks, heatmap = [plotly.io.from_json(c.proto.spec) for c in app.get("plotly_chart")]
    titles = [a.text for a in tracks.layout.annotations]
    assert titles[:2] == ["sequence.amp: attention", "sequence.amp: gradient x input (toward 'antimicrobial')"]
    assert any(t.startswith("hydrophobicity") for t in titles) and any(t.startswith("charge at pH 7") for t in titles)
    assert sum(tracks.data[0].y) == pytest.approx(1.0)  # attention over the 23 residues
    bottom = tracks.layout[f"xaxis{len(titles)}"]
    assert list(bottom.ticktext) == list("GIGKFLHSAKKFGKAFVGEIMNS")
    z = heatmap.data[0].z
    assert len(z) == 20 and len(z[0]) == 23 and z["ACDEFGHIKLMNPQRSTVWY".index("G")][0] == 0.0
    assert {m.label for m in app.metric} >= {"Net charge (pH 7)", "Isoelectric point", "GRAVY", "Hydrophobic moment"}
    # The localisation model calls one of its 13 locations, and its saliency explains that call.
    location = table.loc[table["id"] == "magainin2", "localisation call"].item()
    assert location in LOCALISATION_LABELS
    assert f"sequence.localisation: gradient x input (toward '{location}')" in titles
    assert table["localisation length outside training range"].all()  # peptides are shorter than any training protein


def test_a_one_residue_sequence_is_scored_and_explained():
    app = _sequences()
    app.text_area[0].set_value("K").run()
    assert not app.exception
    assert list(app.dataframe[0].value["sequence"]) == ["K"]


def test_a_single_raw_sequence_and_the_threshold_filter():
    app = _sequences()
    app.text_area[0].set_value("kwklfkki gavlkvltt g").run()
    table = app.dataframe[0].value
    assert list(table["sequence"]) == ["KWKLFKKIGAVLKVLTTG"] and list(table["id"]) == ["query"]
    next(s for s in app.slider if s.label.startswith("Show only")).set_value(1.0).run()
    assert app.dataframe[0].value.empty or (app.dataframe[0].value["P(antimicrobial)"] >= 1.0).all()


@pytest.mark.parametrize(
    "text, message",
    [
        ("GIGKXFLHS", "position 5: 'X' is ambiguous"),
        ("<script>alert(1)</script>", "position 1: '<' is not an amino-acid letter"),
        ("KKK\n>second\nKKK", "text before the first '>' header"),
    ],
)
def test_invalid_sequences_get_a_message_naming_the_problem(text, message):
    app = _sequences()
    app.text_area[0].set_value(text).run()
    assert not app.exception
    assert any(message in e.value for e in app.error)
    assert not app.dataframe


def test_past_the_pages_cap_the_message_names_the_batch_runner():
    app = _sequences()
    app.text_area[0].set_value("".join(f">p{i}\nGIGKFLHSAK\n" for i in range(10_001))).run()
    assert not app.exception
    assert any("more than 10,000 records" in e.value and "python -m medmodels batch" in e.value for e in app.error)


DONOR = "CCAGCTGCATCCCAGAGGCCAGGCACCAAG" + "GTAAGTGGGGCAGGGCTGGGGCCGCAGGCT"  # MAG|GTRAGT at the window's centre


def test_dna_is_detected_and_screened_by_the_genome_models_with_a_logo_motifs_and_a_mutation_scan():
    app = _sequences()
    random_window = "".join(np.random.default_rng(0).choice(list("ACGT"), 200))
    app.text_area[0].set_value(f">donor\n{DONOR}\n>random\n{random_window}").run()
    assert not app.exception
    assert any("Read as **DNA or RNA** (detected)" in c.value for c in app.caption)
    table = app.dataframe[0].value
    assert list(table["id"]) == ["donor", "random"] and table.loc[0, "splice call"] == "EI"
    # Each model withholds what lies outside its domain: a 200-nt window for the splice model (60-nt windows),
    # random letters for the binding model; neither gets a score.
    assert table.loc[1, "splice call"] == WITHHELD and pd.isna(table.loc[1, "P(splice call)"])
    assert table.loc[1, "tfbs call"] == WITHHELD and pd.isna(table.loc[1, "P(Oct4)"])
    assert any("saliency toward 'EI'" in m.value for m in app.markdown)
    assert app.get("image")  # the logo (matplotlib, drawn by logomaker)
    motifs = next(d.value for d in app.dataframe if "motif" in d.value.columns)
    assert list(motifs["from"]) == [29, 31] and motifs.loc[1, "motif"].startswith("GT after the junction")
    # Ranked by default by the model whose domain holds the most of the input, so the scan is the splice model's.
    assert app.selectbox[0].value == "genome.splice"
    (heatmap,) = [plotly.io.from_json(c.proto.spec) for c in app.get("plotly_chart")]
    z = heatmap.data[0].z
    assert len(z) == 4 and len(z[0]) == 60 and z["ACGT".index("G")][30] == 0.0  # the wild type's own cell
    damaging = next(d.value for d in app.dataframe if "substitution" in d.value.columns)
    assert damaging["Δ P"].is_monotonic_increasing and (damaging["Δ P"] < 0).all()
    assert any(warning.value.startswith("genome.tfbs withholds its call") for warning in app.warning)


def test_a_broken_record_among_dna_records_is_rejected_alone_and_a_stray_peptide_is_named():
    app = _sequences()
    fasta = f">donor\n{DONOR}\n>bad\nACGT<b>12ACGT\n>again\n{DONOR.lower()}\n>magainin\nGIGKFLHSAKKFGKAFVGEIMNS"
    app.text_area[0].set_value(fasta).run()
    assert not app.exception
    (caption,) = [c.value for c in app.caption if "Read as" in c.value]
    assert "Read as **DNA or RNA** (detected); 2 record(s) look like DNA or RNA and 1 like protein" in caption
    (error,) = [e.value for e in app.error]
    assert "2 of 4 records rejected" in error and "bad, position 5: '<' is not a nucleotide letter" in error
    assert "magainin, position 2: 'I' is not a nucleotide letter" in error
    assert list(app.dataframe[0].value["id"]) == ["donor", "again"]


def test_the_reading_can_be_overridden_and_protein_rules_then_apply():
    app = _sequences()
    app.text_area[0].set_value("ATGGCGTTAGCCAATGGC").run()
    assert any("Read as **DNA or RNA** (detected)" in c.value for c in app.caption)
    app.radio(key=Keys.SEQUENCE_ALPHABET).set_value("Protein").run()
    assert not app.exception
    assert any("looks like DNA or RNA" in e.value for e in app.error)
    assert any("(chosen; detection says DNA or RNA)" in c.value for c in app.caption)


def test_the_examples_button_loads_test_split_peptides_of_each_class():
    app = _sequences()
    app.button[0].click().run()
    table = app.dataframe[0].value
    assert not app.exception
    assert len(table) == 11  # two of each class for each peptide model, one of each of the 3 commonest locations
    low, high = next(c for c in installed_models() if c.name == "sequence.localisation").preprocessing["length_range"]
    assert list(table["localisation length outside training range"]) == [not low <= n <= high for n in table["length"]]


def test_a_csv_upload_of_many_peptides_is_scored_in_batches():
    rows = "".join(f"p{i},{'KWKLFKKIGAVLKVL'[: 8 + i % 7]}\n" for i in range(120))
    app = _sequences()
    app.file_uploader[0].set_value([("batch.csv", ("id,sequence\n" + rows + "bad,GIGXK\n").encode(), "text/csv")]).run()
    assert not app.exception
    assert any("bad, position 4: 'X' is ambiguous" in e.value for e in app.error)
    table = app.dataframe[0].value
    assert len(table) == 120 and table["P(antimicrobial)"].between(0, 1).all()


def test_many_rejected_records_are_all_listed_not_just_the_first_ten():
    fasta = "".join(f">bad{i}\nGIG#K\n" for i in range(12)) + ">good\nKWKLFKKI\n"
    app = _sequences()
    app.text_area[0].set_value(fasta).run()
    assert any("12 of 13 records rejected" in e.value and "2 more, listed below" in e.value for e in app.error)
    problems = next(d.value for d in app.dataframe if "problem" in d.value.columns)
    assert list(problems["id"]) == [f"bad{i}" for i in range(12)]
