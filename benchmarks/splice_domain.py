"""How well does ``genome.splice``'s applicability check tell shuffled and random windows from the model's domain?

    MEDMODELS_DATA=../shared/data python benchmarks/splice_domain.py

Issue 15 asks every sequence model's check to flag at least 90 % of shuffled or random sequences of the training
lengths while flagging at most 5 % in distribution. Sixty bases carry little evidence against random letters, so
the splice check has a learned part (``medmodels/sequences/discriminator.py``) beside its order and complexity
parts. This measures the shipped check on larger samples than its card: the share flagged per part on the
training windows (in-sample, so a floor), their shuffles, uniformly random windows, random windows of the
training windows' own base composition, and tandem repeats; and the time per 10,000 windows. Prints a table, then
one JSON line. About 15 seconds on a 2-core laptop.
"""

from __future__ import annotations

import json
import time

import numpy as np

from medmodels.checkpoints import WEIGHTS_DIR
from medmodels.data import resolve_data_dir
from medmodels.genome.data import genome_splits
from medmodels.sequences.applicability import load_check
from medmodels.sequences.letters import letter_counts, random_sequences, shuffled, tandem_repeats

NAME = "genome.splice"
LETTERS = "ACGT"
WINDOW = 60


def composition_windows(train: list[str], count: int, seed: int) -> list[str]:
    """Bases drawn independently from the training windows' pooled composition: GC content kept, order gone."""
    counts = letter_counts(train, LETTERS).sum(axis=0)
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list(LETTERS), size=WINDOW, p=counts / counts.sum())) for _ in range(count)]


def main() -> None:
    started = time.perf_counter()
    train = genome_splits(NAME, resolve_data_dir())["train"].sequences
    check = load_check(NAME, WEIGHTS_DIR)
    checked = {
        "training windows (in-sample)": train,
        "shuffled training windows": shuffled(train, 5),
        "uniformly random windows": random_sequences(LETTERS, [WINDOW] * 5000, 7),
        "random windows, training composition": composition_windows(train, 5000, 9),
        "tandem repeats of 1-4-base units": tandem_repeats(LETTERS, [WINDOW] * 2000, 11),
    }
    print("| windows | n | flagged | complexity part | order part | learned part |\n|---|---|---|---|---|---|")
    shares = {}
    for name, windows in checked.items():
        parts = check.failed_parts(windows)
        shares[name] = {"n": len(windows), "flagged": float(check.outside(windows).mean())}
        shares[name] |= {part: float(parts[part].mean()) for part in ("complexity", "order", "learned")}
        row = shares[name]
        print(
            f"| {name} | {len(windows)} | {row['flagged']:.1%} | {row['complexity']:.1%} | {row['order']:.1%} "
            f"| {row['learned']:.1%} |"
        )
    timed = random_sequences(LETTERS, [WINDOW] * 10_000, 13)
    begun = time.perf_counter()
    check.outside(timed)
    seconds = round(time.perf_counter() - begun, 3)
    print(f"\n{seconds} s to check 10,000 windows")
    print(
        json.dumps(
            {
                "model": NAME,
                "shares": shares,
                "check_seconds_per_10000": seconds,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
