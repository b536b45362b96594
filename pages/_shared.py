"""Helpers every page uses: cached model loading and the installed-model lists. UI glue only."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from medmodels import ModelCard, installed_models
from medmodels.data import DataNotFoundError, resolve_data_dir
from medmodels.imaging.classifier import ImageClassifier
from medmodels.literature.pipeline import LiteratureModel
from medmodels.sequences.screening import SequenceScreener


APP_STARTED = "app_started"
REQUESTED_PAGE = "requested_page"


def require_entrypoint(page_file: str) -> None:
    """Send a visit that skipped ``app.py`` through it, then on to the page it asked for.

    When a deep link (e.g. ``/models``) is the first request after the server starts, Streamlit's
    legacy multipage mode runs the ``pages/`` file alone, without the navigation or the disclaimer.
    """
    if not st.session_state.get(APP_STARTED):
        st.session_state[REQUESTED_PAGE] = f"pages/{Path(page_file).name}"
        st.switch_page("app.py")


@st.cache_data(show_spinner=False)
def installed_cards() -> list[ModelCard]:
    return installed_models()


def installed_in(domain: str) -> list[ModelCard]:
    return [card for card in installed_cards() if card.name.split(".", 1)[0] == domain]


@st.cache_resource(show_spinner="Loading model…")
def image_classifier(name: str) -> ImageClassifier:
    # Shared by every browser session: never mutated, explainers attach hooks per request.
    return ImageClassifier.load(name)


@st.cache_resource(show_spinner="Loading model…")
def sequence_screener(name: str) -> SequenceScreener:
    return SequenceScreener.load(name)  # shared by every session, never mutated


@st.cache_resource(show_spinner="Loading model…")
def literature_model() -> LiteratureModel:
    return LiteratureModel.load()  # shared by every session; explain() leaves no gradients behind


def data_dir_or_none() -> Path | None:
    """The public data folder when ``MEDMODELS_DATA`` names one, for optional extras such as samples."""
    try:
        return resolve_data_dir()
    except DataNotFoundError:
        return None


def stop_unless_installed(domain: str, what: str) -> list[ModelCard]:
    """The domain's installed cards, or a polite notice and an early stop when there are none."""
    cards = installed_in(domain)
    if not cards:
        st.info(
            f"No {what} model is installed yet, so this page has nothing to run. "
            "Installed models are listed on the Models page.",
            icon=":material/info:",
        )
        st.stop()
    return cards
