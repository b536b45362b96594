"""The sequence recipe: training, evaluation and batch screening of peptides and proteins, and the
registration of the sequence models. The data ship inside registry packages, so no data folder is needed.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import matthews_corrcoef, roc_auc_score
from torch import nn
from torch.utils.data import DataLoader, Sampler

from medmodels.cards import (
    CardMetrics,
    DataProvenance,
    ModelCard,
    ModelFile,
    OodSummary,
    VersionPlan,
    build_card,
    reproduce_command,
    sha256sum,
    write_card,
)
from medmodels.checkpoints import checkpoint_paths, find_card, load_checkpoint, save_checkpoint
from medmodels.cli import register_command
from medmodels.data import resolve_data_dir
from medmodels.errors import UsageError
from medmodels.metrics import (
    accuracy_and_macro_f1,
    accuracy_and_macro_f1_scores,
    auc_metric,
    calibrated_binary_metrics,
    calibrated_multiclass_metrics,
    fit_logit_adjustment,
    fit_temperature,
    softmax,
    youden_threshold,
)
from medmodels.recipe import InputOption, InputSpec, Recipe, Record, RejectedInput
from medmodels.registry import create_model, get_model_info, register_model, resolve_config
from medmodels.sections import Baseline, MetricSection
from medmodels.sequences.alphabet import PROTEIN, Alphabet
from medmodels.sequences.applicability import (
    AMP_CHECK,
    PEPTIDE_CHECK,
    PROTEIN_CHECK,
    PROTEIN_CHECK_ORDERS,
    CheckSettings,
    MarkovCheck,
    fit_applicability,
    save_check,
)
from medmodels.sequences.baseline import fit_composition_baseline
from medmodels.sequences.data import KMER, SequenceSet, localisation_cross_validation, sequence_splits
from medmodels.sequences.features import FEATURE_COUNT, protein_features
from medmodels.sequences.models import (
    LOCALISATION_LABELS,
    LocalisationConfig,
    RecurrentConfig,
    SequenceEnsemble,
    example_tokens,
    recurrent_model,
    register_features,
    sequence_features,
)
from medmodels.sequences.parsing import (
    DEFAULT_MAX_LENGTH,
    Cleaner,
    SequenceInputError,
    SequenceRecord,
    clean_record,
    parse_text,
    parse_upload,
    stream_records,
)
from medmodels.sequences.screening import SequenceScreener, batched_logits
from medmodels.training import Member, ProgressCallback, TrainConfig, train_ensemble, training_record
from medmodels.uploads import FileTooLargeError, count_marker, read_capped


@dataclass(frozen=True)
class SequenceSpec:
    """What one sequence model is trained on and how: data, selection, and what its card says."""

    data: str
    citation: str
    licence: str
    positive_label: str | None  # None: several classes, the most probable one is the call
    train: TrainConfig
    split_rule: str
    intended_use: str
    limitations: tuple[str, ...]
    # Batches of similar lengths (whole proteins vary 50-fold in length; padding would dominate).
    batch_by_length: bool = False
    # Per ensemble member: cross-entropy class weights (train count)^-power, mean one; 0 leaves the loss
    # unweighted. Member i trains with seed train.seed + i.
    class_weight_powers: tuple[float, ...] = (0.0,)
    # Select and calibrate on the data set's own 5-fold cross-validation track instead of its validation split:
    # fold i's letter network and feature network are members i of each kind, each trained for a fixed number of
    # epochs on the fold's training side and kept at its last epoch; their held-out predictions choose the call.
    cross_validation: bool = False
    feature_train: TrainConfig | None = None  # the feature networks' settings (``RecurrentConfig.feature_members``)
    tree_train: TreeSettings | None = None  # the tree members' (``RecurrentConfig.tree_members``), fold i's seed + i
    check: CheckSettings = PEPTIDE_CHECK  # the applicability check's (``sequences/applicability.py``)


@dataclass(frozen=True)
class TreeSettings:
    """A tree member's boosting settings beside its shape (``RecurrentConfig.tree_rounds``, ``tree_leaves``):
    every round is kept (no early stopping), so the shape is fixed and the member loads from safetensors."""

    learning_rate: float = 0.1
    l2_regularization: float = 1.0
    class_weight: str | None = "balanced"  # every class weighs the same in the loss, as macro-F1 counts them
    seed: int = 0


PEPTIDE_SPLIT_RULE = (
    f"exact duplicates merged and sequences with both labels dropped; peptides sharing an identical {KMER}-residue "
    "stretch form one cluster (single linkage); clusters assigned to train / validation / test by scikit-learn's "
    "StratifiedGroupKFold (7 folds: one test, one validation, five train; seed 0)"
)


SPECS: dict[str, SequenceSpec] = {
    "sequence.amp": SequenceSpec(
        data="modlamp AMPvsUniProt.csv (modlamp 4.3.3)",
        citation="Müller et al., Bioinformatics 33:2753 (2017)",
        licence="BSD-3-Clause",
        positive_label="antimicrobial",
        train=TrainConfig(epochs=20, batch_size=64, learning_rate=3e-3, weight_decay=1e-4, seed=0),
        split_rule=PEPTIDE_SPLIT_RULE,
        check=AMP_CHECK,
        intended_use=(
            "Research: ranking candidate peptides (7-174 residues) by how much they resemble known antimicrobial "
            "peptides, to prioritise laboratory testing. Not a measure of potency, toxicity or safety."
        ),
        limitations=(
            "Negatives are UniProt sequences not annotated as antimicrobial, not peptides shown to be inactive.",
            (
                "Peptides sharing an 8-residue stretch were kept on one side of every split, so test scores estimate "
                "performance on new peptide families; designed variants of a training peptide may score higher."
            ),
            "Trained on 7-174 residues; scores outside that length range are extrapolations.",
        ),
    ),
    "sequence.anticancer": SequenceSpec(
        data="modlamp ACP_CancPPD_vs_Random.csv and ACP_CancPPD_vs_TM.csv (modlamp 4.3.3), pooled",
        citation="Müller et al., Bioinformatics 33:2753 (2017); Tyagi et al., Sci Rep 3:2984 (2013) (CancerPPD)",
        licence="BSD-3-Clause",
        positive_label="anticancer",
        train=TrainConfig(epochs=30, batch_size=32, learning_rate=3e-3, weight_decay=1e-4, seed=0),
        split_rule=PEPTIDE_SPLIT_RULE,
        intended_use=(
            "Research: ranking candidate peptides (8-30 residues) by resemblance to known anticancer peptides "
            "(CancerPPD), to prioritise laboratory testing. Not a measure of potency, selectivity or safety."
        ),
        limitations=(
            "Negatives are random and transmembrane peptides, not peptides shown to lack anticancer activity.",
            "Several hundred peptides only; many positives are designed variants of a few templates.",
            "Trained on 8-30 residues; scores outside that length range are extrapolations.",
        ),
    ),
    "sequence.localisation": SequenceSpec(
        data="p-scldata SCL2205 (scl2205.csv, splits.json; p-scldata 2025.6.0): UniProtKB proteins with one of 13 locations",
        citation="Ouso D. O. S., SCL2205 subcellular localisation dataset, https://github.com/ousodaniel/scldata",
        licence="MIT",
        positive_label=None,
        # Version 4: letter networks read 250 residues from each end (max_length 500) for 7 epochs, where version 3
        # read 500 for 5 in about the same time (about 35 s an epoch on 2 CPU cores). Measured before its test
        # scoring, each with version 3's feature network of the same fold: on fold 0 the pair went from accuracy /
        # macro-F1 0.557 / 0.370 to 0.572 / 0.400 (7 epochs) and 0.569 / 0.402 (10 epochs); on fold 1 from 0.573 /
        # 0.458 to 0.572 / 0.466 (10 epochs). 10 epochs would take the ten networks past 30 minutes.
        train=TrainConfig(epochs=7, batch_size=64, learning_rate=2e-3, weight_decay=1e-4, seed=0),
        split_rule="the package's homology-reduced tracks: the 5-fold cross-validation track over trn + evl (16,443 "
        "proteins; 6,165 held out once each) chooses and calibrates; tst, the held-out set, is the test split "
        "(reduction done by the data set's authors)",
        intended_use=(
            "Research: a first guess at where a whole protein (30-4924 residues in training) resides in a eukaryotic "
            "cell, to prioritise experiments. Not a substitute for experimental localisation or curated annotation."
        ),
        limitations=(
            (
                "Thirteen classes, four of them combinations (e.g. Cytoplasm;Nucleus); a protein in several compartments "
                "gets one call."
            ),
            (
                "Rare classes (Peroxisome, ER, Cell projection, Cytoplasm;Membrane, Cytoplasm;Cytoskeleton: about 1 % of "
                "proteins each) are often missed; see the per-class recall. Cell projection and Cytoplasm;Membrane "
                "are almost never called correctly (test F1 0.00)."
            ),
            (
                "The test split has been scored five times for this name (see the test history): a single network "
                "validation had rejected, then versions 2, 3, 4 and 5, each chosen before its scoring."
            ),
            (
                "The trees read only the whole-protein features, so the saliency and attention (from the networks) "
                "explain half of the call's logits."
            ),
            (
                "The letter networks read proteins over 500 residues as their first and last 250 residues, where most "
                "sorting signals lie; the whole-protein features read all of it."
            ),
            (
                "The call takes the class-prior logit adjustment chosen on the cross-validation track (see training), "
                "so it is not the class with the highest unadjusted score."
            ),
        ),
        batch_by_length=True,
        cross_validation=True,
        check=PROTEIN_CHECK,
        # The feature network as measured on the cross-validation track (out of fold: accuracy 0.548, macro-F1 0.407
        # alone; with fold 0's letter network, 0.559 / 0.430 on fold 0 where either alone reached 0.548-0.555 /
        # 0.37-0.38). Seeds follow the letter networks' (5-9).
        feature_train=TrainConfig(epochs=40, batch_size=128, learning_rate=1e-3, weight_decay=5e-2, seed=5),
        # Version 5's tree members, measured before its test scoring on version 4's own out-of-fold logits: each
        # fold's trees (150 rounds, 15 leaves, classes weighted equally) mixed half and half with the fold's pair
        # took accuracy / macro-F1 from 0.570 / 0.432 to 0.584 / 0.449 (weights 0.2 / 0.33 / 0.67: 0.577 / 0.433,
        # 0.583 / 0.442, 0.583 / 0.446; 0.5 chosen on every set of four folds, scored on the fifth), macro-F1 up
        # on four folds of five. Unweighted trees lifted accuracy only (0.584 / 0.430); a third feature network
        # or a logistic regression on the same features did not help. About 2 minutes a fold.
        tree_train=TreeSettings(learning_rate=0.1, l2_regularization=1.0, class_weight="balanced", seed=0),
    ),
}


class LengthBatches(Sampler[list[int]]):
    """Shuffled batches of sequences of similar length: each epoch sorts a fresh permutation by length band
    (``band`` residues, random order within a band), cuts it into batches and shuffles the batches."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int, band: int = 50) -> None:
        self.lengths, self.batch_size, self.band = np.asarray(lengths), batch_size, band
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[list[int]]:
        order = np.lexsort((self.rng.random(len(self.lengths)), self.lengths // self.band))
        batches = [order[i : i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)]
        self.rng.shuffle(batches)
        return iter(batches)


def make_loader(
    data: SequenceSet,
    batch_size: int,
    max_length: int,
    *,
    shuffle: bool,
    seed: int = 0,
    by_length: bool = False,
    alphabet: Alphabet = PROTEIN,
    augment: Callable[[str, np.random.Generator], str] | None = None,
    features: torch.Tensor | None = None,
) -> DataLoader:
    """Batches of ``(tokens, labels)``, each padded only to its own longest sequence; with ``features`` (one row
    per sequence, for a model that reads whole-sequence features), ``((tokens, features), labels)``. ``augment``
    (say, a random reverse complement) rewrites each sequence as it is batched, drawing from a generator seeded
    by ``seed``."""
    rng = np.random.default_rng(seed)

    def collate(indices: list[int]) -> tuple[Any, torch.Tensor]:
        sequences = [data.sequences[i] for i in indices]
        if augment is not None:
            sequences = [augment(s, rng) for s in sequences]
        tokens = alphabet.encode(sequences, max_length)
        labels = torch.as_tensor(data.labels[indices], dtype=torch.long)
        return ((tokens, features[indices]) if features is not None else tokens), labels

    indices = list(range(len(data)))
    if by_length:
        lengths = [min(len(s), max_length) for s in data.sequences]
        return DataLoader(indices, batch_sampler=LengthBatches(lengths, batch_size, seed), collate_fn=collate)
    return DataLoader(
        indices,
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=collate,
        generator=torch.Generator().manual_seed(seed) if shuffle else None,
    )


@dataclass(frozen=True)
class Decision:
    """How a trained model turns logits into a call, chosen on validation, and its card metrics."""

    temperature: float
    threshold: float | None
    rule: str
    metrics: CardMetrics
    details: dict[str, Any]  # extra entries for the card's training record


def _screening_decision(
    model: nn.Module,
    trained: TrainedNetworks,
    test: SequenceSet,
    positive: int,
    baseline_test: np.ndarray,
    baseline_name: str,
) -> Decision:
    """Temperature and Youden threshold on validation; test scored once with them."""
    validation, val_logits = trained.held_out, trained.held_logits
    temperature = fit_temperature(val_logits, validation.labels)
    threshold = youden_threshold(validation.labels == positive, softmax(val_logits, temperature)[:, positive])
    test_logits = batched_logits(model, test.sequences)
    truth = test.labels == positive
    metrics = CardMetrics(
        validation=calibrated_binary_metrics(val_logits, validation.labels, temperature, threshold, positive),
        test=calibrated_binary_metrics(test_logits, test.labels, temperature, threshold, positive),
        baseline=Baseline(
            baseline_name,
            {
                "roc_auc": float(roc_auc_score(truth, baseline_test[:, positive])),
                "mcc": float(matthews_corrcoef(truth, baseline_test[:, positive] >= 0.5)),
            },
        ),
    )
    return Decision(
        temperature,
        threshold,
        "Youden's J (max sensitivity + specificity - 1) on calibrated validation probabilities",
        metrics,
        {},
    )


def _multiclass_decision(
    model: nn.Module,
    trained: TrainedNetworks,
    test: SequenceSet,
    labels: list[str],
    prior: tuple[np.ndarray, str],
    baseline_test: np.ndarray,
    baseline_name: str,
) -> Decision:
    """Class-prior logit adjustment and temperature on validation (or out of fold); test scored once with them.

    The adjustment balances common and rare classes; it is folded into the model's head, so every user
    of the weights gets it.
    """
    validation = trained.held_out
    counts, prior_of = prior  # class counts behind the prior, and whose they are
    strength = fit_logit_adjustment(trained.held_logits, validation.labels, counts)
    offsets = -strength * np.log(counts / counts.sum())
    model.shift_logits(torch.tensor(offsets, dtype=torch.float32))
    val_logits = trained.held_logits + offsets.astype(np.float32)  # every member's bias moved by the same offsets
    temperature = fit_temperature(val_logits, validation.labels)
    test_logits = batched_logits(model, test.sequences)
    metrics = CardMetrics(
        validation=calibrated_multiclass_metrics(val_logits, validation.labels, temperature, labels),
        test=calibrated_multiclass_metrics(test_logits, test.labels, temperature, labels),
        baseline=Baseline(
            baseline_name, accuracy_and_macro_f1_scores(test.labels, baseline_test.argmax(axis=1), len(labels))
        ),
    )
    adjustment = {
        "strength": strength,
        "rule": f"logits - strength x log({prior_of} class prior), folded into the head's bias; strength from -1 "
        "to 1.5 in steps of 0.1, maximising the mean of accuracy and macro-F1 on the held-out predictions "
        "(Menon et al., ICLR 2021)",
    }
    return Decision(temperature, None, "the most probable class", metrics, {"logit_adjustment": adjustment})


@dataclass(frozen=True)
class TrainedNetworks:
    """What training produced before the decision: the run's records and the logits that choose the call."""

    history: list[dict[str, float]]
    results: list[Any]
    held_out: SequenceSet  # validation, or every protein held out by a fold
    held_logits: np.ndarray  # the model's logits on ``held_out`` (out of fold under cross-validation)
    selection: str
    details: dict[str, Any]


def _train_on_validation(
    spec: SequenceSpec,
    model: nn.Module,
    splits: dict[str, SequenceSet],
    config: TrainConfig,
    metric: Any,
    progress: ProgressCallback | None,
) -> TrainedNetworks:
    """Each member trains on the train split; its best validation epoch is kept."""
    train_set, validation = splits["train"], splits["validation"]
    max_length = model.config.max_length
    counts = np.bincount(train_set.labels, minlength=model.config.num_classes)
    networks = list(model.members) if isinstance(model, SequenceEnsemble) else [model]
    if len(spec.class_weight_powers) != len(networks):
        raise ValueError(f"the recipe trains {len(spec.class_weight_powers)} member(s), the model has {len(networks)}")

    def member(index: int, seed: int) -> Member:
        weights = torch.tensor(counts.astype(np.float64) ** -spec.class_weight_powers[index], dtype=torch.float32)
        weights /= weights.mean()

        def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(logits, targets, weight=weights)

        batches = make_loader(
            train_set, config.batch_size, max_length, shuffle=True, seed=seed, by_length=spec.batch_by_length
        )
        return Member(batches, make_loader(validation, 256, max_length, shuffle=False), loss)

    trained = train_ensemble(networks, member, metric, config, progress)
    model.eval()
    binary = spec.positive_label is not None
    return TrainedNetworks(
        trained.history,
        trained.results,
        validation,
        batched_logits(model, validation.sequences),
        f"the epoch with the best validation {'ROC AUC' if binary else 'mean of accuracy and macro-F1'} "
        "(ties: lower validation loss)",
        {
            "batches": "sequences of similar length batched together, batches shuffled"
            if spec.batch_by_length
            else "shuffled",
            "loss": "cross-entropy; class weights (train count)^-power, per member: "
            + ", ".join(map(str, spec.class_weight_powers)),
        },
    )


def _train_cross_validated(
    spec: SequenceSpec, model: SequenceEnsemble, config: TrainConfig, metric: Any, progress: ProgressCallback | None
) -> TrainedNetworks:
    """Fold ``i`` of the data set's cross-validation track trains letter network ``i`` and feature network ``i``
    (each kept at its last epoch) and, with ``spec.tree_train``, tree member ``i``; the model's logits on the
    fold's held-out proteins (the pair's mean, mixed with the trees' as the model mixes them) are out of fold."""
    assert spec.feature_train is not None
    pooled, folds = localisation_cross_validation()
    model_config = model.config
    networks = model.networks
    letter_networks = networks[: model_config.members]
    feature_networks = networks[model_config.members :]
    tree_members = model.trees
    if not len(folds) == len(letter_networks) == len(feature_networks) or (
        tree_members and len(tree_members) != len(folds)
    ):
        raise ValueError(
            f"{len(folds)} folds, {len(letter_networks)} letter and {len(feature_networks)} feature networks, "
            f"{len(tree_members)} tree members"
        )
    features = sequence_features(model_config, pooled.sequences)  # whole proteins, computed once
    assert features is not None

    def loader(indices: np.ndarray, batch_size: int, seed: int, training: bool) -> DataLoader:
        return make_loader(
            pooled.subset(indices),
            batch_size,
            model_config.max_length,
            shuffle=training,
            seed=seed,
            by_length=True,
            features=features[torch.as_tensor(indices)],
        )

    def fold_member(settings: TrainConfig) -> Callable[[int, int], Member]:
        return lambda i, seed: Member(
            loader(folds[i][0], settings.batch_size, seed, True), loader(folds[i][1], 256, 0, False), F.cross_entropy
        )

    letters = train_ensemble(letter_networks, fold_member(config), metric, config, progress, selection_key=None)
    side = train_ensemble(
        feature_networks, fold_member(spec.feature_train), metric, spec.feature_train, progress, selection_key=None
    )
    held = np.concatenate([fold for _, fold in folds])
    parts = {"letter networks": [], "feature networks": []}
    for letter, feature, (_, fold) in zip(letter_networks, feature_networks, folds):
        sequences = pooled.subset(fold).sequences
        parts["letter networks"].append(batched_logits(letter, sequences))
        parts["feature networks"].append(batched_logits(feature, sequences))
    tree_seconds = 0.0
    if tree_members:
        assert spec.tree_train is not None
        parts["trees"] = []
        started = time.perf_counter()
        for i, (member, (train, fold)) in enumerate(zip(tree_members, folds)):
            rows = features[torch.as_tensor(train)].numpy()
            member.set_trees(_fit_trees(rows, pooled.labels[train], spec.tree_train, model_config, i))
            parts["trees"].append(batched_logits(member, pooled.subset(fold).sequences))
        tree_seconds = time.perf_counter() - started
    alone = {part: np.concatenate(logits) for part, logits in parts.items()}
    held_logits = (alone["letter networks"] + alone["feature networks"]) / 2
    if tree_members:
        alone["letter and feature networks"] = held_logits
        held_logits = (1 - model_config.tree_weight) * held_logits + model_config.tree_weight * alone["trees"]
    model.eval()
    offset = len(letter_networks)
    history = letters.history + [{**row, "member": row["member"] + offset} for row in side.history]
    return TrainedNetworks(
        history,
        letters.results + side.results,
        pooled.subset(held),
        held_logits,
        f"none: each network keeps its last epoch (letter networks {config.epochs}, feature networks "
        f"{spec.feature_train.epochs}, fixed in the recipe); members 1-{offset} are the letter networks of folds "
        f"1-{offset}, members {offset + 1}-{2 * offset} the feature networks"
        + (
            f", members {2 * offset + 1}-{3 * offset} the folds' tree members (every round kept)"
            if tree_members
            else ""
        )
        + "; the held-out folds only draw the curves",
        {
            "batches": "sequences of similar length batched together, batches shuffled",
            "loss": "cross-entropy, unweighted (the logit adjustment balances the classes)",
            "cross_validation": {
                "track": "p-scldata splits.json 'cv' (5 folds over trn + evl)",
                "held_out": len(held),
                "feature_network_settings": asdict(spec.feature_train),
                "out_of_fold_logits": "per fold, the mean of its letter and feature networks' logits"
                + (
                    f", weighted {1 - model_config.tree_weight:g} against its tree member's {model_config.tree_weight:g}"
                    if tree_members
                    else ""
                ),
                **(
                    {
                        "tree_settings": {
                            **asdict(spec.tree_train),
                            "rounds": model_config.tree_rounds,
                            "leaves": model_config.tree_leaves,
                            "seconds": round(tree_seconds, 1),
                        }
                    }
                    if tree_members and spec.tree_train is not None
                    else {}
                ),
                "out_of_fold_alone": {
                    part: accuracy_and_macro_f1_scores(
                        pooled.labels[held], logits.argmax(axis=1), len(pooled.label_names)
                    )
                    for part, logits in {**alone, "both (the model)": held_logits}.items()
                },
            },
        },
    )


def _fit_trees(
    rows: np.ndarray, labels: np.ndarray, settings: TreeSettings, config: RecurrentConfig, fold: int
) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        learning_rate=settings.learning_rate,
        max_iter=config.tree_rounds,
        max_leaf_nodes=config.tree_leaves,
        l2_regularization=settings.l2_regularization,
        class_weight=settings.class_weight,
        early_stopping=False,
        random_state=settings.seed + fold,
    ).fit(rows, labels)


def fit_protein_check(splits: dict[str, SequenceSet], settings: CheckSettings) -> tuple[MarkovCheck, OodSummary]:
    """A protein model's applicability check (letter order and composition), fitted on train, its order chosen
    on validation; with the card's summary."""
    return fit_applicability(
        PROTEIN.letters,
        splits["train"],
        splits["validation"],
        None,
        splits["test"],
        orders=PROTEIN_CHECK_ORDERS,
        settings=settings,
        unit="residues",
    )


def train_model(
    name: str, *, epochs: int | None, out_dir: Path, plan: VersionPlan, progress: ProgressCallback | None = None
) -> ModelCard:
    """Train on the train split (or the cross-validation track), choose the call on validation (or out of fold),
    report test once, fit the applicability check; write weights, check and card."""
    spec = SPECS[name]
    info = get_model_info(name)
    splits = sequence_splits(name)
    train_set, validation, test = splits["train"], splits["validation"], splits["test"]
    config = spec.train if epochs is None else replace(spec.train, epochs=epochs)
    model_config = resolve_config(name)
    binary = spec.positive_label is not None
    positive = list(info.labels).index(spec.positive_label) if binary else None
    metric = auc_metric(positive) if binary else accuracy_and_macro_f1

    torch.manual_seed(config.seed)
    model = create_model(name)
    if spec.cross_validation:
        trained = _train_cross_validated(spec, model, config, metric, progress)
    else:
        trained = _train_on_validation(spec, model, splits, config, metric, progress)
    # The logit adjustment's class prior: the train split's, or under cross-validation that of the held-out proteins
    # its strength is fitted on (p-scldata's folds hold out fewer Secreted and more Nucleus proteins than train).
    prior_of = "held-out (out-of-fold)" if spec.cross_validation else "train"
    counts = np.bincount(
        trained.held_out.labels if spec.cross_validation else train_set.labels, minlength=len(info.labels)
    )
    # The composition baseline on the same splits, selected on the same validation split.
    baseline, baseline_c = fit_composition_baseline(train_set, validation)
    baseline_name = f"logistic regression on amino-acid + dipeptide composition (C={baseline_c}, chosen on validation)"
    baseline_test = baseline.predict_proba(test.sequences)
    if binary:
        decision = _screening_decision(model, trained, test, positive, baseline_test, baseline_name)
    else:
        decision = _multiclass_decision(
            model, trained, test, list(info.labels), (counts, prior_of), baseline_test, baseline_name
        )
    check, ood = fit_protein_check(splits, spec.check)
    lengths = [len(s) for s in train_set.sequences]
    members = len(trained.results)

    card = build_card(
        name,
        plan=plan,
        architecture=type(model).__name__
        if members == 1
        else f"{type(model).__name__} of {len(model.members)} {'members' if model.trees else 'networks'} ("
        + ", ".join(
            f"{count} {kind}" for kind, count in Counter(type(network).__name__ for network in model.members).items()
        )
        + ")",
        config=asdict(model_config),
        labels=list(info.labels),
        task=info.task,
        preprocessing={
            "alphabet": "20 standard amino acids; U->C and O->K; B, Z, J, X as one unknown token in training data",
            "max_length": model_config.max_length,
            "truncation": "longer sequences keep their first and last max_length/2 residues",
            "length_range": [min(lengths), max(lengths)],
        },
        temperature=decision.temperature,
        threshold=decision.threshold,
        positive_label=spec.positive_label,
        threshold_rule=decision.rule,
        main_metric="roc_auc" if binary else "accuracy_and_macro_f1",  # the selection metric in ``history``
        metrics=decision.metrics,
        history=trained.history,
        training=training_record(
            trained.results,
            config.seed,
            selection=trained.selection,
            settings=asdict(config),
            details={"optimizer": "AdamW, cosine learning-rate schedule", **trained.details, **decision.details},
        ),
        data=DataProvenance(
            name=spec.data,
            citation=spec.citation,
            licence=spec.licence,
            unit="sequences",
            splits={split: len(data) for split, data in splits.items()},
            class_counts={
                split: {label: int((data.labels == i).sum()) for i, label in enumerate(info.labels)}
                for split, data in splits.items()
            },
            split_rule=spec.split_rule,
        ),
        intended_use=spec.intended_use,
        limitations=list(spec.limitations),
        reproduce=reproduce_command(name, False, epochs),
        ood=ood,
    )
    return save_checkpoint(model, card, out_dir, {"applicability": save_check(check, name, out_dir)})


def evaluate_model(name: str, split: str = "test", directory: Path | str | None = None) -> MetricSection:
    """Metrics of the installed model on one split, with the card's temperature (and threshold)."""
    model, card = load_checkpoint(name, directory)
    data = sequence_splits(name)[{"val": "validation"}.get(split, split)]
    logits = batched_logits(model, data.sequences)
    if card.positive_index is None:
        return calibrated_multiclass_metrics(logits, data.labels, card.temperature, card.labels)
    return calibrated_binary_metrics(logits, data.labels, card.temperature, card.threshold, card.positive_index)


def read_sequences(
    positional: list[str], fasta: str | None = None, clean: Cleaner = clean_record, max_length: int = DEFAULT_MAX_LENGTH
) -> Iterator[SequenceRecord | RejectedInput]:
    """Records from raw sequences (or FASTA text) given as arguments, then from a FASTA file read as a stream
    (``read_sequence_file``); a record that fails the input policy (``clean``), or a file that cannot be read,
    becomes a ``RejectedInput``."""
    for index, raw in enumerate(positional, start=1):
        try:
            records = parse_text(raw if raw.lstrip().startswith(">") else f">input{index}\n{raw}", clean=clean)
        except SequenceInputError as error:
            yield RejectedInput("input", raw, str(error))
            continue
        yield from map(readable, records)
    if fasta is not None:
        yield from read_sequence_file(fasta, clean, max_length)


def read_sequence_file(
    path: str, clean: Cleaner = clean_record, max_length: int = DEFAULT_MAX_LENGTH
) -> Iterator[SequenceRecord | RejectedInput]:
    """A FASTA file's records read as a stream, with no cap on their number and bounded memory (the page keeps
    its own cap); an id,sequence CSV is read whole, under the upload cap. A record that fails the input policy
    (``clean``) becomes a ``RejectedInput``, and so does the rest of a file that turns out unreadable part way
    (the records before it are kept)."""
    if path.lower().endswith(".csv"):
        try:
            records = parse_upload(read_capped(path), Path(path).name, clean=clean)
        except OSError as error:
            yield RejectedInput("input", path, f"cannot read {path}: {error.strerror or error}")
            return
        except (FileTooLargeError, SequenceInputError) as error:  # over the cap, not UTF-8, no records
            yield RejectedInput("input", path, str(error))
            return
        yield from map(readable, records)
        return
    try:
        with open(path, encoding="utf-8-sig") as handle:
            yield from map(readable, stream_records(handle, clean, max_length))
    except OSError as error:
        yield RejectedInput("input", path, f"cannot read {path}: {error.strerror or error}")
    except UnicodeDecodeError:
        yield RejectedInput("input", path, f"{path} is not UTF-8 text")
    except SequenceInputError as error:
        yield RejectedInput("input", path, f"{path}: {error}")


def count_fasta_records(paths: list[str]) -> int | None:
    """About how many records ``read_sequence_file`` yields for ``paths``: ``>`` lines counted in bytes (a
    progress bar's total), an unreadable file as its one error row; None when a CSV is among them."""
    total = 0
    for path in paths:
        if path.lower().endswith(".csv"):
            return None
        try:
            with open(path, "rb") as stream:
                count = count_marker(stream, b"\n>", before=b"\n")  # a header on the first line counts too
        except OSError:
            count = 1
        total += max(count, 1)
    return total


def readable(record: SequenceRecord) -> SequenceRecord | RejectedInput:
    """The record, or a ``RejectedInput`` naming its problem when the input policy refused it."""
    return record if record.sequence is not None else RejectedInput("id", record.id, record.error or "invalid record")


class SequencePredictor:
    """Loads a screener once; scores a batch of valid records (length-sorted, so little padding)."""

    def __init__(self, name: str, directory: Path | str | None = None) -> None:
        self.name = name
        self.screener = SequenceScreener.load(name, directory)

    def predict_batch(self, records: list[SequenceRecord]) -> list[Record]:
        screener = self.screener
        results = []
        for record, score in zip(records, screener.score([record.sequence for record in records])):
            withheld = score.withheld_reason is not None
            result: Record = {
                "id": record.id,
                "sequence": record.sequence,
                # Outside the model's domain there is no call and no probability: they would read as a result.
                "label": None if withheld else score.label,
                "probabilities": None if withheld else score.probabilities,
                "model": self.name,
            }
            if withheld:
                result["withheld_reason"] = score.withheld_reason
            if screener.screening:
                result["threshold"] = screener.threshold
            low, high = screener.length_range
            notices = list(record.notices) + (
                []
                if score.in_length_range
                else [f"length {len(record.sequence)} is outside the training range {low}-{high}"]
            )
            if notices:
                result["notices"] = notices
            results.append(result)
        return results


def describe_sequence_record(record: Record) -> str:
    """One line for a sequence prediction: the call and its probabilities, or why it was withheld."""
    if record["probabilities"] is None:
        return f"{record['id']}: withheld, no call: {record['withheld_reason']}"
    probabilities = ", ".join(f"{k} {v:.3f}" for k, v in record["probabilities"].items())
    return f"{record['id']}: {record['label']} ({probabilities})"


@dataclass(frozen=True)
class SequenceRecipe(Recipe):
    """How the command line and the pages train, evaluate and run a sequence model."""

    domain = "sequence"
    needs_data_folder = False  # the data ship inside modlamp and p-scldata
    inputs = InputSpec(
        "sequences (or FASTA text)", (InputOption("--fasta", "a FASTA (or id,sequence CSV) file of sequences"),)
    )
    predict_batch_size = 256

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
        return train_model(name, epochs=epochs, out_dir=out_dir, plan=plan, progress=progress)

    def evaluate(self, name: str, data_dir: Path | None, split: str, directory: Path | None) -> MetricSection:
        return evaluate_model(name, split, directory)

    def read_inputs(self, positional: list[str], options: dict[str, Any]) -> Iterator[SequenceRecord | RejectedInput]:
        return read_sequences(positional, options.get("fasta"))

    def read_batch_inputs(self, paths: list[str]) -> Iterator[SequenceRecord | RejectedInput]:
        for path in paths:
            yield from read_sequence_file(path)

    def count_batch_inputs(self, paths: list[str]) -> int | None:
        return count_fasta_records(paths)

    def load_predictor(self, name: str, directory: Path | None) -> SequencePredictor:
        return SequencePredictor(name, directory)

    def describe(self, record: Record) -> str:
        return describe_sequence_record(record)

    def fit_check(self, name: str, data_dir: Path | None) -> tuple[MarkovCheck, OodSummary]:
        """The model's applicability check fitted as training fits it, with the card's summary."""
        return fit_protein_check(sequence_splits(name), SPECS[name].check)


SEQUENCES = SequenceRecipe()

register_features("protein", FEATURE_COUNT, protein_features)


def _sequence_recipe(name: str) -> SequenceRecipe:
    recipe = get_model_info(name).recipe
    if not isinstance(recipe, SequenceRecipe):
        raise UsageError(f"refit-check takes a sequence or genome model, not {name}")
    return recipe


def refit_check(name: str, directory: Path | str | None = None, data_dir: Path | None = None) -> ModelCard:
    """Fit an installed sequence or genome model's applicability check again with its recipe's current
    settings, keeping its weights, calibration and test history: the check file and the card's OOD section are
    rewritten (the check reads no test labels; its test figure is the share of test sequences it flags)."""
    recipe = _sequence_recipe(name)
    card = find_card(name, directory)
    check, ood = recipe.fit_check(name, data_dir)
    path = save_check(check, name, card.folder)
    files = [file for file in card.files if file.role != "applicability"]
    updated = replace(card, ood=ood, files=[*files, ModelFile("applicability", path.name, sha256sum(path))])
    write_card(updated, checkpoint_paths(name, card.folder)[1])
    return updated


def _configure_refit_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="an installed sequence or genome model (sequence.*, genome.*)")
    parser.add_argument("--data", default=None, help="data folder, for genome models (default: $MEDMODELS_DATA)")


def _run_refit_check(args: argparse.Namespace) -> int:
    data_dir = resolve_data_dir(args.data) if _sequence_recipe(args.model).needs_data_folder else None
    card = refit_check(args.model, args.weights, data_dir)
    flagged = "; ".join(f"{where} {share.flagged:.1%} of {share.n}" for where, share in card.ood.flagged.items())
    print(f"{card.name} version {card.version}: applicability check refitted in {card.folder} (flagged: {flagged})")
    return 0


register_command(
    "refit-check",
    "fit a sequence or genome model's applicability check again, keeping its weights",
    _configure_refit_check,
    _run_refit_check,
)

register_model(
    "sequence.amp",
    config=RecurrentConfig,
    task="antimicrobial peptide screening",
    labels=("not antimicrobial", "antimicrobial"),
    summary="Bidirectional GRU with attention pooling: antimicrobial vs not (modlamp AMP vs UniProt).",
    example_input=example_tokens,
    recipe=SEQUENCES,
)(recurrent_model)

register_model(
    "sequence.anticancer",
    config=RecurrentConfig,
    task="anticancer peptide screening",
    labels=("not anticancer", "anticancer"),
    summary="Bidirectional GRU with attention pooling: anticancer vs not (modlamp CancerPPD sets).",
    example_input=example_tokens,
    recipe=SEQUENCES,
)(recurrent_model)

register_model(
    "sequence.localisation",
    config=LocalisationConfig,
    task="subcellular localisation of proteins (13 locations)",
    labels=LOCALISATION_LABELS,
    summary="Two networks (convolution, max pooling, bidirectional GRU, attention pooling): 13 subcellular locations (p-scldata).",
    example_input=example_tokens,
    recipe=SEQUENCES,
)(recurrent_model)
