"""The dashboard as a user meets it, through Streamlit's AppTest."""

import plotly.io
import pytest
from streamlit.testing.v1 import AppTest

from medmodels.checkpoints import WEIGHTS_DIR, read_card
from tests.conftest import REPO_ROOT

PAGES = ["pages/home.py", "pages/imaging.py", "pages/sequences.py", "pages/literature.py", "pages/models.py"]


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


@pytest.mark.parametrize("page", ["pages/sequences.py", "pages/literature.py"])
def test_pages_without_models_say_so_and_show_no_results(page):
    app = _open(page)
    assert any("No " in info.value and "installed yet" in info.value for info in app.info)
    assert not app.dataframe and not app.get("plotly_chart")


def test_models_page_draws_the_pneumonia_training_curves_from_the_card():
    card = read_card(WEIGHTS_DIR / "imaging.pneumonia.json")
    app = _open("pages/models.py")
    charts = [plotly.io.from_json(chart.proto.spec) for chart in app.get("plotly_chart")]
    curves = next(c for c in charts if any(t.name == "validation loss" for t in c.data))
    traces = {trace.name: trace for trace in curves.data}
    epochs = [row["epoch"] for row in card.history]
    assert list(traces["train loss"].x) == epochs
    assert list(traces["train loss"].y) == [row["train_loss"] for row in card.history]
    assert list(traces["validation loss"].y) == [row["val_loss"] for row in card.history]
    assert list(traces["validation ROC AUC"].y) == [row["val_metric"] for row in card.history]


def test_imaging_page_asks_for_a_scan_before_showing_anything():
    app = _open("pages/imaging.py")
    assert app.selectbox[0].value == "imaging.pneumonia"
    assert any("Choose one file" in info.value for info in app.info)
    assert not app.metric


def _upload(app: AppTest, *files: tuple[str, bytes]) -> AppTest:
    app.file_uploader[0].set_value([(name, data, "application/octet-stream") for name, data in files])
    return app.run()


def _radiograph() -> bytes:
    from pydicom.data import get_testdata_file

    return open(get_testdata_file("RG1_UNCR.dcm"), "rb").read()


def test_uploading_a_radiograph_shows_diagnosis_overlays_and_masked_tags():
    app = _upload(_open("pages/imaging.py"), ("RG1_UNCR.dcm", _radiograph()))
    assert not app.exception
    assert app.metric[0].label == "Model output" and app.metric[0].value in ("normal", "pneumonia")
    charts = [plotly.io.from_json(chart.proto.spec) for chart in app.get("plotly_chart")]
    bars = next(c for c in charts if c.data and c.data[0].orientation == "h")
    assert sum(bars.data[0].x) == pytest.approx(1.0)
    assert sum(1 for c in charts if "Faithfulness" in (c.layout.title.text or "")) == 2
    tags = app.dataframe[-1].value
    name_row = tags[tags["tag"] == "(0010,0010)"].iloc[0]
    assert name_row["identifying"] and name_row["value"] == "●●● hidden"
    reveal = next(t for t in app.toggle if t.label == "Reveal patient-identifying fields")
    reveal.set_value(True).run()
    assert app.dataframe[-1].value.set_index("tag").loc["(0010,0010)", "value"] != "●●● hidden"


def test_opacity_and_target_class_controls_rerun_without_error():
    app = _upload(_open("pages/imaging.py"), ("RG1_UNCR.dcm", _radiograph()))
    next(s for s in app.slider if s.label == "Overlay opacity").set_value(0.9).run()
    assert not app.exception
    target = next(s for s in app.selectbox if s.label == "Explain the class")
    other = next(label for label in target.options if label != target.value)
    target.set_value(other).run()
    assert not app.exception
    assert any(f"for '{other}'" in m.value for m in app.markdown)


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("empty.png", b"", "empty"),
        ("notes.dcm", b"patient notes, definitely not DICOM", "not a DICOM file"),
        ("truncated.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "could not be read"),
    ],
)
def test_a_bad_upload_gets_a_clear_message_and_no_exception(name, data, message):
    app = _upload(_open("pages/imaging.py"), (name, data))
    assert not app.exception
    assert any(name in e.value and message in e.value for e in app.error)
    assert not app.metric


def test_several_uploads_give_a_table_with_errors_in_their_rows():
    import io as _io

    import numpy as np
    from PIL import Image

    buffer = _io.BytesIO()
    Image.fromarray(np.full((40, 40), 128, dtype=np.uint8)).save(buffer, format="PNG")
    app = _upload(_open("pages/imaging.py"), ("a.png", buffer.getvalue()), ("broken.dcm", b"nope"), ("b.dcm", _radiograph()))
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["file"]) == ["a.png", "broken.dcm", "b.dcm"]
    assert table.loc[1, "error"] and not table.loc[0, "error"] and table.loc[2, "label"] in ("normal", "pneumonia")
