import gc
import threading
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

import medmodels
from medmodels.imaging.explain import (
    Faithfulness,
    GradCAM,
    colormap_lut,
    faithfulness,
    grad_cam,
    occlusion_sensitivity,
    overlay,
    place_on_original,
)
from medmodels.imaging.images import Preprocessing

SIZE = 28


def small_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return medmodels.create_model("imaging.pneumonia").eval()


def scan(seed: int = 0) -> torch.Tensor:
    return torch.randn(1, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


class QuadrantSplit(nn.Module):
    """Target layer: channel 0 sees only the top-left quadrant, channel 1 the rest, at half resolution."""

    def __init__(self) -> None:
        super().__init__()
        mask = torch.zeros(1, 1, SIZE, SIZE)
        mask[..., : SIZE // 2, : SIZE // 2] = 1
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        return F.avg_pool2d(torch.cat([x * self.mask, x * (1 - self.mask)], dim=1), 2)  # (B, 2, 14, 14)


class QuadrantModel(nn.Module):
    """Class 1's logit depends only on the top-left quadrant; class 0's logit is constant."""

    def __init__(self) -> None:
        super().__init__()
        self.features = QuadrantSplit()
        self.dropout = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.dropout(self.features(x))
        quadrant_mean = a[:, 0].sum(dim=(1, 2)) / (SIZE // 4) ** 2
        positive = 10.0 * (quadrant_mean - 0.75)
        return torch.stack([torch.zeros_like(positive), positive], dim=1)


class ConstantModel(nn.Module):
    """Ignores its input: no explanation should claim any evidence."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.conv(x)
        return torch.tensor([[0.3, -0.2]]).expand(x.shape[0], 2) + 0 * features.sum()


def bright_everywhere(seed: int = 0) -> torch.Tensor:
    """Positive everywhere, so a map that merely copies the input would not peak in the quadrant."""
    return 0.5 + 0.5 * torch.rand(1, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


def hooks_left(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) + len(m._backward_pre_hooks)
        for m in model.modules()
    )


def assert_unit_map(saliency: np.ndarray) -> None:
    assert saliency.shape == (SIZE, SIZE)
    assert saliency.dtype == np.float32
    assert np.isfinite(saliency).all()
    assert saliency.min() >= 0.0 and saliency.max() <= 1.0


def in_top_left(saliency: np.ndarray) -> bool:
    row, col = np.unravel_index(int(np.argmax(saliency)), saliency.shape)
    return row < SIZE // 2 and col < SIZE // 2


# ---------------------------------------------------------------- Grad-CAM


def unscaled_grad_cam(member: nn.Module, inputs: torch.Tensor, target_class: int, weight: float = 1.0) -> torch.Tensor:
    """Grad-CAM of ``weight`` x one SmallCNN's class score, by running its layers by hand, no hooks."""
    x = inputs.clone()
    for block in member.blocks[:-1]:
        x = member.pool(block(x))
    activation = member.blocks[-1](x)
    logits = member.classifier(member.pool(activation)) * weight
    (gradient,) = torch.autograd.grad(logits[0, target_class], activation)
    cam = F.relu((gradient.mean(dim=(2, 3), keepdim=True) * activation).sum(dim=1, keepdim=True))
    return F.interpolate(cam, size=(SIZE, SIZE), mode="bilinear", align_corners=False)[0, 0].detach()


def unit(cam: torch.Tensor) -> np.ndarray:
    return (cam / cam.max()).numpy() if cam.max() > 0 else cam.numpy()


def reference_grad_cam(model: nn.Module, inputs: torch.Tensor, target_class: int) -> np.ndarray:
    (member,) = model.members
    return unit(unscaled_grad_cam(member, inputs, target_class))


def test_ensemble_grad_cam_weighs_every_member_equally():
    torch.manual_seed(0)
    model, inputs = medmodels.create_model("imaging.pneumonia", members=3).eval(), scan()
    expected = sum(unscaled_grad_cam(member, inputs, 1, weight=1 / 3) for member in model.members)
    np.testing.assert_allclose(grad_cam(model, model.target_layers, inputs, 1), unit(expected), atol=1e-5)
    assert hooks_left(model) == 0


def test_grad_cam_wants_a_list_of_layers():
    model = small_cnn()
    with pytest.raises(ValueError, match="sequence"):
        GradCAM(model, model.members[0].blocks[-1])


@pytest.mark.parametrize("target_class", [0, 1])
def test_grad_cam_matches_the_definition_on_small_cnn(target_class):
    model, inputs = small_cnn(), scan()
    saliency = grad_cam(model, model.target_layers, inputs, target_class)
    assert_unit_map(saliency)
    np.testing.assert_allclose(saliency, reference_grad_cam(model, inputs, target_class), atol=1e-5)
    assert saliency.max() in (0.0, 1.0)


def test_grad_cam_peaks_where_the_logit_looks():
    model = QuadrantModel()
    saliency = grad_cam(model, [model.features], bright_everywhere(), 1)
    assert_unit_map(saliency)
    assert in_top_left(saliency)
    assert saliency[:12, :12].min() > 0  # the whole quadrant is positive evidence
    assert np.all(saliency[16:, :] == 0) and np.all(saliency[:, 16:] == 0)  # nothing outside it


def test_grad_cam_of_an_input_blind_model_is_all_zero():
    model = ConstantModel()
    saliency = grad_cam(model, [model.conv], scan(), 0)
    assert_unit_map(saliency)
    assert not saliency.any()


def test_grad_cam_leaves_input_and_shared_model_untouched():
    model, inputs = small_cnn(), scan()
    before = inputs.clone()
    weights = {name: p.detach().clone() for name, p in model.state_dict().items()}
    with GradCAM(model, model.target_layers) as cam:
        for _ in range(3):
            cam(inputs, 1)
    assert torch.equal(inputs, before)
    assert not inputs.requires_grad and inputs.grad is None
    assert all(torch.equal(weights[name], p) for name, p in model.state_dict().items())  # incl. BN running stats
    assert all(p.grad is None for p in model.parameters())
    assert hooks_left(model) == 0


@pytest.mark.parametrize("training", [True, False])
def test_explainers_restore_the_model_mode(training):
    model = small_cnn()
    model.train(training)
    model.members[0].classifier[3].eval()  # a mixed state must come back module by module
    modes = {name: m.training for name, m in model.named_modules()}
    inputs = scan()
    grad_cam(model, model.target_layers, inputs, 1)
    occlusion_sensitivity(model, inputs, 1, patch=7, stride=7)
    faithfulness(model, inputs, 1, np.ones((SIZE, SIZE)), repeats=2)
    assert {name: m.training for name, m in model.named_modules()} == modes


def test_grad_cam_in_train_mode_gives_the_eval_answer():
    model, inputs = small_cnn(), scan()
    expected = grad_cam(model, model.target_layers, inputs, 1)
    model.train()
    np.testing.assert_allclose(grad_cam(model, model.target_layers, inputs, 1), expected, atol=1e-6)
    assert model.training


def test_grad_cam_works_under_inference_mode_and_with_grad_requiring_input():
    model = small_cnn()
    expected = grad_cam(model, model.target_layers, scan(), 1)
    with torch.inference_mode():
        frozen = scan()
        np.testing.assert_allclose(grad_cam(model, model.target_layers, frozen, 1), expected, atol=1e-6)
    leaf = scan().requires_grad_(True)
    np.testing.assert_allclose(grad_cam(model, model.target_layers, leaf, 1), expected, atol=1e-6)
    assert leaf.grad is None


def test_failed_calls_leave_no_hooks():
    model = small_cnn()
    with pytest.raises(ValueError, match="out of range"):
        grad_cam(model, model.target_layers, scan(), 5)
    with pytest.raises(ValueError, match=r"\(1, C, H, W\)"):
        grad_cam(model, model.target_layers, torch.randn(2, 1, SIZE, SIZE), 0)
    unused = nn.Conv2d(1, 1, 3)
    model.add_module("unused", unused)
    with pytest.raises(RuntimeError, match="not used"):
        grad_cam(model, [unused], scan(), 0)
    with pytest.raises(ValueError, match="not a submodule"):
        GradCAM(model, [nn.Conv2d(1, 1, 3)])
    assert hooks_left(model) == 0
    assert all(p.grad is None for p in model.parameters())


def test_released_grad_cam_refuses_to_run():
    model = small_cnn()
    cam = GradCAM(model, model.target_layers)
    cam.release()
    cam.release()
    with pytest.raises(RuntimeError, match="released"):
        cam(scan(), 0)


def test_hundred_calls_leave_no_hooks_no_grads_and_no_growth():
    model, inputs = small_cnn(), scan()
    for _ in range(5):  # warm up allocator caches and lazy imports
        grad_cam(model, model.target_layers, inputs, 1)
    gc.collect()
    tensors_before = sum(issubclass(type(o), torch.Tensor) for o in gc.get_objects())
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        for i in range(100):
            saliency = grad_cam(model, model.target_layers, inputs, i % 2)
        del saliency
        gc.collect()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    tensors_after = sum(issubclass(type(o), torch.Tensor) for o in gc.get_objects())
    assert end - start < 256 * 1024  # a leak of hook records or activations would be far above this
    assert tensors_after <= tensors_before  # no activation or gradient kept alive
    assert hooks_left(model) == 0
    assert all(p.grad is None for p in model.parameters())


def test_concurrent_sessions_get_their_own_maps():
    model = small_cnn()
    inputs = [scan(seed) for seed in range(8)]
    expected = [grad_cam(model, model.target_layers, x, 1) for x in inputs]
    barrier = threading.Barrier(4)

    def session(index: int) -> list[np.ndarray]:
        barrier.wait()
        return [grad_cam(model, model.target_layers, inputs[(index + k) % 8], 1) for k in range(12)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(session, range(4)))
    for index, maps in enumerate(results):
        for k, saliency in enumerate(maps):
            np.testing.assert_allclose(saliency, expected[(index + k) % 8], atol=1e-5)
    assert hooks_left(model) == 0


# ---------------------------------------------------------------- occlusion


def test_occlusion_on_small_cnn_is_a_unit_map_and_leaves_input_alone():
    model, inputs = small_cnn(), scan()
    before = inputs.clone()
    saliency = occlusion_sensitivity(model, inputs, 1)
    assert_unit_map(saliency)
    assert saliency.max() in (0.0, 1.0)
    assert torch.equal(inputs, before)
    assert hooks_left(model) == 0 and all(p.grad is None for p in model.parameters())


def test_occlusion_finds_the_quadrant_the_model_uses():
    saliency = occlusion_sensitivity(QuadrantModel(), bright_everywhere(), 1, patch=4, stride=2, baseline=0.0)
    assert_unit_map(saliency)
    assert in_top_left(saliency)
    assert saliency[:14, :14].min() > 0
    # Pixels at row/column >= 16 are only covered by patches that miss the quadrant.
    assert np.all(saliency[16:, :] == 0) and np.all(saliency[:, 16:] == 0)


def test_occlusion_of_an_input_blind_model_is_all_zero():
    saliency = occlusion_sensitivity(ConstantModel(), scan(), 0)
    assert_unit_map(saliency)
    assert not saliency.any()


def test_occlusion_covers_edges_when_stride_does_not_divide():
    model = QuadrantModel()
    # patch 5 / stride 4 on 28 pixels: origins 0, 4, ..., 20 and one flush at 23.
    saliency = occlusion_sensitivity(model, bright_everywhere(), 1, patch=5, stride=4, baseline=0.0)
    assert_unit_map(saliency)
    assert saliency[:14, :14].min() > 0
    with pytest.raises(ValueError, match="patch"):
        occlusion_sensitivity(model, bright_everywhere(), 1, patch=SIZE + 1)


# ---------------------------------------------------------------- faithfulness


def test_faithful_map_beats_random_pixels():
    model, inputs = QuadrantModel(), bright_everywhere()
    saliency = grad_cam(model, [model.features], inputs, 1)
    result = faithfulness(model, inputs, 1, saliency, fractions=(0.1, 0.2), repeats=10, seed=0)
    assert isinstance(result, Faithfulness)
    assert result.fractions == (0.1, 0.2)
    assert 0.0 < result.original_probability < 1.0
    assert len(result.drop_top) == len(result.drop_random) == 2
    for top, random in zip(result.drop_top, result.drop_random):
        assert top > random + 0.01
    # Hiding pixels entirely (baseline 0) makes the gap large: a quarter of random pixels hit the quadrant.
    dark = faithfulness(model, inputs, 1, saliency, baseline=0.0)
    for top, random in zip(dark.drop_top, dark.drop_random):
        assert top > random + 0.1
    # A map that points at the wrong place does worse than chance: those pixels do not matter at all.
    wrong = faithfulness(model, inputs, 1, 1.0 - saliency, fractions=(0.1,), baseline=0.0)
    assert wrong.drop_top[0] == pytest.approx(0.0, abs=1e-6)
    assert wrong.drop_random[0] > 0.1


def test_faithfulness_is_seeded_and_leaves_input_alone():
    model, inputs = small_cnn(), scan()
    before = inputs.clone()
    attribution = occlusion_sensitivity(model, inputs, 1)
    first = faithfulness(model, inputs, 1, attribution, repeats=4, seed=3)
    assert first == faithfulness(model, inputs, 1, attribution, repeats=4, seed=3)
    assert torch.equal(inputs, before)
    probability = torch.softmax(model(inputs), dim=1)[0, 1].item()
    assert first.original_probability == pytest.approx(probability, abs=1e-6)
    hot = faithfulness(model, inputs, 1, attribution, repeats=4, temperature=3.0)
    assert abs(hot.original_probability - 0.5) <= abs(probability - 0.5)  # temperature softens
    with pytest.raises(ValueError, match="shape"):
        faithfulness(model, inputs, 1, np.ones((14, 14)))
    with pytest.raises(ValueError, match="fractions"):
        faithfulness(model, inputs, 1, attribution, fractions=(0.0,))


# ---------------------------------------------------------------- mapping back and drawing


def test_centre_crop_box_is_the_crop_preprocessing_uses():
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (41, 67), dtype=np.uint8))
    preprocessing = Preprocessing(input_size=SIZE, mean=0.5, std=0.25)
    box = Preprocessing.crop_box(image.size)
    assert box == (13, 0, 54, 41)
    ours = image.crop(box).resize((SIZE, SIZE), Image.Resampling.BICUBIC)
    assert np.array_equal(np.asarray(ours), np.asarray(preprocessing.resize(image)))


@pytest.mark.parametrize("size", [(60, 40), (40, 60), (28, 28)])
def test_place_on_original_fills_the_crop_box_only(size):
    box = Preprocessing.crop_box(size)
    left, top, right, bottom = box
    placed = place_on_original(np.ones((SIZE, SIZE), dtype=np.float32), size, box)
    assert placed.shape == (size[1], size[0]) and placed.dtype == np.float32
    np.testing.assert_allclose(placed[top:bottom, left:right], 1.0, atol=1e-6)
    outside = np.ones_like(placed, dtype=bool)
    outside[top:bottom, left:right] = False
    assert not placed[outside].any()


def test_place_on_original_keeps_where_the_evidence_is():
    saliency = np.zeros((SIZE, SIZE), dtype=np.float32)
    saliency[:7, :7] = 1.0  # top-left corner of the model input
    size, box = (100, 60), (20, 0, 80, 60)
    placed = place_on_original(saliency, size, box)
    assert placed.min() >= 0 and placed.max() <= 1
    row, col = np.unravel_index(int(np.argmax(placed)), placed.shape)
    assert 0 <= row < 30 and 20 <= col < 50
    assert placed[:, 50:].max() < 0.05 and placed[30:, :].max() < 0.05
    with pytest.raises(ValueError, match="crop box"):
        place_on_original(saliency, size, (90, 0, 150, 60))


def test_overlay_blends_grey_and_colour():
    rng = np.random.default_rng(1)
    image = Image.fromarray(rng.integers(0, 256, (20, 30), dtype=np.uint8))
    saliency = rng.random((20, 30)).astype(np.float32)
    blended = overlay(image, saliency)
    assert blended.mode == "RGB" and blended.size == image.size
    assert np.array_equal(np.asarray(overlay(image, saliency, opacity=0.0)), np.asarray(image.convert("RGB")))
    lut = colormap_lut("Viridis")
    colour_only = np.asarray(overlay(image, saliency, opacity=1.0, colormap="Viridis"))
    assert np.array_equal(colour_only, lut[np.rint(saliency * 255).astype(int)])
    half = np.asarray(overlay(image, saliency, opacity=0.5)).astype(float)
    expected = (
        0.5 * np.asarray(image, dtype=float)[..., None]
        + 0.5 * colormap_lut("Turbo")[np.rint(saliency * 255).astype(int)]
    )
    assert np.abs(half - expected).max() <= 0.5 + 1e-9
    rgb_upload = overlay(image.convert("RGB"), saliency, opacity=0.0)
    assert np.array_equal(np.asarray(rgb_upload), np.asarray(image.convert("RGB")))
    with pytest.raises(ValueError, match="place_on_original"):
        overlay(image, saliency.T)


def test_colormap_lut_is_cached_read_only_and_ordered():
    lut = colormap_lut("Turbo")
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    assert colormap_lut("Turbo") is lut
    assert not lut.flags.writeable
    assert tuple(lut[0]) != tuple(lut[-1])
    assert tuple(lut[0]) == (48, 18, 59)  # Turbo starts at #30123b
    luminance = colormap_lut("Viridis").astype(float) @ np.array([0.299, 0.587, 0.114])
    assert np.all(np.diff(luminance) >= -1.0)  # a sequential scale brightens monotonically
    assert luminance[-1] - luminance[0] > 150
    with pytest.raises(ValueError, match="unknown colour scale"):
        colormap_lut("NoSuchScale")
