"""The model card: a typed, versioned record of everything needed to rebuild a model and to judge it.

``NAME.json`` sits beside ``NAME.safetensors``. It holds the constructor arguments, labels,
preprocessing and decision rule, the metric sections of the validation and test splits (typed by kind),
the training record and curves, the data's provenance, the files the model needs with their SHA-256,
and the model's **test history**: every scoring of the test split ever made for this model name, each
with its date, version and a one-line reason for that version. A new version is chosen on validation
(or cross-validation) alone, and scores the test split exactly once, when it ships; ``plan_version``
refuses to train one without a reason, so a reader of the card sees how many looks the split has had.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np

from medmodels.errors import MedmodelsError, UsageError
from medmodels.schema import SchemaError, from_json, to_json
from medmodels.sections import Baseline, MetricSection

FORMAT_VERSION = 2
DISCLAIMER = (
    "medmodels is a research and decision-support tool, not a medical device. "
    "Its outputs are not a diagnosis and must not replace the judgement of a qualified clinician."
)


class CheckpointError(MedmodelsError, ValueError):
    """A checkpoint that cannot be loaded: missing, malformed, altered, or not matching its architecture."""


@dataclass(frozen=True)
class CardMetrics:
    validation: MetricSection
    test: MetricSection
    baseline: Baseline | None = None  # a simpler model on the same test split
    published: dict[str, dict[str, float]] = field(default_factory=dict)  # figure -> {who: value}, for scale


@dataclass(frozen=True)
class TestScoring:
    """One look at the test split: the version scored, when, its headline figures and why that version exists."""

    __test__ = False  # not a pytest class, despite its name

    date: str
    version: int
    figures: dict[str, float]
    reason: str
    shipped: bool = True  # False for a candidate that was scored but never shipped


@dataclass(frozen=True)
class ModelFile:
    """A file the model needs, relative to the card's folder, with the SHA-256 it had when the card was written."""

    role: str  # "weights", "ood_gate", "lexicon", ...
    path: str
    sha256: str


@dataclass(frozen=True)
class TrainingRecord:
    members: int
    best_epochs: list[int]  # per member: the epoch selected on validation
    epochs_run: list[int]
    seconds: float
    selection: str  # how epochs were selected
    torch_threads: int
    torch: str
    medmodels: str
    member_seeds: list[int] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)  # the recipe's hyperparameters
    details: dict[str, Any] = field(default_factory=dict)  # optimizer, augmentation, stages, ...


@dataclass(frozen=True)
class DataProvenance:
    name: str
    citation: str
    licence: str
    unit: str  # what one example is: "images", "sequences", "abstracts"
    splits: dict[str, int]
    files: dict[str, str] = field(default_factory=dict)  # data file -> MD5
    class_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> label -> count
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # further per-split counts, e.g. "mentions"
    split_rule: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # input left out while reading the data -> why


@dataclass(frozen=True)
class FlaggedShare:
    n: int
    flagged: float


@dataclass(frozen=True)
class OodSummary:
    """The out-of-distribution gate: method, threshold, and how often it flags each reference set."""

    method: str
    threshold: float
    threshold_rule: str
    flagged: dict[str, FlaggedShare]


@dataclass(frozen=True)
class Population:
    """Who and what the training images came from, as far as the data set's source says. An imaging model
    withholds its diagnosis for a DICOM file whose own tags contradict any stated field; an empty list or a
    missing age bound states nothing."""

    description: str  # one line for people, e.g. "frontal chest radiographs of children aged 1 to 5"
    modalities: list[str] = field(default_factory=list)  # DICOM Modality values, e.g. ["CR", "DX"]
    body_parts: list[str] = field(default_factory=list)  # DICOM Body Part Examined values, e.g. ["CHEST"]
    views: list[str] = field(default_factory=list)  # DICOM View Position values, e.g. ["AP", "PA"]
    sexes: list[str] = field(default_factory=list)  # DICOM Patient's Sex values, e.g. ["F"]
    min_age_years: int | None = None  # whole years, both bounds included
    max_age_years: int | None = None


@dataclass
class ModelCard:
    """Everything needed to rebuild a model and to judge whether to trust it."""

    name: str
    architecture: str
    config: dict[str, Any]
    labels: list[str]
    task: str
    preprocessing: dict[str, Any]
    version: int = 1
    # The registered model whose builder and recipe this one uses, when its own name is not registered: a
    # model a user trains and names (a ``domain.custom`` builder makes ``domain.my-model``). Empty for the registered models.
    builder: str = ""
    # Decision rule on calibrated probabilities: softmax(logits / temperature)[positive] >= threshold;
    # without a positive label, the most probable class.
    temperature: float = 1.0
    threshold: float | None = None
    positive_label: str | None = None
    threshold_rule: str = ""
    main_metric: str = "roc_auc"  # the selection metric in ``history``
    metrics: CardMetrics | None = None
    test_history: list[TestScoring] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # per epoch (and member or stage)
    training: TrainingRecord | None = None
    data: DataProvenance | None = None
    ood: OodSummary | None = None
    population: Population | None = None  # imaging: the training population a scan's tags must not contradict
    files: list[ModelFile] = field(default_factory=list)
    intended_use: str = ""
    limitations: list[str] = field(default_factory=list)
    reproduce: str = ""
    created: str = ""
    format_version: int = FORMAT_VERSION
    # Where the card was read from; not part of the card itself.
    folder: Path | None = field(default=None, compare=False, repr=False, metadata={"json": False})

    def to_dict(self) -> dict[str, Any]:
        return to_json(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        version = data.get("format_version") if isinstance(data, dict) else None
        if version != FORMAT_VERSION:
            raise CheckpointError(f"model card format version {version!r} is not supported (expected {FORMAT_VERSION})")
        from medmodels.registry import load_domains  # domains register their metric-section kinds

        load_domains()
        try:
            return from_json(cls, data, "model card")
        except SchemaError as error:
            raise CheckpointError(str(error)) from None

    # The decision rule, in one place for every consumer (pages, command line, batch prediction).
    @property
    def positive_index(self) -> int | None:
        """Index of the positive class among ``labels``; None when the model calls the most probable class
        (or, like the literature model, decides on a score that is not one of its labels)."""
        return self.labels.index(self.positive_label) if self.positive_label in self.labels else None

    def call_index(self, probabilities: np.ndarray, threshold: float | None = None) -> int:
        """Index of the class called for one row of calibrated probabilities: with a positive class (always one
        of two), that class when its probability reaches ``threshold`` (default: the card's), else the other;
        without one, the most probable class."""
        positive = self.positive_index
        if positive is None:
            return int(np.argmax(probabilities))
        return positive if self.is_positive(float(probabilities[positive]), threshold) else 1 - positive

    def decide(self, probabilities: np.ndarray, threshold: float | None = None) -> str:
        return self.labels[self.call_index(probabilities, threshold)]

    def is_positive(self, score: float, threshold: float | None = None) -> bool:
        """A score (probability of the positive class) at or above the threshold (default: the card's, else 0.5)."""
        if threshold is None:
            threshold = self.threshold if self.threshold is not None else 0.5
        return score >= threshold

    @property
    def test_looks(self) -> int:
        """How many times the test split has been scored for this model name."""
        return len(self.test_history)

    def file(self, role: str) -> Path:
        """Path of the listed file with ``role``, inside the folder the card was read from."""
        entry = next((f for f in self.files if f.role == role), None)
        if entry is None:
            raise CheckpointError(f"model card {self.name} lists no {role} file")
        if self.folder is None:
            raise CheckpointError(f"model card {self.name} was not read from a folder")
        return self.folder / entry.path

    def has_file(self, role: str) -> bool:
        return any(f.role == role for f in self.files)


def sha256sum(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def verify_files(card: ModelCard) -> None:
    """Refuse a card whose listed files are missing or differ from the SHA-256 it records, naming the file."""
    folder = card.folder if card.folder is not None else Path(".")
    for entry in card.files:
        path = folder / entry.path
        what = entry.role.replace("_", " ").replace("ood", "OOD")
        if not path.is_file():
            raise CheckpointError(f"{what} not found: {path} (listed in the card of {card.name})")
        if sha256sum(path) != entry.sha256:
            raise CheckpointError(
                f"{what} file {path.name} has been altered or replaced: its SHA-256 differs from the one the card of {card.name} records"
            )


@overload
def read_card(card_path: Path | str, verify: bool = True) -> ModelCard: ...
@overload
def read_card(card_path: Path | str, verify: bool = True, *, side_file_ok: bool) -> ModelCard | None: ...


def read_card(card_path: Path | str, verify: bool = True, *, side_file_ok: bool = False) -> ModelCard | None:
    """The card at ``card_path``, validated, with the files it lists checked (``verify``). With
    ``side_file_ok``, a JSON file that is not a card at all (a lexicon, which has no ``format_version``)
    gives None instead of an error."""
    card_path = Path(card_path)
    try:
        data = json.loads(card_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"model card not found: {card_path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"model card {card_path.name} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"model card {card_path.name} must hold a JSON object")
    if side_file_ok and "format_version" not in data:
        return None
    try:
        card = ModelCard.from_dict(data)
    except CheckpointError as error:
        raise CheckpointError(f"{card_path.name}: {error}") from None
    card.folder = card_path.parent
    if verify:
        verify_files(card)
    return card


def write_card(card: ModelCard, card_path: Path) -> None:
    card_path.write_text(json.dumps(card.to_dict(), indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class VersionPlan:
    """The version a training run will ship and the test history it extends."""

    version: int
    history: list[TestScoring]
    reason: str


def plan_version(name: str, previous: ModelCard | None, reason: str | None) -> VersionPlan:
    """Version 1 for a new name; otherwise the next version, which must say why it exists. Called before
    training starts, so a run is never wasted on a refusal."""
    if previous is None or not previous.test_history:
        return VersionPlan(
            1 if previous is None else previous.version + 1,
            [] if previous is None else list(previous.test_history),
            reason or "first version",
        )
    if not reason or not reason.strip():
        looks = previous.test_looks
        raise UsageError(
            f"{name} has been scored on its test split {looks} time{'s' if looks > 1 else ''} (version {previous.version} ships); "
            "a new version scores it again: give a one-line --reason saying why it exists, decided on validation alone"
        )
    if "\n" in reason.strip():
        raise UsageError("--reason must be one line")
    return VersionPlan(previous.version + 1, list(previous.test_history), reason.strip())


def scored_history(plan: VersionPlan, test: MetricSection, date: str | None = None) -> list[TestScoring]:
    """``plan``'s history with this version's single scoring of the test split appended."""
    scoring = TestScoring(date or dt.date.today().isoformat(), plan.version, dict(test.figures()), plan.reason)
    return [*plan.history, scoring]


def reproduce_command(name: str, needs_data_folder: bool, epochs: int | None = None) -> str:
    """The command that retrains ``name`` as its card was made."""
    command = f"python -m medmodels train {name}"
    if needs_data_folder:
        command += " --data $MEDMODELS_DATA"
    return command + (f" --epochs {epochs}" if epochs else "")


def build_card(
    name: str,
    *,
    plan: VersionPlan,
    architecture: str,
    config: dict[str, Any],
    labels: list[str],
    task: str,
    preprocessing: dict[str, Any],
    metrics: CardMetrics,
    history: list[dict[str, Any]],
    training: TrainingRecord,
    data: DataProvenance,
    intended_use: str,
    limitations: list[str],
    reproduce: str,
    main_metric: str,
    temperature: float = 1.0,
    threshold: float | None = None,
    positive_label: str | None = None,
    threshold_rule: str = "",
    ood: OodSummary | None = None,
    population: Population | None = None,
    builder: str = "",
) -> ModelCard:
    """The card of a freshly trained model: its version and test history (this version's single scoring
    of the test split appended), the disclaimer after its limitations, and today's date. Files are listed
    when ``save_checkpoint`` writes it."""
    return ModelCard(
        name=name,
        architecture=architecture,
        config=config,
        labels=labels,
        task=task,
        preprocessing=preprocessing,
        version=plan.version,
        builder=builder,
        temperature=temperature,
        threshold=threshold,
        positive_label=positive_label,
        threshold_rule=threshold_rule,
        main_metric=main_metric,
        metrics=metrics,
        test_history=scored_history(plan, metrics.test),
        history=history,
        training=training,
        data=data,
        ood=ood,
        population=population,
        intended_use=intended_use,
        limitations=[*limitations, DISCLAIMER],
        reproduce=reproduce,
        created=dt.date.today().isoformat(),
    )
