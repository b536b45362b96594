"""How well does ``sequence.amp``'s applicability check tell random peptides from the model's domain?

    python benchmarks/peptide_domain.py

Issue 15 asks the antimicrobial model's applicability check to flag at least 90 % of random peptides (10-40
residues, letters drawn uniformly) while flagging under 5 % of real validation peptides. The model's negatives are
UniProt peptides, whose letter composition is close to uniform: printed first, the Kullback-Leibler divergence
of uniform letters from each class's pooled composition, per residue. Over 10-20 residues that is little
evidence either way, which is why the check carries a learned part (``medmodels/sequences/discriminator.py``).

Then the shipped check's shares flagged on validation, shuffled validation, uniformly random peptides (of the
training lengths and of 10-40 residues, the latter also by length) and random letters of a random composition,
with the time it takes per 10,000 peptides and the share of the 10-40-residue random peptides the model still
calls antimicrobial. Prints tables, then one JSON line. About 20 seconds on a 2-core laptop.
"""

from __future__ import annotations

import json
import time

import numpy as np

from medmodels.checkpoints import WEIGHTS_DIR
from medmodels.sequences.alphabet import PROTEIN
from medmodels.sequences.applicability import load_check
from medmodels.sequences.data import sequence_splits
from medmodels.sequences.letters import letter_counts, random_sequences, shuffled
from medmodels.sequences.parsing import SequenceRecord
from medmodels.sequences.recipes import SequencePredictor

NAME = "sequence.amp"
LETTERS = PROTEIN.letters


def random_composition(lengths: list[int], count: int, seed: int) -> list[str]:
    """Letters drawn independently from a composition drawn per peptide (flat Dirichlet): foreign compositions."""
    rng = np.random.default_rng(seed)
    shares = rng.dirichlet(np.ones(len(LETTERS)), size=count)
    return ["".join(rng.choice(list(LETTERS), size=int(n), p=p)) for n, p in zip(rng.choice(lengths, count), shares)]


def uniform_peptides(lengths: list[int], count: int, seed: int) -> list[str]:
    drawn = np.random.default_rng(seed).choice(lengths, size=count)
    return random_sequences(LETTERS, [int(n) for n in drawn], seed=seed)


def print_shares(title: str, shares: dict[str, float]) -> None:
    print(f"\n{title}\n| peptides | flagged |\n|---|---|")
    for name, share in shares.items():
        print(f"| {name} | {share:.1%} |")


def main() -> None:
    started = time.perf_counter()
    splits = sequence_splits(NAME)
    train, validation = splits["train"], splits["validation"].sequences
    result: dict[str, object] = {"model": NAME}

    print("Divergence of uniform letters from each class's composition")
    print("| class | nats per residue |\n|---|---|")
    divergence = {}
    for label, name in enumerate(train.label_names):
        counts = letter_counts([s for s, y in zip(train.sequences, train.labels) if y == label], LETTERS).sum(axis=0)
        divergence[name] = float(np.mean(np.log(1 / len(LETTERS) / (counts / counts.sum()))))
        print(f"| {name} | {divergence[name]:.3f} |")
    result["uniform_divergence"] = divergence

    lengths = [len(s) for s in train.sequences]
    checked = {
        "validation": validation,
        "shuffled validation": shuffled(validation, 5),
        "uniform, training lengths": uniform_peptides(lengths, 2000, 99),
        "uniform, 10-40 residues": random_sequences(LETTERS, list(np.random.default_rng(7).integers(10, 41, 2000)), 7),
        "random composition, training lengths": random_composition(lengths, 2000, 11),
    }
    check = load_check(NAME, WEIGHTS_DIR)
    shipped = {name: float(check.outside(s).mean()) for name, s in checked.items()}
    peptides = checked["uniform, 10-40 residues"]
    outside, lengths_drawn = check.outside(peptides), np.array([len(s) for s in peptides])
    by_length = {
        f"uniform, {low}-{high} residues": float(outside[(lengths_drawn >= low) & (lengths_drawn <= high)].mean())
        for low, high in ((10, 14), (15, 19), (20, 24), (25, 29), (30, 34), (35, 40))
    }
    timed = uniform_peptides(lengths, 10_000, 5)
    begun = time.perf_counter()
    check.outside(timed)
    result["check_seconds_per_10000"] = round(time.perf_counter() - begun, 3)
    records = SequencePredictor(NAME).predict_batch([SequenceRecord(f"r{i}", s) for i, s in enumerate(peptides)])
    shipped["uniform, 10-40 residues, called antimicrobial"] = float(
        np.mean([record["label"] == "antimicrobial" for record in records])
    )
    print_shares("The shipped check", shipped)
    print_shares("The shipped check, uniformly random peptides by length", by_length)
    print(f"\n{result['check_seconds_per_10000']} s to check 10,000 peptides of the training lengths")
    result["shipped"] = shipped
    result["by_length"] = by_length
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
