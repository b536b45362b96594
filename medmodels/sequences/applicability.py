"""Whether a sequence lies inside a model's domain: an applicability check fitted on its training data.

The check is a Markov chain of letters. Fitted on the training sequences, it scores a sequence by the mean
log-probability of each letter given the ``order`` letters before it, minus the mean log-probability of the
letter under the training composition alone (order 0). The score is how much more the sequence's letter
*order* looks like training data than its composition explains: shuffling a sequence keeps its composition and
destroys its order, and random letters have neither. A sequence scoring below the threshold is outside the
domain; the model then withholds its call, as an imaging model's OOD gate does.

The threshold is a low quantile of held-out scores of training sequences (each fold scored by a chain fitted
on the other folds), so that a few percent of sequences like the training data are flagged; the order is
chosen on validation (see each recipe). The tables live in ``NAME.applicability.safetensors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from medmodels.cards import CheckpointError, FlaggedShare, OodSummary
from medmodels.sequences.data import SequenceSet

FOLDS = 5
QUANTILE = 0.03  # of held-out training scores: the share of training-like sequences flagged


def _codes(sequence: str, letters: str) -> np.ndarray:
    """Letter indices; -1 for a letter outside ``letters`` (an ambiguity code), which no context includes."""
    lookup = np.full(256, -1, dtype=np.int64)
    lookup[np.frombuffer(letters.encode(), dtype=np.uint8)] = np.arange(len(letters))
    return lookup[np.frombuffer(sequence.encode("ascii", "replace"), dtype=np.uint8)]


def _transitions(codes: np.ndarray, order: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(context index, next letter)`` of every position with ``order`` known letters before it."""
    if len(codes) <= order:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(codes, order + 1)
    windows = windows[(windows >= 0).all(axis=1)]
    context = (windows[:, :order] * size ** np.arange(order)).sum(axis=1) if order else np.zeros(len(windows), np.int64)
    return context.astype(np.int64), windows[:, order]


def _log_table(sequences: list[str], letters: str, order: int) -> np.ndarray:
    """``(A^order, A)`` log P(letter | context), add-one smoothed."""
    size = len(letters)
    counts = np.ones((size**order, size))
    for sequence in sequences:
        context, letter = _transitions(_codes(sequence, letters), order, size)
        np.add.at(counts, (context, letter), 1)
    return np.log(counts / counts.sum(axis=1, keepdims=True))


@dataclass(frozen=True)
class MarkovCheck:
    letters: str
    order: int
    log_conditional: np.ndarray  # (A^order, A)
    log_background: np.ndarray  # (1, A): order 0
    threshold: float

    def scores(self, sequences: list[str]) -> np.ndarray:
        """Per sequence: mean log P(letter | previous ``order`` letters) minus mean log P(letter); NaN when the
        sequence has no position with a full context of standard letters."""
        size = len(self.letters)
        out = np.full(len(sequences), np.nan)
        for row, sequence in enumerate(sequences):
            codes = _codes(sequence, self.letters)
            context, letter = _transitions(codes, self.order, size)
            if len(letter):
                out[row] = self.log_conditional[context, letter].mean() - self.log_background[0, letter].mean()
        return out

    def outside(self, sequences: list[str]) -> np.ndarray:
        """True where a sequence is outside the domain (scores below the threshold, or cannot be scored)."""
        scores = self.scores(sequences)
        return ~(scores >= self.threshold)

    def flagged_share(self, sequences: list[str]) -> FlaggedShare:
        return FlaggedShare(len(sequences), round(float(self.outside(sequences).mean()), 4))

    def reason(self, score: float) -> str:
        """Why a sequence was withheld, in one line."""
        if np.isnan(score):
            return f"too short or too ambiguous to compare with the training sequences (order-{self.order} letter statistics)"
        return (
            f"its letter order is unlike the training sequences (order-{self.order} Markov score {score:.3f}, "
            f"below {self.threshold:.3f}): shuffled, random or foreign sequence"
        )


def fit_markov_check(
    sequences: list[str], letters: str, order: int, quantile: float = QUANTILE, seed: int = 0
) -> MarkovCheck:
    """A check fitted on ``sequences`` (the training split), its threshold the ``quantile`` of held-out scores."""
    indices = np.random.default_rng(seed).permutation(len(sequences))
    held_out = []
    for fold in np.array_split(indices, FOLDS):
        rest = [sequences[i] for i in np.setdiff1d(indices, fold)]
        partial = MarkovCheck(
            letters,
            order,
            _log_table(rest, letters, order),
            _log_table(rest, letters, 0),
            float("-inf"),
        )
        held_out.append(partial.scores([sequences[i] for i in fold]))
    scores = np.concatenate(held_out)
    return MarkovCheck(
        letters,
        order,
        _log_table(sequences, letters, order),
        _log_table(sequences, letters, 0),
        float(np.nanquantile(scores, quantile)),
    )


CHECK_ORDERS = (1, 2, 3, 4, 5)  # Markov orders the applicability check chooses among
MAX_IN_DOMAIN_FLAGGED = 0.05  # of held-out training-like sequences


@dataclass(frozen=True)
class CheckChoice:
    order: int
    shares: dict[str, float]  # held-out, shuffled held-out, random: the share flagged


def _check_shares(
    letters: str, pairs: list[tuple[list[str], list[str]]], order: int, lengths: list[int]
) -> dict[str, float]:
    """Shares flagged by a check of ``order`` fitted on each pair's first sequences, measured on its second
    (held out), their shuffles, and random sequences of the training lengths; averaged over the pairs."""
    rows = []
    for fitted_on, held_out in pairs:
        check = fit_markov_check(fitted_on, letters, order)
        rows.append(
            (
                check.outside(held_out).mean(),
                check.outside(shuffled(held_out)).mean(),
                check.outside(random_sequences(letters, lengths[: len(held_out)])).mean(),
            )
        )
    held, mixed, random = np.mean(rows, axis=0)
    return {"held_out": float(held), "shuffled": float(mixed), "random": float(random)}


def choose_check_order(
    letters: str, pairs: list[tuple[list[str], list[str]]], lengths: list[int]
) -> tuple[CheckChoice, list[CheckChoice]]:
    """The order that flags the most shuffled and random sequences while flagging at most 5 % of held-out
    training-like ones (the lowest held-out share when none does); all candidates, for the card."""
    candidates = [CheckChoice(order, _check_shares(letters, pairs, order, lengths)) for order in CHECK_ORDERS]
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
) -> tuple[MarkovCheck, OodSummary]:
    """The applicability check: its order chosen on validation (or the cross-validation folds), then fitted on
    all of train; the card's summary with the shares it flags of held-out, shuffled, random and test sequences."""
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
    chosen, candidates = choose_check_order(letters, pairs, lengths)
    check = fit_markov_check(train_set.sequences, letters, chosen.order)
    held_n = len(validation) if validation is not None else len(train_set)
    summary = OodSummary(
        method=f"Applicability check: an order-{chosen.order} Markov chain of letters fitted on train; a sequence whose "
        "letter order is less like training than its composition explains is withheld",
        threshold=check.threshold,
        threshold_rule=f"the {QUANTILE:.0%} quantile of held-out training scores (5 folds); the order chosen among "
        f"{', '.join(map(str, CHECK_ORDERS))} on {held_name}: most shuffled + random flagged with at most "
        f"{MAX_IN_DOMAIN_FLAGGED:.0%} of held-out sequences flagged ("
        + "; ".join(
            f"order {c.order}: {c.shares['held_out']:.1%} / {c.shares['shuffled']:.1%} / {c.shares['random']:.1%}"
            for c in candidates
        )
        + ")",
        flagged={
            held_name: FlaggedShare(held_n, round(chosen.shares["held_out"], 4)),
            f"shuffled {held_name}": FlaggedShare(held_n, round(chosen.shares["shuffled"], 4)),
            "random sequences of training lengths": FlaggedShare(held_n, round(chosen.shares["random"], 4)),
            "test": check.flagged_share(test.sequences),
        },
    )
    return check, summary


def shuffled(sequences: list[str], seed: int = 0) -> list[str]:
    """Each sequence with its letters in a random order (composition kept): the check's first reference set."""
    rng = np.random.default_rng(seed)
    return ["".join(rng.permutation(list(sequence))) for sequence in sequences]


def random_sequences(letters: str, lengths: list[int], seed: int = 0) -> list[str]:
    """Uniformly random sequences of the given lengths: the check's second reference set."""
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list(letters), size=length)) for length in lengths]


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
        return MarkovCheck(letters, order, table, tensors["log_background"].numpy(), float(tensors["threshold"]))
    except (SafetensorError, KeyError, TypeError) as error:
        raise CheckpointError(f"applicability statistics {path.name} are unreadable: {error}") from None
