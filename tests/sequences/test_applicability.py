"""The Markov applicability check: order-aware scores, a held-out threshold, and a file that round-trips."""

import numpy as np
import pytest

from medmodels.cards import CheckpointError
from medmodels.sequences.applicability import (
    PROTEIN_CHECK,
    CheckSettings,
    check_path,
    choose_complexity_kmer,
    fit_markov_check,
    load_check,
    random_sequences,
    save_check,
    shuffled,
    word_variety,
)
from medmodels.sequences.letters import tandem_repeats


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
    assert "too short or too ambiguous" in check.reasons(["AC"])[0]
    assert "unlike the training sequences" in check.reason(check.threshold - 1.0)


def test_the_threshold_is_a_low_quantile_of_held_out_training_scores(periodic):
    check = fit_markov_check(periodic, "ACGT", 2, CheckSettings(quantile=0.1))
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


def test_the_composition_part_flags_random_letters_whose_order_looks_ordinary():
    # Letters drawn independently (no order to learn) from a skewed composition, as a protein family's is.
    rng = np.random.default_rng(1)
    letters = "ACDEFGHIKLMNPQRSTVWY"
    skew = np.r_[np.full(5, 0.15), np.full(15, 0.25 / 15)]
    families = ["".join(rng.choice(list(letters), size=80, p=skew)) for _ in range(400)]
    order_only = fit_markov_check(families[:300], letters, order=1)
    with_composition = fit_markov_check(families[:300], letters, 1, CheckSettings(composition_clusters=2))
    uniform = random_sequences(letters, [80] * 100)
    assert order_only.outside(uniform).mean() < 0.5  # its order is as ordinary as the training letters'
    assert with_composition.outside(uniform).mean() >= 0.9
    assert with_composition.outside(families[300:]).mean() <= 0.1  # the family stays inside
    reasons = with_composition.reasons(uniform[:5] + families[300:305])
    assert sum("composition is unlike" in reason for reason in reasons[:5]) >= 4  # not their order
    assert reasons[5:].count(None) >= 4


def test_a_check_with_a_composition_part_round_trips_through_its_file(periodic, tmp_path):
    check = fit_markov_check(periodic, "ACGT", 2, PROTEIN_CHECK)  # composition part and length scaling
    save_check(check, "sequence.toy", tmp_path)
    loaded = load_check("sequence.toy", tmp_path)
    assert loaded.composition_threshold == check.composition_threshold and loaded.center == check.center
    np.testing.assert_array_equal(loaded.log_composition, check.log_composition)
    assert loaded.reasons(periodic[:20]) == check.reasons(periodic[:20])


def test_a_length_scaled_check_flags_short_and_long_held_out_sequences_alike():
    # Independent letters from one composition, lengths from 30 to 1,000: a mean over few letters spreads more.
    rng = np.random.default_rng(2)
    letters = "ACDEFGHIKLMNPQRSTVWY"
    skew = np.r_[np.full(5, 0.15), np.full(15, 0.25 / 15)]
    lengths = np.r_[np.full(400, 30), np.full(400, 1000)]
    sequences = ["".join(rng.choice(list(letters), size=n, p=skew)) for n in rng.permutation(lengths)]
    held_out = {n: ["".join(rng.choice(list(letters), size=n, p=skew)) for _ in range(300)] for n in (30, 1000)}
    plain = fit_markov_check(sequences, letters, 1, CheckSettings(quantile=0.1, composition_clusters=1))
    scaled = fit_markov_check(
        sequences, letters, 1, CheckSettings(quantile=0.1, composition_clusters=1, scale_by_length=True)
    )
    short, long = (plain.outside(held_out[n]).mean() for n in (30, 1000))
    assert short > 3 * long  # a fixed threshold on the mean catches mostly short sequences
    short, long = (scaled.outside(held_out[n]).mean() for n in (30, 1000))
    assert abs(short - long) < 0.06 and max(short, long) <= 0.2


@pytest.fixture(scope="module")
def sticky() -> list[str]:
    # A family whose next base repeats the last one 40 % of the time: its order rewards runs, so a homopolymer
    # scores well on order although no sequence of the family looks like one.
    rng = np.random.default_rng(4)
    sequences = []
    for _ in range(400):
        bases = [rng.choice(list("ACGT"))]
        for _ in range(59):
            bases.append(bases[-1] if rng.random() < 0.4 else rng.choice(list("ACGT")))
        sequences.append("".join(bases))
    return sequences


def test_complexity_is_the_spread_of_words_over_the_most_a_length_allows():
    scores = word_variety(["AAAAAAAA", "ACGT", "ATATATAT", "ACGTNNACGT", "A", ""], "ACGT", 1)
    np.testing.assert_allclose(scores[:4], [0.0, 1.0, 0.5, 1.0])
    assert np.isnan(scores[4:]).all()  # fewer than two words: nothing to judge
    # Words of 3: ACGTACGTAC has 8 words but 4 kinds, each twice.
    assert word_variety(["ACGTACGTAC"], "ACGT", 3)[0] == pytest.approx(np.log(4) / np.log(8))


def test_the_complexity_part_withholds_repeats_that_the_order_part_lets_through(sticky, tmp_path):
    repeats = ["A" * 60, "AT" * 30, "CAG" * 20, "G" * 45]
    order_only = fit_markov_check(sticky[:300], "ACGT", 2)
    assert not order_only.outside(["A" * 60, "G" * 45]).any()  # runs look like the family's order
    check = fit_markov_check(sticky[:300], "ACGT", 2, complexity_kmer=3)
    assert check.outside(repeats).all()
    assert all("a repeat or low-complexity sequence" in reason for reason in check.reasons(repeats))
    assert check.outside(sticky[300:]).mean() == order_only.outside(sticky[300:]).mean() <= 0.1
    save_check(check, "genome.toy", tmp_path)
    loaded = load_check("genome.toy", tmp_path)
    assert (loaded.complexity_kmer, loaded.complexity_threshold) == (3, check.complexity_threshold)
    assert loaded.reasons(repeats + sticky[300:320]) == check.reasons(repeats + sticky[300:320])


def test_the_complexity_word_length_is_chosen_on_held_out_sequences_and_tandem_repeats(sticky):
    chosen, candidates = choose_complexity_kmer("ACGT", [(sticky[:300], sticky[300:])], [60] * 100)
    assert [c.order for c in candidates] == [1, 2, 3, 4]
    assert chosen.shares["held_out"] <= 0.01
    assert chosen.shares["repeats"] == max(c.shares["repeats"] for c in candidates if c.shares["held_out"] <= 0.01)
    assert chosen.shares["repeats"] >= 0.9
    units = [len(set(repeat)) for repeat in tandem_repeats("ACGT", [60] * 200)]
    assert min(units) == 1 and max(units) <= 4
