"""The model card as a contract: typed sections validated on load, the files a model needs verified by their
SHA-256, and a test history that records every look at each model's test split."""

import json
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from medmodels.cards import CheckpointError, plan_version, read_card
from medmodels.checkpoints import WEIGHTS_DIR, installed_models
from medmodels.errors import UsageError
from medmodels.imaging.classifier import ImageClassifier
from medmodels.literature.pipeline import LiteratureModel
from tests.conftest import REPO_ROOT


def _copy(name: str, folder) -> None:
    """A model's card and every file it lists, copied as a user would install it."""
    card = read_card(WEIGHTS_DIR / f"{name}.json")
    for entry in card.files:
        shutil.copy(WEIGHTS_DIR / entry.path, folder / entry.path)
    shutil.copy(WEIGHTS_DIR / f"{name}.json", folder / f"{name}.json")


@pytest.mark.parametrize(
    "name, side_file, load",
    [
        (
            "imaging.pneumonia",
            "imaging.pneumonia.ood.safetensors",
            lambda folder: ImageClassifier.load("imaging.pneumonia", folder),
        ),
        ("literature.cdr", "literature.cdr.lexicon.json", lambda folder: LiteratureModel.load(folder)),
    ],
)
def test_a_missing_or_altered_side_file_is_refused_naming_the_file(tmp_path, name, side_file, load):
    _copy(name, tmp_path)
    load(tmp_path)  # the copy is complete
    original = (tmp_path / side_file).read_bytes()
    (tmp_path / side_file).write_bytes(original + b" ")
    with pytest.raises(CheckpointError, match=f"{side_file} has been altered"):
        load(tmp_path)
    with pytest.raises(CheckpointError, match=f"{side_file} has been altered"):
        installed_models(tmp_path)
    (tmp_path / side_file).unlink()
    with pytest.raises(CheckpointError, match=f"not found: .*{side_file}"):
        load(tmp_path)


def test_installed_models_are_what_cards_list_and_side_files_are_not_read_as_cards(tmp_path):
    _copy("literature.cdr", tmp_path)
    _copy("imaging.breast", tmp_path)
    assert [card.name for card in installed_models(tmp_path)] == ["imaging.breast", "literature.cdr"]


def _edited_card(tmp_path, change) -> None:
    _copy("sequence.amp", tmp_path)
    path = tmp_path / "sequence.amp.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["metrics"]["test"].__setitem__("roc_auc", "high"), "metrics.test.roc_auc must be a number"),
        (lambda d: d["metrics"]["test"].pop("confusion_matrix"), "metrics.test lacks required field.*confusion_matrix"),
        (
            lambda d: d["metrics"]["validation"].__setitem__("kind", "horoscope"),
            "unknown metric section kind 'horoscope'",
        ),
        (
            lambda d: d["test_history"][0].__setitem__("version", "one"),
            r"test_history\[0\].version must be a whole number",
        ),
        (lambda d: d["data"].pop("unit"), "data lacks required field.*unit"),
        (lambda d: d["training"].__setitem__("best_epochs", 8), "training.best_epochs must be a list"),
    ],
)
def test_a_card_of_the_wrong_shape_is_refused_naming_the_field(tmp_path, change, message):
    _edited_card(tmp_path, change)
    with pytest.raises(CheckpointError, match=message):
        read_card(tmp_path / "sequence.amp.json")


@pytest.mark.parametrize(
    "name", sorted(path.stem for path in WEIGHTS_DIR.glob("*.json") if ".lexicon" not in path.name)
)
def test_every_shipped_card_records_each_look_at_its_test_split(name):
    card = read_card(WEIGHTS_DIR / f"{name}.json")
    history = card.test_history
    assert history and [s.version for s in history] == sorted(s.version for s in history)
    shipped = [s for s in history if s.shipped]
    assert shipped[-1].version == card.version
    assert shipped[-1].figures == card.metrics.test.figures()  # the card's test figures are its last scoring
    assert all(s.reason and "\n" not in s.reason for s in history)
    assert card.test_looks == len(history)


def test_the_scorings_that_really_happened_are_recorded():
    looks = {card.name: card.test_looks for card in installed_models(WEIGHTS_DIR)}
    # pneumonia: the foundation's single CNN, then the ensemble; localisation: a single network that
    # validation had rejected, the shipped ensemble, then versions 3, 4 and 5 chosen on the cross-validation track; literature: version 1, version 2 with relation
    # types, then version 3 with cleaner MeSH labels; breast: version 1, then version 2 chosen by
    # cross-validation; the others once each.
    assert looks == {
        "genome.lncrna": 1,
        "genome.splice": 1,
        "genome.tfbs": 1,
        "imaging.breast": 2,
        "imaging.pneumonia": 2,
        "literature.cdr": 3,
        "sequence.amp": 1,
        "sequence.anticancer": 1,
        "sequence.localisation": 5,
    }
    localisation = read_card(WEIGHTS_DIR / "sequence.localisation.json").test_history
    assert [(s.version, s.shipped) for s in localisation] == [(1, False), (2, True), (3, True), (4, True), (5, True)]


def test_a_new_version_needs_a_reason_once_the_test_split_has_been_scored():
    card = read_card(WEIGHTS_DIR / "sequence.localisation.json")
    assert plan_version("toy.new", None, None).version == 1
    with pytest.raises(UsageError, match="scored on its test split 5 times"):
        plan_version(card.name, card, None)
    with pytest.raises(UsageError, match="one line"):
        plan_version(card.name, card, "first line\nsecond line")
    plan = plan_version(card.name, card, "cross-validated logit adjustment")
    assert plan.version == 6 and plan.history == card.test_history and plan.reason == "cross-validated logit adjustment"


def test_training_without_a_reason_is_refused_before_any_work(tmp_path, capsys):
    from medmodels.cli import main

    assert main(["train", "sequence.anticancer", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--reason" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_the_models_page_shows_each_models_test_history_and_how_often_it_was_looked_at():
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    app.run()
    app.switch_page("pages/models.py")
    app.run()
    assert not app.exception
    histories = [t.value for t in app.table if "why this version" in t.value.columns]
    cards = [card for card in installed_models() if card.metrics is not None]
    assert [len(h) for h in histories] == [card.test_looks for card in cards]
    localisation = histories[[card.name for card in cards].index("sequence.localisation")]
    assert list(localisation["shipped"]) == ["no (scored, never shipped)", "yes", "yes", "yes", "yes"]
    assert any("the test split has been scored 2 times for this model name" in m.value for m in app.markdown)
