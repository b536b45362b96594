import json

import pytest
import torch

from medmodels import CheckpointError, ModelCard, create_model, installed_models, load_checkpoint, save_checkpoint
from medmodels.checkpoints import FORMAT_VERSION, WEIGHTS_DIR, read_card


def _save_small(tmp_path):
    model = create_model("imaging.pneumonia", widths=(4, 8), hidden=8)
    card = ModelCard(
        name="imaging.pneumonia",
        architecture="SmallCNN",
        config={"widths": [4, 8], "hidden": 8},
        labels=["normal", "pneumonia"],
        task="test",
        preprocessing={"input_size": 28, "mean": 0.5, "std": 0.25},
        threshold=0.4,
        temperature=1.5,
        history=[{"epoch": 1, "train_loss": 0.5, "val_loss": 0.4, "train_metric": 0.8, "val_metric": 0.9}],
    )
    save_checkpoint(model, card, tmp_path)
    return model, card


def test_card_round_trips_through_json(tmp_path):
    _, card = _save_small(tmp_path)
    assert read_card(tmp_path / "imaging.pneumonia.json") == card


def test_config_from_the_card_rebuilds_the_architecture(tmp_path):
    _save_small(tmp_path)
    model, card = load_checkpoint("imaging.pneumonia", tmp_path)
    assert card.config["widths"] == [4, 8]
    assert model.blocks[0][0].out_channels == 4


def test_unsupported_format_version_is_refused(tmp_path):
    _save_small(tmp_path)
    path = tmp_path / "imaging.pneumonia.json"
    data = json.loads(path.read_text())
    data["format_version"] = FORMAT_VERSION + 1
    path.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="format version"):
        load_checkpoint("imaging.pneumonia", tmp_path)


def test_unknown_card_field_is_refused_by_name(tmp_path):
    _save_small(tmp_path)
    path = tmp_path / "imaging.pneumonia.json"
    data = json.loads(path.read_text())
    data["surprise"] = 1
    path.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="unknown field\\(s\\): surprise"):
        load_checkpoint("imaging.pneumonia", tmp_path)


def test_missing_and_corrupt_weights_give_clear_errors(tmp_path):
    _save_small(tmp_path)
    weights = tmp_path / "imaging.pneumonia.safetensors"
    weights.write_bytes(b"\x80\x04not safetensors, perhaps a pickle")
    with pytest.raises(CheckpointError, match="not valid safetensors"):
        load_checkpoint("imaging.pneumonia", tmp_path)
    weights.unlink()
    with pytest.raises(CheckpointError, match="weights not found"):
        load_checkpoint("imaging.pneumonia", tmp_path)


def test_card_for_another_model_is_refused(tmp_path):
    _save_small(tmp_path)
    (tmp_path / "imaging.pneumonia.json").rename(tmp_path / "imaging.other.json")
    (tmp_path / "imaging.pneumonia.safetensors").rename(tmp_path / "imaging.other.safetensors")
    with pytest.raises(CheckpointError, match="describes 'imaging.pneumonia'"):
        load_checkpoint("imaging.other", tmp_path)


def test_shipped_pneumonia_checkpoint_is_complete_and_small():
    cards = {card.name: card for card in installed_models()}
    card = cards["imaging.pneumonia"]
    assert (WEIGHTS_DIR / "imaging.pneumonia.safetensors").stat().st_size < 5_000_000
    # Everything a reviewer needs to judge the model is in the card.
    assert card.metrics["test"]["roc_auc"] >= 0.95 and card.metrics["test"]["accuracy"] >= 0.88
    assert set(card.metrics) == {"validation", "test"}
    assert len(card.history) == card.training["epochs_run"] >= card.training["best_epoch"] >= 1
    assert {"train_loss", "val_loss", "train_metric", "val_metric"} <= set(card.history[0])
    assert card.data["files"] == {"medmnist/pneumoniamnist.npz": "28209eda62fecd6e6a2d98b1501bb15f"}
    assert card.data["splits"] == {"train": 4708, "validation": 524, "test": 624}
    assert 0 < card.threshold < 1 and card.temperature > 0
    assert "not a medical device" in " ".join(card.limitations).lower()
    assert card.reproduce.startswith("python -m medmodels train imaging.pneumonia")
    model, _ = load_checkpoint("imaging.pneumonia")
    assert torch.isfinite(model(torch.zeros(1, 1, 28, 28))).all()
