"""Why a sequence scored as it did: gradient x input saliency, an in-silico mutation scan, and
physicochemical descriptors from established libraries (Biopython's ProtParam, modlamp).

The model is cached and shared by every browser session: gradients are taken with
``torch.autograd.grad`` (no parameter ``.grad`` is written) and nothing is left on the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from Bio.SeqUtils import IsoelectricPoint, ProtParamData
from Bio.SeqUtils.ProtParam import ProteinAnalysis
from modlamp.descriptors import PeptideDescriptor

from medmodels.sequences.screening import SequenceScreener

MAX_SCAN_VARIANTS = 1200  # the most single-letter variants one mutation scan scores in one batch
TRACK_WINDOW = 5  # residues per sliding window in the physicochemical tracks


def explained_class(screener: SequenceScreener, sequence: str) -> int:
    """The class an explanation is about: a screening model's positive class, else the class called."""
    if screener.positive_index is not None:
        return screener.positive_index
    return screener.card.call_index(screener.probabilities([sequence])[0])


def saliency(screener: SequenceScreener, sequence: str, target: int | None = None) -> np.ndarray:
    """Gradient x input on the residue embeddings, summed over the embedding: one signed value per residue
    (NaN on residues not read), positive where it pushes the logit of ``target`` (default ``explained_class``) up."""
    target = explained_class(screener, sequence) if target is None else target
    tokens, features = screener.inputs(sequence)
    values = screener.model.gradient_x_input(tokens, target, features)
    return screener.per_residue(values[0].numpy().astype(np.float64), len(sequence))


@dataclass(frozen=True)
class MutationScan:
    sequence: str
    letters: str  # the alphabet's standard letters: the rows of ``change``
    target: str  # the class whose probability is scanned
    wild_type_probability: float
    change: (
        np.ndarray
    )  # (20, L): calibrated probability of ``target`` for the variant minus the wild type's; 0 on the wild type

    def best(self, count: int = 10) -> list[tuple[str, float]]:
        """The ``count`` substitutions that raise the score most, as (``K5W``-style name, change)."""
        return self._ranked(count, raise_score=True)

    def worst(self, count: int = 10) -> list[tuple[str, float]]:
        """The ``count`` substitutions that lower the score most (the most damaging variants), as (name, change)."""
        return self._ranked(count, raise_score=False)

    def _ranked(self, count: int, raise_score: bool) -> list[tuple[str, float]]:
        signed = self.change if raise_score else -self.change
        order = np.argsort(signed, axis=None)[::-1][:count]
        rows, columns = np.unravel_index(order, self.change.shape)
        return [
            (f"{self.sequence[c]}{c + 1}{self.letters[r]}", float(self.change[r, c]))
            for r, c in zip(rows, columns)
            if signed[r, c] > 0
        ]


def max_scan_length(screener: SequenceScreener) -> int:
    """The longest sequence a mutation scan takes: 63 residues for a protein model, 400 bases for a genome one."""
    return MAX_SCAN_VARIANTS // (len(screener.alphabet.letters) - 1)


def mutation_scan(screener: SequenceScreener, sequence: str, target: int | None = None) -> MutationScan:
    """Every single substitution scored in one batch (all variants have the same length), as the change in
    the probability of ``target`` (default ``explained_class``)."""
    letters = screener.alphabet.letters
    limit = max_scan_length(screener)
    if len(sequence) > limit:
        raise ValueError(
            f"the mutation scan is for sequences up to {limit} {screener.alphabet.unit}; this one has {len(sequence)}"
        )
    target = explained_class(screener, sequence) if target is None else target
    variants = [sequence[:i] + residue + sequence[i + 1 :] for residue in letters for i in range(len(sequence))]
    probabilities = screener.probabilities([sequence] + variants, batch_size=len(variants) + 1)[:, target]
    wild_type = float(probabilities[0])
    change = (probabilities[1:] - wild_type).reshape(len(letters), len(sequence))
    for i, residue in enumerate(sequence):
        if residue in letters:
            change[letters.index(residue), i] = 0.0  # the "variant" equal to the wild type, exactly
    return MutationScan(sequence, letters, screener.card.labels[target], wild_type, change)


@dataclass(frozen=True)
class Descriptors:
    net_charge: float  # at pH 7 (Biopython, Bjellqvist pKa values)
    isoelectric_point: float
    gravy: float  # mean Kyte-Doolittle hydropathy
    hydrophobic_moment: float  # Eisenberg scale, 100 degrees per residue (alpha helix), whole sequence (modlamp)
    hydrophobicity_track: np.ndarray  # (L,) Kyte-Doolittle, mean over a centred window; NaN at the ends
    charge_track: (
        np.ndarray
    )  # (L,) charge at pH 7 per residue (Henderson-Hasselbalch with Biopython's pKa values), windowed


def _residue_charge(residue: str, ph: float = 7.0) -> float:
    if residue in IsoelectricPoint.positive_pKs:
        return 1.0 / (1.0 + 10 ** (ph - IsoelectricPoint.positive_pKs[residue]))
    if residue in IsoelectricPoint.negative_pKs:
        return -1.0 / (1.0 + 10 ** (IsoelectricPoint.negative_pKs[residue] - ph))
    return 0.0


def _centred(values: list[float], length: int) -> np.ndarray:
    """A sliding-window profile (one value per full window) placed at the windows' centres."""
    track = np.full(length, np.nan)
    start = (length - len(values)) // 2
    track[start : start + len(values)] = values
    return track


def descriptors(sequence: str) -> Descriptors:
    analysis = ProteinAnalysis(sequence)
    window = min(TRACK_WINDOW, len(sequence))
    charges = np.array([_residue_charge(r) for r in sequence])
    windowed_charge = np.convolve(charges, np.ones(window) / window, mode="valid")
    moment = PeptideDescriptor(sequence, "eisenberg")
    moment.calculate_moment(window=len(sequence), angle=100, modality="max")
    return Descriptors(
        net_charge=float(analysis.charge_at_pH(7.0)),
        isoelectric_point=float(analysis.isoelectric_point()),
        gravy=float(analysis.gravy()),
        hydrophobic_moment=float(moment.descriptor[0, 0]),
        # Biopython's sliding window divides by window - 1: a one-residue window is the scale itself.
        hydrophobicity_track=_centred(
            analysis.protein_scale(ProtParamData.kd, window) if window > 1 else [ProtParamData.kd[sequence]],
            len(sequence),
        ),
        charge_track=_centred(list(windowed_charge), len(sequence)),
    )
