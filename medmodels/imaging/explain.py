"""Explanations of one prediction: where in the scan the classifier looked, and whether it matters.

The model passed in is cached and shared by every browser session, so nothing here leaves state on
it: hooks live for one call and capture into call-local storage (filtered by thread, because a hook
on a shared module also fires for other sessions' forward passes), train/eval flags are restored
module by module, parameter ``.grad`` is never written (``torch.autograd.grad`` instead of
``.backward()``), and the caller's input tensor is never modified.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import numpy as np
import plotly.colors
import torch
import torch.nn.functional as F
from PIL import Image
from plotly.exceptions import PlotlyError
from torch import nn
from torch.utils.hooks import RemovableHandle

# Occlusion and faithfulness batch their perturbed copies; this bounds memory for large inputs.
_MAX_BATCH = 256


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Run in eval mode and put every module's own flag back afterwards.

    A model already in eval (the normal, shared case) is not written to at all, so concurrent
    sessions never see each other's mode changes.
    """
    training = [(module, module.training) for module in model.modules() if module.training]
    if not training:
        yield
        return
    model.eval()
    try:
        yield
    finally:
        for module, flag in training:
            module.training = flag


def _check_inputs(inputs: torch.Tensor) -> tuple[int, int]:
    if not isinstance(inputs, torch.Tensor) or inputs.ndim != 4 or inputs.shape[0] != 1:
        shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
        raise ValueError(f"expected one input of shape (1, C, H, W), got {shape}")
    return int(inputs.shape[2]), int(inputs.shape[3])


def _check_class(logits: torch.Tensor, target_class: int) -> None:
    if logits.ndim != 2:
        raise ValueError(f"expected the model to return (B, classes) logits, got shape {tuple(logits.shape)}")
    if not 0 <= int(target_class) < logits.shape[1]:
        raise ValueError(f"target_class {target_class} is out of range for {logits.shape[1]} classes")


def _scale_to_unit(values: torch.Tensor) -> np.ndarray:
    """Non-negative map -> float32 in [0, 1] by its maximum; all zeros when nothing is positive."""
    if not torch.isfinite(values).all():
        raise ValueError("the explanation is not finite; the model produced NaN or infinite values")
    values = values.clamp(min=0)
    peak = float(values.max())
    if peak > 0:
        values = values / peak
    return values.to(torch.float32).cpu().numpy().copy()


class GradCAM:
    """Grad-CAM (Selvaraju et al. 2017) on one or more target layers; use as a context manager or call release().

    With several layers (an ensemble's members), the map is the sum of each layer's Grad-CAM of the
    one class score: for a mean of member logits, the members' maps weighted equally.
    Hooks are attached for the duration of one call only, so one instance may serve concurrent
    requests on a shared model; ``release()`` drops any hook still attached (e.g. by a call that was
    interrupted) and the references to the model, after which the instance refuses to run.
    """

    def __init__(self, model: nn.Module, target_layers: Sequence[nn.Module]) -> None:
        if isinstance(target_layers, nn.Module) or not target_layers:
            raise ValueError("target_layers must be a non-empty sequence of modules")
        modules = list(model.modules())
        if not all(any(module is layer for module in modules) for layer in target_layers):
            raise ValueError("a target layer is not a submodule of model")
        self._model: nn.Module | None = model
        self._targets: list[nn.Module] | None = list(target_layers)
        self._handles: set[RemovableHandle] = set()
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def release(self) -> None:
        """Remove every hook this instance attached and forget the model; safe to call twice."""
        with self._lock:
            handles, self._handles = self._handles, set()
            self._model = self._targets = None
        for handle in handles:
            handle.remove()

    @contextlib.contextmanager
    def _capture(self, targets: list[nn.Module]) -> Iterator[dict[int, Any]]:
        """Attach forward hooks that store each target's output, by position, for this thread's call only."""
        owner = threading.get_ident()
        store: dict[int, Any] = {}
        handles = []

        def hook_for(index: int) -> Any:
            def hook(module: nn.Module, args: Any, output: Any) -> None:
                if threading.get_ident() == owner:  # other sessions' forwards also pass through here
                    store[index] = output

            return hook

        try:
            for index, target in enumerate(targets):
                handle = target.register_forward_hook(hook_for(index))
                handles.append(handle)
                with self._lock:
                    self._handles.add(handle)
            yield store
        finally:
            for handle in handles:
                handle.remove()
                with self._lock:
                    self._handles.discard(handle)
            store.clear()

    def __call__(self, inputs: torch.Tensor, target_class: int) -> np.ndarray:
        """``(1, C, H, W)`` input -> ``(H, W)`` float32 map in [0, 1] of evidence for ``target_class``.

        One forward and a backward that stops at the target layers. Each layer's map is the ReLU of
        its activations weighted by their spatially averaged gradients, upsampled bilinearly to the
        input size; the maps are summed and divided by the maximum (all zeros when no location
        supports the class).
        """
        with self._lock:
            model, targets = self._model, self._targets
        if model is None or targets is None:
            raise RuntimeError("this GradCAM was released; create a new one")
        height, width = _check_inputs(inputs)
        # A leaf copy requiring grad makes the graph exist even for frozen models and for inputs
        # made under inference_mode; the backward below never reaches it, and the caller's
        # tensor is left untouched.
        with torch.inference_mode(False), torch.enable_grad(), _eval_mode(model), self._capture(targets) as store:
            images = inputs.detach().clone().requires_grad_(True)
            logits = model(images)  # (1, classes)
            _check_class(logits, target_class)
            if len(store) < len(targets):
                raise RuntimeError("a target layer was not used in the model's forward pass")
            activations = [store[index] for index in range(len(targets))]
            for activation in activations:
                if not isinstance(activation, torch.Tensor) or activation.ndim != 4:
                    raise ValueError("Grad-CAM needs target layers whose output is one (B, C, h, w) tensor")
                if not activation.requires_grad:
                    raise RuntimeError("a target layer's output is detached from the logits; cannot take gradients")
            gradients = torch.autograd.grad(logits[0, int(target_class)], activations, allow_unused=True)
            cam = torch.zeros(1, 1, height, width, dtype=activations[0].dtype)
            with torch.no_grad():
                for activation, gradient in zip(activations, gradients):
                    if gradient is None:  # the class score does not depend on this layer at all
                        continue
                    weights = gradient.mean(dim=(2, 3), keepdim=True)  # (1, C, 1, 1)
                    layer_cam = F.relu((weights * activation.detach()).sum(dim=1, keepdim=True))  # (1, 1, h, w)
                    cam += F.interpolate(layer_cam, size=(height, width), mode="bilinear", align_corners=False)
                return _scale_to_unit(cam[0, 0])


def grad_cam(
    model: nn.Module, target_layers: Sequence[nn.Module], inputs: torch.Tensor, target_class: int
) -> np.ndarray:
    """One-shot Grad-CAM that attaches and removes its hooks around a single call."""
    with GradCAM(model, target_layers) as cam:
        return cam(inputs, target_class)


def _default_baseline(inputs: torch.Tensor, baseline: float | None) -> float:
    return float(inputs.detach().mean()) if baseline is None else float(baseline)


def _target_probabilities(model: nn.Module, batch: torch.Tensor, target_class: int, temperature: float) -> torch.Tensor:
    """Temperature-scaled probability of the target class for each row, in bounded batches."""
    out = []
    for start in range(0, batch.shape[0], _MAX_BATCH):
        logits = model(batch[start : start + _MAX_BATCH])
        _check_class(logits, target_class)
        out.append(torch.softmax(logits.float() / temperature, dim=1)[:, int(target_class)])
    return torch.cat(out)


def _positions(size: int, patch: int, stride: int) -> list[int]:
    """Patch origins along one axis, with a last patch flush to the edge so every pixel is covered."""
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return starts


def occlusion_sensitivity(
    model: nn.Module,
    inputs: torch.Tensor,
    target_class: int,
    *,
    patch: int = 4,
    stride: int = 2,
    baseline: float | None = None,
    temperature: float = 1.0,
) -> np.ndarray:
    """Model-agnostic check of Grad-CAM: how much the calibrated probability falls when each region is hidden.

    Each ``patch`` x ``patch`` square (every ``stride`` pixels, the last one flush to the edge) is
    replaced by ``baseline`` (default: the input's mean, i.e. "no information" in normalised
    units); a pixel's score is the mean drop over the patches covering it. Returns ``(H, W)``
    float32, clipped at 0 and divided by its maximum (all zeros when hiding nothing lowers it).
    """
    height, width = _check_inputs(inputs)
    if not 1 <= patch <= min(height, width):
        raise ValueError(f"patch must be between 1 and {min(height, width)}, got {patch}")
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    fill = _default_baseline(inputs, baseline)
    boxes = [(top, left) for top in _positions(height, patch, stride) for left in _positions(width, patch, stride)]
    with torch.inference_mode(), _eval_mode(model):
        image = inputs.detach()
        drops = np.zeros((height, width), dtype=np.float64)
        counts = np.zeros((height, width), dtype=np.float64)
        original = _target_probabilities(model, image, target_class, temperature)[0]
        for start in range(0, len(boxes), _MAX_BATCH):
            chunk = boxes[start : start + _MAX_BATCH]
            batch = image.expand(len(chunk), -1, -1, -1).clone()  # (N, C, H, W)
            for row, (top, left) in enumerate(chunk):
                batch[row, :, top : top + patch, left : left + patch] = fill
            drop = (original - _target_probabilities(model, batch, target_class, temperature)).double()
            for value, (top, left) in zip(drop.tolist(), chunk):
                drops[top : top + patch, left : left + patch] += value
                counts[top : top + patch, left : left + patch] += 1
    return _scale_to_unit(torch.from_numpy(drops / counts))


@dataclass(frozen=True)
class Faithfulness:
    """Deletion check of an attribution map: hiding the pixels it ranks highest should hurt more than chance."""

    fractions: tuple[float, ...]
    original_probability: float
    drop_top: tuple[float, ...]  # probability drop when the top-fraction most-attributed pixels are replaced
    drop_random: tuple[float, ...]  # mean drop over random pixel sets of the same size (seeded)


def faithfulness(
    model: nn.Module,
    inputs: torch.Tensor,
    target_class: int,
    attribution: np.ndarray,
    *,
    fractions: Sequence[float] = (0.1, 0.2),
    repeats: int = 10,
    seed: int = 0,
    temperature: float = 1.0,
    baseline: float | None = None,
) -> Faithfulness:
    """Compare the drop in calibrated probability from hiding the top-attributed pixels with random pixels.

    A map that tracks what the model uses gives ``drop_top`` well above ``drop_random``. Pixels
    (all channels) are replaced by ``baseline`` (default: the input's mean). Ties in the map are
    broken at random (seeded), so a flat map is not read as "the top-left corner matters".
    """
    height, width = _check_inputs(inputs)
    attribution = np.asarray(attribution, dtype=np.float64)
    if attribution.shape != (height, width):
        raise ValueError(f"attribution has shape {attribution.shape}; the input is {(height, width)}")
    if not np.isfinite(attribution).all():
        raise ValueError("attribution contains NaN or infinite values")
    fractions = tuple(float(f) for f in fractions)
    if not fractions or not all(0 < f <= 1 for f in fractions):
        raise ValueError(f"fractions must be in (0, 1], got {fractions}")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")

    pixels = height * width
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(pixels), -attribution.ravel()))  # descending, random among ties
    sizes = [max(1, round(f * pixels)) for f in fractions]
    masks = np.zeros((len(fractions) * (1 + repeats), pixels), dtype=bool)
    for i, k in enumerate(sizes):
        masks[i, order[:k]] = True
        for r in range(repeats):
            masks[len(fractions) + i * repeats + r, rng.choice(pixels, size=k, replace=False)] = True

    fill = _default_baseline(inputs, baseline)
    with torch.inference_mode(), _eval_mode(model):
        image = inputs.detach()
        original = float(_target_probabilities(model, image, target_class, temperature)[0])
        hidden = torch.from_numpy(masks).to(image.device).view(-1, 1, height, width)  # (N, 1, H, W)
        batch = torch.where(hidden, torch.tensor(fill, dtype=image.dtype, device=image.device), image)
        drops = (original - _target_probabilities(model, batch, target_class, temperature).double()).cpu().numpy()
    top = drops[: len(fractions)]
    random = drops[len(fractions) :].reshape(len(fractions), repeats).mean(axis=1)
    return Faithfulness(
        fractions=fractions,
        original_probability=original,
        drop_top=tuple(float(d) for d in top),
        drop_random=tuple(float(d) for d in random),
    )


def place_on_original(
    saliency: np.ndarray, original_size: tuple[int, int], crop_box: tuple[int, int, int, int]
) -> np.ndarray:
    """Map over the model input -> ``(height, width)`` float32 map over the uploaded image.

    The model only saw the centre crop, so the map is resized bilinearly into ``crop_box`` and is
    zero outside it: no evidence is claimed for pixels the model never saw.
    """
    saliency = np.asarray(saliency, dtype=np.float32)
    if saliency.ndim != 2:
        raise ValueError(f"expected a 2-D saliency map, got shape {saliency.shape}")
    if not np.isfinite(saliency).all():
        raise ValueError("saliency contains NaN or infinite values")
    width, height = (int(v) for v in original_size)
    left, top, right, bottom = (int(v) for v in crop_box)
    if not (0 <= left < right <= width and 0 <= top < bottom <= height):
        raise ValueError(f"crop box {crop_box} is empty or outside an image of size {original_size}")
    resized = Image.fromarray(np.ascontiguousarray(saliency)).resize(
        (right - left, bottom - top), Image.Resampling.BILINEAR
    )
    placed = np.zeros((height, width), dtype=np.float32)
    placed[top:bottom, left:right] = np.asarray(resized, dtype=np.float32)
    low, high = float(saliency.min()), float(saliency.max())
    return np.clip(placed, min(low, 0.0), max(high, 0.0))  # bilinear cannot overshoot; float noise can


@functools.lru_cache(maxsize=32)
def colormap_lut(name: str = "Turbo") -> np.ndarray:
    """``(256, 3)`` uint8 lookup table for a plotly colour scale; built once per name, read-only."""
    try:
        scale = plotly.colors.get_colorscale(name)
    except PlotlyError as error:
        raise ValueError(f"unknown colour scale {name!r}: {error}") from error
    colours = plotly.colors.sample_colorscale(scale, 256)
    lut = np.array([plotly.colors.unlabel_rgb(colour) for colour in colours], dtype=np.float64)
    lut = np.clip(np.rint(lut), 0, 255).astype(np.uint8)
    lut.flags.writeable = False  # shared by every caller through the cache
    return lut


def overlay(image: Image.Image, saliency: np.ndarray, *, opacity: float = 0.5, colormap: str = "Turbo") -> Image.Image:
    """RGB blend of the grey scan and the colour-mapped saliency, so the map is read against anatomy.

    ``saliency`` must be ``(height, width)`` of ``image`` (see ``place_on_original``); values are
    clipped to [0, 1]. ``opacity`` 0 gives the grey image, 1 the colour map alone.
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    saliency = np.asarray(saliency, dtype=np.float32)
    width, height = image.size
    if saliency.shape != (height, width):
        raise ValueError(
            f"saliency has shape {saliency.shape} but the image is {height}x{width} (rows x columns); "
            "map it onto the image with place_on_original first"
        )
    if not np.isfinite(saliency).all():
        raise ValueError("saliency contains NaN or infinite values")
    grey = np.asarray(image.convert("L"), dtype=np.float32)[..., None]  # (H, W, 1)
    colours = colormap_lut(colormap)[np.rint(np.clip(saliency, 0.0, 1.0) * 255).astype(np.intp)]  # (H, W, 3)
    blended = (1.0 - opacity) * grey + opacity * colours.astype(np.float32)
    return Image.fromarray(np.clip(np.rint(blended), 0, 255).astype(np.uint8))  # (H, W, 3) -> RGB
