"""One model-agnostic trainer (minGPT style): seeded, records per-epoch history, keeps the best epoch.

It knows nothing about the model. Batches are ``(inputs, targets)`` pairs (``inputs`` may be a tuple,
passed positionally); the caller supplies the loss, and may supply an optimizer factory, a learning-rate
schedule, gradient clipping, and callbacks: ``evaluate`` scores the model after each epoch (its figures
join the history and ``selection_key`` picks the best epoch), ``on_epoch_end`` sees each epoch's row and
may stop the run, and ``progress`` drives a terminal bar or a dashboard bar. ``train_ensemble`` trains
seed-ensemble members in turn.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from medmodels.cards import TrainingRecord

Batch = tuple[Any, torch.Tensor]
# loss(outputs, targets): ``outputs`` is whatever the model returns.
LossFn = Callable[[Any, torch.Tensor], torch.Tensor]
# metric(targets, logits) -> float, higher is better (e.g. ROC AUC).
MetricFn = Callable[[torch.Tensor, torch.Tensor], float]
OptimizerFactory = Callable[[nn.Module, "TrainConfig"], torch.optim.Optimizer]
# evaluate(model) -> figures for the epoch's history row, e.g. {"val_metric": 0.91}.
EvaluateFn = Callable[[nn.Module], dict[str, float]]
# on_epoch_end(row) -> True to stop training after this epoch.
EpochEndFn = Callable[[dict[str, float]], bool | None]


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    # Stop after this many epochs without a better validation metric; None trains every epoch.
    patience: int | None = None
    # Clip the gradient norm of the optimised parameters to this value; None leaves gradients as they are.
    grad_clip: float | None = None


def adamw(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The default optimizer: AdamW over every parameter, with the config's learning rate and weight decay."""
    return torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule: ``build(optimizer, epochs, steps_per_epoch)``, stepped after every epoch,
    or after every batch (``per_batch``)."""

    build: Callable[[torch.optim.Optimizer, int, int], torch.optim.lr_scheduler.LRScheduler]
    per_batch: bool = False


COSINE = Schedule(
    lambda optimizer, epochs, steps: torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
)


def one_cycle(max_learning_rate: float) -> Schedule:
    """A one-cycle schedule over the whole run, stepped every batch."""
    return Schedule(
        lambda optimizer, epochs, steps: torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=max_learning_rate, total_steps=epochs * steps
        ),
        per_batch=True,
    )


@dataclass(frozen=True)
class TrainingProgress:
    epoch: int
    epochs: int
    step: int
    steps: int
    last_epoch: dict[str, float] | None = None
    # Set by callers that train several models in a row (ensemble members, stages), 1-based.
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
            shown = [
                f"{name} {last[key]:.4f}"
                for key, name in (("val_loss", "val loss"), ("val_metric", "val metric"))
                if key in last
            ]
            text += f" · after epoch {last['epoch']}: " + ", ".join(shown or [f"train loss {last['train_loss']:.4f}"])
        return text


ProgressCallback = Callable[[TrainingProgress], None]


def for_member(progress: ProgressCallback | None, member: int, members: int) -> ProgressCallback | None:
    """``progress`` with updates labelled as those of member (or stage) ``member`` of ``members``."""
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


def _forward(model: nn.Module, inputs: Any) -> Any:
    return model(*inputs) if isinstance(inputs, tuple) else model(inputs)


def _logits(outputs: Any) -> torch.Tensor:
    """The logits among a model's outputs: the first, when it returns several (logits, attention)."""
    return outputs[0] if isinstance(outputs, tuple) else outputs


def _run_epoch(
    model: nn.Module,
    batches: Iterable[Batch],
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    grad_clip: float | None = None,
    keep_logits: bool = False,
    on_step: Callable[[int], None] | None = None,
) -> tuple[float, torch.Tensor | None, torch.Tensor | None]:
    """One pass; trains when ``optimizer`` is given (stepping a per-batch ``scheduler``). Returns the mean
    loss per example, and (``keep_logits``) every target and logit for the metric. Empty batches are skipped."""
    training = optimizer is not None
    model.train(training)
    total_loss, count, all_targets, all_logits = 0.0, 0, [], []
    parameters = [p for group in optimizer.param_groups for p in group["params"]] if training else []
    with torch.set_grad_enabled(training):
        for step, (inputs, targets) in enumerate(batches, start=1):
            if len(targets) == 0:  # nothing to learn from, e.g. a document without candidate pairs
                continue
            outputs = _forward(model, inputs)
            loss = loss_fn(outputs, targets)
            if training:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
            total_loss += float(loss.detach()) * len(targets)
            count += len(targets)
            if keep_logits:
                all_targets.append(targets.detach())
                all_logits.append(_logits(outputs).detach())
            if on_step:
                on_step(step)
    if not keep_logits:
        return total_loss / max(count, 1), None, None
    return total_loss / max(count, 1), torch.cat(all_targets), torch.cat(all_logits)


def train(
    model: nn.Module,
    train_batches: Iterable[Batch],
    val_batches: Iterable[Batch] | None,
    loss_fn: LossFn,
    metric_fn: MetricFn | None,
    config: TrainConfig,
    progress: ProgressCallback | None = None,
    *,
    optimizer: OptimizerFactory = adamw,
    schedule: Schedule | None = COSINE,
    evaluate: EvaluateFn | None = None,
    selection_key: str | None = "val_metric",
    on_epoch_end: EpochEndFn | None = None,
) -> TrainResult:
    """Train ``model`` in place; on return it holds its best epoch's weights, in eval mode.

    After each epoch the model is scored on ``val_batches`` (loss, and ``metric_fn`` as ``val_metric``)
    and by ``evaluate``; the epoch with the highest ``selection_key`` is kept (ties: the lower validation
    loss, else the earlier epoch). With neither, or with ``selection_key=None`` (curves recorded, nothing
    chosen on them), every epoch is trained and the last is kept.
    ``train_batches`` and ``val_batches`` must be re-iterable (e.g. DataLoaders).
    """
    seed_everything(config.seed)
    optimiser = optimizer(model, config)
    steps = len(train_batches)  # type: ignore[arg-type]
    scheduler = schedule.build(optimiser, config.epochs, steps) if schedule is not None else None
    per_batch = scheduler if schedule is not None and schedule.per_batch else None
    selects = selection_key is not None and (val_batches is not None or evaluate is not None)
    result = TrainResult()
    best_state = None
    started = time.perf_counter()
    last: dict[str, float] | None = None

    for epoch in range(1, config.epochs + 1):

        def on_step(step: int, epoch: int = epoch, last: dict[str, float] | None = last) -> None:
            if progress:
                progress(TrainingProgress(epoch, config.epochs, step, steps, last))

        train_loss, train_targets, train_logits = _run_epoch(
            model,
            train_batches,
            loss_fn,
            optimiser,
            scheduler=per_batch,
            grad_clip=config.grad_clip,
            keep_logits=metric_fn is not None,
            on_step=on_step,
        )
        if scheduler is not None and per_batch is None:
            scheduler.step()
        row: dict[str, float] = {"epoch": epoch, "train_loss": train_loss}
        if val_batches is not None:
            val_loss, val_targets, val_logits = _run_epoch(
                model, val_batches, loss_fn, keep_logits=metric_fn is not None
            )
            row["val_loss"] = val_loss
            if metric_fn is not None:
                row["train_metric"] = metric_fn(train_targets, train_logits)
                row["val_metric"] = metric_fn(val_targets, val_logits)
        if evaluate is not None:
            model.eval()
            row.update(evaluate(model))
        row["seconds"] = time.perf_counter() - started
        last = row
        result.history.append(row)
        if selects and _better(row, result, selection_key):
            result.best_metric, result.best_epoch = row[selection_key], epoch
            best_state = copy.deepcopy(model.state_dict())
        if progress:
            progress(TrainingProgress(epoch, config.epochs, steps, steps, last))
        stop = bool(on_epoch_end(row)) if on_epoch_end is not None else False
        if config.patience is not None and selects and epoch - result.best_epoch >= config.patience:
            result.stopped_early = True
            break
        if stop:
            result.stopped_early = True
            break

    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        result.best_epoch = len(result.history)
    model.eval()
    result.seconds = time.perf_counter() - started
    return result


def _better(row: dict[str, float], result: TrainResult, key: str) -> bool:
    """Whether ``row`` beats the best epoch so far; ties go to the lower validation loss, so a saturated
    metric still selects sensibly."""
    if row[key] > result.best_metric:
        return True
    if row[key] == result.best_metric and "val_loss" in row:
        return row["val_loss"] < result.history[result.best_epoch - 1]["val_loss"]
    return False


@dataclass(frozen=True)
class Member:
    """What one ensemble member trains on: its batches and its loss (members may weight classes differently)."""

    train_batches: Iterable[Batch]
    val_batches: Iterable[Batch] | None
    loss_fn: LossFn


@dataclass
class EnsembleResult:
    results: list[TrainResult]
    history: list[dict[str, float]]  # every member's rows, labelled ``member`` when there are several


def train_ensemble(
    members: Sequence[nn.Module],
    setup: Callable[[int, int], Member],
    metric_fn: MetricFn | None,
    config: TrainConfig,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> EnsembleResult:
    """Train each of ``members`` in turn; member ``i`` (0-based) trains with seed ``config.seed + i`` on
    ``setup(i, seed)``. ``options`` go to ``train`` (optimizer, schedule, callbacks)."""
    results, history = [], []
    for index, member in enumerate(members):
        member_config = dataclasses.replace(config, seed=config.seed + index)
        task = setup(index, member_config.seed)
        result = train(
            member,
            task.train_batches,
            task.val_batches,
            task.loss_fn,
            metric_fn,
            member_config,
            for_member(progress, index + 1, len(members)),
            **options,
        )
        results.append(result)
        history += [{"member": index + 1, **row} if len(members) > 1 else row for row in result.history]
    return EnsembleResult(results, history)


def training_record(
    results: list[TrainResult],
    first_seed: int,
    *,
    selection: str,
    settings: dict[str, Any],
    details: dict[str, Any] | None = None,
) -> TrainingRecord:
    """A model card's training record of a run of one or more members (member ``i`` trained with seed
    ``first_seed + i``): selected epochs, time, the software that ran it, and the recipe's settings."""
    from medmodels import __version__  # the package imports this module's users, not the other way round

    return TrainingRecord(
        members=len(results),
        best_epochs=[r.best_epoch for r in results],
        epochs_run=[len(r.history) for r in results],
        seconds=round(sum(r.seconds for r in results), 1),
        selection=selection,
        torch_threads=torch.get_num_threads(),
        torch=torch.__version__,
        medmodels=__version__,
        member_seeds=[first_seed + i for i in range(len(results))],
        settings=settings,
        details=details or {},
    )
