"""Saliency, the mutation scan and the physicochemical descriptors a researcher reads beside a score."""

import numpy as np
import pytest
import torch

from medmodels.sequences.explain import descriptors, max_scan_length, mutation_scan, saliency
from medmodels.sequences.models import ALPHABET
from medmodels.sequences.screening import SequenceScreener

MAGAININ = "GIGKFLHSAKKFGKAFVGEIMNS"


@pytest.fixture(scope="module")
def screener() -> SequenceScreener:
    return SequenceScreener.load("sequence.amp")


def test_saliency_has_one_value_per_residue_and_leaves_the_model_untouched(screener):
    before = {k: v.clone() for k, v in screener.model.state_dict().items()}
    values = saliency(screener, MAGAININ)
    assert values.shape == (len(MAGAININ),) and np.isfinite(values).all() and np.abs(values).sum() > 0
    assert all(p.grad is None for p in screener.model.parameters())
    assert all(torch.equal(before[k], v) for k, v in screener.model.state_dict().items())
    with torch.inference_mode():  # callers under inference mode still get gradients
        np.testing.assert_allclose(saliency(screener, MAGAININ), values, atol=1e-6)


def test_mutation_scan_shape_zero_wild_type_and_consistent_scores(screener):
    scan = mutation_scan(screener, MAGAININ)
    assert scan.change.shape == (20, len(MAGAININ))
    for position, residue in enumerate(MAGAININ):
        assert scan.change[ALPHABET.index(residue), position] == 0.0
    (wild_type,) = screener.score([MAGAININ])
    assert scan.wild_type_probability == pytest.approx(wild_type.probability, abs=1e-6)  # batch vs alone
    name, change = scan.best(1)[0]
    position, new = int(name[1:-1]) - 1, name[-1]
    variant = MAGAININ[:position] + new + MAGAININ[position + 1 :]
    assert screener.score([variant])[0].probability - wild_type.probability == pytest.approx(change, abs=1e-6)
    assert change == pytest.approx(scan.change.max())


def test_mutation_scan_refuses_long_sequences(screener):
    limit = max_scan_length(screener)
    assert limit == 63  # 19 substitutions per residue within the 1,200-variant budget
    with pytest.raises(ValueError, match=f"up to {limit} residues"):
        mutation_scan(screener, "K" * (limit + 1))


def test_descriptors_match_biopython_and_read_sensibly():
    cationic, anionic = descriptors("KKKKRRKKLLKK"), descriptors("DDEEDDEELLDE")
    assert cationic.net_charge > 8 and anionic.net_charge < -8
    assert cationic.isoelectric_point > 10 and anionic.isoelectric_point < 4.5
    track = descriptors(MAGAININ).hydrophobicity_track
    assert track.shape == (len(MAGAININ),) and np.isnan(track[:2]).all() and np.isfinite(track[2:-2]).all()
    assert descriptors("LLLLLLLLLLLL").gravy == pytest.approx(3.8)  # Kyte-Doolittle leucine
    helix = descriptors("KLLKLLKKLLKLLK").hydrophobic_moment
    assert helix > descriptors("LLLLLLLLLLLLLL").hydrophobic_moment  # amphipathic beats uniform
