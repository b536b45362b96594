"""Whether a sequence lies inside a model's domain: an applicability check fitted on its training data.

The check is a Markov chain of letters. Fitted on the training sequences, it scores a sequence by the mean
log-probability of each letter given the ``order`` letters before it, minus the mean log-probability of the
letter under the training composition alone (order 0). The score is how much more the sequence's letter
*order* looks like training data than its composition explains: shuffling a sequence keeps its composition and
destroys its order, and random letters have neither. A sequence scoring below the threshold is outside the
domain; the model then withholds its call, as an imaging model's OOD gate does.

A protein check adds a composition part, because random letters have an order score near that of real
proteins (protein letter order carries little information) but a foreign composition: the training sequences
are grouped by their letter shares (k-means, ``PROTEIN_CHECK``), and a sequence is scored by the mean log-share
of its letters under the group that explains it best. A sequence below either part's threshold is outside. Protein
lengths vary 100-fold, so a protein check scales both scores by the square root of the length. The antimicrobial
check (``AMP_CHECK``) has a learned part instead of the composition groups: gradient-boosted trees that tell its
training peptides from uniformly random letters (``discriminator.py``), because its negatives' composition is
too close to uniform for composition groups to separate short random peptides.

Every check also has a complexity part, because a repeat scores well on letter order (after ``AAA`` the training
data does favour another ``A``): a sequence whose words of ``k`` letters are less varied than those of every
training sequence (the entropy of its k-letter words over the most its length allows) is a repeat or a
low-complexity sequence, and is outside. ``k`` is chosen on validation against tandem repeats of 1-4-letter units.

Each threshold is a low quantile of held-out scores of training sequences (each fold scored by statistics
fitted on the other folds), so that a few percent of sequences like the training data are flagged (with two
parts, shared between them); the order is chosen on validation (see each recipe). The tables (and trees) live in
``NAME.applicability.safetensors``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from sklearn.cluster import KMeans

from medmodels.cards import CheckpointError, FlaggedShare, OodSummary
from medmodels.sequences.data import SequenceSet
from medmodels.sequences.discriminator import (
    LEARNING_RATE,
    RANDOM_PER_SEQUENCE,
    TreeEnsemble,
    discriminator_features,
    fit_random_discriminator,
)
from medmodels.sequences.letters import (
    letter_counts,
    letter_windows,
    random_sequences,
    shuffled,
    tandem_repeats,
    word_counts,
)

FOLDS = 5
QUANTILE = 0.03  # of held-out training scores: the share of training-like sequences flagged
# Word lengths the complexity part chooses among: up to 4 bases (DUST counts triplets), up to 2 residues (a
# peptide of 20 residues has 19 of the 400 possible pairs, and SEG reads single residues).
COMPLEXITY_KMERS = {4: (1, 2, 3, 4), 20: (1, 2)}
MAX_COMPLEXITY_FLAGGED = 0.01  # of held-out training-like sequences, by the complexity part alone


def _transitions(sequences: list[str], letters: str, order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(sequence index, context index, next letter)`` of every position with ``order`` standard letters of
    its own sequence before it."""
    rows, windows = letter_windows(sequences, letters, order + 1)
    context = windows[:, :order] @ (len(letters) ** np.arange(order)) if order else np.zeros(len(windows), np.int64)
    return rows, context, windows[:, order]


def _log_table(sequences: list[str], letters: str, order: int) -> np.ndarray:
    """``(A^order, A)`` log P(letter | context), add-one smoothed."""
    size = len(letters)
    _, context, letter = _transitions(sequences, letters, order)
    counts = 1.0 + np.bincount(context * size + letter, minlength=size ** (order + 1)).reshape(size**order, size)
    return np.log(counts / counts.sum(axis=1, keepdims=True))


def word_variety(sequences: list[str], letters: str, k: int) -> np.ndarray:
    """Per sequence: the entropy of its words of ``k`` standard letters over the most it could be
    (log of the fewer of its word count and the possible words); 1 for an even spread, 0 for a homopolymer;
    NaN with fewer than two words."""
    size = len(letters) ** k
    counts = word_counts(sequences, letters, k)
    totals = counts.sum(axis=1)
    shares = counts / np.maximum(totals, 1)[:, None]
    entropy = 0.0 - (shares * np.log(np.where(shares > 0, shares, 1.0))).sum(axis=1)  # 0.0, not -0.0
    most = np.log(np.minimum(np.maximum(totals, 2), size))
    return np.where(totals >= 2, entropy / most, np.nan)


def _composition_table(sequences: list[str], letters: str, clusters: int, seed: int = 0) -> np.ndarray:
    """``(clusters, A)`` log letter shares (add-one smoothed) of k-means groups of the sequences' letter shares."""
    counts = letter_counts(sequences, letters)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    groups = KMeans(clusters, n_init=4, random_state=seed).fit_predict(shares)
    pooled = np.stack([counts[groups == group].sum(axis=0) for group in range(clusters)]) + 1
    return np.log(pooled / pooled.sum(axis=1, keepdims=True))


@dataclass(frozen=True)
class MarkovCheck:
    letters: str
    order: int
    log_conditional: np.ndarray  # (A^order, A)
    log_background: np.ndarray  # (1, A): order 0
    threshold: float
    # The composition part (protein checks): (clusters, A) log letter shares, and its own threshold.
    log_composition: np.ndarray | None = None
    composition_threshold: float = float("-inf")
    # Length-scaled scores (protein checks, whose lengths vary 100-fold): a mean over n letters spreads as
    # 1 / sqrt(n), so a fixed threshold on it flags short real proteins far more often than long ones (7 % against
    # 2 % of validation proteins under and over 200 residues). Scaled, a score is (mean - centre) x sqrt(n), the
    # centre being the median held-out mean.
    scale_by_length: bool = False
    center: float = 0.0
    composition_center: float = 0.0
    # The learned part (``discriminator.py``, the antimicrobial check): trees telling training peptides from
    # uniformly random ones, and its own threshold; used instead of the composition groups.
    discriminator: TreeEnsemble | None = None
    discriminator_threshold: float = float("-inf")
    discriminator_positions: int = 0  # leading positions its nucleotide features read base by base
    # The complexity part: words of this many letters (0: none), and the lowest training sequence's score.
    complexity_kmer: int = 0
    complexity_threshold: float = float("-inf")

    def _scaled(self, means: np.ndarray, counts: np.ndarray, center: float) -> np.ndarray:
        return (means - center) * np.sqrt(counts) if self.scale_by_length else means

    def _order_means(self, sequences: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per sequence, the mean order score and how many positions it averages."""
        rows, context, letter = _transitions(sequences, self.letters, self.order)
        values = self.log_conditional[context, letter] - self.log_background[0, letter]
        counts = np.bincount(rows, minlength=len(sequences)).astype(float)
        sums = np.bincount(rows, weights=values, minlength=len(sequences))
        means = np.full(len(sequences), np.nan)
        means[counts > 0] = sums[counts > 0] / counts[counts > 0]
        return means, counts

    def _composition_means(self, sequences: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if self.log_composition is None:
            return np.full(len(sequences), np.nan), np.zeros(len(sequences))
        counts = letter_counts(sequences, self.letters)
        totals = counts.sum(axis=1)
        best = (counts @ self.log_composition.T).max(axis=1) / np.maximum(totals, 1)
        return np.where(totals > 0, best, np.nan), totals

    def scores(self, sequences: list[str]) -> np.ndarray:
        """Per sequence: mean log P(letter | previous ``order`` letters) minus mean log P(letter) (length-scaled
        when the check scales); NaN when the sequence has no position with a full context of standard letters."""
        return self._scaled(*self._order_means(sequences), self.center)

    def composition_scores(self, sequences: list[str]) -> np.ndarray:
        """Per sequence: the mean log-share of its letters under the best-fitting training composition group
        (length-scaled when the check scales); NaN without standard letters (or without a composition part)."""
        return self._scaled(*self._composition_means(sequences), self.composition_center)

    def discriminator_scores(self, sequences: list[str]) -> np.ndarray:
        """Per sequence: the learned part's log-odds (less a constant) that it is a training sequence rather than
        random letters; NaN without standard letters (or without a learned part)."""
        if self.discriminator is None or not sequences:
            return np.full(len(sequences), np.nan)
        rows = discriminator_features(sequences, self.letters, self.discriminator_positions)
        has_letters = rows[:, : len(self.letters)].sum(axis=1) > 0  # the letter shares
        return np.where(has_letters, self.discriminator.decision(rows), np.nan)

    def complexity_scores(self, sequences: list[str]) -> np.ndarray:
        """Per sequence: how varied its words of ``complexity_kmer`` letters are (``word_variety``); NaN
        with fewer than two words (or without a complexity part)."""
        if not self.complexity_kmer:
            return np.full(len(sequences), np.nan)
        return word_variety(sequences, self.letters, self.complexity_kmer)

    def _failed(self, sequences: list[str]) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """Per part (complexity, order, composition, learned): its scores, and where they fall below its
        threshold (or, but for complexity, cannot be scored: a sequence too short to judge its complexity has too
        few letters for the order part); a part the check lacks fails nothing."""
        complexity = self.complexity_scores(sequences)
        parts = (
            (self.scores(sequences), self.threshold, True),
            (self.composition_scores(sequences), self.composition_threshold, self.log_composition is not None),
            (self.discriminator_scores(sequences), self.discriminator_threshold, self.discriminator is not None),
        )
        return (complexity, complexity < self.complexity_threshold), *(
            (scores, ~(scores >= threshold) & present) for scores, threshold, present in parts
        )

    def failed_parts(self, sequences: list[str]) -> dict[str, np.ndarray]:
        """Per part (complexity, order, composition, learned): where each sequence fails it; a sequence outside
        fails one or more (``benchmarks/splice_domain.py`` reports them)."""
        names = ("complexity", "order", "composition", "learned")
        return {name: failed for name, (_, failed) in zip(names, self._failed(sequences))}

    def reasons(self, sequences: list[str]) -> list[str | None]:
        """Per sequence, why it is outside the domain (its complexity, else its order, composition or learned
        score); None inside."""
        (simple, bad_simple), (order, bad_order), (composition, bad_composition), (learned, bad_learned) = self._failed(
            sequences
        )
        words = "letter" if self.complexity_kmer == 1 else f"{self.complexity_kmer}-letter word"
        reasons: list[str | None] = []
        for i in range(len(sequences)):
            if bad_simple[i]:
                reasons.append(
                    f"its letters are less varied than any training sequence's ({words} entropy {simple[i]:.2f} of "
                    f"the most its length allows, below {self.complexity_threshold:.2f}): a repeat or low-complexity "
                    "sequence"
                )
            elif bad_order[i]:
                reasons.append(self.reason(float(order[i])))
            elif bad_composition[i]:
                reasons.append(
                    f"its letter composition is unlike the training sequences ({self._kind}score "
                    f"{composition[i]:.3f}, below {self.composition_threshold:.3f}): random or foreign sequence"
                )
            elif bad_learned[i]:
                reasons.append(
                    # The trees learned "training sequence or random letters", but a real protein of another
                    # kind lands on the random side too: the reason says unlike, not random.
                    f"its letters are unlike the training sequences' (learned score {learned[i]:.2f}, below "
                    f"{self.discriminator_threshold:.2f}, from trees that tell them from random letters): random or "
                    "foreign sequence"
                )
            else:
                reasons.append(None)
        return reasons

    def outside(self, sequences: list[str]) -> np.ndarray:
        """True where a sequence is outside the domain (a score below its threshold, or nothing to score)."""
        return np.logical_or.reduce([failed for _, failed in self._failed(sequences)])

    def flagged_share(self, sequences: list[str]) -> FlaggedShare:
        return FlaggedShare(len(sequences), round(float(self.outside(sequences).mean()), 4))

    def reason(self, score: float) -> str:
        """Why a sequence was withheld, in one line."""
        if np.isnan(score):
            return f"too short or too ambiguous to compare with the training sequences (order-{self.order} letter statistics)"
        return (
            f"its letter order is unlike the training sequences ({self._kind}order-{self.order} Markov score "
            f"{score:.3f}, below {self.threshold:.3f}): shuffled, random or foreign sequence"
        )

    @property
    def _kind(self) -> str:
        return "length-scaled " if self.scale_by_length else ""


@dataclass(frozen=True)
class CheckSettings:
    """How a check is fitted beyond its order: the quantile of held-out training scores flagged, the composition
    part (0 clusters: none) or the learned part (``random_discriminator``), the order part's share of the quantile
    beside either, and length scaling."""

    quantile: float = QUANTILE
    composition_clusters: int = 0
    order_share: float = 0.5
    scale_by_length: bool = False
    random_discriminator: bool = False
    # The learned part's training: shuffles of each training sequence beside the random ones, and the leading
    # positions nucleotide features read base by base (windows of one length).
    learned_shuffles: int = 0
    learned_positions: int = 0
    # How many uniformly random sequences per training sequence the trees learn against, and their learning rate.
    learned_random: int = RANDOM_PER_SEQUENCE
    learned_learning_rate: float = LEARNING_RATE


CHECK_ORDERS = (1, 2, 3, 4, 5)  # Markov orders a nucleotide check chooses among
PROTEIN_CHECK_ORDERS = (1, 2, 3)  # 20 letters: an order-4 table would hold 3.2 million contexts
# Protein letter order carries little: with half of a 3 % quantile for each part, the order part flagged 5-20 % of
# shuffled validation proteins while the composition part left half of random peptides inside (sequence.amp); a
# quarter of 4 % keeps the order part and lets composition work. 8 composition groups (k-means over letter shares).
PEPTIDE_CHECK = CheckSettings(quantile=0.04, composition_clusters=8, order_share=0.25)
# Whole proteins (30 to 4,924 residues) scale by length: on sequence.localisation's validation split the unscaled
# check flagged 7 % of proteins under 200 residues and 2 % of longer ones; scaled, it flags shuffled proteins 34 %
# of the time against 13 % (peptides, 7 to 174 residues, lost random-peptide recall to it: 53 % against 66 %).
# sequence.amp: its negatives are UniProt peptides of near-uniform composition, so composition groups left a third
# of random peptides inside (65.9 % flagged). The learned part (``discriminator.py``) takes the whole quantile; the
# first trees (8 random peptides per training one, learning rate 0.15, 74 trees) at 5 % flagged 3.3 % of
# validation, 6.2 % of shuffled and 91.0 % of random peptides, where giving the order part 1 % of it flagged 4.9 %
# / 9.7 % / 89.4 %. (sequence.anticancer's own negatives are random peptides: it keeps the composition groups.)
# Now 16 random peptides per training one at learning rate 0.07 (137 trees): at the thresholds flagging 3 and 4 %
# of validation they flag 90.1 and 91.8 % of random peptides of 10-40 residues, where the first trees flagged 88.1
# and 89.8 % (8 at 0.05 grew 238 trees for 90.2 and 91.3 %, at twice the time). The splice trees gained nothing
# from the same change (shuffled / random 66.0 / 81.5 % against 67.5 / 82.2 % on two folds), so they keep theirs.
# With these trees a 5 % quantile flags only 2.7 % of validation; the quantile is the largest of 5, 5.5, 6 and 6.5 %
# that flags at most 4 % of validation (a point under the 5 %: new peptides run above validation):
# 2.7 / 3.0 / 3.6 / 4.3 % of validation, 89.1 / 90.0 / 91.0 / 92.0 % of random peptides of 10-40 residues.
AMP_CHECK = CheckSettings(
    quantile=0.06, order_share=0.0, random_discriminator=True, learned_random=16, learned_learning_rate=0.07
)
PROTEIN_CHECK = CheckSettings(quantile=0.04, composition_clusters=8, order_share=0.25, scale_by_length=True)
MAX_IN_DOMAIN_FLAGGED = 0.05  # of held-out training-like sequences


def _learned(sequences: list[str], letters: str, settings: CheckSettings, seed: int) -> TreeEnsemble:
    return fit_random_discriminator(
        sequences,
        letters,
        seed,
        settings.learned_shuffles,
        settings.learned_positions,
        settings.learned_random,
        settings.learned_learning_rate,
    )


def fit_markov_check(
    sequences: list[str],
    letters: str,
    order: int,
    settings: CheckSettings = CheckSettings(),
    seed: int = 0,
    complexity_kmer: int = 0,
) -> MarkovCheck:
    """A check fitted on ``sequences`` (the training split), its thresholds quantiles of held-out scores (each
    fold scored by statistics fitted on the other folds): the whole ``settings.quantile`` for a check of letter
    order alone; with a composition or learned part, ``order_share`` of it for the order part and the rest for
    that part. With ``complexity_kmer`` words of that many letters, a sequence less varied than every one of
    ``sequences`` is outside too."""
    clusters, learned = settings.composition_clusters, settings.random_discriminator
    positions = settings.learned_positions if learned else 0
    if clusters and learned:
        raise ValueError("a check has a composition part or a learned part, not both")
    indices = np.random.default_rng(seed).permutation(len(sequences))
    held: list[tuple[np.ndarray, ...]] = []
    for fold in np.array_split(indices, FOLDS):
        rest = [sequences[i] for i in np.setdiff1d(indices, fold)]
        partial = MarkovCheck(
            letters,
            order,
            _log_table(rest, letters, order),
            _log_table(rest, letters, 0),
            float("-inf"),
            _composition_table(rest, letters, clusters, seed) if clusters else None,
        )
        fold_sequences = [sequences[i] for i in fold]
        if learned:
            partial = replace(
                partial, discriminator=_learned(rest, letters, settings, seed), discriminator_positions=positions
            )
        held.append(
            (
                *partial._order_means(fold_sequences),
                *partial._composition_means(fold_sequences),
                partial.discriminator_scores(fold_sequences),
            )
        )
    order_means, order_counts, composition_means, composition_counts, learned_scores = map(np.concatenate, zip(*held))
    check = MarkovCheck(
        letters,
        order,
        _log_table(sequences, letters, order),
        _log_table(sequences, letters, 0),
        float("-inf"),
        _composition_table(sequences, letters, clusters, seed) if clusters else None,
        scale_by_length=settings.scale_by_length,
        center=float(np.nanmedian(order_means)) if settings.scale_by_length else 0.0,
        composition_center=float(np.nanmedian(composition_means)) if settings.scale_by_length and clusters else 0.0,
        discriminator=_learned(sequences, letters, settings, seed) if learned else None,
        discriminator_positions=positions,
    )
    order_quantile = settings.quantile * settings.order_share if clusters or learned else settings.quantile
    order_scores = check._scaled(order_means, order_counts, check.center)
    composition_threshold = float("-inf")
    if clusters:
        composition_scores = check._scaled(composition_means, composition_counts, check.composition_center)
        composition_threshold = float(np.nanquantile(composition_scores, settings.quantile - order_quantile))
    discriminator_threshold = float("-inf")
    if learned:
        discriminator_threshold = float(np.nanquantile(learned_scores, settings.quantile - order_quantile))
    return replace(
        check,
        threshold=float(np.nanquantile(order_scores, order_quantile)),
        composition_threshold=composition_threshold,
        discriminator_threshold=discriminator_threshold,
        complexity_kmer=complexity_kmer,
        complexity_threshold=float(np.nanmin(word_variety(sequences, letters, complexity_kmer)))
        if complexity_kmer
        else float("-inf"),
    )


@dataclass(frozen=True)
class CheckChoice:
    order: int  # or, for the complexity part, its word length
    shares: dict[str, float]  # held-out, shuffled held-out, random, tandem repeats: the share flagged


def choose_complexity_kmer(
    letters: str, pairs: list[tuple[list[str], list[str]]], lengths: list[int]
) -> tuple[CheckChoice, list[CheckChoice]]:
    """The word length whose complexity part alone flags the most tandem repeats of the training lengths while
    flagging at most 1 % of held-out training-like sequences (fewer held out breaking ties; the lowest held-out
    share when none qualifies); all candidates, for the card."""
    repeats = tandem_repeats(letters, lengths)
    candidates = []
    for k in COMPLEXITY_KMERS[len(letters)]:
        rows = []
        for fitted_on, held_out in pairs:
            threshold = np.nanmin(word_variety(fitted_on, letters, k))
            rows.append(
                [
                    (word_variety(sequences, letters, k) < threshold).mean()
                    for sequences in (held_out, repeats[: len(held_out)])
                ]
            )
        held, repeated = np.mean(rows, axis=0)
        candidates.append(CheckChoice(k, {"held_out": float(held), "repeats": float(repeated)}))
    allowed = [c for c in candidates if c.shares["held_out"] <= MAX_COMPLEXITY_FLAGGED] or [
        min(candidates, key=lambda c: c.shares["held_out"])
    ]
    return max(allowed, key=lambda c: (c.shares["repeats"], -c.shares["held_out"])), candidates


def _check_shares(
    letters: str,
    pairs: list[tuple[list[str], list[str]]],
    order: int,
    lengths: list[int],
    settings: CheckSettings = CheckSettings(),
    complexity_kmer: int = 0,
) -> dict[str, float]:
    """Shares flagged by a check of ``order`` fitted on each pair's first sequences, measured on its second
    (held out), their shuffles, random sequences and tandem repeats of the training lengths; averaged over the
    pairs."""
    rows = []
    for fitted_on, held_out in pairs:
        check = fit_markov_check(fitted_on, letters, order, settings, complexity_kmer=complexity_kmer)
        rows.append(
            (
                check.outside(held_out).mean(),
                check.outside(shuffled(held_out)).mean(),
                check.outside(random_sequences(letters, lengths[: len(held_out)])).mean(),
                check.outside(tandem_repeats(letters, lengths[: len(held_out)])).mean(),
            )
        )
    held, mixed, random, repeats = np.mean(rows, axis=0)
    return {"held_out": float(held), "shuffled": float(mixed), "random": float(random), "repeats": float(repeats)}


def choose_check_order(
    letters: str,
    pairs: list[tuple[list[str], list[str]]],
    lengths: list[int],
    orders: tuple[int, ...] = CHECK_ORDERS,
    settings: CheckSettings = CheckSettings(),
    complexity_kmer: int = 0,
) -> tuple[CheckChoice, list[CheckChoice]]:
    """The order that flags the most shuffled and random sequences while flagging at most 5 % of held-out
    training-like ones (the lowest held-out share when none does); all candidates, for the card."""
    candidates = [
        CheckChoice(order, _check_shares(letters, pairs, order, lengths, settings, complexity_kmer)) for order in orders
    ]
    allowed = [c for c in candidates if c.shares["held_out"] <= MAX_IN_DOMAIN_FLAGGED] or [
        min(candidates, key=lambda c: c.shares["held_out"])
    ]
    return max(allowed, key=lambda c: c.shares["shuffled"] + c.shares["random"]), candidates


def fit_applicability(
    letters: str,
    train_set: SequenceSet,
    validation: SequenceSet | None,
    folds: list[tuple[np.ndarray, np.ndarray]] | None,
    test: SequenceSet,
    *,
    orders: tuple[int, ...] = CHECK_ORDERS,
    settings: CheckSettings = CheckSettings(),
    unit: str = "letters",
) -> tuple[MarkovCheck, OodSummary]:
    """The applicability check: its order chosen on validation (or the cross-validation folds), then fitted on
    all of train; the card's summary with the shares it flags of held-out, shuffled, random and test sequences.
    ``settings`` may add the composition part and length scaling (protein checks)."""
    rng = np.random.default_rng(0)
    train_lengths = [len(s) for s in train_set.sequences]
    lengths = [int(x) for x in rng.choice(train_lengths, size=len(train_set))]
    if validation is not None:
        pairs = [(train_set.sequences, validation.sequences)]
        held_name = "validation"
    else:
        assert folds is not None
        pairs = [
            ([train_set.sequences[i] for i in keep], [train_set.sequences[i] for i in fold]) for keep, fold in folds
        ]
        held_name = "held-out folds of train (5-fold cross-validation)"
    simple, simple_candidates = choose_complexity_kmer(letters, pairs, lengths)
    chosen, candidates = choose_check_order(letters, pairs, lengths, orders, settings, simple.order)
    check = fit_markov_check(train_set.sequences, letters, chosen.order, settings, complexity_kmer=simple.order)
    clusters, quantile, order_share = settings.composition_clusters, settings.quantile, settings.order_share
    held_n = len(validation) if validation is not None else len(train_set)
    method = (
        f"Applicability check: an order-{chosen.order} Markov chain of {unit} fitted on train; a sequence whose "
        f"{unit[:-1]} order is less like training than its composition explains is withheld"
    )
    if (clusters or settings.random_discriminator) and not settings.order_share:
        method += (
            f" (here only one less like it than every held-out training sequence, or with no {unit[:-1]} to score)"
        )
    if clusters:
        method += (
            f", and so is one whose composition no group of training sequences explains ({clusters} "
            "composition groups, k-means over letter shares)"
        )
    if settings.random_discriminator:
        assert check.discriminator is not None
        trees = (
            f"{len(check.discriminator.values)} trees at learning rate {settings.learned_learning_rate:g}, stopped "
            "early on a tenth of their rows held out"
        )
        against = f"{settings.learned_random} random sequences of the training lengths" + (
            f" and {settings.learned_shuffles} shuffles" if settings.learned_shuffles else ""
        )
        if len(letters) == 20:
            method += (
                ", and so is one that gradient-boosted trees score as more like uniformly random letters than like "
                f"the training sequences ({trees}; on letter shares, length, skew, repeats, hydrophobic periodicity, "
                f"charge, residue-group pairs and the end residues, trained against {against} per training sequence)"
            )
        else:
            positions = settings.learned_positions
            method += (
                ", and so is one that gradient-boosted trees score as more like random or shuffled bases than like "
                f"the training sequences ({trees}; on the shares of words of 1-3 bases, length"
                + (f" and the base at each of the first {positions} positions" if positions else "")
                + f", trained against {against} per training sequence)"
            )
    if settings.scale_by_length:
        method += "; both scores scaled by the square root of the sequence's length (mean - median) x sqrt(n)"
    words = unit if simple.order == 1 else f"words of {simple.order} {unit}"
    method += (
        f". A sequence whose {words} are less varied than those of every training sequence (their entropy over the "
        "most its length allows) is withheld as a repeat or low-complexity sequence"
    )
    summary = OodSummary(
        method=method,
        threshold=check.threshold,
        threshold_rule=f"the {format(quantile, '.1%').replace('.0%', '%')} quantile of held-out training scores (5 folds)"
        + (
            f": {quantile * order_share:.1%} for the order part, {quantile * (1 - order_share):.1%} for the "
            + ("composition" if clusters else "learned")
            + " part (the threshold above is the order part's; the "
            + (
                f"composition part's is {check.composition_threshold:.4g}"
                if clusters
                else f"learned part's is {check.discriminator_threshold:.4g}"
            )
            + ")"
            if clusters or settings.random_discriminator
            else ""
        )
        + f"; the order chosen among {', '.join(map(str, orders))} on {held_name}: most shuffled + random flagged "
        f"with at most {MAX_IN_DOMAIN_FLAGGED:.0%} of held-out sequences flagged ("
        + "; ".join(
            f"order {c.order}: {c.shares['held_out']:.1%} / {c.shares['shuffled']:.1%} / {c.shares['random']:.1%}"
            for c in candidates
        )
        + f"); the complexity part's threshold the lowest training sequence's ({check.complexity_threshold:.3f}), "
        f"its word length chosen among {', '.join(str(c.order) for c in simple_candidates)} on {held_name}: most "
        f"tandem repeats flagged with at most {MAX_COMPLEXITY_FLAGGED:.0%} of held-out sequences flagged by it ("
        + "; ".join(f"{c.order}: {c.shares['held_out']:.1%} / {c.shares['repeats']:.1%}" for c in simple_candidates)
        + ")",
        flagged={
            held_name: FlaggedShare(held_n, round(chosen.shares["held_out"], 4)),
            f"shuffled {held_name}": FlaggedShare(held_n, round(chosen.shares["shuffled"], 4)),
            "random sequences of training lengths": FlaggedShare(held_n, round(chosen.shares["random"], 4)),
            "tandem repeats of 1-4-letter units, training lengths": FlaggedShare(
                held_n, round(chosen.shares["repeats"], 4)
            ),
            "test": check.flagged_share(test.sequences),
        },
    )
    return check, summary


def check_path(name: str, directory: Path | str) -> Path:
    return Path(directory) / f"{name}.applicability.safetensors"


def save_check(check: MarkovCheck, name: str, directory: Path | str) -> Path:
    path = check_path(name, directory)
    path.parent.mkdir(parents=True, exist_ok=True)  # written before the weights, which would make the folder
    tensors = {
        "log_conditional": torch.from_numpy(np.ascontiguousarray(check.log_conditional)),
        "log_background": torch.from_numpy(np.ascontiguousarray(check.log_background)),
        "threshold": torch.tensor(check.threshold, dtype=torch.float64),
    }
    if check.log_composition is not None:
        tensors["log_composition"] = torch.from_numpy(np.ascontiguousarray(check.log_composition))
        tensors["composition_threshold"] = torch.tensor(check.composition_threshold, dtype=torch.float64)
    if check.discriminator is not None:
        tensors |= check.discriminator.tensors("discriminator")
        tensors["discriminator_threshold"] = torch.tensor(check.discriminator_threshold, dtype=torch.float64)
        if check.discriminator_positions:
            tensors["discriminator_positions"] = torch.tensor(check.discriminator_positions, dtype=torch.int64)
    if check.complexity_kmer:
        tensors["complexity"] = torch.tensor([check.complexity_kmer, check.complexity_threshold], dtype=torch.float64)
    if check.scale_by_length:
        tensors["centers"] = torch.tensor([check.center, check.composition_center], dtype=torch.float64)
    save_file(tensors, str(path), metadata={"name": name, "method": "markov", "letters": check.letters})
    return path


def load_check(name: str, directory: Path | str) -> MarkovCheck | None:
    """The model's check, or None when the model was saved without one."""
    path = check_path(name, directory)
    if not path.exists():
        return None
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), "pt") as handle:
            letters = handle.metadata()["letters"]
        table = tensors["log_conditional"].numpy()
        order = round(np.log(table.shape[0]) / np.log(len(letters))) if table.shape[0] > 1 else 0
        composition = tensors["log_composition"].numpy() if "log_composition" in tensors else None
        centers = tensors["centers"].tolist() if "centers" in tensors else None
        learned = "discriminator_threshold" in tensors
        complexity_kmer, complexity_threshold = (
            tensors["complexity"].tolist() if "complexity" in tensors else (0, -np.inf)
        )
        return MarkovCheck(
            letters,
            order,
            table,
            tensors["log_background"].numpy(),
            float(tensors["threshold"]),
            composition,
            float(tensors["composition_threshold"]) if composition is not None else float("-inf"),
            scale_by_length=centers is not None,
            center=centers[0] if centers else 0.0,
            composition_center=centers[1] if centers else 0.0,
            discriminator=TreeEnsemble.from_tensors(tensors, "discriminator") if learned else None,
            discriminator_threshold=float(tensors["discriminator_threshold"]) if learned else float("-inf"),
            discriminator_positions=int(tensors["discriminator_positions"])
            if "discriminator_positions" in tensors
            else 0,
            complexity_kmer=int(complexity_kmer),
            complexity_threshold=float(complexity_threshold),
        )
    except (SafetensorError, KeyError, TypeError) as error:
        raise CheckpointError(f"applicability statistics {path.name} are unreadable: {error}") from None
