"""The genome recipe: training, evaluation and prediction of the DNA / RNA models, and their registration.

Each model is the sequence stack's network over the nucleotide alphabet (``genome.models``), trained with the
project's trainer, calibrated (temperature; a Youden threshold for the two-class models) on held-out data,
and scored on its test split once, beside simpler baselines fitted in the same run (``genome.baseline``):

- ``genome.splice``: donor (EI) / acceptor (IE) / neither (N); 5-fold cross-validation over StatLog's 2,000
  training records (a held-out share would leave tens per class): the five fold networks ship as an ensemble,
  each trained for a fixed number of epochs and kept at its last one, calibrated on their out-of-fold logits;
- ``genome.tfbs``: Oct4 vs MafK peaks; both strands seen in training (a random half of each batch's windows is
  reverse-complemented), the epoch chosen on validation ROC AUC.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.pipeline import Pipeline

from medmodels.cards import (
    CardMetrics,
    DataProvenance,
    ModelCard,
    OodSummary,
    VersionPlan,
    build_card,
    reproduce_command,
)
from medmodels.checkpoints import load_checkpoint, save_checkpoint
from medmodels.data import data_file, md5sum
from medmodels.genome.baseline import (
    fit_baseline,
    kmer_pipeline,
    one_hot_pipeline,
    orf_pipeline,
    reverse_complement,
)
from medmodels.genome.data import DATASETS, cross_validation_folds, deduplicated_rows, genome_splits
from medmodels.genome.features import FEATURE_COUNT, transcript_features
from medmodels.genome.models import LncrnaConfig, SpliceConfig, TfbsConfig
from medmodels.genome.parsing import DEFAULT_MAX_LENGTH as NUCLEOTIDE_MAX_LENGTH
from medmodels.genome.parsing import clean_nucleotides
from medmodels.metrics import (
    accuracy_and_macro_f1,
    auc_metric,
    calibrated_binary_metrics,
    calibrated_multiclass_metrics,
    fit_temperature,
    softmax,
    youden_threshold,
)
from medmodels.recipe import InputOption, InputSpec, RejectedInput
from medmodels.registry import create_model, get_model_info, register_model, resolve_config
from medmodels.sections import (
    Baseline,
    BinaryClassificationMetrics,
    MetricSection,
    MultiClassMetrics,
    register_section,
)
from medmodels.sequences.alphabet import NUCLEOTIDE
from medmodels.sequences.applicability import CheckSettings, MarkovCheck, fit_applicability, save_check
from medmodels.sequences.data import SequenceSet
from medmodels.sequences.models import example_tokens, recurrent_model, register_features, sequence_features
from medmodels.sequences.parsing import SequenceInputError, SequenceRecord
from medmodels.sequences.recipes import (
    SequenceRecipe,
    count_fasta_records,
    make_loader,
    read_sequence_file,
    read_sequences,
)
from medmodels.sequences.screening import batched_logits
from medmodels.training import Member, ProgressCallback, TrainConfig, train_ensemble, training_record


def _baseline_table(baselines: dict[str, dict[str, float]]) -> list[tuple[str, list[dict[str, Any]]]]:
    if not baselines:
        return []
    return [("Baselines on the same split (fitted in the training run)", [{"": k, **v} for k, v in baselines.items()])]


def _deduplicated_table(figures: dict[str, float]) -> list[tuple[str, list[dict[str, Any]]]]:
    if not figures:
        return []
    return [("Without sequences that also occur in training", [{"": "this model", **figures}])]


@register_section
@dataclass(frozen=True)
class GenomeBinaryMetrics(BinaryClassificationMetrics):
    """Two-class figures, with the same figures on the test split without training duplicates, and the
    baselines fitted beside the model."""

    kind = "genome_binary_classification"
    title = "binary classification"
    deduplicated: dict[str, float] = field(default_factory=dict)  # n, roc_auc, accuracy
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)  # baseline -> roc_auc, accuracy

    def tables(self) -> list[tuple[str, list[dict[str, Any]]]]:
        return super().tables() + _deduplicated_table(self.deduplicated) + _baseline_table(self.baselines)


@register_section
@dataclass(frozen=True)
class GenomeMultiClassMetrics(MultiClassMetrics):
    """Multi-class figures, with the de-duplicated test and the baselines (see ``GenomeBinaryMetrics``)."""

    kind = "genome_multiclass_classification"
    title = "multi-class classification"
    deduplicated: dict[str, float] = field(default_factory=dict)  # n, accuracy, macro_f1
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)  # baseline -> accuracy, macro_f1

    def tables(self) -> list[tuple[str, list[dict[str, Any]]]]:
        return super().tables() + _deduplicated_table(self.deduplicated) + _baseline_table(self.baselines)


@dataclass(frozen=True)
class BaselineRecipe:
    name: str
    make: Callable[[float], Pipeline]  # the pipeline for a regularisation C


ORDER_CHECK = CheckSettings()  # an order-k chain of bases at the 3 % quantile: enough for 200 bases and more
# Sixty bases are too few for an order-k chain to tell a shuffled or random window from a real one (51.7 % /
# 63.1 % flagged at its 3 % quantile). The learned part reads the window base by base as well as its words, and is
# trained against shuffled windows too; it takes the whole quantile.
SPLICE_CHECK = CheckSettings(
    quantile=0.045, order_share=0.0, random_discriminator=True, learned_shuffles=2, learned_positions=60
)


@dataclass(frozen=True)
class GenomeSpec:
    """What one genome model is trained on and how, and what its card says."""

    data: str
    citation: str
    licence: str
    positive_label: str | None  # None: the most probable class is the call
    train: TrainConfig
    baselines: tuple[BaselineRecipe, ...]
    split_rule: str
    intended_use: str
    limitations: tuple[str, ...]
    both_strands: bool = False  # reverse-complement a random half of the training windows
    published: dict[str, dict[str, float]] = field(default_factory=dict)
    check: CheckSettings = ORDER_CHECK  # the applicability check's (``sequences/applicability.py``)


SPECS: dict[str, GenomeSpec] = {
    "genome.splice": GenomeSpec(
        data="Primate splice-junction gene sequences (UCI / StatLog), genome/splice/splice_junctions.fasta",
        citation="Noordewier, Towell & Shavlik, NIPS 3 (1991); Michie, Spiegelhalter & Taylor (StatLog, 1994)",
        licence="CC BY 4.0 (UCI)",
        positive_label=None,
        train=TrainConfig(epochs=20, batch_size=64, learning_rate=3e-3, weight_decay=1e-4, seed=0),
        baselines=(BaselineRecipe("logistic regression on one-hot bases", one_hot_pipeline),),
        check=SPLICE_CHECK,
        split_rule="StatLog's protocol: the first 2,000 records train, the last 1,186 test; selection by 5-fold "
        "stratified cross-validation over the 2,000 (seed 0); a de-duplicated test (no sequence also in training, "
        "no repeats) is reported beside it",
        intended_use=(
            "Research and teaching: whether a 60-nt window centred on a candidate exon/intron boundary looks like a "
            "donor (EI), an acceptor (IE) or neither, and which single-base changes would break or create the site. "
            "Not a clinical variant classifier."
        ),
        limitations=(
            "Primate GenBank sequences from 1991; windows must be 60 nt with the candidate boundary between bases 30 and 31.",
            "Scores a window, not a gene: it does not see branch points, enhancers or the rest of the transcript.",
            "Mutation effects are the model's view of the window, not measured splicing changes (SpliceAI-style, not SpliceAI).",
        ),
        published={
            "accuracy": {
                "StatLog RBF network (best)": 0.959,
                "StatLog DIPOL92": 0.952,
                "StatLog linear discriminant": 0.941,
                "StatLog C4.5": 0.924,
                "StatLog back-propagation": 0.912,
            }
        },
    ),
    "genome.tfbs": GenomeSpec(
        data="Oct4 vs MafK ChIP-seq peak windows (janggu 0.10.2 sample files), genome/tfbs/oct4_mafk_*.fasta",
        citation="Kopp et al., Nat Commun 11:3488 (2020) (janggu)",
        licence="GPL-3.0 (janggu resources)",
        positive_label="Oct4",
        train=TrainConfig(epochs=15, batch_size=64, learning_rate=3e-3, weight_decay=1e-4, seed=0),
        baselines=(
            BaselineRecipe(
                "logistic regression on 4- to 6-mer frequencies (both strands)",
                partial(kmer_pipeline, k=(4, 6), both_strands=True),
            ),
        ),
        split_rule="the package's test file (200 windows) is the test split; 10 % of its training file "
        "(stratified, seed 0) the validation split, the rest train",
        both_strands=True,
        intended_use=(
            "Research: whether a 200-nt mouse ChIP-seq peak window looks bound by Oct4 (POU5F1) or by MafK, with the "
            "bases that drive the call (the octamer ATGCAAAT, the MARE half-site TGCTGA). Only these two factors."
        ),
        limitations=(
            "A choice between two factors, both bound: not a test of whether any factor binds a random window.",
            "Mouse embryonic stem cell and MafK ChIP-seq peaks; other cell types and species are extrapolations.",
        ),
        published={"accuracy": {"janggu tutorial model (approximate)": 0.85}},
    ),
    "genome.lncrna": GenomeSpec(
        data="Mouse Ensembl lncRNA vs mRNA transcripts (iLearnPlus 1.5 sample data), genome/lncrna/lncrna_mrna.fasta",
        citation="Chen et al., Nucleic Acids Res 49:e60 (2021) (iLearnPlus)",
        licence="MIT (iLearnPlus)",
        positive_label="lncRNA",
        train=TrainConfig(epochs=8, batch_size=32, learning_rate=3e-3, weight_decay=0.05, seed=0),
        baselines=(
            BaselineRecipe(
                "logistic regression on 3- and 4-mer frequencies", partial(kmer_pipeline, k=(3, 4), both_strands=False)
            ),
            BaselineRecipe("logistic regression on the longest open reading frame (length, coverage)", orf_pipeline),
        ),
        split_rule="the source's training / testing tags; 10 % of training (stratified, seed 0) the validation split",
        intended_use=(
            "Research: whether a mouse transcript (given 5' to 3', sense strand) looks like a long non-coding RNA or a "
            "protein-coding mRNA, with its longest open reading frame drawn. Not an annotation pipeline."
        ),
        limitations=(
            (
                "The convolutional branch reads a transcript's first and last 125 nt; the feature branch (k-mers, codon "
                "usage in the longest ORF, its length and coverage) reads all of it. Gradient x input covers only the "
                "250 bases the convolutional branch read; the mutation scan (up to 400 nt) covers both branches."
            ),
            "Mouse Ensembl transcripts; other species are extrapolations. Partial or antisense sequences are outside its domain.",
        ),
    ),
}


def _either_strand(sequence: str, rng: np.random.Generator) -> str:
    return reverse_complement(sequence) if rng.random() < 0.5 else sequence


def _figures(section: MetricSection, keys: tuple[str, ...]) -> dict[str, float]:
    return {key: float(getattr(section, key)) for key in keys}


def _test_section(
    logits: np.ndarray,
    data: SequenceSet,
    kept: np.ndarray,
    card_like: tuple[float, float | None, int | None, list[str]],
    baselines: dict[str, dict[str, float]],
) -> MetricSection:
    """A genome section of ``data``: calibrated figures, the same on the rows ``kept`` (de-duplicated), and
    ``baselines``. ``card_like``: temperature, threshold, positive index, labels."""
    temperature, threshold, positive, labels = card_like
    if positive is None:
        section = calibrated_multiclass_metrics(logits, data.labels, temperature, labels)
        reduced = calibrated_multiclass_metrics(logits[kept], data.labels[kept], temperature, labels)
        figures, cls = ("accuracy", "macro_f1"), GenomeMultiClassMetrics
    else:
        section = calibrated_binary_metrics(logits, data.labels, temperature, threshold, positive)
        reduced = calibrated_binary_metrics(logits[kept], data.labels[kept], temperature, threshold, positive)
        figures, cls = ("roc_auc", "accuracy"), GenomeBinaryMetrics
    values = {f.name: getattr(section, f.name) for f in fields(section)}
    return cls(**values, deduplicated={"n": len(kept), **_figures(reduced, figures)}, baselines=baselines)


def _baseline_figures(pipeline: Pipeline, test: SequenceSet, positive: int | None) -> dict[str, float]:
    probabilities = pipeline.predict_proba(test.sequences)
    called = probabilities.argmax(axis=1)
    if positive is None:
        return {
            "accuracy": float((called == test.labels).mean()),
            "macro_f1": float(f1_score(test.labels, called, average="macro")),
        }
    return {
        "roc_auc": float(roc_auc_score(test.labels == positive, probabilities[:, positive])),
        "accuracy": float((called == test.labels).mean()),
    }


def train_model(
    name: str,
    data_dir: Path,
    *,
    epochs: int | None,
    out_dir: Path,
    plan: VersionPlan,
    progress: ProgressCallback | None = None,
) -> ModelCard:
    """Train on train, select and calibrate on validation (or out-of-fold), score test once with the
    baselines beside it, write weights and card."""
    spec, info = SPECS[name], get_model_info(name)
    splits = genome_splits(name, data_dir)
    train_set, test = splits["train"], splits["test"]
    validation = splits.get("validation")
    config = spec.train if epochs is None else replace(spec.train, epochs=epochs)
    model_config = resolve_config(name)
    max_length = model_config.max_length
    labels = list(info.labels)
    positive = labels.index(spec.positive_label) if spec.positive_label is not None else None
    metric = auc_metric(positive) if positive is not None else accuracy_and_macro_f1
    augment = _either_strand if spec.both_strands else None
    started = time.perf_counter()

    torch.manual_seed(config.seed)
    model = create_model(name)
    networks = list(model.members) if model_config.members > 1 else [model]

    features: dict[int, torch.Tensor | None] = {}  # per data set, computed once (whole-sequence features)

    def loader(data: SequenceSet, seed: int, training: bool) -> Any:
        if id(data) not in features:
            features[id(data)] = sequence_features(model_config, data.sequences)
        return make_loader(
            data,
            config.batch_size if training else 256,
            max_length,
            shuffle=training,
            seed=seed,
            by_length=min(map(len, data.sequences)) != max(map(len, data.sequences)),
            alphabet=NUCLEOTIDE,
            augment=augment if training else None,
            features=features[id(data)],
        )

    folds = None if validation is not None else cross_validation_folds(train_set)
    if folds is None:
        trained = train_ensemble(
            networks,
            lambda i, seed: Member(loader(train_set, seed, True), loader(validation, 0, False), F.cross_entropy),
            metric,
            config,
            progress,
        )
        held_out, held_logits = validation, batched_logits(model, validation.sequences)
        selection = (
            f"the epoch with the best validation {'ROC AUC' if positive is not None else 'accuracy and macro-F1'}"
        )
        held_name = "validation"
    else:
        if len(folds) != len(networks):
            raise ValueError(f"{name}: {len(folds)} folds but {len(networks)} networks in the model config")
        trained = train_ensemble(
            networks,
            lambda i, seed: Member(
                loader(train_set.subset(folds[i][0]), seed, True),
                loader(train_set.subset(folds[i][1]), 0, False),
                F.cross_entropy,
            ),
            metric,
            config,
            progress,
            selection_key=None,
        )
        held_logits = np.empty((len(train_set), model_config.num_classes), dtype=np.float32)
        for network, (_, fold) in zip(networks, folds):
            held_logits[fold] = batched_logits(network, train_set.subset(fold).sequences)
        held_out = train_set
        selection = (
            f"none: each fold network keeps its last epoch ({config.epochs}, fixed in the recipe); its held-out fold "
            "only draws the curves"
        )
        held_name = "out-of-fold (5-fold cross-validation over train)"
    model.eval()

    temperature = fit_temperature(held_logits, held_out.labels)
    threshold = None
    if positive is not None:
        threshold = youden_threshold(held_out.labels == positive, softmax(held_logits, temperature)[:, positive])
        validation_section = calibrated_binary_metrics(held_logits, held_out.labels, temperature, threshold, positive)
    else:
        validation_section = calibrated_multiclass_metrics(held_logits, held_out.labels, temperature, labels)

    baselines, baseline_names = {}, []
    for recipe in spec.baselines:
        pipeline, c = fit_baseline(recipe.make, train_set, validation)
        chosen = (
            f"{recipe.name} (C={c}, chosen on {'validation' if validation is not None else '5-fold cross-validation'})"
        )
        baselines[chosen] = _baseline_figures(pipeline, test, positive)
        baseline_names.append(chosen)

    kept = deduplicated_rows(test, train_set.sequences + (validation.sequences if validation is not None else []))
    check, ood = fit_genome_check(name, splits, folds)
    test_logits = batched_logits(model, test.sequences)
    test_section = _test_section(test_logits, test, kept, (temperature, threshold, positive, labels), baselines)
    first = baseline_names[0]
    lengths = [len(s) for s in train_set.sequences]
    card = build_card(
        name,
        plan=plan,
        architecture=type(model).__name__
        if len(networks) == 1
        else f"{type(model).__name__} of {len(networks)} {type(networks[0]).__name__}",
        config=asdict(model_config),
        labels=labels,
        task=info.task,
        preprocessing={
            "alphabet": "A, C, G, T (U read as T); N and IUPAC ambiguity codes as one unknown token (none in training)",
            "max_length": max_length,
            "truncation": f"longer sequences keep their first and last {max_length // 2} bases",
            "length_range": [min(lengths), max(lengths)],
            "strands": "both (reverse-complement augmentation in training)"
            if spec.both_strands
            else "as given (5' to 3')",
        },
        temperature=temperature,
        threshold=threshold,
        ood=ood,
        positive_label=spec.positive_label,
        threshold_rule="Youden's J (max sensitivity + specificity - 1) on calibrated held-out probabilities"
        if positive is not None
        else "",
        main_metric="roc_auc" if positive is not None else "accuracy_and_macro_f1",
        metrics=CardMetrics(
            validation=validation_section,
            test=test_section,
            baseline=Baseline(first, baselines[first]),
            published=spec.published,
        ),
        history=trained.history,
        training=training_record(
            trained.results,
            config.seed,
            selection=selection,
            settings=asdict(config),
            details={
                "optimizer": "AdamW, cosine learning-rate schedule",
                "loss": "cross-entropy",
                "held_out": held_name,
                **(
                    {
                        "cross_validation": {
                            "folds": len(folds),
                            "fold_seed": 0,
                            "member_folds": list(range(1, len(folds) + 1)),
                        }
                    }
                    if folds is not None
                    else {}
                ),
                "augmentation": "a random half of each batch reverse-complemented" if spec.both_strands else "none",
                "seconds_with_baselines": round(time.perf_counter() - started, 1),
            },
        ),
        data=DataProvenance(
            name=spec.data,
            citation=spec.citation,
            licence=spec.licence,
            unit="sequences",
            splits={split: len(data) for split, data in splits.items()},
            files={relative: md5sum(data_file(data_dir, relative)) for relative in DATASETS[name].files},
            class_counts={
                split: {label: int((data.labels == i).sum()) for i, label in enumerate(labels)}
                for split, data in splits.items()
            },
            split_rule=spec.split_rule,
            details={"deduplicated_test": len(kept)},
        ),
        intended_use=spec.intended_use,
        limitations=list(spec.limitations),
        reproduce=reproduce_command(name, True, epochs),
    )
    return save_checkpoint(model, card, out_dir, {"applicability": save_check(check, name, out_dir)})


def evaluate_model(
    name: str, data_dir: Path, split: str = "test", directory: Path | str | None = None
) -> MetricSection:
    """The installed model's figures on one split with the card's temperature and threshold; on test, with the
    de-duplicated figures and the baselines the training run scored beside it (from the card)."""
    model, card = load_checkpoint(name, directory)
    splits = genome_splits(name, data_dir)
    if split == "val" and "validation" not in splits:
        raise SequenceInputError(f"{name} has no validation split: it was selected by cross-validation over train")
    data = splits[{"val": "validation"}.get(split, split)]
    seen = splits["train"].sequences + (splits["validation"].sequences if "validation" in splits else [])
    kept = deduplicated_rows(data, seen) if split == "test" else np.arange(len(data))
    baselines = getattr(card.metrics.test, "baselines", {}) if split == "test" and card.metrics else {}
    logits = batched_logits(model, data.sequences)
    return _test_section(
        logits, data, kept, (card.temperature, card.threshold, card.positive_index, card.labels), baselines
    )


def fit_genome_check(
    name: str, splits: dict[str, SequenceSet], folds: list[tuple[np.ndarray, np.ndarray]] | None
) -> tuple[MarkovCheck, OodSummary]:
    """A genome model's applicability check, fitted on train, chosen on validation (or ``folds`` over train
    without one); with the card's summary."""
    return fit_applicability(
        NUCLEOTIDE.letters,
        splits["train"],
        splits.get("validation"),
        folds,
        splits["test"],
        settings=SPECS[name].check,
        unit="bases",
    )


def read_nucleotides(positional: list[str], fasta: str | None = None) -> Iterator[SequenceRecord | RejectedInput]:
    """Records from sequences (or FASTA text) given as arguments, then from a FASTA file read as a stream, so
    a file of any size is scored in bounded memory (an id,sequence CSV is read whole, as for proteins); a
    record that fails the nucleotide policy becomes a ``RejectedInput``."""
    return read_sequences(positional, fasta, clean_nucleotides, NUCLEOTIDE_MAX_LENGTH)


@dataclass(frozen=True)
class GenomeRecipe(SequenceRecipe):
    """How the command line and the pages train, evaluate and run a genome model: the sequence recipe's
    predictor and records, with nucleotide input, streamed FASTA and the data folder's genome sets."""

    domain = "genome"
    needs_data_folder = True
    inputs = InputSpec(
        "DNA or RNA sequences (or FASTA text)",
        (InputOption("--fasta", "a FASTA (or id,sequence CSV) file of sequences"),),
    )

    def train(
        self,
        name: str,
        data_dir: Path | None,
        *,
        epochs: int | None,
        out_dir: Path,
        plan: VersionPlan,
        progress: ProgressCallback | None,
        options: dict[str, Any],
    ) -> ModelCard:
        assert data_dir is not None  # needs_data_folder: the command line resolved it
        return train_model(name, data_dir, epochs=epochs, out_dir=out_dir, plan=plan, progress=progress)

    def evaluate(self, name: str, data_dir: Path | None, split: str, directory: Path | None) -> MetricSection:
        assert data_dir is not None
        return evaluate_model(name, data_dir, split, directory)

    def read_inputs(self, positional: list[str], options: dict[str, Any]) -> Iterator[SequenceRecord | RejectedInput]:
        return read_nucleotides(positional, options.get("fasta"))

    def read_batch_inputs(self, paths: list[str]) -> Iterator[SequenceRecord | RejectedInput]:
        for path in paths:
            yield from read_sequence_file(path, clean_nucleotides, NUCLEOTIDE_MAX_LENGTH)

    def count_batch_inputs(self, paths: list[str]) -> int | None:
        return count_fasta_records(paths)

    def fit_check(self, name: str, data_dir: Path | None) -> tuple[MarkovCheck, OodSummary]:
        assert data_dir is not None
        splits = genome_splits(name, data_dir)
        folds = None if "validation" in splits else cross_validation_folds(splits["train"])
        return fit_genome_check(name, splits, folds)


GENOME = GenomeRecipe()
# A transcript's k-mer composition, codon usage in its longest ORF and the ORF's size, read beside its bases.
register_features("transcript", FEATURE_COUNT, transcript_features)

register_model(
    "genome.splice",
    config=SpliceConfig,
    task="splice-site recognition (donor, acceptor, neither)",
    labels=("EI", "IE", "N"),
    summary="Five fold networks (position embedding, convolution, bidirectional GRU, attention pooling): "
    "exon/intron donor, acceptor or neither in a 60-nt window (UCI primate splice junctions).",
    example_input=example_tokens,
    recipe=GENOME,
)(recurrent_model)

register_model(
    "genome.tfbs",
    config=TfbsConfig,
    task="transcription-factor binding: Oct4 vs MafK",
    labels=("MafK", "Oct4"),
    summary="Convolution, max pooling, bidirectional GRU and attention pooling over both strands: Oct4- or "
    "MafK-bound ChIP-seq peak (200 nt).",
    example_input=example_tokens,
    recipe=GENOME,
)(recurrent_model)

register_model(
    "genome.lncrna",
    config=LncrnaConfig,
    task="coding potential: lncRNA vs mRNA",
    labels=("mRNA", "lncRNA"),
    summary="Convolution, max pooling (8 nt), bidirectional GRU and attention pooling, joined by a dense branch "
    "over k-mers, codon usage in the longest ORF and its size: long non-coding RNA or protein-coding mRNA (mouse).",
    example_input=example_tokens,
    recipe=GENOME,
)(recurrent_model)
