"""Contracts every registered model keeps, whatever its domain."""

import dataclasses

import pytest
import torch

from medmodels import CheckpointError, ModelCard, create_model, list_models, load_checkpoint, save_checkpoint
from medmodels.registry import get_model_info
from tests.conftest import relist


def _build(name: str):
    info = get_model_info(name)
    torch.manual_seed(0)
    model = create_model(name)
    return info, model, info.example_input(info.config_class(), 4)


def _outputs(model: torch.nn.Module, inputs) -> tuple[torch.Tensor, ...]:
    """Every output tensor: models with several inputs take them as a tuple, and may return several."""
    outputs = model(*inputs) if isinstance(inputs, tuple) else model(inputs)
    return outputs if isinstance(outputs, tuple) else (outputs,)


def _card(name: str, model: torch.nn.Module) -> ModelCard:
    info = get_model_info(name)
    return ModelCard(
        name=name,
        architecture=type(model).__name__,
        config=dataclasses.asdict(info.config_class()),
        labels=list(info.labels),
        task=info.task,
        preprocessing={},
    )


@pytest.mark.parametrize("name", list_models())
def test_output_has_one_finite_logit_per_label(name):
    info, model, inputs = _build(name)
    model.eval()
    outputs = _outputs(model, inputs)
    # One row per input, one logit per label (per token, for taggers); any further output finite too.
    assert outputs[0].shape[0] == 4 and outputs[0].shape[-1] == len(info.labels)
    assert all(torch.isfinite(output).all() and output.numel() > 0 for output in outputs)


@pytest.mark.parametrize("name", list_models())
def test_every_parameter_receives_a_gradient(name):
    _, model, inputs = _build(name)
    model.train()
    sum(output.sum() for output in _outputs(model, inputs)).backward()
    without = [
        key
        for key, p in model.named_parameters()
        if p.grad is None or not torch.isfinite(p.grad).all() or p.grad.abs().sum() == 0
    ]
    assert without == []


@pytest.mark.parametrize("name", list_models())
def test_checkpoint_round_trip_with_perturbed_weights_gives_identical_outputs(name, tmp_path):
    _, model, inputs = _build(name)
    with torch.no_grad():  # move every weight away from its initial value so a silent re-init would show
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
        for key, buffer in model.named_buffers():
            if buffer.is_floating_point():
                buffer.add_(torch.rand_like(buffer) * 0.1)
    model.eval()
    save_checkpoint(model, _card(name, model), tmp_path)
    loaded, card = load_checkpoint(name, tmp_path)
    assert card.name == name
    assert not loaded.training
    torch.testing.assert_close(_outputs(loaded, inputs), _outputs(model, inputs), rtol=0, atol=0)


@pytest.mark.parametrize("name", list_models())
def test_mismatched_checkpoint_is_refused_naming_the_key(name, tmp_path):
    _, model, _ = _build(name)
    save_checkpoint(model, _card(name, model), tmp_path)
    # Rewrite the weights without one tensor and with one reshaped: both must be named.
    from safetensors.torch import load_file, save_file

    weights = tmp_path / f"{name}.safetensors"
    state = load_file(str(weights))
    dropped, reshaped = min(state), max(state)
    del state[dropped]
    state[reshaped] = torch.zeros(state[reshaped].numel() + 1)
    save_file(state, str(weights))
    relist(tmp_path, name)
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(name, tmp_path)
    assert f"missing keys: {dropped}" in str(raised.value)
    assert f"shape mismatch for {reshaped}" in str(raised.value)
