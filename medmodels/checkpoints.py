"""Checkpoints: safetensors weights beside a JSON model card (``medmodels.cards``) that rebuilds and documents them.

``NAME.safetensors`` holds tensors only (nothing is ever unpickled); ``NAME.json`` is the card, which lists
every file the model needs (weights, OOD gate, lexicon) with its SHA-256. Models are looked up in the
shipped folder, then in the user's own (``$MEDMODELS_HOME/models``), where models trained there land.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from medmodels.cards import (
    FORMAT_VERSION,
    CheckpointError,
    ModelCard,
    ModelFile,
    read_card,
    sha256sum,
    verify_files,
    write_card,
)
from medmodels.data import user_models_dir
from medmodels.registry import create_model

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def model_folders() -> list[Path]:
    """The folders searched for models, in order: the shipped models first, then the user's own."""
    return [WEIGHTS_DIR, user_models_dir()]


def _folders(directory: Path | str | None) -> list[Path]:
    return model_folders() if directory is None else [Path(directory)]


def checkpoint_paths(name: str, directory: Path | str = WEIGHTS_DIR) -> tuple[Path, Path]:
    """``(weights, card)`` paths of model ``name`` inside ``directory``."""
    directory = Path(directory)
    return directory / f"{name}.safetensors", directory / f"{name}.json"


def save_checkpoint(
    model: nn.Module, card: ModelCard, directory: Path | str = WEIGHTS_DIR, side_files: dict[str, Path] | None = None
) -> ModelCard:
    """Write ``NAME.safetensors`` and ``NAME.json`` into ``directory``. The card lists the weights and
    ``side_files`` (role -> a file already written into ``directory``) with their SHA-256; returns it."""
    weights_path, card_path = checkpoint_paths(card.name, directory)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    state = {key: tensor.detach().cpu().contiguous() for key, tensor in model.state_dict().items()}
    save_file(state, str(weights_path), metadata={"name": card.name, "format_version": str(FORMAT_VERSION)})
    files = [ModelFile("weights", weights_path.name, sha256sum(weights_path))]
    for role, path in (side_files or {}).items():
        path = Path(path)
        if path.parent.resolve() != weights_path.parent.resolve():
            raise ValueError(f"side file {path} must sit in {weights_path.parent}, beside the weights")
        files.append(ModelFile(role, path.name, sha256sum(path)))
    saved = dataclasses.replace(card, files=files, folder=weights_path.parent)
    write_card(saved, card_path)
    return saved


def card_path(name: str, directory: Path | str | None = None) -> Path | None:
    """The card file of model ``name`` in ``directory``, or in the first model folder holding one; None if none does."""
    return next((path for folder in _folders(directory) if (path := checkpoint_paths(name, folder)[1]).is_file()), None)


def find_card(name: str, directory: Path | str | None = None) -> ModelCard:
    """The verified card of model ``name`` from ``directory``, or from the first model folder holding one."""
    path = card_path(name, directory)
    if path is None:
        where = " or ".join(str(folder) for folder in _folders(directory))
        raise CheckpointError(f"model {name} is not installed: no {name}.json in {where}")
    card = read_card(path, verify=False)
    if card.name != name:
        raise CheckpointError(f"card {path.name} describes {card.name!r}, not {name!r}")
    verify_files(card)
    return card


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


def load_weights(card: ModelCard) -> nn.Module:
    """The model ``card`` describes, rebuilt from its constructor arguments and its verified weights, in eval mode."""
    model = create_model(card.name, **card.config)
    weights_path = card.file("weights")
    try:
        state = load_file(str(weights_path))
    except FileNotFoundError:
        raise CheckpointError(f"weights not found: {weights_path}") from None
    except SafetensorError as error:
        raise CheckpointError(f"weights file {weights_path.name} is not valid safetensors: {error}") from None
    check_state_dict(model, state)
    model.load_state_dict(state, strict=True)
    model.eval()
    return model


def load_checkpoint(name: str, directory: Path | str | None = None) -> tuple[nn.Module, ModelCard]:
    """Rebuild model ``name`` from its card and weights (found as ``find_card`` does), in eval mode."""
    card = find_card(name, directory)
    return load_weights(card), card


def installed_models(directory: Path | str | None = None) -> list[ModelCard]:
    """Verified cards of every model in ``directory`` (default: every model folder), sorted by name.

    A model is installed when its card and every file the card lists (weights, OOD gate, lexicon) are
    present and match their SHA-256; a missing or altered one raises ``CheckpointError`` naming it. JSON
    files that are not cards (a lexicon) are skipped. A name in an earlier folder hides it in a later one.
    """
    cards: dict[str, ModelCard] = {}
    for folder in _folders(directory):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.json")):
            card = read_card(path, side_file_ok=True)
            if card is not None:
                cards.setdefault(card.name, card)
    return [cards[name] for name in sorted(cards)]


def folders_fingerprint(folders: Iterable[Path] | None = None) -> tuple[tuple[str, int, int], ...]:
    """Name, size and modification time of every file in the model folders: a cheap key for caching the
    installed models that changes when a model is added, retrained or removed."""
    entries = []
    for folder in model_folders() if folders is None else folders:
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.is_file():
                    stat = path.stat()
                    entries.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(entries)
