"""A multi-class sequence model (subcellular location) calls its most probable class, and the
explanations follow that call, while screening models keep their validation threshold."""

from dataclasses import asdict

import numpy as np
import pytest
import torch

from medmodels import ModelCard, create_model
from medmodels.registry import get_model_info, resolve_config
from medmodels.sequences.alphabet import PROTEIN as PROTEIN_ALPHABET
from medmodels.sequences.explain import explained_class, mutation_scan, saliency
from medmodels.sequences.models import ALPHABET, read_positions
from medmodels.sequences.screening import SequenceScreener

PROTEIN = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVVHSLAKWKRQTLGQHDFSAGEGLYTHMKALRPDEDRLSPLHSVYVDQWDWERVMGDGERQFSTLKSTVEAIWAGIKATEAAVSEEFGLAPFLPDQIHFVHSQELLSRYPDLDAKGRERAIAKDLGAVFLVGIGGKLSDGHRHDVRAPDYDDWUAEQ"


@pytest.fixture(scope="module")
def localisation() -> SequenceScreener:
    torch.manual_seed(0)
    name = "sequence.localisation"
    model = create_model(name)
    card = ModelCard(
        name=name,
        architecture="AttentionGRU",
        config=asdict(resolve_config(name)),
        labels=list(get_model_info(name).labels),
        task="test",
        preprocessing={"length_range": [50, 5000]},
        temperature=1.3,
    )
    return SequenceScreener(model, card)


def test_a_multiclass_model_calls_its_most_probable_class(localisation):
    sequences = [PROTEIN, PROTEIN[:40], "KWKLFKKI" * 10]
    probabilities = localisation.probabilities(sequences)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    scores = localisation.score(sequences)
    for score, row in zip(scores, probabilities):
        assert score.label == localisation.card.labels[int(row.argmax())]
        assert score.probability == pytest.approx(row.max())
    assert not localisation.screening and localisation.threshold is None
    assert [s.in_length_range for s in scores] == [True, False, True]  # 40 residues is below the training range


def test_explanations_of_a_multiclass_model_are_about_the_class_it_calls(localisation):
    call = explained_class(localisation, PROTEIN)
    assert localisation.card.labels[call] == localisation.score([PROTEIN])[0].label
    np.testing.assert_allclose(saliency(localisation, PROTEIN), saliency(localisation, PROTEIN, call), atol=1e-7)
    other = (call + 1) % 13
    assert not np.allclose(saliency(localisation, PROTEIN, other), saliency(localisation, PROTEIN, call))
    scan = mutation_scan(localisation, PROTEIN[:30])
    assert scan.target == localisation.card.labels[explained_class(localisation, PROTEIN[:30])]
    assert scan.change.shape == (20, 30)


def test_a_screening_model_uses_its_threshold_not_the_argmax():
    torch.manual_seed(0)
    card = ModelCard(
        name="sequence.amp",
        architecture="AttentionGRU",
        config=asdict(resolve_config("sequence.amp")),
        labels=["not antimicrobial", "antimicrobial"],
        task="test",
        preprocessing={},
        threshold=0.2,
        positive_label="antimicrobial",
    )
    screener = SequenceScreener(create_model("sequence.amp"), card)
    assert screener.screening
    assert screener.card.decide(np.array([0.75, 0.25])) == "antimicrobial"
    assert screener.card.decide(np.array([0.85, 0.15])) == "not antimicrobial"
    assert screener.card.decide(np.array([0.85, 0.15]), threshold=0.1) == "antimicrobial"


def test_tracks_of_a_long_protein_sit_at_the_residues_the_model_read(localisation):
    long_protein = (PROTEIN * 6)[:1300]
    read = localisation.card.config["max_length"]  # 500: the model reads residues 1-250 and 1051-1300
    head, tail = read // 2, 1300 - (read - read // 2)
    attention = localisation.attention(long_protein)
    values = saliency(localisation, long_protein)
    for track in (attention, values):
        assert track.shape == (1300,)
        assert np.isnan(track[head:tail]).all() and np.isfinite(track[:head]).all() and np.isfinite(track[tail:]).all()
    assert np.nansum(attention) == pytest.approx(1.0)
    kept = read_positions(1300, read)
    assert "".join(long_protein[i] for i in kept).replace("U", "C") == "".join(
        ALPHABET[t - 1] for t in PROTEIN_ALPHABET.encode([long_protein], read)[0].tolist()
    )


# sequence.amp's check has a learned part trained against random letters; the anticancer set's own negatives are
# random peptides, so its check keeps composition groups.
@pytest.mark.parametrize(("name", "random_flagged"), [("sequence.amp", 0.85), ("sequence.anticancer", 0.5)])
def test_a_peptide_models_applicability_check_flags_what_its_card_says(name, random_flagged):
    from medmodels.checkpoints import WEIGHTS_DIR, read_card
    from medmodels.sequences.applicability import load_check, random_sequences
    from medmodels.sequences.data import sequence_splits
    from medmodels.sequences.letters import tandem_repeats

    card = read_card(WEIGHTS_DIR / f"{name}.json")
    check = load_check(name, WEIGHTS_DIR)
    splits = sequence_splits(name)
    validation = splits["validation"].sequences
    # The card's random peptides: the check's reference set, uniform letters of lengths drawn from train.
    random_card = card.ood.flagged["random sequences of training lengths"]
    lengths = [
        int(n) for n in np.random.default_rng(0).choice([len(s) for s in splits["train"].sequences], len(validation))
    ]
    assert check.flagged_share(validation).flagged == card.ood.flagged["validation"].flagged <= 0.05
    # Random peptides like those the issue found called antimicrobial (10-40 residues): most are withheld.
    peptides = random_sequences(PROTEIN_ALPHABET.letters, list(np.random.default_rng(3).integers(10, 41, 300)))
    assert check.outside(peptides).mean() >= random_flagged
    assert check.flagged_share(random_sequences(PROTEIN_ALPHABET.letters, lengths)).flagged == random_card.flagged
    repeats = tandem_repeats(PROTEIN_ALPHABET.letters, lengths)
    assert (
        check.flagged_share(repeats).flagged
        == card.ood.flagged["tandem repeats of 1-4-letter units, training lengths"].flagged
    )


@pytest.mark.parametrize("name", ["sequence.amp", "sequence.anticancer", "sequence.localisation"])
def test_a_protein_model_withholds_homopolymers_and_two_residue_repeats(name):
    from medmodels.checkpoints import WEIGHTS_DIR
    from medmodels.sequences.applicability import load_check

    repeats = ["P" * 20, "K" * 30, "G" * 25, "KE" * 10, "RW" * 12, "A" * 300]
    reasons = load_check(name, WEIGHTS_DIR).reasons(repeats)
    assert all(reason and "a repeat or low-complexity sequence" in reason for reason in reasons), reasons


def test_a_peptide_outside_the_domain_gets_no_call_in_the_records():
    from medmodels.sequences.parsing import SequenceRecord
    from medmodels.sequences.recipes import SequencePredictor

    predictor = SequencePredictor("sequence.amp")
    records = predictor.predict_batch(
        [SequenceRecord("magainin", "GIGKFLHSAKKFGKAFVGEIMNS"), SequenceRecord("odd", "WWCCMMHHWWCCMMHHWWCCMMHHWW")]
    )
    assert records[0]["label"] is not None and "withheld_reason" not in records[0]
    assert records[1]["label"] is None and records[1]["probabilities"] is None
    assert "random or foreign sequence" in records[1]["withheld_reason"]
