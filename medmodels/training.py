"""A model-agnostic trainer: seeded, records per-epoch history, keeps the best epoch.

It knows nothing about the model: batches are ``(inputs, targets)`` pairs (``inputs`` may be a
tuple of tensors, passed positionally), and the caller supplies the loss and the main metric.
Progress goes to a callback so the same loop drives a terminal bar or a dashboard bar.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

Batch = tuple[torch.Tensor | tuple[torch.Tensor, ...], torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# metric(targets, logits) -> float, higher is better (e.g. ROC AUC).
MetricFn = Callable[[torch.Tensor, torch.Tensor], float]


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    # Stop after this many epochs without a better validation metric; None trains every epoch.
    patience: int | None = None


@dataclass(frozen=True)
class TrainingProgress:
    epoch: int
    epochs: int
    step: int
    steps: int
    last_epoch: dict[str, float] | None = None
    # Set by callers that train several models in a row (ensemble members), 1-based.
    member: int = 1
    members: int = 1

    @property
    def fraction(self) -> float:
        done = (self.epoch - 1) * self.steps + self.step
        within = min(done / max(self.epochs * self.steps, 1), 1.0)
        return (self.member - 1 + within) / self.members

    @property
    def message(self) -> str:
        text = f"member {self.member}/{self.members} · " if self.members > 1 else ""
        text += f"epoch {self.epoch}/{self.epochs}"
        if self.last_epoch:
            last = self.last_epoch
            shown = [f"{name} {last[key]:.4f}" for key, name in (("val_loss", "val loss"), ("val_metric", "val metric")) if key in last]
            text += f" · after epoch {last['epoch']}: " + ", ".join(shown or [f"train loss {last['train_loss']:.4f}"])
        return text


ProgressCallback = Callable[[TrainingProgress], None]


def for_member(progress: ProgressCallback | None, member: int, members: int) -> ProgressCallback | None:
    """``progress`` with updates labelled as those of ensemble member ``member`` of ``members``."""
    if progress is None:
        return None
    return lambda update: progress(dataclasses.replace(update, member=member, members=members))


@dataclass
class TrainResult:
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_metric: float = float("-inf")
    stopped_early: bool = False
    seconds: float = 0.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _forward(model: nn.Module, inputs: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    return model(*inputs) if isinstance(inputs, tuple) else model(inputs)


def _run_epoch(
    model: nn.Module,
    batches: Iterable[Batch],
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer | None,
    on_step: Callable[[int], None] | None = None,
) -> tuple[float, torch.Tensor, torch.Tensor]:
    """One pass; trains when ``optimizer`` is given. Returns mean loss, all targets, all logits."""
    training = optimizer is not None
    model.train(training)
    total_loss, count, all_targets, all_logits = 0.0, 0, [], []
    with torch.set_grad_enabled(training):
        for step, (inputs, targets) in enumerate(batches, start=1):
            logits = _forward(model, inputs)
            loss = loss_fn(logits, targets)
            if training:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            total_loss += float(loss.detach()) * len(targets)
            count += len(targets)
            all_targets.append(targets.detach())
            all_logits.append(logits.detach())
            if on_step:
                on_step(step)
    return total_loss / max(count, 1), torch.cat(all_targets), torch.cat(all_logits)


def train(
    model: nn.Module,
    train_batches: Iterable[Batch],
    val_batches: Iterable[Batch],
    loss_fn: LossFn,
    metric_fn: MetricFn,
    config: TrainConfig,
    progress: ProgressCallback | None = None,
) -> TrainResult:
    """Train ``model`` in place with AdamW and a cosine schedule; on return it holds its best epoch's weights.

    ``train_batches`` and ``val_batches`` must be re-iterable (e.g. DataLoaders).
    """
    seed_everything(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(config.epochs, 1))
    steps = len(train_batches)  # type: ignore[arg-type]
    result = TrainResult()
    best_state = copy.deepcopy(model.state_dict())
    started = time.perf_counter()
    last: dict[str, float] | None = None

    for epoch in range(1, config.epochs + 1):
        def on_step(step: int, epoch: int = epoch) -> None:
            if progress:
                progress(TrainingProgress(epoch, config.epochs, step, steps, last))

        train_loss, train_targets, train_logits = _run_epoch(model, train_batches, loss_fn, optimizer, on_step)
        scheduler.step()
        val_loss, val_targets, val_logits = _run_epoch(model, val_batches, loss_fn, None)
        last = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "train_metric": metric_fn(train_targets, train_logits),
            "val_metric": metric_fn(val_targets, val_logits),
            "seconds": time.perf_counter() - started,
        }
        result.history.append(last)
        # Ties go to the lower validation loss, so a saturated metric still selects sensibly.
        best_loss = result.history[result.best_epoch - 1]["val_loss"] if result.best_epoch else float("inf")
        if last["val_metric"] > result.best_metric or (last["val_metric"] == result.best_metric and val_loss < best_loss):
            result.best_metric, result.best_epoch = last["val_metric"], epoch
            best_state = copy.deepcopy(model.state_dict())
        if progress:
            progress(TrainingProgress(epoch, config.epochs, steps, steps, last))
        if config.patience is not None and epoch - result.best_epoch >= config.patience:
            result.stopped_early = True
            break

    model.load_state_dict(best_state)
    model.eval()
    result.seconds = time.perf_counter() - started
    return result


def training_record(results: list[TrainResult], first_seed: int) -> dict[str, object]:
    """What a model card's ``training`` section says about a run of one or more members (member ``i``
    trained with seed ``first_seed + i``): selected epochs, time, and the software that ran it."""
    from medmodels import __version__  # the package imports this module's users, not the other way round

    return {
        "members": len(results),
        "member_seeds": [first_seed + i for i in range(len(results))],
        "best_epochs": [r.best_epoch for r in results],
        "epochs_run": [len(r.history) for r in results],
        "seconds": round(sum(r.seconds for r in results), 1),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "medmodels": __version__,
    }
