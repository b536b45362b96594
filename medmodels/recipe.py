"""The recipe: what the command line, the pages and batch runners need of a model's domain.

Every registered model comes with a ``Recipe`` (see ``register_model``). Core code only ever calls these
methods, so a new domain is one new folder holding its models, its recipe and one registration:

- ``train`` / ``evaluate``: the CLI's verbs, returning a card and a typed metric section;
- ``read_inputs`` and ``load_predictor``: how ``predict`` reads its inputs (files, texts, options the
  recipe declares in ``inputs``) and a predictor that loads once and maps a batch of inputs to records,
  as a Ray Data actor would (``Predictor.predict_batch``); ``read_batch_inputs``: what ``batch`` reads;
- ``describe``: one line of text for a prediction record;
- ``training_figure`` / ``training_caption`` / ``decision_caption``: how the Models page shows the card.
  The defaults suit a classifier trained with ``medmodels.training``; a domain overrides what differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from medmodels.cards import ModelCard, VersionPlan
from medmodels.sections import MetricSection
from medmodels.training import ProgressCallback

if TYPE_CHECKING:
    import plotly.graph_objects as go

Record = dict[str, Any]


@dataclass(frozen=True)
class InputOption:
    """An option of ``predict`` that a recipe reads, e.g. ``--fasta FILE``."""

    flag: str
    help: str
    metavar: str = "FILE"
    repeatable: bool = False

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class InputSpec:
    """How ``predict`` takes a model's inputs: positional arguments (``positional`` says what they are; None
    when the model takes none) and options."""

    positional: str | None
    options: tuple[InputOption, ...] = ()

    def describe(self) -> str:
        """What to give, for a usage message: "image files", "sequences, or --fasta FILE", ..."""
        options = [f"{option.flag} {option.metavar}" for option in self.options]
        choices = ([self.positional] if self.positional else []) + options
        if len(choices) == 1:
            return choices[0]
        return ", ".join(choices[:-1]) + " or " + choices[-1]


@dataclass(frozen=True)
class RejectedInput:
    """An input that could not be read (a corrupt scan, a FASTA that is not UTF-8, an invalid record). It
    becomes its own record, in its place among the others: ``{key: id, "error": error}``."""

    key: str  # "input" for a file or argument as given; a record's own key ("id", "pmid") otherwise
    id: str
    error: str

    def record(self) -> Record:
        return {self.key: self.id, "error": self.error}


class Predictor(Protocol):
    """Loaded once; ``predict_batch`` maps readable inputs to one record each, in order. A failure of one
    input (too small to score, say) is that input's record with an ``error``, never an exception."""

    def predict_batch(self, inputs: list[Any]) -> list[Record]: ...


class Recipe(Protocol):
    """A model's domain as the rest of the project sees it; register one with each model."""

    domain: str  # groups models on the pages: "imaging", "sequence", ...
    needs_data_folder: bool  # False when the data ship inside installed packages
    inputs: InputSpec
    predict_batch_size: int = 64  # inputs ``predict`` hands the predictor at a time
    # Further options of ``train`` this recipe reads (a folder of the user's own data, say), passed to
    # ``train`` as ``options`` by their ``dest``.
    train_options: tuple[InputOption, ...] = ()

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
        """Train ``name`` (see ``trained_name``), select on validation, score test once, write weights and card
        into ``out_dir``; ``plan`` gives the version and the test history the card extends."""
        ...

    def trained_name(self, model: str, options: dict[str, Any]) -> str:
        """The name of the model ``train model`` writes: the registered name itself, unless the recipe trains
        models that users name (``--name domain.my-model``). Raises UsageError for a bad one."""
        return model

    def default_out_dir(self) -> Path:
        """Where ``train`` writes without ``--out``: the shipped models' folder, or the user's own."""
        from medmodels.checkpoints import WEIGHTS_DIR  # deferred: checkpoints imports the registry

        return WEIGHTS_DIR

    def evaluate(self, name: str, data_dir: Path | None, split: str, directory: Path | None) -> MetricSection:
        """The installed model's figures on ``split`` ("train", "val" or "test"), as its card records them."""
        ...

    def read_inputs(self, positional: list[str], options: dict[str, Any]) -> Iterator[Any]:
        """The inputs of ``predict``, lazily, as the predictor takes them or as ``RejectedInput``."""
        ...

    def read_batch_inputs(self, paths: list[str]) -> Iterator[Any]:
        """The inputs of ``batch`` (files and folders given by path), lazily and in order; a domain whose files
        hold many inputs (FASTA) reads them as a stream."""
        return self.read_inputs(paths, {})

    def count_batch_inputs(self, paths: list[str]) -> int | None:
        """How many inputs ``read_batch_inputs(paths)`` yields, counted without reading them whole (for the
        progress bar's ETA); None when that would cost as much as reading."""
        return None

    def load_predictor(self, name: str, directory: Path | None) -> Predictor: ...

    def describe(self, record: Record) -> str:
        """One line of text for a successful prediction record (the CLI without ``--json``)."""
        ...

    def training_figure(self, card: ModelCard) -> go.Figure:
        from medmodels.plots import training_curves

        return training_curves(card)

    def training_caption(self, card: ModelCard) -> str:
        training = card.training
        if training is None:
            return ""
        return (
            f"{training.members} member(s), selected epochs {training.best_epochs} ({training.selection}); "
            f"training took {training.seconds:.0f} s on {training.torch_threads} CPU threads."
        )

    def population_caption(self, card: ModelCard) -> str:
        """Who the model was trained on and how inputs from outside that population are treated; empty when
        the card states no population."""
        return ""

    def decision_caption(self, card: ModelCard) -> str:
        if card.threshold is None:
            rule = "Calls the most probable class"
        else:
            rule = f"Decision threshold {card.threshold:.3f} on the calibrated probability of '{card.positive_label}' ({card.threshold_rule})"
        return f"{rule}; calibration temperature {card.temperature:.3f}."


def predict_all(predictor: Predictor, inputs: Iterable[Any], batch_size: int = 64) -> Iterator[Record]:
    """One record per input, in order, predicting ``batch_size`` readable inputs at a time."""
    batch: list[Any] = []
    for item in inputs:
        batch.append(item)
        if len(batch) == batch_size:
            yield from _predict(predictor, batch)
            batch = []
    if batch:
        yield from _predict(predictor, batch)


def _predict(predictor: Predictor, batch: list[Any]) -> Iterator[Record]:
    readable = [item for item in batch if not isinstance(item, RejectedInput)]
    records = iter(predictor.predict_batch(readable) if readable else [])
    for item in batch:
        yield item.record() if isinstance(item, RejectedInput) else next(records)
