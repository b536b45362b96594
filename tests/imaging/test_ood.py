"""The out-of-distribution gate: it lets the training kind of scan through and stops the others."""

import numpy as np
import pytest
import torch
from PIL import Image

from medmodels.cards import read_card, write_card
from medmodels.checkpoints import WEIGHTS_DIR, CheckpointError, installed_models
from medmodels.imaging.classifier import ImageClassifier
from medmodels.imaging.datasets import load_medmnist, to_tensor
from medmodels.imaging.ood import fit_gate, gate_path, load_gate, save_gate
from medmodels.imaging.recipes import DATASETS, ct_mr_reference_inputs

IMAGING_MODELS = [card.name for card in installed_models() if card.name.startswith("imaging.")]


def two_classes(rng: np.random.Generator, count: int, shift: float = 0.0) -> tuple[torch.Tensor, np.ndarray]:
    labels = rng.integers(0, 2, count)
    features = rng.normal(size=(count, 6)) + labels[:, None] * 3.0 + shift
    return torch.from_numpy(features).float(), labels


def test_gate_passes_fresh_in_distribution_samples_at_its_quantile_and_stops_shifted_ones():
    rng = np.random.default_rng(0)
    gate = fit_gate(*two_classes(rng, 4000), quantile=0.95)
    fresh, _ = two_classes(rng, 4000)
    assert 0.03 < float(gate.is_out_of_distribution(fresh).float().mean()) < 0.07
    shifted, _ = two_classes(rng, 500, shift=8.0)
    assert bool(gate.is_out_of_distribution(shifted).all())


def test_gate_refuses_features_of_the_wrong_width():
    gate = fit_gate(*two_classes(np.random.default_rng(0), 200), quantile=0.99)
    with pytest.raises(ValueError, match=r"\(B, 6\)"):
        gate.scores(torch.zeros(3, 5))


def test_gate_round_trips_through_safetensors_and_a_broken_file_is_a_checkpoint_error(tmp_path):
    rng = np.random.default_rng(1)
    gate = fit_gate(*two_classes(rng, 300), quantile=0.99)
    save_gate(gate, "imaging.test", tmp_path)
    loaded = load_gate("imaging.test", tmp_path)
    probe, _ = two_classes(rng, 50)
    torch.testing.assert_close(loaded.scores(probe), gate.scores(probe))
    assert loaded.threshold == gate.threshold
    assert load_gate("imaging.absent", tmp_path) is None
    gate_path("imaging.test", tmp_path).write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_gate("imaging.test", tmp_path)


@pytest.fixture(scope="module", params=IMAGING_MODELS)
def classifier(request) -> ImageClassifier:
    return ImageClassifier.load(request.param)


def flagged_share(classifier: ImageClassifier, inputs: torch.Tensor) -> float:
    scores = classifier.ood_scores(inputs)
    return float((scores > classifier.gate.threshold).float().mean())


def test_every_shipped_imaging_model_has_a_gate_described_in_its_card(classifier):
    assert classifier.gate is not None
    assert classifier.card.ood.threshold == pytest.approx(classifier.gate.threshold)


def test_packaged_ct_and_mr_scans_are_flagged_as_the_card_says(classifier):
    inputs = ct_mr_reference_inputs(classifier.preprocessing)
    share = flagged_share(classifier, inputs)
    recorded = classifier.card.ood.flagged["pydicom CT and MR samples"]
    assert recorded.n == len(inputs) >= 25
    assert share == pytest.approx(recorded.flagged, abs=1e-4)
    assert share >= 0.9


def test_noise_and_a_colour_photograph_get_no_diagnosis(classifier):
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (300, 400), dtype=np.uint8))
    sky = np.zeros((240, 320, 3), dtype=np.uint8)
    sky[..., 2] = np.linspace(120, 255, 320, dtype=np.uint8)  # a blue gradient with a bright "sun"
    sky[60:100, 200:240] = 255
    for image in (noise, Image.fromarray(sky)):
        prediction = classifier.predict(image)
        assert prediction.ood is True and prediction.label is None
        assert prediction.ood_score > prediction.ood_threshold


def test_held_out_images_of_the_own_data_set_pass_and_the_other_data_set_is_stopped(classifier, data_dir):
    own = DATASETS[classifier.card.name]
    mean, std = classifier.preprocessing.mean, classifier.preprocessing.std
    # The test split: held out by every model (imaging.breast version 2 trained on its validation split too).
    held_out = load_medmnist(data_dir / own.file, "test")
    share = flagged_share(classifier, to_tensor(held_out.images, mean, std))
    assert share <= 0.05
    assert share == pytest.approx(classifier.card.ood.flagged["test (in distribution)"].flagged, abs=1e-4)
    for name, other in DATASETS.items():
        if name != classifier.card.name:
            test = load_medmnist(data_dir / other.file, "test")
            assert flagged_share(classifier, to_tensor(test.images, mean, std)) >= 0.9


def test_a_model_without_a_gate_reports_unknown_rather_than_familiar(tmp_path):
    import shutil

    for suffix in (".safetensors", ".json"):
        shutil.copy(WEIGHTS_DIR / f"imaging.pneumonia{suffix}", tmp_path / f"imaging.pneumonia{suffix}")
    # A card that lists no gate (one that lists a missing gate is refused: tests/test_model_contract_domains.py).
    card = read_card(tmp_path / "imaging.pneumonia.json", verify=False)
    card.files, card.ood = [f for f in card.files if f.role != "ood_gate"], None
    write_card(card, tmp_path / "imaging.pneumonia.json")
    prediction = ImageClassifier.load("imaging.pneumonia", tmp_path).predict(Image.new("L", (28, 28), 128))
    assert prediction.ood is None and prediction.ood_score is None
    assert prediction.label in ("normal", "pneumonia")
