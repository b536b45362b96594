"""Model registry: dotted names (``domain.model``) mapped to builders, their config and their recipe.

Each builder takes one config dataclass; ``create_model`` fills it from keyword arguments and
refuses keys the dataclass does not define, so a typo never silently falls back to a default. The
recipe (``medmodels.recipe.Recipe``) is how the command line and the pages train, evaluate and run it.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
import json
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from medmodels.data import user_models_dir
from medmodels.errors import UsageError

if TYPE_CHECKING:
    from medmodels.recipe import Recipe

# A domain is a subpackage of medmodels whose ``recipes`` module registers its models (with their recipes)
# on import; importing every one here keeps ``list_models()`` complete whichever module the caller imported.
DOMAIN_MODULE = "recipes"


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about a model before any weights exist."""

    name: str
    builder: Callable[[Any], nn.Module]
    config_class: type
    task: str
    labels: tuple[str, ...]
    summary: str
    # example_input(config, batch_size) -> a valid input batch; drives the contract tests and benchmarks.
    example_input: Callable[[Any, int], Any]
    recipe: Recipe

    @property
    def domain(self) -> str:
        return self.name.split(".", 1)[0]

    def default_config(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config_class())


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(
    name: str,
    *,
    config: type,
    task: str,
    labels: tuple[str, ...],
    summary: str,
    example_input: Callable[[Any, int], Any],
    recipe: Recipe,
) -> Callable[[Callable[[Any], nn.Module]], Callable[[Any], nn.Module]]:
    """Decorator registering ``builder(config) -> nn.Module`` under a dotted ``domain.model`` name."""
    if "." not in name:
        raise ValueError(f"model names are dotted by domain ('domain.model'), got {name!r}")
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"config for {name!r} must be a dataclass")

    def decorator(builder: Callable[[Any], nn.Module]) -> Callable[[Any], nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelInfo(name, builder, config, task, tuple(labels), summary, example_input, recipe)
        return builder

    return decorator


def unregister_model(name: str) -> None:
    """Forget ``name`` (tests register toy models and must leave the registry as they found it)."""
    _REGISTRY.pop(name, None)


def load_domains() -> None:
    """Import every domain, so its models, recipes and metric-section kinds are registered: a new domain is a
    new folder with a ``recipes`` module, and nothing here changes."""
    import medmodels

    for package in pkgutil.iter_modules(medmodels.__path__):
        module = f"medmodels.{package.name}.{DOMAIN_MODULE}"
        if package.ispkg and importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


# Card headers of the user's models, by path: (modification time, (name, builder, task, labels)).
_USER_CARDS: dict[Path, tuple[int, tuple[str, str, str, tuple[str, ...]] | None]] = {}


def _card_header(path: Path) -> tuple[str, str, str, tuple[str, ...]] | None:
    """Name, builder, task and labels of the card at ``path``; None for a file that is no user model's card.
    Read again only when the file changes; the card is verified when the model is loaded, not here."""
    stamp = path.stat().st_mtime_ns
    cached = _USER_CARDS.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    header = None
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(card, dict) and isinstance(card.get("builder"), str) and card["builder"]:
            header = (str(card["name"]), card["builder"], str(card.get("task", "")), tuple(map(str, card["labels"])))
    except (OSError, ValueError, KeyError, TypeError):
        header = None  # not a card, or a damaged one: loading it names the problem
    _USER_CARDS[path] = (stamp, header)
    return header


def user_models() -> dict[str, ModelInfo]:
    """Models a user trained (cards in ``$MEDMODELS_HOME/models`` that name a registered ``builder``), each
    with its builder's config and recipe and its own task and labels. A registered name is never shadowed."""
    folder = user_models_dir()
    found: dict[str, ModelInfo] = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        header = _card_header(path)
        if header is None:
            continue
        name, builder, task, labels = header
        if builder in _REGISTRY and name not in _REGISTRY and name.split(".", 1)[0] == builder.split(".", 1)[0]:
            found[name] = dataclasses.replace(_REGISTRY[builder], name=name, task=task, labels=labels)
    return found


def built_in_models() -> list[str]:
    """Names of the models the domains register (no user's model among them), sorted."""
    load_domains()
    return sorted(_REGISTRY)


def list_models() -> list[str]:
    """Names of every registered model and every model the user trained, sorted."""
    load_domains()
    return sorted({*_REGISTRY, *user_models()})


class UnknownModelError(UsageError, KeyError):
    """Raised for a model name that is not registered."""


def get_model_info(name: str) -> ModelInfo:
    load_domains()
    if name in _REGISTRY:
        return _REGISTRY[name]
    users = user_models()
    if name in users:
        return users[name]
    known = sorted({*_REGISTRY, *users})
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownModelError(f"unknown model {name!r}.{hint} Registered models: {', '.join(known) or 'none'}.")


def resolve_config(name: str, **config: Any) -> Any:
    """The model's config dataclass filled from ``config``; unknown keys are refused by name."""
    info = get_model_info(name)
    allowed = {field.name for field in dataclasses.fields(info.config_class)}
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise TypeError(
            f"unknown config key(s) for {name!r}: {', '.join(unknown)}. Allowed keys: {', '.join(sorted(allowed))}."
        )
    return info.config_class(**config)


def create_model(name: str, **config: Any) -> nn.Module:
    """Build a freshly initialised model by registered name."""
    info = get_model_info(name)
    return info.builder(resolve_config(name, **config))
