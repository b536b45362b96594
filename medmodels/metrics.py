"""Classification metrics: a thin layer over scikit-learn plus calibration helpers it lacks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    matthews_corrcoef,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from medmodels.sections import BinaryClassificationMetrics, ClassFigures, MultiClassMetrics, ReliabilityBin, RocCurve


@dataclass(frozen=True)
class Calibration:
    """Expected calibration error of top-label confidence (Guo et al. 2017) and its diagram bins."""

    ece: float
    bins: list[ReliabilityBin]


def binary_metrics(y_true: np.ndarray, prob_positive: np.ndarray, threshold: float = 0.5) -> dict[str, object]:
    """Threshold-dependent and ranking metrics for a binary classifier; label 1 is the positive class."""
    y_true = np.asarray(y_true).astype(int).ravel()
    prob_positive = np.asarray(prob_positive, dtype=float).ravel()
    y_pred = (prob_positive >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    both_classes = len(np.unique(y_true)) == 2
    return {
        "n": len(y_true),
        "threshold": float(threshold),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "sensitivity": float(recall_score(y_true, y_pred, zero_division=0)),
        "specificity": float(recall_score(y_true, y_pred, pos_label=0, zero_division=0)),
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "npv": float(tn / (tn + fn)) if (tn + fn) else 0.0,
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
        "mcc": float(matthews_corrcoef(y_true, y_pred)),
        "roc_auc": float(roc_auc_score(y_true, prob_positive)) if both_classes else float("nan"),
        "confusion_matrix": [[int(tn), int(fp)], [int(fn), int(tp)]],
    }


def expected_calibration_error(y_true: np.ndarray, probabilities: np.ndarray, n_bins: int = 10) -> Calibration:
    """ECE over equal-width confidence bins; ``probabilities`` is ``(N, C)`` and rows sum to one."""
    y_true = np.asarray(y_true).astype(int).ravel()
    probabilities = np.asarray(probabilities, dtype=float)
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == y_true).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Right-closed bins so a confidence of exactly 1.0 lands in the last bin.
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    bins, ece = [], 0.0
    for index in range(n_bins):
        members = which == index
        count = int(members.sum())
        mean_confidence = float(confidence[members].mean()) if count else 0.0
        accuracy = float(correct[members].mean()) if count else 0.0
        ece += count / max(len(y_true), 1) * abs(accuracy - mean_confidence)
        bins.append(ReliabilityBin(float(edges[index]), float(edges[index + 1]), count, mean_confidence, accuracy))
    return Calibration(float(ece), bins)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``."""
    return torch.softmax(torch.as_tensor(logits, dtype=torch.float64) / temperature, dim=-1).numpy()


def fit_temperature(logits: np.ndarray, y_true: np.ndarray, max_iter: int = 200) -> float:
    """Temperature minimising the negative log-likelihood of held-out ``logits`` (temperature scaling)."""
    logits_t = torch.as_tensor(logits, dtype=torch.float64)
    labels_t = torch.as_tensor(np.asarray(y_true).ravel(), dtype=torch.long)
    # Optimise log T so the temperature stays positive.
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits_t / log_t.exp(), labels_t)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.exp().item())


def youden_threshold(y_true: np.ndarray, prob_positive: np.ndarray) -> float:
    """Threshold maximising sensitivity + specificity - 1 (Youden's J).

    Unlike an accuracy-maximising cut it does not depend on the prevalence of the
    selection set, which matters when the deployment prevalence differs.
    """
    fpr, tpr, thresholds = roc_curve(np.asarray(y_true).ravel(), np.asarray(prob_positive).ravel())
    best = int(np.argmax(tpr - fpr))
    return float(min(thresholds[best], 1.0))


def roc_points(y_true: np.ndarray, prob_positive: np.ndarray) -> RocCurve:
    """Sensitivity and specificity at every distinct score used as threshold, highest first.

    Stored in the model card so any operating point can be read off later without the data.
    """
    fpr, tpr, thresholds = roc_curve(
        np.asarray(y_true).ravel(), np.asarray(prob_positive).ravel(), drop_intermediate=False
    )
    keep = np.isfinite(thresholds)  # scikit-learn prepends an infinite threshold (nothing positive)
    return RocCurve(
        threshold=[round(float(t), 6) for t in thresholds[keep]],
        sensitivity=[round(float(t), 6) for t in tpr[keep]],
        specificity=[round(float(1 - f), 6) for f in fpr[keep]],
    )


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    sensitivity: float
    specificity: float
    prevalence: float
    ppv: float  # NaN when nothing is called positive
    npv: float  # NaN when nothing is called negative


def operating_point(roc: RocCurve, threshold: float, prevalence: float) -> OperatingPoint:
    """Sensitivity and specificity at ``threshold`` (score >= threshold is positive) from ``roc_points``,
    with PPV and NPV by Bayes' rule at ``prevalence``, which need not be the evaluation set's."""
    if not 0.0 <= prevalence <= 1.0:
        raise ValueError(f"prevalence must be between 0 and 1, got {prevalence}")
    called = int(np.sum(np.asarray(roc.threshold) >= threshold))  # thresholds are in decreasing order
    sensitivity = roc.sensitivity[called - 1] if called else 0.0
    specificity = roc.specificity[called - 1] if called else 1.0
    true_pos, false_pos = sensitivity * prevalence, (1 - specificity) * (1 - prevalence)
    true_neg, false_neg = specificity * (1 - prevalence), (1 - sensitivity) * prevalence
    ppv = true_pos / (true_pos + false_pos) if true_pos + false_pos > 0 else float("nan")
    npv = true_neg / (true_neg + false_neg) if true_neg + false_neg > 0 else float("nan")
    return OperatingPoint(
        float(threshold), float(sensitivity), float(specificity), float(prevalence), float(ppv), float(npv)
    )


def calibrated_binary_metrics(
    logits: np.ndarray, labels: np.ndarray, temperature: float, threshold: float, positive_index: int
) -> BinaryClassificationMetrics:
    """A split's entry in a model card: binary metrics of the positive class at ``threshold`` on
    temperature-scaled probabilities, the full ROC curve, and calibration before and after scaling."""
    calibrated = softmax(logits, temperature)
    positive = np.asarray(labels) == positive_index
    metrics = binary_metrics(positive, calibrated[:, positive_index], threshold)
    after = expected_calibration_error(labels, calibrated)
    auc = metrics.pop("roc_auc")
    return BinaryClassificationMetrics(
        **metrics,  # type: ignore[arg-type]
        roc_auc=None if np.isnan(auc) else auc,
        roc=roc_points(positive, calibrated[:, positive_index]),
        ece_uncalibrated=expected_calibration_error(labels, softmax(logits)).ece,
        ece=after.ece,
        reliability=after.bins,
    )


def calibrated_multiclass_metrics(
    logits: np.ndarray, labels: np.ndarray, temperature: float, label_names: list[str]
) -> MultiClassMetrics:
    """A split's entry in a model card for a classifier deciding by the most probable class: accuracy,
    macro-F1 (every class counts equally, however rare), per-class figures and calibration."""
    labels = np.asarray(labels).astype(int).ravel()
    calibrated = softmax(logits, temperature)
    predicted = calibrated.argmax(axis=1)
    classes = list(range(len(label_names)))
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=classes, zero_division=0)
    after = expected_calibration_error(labels, calibrated)
    return MultiClassMetrics(
        n=len(labels),
        **accuracy_and_macro_f1_scores(labels, predicted, len(label_names)),
        balanced_accuracy=float(balanced_accuracy_score(labels, predicted)),
        mcc=float(matthews_corrcoef(labels, predicted)),
        per_class={
            name: ClassFigures(float(p), float(r), float(f), int(n))
            for name, p, r, f, n in zip(label_names, precision, recall, f1, support)
        },
        confusion_matrix=confusion_matrix(labels, predicted, labels=classes).tolist(),
        ece_uncalibrated=expected_calibration_error(labels, softmax(logits)).ece,
        ece=after.ece,
        reliability=after.bins,
    )


def fit_logit_adjustment(
    logits: np.ndarray, labels: np.ndarray, class_counts: np.ndarray, strengths: np.ndarray | None = None
) -> float:
    """Strength ``tau`` of the class-prior logit adjustment ``logits - tau * log(prior)`` (Menon et al., ICLR 2021)
    maximising the mean of accuracy and macro-F1 on held-out ``logits``. A positive ``tau`` trades accuracy on
    common classes for recall on rare ones; a negative one undoes part of a class weighting used in training.
    Default grid: -1 to 1.5 in steps of 0.1. Ties go to the ``tau`` nearest zero."""
    labels = np.asarray(labels).astype(int).ravel()
    log_prior = np.log(np.asarray(class_counts, dtype=np.float64) / np.sum(class_counts))
    strengths = np.round(np.linspace(-1.0, 1.5, 26), 2) if strengths is None else np.asarray(strengths)
    strengths = strengths[np.argsort(np.abs(strengths), kind="stable")]  # argmax keeps the first of equals

    scores = [
        mean_accuracy_and_macro_f1(labels, (logits - tau * log_prior).argmax(axis=1), len(log_prior))
        for tau in strengths
    ]
    return float(strengths[int(np.argmax(scores))])


def accuracy_and_macro_f1_scores(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> dict[str, float]:
    """Accuracy, and macro-F1 over all ``num_classes`` (a class never predicted counts as F1 0)."""
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "macro_f1": float(
            f1_score(labels, predicted, labels=list(range(num_classes)), average="macro", zero_division=0)
        ),
    }


def mean_accuracy_and_macro_f1(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> float:
    """Mean of accuracy and macro-F1: a selection criterion that weighs common and rare classes alike."""
    scores = accuracy_and_macro_f1_scores(labels, predicted, num_classes)
    return (scores["accuracy"] + scores["macro_f1"]) / 2


def accuracy_and_macro_f1(targets: torch.Tensor, logits: torch.Tensor) -> float:
    """``mean_accuracy_and_macro_f1`` of the most probable class from ``(targets, logits)``: a trainer selection metric."""
    return mean_accuracy_and_macro_f1(targets.numpy(), logits.argmax(dim=1).numpy(), logits.shape[1])


def auc_metric(positive_index: int) -> Callable[[torch.Tensor, torch.Tensor], float]:
    """ROC AUC of the positive class from ``(targets, logits)`` tensors: the trainer's selection metric."""

    def metric(targets: torch.Tensor, logits: torch.Tensor) -> float:
        return float(
            roc_auc_score(targets.numpy() == positive_index, torch.softmax(logits, 1)[:, positive_index].numpy())
        )

    return metric
