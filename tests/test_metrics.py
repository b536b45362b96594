import dataclasses

import numpy as np
import pytest

from medmodels.metrics import (
    binary_metrics,
    calibrated_multiclass_metrics,
    expected_calibration_error,
    fit_logit_adjustment,
    fit_temperature,
    operating_point,
    roc_points,
    softmax,
    youden_threshold,
)


def test_binary_metrics_match_the_confusion_matrix():
    y_true = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    prob = np.array([0.9, 0.8, 0.3, 0.2, 0.6, 0.1, 0.4, 0.7])
    metrics = binary_metrics(y_true, prob, threshold=0.5)
    # predictions: 1 1 0 0 1 0 0 1 -> TP 3, FN 1, TN 3, FP 1
    assert metrics["confusion_matrix"] == [[3, 1], [1, 3]]
    assert metrics["accuracy"] == pytest.approx(6 / 8)
    assert metrics["sensitivity"] == pytest.approx(3 / 4)
    assert metrics["specificity"] == pytest.approx(3 / 4)
    assert metrics["precision"] == pytest.approx(3 / 4)
    assert metrics["npv"] == pytest.approx(3 / 4)
    assert metrics["roc_auc"] == pytest.approx(14 / 16)


def test_threshold_moves_the_decision():
    y_true = np.array([0, 1])
    prob = np.array([0.3, 0.6])
    assert binary_metrics(y_true, prob, 0.5)["accuracy"] == 1.0
    assert binary_metrics(y_true, prob, 0.7)["sensitivity"] == 0.0


def test_ece_is_near_zero_when_calibrated_and_large_when_overconfident():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.5, 1.0, 20000)
    correct = rng.uniform(size=p.size) < p
    labels = np.where(correct, 1, 0)
    probabilities = np.stack([1 - p, p], axis=1)
    assert expected_calibration_error(labels, probabilities).ece < 0.02
    overconfident = np.stack([np.zeros_like(p), np.ones_like(p)], axis=1)
    result = expected_calibration_error(labels, overconfident)
    assert result.ece == pytest.approx(1 - labels.mean(), abs=1e-9)
    assert sum(b.count for b in result.bins) == p.size
    assert result.bins[-1].count == p.size  # confidence 1.0 falls in the last bin


def test_temperature_scaling_recovers_the_temperature_that_made_the_logits():
    rng = np.random.default_rng(1)
    true_logits = rng.normal(0, 2, size=(5000, 3))
    labels = np.array([rng.choice(3, p=row) for row in softmax(true_logits)])
    assert fit_temperature(true_logits * 2.5, labels) == pytest.approx(2.5, rel=0.1)


def test_youden_threshold_separates_separable_scores():
    y_true = np.array([0, 0, 0, 1, 1, 1])
    prob = np.array([0.1, 0.2, 0.35, 0.4, 0.8, 0.9])
    threshold = youden_threshold(y_true, prob)
    assert 0.35 < threshold <= 0.4
    assert binary_metrics(y_true, prob, threshold)["accuracy"] == 1.0


def test_operating_point_matches_counting_at_every_threshold():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 300)
    prob = np.round(np.clip(rng.normal(0.35 + 0.3 * y_true, 0.2), 0, 1), 2)  # rounded: many ties
    roc = roc_points(y_true, prob)
    prevalence = y_true.mean()
    for threshold in (0.0, 0.12, 0.35, 0.5, 0.505, 0.9, 1.0, 1.01):
        point = operating_point(roc, threshold, prevalence)
        counted = binary_metrics(y_true, prob, threshold)
        assert point.sensitivity == pytest.approx(counted["sensitivity"], abs=1e-6)
        assert point.specificity == pytest.approx(counted["specificity"], abs=1e-6)
        if 0 < counted["sensitivity"] and counted["specificity"] < 1:
            # At the sample's own prevalence Bayes' rule gives back the counted PPV and NPV.
            assert point.ppv == pytest.approx(counted["precision"], abs=1e-4)  # roc_points keeps 6 decimals
        if counted["specificity"] > 0 and counted["sensitivity"] < 1:
            assert point.npv == pytest.approx(counted["npv"], abs=1e-4)


def test_ppv_falls_and_npv_rises_as_prevalence_falls():
    y_true = np.array([0, 0, 0, 1, 1, 1])
    roc = roc_points(y_true, np.array([0.1, 0.2, 0.6, 0.4, 0.8, 0.9]))
    common, rare = operating_point(roc, 0.5, 0.5), operating_point(roc, 0.5, 0.01)
    assert (common.sensitivity, common.specificity) == (rare.sensitivity, rare.specificity)
    assert rare.ppv < common.ppv and rare.npv > common.npv
    with pytest.raises(ValueError, match="prevalence"):
        operating_point(roc, 0.5, 1.5)


def test_multiclass_metrics_match_hand_counts():
    # Three classes; class 2 is never predicted, so its F1 is 0 and pulls macro-F1 down.
    labels = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 1, 1])
    logits = np.eye(3)[predicted] * 5.0
    metrics = calibrated_multiclass_metrics(logits, labels, 1.0, ["a", "b", "c"])
    assert metrics.accuracy == pytest.approx(4 / 6)
    # a: P 1, R 2/3, F1 0.8; b: P 2/4, R 1, F1 2/3; c: F1 0
    assert dataclasses.asdict(metrics.per_class["a"]) == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3}
    )
    assert metrics.per_class["b"].f1 == pytest.approx(2 / 3)
    assert metrics.macro_f1 == pytest.approx((0.8 + 2 / 3 + 0.0) / 3)
    assert metrics.balanced_accuracy == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert metrics.confusion_matrix == [[2, 1, 0], [0, 2, 0], [0, 1, 0]]


def test_logit_adjustment_recovers_a_rare_class_only_when_it_helps():
    rng = np.random.default_rng(0)
    counts = np.array([900, 100])
    labels = np.repeat([0, 1], counts)
    # A model biased toward the common class: the rare class's logit is lower by log(9) plus noise.
    margin = np.where(labels == 1, 1.0, -1.0) + rng.normal(0, 0.8, len(labels)) - np.log(9)
    logits = np.stack([np.zeros(len(labels)), margin], axis=1)
    strength = fit_logit_adjustment(logits, labels, counts)
    assert strength > 0.3
    adjusted = (logits - strength * np.log(counts / counts.sum())).argmax(axis=1)
    assert (adjusted[labels == 1] == 1).mean() > (logits.argmax(axis=1)[labels == 1] == 1).mean()
    # Balanced, unbiased logits: nothing to adjust.
    balanced = np.array([500, 500])
    even_labels = np.repeat([0, 1], balanced)
    even_logits = np.stack([np.zeros(1000), np.where(even_labels == 1, 1.0, -1.0) + rng.normal(0, 0.8, 1000)], axis=1)
    assert fit_logit_adjustment(even_logits, even_labels, balanced) == 0.0
