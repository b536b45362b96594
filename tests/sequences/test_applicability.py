"""The Markov applicability check: order-aware scores, a held-out threshold, and a file that round-trips."""

import numpy as np
import pytest

from medmodels.cards import CheckpointError
from medmodels.sequences.applicability import (
    check_path,
    fit_markov_check,
    load_check,
    random_sequences,
    save_check,
    shuffled,
)


@pytest.fixture(scope="module")
def periodic() -> list[str]:
    # Training sequences with strong order (ACGT repeats with a few substitutions) and a flat composition.
    rng = np.random.default_rng(0)
    sequences = []
    for _ in range(300):
        letters = list("ACGT" * 15)
        for position in rng.choice(60, size=3, replace=False):
            letters[position] = rng.choice(list("ACGT"))
        sequences.append("".join(letters))
    return sequences


def test_order_is_what_is_scored_so_shuffles_and_random_letters_fall_outside(periodic):
    check = fit_markov_check(periodic[:200], "ACGT", order=2)
    held_out = periodic[200:]
    assert check.outside(held_out).mean() <= 0.05
    assert check.outside(shuffled(held_out)).mean() >= 0.9  # same composition, order destroyed
    assert check.outside(random_sequences("ACGT", [60] * 100)).mean() >= 0.9


def test_a_sequence_with_nothing_to_score_is_outside_and_says_why(periodic):
    check = fit_markov_check(periodic, "ACGT", order=3)
    assert check.outside(["AC", "NNNNNNNN"]).all()
    assert "too short or too ambiguous" in check.reason(float(check.scores(["AC"])[0]))
    assert "unlike the training sequences" in check.reason(check.threshold - 1.0)


def test_the_threshold_is_a_low_quantile_of_held_out_training_scores(periodic):
    check = fit_markov_check(periodic, "ACGT", order=2, quantile=0.1)
    flagged = check.outside(periodic).mean()
    assert 0.0 < flagged <= 0.1  # in-sample scores sit a little above the held-out ones the threshold came from


def test_the_check_round_trips_through_its_file_and_a_damaged_file_is_refused(periodic, tmp_path):
    check = fit_markov_check(periodic, "ACGT", order=3)
    save_check(check, "genome.toy", tmp_path)
    loaded = load_check("genome.toy", tmp_path)
    assert loaded.order == 3 and loaded.letters == "ACGT" and loaded.threshold == check.threshold
    np.testing.assert_array_equal(loaded.scores(periodic[:5]), check.scores(periodic[:5]))
    assert load_check("genome.other", tmp_path) is None  # a model saved without one
    check_path("genome.toy", tmp_path).write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_check("genome.toy", tmp_path)
