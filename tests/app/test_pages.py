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
    assert any("Choose a file" in info.value for info in app.info)
    assert not app.metric
