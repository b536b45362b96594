import numpy as np
import pytest
import torch

from medmodels.imaging.cross_validation import Candidate, CrossValidation, choose, run_candidate, stratified_folds
from medmodels.imaging.datasets import Augmentation
from medmodels.imaging.models import SmallCNN, SmallCNNConfig, logits_in_batches
from medmodels.metrics import auc_metric
from medmodels.training import TrainConfig


def test_stratified_folds_put_every_image_in_one_fold_and_keep_the_class_balance():
    labels = np.array([0] * 150 + [1] * 474)
    fold_of = stratified_folds(labels, 5, seed=0)
    assert sorted(set(fold_of)) == [0, 1, 2, 3, 4]
    for label in (0, 1):
        counts = np.bincount(fold_of[labels == label], minlength=5)
        assert counts.max() - counts.min() <= 1
    assert np.array_equal(fold_of, stratified_folds(labels, 5, seed=0))
    assert not np.array_equal(fold_of, stratified_folds(labels, 5, seed=1))


def test_a_class_smaller_than_the_number_of_folds_is_refused():
    with pytest.raises(ValueError, match="fewer than 5 folds"):
        stratified_folds(np.array([0] * 20 + [1] * 3), 5, seed=0)


def _blobs(count: int = 60, size: int = 28) -> tuple[torch.Tensor, np.ndarray]:
    """Speckle, half with a bright blob (class 0), as normalised model inputs."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    images, labels = [], []
    for index in range(count):
        image = rng.normal(0, 1, (size, size))
        label = index % 2
        if label == 0:
            y, x = rng.integers(8, 20, 2)
            image += 3 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 10)
        images.append(image)
        labels.append(label)
    return torch.tensor(np.array(images), dtype=torch.float32).unsqueeze(1), np.array(labels)


def test_each_image_is_scored_only_by_the_members_of_its_own_fold():
    inputs, labels = _blobs()
    plan = CrossValidation(
        folds=3,
        seeds_per_fold=2,
        candidates=(Candidate("short", TrainConfig(epochs=2, batch_size=16), Augmentation()),),
    )
    fold_of = stratified_folds(labels, plan.folds, plan.seed)
    config = SmallCNNConfig(widths=(8, 16, 16), hidden=16)
    run = run_candidate(plan.candidates[0], plan, inputs, labels, fold_of, 0, lambda: SmallCNN(config), auc_metric(0))
    assert len(run.members) == 6 and run.member_seeds == [0, 1, 2, 3, 4, 5]
    assert len(run.fold_scores) == 3 and all(0 <= score <= 1 for score in run.fold_scores)
    # Fold f's out-of-fold logits are the mean of members 2f and 2f + 1 on fold f's images, and nobody else's.
    for fold in range(3):
        held = fold_of == fold
        expected = np.mean([logits_in_batches(m, inputs[held]) for m in run.members[2 * fold : 2 * fold + 2]], axis=0)
        np.testing.assert_allclose(run.out_of_fold_logits[held], expected, rtol=1e-5, atol=1e-5)
    # Every member kept its last epoch: the held-out fold drew the curves and chose nothing.
    assert [result.best_epoch for result in run.results] == [2] * 6
    assert {row["fold"] for row in run.history} == {1, 2, 3}
    summary = run.summary()
    assert summary["label"] == "short" and len(summary["fold_roc_auc"]) == 3


def test_the_best_mean_fold_score_wins_and_a_tie_goes_to_the_earlier_candidate():
    def fake(label, scores):
        candidate = Candidate(label, TrainConfig(), Augmentation())
        return type("Run", (), {"candidate": candidate, "fold_scores": scores, "mean_score": float(np.mean(scores))})()

    runs = [fake("a", [0.90, 0.92]), fake("b", [0.95, 0.93]), fake("c", [0.94, 0.94])]
    assert choose(runs).candidate.label == "b"
    tied = [fake("a", [0.9, 0.9]), fake("b", [0.9, 0.9])]
    assert choose(tied).candidate.label == "a"
