"""What every page shares: the workflow pages, session-state keys and their one initialiser, cached model
loading and the installed-model lists. UI glue only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from medmodels import CheckpointError, ModelCard, installed_models
from medmodels.checkpoints import card_path, folders_fingerprint
from medmodels.data import DataNotFoundError, resolve_data_dir
from medmodels.imaging.background import BackgroundTrainer
from medmodels.imaging.classifier import ImageClassifier
from medmodels.literature.pipeline import LiteratureModel
from medmodels.registry import get_model_info, list_models
from medmodels.sequences.screening import SequenceScreener


@dataclass(frozen=True)
class Workflow:
    """A page that runs its domains' models; the home page and the navigation list these."""

    page: str
    title: str
    icon: str
    domains: tuple[str, ...]  # the recipes' domains whose models the page runs
    blurb: str


WORKFLOWS = (
    Workflow(
        "pages/imaging.py",
        "Imaging",
        ":material/radiology:",
        ("imaging",),
        "Upload a scan and see a CNN's diagnosis with calibrated probabilities, the image exactly as the model saw it, "
        "and where it looked.",
    ),
    Workflow(
        "pages/sequences.py",
        "Sequence screening",
        ":material/genetics:",
        ("sequence", "genome"),
        "Paste a protein or peptide sequence, or DNA or RNA, or a FASTA file of many, and get antimicrobial, "
        "anticancer and subcellular-location scores, or splice-site and transcription-factor calls, from recurrent "
        "models, with per-letter attention and saliency, a mutation scan and a ranked table.",
    ),
    Workflow(
        "pages/literature.py",
        "Literature mining",
        ":material/article:",
        ("literature",),
        "Browse which chemicals medical abstracts say induce or treat which diseases, as a self-attention model "
        "reads them, ranked by the abstracts that say so, with the evidence sentence and the attention over its tokens.",
    ),
)


class Keys:
    """Session-state keys, in one place so no page mistypes another's."""

    APP_STARTED = "app_started"
    REQUESTED_PAGE = "requested_page"
    SEQUENCE_TEXT = "sequence_text"
    SEQUENCE_ALPHABET = "sequence_alphabet"  # how the input is read: detected, protein, or DNA / RNA
    SCREEN_KEY = "screen_key"  # what the cached screening table was computed from
    SCREEN_TABLE = "screen_table"
    ABSTRACT_TEXT = "abstract_text"
    OWN_KEY = "own_key"  # what the cached own-abstract extractions were computed from
    OWN_EXTRACTIONS = "own_extractions"
    INDEX_WAS_RUNNING = "index_was_running"
    INDEX_TICKS = "index_ticks"
    TRAIN_TOKEN = "train_token"  # this session's identity to the shared trainer: who may cancel
    TRAIN_READ = "train_read"  # (upload id, input size) -> the scans read from it, or why not
    TRAIN_WAS_RUNNING = "train_was_running"


_DEFAULTS = {
    Keys.SEQUENCE_TEXT: "",
    Keys.SCREEN_KEY: None,
    Keys.SCREEN_TABLE: None,
    Keys.ABSTRACT_TEXT: "",
    Keys.OWN_KEY: None,
    Keys.OWN_EXTRACTIONS: [],
    Keys.INDEX_WAS_RUNNING: False,
    Keys.INDEX_TICKS: 0,
    Keys.TRAIN_READ: None,
    Keys.TRAIN_WAS_RUNNING: False,
}


def init_session_state() -> None:
    """Give every key its default once per session; ``app.py`` calls this before any page runs."""
    for key, value in _DEFAULTS.items():
        st.session_state.setdefault(key, value)
    st.session_state.setdefault(Keys.TRAIN_TOKEN, uuid.uuid4().hex)


def require_entrypoint(page_file: str) -> None:
    """Send a visit that skipped ``app.py`` through it, then on to the page it asked for.

    When a deep link (e.g. ``/models``) is the first request after the server starts, Streamlit's
    legacy multipage mode runs the ``pages/`` file alone, without the navigation or the disclaimer.
    """
    if not st.session_state.get(Keys.APP_STARTED):
        st.session_state[Keys.REQUESTED_PAGE] = f"pages/{Path(page_file).name}"
        st.switch_page("app.py")


@st.cache_data(show_spinner=False)
def _installed_cards(fingerprint: tuple) -> list[ModelCard]:
    registered = set(list_models())
    return [card for card in installed_models() if card.name in registered]


def installed_cards() -> list[ModelCard]:
    """Cards of the installed, registered models; read again whenever a model folder changes. A damaged
    model (a listed file missing or altered) stops the page with the reason."""
    try:
        return _installed_cards(folders_fingerprint())
    except CheckpointError as error:
        st.error(f"An installed model is damaged, so the models cannot be listed: {error}", icon=":material/error:")
        st.stop()


def installed_in(domain: str) -> list[ModelCard]:
    return [card for card in installed_cards() if get_model_info(card.name).recipe.domain == domain]


@st.cache_resource(show_spinner="Loading model…")
def _image_classifier(name: str, card_stamp: int) -> ImageClassifier:
    # Shared by every browser session: never mutated, explainers attach hooks per request.
    return ImageClassifier.load(name)


def image_classifier(name: str) -> ImageClassifier:
    """The installed model, loaded again when its card changes (a model of yours retrained under its name)."""
    path = card_path(name)
    return _image_classifier(name, path.stat().st_mtime_ns if path is not None else 0)


@st.cache_resource
def background_trainer() -> BackgroundTrainer:
    """The server's one trainer of users' models: every session sees it, one training runs at a time."""
    return BackgroundTrainer()


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
