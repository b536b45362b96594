"""The recurrent screening model's contract: tokens in, logits and per-residue attention out."""

import pytest
import torch

from medmodels import create_model
from medmodels.sequences.models import ALPHABET, PAD, UNKNOWN, encode


def test_tokenizer_gives_each_residue_its_own_id_and_pads_with_zero():
    tokens = encode(["ACDEFGHIKLMNPQRSTVWY", "KK"], max_length=50)
    assert tokens.shape == (2, 20) and tokens.dtype == torch.long
    assert tokens[0].tolist() == list(range(1, 21))
    assert tokens[1].tolist() == [ALPHABET.index("K") + 1] * 2 + [PAD] * 18


def test_tokenizer_maps_rare_residues_like_the_input_policy_and_keeps_both_ends_of_long_proteins():
    assert encode(["UO"], 10)[0].tolist() == [ALPHABET.index("C") + 1, ALPHABET.index("K") + 1]
    assert encode(["AXB"], 10)[0].tolist() == [1, UNKNOWN, UNKNOWN]  # ambiguous letters in training data
    long = "M" + "A" * 100 + "KDEL"
    kept = encode([long], 10)[0].tolist()
    assert kept[:5] == encode(["MAAAA"], 10)[0].tolist() and kept[5:] == encode(["AKDEL"], 10)[0].tolist()


@pytest.mark.parametrize("name", ["sequence.amp", "sequence.anticancer"])
def test_attention_sums_to_one_over_real_residues_and_is_zero_on_padding(name):
    torch.manual_seed(0)
    model = create_model(name).eval()
    tokens = encode(["GIGKFLHSAKKFGKAFVGEIMNS", "KWKLFKKI", "ACDEFGHIKLMNPQRSTVWYAC"], 200)
    logits, weights = model(tokens, return_attention=True)
    assert logits.shape == (3, 2) and weights.shape == tokens.shape
    real = tokens != PAD
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(3))
    assert torch.all(weights[~real] == 0) and torch.all(weights[real] > 0)


def test_padding_does_not_change_a_sequences_score():
    torch.manual_seed(0)
    model = create_model("sequence.amp").eval()
    alone = model(encode(["KWKLFKKI"], 200))
    beside_a_long_one = model(encode(["KWKLFKKI", "G" * 150], 200))[:1]
    torch.testing.assert_close(alone, beside_a_long_one, atol=1e-5, rtol=0)
