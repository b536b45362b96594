"""A new domain needs one folder and one registration: here a toy domain, registered in this file alone,
appears in the command line's list, predict and evaluate, and on the home and Models pages with its curves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import plotly.io
import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from medmodels.cards import CardMetrics, DataProvenance, ModelCard, VersionPlan, build_card, reproduce_command
from medmodels.checkpoints import load_checkpoint, save_checkpoint, user_models_dir
from medmodels.cli import main
from medmodels.metrics import auc_metric, calibrated_binary_metrics
from medmodels.recipe import InputSpec, Recipe, Record, RejectedInput
from medmodels.registry import create_model, get_model_info, register_model, unregister_model
from medmodels.sections import MetricSection
from medmodels.training import ProgressCallback, TrainConfig, train, training_record
from tests.conftest import REPO_ROOT

NAME = "toy.linear"


@dataclass
class ToyConfig:
    features: int = 3
    num_classes: int = 2


def toy_data(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Points whose class is the sign of x1 + x2, a different seeded draw per split."""
    generator = torch.Generator().manual_seed({"train": 0, "val": 1, "test": 2}[split])
    points = torch.randn(200, 3, generator=generator)
    return points, (points[:, 0] + points[:, 1] > 0).long()


class ToyPredictor:
    def __init__(self, directory: Path | None) -> None:
        self.model, self.card = load_checkpoint(NAME, directory)

    def predict_batch(self, inputs: list[tuple[str, torch.Tensor]]) -> list[Record]:
        with torch.no_grad():
            logits = self.model(torch.stack([point for _, point in inputs]))
        probabilities = torch.softmax(logits / self.card.temperature, dim=1).numpy()
        return [
            {
                "input": text,
                "label": self.card.decide(row),
                "probabilities": dict(zip(self.card.labels, map(float, row))),
            }
            for (text, _), row in zip(inputs, probabilities)
        ]


class ToyRecipe(Recipe):
    domain = "toy"
    needs_data_folder = False
    inputs = InputSpec("points as x1,x2,x3")

    def train(
        self,
        name: str,
        data_dir: Path | None,
        *,
        epochs: int | None,
        out_dir: Path,
        plan: VersionPlan,
        progress: ProgressCallback | None,
        options: dict[str, Any],
    ) -> ModelCard:
        config = TrainConfig(epochs=epochs or 5, batch_size=32, learning_rate=0.05)
        model = create_model(name)
        loaders = {split: DataLoader(TensorDataset(*toy_data(split)), batch_size=32) for split in ("train", "val")}
        result = train(model, loaders["train"], loaders["val"], F.cross_entropy, auc_metric(1), config, progress)
        sections = {split: self._section(model, split) for split in ("val", "test")}
        card = build_card(
            name,
            plan=plan,
            architecture="Linear",
            config=asdict(model.config),
            labels=["below", "above"],
            task="which side of a line a point lies on",
            preprocessing={},
            metrics=CardMetrics(validation=sections["val"], test=sections["test"]),
            history=result.history,
            training=training_record(
                [result], config.seed, selection="best validation ROC AUC", settings=asdict(config)
            ),
            data=DataProvenance(
                name="toy points",
                citation="this test",
                licence="none",
                unit="points",
                splits={"train": 200, "validation": 200, "test": 200},
            ),
            intended_use="Testing that a new domain plugs in.",
            limitations=["Not a model of anything."],
            reproduce=reproduce_command(name, False, epochs),
            main_metric="roc_auc",
            threshold=0.5,
            positive_label="above",
            threshold_rule="fixed at one half",
        )
        return save_checkpoint(model, card, out_dir)

    @staticmethod
    def _section(model: nn.Module, split: str) -> MetricSection:
        points, labels = toy_data(split)
        with torch.no_grad():
            logits = model.eval()(points).numpy()
        return calibrated_binary_metrics(logits, labels.numpy(), 1.0, 0.5, 1)

    def evaluate(self, name: str, data_dir: Path | None, split: str, directory: Path | None) -> MetricSection:
        model, _ = load_checkpoint(name, directory)
        return self._section(model, split)

    def read_inputs(
        self, positional: list[str], options: dict[str, Any]
    ) -> Iterator[tuple[str, torch.Tensor] | RejectedInput]:
        for text in positional:
            try:
                yield text, torch.tensor([float(value) for value in text.split(",")])
            except ValueError:
                yield RejectedInput("input", text, "not three comma-separated numbers")

    def load_predictor(self, name: str, directory: Path | None) -> ToyPredictor:
        return ToyPredictor(directory)

    def describe(self, record: Record) -> str:
        return f"{record['input']}: {record['label']}"


class ToyModel(nn.Module):
    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.config = config
        self.layer = nn.Linear(config.features, config.num_classes)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.layer(points)


@pytest.fixture
def toy_domain(tmp_path, monkeypatch) -> Iterator[Path]:
    """``toy.linear`` registered and trained into this test's own user model folder."""
    monkeypatch.setenv("MEDMODELS_HOME", str(tmp_path))
    register_model(
        NAME,
        config=ToyConfig,
        task="which side of a line a point lies on",
        labels=("below", "above"),
        summary="A linear layer",
        example_input=lambda config, batch: torch.randn(batch, config.features),
        recipe=ToyRecipe(),
    )(ToyModel)
    try:
        assert main(["train", NAME, "--out", str(user_models_dir()), "--epochs", "4"]) == 0
        yield user_models_dir()
    finally:
        unregister_model(NAME)


def _json_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith(("{", "["))]


def test_the_toy_model_is_listed_predicts_and_evaluates_through_the_command_line(toy_domain, capsys):
    capsys.readouterr()
    assert main(["list", "--json"]) == 0
    (rows,) = _json_lines(capsys)
    row = next(r for r in rows if r["name"] == NAME)
    card = json.loads((toy_domain / f"{NAME}.json").read_text())
    assert row["installed"] and row["version"] == 1 and row["test_scorings"] == 1
    assert row["test_metrics"] == card["test_history"][0]["figures"] and row["test_metrics"]["roc_auc"] > 0.9

    assert main(["predict", NAME, "2,2,0", "0.5,-3,0", "nonsense", "--json"]) == 1  # one input cannot be read
    above, below, bad = _json_lines(capsys)
    assert (above["label"], below["label"]) == ("above", "below")
    assert bad == {"input": "nonsense", "error": "not three comma-separated numbers"}
    assert main(["predict", NAME, "2,2,0"]) == 0
    assert capsys.readouterr().out == "2,2,0: above\n"

    assert main(["evaluate", NAME, "--json"]) == 0
    (evaluated,) = _json_lines(capsys)
    assert evaluated == {
        "model": NAME,
        "split": "test",
        **{k: v for k, v in card["metrics"]["test"].items() if k != "kind"},
    }


def test_the_toy_model_is_on_the_home_page_and_its_card_and_curves_on_the_models_page(toy_domain):
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    app.run()
    assert not app.exception
    models = app.dataframe[0].value
    row = models[models["model"] == NAME].iloc[0]
    assert row["installed"] == "yes" and row["test ROC AUC"] > 0.9 and row["test scorings"] == 1

    app.switch_page("pages/models.py")
    app.run()
    assert not app.exception
    tab = next(tab for tab in app.tabs if tab.label == NAME)
    card = json.loads((toy_domain / f"{NAME}.json").read_text())
    charts = [plotly.io.from_json(chart.proto.spec) for chart in tab.get("plotly_chart")]
    curves = next(c for c in charts if any(t.name == "validation loss" for t in c.data))
    assert list(next(t for t in curves.data if t.name == "validation loss").y) == [
        r["val_loss"] for r in card["history"]
    ]
    assert [int(t.x[0]) for t in curves.data if t.name == "selected epoch"] == card["training"]["best_epochs"]
    history = next(table.value for table in tab.table if "why this version" in table.value.columns)
    assert list(history["version"]) == [1] and list(history["why this version"]) == ["first version"]


def test_a_bug_in_a_recipe_surfaces_instead_of_passing_for_a_usage_error(toy_domain):
    class Broken(ToyRecipe):
        def evaluate(self, name: str, data_dir: Path | None, split: str, directory: Path | None) -> MetricSection:
            raise LookupError("a bug, not the user's mistake")

    info = get_model_info(NAME)
    unregister_model(NAME)
    register_model(
        NAME,
        config=ToyConfig,
        task=info.task,
        labels=info.labels,
        summary="broken",
        example_input=info.example_input,
        recipe=Broken(),
    )(ToyModel)
    with pytest.raises(LookupError, match="a bug"):
        main(["evaluate", NAME])


def test_the_toy_models_second_version_needs_a_reason_and_extends_the_test_history(toy_domain, capsys):
    assert main(["train", NAME, "--out", str(toy_domain), "--epochs", "2"]) == 2
    assert "--reason" in capsys.readouterr().err
    assert json.loads((toy_domain / f"{NAME}.json").read_text())["version"] == 1  # nothing was trained or written
    assert (
        main(["train", NAME, "--out", str(toy_domain), "--epochs", "2", "--reason", "two epochs, chosen on validation"])
        == 0
    )
    card = json.loads((toy_domain / f"{NAME}.json").read_text())
    assert card["version"] == 2
    assert [(s["version"], s["reason"]) for s in card["test_history"]] == [
        (1, "first version"),
        (2, "two epochs, chosen on validation"),
    ]
    assert np.isclose(card["test_history"][1]["figures"]["roc_auc"], card["metrics"]["test"]["roc_auc"])
