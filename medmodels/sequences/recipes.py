"""Train, evaluate and predict for the sequence models: what the CLI's verbs do for ``sequence.*``.

The data ship inside registry packages, so no data folder is needed (``NEEDS_DATA_FOLDER``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from sklearn.metrics import matthews_corrcoef, roc_auc_score
from torch.utils.data import DataLoader

import medmodels
from medmodels.checkpoints import WEIGHTS_DIR, ModelCard, load_checkpoint, save_checkpoint
from medmodels.metrics import auc_metric, calibrated_binary_metrics, fit_temperature, softmax, youden_threshold
from medmodels.registry import create_model, get_model_info, resolve_config
from medmodels.sequences.baseline import fit_composition_baseline
from medmodels.sequences.data import KMER, SequenceSet, peptide_splits
from medmodels.sequences.models import encode
from medmodels.sequences.parsing import SequenceInputError, SequenceRecord, parse_text, parse_upload
from medmodels.sequences.screening import SequenceScreener, batched_logits
from medmodels.training import ProgressCallback, TrainConfig, train

NEEDS_DATA_FOLDER = False


@dataclass(frozen=True)
class SequenceRecipe:
    data: str
    citation: str
    licence: str
    positive_label: str
    train: TrainConfig
    intended_use: str
    limitations: tuple[str, ...]


RECIPES: dict[str, SequenceRecipe] = {
    "sequence.amp": SequenceRecipe(
        data="modlamp AMPvsUniProt.csv (modlamp 4.3.3)",
        citation="Müller et al., Bioinformatics 33:2753 (2017)",
        licence="BSD-3-Clause",
        positive_label="antimicrobial",
        train=TrainConfig(epochs=20, batch_size=64, learning_rate=3e-3, weight_decay=1e-4, seed=0),
        intended_use=(
            "Research: ranking candidate peptides (7-174 residues) by how much they resemble known antimicrobial "
            "peptides, to prioritise laboratory testing. Not a measure of potency, toxicity or safety."
        ),
        limitations=(
            "Negatives are UniProt sequences not annotated as antimicrobial, not peptides shown to be inactive.",
            "Peptides sharing an 8-residue stretch were kept on one side of every split, so test scores estimate "
            "performance on new peptide families; designed variants of a training peptide may score higher.",
            "Trained on 7-174 residues; scores outside that length range are extrapolations.",
        ),
    ),
    "sequence.anticancer": SequenceRecipe(
        data="modlamp ACP_CancPPD_vs_Random.csv and ACP_CancPPD_vs_TM.csv (modlamp 4.3.3), pooled",
        citation="Müller et al., Bioinformatics 33:2753 (2017); Tyagi et al., Sci Rep 3:2984 (2013) (CancerPPD)",
        licence="BSD-3-Clause",
        positive_label="anticancer",
        train=TrainConfig(epochs=30, batch_size=32, learning_rate=3e-3, weight_decay=1e-4, seed=0),
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
}


def recipe_for(name: str) -> SequenceRecipe:
    get_model_info(name)  # unknown names fail with the registry's message
    if name not in RECIPES:
        raise LookupError(f"{name} has no training recipe yet")
    return RECIPES[name]


def make_loader(data: SequenceSet, batch_size: int, max_length: int, *, shuffle: bool, seed: int = 0) -> DataLoader:
    """Batches of ``(tokens, labels)``, each padded only to its own longest sequence."""

    def collate(batch: list[tuple[str, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        return encode([s for s, _ in batch], max_length), torch.tensor([y for _, y in batch], dtype=torch.long)

    return DataLoader(
        list(zip(data.sequences, data.labels.tolist())),
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=collate,
        generator=torch.Generator().manual_seed(seed) if shuffle else None,
    )


def train_model(
    name: str, data_dir: Path | None = None, *, epochs: int | None = None, out_dir: Path | str = WEIGHTS_DIR, progress: ProgressCallback | None = None
) -> ModelCard:
    """Train on the cluster-aware train split, select on validation, report test once, write weights and card."""
    recipe = recipe_for(name)
    info = get_model_info(name)
    splits = peptide_splits(name)
    config = recipe.train if epochs is None else replace(recipe.train, epochs=epochs)
    model_config = resolve_config(name)
    positive = list(info.labels).index(recipe.positive_label)

    torch.manual_seed(config.seed)
    model = create_model(name)
    result = train(
        model,
        make_loader(splits["train"], config.batch_size, model_config.max_length, shuffle=True, seed=config.seed),
        make_loader(splits["validation"], 256, model_config.max_length, shuffle=False),
        F.cross_entropy,
        auc_metric(positive),
        config,
        progress,
    )
    val_logits = batched_logits(model, splits["validation"].sequences, model_config.max_length)
    temperature = fit_temperature(val_logits, splits["validation"].labels)
    threshold = youden_threshold(splits["validation"].labels == positive, softmax(val_logits, temperature)[:, positive])
    test_logits = batched_logits(model, splits["test"].sequences, model_config.max_length)

    # The composition baseline on the same splits, selected on the same validation split.
    baseline, baseline_c = fit_composition_baseline(splits["train"], splits["validation"])
    baseline_test = baseline.predict_proba(splits["test"].sequences)[:, positive]
    lengths = [len(s) for s in splits["train"].sequences]

    card = ModelCard(
        name=name,
        architecture=type(model).__name__,
        config=asdict(model_config),
        labels=list(info.labels),
        task=info.task,
        preprocessing={
            "alphabet": "20 standard amino acids; U->C and O->K; B, Z, J, X as one unknown token in training data",
            "max_length": model_config.max_length,
            "truncation": "longer sequences keep their first and last max_length/2 residues",
            "length_range": [min(lengths), max(lengths)],
        },
        temperature=temperature,
        threshold=threshold,
        positive_label=recipe.positive_label,
        threshold_rule="Youden's J (max sensitivity + specificity - 1) on calibrated validation probabilities",
        main_metric="roc_auc",
        metrics={
            "validation": calibrated_binary_metrics(val_logits, splits["validation"].labels, temperature, threshold, positive),
            "test": calibrated_binary_metrics(test_logits, splits["test"].labels, temperature, threshold, positive),
            "baseline_test": {
                "model": f"logistic regression on amino-acid + dipeptide composition (C={baseline_c}, chosen on validation)",
                "roc_auc": float(roc_auc_score(splits["test"].labels == positive, baseline_test)),
                "mcc": float(matthews_corrcoef(splits["test"].labels == positive, baseline_test >= 0.5)),
            },
        },
        history=result.history,
        training={
            **asdict(config),
            "optimizer": "AdamW, cosine learning-rate schedule",
            "selection": "the epoch with the best validation ROC AUC (ties: lower validation loss)",
            "best_epochs": [result.best_epoch],
            "epochs_run": [len(result.history)],
            "members": 1,
            "seconds": round(result.seconds, 1),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "medmodels": medmodels.__version__,
        },
        data={
            "name": recipe.data,
            "splits": {split: len(data) for split, data in splits.items()},
            "class_counts": {
                split: {label: int((data.labels == i).sum()) for i, label in enumerate(info.labels)} for split, data in splits.items()
            },
            "split_rule": f"exact duplicates merged and sequences with both labels dropped; peptides sharing an identical "
            f"{KMER}-residue stretch form one cluster (single linkage); clusters assigned to train / validation / test "
            "by scikit-learn's StratifiedGroupKFold (7 folds: one test, one validation, five train; seed 0)",
            "citation": recipe.citation,
            "licence": recipe.licence,
        },
        intended_use=recipe.intended_use,
        limitations=list(recipe.limitations) + [medmodels.DISCLAIMER],
        reproduce=f"python -m medmodels train {name}" + (f" --epochs {epochs}" if epochs else ""),
        created=dt.date.today().isoformat(),
    )
    save_checkpoint(model, card, out_dir)
    return card


def evaluate_model(name: str, data_dir: Path | None = None, split: str = "test", directory: Path | str = WEIGHTS_DIR) -> dict[str, Any]:
    """Metrics of the installed model on one split, with the card's temperature and threshold."""
    model, card = load_checkpoint(name, directory)
    data = peptide_splits(name)[{"val": "validation"}.get(split, split)]
    positive = card.labels.index(card.positive_label)
    logits = batched_logits(model, data.sequences, card.config["max_length"])
    return calibrated_binary_metrics(logits, data.labels, card.temperature, card.threshold, positive)


def _records(inputs: list[str], fasta: str | None) -> Iterator[SequenceRecord]:
    for index, raw in enumerate(inputs, start=1):
        yield from parse_text(raw if raw.lstrip().startswith(">") else f">input{index}\n{raw}")
    if fasta is not None:
        try:
            data = Path(fasta).read_bytes()
        except OSError as error:
            raise SequenceInputError(f"cannot read {fasta}: {error.strerror or error}") from None
        yield from parse_upload(data, Path(fasta).name)


def predict_files(name: str, inputs: list[str], directory: Path | str = WEIGHTS_DIR, fasta: str | None = None) -> Iterator[dict[str, Any]]:
    """One result per record: ``id``, ``sequence``, ``label``, ``probabilities``, or ``id`` and ``error``."""
    screener = SequenceScreener.load(name, directory)
    for record in _records(inputs, fasta):
        if record.sequence is None:
            yield {"id": record.id, "error": record.error}
            continue
        (score,) = screener.score([record.sequence])
        result = {
            "id": record.id,
            "sequence": record.sequence,
            "label": score.label,
            "probabilities": score.probabilities,
            "threshold": screener.threshold,
            "model": name,
        }
        notices = list(record.notices) + ([] if score.in_length_range else [f"length {len(record.sequence)} is outside the training range {screener.length_range[0]}-{screener.length_range[1]}"])
        if notices:
            result["notices"] = notices
        yield result
