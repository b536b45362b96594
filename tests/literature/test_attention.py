"""The encoder's self-attention: its maps are real probability rows, padding never attended to or leaking in."""

import pytest
import torch

from medmodels.literature.attention import SelfAttentionLayer


@pytest.fixture
def layer() -> SelfAttentionLayer:
    torch.manual_seed(0)
    return SelfAttentionLayer(dim=16, heads=4).eval()


def test_attention_rows_sum_to_one_and_padding_is_never_attended(layer):
    x = torch.randn(2, 6, 16)
    padding = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    out, weights = layer(x, padding)
    assert out.shape == x.shape and weights.shape == (2, 4, 6, 6)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(2, 4, 6))
    assert torch.all(weights[1, :, :, 4:] == 0)  # no token attends to padding


def test_padding_does_not_change_the_real_tokens(layer):
    x = torch.randn(1, 4, 16)
    alone, alone_weights = layer(x, torch.zeros(1, 4, dtype=torch.bool))
    padded, padded_weights = layer(
        torch.cat([x, torch.randn(1, 3, 16)], dim=1), torch.tensor([[False] * 4 + [True] * 3])
    )
    torch.testing.assert_close(padded[:, :4], alone, atol=1e-6, rtol=0)
    torch.testing.assert_close(padded_weights[:, :, :4, :4], alone_weights, atol=1e-6, rtol=0)


def test_attention_follows_the_formula_for_one_head():
    torch.manual_seed(0)
    layer = SelfAttentionLayer(dim=8, heads=1).eval()
    x = torch.randn(1, 3, 8)
    _, weights = layer(x, torch.zeros(1, 3, dtype=torch.bool))
    normed = layer.attention_norm(x)
    q, k = layer.query(normed), layer.key(normed)
    expected = torch.softmax(q @ k.transpose(-2, -1) / 8**0.5, dim=-1)
    torch.testing.assert_close(weights[:, 0], expected)


def test_heads_must_divide_the_width():
    with pytest.raises(ValueError, match="not divisible by 3 heads"):
        SelfAttentionLayer(dim=16, heads=3)


def test_the_fast_path_without_maps_gives_the_same_tokens(layer):
    x = torch.randn(2, 5, 16)
    padding = torch.tensor([[False] * 5, [False] * 3 + [True] * 2])
    with_maps, _ = layer(x, padding)
    without, weights = layer(x, padding, return_attention=False)
    assert weights is None
    torch.testing.assert_close(without, with_maps, atol=1e-5, rtol=1e-5)
