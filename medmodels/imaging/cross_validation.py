"""Choosing an imaging recipe by k-fold cross-validation over train + validation pooled.

For a data set whose validation split is too small to choose on (BreastMNIST: 78 images, 21 malignant),
every candidate recipe trains one small seed ensemble per fold on the other folds, and is judged by its
mean ROC AUC over the held-out folds. Each member keeps its last epoch, so no held-out image chooses
anything. The chosen candidate's fold ensembles together are the shipped model, and their out-of-fold
logits (every pooled image scored by the members that never saw it) fit its temperature and threshold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from torch import nn

from medmodels.imaging.datasets import Augmentation, make_loader
from medmodels.imaging.models import logits_in_batches
from medmodels.training import MetricFn, ProgressCallback, TrainConfig, TrainResult, for_member, train


@dataclass(frozen=True)
class Candidate:
    """One recipe that cross-validation compares."""

    label: str
    train: TrainConfig
    augmentation: Augmentation


@dataclass(frozen=True)
class CrossValidation:
    """``folds`` stratified folds of train + validation (dealt with ``seed``), ``seeds_per_fold`` members per
    fold; the candidate with the best mean held-out ROC AUC ships as ``folds * seeds_per_fold`` members."""

    folds: int
    seeds_per_fold: int
    candidates: tuple[Candidate, ...]
    seed: int = 0

    @property
    def members(self) -> int:
        return self.folds * self.seeds_per_fold


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """The fold (0 to ``folds - 1``) of each example: each class is shuffled with ``seed`` and dealt in turn,
    so every fold keeps the class balance to within one example."""
    if folds < 2:
        raise ValueError("cross-validation needs at least two folds")
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(labels), dtype=np.int64)
    dealt = 0
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        if len(members) < folds:
            raise ValueError(f"class {label} has {len(members)} example(s), fewer than {folds} folds")
        # Continue the deal where the previous class stopped, so small folds do not all start at fold 0.
        fold_of[members] = (np.arange(len(members)) + dealt) % folds
        dealt += len(members)
    return fold_of


@dataclass
class CandidateRun:
    """A candidate's fold ensembles and what they scored on the folds they never saw."""

    candidate: Candidate
    members: list[nn.Module]  # fold by fold, ``seeds_per_fold`` each
    member_seeds: list[int]
    out_of_fold_logits: np.ndarray  # (N, classes): each image by its own fold's members (mean logits)
    fold_scores: list[float]  # held-out ROC AUC of each fold's ensemble
    results: list[TrainResult]
    history: list[dict[str, float]]  # every member's rows, labelled with its member number and fold

    @property
    def mean_score(self) -> float:
        return float(np.mean(self.fold_scores))

    def summary(self) -> dict[str, object]:
        return {
            "label": self.candidate.label,
            "mean_fold_roc_auc": round(self.mean_score, 4),
            "fold_roc_auc_sd": round(float(np.std(self.fold_scores)), 4),
            "fold_roc_auc": [round(score, 4) for score in self.fold_scores],
            "train": dataclasses.asdict(self.candidate.train),
            "augmentation": dataclasses.asdict(self.candidate.augmentation),
        }


def run_candidate(
    candidate: Candidate,
    plan: CrossValidation,
    inputs: torch.Tensor,
    labels: np.ndarray,
    fold_of: np.ndarray,
    positive: int,
    new_member: Callable[[], nn.Module],
    metric: MetricFn,
    progress: ProgressCallback | None = None,
    *,
    first_member: int = 1,
    total_members: int | None = None,
) -> CandidateRun:
    """Train ``candidate`` on each fold's complement and score the held-out fold. Member ``k`` (0-based over
    the whole run) trains with seed ``candidate.train.seed + k``; progress counts members from ``first_member``
    of ``total_members``, so several candidates share one bar."""
    total = total_members or plan.members
    members, seeds, results, history = [], [], [], []
    out_of_fold = np.zeros((len(labels), 0))
    fold_scores = []
    for fold in range(plan.folds):
        held = fold_of == fold
        kept = ~held
        held_batches = make_loader(inputs[held], labels[held], 512)
        fold_logits = []
        for _ in range(plan.seeds_per_fold):
            index = len(members)
            config = dataclasses.replace(candidate.train, seed=candidate.train.seed + index)
            batches = make_loader(
                inputs[kept],
                labels[kept],
                config.batch_size,
                augmentation=candidate.augmentation,
                seed=config.seed,
            )
            member = new_member()
            result = train(
                member,
                batches,
                held_batches,  # scored after every epoch for the curves; never chooses an epoch
                F.cross_entropy,
                metric,
                config,
                for_member(progress, first_member + index, total),
                selection_key=None,
            )
            members.append(member)
            seeds.append(config.seed)
            results.append(result)
            history += [{"member": index + 1, "fold": fold + 1, **row} for row in result.history]
            fold_logits.append(logits_in_batches(member, inputs[held]))
        mean_logits = np.mean(fold_logits, axis=0)
        if out_of_fold.shape[1] == 0:
            out_of_fold = np.zeros((len(labels), mean_logits.shape[1]))
        out_of_fold[held] = mean_logits
        fold_scores.append(float(roc_auc_score(labels[held] == positive, _positive_probability(mean_logits, positive))))
    return CandidateRun(candidate, members, seeds, out_of_fold, fold_scores, results, history)


def _positive_probability(logits: np.ndarray, positive: int) -> np.ndarray:
    return torch.softmax(torch.from_numpy(logits), dim=1)[:, positive].numpy()


def choose(runs: list[CandidateRun]) -> CandidateRun:
    """The run with the best mean held-out ROC AUC; a tie goes to the earlier (simpler) candidate."""
    return max(runs, key=lambda run: (run.mean_score, -runs.index(run)))
