"""Sequence benchmark: test metrics of the shipped models beside the composition baseline on the same
splits, and CPU speed of screening, explanations and the mutation scan.

    python benchmarks/sequences.py [--runs 50]

Prints tables, then one JSON line. Needs no data folder (the data ship inside modlamp and p-scldata).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time

import numpy as np
import torch
from sklearn.metrics import matthews_corrcoef, roc_auc_score
from timing import timings_ms  # benchmarks/timing.py (scripts run from this folder)

from medmodels.metrics import accuracy_and_macro_f1_scores
from medmodels.sequences.baseline import fit_composition_baseline
from medmodels.sequences.data import peptide_splits, sequence_splits
from medmodels.sequences.explain import mutation_scan, saliency
from medmodels.sequences.models import ALPHABET
from medmodels.sequences.screening import SequenceScreener

MODELS = ("sequence.amp", "sequence.anticancer")
MULTICLASS = "sequence.localisation"
BATCH = 10_000


def random_peptides(count: int, low: int, high: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list(ALPHABET))
    return ["".join(rng.choice(letters, size=int(n))) for n in rng.integers(low, high + 1, size=count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    results: dict[str, object] = {
        "benchmark": "sequences",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads",
        "runs": args.runs,
    }

    comparison = {}
    for name in MODELS:
        screener = SequenceScreener.load(name)
        splits = peptide_splits(name)
        test, positive = splits["test"], screener.positive_index
        scores = screener.probabilities(test.sequences)[:, positive]
        baseline, c = fit_composition_baseline(splits["train"], splits["validation"])
        baseline_scores = baseline.predict_proba(test.sequences)[:, positive]
        truth = test.labels == positive
        comparison[name] = {
            "model_roc_auc": float(roc_auc_score(truth, scores)),
            "model_mcc": float(matthews_corrcoef(truth, scores >= screener.threshold)),
            "baseline_roc_auc": float(roc_auc_score(truth, baseline_scores)),
            "baseline_mcc": float(matthews_corrcoef(truth, baseline_scores >= 0.5)),
            "baseline_c": c,
        }
    screener = SequenceScreener.load(MULTICLASS)
    splits = sequence_splits(MULTICLASS)
    test, classes = splits["test"], len(screener.card.labels)
    start = time.perf_counter()
    called = screener.probabilities(test.sequences).argmax(axis=1)
    results["localisation_proteins_per_second"] = round(len(test) / (time.perf_counter() - start), 1)
    baseline, c = fit_composition_baseline(splits["train"], splits["validation"])
    baseline_called = baseline.predict_proba(test.sequences).argmax(axis=1)
    majority = np.full(len(test), np.bincount(splits["train"].labels).argmax())
    multiclass = {
        label: accuracy_and_macro_f1_scores(test.labels, pred, classes)
        for label, pred in (
            (MULTICLASS, called),
            (f"composition baseline (C={c})", baseline_called),
            ("majority class", majority),
        )
    }
    results["test_metrics"] = {**comparison, MULTICLASS: multiclass}

    screener = SequenceScreener.load("sequence.amp")
    batch = random_peptides(BATCH, 10, 50)
    start = time.perf_counter()
    screener.score(batch)
    batch_seconds = time.perf_counter() - start
    peptide = random_peptides(1, 30, 30, seed=1)[0]
    results["batch_peptides_per_second"] = round(BATCH / batch_seconds)
    results["single_30mer_with_attention_and_saliency_ms"] = timings_ms(
        lambda: (screener.score([peptide]), screener.attention(peptide), saliency(screener, peptide)), args.runs
    )
    results["mutation_scan_30mer_ms"] = timings_ms(lambda: mutation_scan(screener, peptide), max(args.runs // 5, 5))
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    print(
        f"{'test split (cluster-aware)':<28} {'model AUC':>9} {'model MCC':>9} {'baseline AUC':>12} {'baseline MCC':>12}"
    )
    for name, row in comparison.items():
        print(
            f"{name:<28} {row['model_roc_auc']:>9.3f} {row['model_mcc']:>9.3f} {row['baseline_roc_auc']:>12.3f} {row['baseline_mcc']:>12.3f}"
        )
    print()
    print(f"{MULTICLASS + ' test split':<44} {'accuracy':>9} {'macro-F1':>9}")
    for label, row in multiclass.items():
        print(f"{label:<44} {row['accuracy']:>9.3f} {row['macro_f1']:>9.3f}")
    print()
    single, scan = results["single_30mer_with_attention_and_saliency_ms"], results["mutation_scan_30mer_ms"]
    print(f"{'speed (CPU), sequence.amp':<52} {'value':>12}")
    print(f"{f'batch screening, {BATCH:,} peptides of 10-50 aa':<52} {results['batch_peptides_per_second']:>8} /s")
    print(f"{'one 30-mer + attention + saliency, median / p95':<52} {single['median']:>6.1f} / {single['p95']:.1f} ms")
    print(f"{'mutation scan of a 30-mer (570 variants), median':<52} {scan['median']:>9.1f} ms")
    proteins = (
        f"{MULTICLASS}, {len(test):,} test proteins (median {int(np.median([len(s) for s in test.sequences]))} aa)"
    )
    print(f"{proteins:<52} {results['localisation_proteins_per_second']:>7} /s")
    print(f"peak RSS {results['peak_rss_mb']} MB")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
