"""The learned part of a peptide or nucleotide check: its features, its trees as arrays, and what it withholds."""

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from medmodels.sequences.alphabet import PROTEIN
from medmodels.sequences.applicability import CheckSettings, fit_markov_check, load_check, save_check
from medmodels.sequences.discriminator import nucleotide_features, peptide_features, tree_arrays
from medmodels.sequences.letters import random_sequences, shuffled

LETTERS = PROTEIN.letters


def test_the_tree_arrays_score_as_scikit_learn_does_up_to_its_constant():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(2000, 6))
    labels = (rows[:, 0] + rows[:, 1] ** 2 - rows[:, 2] * rows[:, 3] + rng.normal(scale=0.5, size=2000) > 1).astype(int)
    trees = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(rows, labels)
    checked = np.vstack([rng.normal(size=(3000, 6)), rows[:50]])  # new rows and rows on the split thresholds' sides
    difference = trees.decision_function(checked) - tree_arrays(trees).decision(checked)
    assert np.ptp(difference) < 1e-4  # float32 leaf values; the constant is the boosting's starting log-odds
    assert abs(difference[0] - float(np.ravel(trees._baseline_prediction)[0])) < 1e-4


def test_a_multiclass_model_s_trees_score_each_class_as_scikit_learn_does():
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(1500, 5))
    labels = np.digitize(rows[:, 0] + rows[:, 1] * rows[:, 2] + rng.normal(scale=0.3, size=1500), [-0.8, 0.0, 0.8])
    trees = HistGradientBoostingClassifier(max_iter=25, random_state=0).fit(rows, labels)
    checked = np.vstack([rng.normal(size=(2000, 5)), rows[:50]])
    baseline = np.ravel(trees._baseline_prediction)
    ours = np.stack([tree_arrays(trees, k).decision(checked) + baseline[k] for k in range(4)], axis=1)
    assert np.abs(trees.decision_function(checked) - ours).max() < 1e-4
    assert (ours.argmax(axis=1) == trees.predict(checked)).all()


def test_peptide_features_read_the_letters_a_reader_would():
    rows = peptide_features(["KKKK", "MAGW", "", "XKX"], LETTERS)
    assert rows.shape == (4, 94)
    k, m, g, w = (LETTERS.index(letter) for letter in "KMGW")
    poly_lysine, mixed, empty, ambiguous = rows
    assert poly_lysine[k] == 1.0 and poly_lysine[20] == pytest.approx(np.log(4))  # share, log length
    assert poly_lysine[21] == 0.0 and poly_lysine[22] == 0.25  # entropy; distinct letters / min(length, 20)
    assert poly_lysine[28] == 1.0 and poly_lysine[29] == 1.0  # net and absolute charge per residue
    assert poly_lysine[31] == 0.75  # identical neighbours at lag 1: 3 of 4 residues
    assert mixed[21] == pytest.approx(np.log(4)) and mixed[22] == 1.0
    assert mixed[-40 + m] == 1.0 and mixed[-20 + w] == 1.0 and mixed[-40 + g] == 0.0  # first M, last W
    assert np.isfinite(empty).all()
    assert ambiguous[k] == 1.0 and ambiguous[20] == 0.0  # X counts in no share; one standard letter


def test_nucleotide_features_read_word_shares_and_bases_by_position():
    rows = nucleotide_features(["ACGT", "AANA", ""], "ACGT", positions=3)
    assert rows.shape == (3, 4 + 16 + 64 + 1 + 12)
    plain, ambiguous, empty = rows
    np.testing.assert_allclose(plain[:4], 0.25)  # base shares
    ac, cg = 4 + 0 + 4 * 1, 4 + 1 + 4 * 2  # word index: first base + 4 x second
    assert plain[ac] == plain[cg] == pytest.approx(1 / 3)
    assert plain[84] == pytest.approx(np.log(4))
    np.testing.assert_array_equal(plain[85:].reshape(3, 4), np.eye(4)[:3])  # A, C, G at positions 1-3
    assert ambiguous[0] == 1.0 and ambiguous[4] == 1.0  # A only; AA the only whole word
    np.testing.assert_array_equal(ambiguous[85:].reshape(3, 4), [[1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])  # N
    assert np.isfinite(empty).all() and not empty[85:].any()


@pytest.fixture(scope="module")
def windows() -> list[str]:
    # 60-base windows with an AG|GT junction in the middle, from a chain that avoids CpG (as vertebrate DNA does).
    rng = np.random.default_rng(5)
    sequences = []
    for _ in range(700):
        bases = [rng.choice(list("ACGT"))]
        for _ in range(59):
            bases.append(
                rng.choice(list("ACGT"), p=[0.3, 0.2, 0.2, 0.3] if bases[-1] != "C" else [0.35, 0.3, 0.0, 0.35])
            )
        bases[28:32] = "AGGT"
        sequences.append("".join(bases))
    return sequences


def test_a_nucleotide_learned_part_withholds_shuffled_and_random_windows(windows, tmp_path):
    settings = CheckSettings(
        quantile=0.05, order_share=0.0, random_discriminator=True, learned_shuffles=2, learned_positions=60
    )
    order_only = fit_markov_check(windows[:500], "ACGT", 2)
    check = fit_markov_check(windows[:500], "ACGT", 2, settings)
    held_out, mixed, uniform = windows[500:], shuffled(windows[500:]), random_sequences("ACGT", [60] * 200)
    assert check.outside(held_out).mean() <= 0.1
    assert check.outside(mixed).mean() >= 0.9 and check.outside(uniform).mean() >= 0.9
    assert order_only.outside(mixed).mean() < check.outside(mixed).mean()
    save_check(check, "genome.toy", tmp_path)
    loaded = load_check("genome.toy", tmp_path)
    assert loaded.discriminator_positions == 60
    assert loaded.reasons(mixed[:20] + held_out[:20]) == check.reasons(mixed[:20] + held_out[:20])


@pytest.fixture(scope="module")
def family() -> list[str]:
    # Peptides that start with methionine, from a skewed composition, 10-40 residues.
    rng = np.random.default_rng(1)
    skew = np.r_[np.full(6, 0.12), np.full(14, 0.28 / 14)]
    return ["M" + "".join(rng.choice(list(LETTERS), size=n - 1, p=skew)) for n in rng.integers(10, 41, 700)]


def test_a_learned_part_withholds_random_peptides_and_keeps_the_family(family, tmp_path):
    settings = CheckSettings(quantile=0.05, order_share=0.0, random_discriminator=True)
    check = fit_markov_check(family[:500], LETTERS, 1, settings)
    uniform = random_sequences(LETTERS, list(np.random.default_rng(2).integers(10, 41, 300)))
    assert check.outside(family[500:]).mean() <= 0.1
    assert check.outside(uniform).mean() >= 0.9
    reasons = check.reasons(uniform[:10])
    assert sum(reason is not None and "random letters" in reason for reason in reasons) >= 8
    save_check(check, "sequence.toy", tmp_path)
    loaded = load_check("sequence.toy", tmp_path)
    assert loaded.discriminator_threshold == check.discriminator_threshold
    np.testing.assert_array_equal(loaded.discriminator_scores(uniform), check.discriminator_scores(uniform))
    assert loaded.outside(["", "XXXX"]).all()  # nothing to score is outside, as before


def test_a_check_has_a_composition_part_or_a_learned_one_not_both(family):
    with pytest.raises(ValueError, match="not both"):
        fit_markov_check(family[:100], LETTERS, 1, CheckSettings(composition_clusters=2, random_discriminator=True))


def test_refit_check_rewrites_the_check_and_card_and_keeps_the_weights(tmp_path, monkeypatch, capsys):
    import shutil
    from dataclasses import replace

    from medmodels.checkpoints import WEIGHTS_DIR, load_checkpoint
    from medmodels.cli import main
    from medmodels.sequences import recipes

    for suffix in (".safetensors", ".json", ".applicability.safetensors"):
        shutil.copy(WEIGHTS_DIR / f"sequence.amp{suffix}", tmp_path / f"sequence.amp{suffix}")
    weights = (tmp_path / "sequence.amp.safetensors").read_bytes()
    _, before = load_checkpoint("sequence.amp", tmp_path)
    # Composition groups instead of the trees: seconds, not a minute.
    cheap = CheckSettings(quantile=0.04, composition_clusters=2, order_share=0.25)
    monkeypatch.setitem(recipes.SPECS, "sequence.amp", replace(recipes.SPECS["sequence.amp"], check=cheap))
    assert main(["refit-check", "sequence.amp", "--weights", str(tmp_path)]) == 0
    assert "applicability check refitted" in capsys.readouterr().out
    _, after = load_checkpoint("sequence.amp", tmp_path)  # verifies every file against the card's SHA-256
    assert (tmp_path / "sequence.amp.safetensors").read_bytes() == weights
    assert "2 composition groups" in after.ood.method and "trees" not in after.ood.method
    assert after.test_history == before.test_history and after.temperature == before.temperature
    assert load_check("sequence.amp", tmp_path).discriminator is None
    assert main(["refit-check", "imaging.pneumonia", "--weights", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: refit-check takes a sequence or genome model")
