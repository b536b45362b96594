"""Train, evaluate and predict for the imaging models: what the CLI's verbs do for ``imaging.*``."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F

import medmodels
from medmodels.checkpoints import WEIGHTS_DIR, ModelCard, save_checkpoint
from medmodels.data import data_file, md5sum
from medmodels.imaging.analysis import predict_upload
from medmodels.imaging.classifier import ImageClassifier
from medmodels.imaging.datasets import Augmentation, ImageSplit, load_medmnist, make_loader, to_tensor
from medmodels.imaging.display import default_display
from medmodels.imaging.images import ImageReadError, Preprocessing
from medmodels.imaging.ood import MahalanobisGate, fit_gate, save_gate
from medmodels.imaging.samples import packaged_ct_mr_files
from medmodels.imaging.scans import read_scan
from medmodels.metrics import auc_metric, calibrated_binary_metrics, fit_temperature, softmax, youden_threshold
from medmodels.registry import create_model, get_model_info, resolve_config
from medmodels.training import ProgressCallback, TrainConfig, for_member, train, training_record
from medmodels.uploads import FileTooLargeError, read_capped


NEEDS_DATA_FOLDER = True  # the MedMNIST files are read from the user's data folder


@dataclass(frozen=True)
class ImagingDataset:
    name: str
    file: str  # relative to the data folder
    citation: str
    licence: str
    positive_label: str
    train: TrainConfig
    members: int  # seed-ensemble size; member i trains with seed train.seed + i
    augmentation: Augmentation
    intended_use: str
    limitations: tuple[str, ...]


DATASETS: dict[str, ImagingDataset] = {
    "imaging.pneumonia": ImagingDataset(
        name="PneumoniaMNIST (MedMNIST v2)",
        file="medmnist/pneumoniamnist.npz",
        citation="Yang et al., Sci Data 10:41 (2023); Kermany et al., Cell 172:1122 (2018)",
        licence="CC BY 4.0",
        positive_label="pneumonia",
        # Three 20-epoch members matched three 30-epoch members on validation (ROC AUC 0.9987, NLL 0.041
        # vs 0.044) and fit the 10-minute training budget on two cores.
        train=TrainConfig(epochs=20, batch_size=128, learning_rate=2e-3, weight_decay=1e-4, seed=0),
        members=3,
        # Radiographs vary in positioning and field of view, not in orientation: small transforms, no flips.
        augmentation=Augmentation(max_degrees=10.0, max_shift=0.08, max_zoom=0.1),
        intended_use=(
            "Research and teaching: flagging frontal paediatric chest radiographs (children aged 1-5, "
            "Guangzhou Women and Children's Medical Center) that may show pneumonia, as decision support "
            "beside a clinician's reading. Not a medical device; not for diagnosis."
        ),
        limitations=(
            "Trained on 28x28 downsampled images: fine detail visible at full resolution is lost.",
            "Training data are paediatric anterior-posterior films from a single centre; adults, lateral views, "
            "other centres and other devices are out of distribution.",
            "Does not distinguish bacterial from viral pneumonia, nor detect other findings.",
            "The out-of-distribution gate withholds the diagnosis for scans unlike the training images (figures in "
            "'ood'); it is a statistical check, not a guarantee, and an adult or lateral chest film may pass it.",
            "The test split's prevalence (62.5 % pneumonia) differs from training (74 %); PPV and NPV depend on the "
            "prevalence where the model is used.",
        ),
    ),
    "imaging.breast": ImagingDataset(
        name="BreastMNIST (MedMNIST v2)",
        file="medmnist/breastmnist.npz",
        citation="Yang et al., Sci Data 10:41 (2023); Al-Dhabyani et al., Data in Brief 28:104863 (2020)",
        licence="CC BY 4.0",
        positive_label="malignant",
        # 546 training images leave any single network noisy (validation ROC AUC 0.91-0.97 across seeds);
        # eight members reached 0.966 on validation, five 0.963, two 0.957.
        train=TrainConfig(epochs=60, batch_size=32, learning_rate=2e-3, weight_decay=1e-3, seed=0),
        members=8,
        # Ultrasound frames are mirrored by probe orientation, so horizontal flips are realistic here.
        augmentation=Augmentation(max_degrees=10.0, max_shift=0.08, max_zoom=0.1, horizontal_flip=True),
        intended_use=(
            "Research and teaching: flagging breast ultrasound frames (women aged 25-75, Baheya Hospital, Cairo) "
            "whose appearance suggests malignancy, as decision support beside a radiologist's reading. "
            "Not a medical device; not for diagnosis or screening decisions."
        ),
        limitations=(
            "Trained on 546 images downsampled to 28x28: lesion margins and fine texture are largely lost.",
            "Single centre and a single ultrasound system family; other devices and settings are out of distribution.",
            "Benign lesions and normal tissue are one class: the model does not tell them apart.",
            "The out-of-distribution gate withholds the diagnosis for frames unlike the training images (figures in "
            "'ood'); it is a statistical check, not a guarantee, and another ultrasound system's frames may pass it.",
            "The test split has 156 images: metric estimates carry wide confidence intervals.",
        ),
    ),
}


def dataset_for(name: str) -> ImagingDataset:
    get_model_info(name)  # unknown names fail with the registry's message
    if name not in DATASETS:
        raise LookupError(f"{name} has no imaging training recipe")
    return DATASETS[name]


@torch.inference_mode()
def _logits(model: torch.nn.Module, inputs: torch.Tensor, batch_size: int = 512) -> np.ndarray:
    model.eval()
    return torch.cat([model(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)]).numpy()


@torch.inference_mode()
def _feature_statistics(model: torch.nn.Module, inputs: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    model.eval()
    return torch.cat([model.feature_statistics(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)])


# Share of the training images' own scores that the OOD gate lets through.
OOD_QUANTILE = 0.99


def _flagged(gate: MahalanobisGate, model: torch.nn.Module, inputs: torch.Tensor) -> dict[str, float | int]:
    flags = gate.is_out_of_distribution(_feature_statistics(model, inputs))
    return {"n": len(flags), "flagged": round(float(flags.float().mean()), 4)}


def _ood_reference_sets(name: str, data_dir: Path, preprocessing: Preprocessing) -> dict[str, torch.Tensor]:
    """Scans the model must flag: the other MedMNIST sets' test images, and pydicom's CT and MR files
    read exactly as an upload would be (middle frame, the file's own window)."""
    sets = {}
    for other_name, other in DATASETS.items():
        if other_name != name:
            images = load_medmnist(data_file(data_dir, other.file), "test").images
            sets[f"{other.name} test"] = to_tensor(images, preprocessing.mean, preprocessing.std)
    sets["pydicom CT and MR samples"] = ct_mr_reference_inputs(preprocessing)
    return sets


def ct_mr_reference_inputs(preprocessing: Preprocessing) -> torch.Tensor:
    """pydicom's CT and MR files as model inputs, read exactly as an upload would be (middle frame,
    the file's own window); files smaller than the model's input are left out, as uploads are refused."""
    inputs = []
    for filename, data in packaged_ct_mr_files():
        scan = read_scan(data, filename)
        image = default_display(scan, scan.frame_count() // 2)
        if min(image.size) >= preprocessing.input_size:
            inputs.append(preprocessing.to_tensor(image))
    return torch.cat(inputs)


def fit_ood_gate(
    model: torch.nn.Module, name: str, data_dir: Path, preprocessing: Preprocessing, splits: dict[str, ImageSplit]
) -> tuple[MahalanobisGate, dict[str, Any]]:
    """The trained model's OOD gate, fitted on the ``train`` images only, and the card's account of it:
    how often it flags ``val`` and ``test`` images (in distribution) and each reference set."""
    inputs = {split: to_tensor(s.images, preprocessing.mean, preprocessing.std) for split, s in splits.items()}
    gate = fit_gate(_feature_statistics(model, inputs["train"]), splits["train"].labels, OOD_QUANTILE)
    flagged = {
        "validation (in distribution)": _flagged(gate, model, inputs["val"]),
        "test (in distribution)": _flagged(gate, model, inputs["test"]),
        **{title: _flagged(gate, model, x) for title, x in _ood_reference_sets(name, data_dir, preprocessing).items()},
    }
    return gate, {
        "method": "Mahalanobis distance of the first conv block's channel means and standard deviations to the nearest class mean, "
        "shared Ledoit-Wolf covariance, on the ensemble's first member (Lee et al. 2018)",
        "threshold": gate.threshold,
        "threshold_rule": f"{OOD_QUANTILE:.0%} quantile of the training images' scores, each scored by a gate "
        "fitted on the other four of five folds",
        "flagged": flagged,
    }


def train_model(
    name: str,
    data_dir: Path,
    *,
    epochs: int | None = None,
    out_dir: Path | str = WEIGHTS_DIR,
    progress: ProgressCallback | None = None,
) -> ModelCard:
    """Train on the official train split, select on validation, report test once, write weights and card."""
    spec = dataset_for(name)
    info = get_model_info(name)
    path = data_file(data_dir, spec.file)
    train_split, val_split, test_split = (load_medmnist(path, s) for s in ("train", "val", "test"))
    pixels = train_split.images.astype(np.float64) / 255.0
    preprocessing = Preprocessing(input_size=train_split.images.shape[-1], mean=float(pixels.mean()), std=float(pixels.std()))

    def to_input(split: ImageSplit) -> torch.Tensor:
        return to_tensor(split.images, preprocessing.mean, preprocessing.std)

    config = spec.train if epochs is None else replace(spec.train, epochs=epochs)

    torch.manual_seed(config.seed)
    model = create_model(name, members=spec.members)
    val_loader = make_loader(to_input(val_split), val_split.labels, 512)
    positive = list(info.labels).index(spec.positive_label)
    results, history = [], []
    for index, member in enumerate(model.members):
        member_config = replace(config, seed=config.seed + index)
        train_loader = make_loader(
            to_input(train_split), train_split.labels, config.batch_size, augmentation=spec.augmentation, seed=member_config.seed
        )
        report = for_member(progress, index + 1, spec.members)
        result = train(member, train_loader, val_loader, F.cross_entropy, auc_metric(positive), member_config, report)
        results.append(result)
        history += [{"member": index + 1, **row} for row in result.history]
    model.eval()

    # Temperature and threshold come from validation only; test is scored once, below.
    val_logits = _logits(model, to_input(val_split))
    temperature = fit_temperature(val_logits, val_split.labels)
    threshold = youden_threshold(val_split.labels == positive, softmax(val_logits, temperature)[:, positive])
    test_logits = _logits(model, to_input(test_split))

    gate, ood = fit_ood_gate(model, name, data_dir, preprocessing, {"train": train_split, "val": val_split, "test": test_split})

    card = ModelCard(
        name=name,
        architecture=f"{type(model).__name__} of {spec.members} {type(model.members[0]).__name__}",
        config=asdict(resolve_config(name, members=spec.members)),
        labels=list(info.labels),
        task=info.task,
        preprocessing=preprocessing.to_dict(),
        temperature=temperature,
        threshold=threshold,
        positive_label=spec.positive_label,
        threshold_rule="Youden's J (max sensitivity + specificity - 1) on calibrated validation probabilities",
        main_metric="roc_auc",
        metrics={
            "validation": calibrated_binary_metrics(val_logits, val_split.labels, temperature, threshold, positive),
            "test": calibrated_binary_metrics(test_logits, test_split.labels, temperature, threshold, positive),
        },
        history=history,
        training={
            **asdict(config),
            "optimizer": "AdamW, cosine learning-rate schedule",
            "augmentation": asdict(spec.augmentation),
            "selection": "per member, the epoch with the best validation ROC AUC (ties: lower validation loss)",
            **training_record(results, config.seed),
        },
        data={
            "name": spec.name,
            "files": {spec.file: md5sum(path)},
            "ood_reference_files": {
                other.file: md5sum(data_file(data_dir, other.file)) for other_name, other in DATASETS.items() if other_name != name
            },
            "splits": {"train": len(train_split.labels), "validation": len(val_split.labels), "test": len(test_split.labels)},
            "class_counts": {
                split: {label: int((s.labels == i).sum()) for i, label in enumerate(info.labels)}
                for split, s in (("train", train_split), ("validation", val_split), ("test", test_split))
            },
            "citation": spec.citation,
            "licence": spec.licence,
        },
        ood=ood,
        intended_use=spec.intended_use,
        limitations=list(spec.limitations) + [medmodels.DISCLAIMER],
        reproduce=f"python -m medmodels train {name} --data $MEDMODELS_DATA" + (f" --epochs {epochs}" if epochs else ""),
        created=dt.date.today().isoformat(),
    )
    save_checkpoint(model, card, out_dir)
    save_gate(gate, name, out_dir)
    return card


def evaluate_model(name: str, data_dir: Path, split: str = "test", directory: Path | str = WEIGHTS_DIR) -> dict[str, Any]:
    """Metrics of the installed model on one split, with the card's temperature and threshold."""
    spec = dataset_for(name)
    classifier = ImageClassifier.load(name, directory)
    data = load_medmnist(data_file(data_dir, spec.file), split)
    inputs = to_tensor(data.images, classifier.preprocessing.mean, classifier.preprocessing.std)
    card = classifier.card
    return calibrated_binary_metrics(_logits(classifier.model, inputs), data.labels, card.temperature, classifier.threshold, classifier.positive_index)


def predict_files(name: str, paths: list[str], directory: Path | str = WEIGHTS_DIR) -> Iterator[dict[str, Any]]:
    """One result per path: a prediction, or ``{"input", "error"}`` for a file that cannot be read."""
    classifier = ImageClassifier.load(name, directory)
    for path in paths:
        try:
            data = read_capped(path)
        except OSError as error:
            yield {"input": path, "error": f"cannot read file: {error.strerror or error}"}
            continue
        except FileTooLargeError as error:
            yield {"input": path, "error": str(error)}
            continue
        try:
            prediction = predict_upload(classifier, data, Path(path).name)
        except ImageReadError as error:  # unreadable, or too small for the model
            yield {"input": path, "error": str(error)}
            continue
        yield {
            "input": path,
            "label": prediction.label,
            "probabilities": prediction.probabilities,
            "ood": prediction.ood,
            "threshold": prediction.threshold,
            "model": name,
        }
