"""Checkpoints: safetensors weights beside a JSON model card that rebuilds and documents the model.

``NAME.safetensors`` holds tensors only (nothing is ever unpickled); ``NAME.json`` holds the card:
constructor arguments, labels, preprocessing, decision threshold and temperature, metrics,
training history, data provenance, intended use and the command that reproduces the weights.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from medmodels.registry import create_model

FORMAT_VERSION = 1
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded: missing, malformed, or not matching its architecture."""


@dataclass
class ModelCard:
    """Everything needed to rebuild a model and to judge whether to trust it."""

    name: str
    architecture: str
    config: dict[str, Any]
    labels: list[str]
    task: str
    preprocessing: dict[str, Any]
    # Decision rule on calibrated probabilities: softmax(logits / temperature)[positive] >= threshold.
    temperature: float = 1.0
    threshold: float | None = None
    positive_label: str | None = None
    threshold_rule: str = ""
    main_metric: str = "roc_auc"
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    # Out-of-distribution gate: method, threshold and how often it flags each reference set.
    ood: dict[str, Any] = field(default_factory=dict)
    intended_use: str = ""
    limitations: list[str] = field(default_factory=list)
    reproduce: str = ""
    created: str = ""
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise CheckpointError(
                f"model card format version {version!r} is not supported (expected {FORMAT_VERSION})"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CheckpointError(f"model card has unknown field(s): {', '.join(unknown)}")
        missing = sorted(
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in data
        )
        if missing:
            raise CheckpointError(f"model card lacks required field(s): {', '.join(missing)}")
        return cls(**data)

    @property
    def test_metrics(self) -> dict[str, Any]:
        return self.metrics.get("test", {})


def checkpoint_paths(name: str, directory: Path | str = WEIGHTS_DIR) -> tuple[Path, Path]:
    """``(weights, card)`` paths of model ``name`` inside ``directory``."""
    directory = Path(directory)
    return directory / f"{name}.safetensors", directory / f"{name}.json"


def save_checkpoint(model: nn.Module, card: ModelCard, directory: Path | str = WEIGHTS_DIR) -> tuple[Path, Path]:
    """Write ``NAME.safetensors`` and ``NAME.json`` into ``directory``; returns both paths."""
    weights_path, card_path = checkpoint_paths(card.name, directory)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    state = {key: tensor.detach().cpu().contiguous() for key, tensor in model.state_dict().items()}
    save_file(state, str(weights_path), metadata={"name": card.name, "format_version": str(FORMAT_VERSION)})
    card_path.write_text(json.dumps(card.to_dict(), indent=2) + "\n", encoding="utf-8")
    return weights_path, card_path


def read_card(card_path: Path | str) -> ModelCard:
    card_path = Path(card_path)
    try:
        data = json.loads(card_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"model card not found: {card_path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"model card {card_path.name} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"model card {card_path.name} must hold a JSON object")
    return ModelCard.from_dict(data)


def _first_few(keys: list[str], shown: int = 5) -> str:
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more


def check_state_dict(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Refuse weights whose keys or shapes differ from ``model``'s, naming every offending key."""
    expected = model.state_dict()
    problems = []
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing:
        problems.append(f"missing keys: {_first_few(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_first_few(unexpected)}")
    for key in sorted(set(expected) & set(state)):
        if tuple(expected[key].shape) != tuple(state[key].shape):
            problems.append(
                f"shape mismatch for {key}: checkpoint {tuple(state[key].shape)}, model {tuple(expected[key].shape)}"
            )
    if problems:
        raise CheckpointError("checkpoint does not match the architecture: " + "; ".join(problems))


def load_checkpoint(name: str, directory: Path | str = WEIGHTS_DIR) -> tuple[nn.Module, ModelCard]:
    """Rebuild model ``name`` from its card and weights in ``directory``, in eval mode."""
    weights_path, card_path = checkpoint_paths(name, directory)
    card = read_card(card_path)
    if card.name != name:
        raise CheckpointError(f"card {card_path.name} describes {card.name!r}, not {name!r}")
    model = create_model(card.name, **card.config)
    try:
        state = load_file(str(weights_path))
    except FileNotFoundError:
        raise CheckpointError(f"weights not found: {weights_path}") from None
    except SafetensorError as error:
        raise CheckpointError(f"weights file {weights_path.name} is not valid safetensors: {error}") from None
    check_state_dict(model, state)
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, card


def installed_models(directory: Path | str = WEIGHTS_DIR) -> list[ModelCard]:
    """Cards of every model with both weights and a card in ``directory``, sorted by name."""
    cards = []
    for card_path in sorted(Path(directory).glob("*.json")):
        if card_path.with_suffix(".safetensors").exists():
            cards.append(read_card(card_path))
    return cards
