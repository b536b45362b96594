import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from medmodels.training import (
    Member,
    Schedule,
    TrainConfig,
    TrainingProgress,
    TrainResult,
    for_member,
    train,
    train_ensemble,
    training_record,
)


def _problem(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 5, generator=generator)
    y = (x[:, 0] + 0.5 * x[:, 1] + 0.3 * torch.randn(256, generator=generator) > 0).long()
    train_loader = DataLoader(
        TensorDataset(x[:192], y[:192]), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    val_loader = DataLoader(TensorDataset(x[192:], y[192:]), batch_size=64)
    return train_loader, val_loader


def _accuracy(targets: torch.Tensor, logits: torch.Tensor) -> float:
    return float((logits.argmax(1) == targets).float().mean())


def _fit(config: TrainConfig, progress=None):
    torch.manual_seed(config.seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    train_loader, val_loader = _problem()
    result = train(model, train_loader, val_loader, F.cross_entropy, _accuracy, config, progress)
    return model, result, val_loader


def test_same_seed_gives_the_same_history_and_weights():
    config = TrainConfig(epochs=4, learning_rate=0.05, seed=3)
    first, first_result, _ = _fit(config)
    second, second_result, _ = _fit(config)

    def without_time(history):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in history]

    assert without_time(first_result.history) == without_time(second_result.history)
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)


def test_history_records_every_epoch_and_the_model_keeps_its_best_epoch():
    model, result, val_loader = _fit(TrainConfig(epochs=6, learning_rate=0.05))
    assert [row["epoch"] for row in result.history] == list(range(1, 7))
    assert {"train_loss", "val_loss", "train_metric", "val_metric"} <= set(result.history[0])
    best = result.history[result.best_epoch - 1]
    assert best["val_metric"] == max(row["val_metric"] for row in result.history)
    x, y = val_loader.dataset.tensors
    with torch.no_grad():
        assert _accuracy(y, model(x)) == best["val_metric"]
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    # A zero learning rate never improves the validation metric after the first epoch.
    _, result, _ = _fit(TrainConfig(epochs=10, learning_rate=0.0, patience=2))
    assert result.stopped_early
    assert result.best_epoch == 1
    assert len(result.history) == 3


def test_progress_callback_reports_monotonic_fractions_ending_at_one():
    updates: list[TrainingProgress] = []
    _fit(TrainConfig(epochs=3, learning_rate=0.05), updates.append)
    fractions = [update.fraction for update in updates]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert updates[-1].last_epoch is not None and updates[-1].last_epoch["epoch"] == 3
    assert "epoch 3/3" in updates[-1].message


def test_member_progress_is_labelled_and_spans_the_whole_ensemble():
    seen = []
    report = for_member(seen.append, 2, 3)
    report(TrainingProgress(epoch=1, epochs=2, step=5, steps=10))
    assert (seen[0].member, seen[0].members) == (2, 3)
    assert seen[0].fraction == pytest.approx((1 + 0.25) / 3) and seen[0].message.startswith("member 2/3")
    assert for_member(None, 1, 2) is None


def test_training_record_lists_each_members_seed_epochs_and_the_total_time():
    results = [
        TrainResult(history=[{}] * 5, best_epoch=3, seconds=1.25),
        TrainResult(history=[{}] * 4, best_epoch=4, seconds=2.0),
    ]
    record = training_record(results, first_seed=7, selection="best validation metric", settings={"epochs": 5})
    assert record.members == 2 and record.member_seeds == [7, 8]
    assert record.best_epochs == [3, 4] and record.epochs_run == [5, 4] and record.seconds == 3.2
    assert record.torch == torch.__version__ and record.torch_threads >= 1


def _linear(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))


def test_gradient_clipping_bounds_each_step_of_a_plain_sgd_optimizer():
    train_loader, _ = _problem()

    def sgd(model, config):
        return torch.optim.SGD(model.parameters(), lr=1.0)

    def first_step_size(clip):
        model = _linear()
        before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        config = TrainConfig(epochs=1, seed=0, grad_clip=clip)
        one_batch = [next(iter(train_loader))]
        train(model, one_batch, None, F.cross_entropy, None, config, optimizer=sgd, schedule=None)
        return float((torch.cat([p.detach().flatten() for p in model.parameters()]) - before).norm())

    assert first_step_size(0.01) == pytest.approx(0.01, rel=1e-4)  # lr 1: the step is the clipped gradient
    assert first_step_size(None) > 0.05


def test_a_per_batch_schedule_steps_once_per_batch_and_a_per_epoch_one_once_per_epoch():
    train_loader, val_loader = _problem()
    steps = []

    def counted(per_batch):
        return Schedule(
            lambda optimizer, epochs, batches: torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda step: steps.append(step) or 1.0
            ),
            per_batch=per_batch,
        )

    train(
        _linear(), train_loader, val_loader, F.cross_entropy, _accuracy, TrainConfig(epochs=2), schedule=counted(True)
    )
    assert len(steps) == 1 + 2 * len(train_loader)  # LambdaLR evaluates once when built
    steps.clear()
    train(
        _linear(), train_loader, val_loader, F.cross_entropy, _accuracy, TrainConfig(epochs=2), schedule=counted(False)
    )
    assert len(steps) == 1 + 2


def test_an_evaluate_callback_picks_the_kept_epoch_by_its_selection_key():
    train_loader, _ = _problem()
    scores = iter([0.2, 0.9, 0.5])
    snapshots = []

    def evaluate(model):
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return {"dev_score": next(scores), "val_metric": 0.0}

    model = _linear()
    config = TrainConfig(epochs=3, learning_rate=0.05)
    result = train(
        model, train_loader, None, F.cross_entropy, None, config, evaluate=evaluate, selection_key="dev_score"
    )
    assert result.best_epoch == 2 and [row["dev_score"] for row in result.history] == [0.2, 0.9, 0.5]
    assert all(torch.equal(model.state_dict()[k], snapshots[1][k]) for k in snapshots[1])


def test_on_epoch_end_sees_each_row_and_can_stop_the_run():
    train_loader, val_loader = _problem()
    seen = []
    result = train(
        _linear(),
        train_loader,
        val_loader,
        F.cross_entropy,
        _accuracy,
        TrainConfig(epochs=10, learning_rate=0.05),
        on_epoch_end=lambda row: seen.append(row["epoch"]) or row["epoch"] == 3,
    )
    assert seen == [1, 2, 3] and len(result.history) == 3 and result.stopped_early


def test_without_validation_every_epoch_is_trained_and_the_last_kept():
    train_loader, _ = _problem()
    result = train(_linear(), train_loader, None, F.cross_entropy, None, TrainConfig(epochs=3, learning_rate=0.05))
    assert result.best_epoch == 3 and [set(row) for row in result.history] == [{"epoch", "train_loss", "seconds"}] * 3


def test_curves_without_a_selection_key_are_recorded_but_the_last_epoch_is_kept():
    # Cross-validation scores each held-out fold after every epoch for the curves; that fold must choose nothing.
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    train_loader, val_loader = _problem()
    config = TrainConfig(epochs=5, learning_rate=0.05)
    result = train(model, train_loader, val_loader, F.cross_entropy, _accuracy, config, selection_key=None)
    assert result.best_epoch == 5 and all("val_metric" in row for row in result.history)
    x, y = val_loader.dataset.tensors
    with torch.no_grad():
        assert _accuracy(y, model(x)) == result.history[-1]["val_metric"]


def test_an_ensemble_trains_each_member_with_its_own_seed_and_labels_its_history():
    train_loader, val_loader = _problem()
    members = [_linear(1), _linear(2)]
    seeds = []

    def setup(index, seed):
        seeds.append(seed)
        return Member(train_loader, val_loader, F.cross_entropy)

    trained = train_ensemble(members, setup, _accuracy, TrainConfig(epochs=2, seed=5, learning_rate=0.05))
    assert seeds == [5, 6] and len(trained.results) == 2
    assert [row["member"] for row in trained.history] == [1, 1, 2, 2]
    alone = train_ensemble([_linear(1)], setup, _accuracy, TrainConfig(epochs=2, seed=5, learning_rate=0.05))
    assert all("member" not in row for row in alone.history)
