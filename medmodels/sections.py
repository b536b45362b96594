"""Metric sections of a model card: one split's figures, typed by the kind of task.

Each kind is a dataclass whose fields are the figures, in the order ``evaluate --json`` prints them, and
which knows how to show itself: labelled rows for tables, a short headline for lists, extra tables, and
the ROC curve and reliability bins when it has them. Pages and the command line only call these, so a
new kind (a domain's own, registered with ``register_section``) needs no change outside its folder.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from medmodels.schema import SchemaError, register_resolver, to_json

Figure = float | int


@dataclass(frozen=True)
class MetricRow:
    key: str
    label: str
    value: Figure


class MetricSection:
    """One split's figures. Subclasses are frozen dataclasses that set ``kind``, ``title`` and ``LABELS``
    (field -> display label, in display order; fields not listed are not shown as rows)."""

    kind: ClassVar[str]
    title: ClassVar[str]
    LABELS: ClassVar[dict[str, str]]
    HEADLINE: ClassVar[tuple[str, ...]]  # fields a one-line summary shows
    SHORT_LABELS: ClassVar[dict[str, str]] = {}  # headline field -> label in lists
    JSON_IGNORED: ClassVar[tuple[str, ...]] = ("kind",)
    n: int  # examples scored; every kind has this field

    def to_dict(self) -> dict[str, Any]:
        """The figures as ``evaluate --json`` prints them (no ``kind``)."""
        return {f.name: to_json(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.to_dict()}

    @classmethod
    def label(cls, key: str) -> str:
        return cls.LABELS.get(key, key)

    def rows(self) -> list[MetricRow]:
        """Labelled scalar figures in display order, for a metrics table."""
        return [
            MetricRow(key, label, getattr(self, key))
            for key, label in self.LABELS.items()
            if _is_figure(getattr(self, key, None))
        ]

    def headline(self) -> dict[str, Figure]:
        """The few figures a list of models shows, by short label."""
        return {self.SHORT_LABELS.get(key, key): getattr(self, key) for key in self.HEADLINE}

    def figures(self) -> dict[str, Figure]:
        """The headline figures by field name: what a test scoring records in the card's history."""
        return {key: getattr(self, key) for key in self.HEADLINE}

    def tables(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """Further tables beside the rows (e.g. per class), as (title, records)."""
        return []

    def roc_curve(self) -> RocCurve | None:
        return None

    def reliability_bins(self) -> list[ReliabilityBin] | None:
        """Confidence bins after calibration, for a reliability diagram; None when not a classifier's."""
        return None

    def calibration_error(self) -> float | None:
        """Expected calibration error after temperature scaling, when the section has one."""
        return None


def _is_figure(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_KINDS: dict[str, type[MetricSection]] = {}


def register_section(cls: type[MetricSection]) -> type[MetricSection]:
    """Class decorator: make a section kind readable from cards."""
    if cls.kind in _KINDS and _KINDS[cls.kind] is not cls:
        raise ValueError(f"metric section kind {cls.kind!r} is registered twice")
    _KINDS[cls.kind] = cls
    return cls


def section_kind(kind: str) -> type[MetricSection]:
    try:
        return _KINDS[kind]
    except KeyError:
        raise SchemaError(f"unknown metric section kind {kind!r} (known: {', '.join(sorted(_KINDS))})") from None


def _resolve_section(data: dict[str, Any], where: str) -> type:
    if "kind" not in data:
        raise SchemaError(f"{where} lacks its 'kind' (one of {', '.join(sorted(_KINDS))})")
    try:
        return section_kind(data["kind"])
    except SchemaError as error:
        raise SchemaError(f"{where}: {error}") from None


register_resolver(MetricSection, _resolve_section)


@dataclass(frozen=True)
class RocCurve:
    """Sensitivity and specificity at every distinct score used as a threshold, highest threshold first."""

    threshold: list[float]
    sensitivity: list[float]
    specificity: list[float]


@dataclass(frozen=True)
class ReliabilityBin:
    lower: float
    upper: float
    count: int
    mean_confidence: float
    accuracy: float


_CALIBRATION_LABELS = {
    "ece_uncalibrated": "ECE before temperature scaling",
    "ece": "ECE after temperature scaling",
}


@register_section
@dataclass(frozen=True)
class BinaryClassificationMetrics(MetricSection):
    """A positive class called at a threshold on calibrated probabilities."""

    kind: ClassVar[str] = "binary_classification"
    title: ClassVar[str] = "binary classification"
    LABELS: ClassVar[dict[str, str]] = {
        "threshold": "Decision threshold",
        "roc_auc": "ROC AUC",
        "accuracy": "Accuracy",
        "sensitivity": "Sensitivity (recall)",
        "specificity": "Specificity",
        "precision": "Precision (PPV)",
        "npv": "NPV",
        "f1": "F1",
        "mcc": "Matthews correlation (MCC)",
        **_CALIBRATION_LABELS,
    }
    HEADLINE: ClassVar[tuple[str, ...]] = ("roc_auc", "accuracy")
    SHORT_LABELS: ClassVar[dict[str, str]] = {"roc_auc": "ROC AUC", "accuracy": "accuracy"}

    n: int
    threshold: float
    accuracy: float
    sensitivity: float
    specificity: float
    precision: float
    npv: float
    f1: float
    mcc: float
    roc_auc: float | None  # None when the split holds one class only
    confusion_matrix: list[list[int]]  # [[TN, FP], [FN, TP]]
    roc: RocCurve
    ece_uncalibrated: float
    ece: float
    reliability: list[ReliabilityBin]

    def roc_curve(self) -> RocCurve:
        return self.roc

    def reliability_bins(self) -> list[ReliabilityBin]:
        return self.reliability

    def calibration_error(self) -> float:
        return self.ece

    @property
    def positives(self) -> int:
        return self.confusion_matrix[1][0] + self.confusion_matrix[1][1]

    def tables(self) -> list[tuple[str, list[dict[str, Any]]]]:
        (tn, fp), (fn, tp) = self.confusion_matrix
        return [
            (
                "Confusion matrix",
                [
                    {"": "actually negative", "called negative": tn, "called positive": fp},
                    {"": "actually positive", "called negative": fn, "called positive": tp},
                ],
            )
        ]


@dataclass(frozen=True)
class ClassFigures:
    precision: float
    recall: float
    f1: float
    support: int


@register_section
@dataclass(frozen=True)
class MultiClassMetrics(MetricSection):
    """The most probable class is the call."""

    kind: ClassVar[str] = "multiclass_classification"
    title: ClassVar[str] = "multi-class classification"
    LABELS: ClassVar[dict[str, str]] = {
        "accuracy": "Accuracy",
        "macro_f1": "Macro-F1 (classes weighted equally)",
        "balanced_accuracy": "Balanced accuracy (mean recall)",
        "mcc": "Matthews correlation (MCC)",
        **_CALIBRATION_LABELS,
    }
    HEADLINE: ClassVar[tuple[str, ...]] = ("accuracy", "macro_f1")
    SHORT_LABELS: ClassVar[dict[str, str]] = {"accuracy": "accuracy", "macro_f1": "macro-F1"}

    n: int
    accuracy: float
    macro_f1: float
    balanced_accuracy: float
    mcc: float
    per_class: dict[str, ClassFigures]
    confusion_matrix: list[list[int]]
    ece_uncalibrated: float
    ece: float
    reliability: list[ReliabilityBin]

    def tables(self) -> list[tuple[str, list[dict[str, Any]]]]:
        return [("Per class", [{"class": name, **dataclasses.asdict(row)} for name, row in self.per_class.items()])]

    def reliability_bins(self) -> list[ReliabilityBin]:
        return self.reliability

    def calibration_error(self) -> float:
        return self.ece


@dataclass(frozen=True)
class Baseline:
    """A simpler model scored on the same test split, for scale (figures keyed like the test section)."""

    model: str
    figures: dict[str, float]
