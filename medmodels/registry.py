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
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torch import nn

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


def list_models() -> list[str]:
    """Names of every registered model, sorted."""
    load_domains()
    return sorted(_REGISTRY)


class UnknownModelError(UsageError, KeyError):
    """Raised for a model name that is not registered."""


def get_model_info(name: str) -> ModelInfo:
    load_domains()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise UnknownModelError(f"unknown model {name!r}.{hint} Registered models: {known}.") from None


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
