"""Training an imaging model on your own labelled scans: a folder holding one sub-folder per class.

Every file the readers accept counts, whatever its name: PNG, JPEG, BMP, TIFF, DICOM (single files, series
of them, multi-frame) and NIfTI volumes. Files that cannot be read are skipped and listed, never fatal.

**Slices.** A single-frame file gives one image. A multi-frame DICOM or a NIfTI volume gives up to
``MAX_FRAMES_PER_FILE`` evenly spaced frames (a NIfTI's axial slices) from its central half: the outer
slices of a volume are mostly air, table or the edge of the organ. Each frame is shown as the file asks (its
own window or VOI LUT), cropped to its centre square and resized to the input size, exactly as an upload
is for prediction.

**Groups.** Images of one patient, series or file never sit in two splits. A DICOM file's group is its
Patient ID, else its Series Instance UID; any other file's group is the first folder below its class
folder (``normal/patient-07/slice-1.png``), else the file itself. Group keys stay in memory: the card
records only how many groups there are.

**Splits.** Each class's groups are shuffled (seeded) and dealt 70 / 15 / 15 % to train, validation and
test, at least one to each, so every class needs three groups; or a split file (CSV with columns
``file,split``, split one of train, validation, test) assigns each file.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from medmodels.cards import (
    CardMetrics,
    DataProvenance,
    ModelCard,
    Population,
    VersionPlan,
    build_card,
)
from medmodels.checkpoints import load_weights, save_checkpoint
from medmodels.errors import InputError, UsageError
from medmodels.imaging.datasets import Augmentation, make_loader, to_tensor
from medmodels.imaging.display import default_display
from medmodels.imaging.images import Preprocessing
from medmodels.imaging.models import SmallCNNConfig, logits_in_batches, small_cnn_ensemble
from medmodels.imaging.ood import OOD_QUANTILE, feature_statistics, fit_gate, flagged_share, gate_summary, save_gate
from medmodels.metrics import (
    accuracy_and_macro_f1,
    auc_metric,
    calibrated_binary_metrics,
    calibrated_multiclass_metrics,
    fit_temperature,
    softmax,
    youden_threshold,
)
from medmodels.sections import BinaryClassificationMetrics, MultiClassMetrics
from medmodels.training import Member, ProgressCallback, TrainConfig, train_ensemble, training_record
from medmodels.uploads import read_capped

BUILDER = "imaging.custom"
INPUT_SIZES = (28, 64, 128)
DEFAULT_INPUT_SIZE = 64
MAX_FRAMES_PER_FILE = 16
SPLITS = ("train", "validation", "test")
SPLIT_FRACTIONS = {"validation": 0.15, "test": 0.15}  # train takes the rest
MEMBERS = 3
MAX_CLASSES = 20
TRAIN_CONFIG = TrainConfig(epochs=30, batch_size=32, learning_rate=2e-3, weight_decay=1e-4, seed=0)
# A few thousand training images give enough steps per epoch in larger batches and fewer epochs: the shipped
# pneumonia model's schedule, which keeps a PneumoniaMNIST-sized folder under ten minutes on two cores.
LARGE_TRAINING_SET = 2000
LARGE_TRAIN_CONFIG = TrainConfig(epochs=20, batch_size=128, learning_rate=2e-3, weight_decay=1e-4, seed=0)
# Fine-tuning starts from trained weights: fewer epochs and a smaller step keep what the base model learned.
FINE_TUNE_CONFIG = TrainConfig(epochs=15, batch_size=32, learning_rate=5e-4, weight_decay=1e-4, seed=0)
AUGMENTATION = Augmentation(max_degrees=10.0, max_shift=0.08, max_zoom=0.1)  # no flips: anatomy has a side
# Folder names that usually mean the negative class; the other class is then called positive.
NEGATIVE_NAMES = frozenset({"normal", "negative", "benign", "healthy", "control", "controls", "no", "none", "absent"})
NAME_PATTERN = re.compile(r"imaging\.[a-z0-9][a-z0-9_-]{0,40}")


@dataclass(frozen=True)
class SourceFile:
    """One file of the labelled folder (or archive): its path below the root, "class/.../name", and its bytes."""

    path: str
    read: Callable[[], bytes]


@dataclass
class LabelledScans:
    """The images read from a labelled folder, one row per image, and what was skipped."""

    classes: list[str]
    input_size: int
    images: np.ndarray  # (N, S, S) uint8, exactly as the model will see them (before normalisation)
    labels: np.ndarray  # (N,) index into ``classes``
    files: list[str]  # per image: the file it came from
    groups: list[str]  # per image: its patient, series or file (kept in memory only)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    modalities: Counter = field(default_factory=Counter)  # DICOM Modality per file that states one
    body_parts: Counter = field(default_factory=Counter)
    dicom_files: int = 0

    def group_counts(self, rows: np.ndarray | None = None) -> int:
        chosen = range(len(self.groups)) if rows is None else rows
        return len({self.groups[i] for i in chosen})


def folder_files(root: Path) -> Iterator[SourceFile]:
    """Every file below ``root``, hidden files and folders left out, in a stable order."""
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            yield SourceFile(relative.as_posix(), lambda path=path: read_capped(path))


def frame_indices(count: int, cap: int = MAX_FRAMES_PER_FILE) -> list[int]:
    """The frames a file of ``count`` frames contributes: up to ``cap`` evenly spaced ones from its central half."""
    if count <= 1:
        return [0]
    low, high = count // 4, count - count // 4
    chosen = np.linspace(low, high - 1, min(cap, high - low)).round().astype(int)
    return sorted({int(i) for i in chosen})


def _tag_values(tags) -> dict[str, str]:
    values: dict[str, str] = {}
    for tag in tags:
        if tag.keyword and tag.value.strip():
            values.setdefault(tag.keyword, tag.value.strip())
    return values


def _group(path: str, values: dict[str, str]) -> str:
    if values.get("PatientID"):
        return "patient:" + values["PatientID"]
    if values.get("SeriesInstanceUID"):
        return "series:" + values["SeriesInstanceUID"]
    parts = path.split("/")
    return "folder:" + "/".join(parts[:2]) if len(parts) > 2 else "file:" + path


def read_labelled_scans(
    files: Iterable[SourceFile],
    input_size: int,
    progress: Callable[[int, str], None] | None = None,
    classes: list[str] | None = None,
) -> LabelledScans:
    """Images, labels and groups of a labelled folder's files (see the module's rules); a file that cannot
    be read, or is smaller than the input size, is skipped with the reason. ``classes`` fixes the classes
    (a trained model's); by default they are the class folders found, in alphabetical order."""
    from medmodels.imaging.scans import read_scan  # deferred: the readers import pydicom and nibabel

    preprocessing = Preprocessing(input_size=input_size, mean=0.0, std=1.0)
    images: list[np.ndarray] = []
    labels: list[str] = []
    sources: list[str] = []
    groups: list[str] = []
    skipped: list[tuple[str, str]] = []
    modalities: Counter = Counter()
    body_parts: Counter = Counter()
    dicom_files = 0
    for count, source in enumerate(files, start=1):
        if progress is not None:
            progress(count, source.path)
        if "/" not in source.path:
            skipped.append((source.path, "not inside a class folder"))
            continue
        label = source.path.split("/", 1)[0]
        if classes is not None and label not in classes:
            skipped.append((source.path, f"'{label}' is not one of the model's classes ({', '.join(classes)})"))
            continue
        try:
            scan = read_scan(source.read(), source.path.rsplit("/", 1)[-1])
            frames = []
            for index in frame_indices(scan.frame_count()):
                small = preprocessing.resize(default_display(scan, index))
                frames.append(np.asarray(small, dtype=np.uint8))
        except InputError as error:  # unreadable, too large, too small for the input, a refused archive member
            skipped.append((source.path, str(error)))
            continue
        except OSError as error:
            skipped.append((source.path, f"cannot read the file: {error.strerror or error}"))
            continue
        values = _tag_values(scan.tags)
        if scan.source == "dicom":
            dicom_files += 1
            if values.get("Modality"):
                modalities[values["Modality"].upper()] += 1
            if values.get("BodyPartExamined"):
                body_parts[values["BodyPartExamined"].upper()] += 1
        group = _group(source.path, values)
        for frame in frames:
            images.append(frame)
            labels.append(label)
            sources.append(source.path)
            groups.append(group)
    classes = list(classes) if classes is not None else sorted(set(labels))
    return LabelledScans(
        classes=classes,
        input_size=input_size,
        images=np.stack(images) if images else np.zeros((0, input_size, input_size), np.uint8),
        labels=np.array([classes.index(label) for label in labels], dtype=np.int64),
        files=sources,
        groups=groups,
        skipped=skipped,
        modalities=modalities,
        body_parts=body_parts,
        dicom_files=dicom_files,
    )


def assign_splits(scans: LabelledScans, seed: int = 0) -> dict[str, str]:
    """Group -> split: each class's groups (a group belongs to its commonest class) shuffled and dealt
    70 / 15 / 15 %, at least one to each split. Raises UsageError when a class has fewer than three groups."""
    members: dict[str, Counter] = {}
    for group, label in zip(scans.groups, scans.labels.tolist()):
        members.setdefault(group, Counter())[label] += 1
    by_class: dict[int, list[str]] = {}
    for group in sorted(members):
        by_class.setdefault(members[group].most_common(1)[0][0], []).append(group)
    rng = np.random.default_rng(seed)
    assignment: dict[str, str] = {}
    for label, name in enumerate(scans.classes):
        groups = by_class.get(label, [])
        if len(groups) < 3:
            raise UsageError(
                f"class '{name}' has {len(groups)} patient(s), series or file(s); at least 3 are needed so that "
                "training, validation and test each get one"
            )
        order = [groups[i] for i in rng.permutation(len(groups))]
        test = max(1, round(SPLIT_FRACTIONS["test"] * len(order)))
        validation = max(1, round(SPLIT_FRACTIONS["validation"] * len(order)))
        for position, group in enumerate(order):
            assignment[group] = "test" if position < test else "validation" if position < test + validation else "train"
    return assignment


def read_split_file(data: bytes) -> dict[str, str]:
    """File (as below the folder) -> split, from a CSV with columns ``file`` and ``split``."""
    try:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as error:
        raise UsageError(f"the split file is not a readable CSV ({error})") from None
    if not rows or not {"file", "split"} <= set(rows[0]):
        raise UsageError("the split file needs a header with the columns 'file' and 'split'")
    splits = {}
    for number, row in enumerate(rows, start=2):
        split = (row["split"] or "").strip().lower()
        split = "validation" if split == "val" else split
        if split not in SPLITS:
            raise UsageError(f"split file line {number}: split {row['split']!r} is not train, validation or test")
        splits[(row["file"] or "").strip().replace("\\", "/")] = split
    return splits


def split_rows(scans: LabelledScans, file_splits: dict[str, str] | None, seed: int = 0) -> dict[str, np.ndarray]:
    """Split -> image rows. With ``file_splits`` (a split file), images of unlisted files are left out, and a
    group spread over two splits is refused; otherwise ``assign_splits`` decides by group."""
    if file_splits is None:
        by_group = assign_splits(scans, seed)
        chosen = [by_group[group] for group in scans.groups]
    else:
        chosen = [file_splits.get(path, "") for path in scans.files]
        seen: dict[str, set[str]] = {}
        for group, split in zip(scans.groups, chosen):
            if split:
                seen.setdefault(group, set()).add(split)
        spread = [group for group, splits in seen.items() if len(splits) > 1]
        if spread:
            raise UsageError(
                f"the split file puts images of one patient or series into two splits ({len(spread)} such group(s)); "
                "keep each patient's files in one split"
            )
    rows = {split: np.array([i for i, s in enumerate(chosen) if s == split], dtype=np.int64) for split in SPLITS}
    for split, indices in rows.items():
        present = set(scans.labels[indices].tolist())
        missing = [name for label, name in enumerate(scans.classes) if label not in present]
        if missing:
            raise UsageError(f"the {split} split has no image of class {', '.join(repr(m) for m in missing)}")
    return rows


def check_fine_tuning(base: ModelCard, input_size: int, classes: int | None) -> None:
    """Refuse to fine-tune ``base`` on images of another size or another number of classes (UsageError);
    ``classes`` None checks the size alone, before the files are read."""
    if base.architecture.split(" of ")[-1].split()[-1] != "SmallCNN" or "input_size" not in base.config:
        raise UsageError(f"{base.name} is not a small CNN of scans, so it cannot be fine-tuned here")
    if int(base.config["input_size"]) != input_size:
        raise UsageError(
            f"{base.name} reads {base.config['input_size']} x {base.config['input_size']} images; "
            f"fine-tuning it needs the input size {base.config['input_size']}, not {input_size}"
        )
    if classes is not None and int(base.config.get("num_classes", 2)) != classes:
        raise UsageError(f"{base.name} has {base.config.get('num_classes', 2)} classes; your folder has {classes}")


def positive_class(classes: list[str], chosen: str | None) -> str:
    """The class whose probability is thresholded: ``chosen``, else the one that is not named like a negative
    class ("normal", "benign", ...), else the second in alphabetical order."""
    if chosen is not None:
        if chosen not in classes:
            raise UsageError(f"--positive {chosen!r} is not a class folder; the classes are {', '.join(classes)}")
        return chosen
    negatives = [c for c in classes if c.lower() in NEGATIVE_NAMES]
    return next(c for c in classes if c not in negatives) if len(negatives) == 1 else classes[1]


def check_name(name: str | None, registered: Iterable[str]) -> str:
    if not name:
        raise UsageError("give the new model's name: --name imaging.NAME (lower-case letters, digits, - and _)")
    if not NAME_PATTERN.fullmatch(name):
        raise UsageError(f"--name {name!r}: use imaging. then lower-case letters, digits, - or _ (e.g. imaging.my-ct)")
    if name in set(registered):
        raise UsageError(f"--name {name!r} is a built-in model; choose another name")
    return name


def _population(scans: LabelledScans) -> Population | None:
    """The modalities and body parts of the training files, stated only when every DICOM file states one
    and no plain image (which states none) is among them."""
    plain = len(set(scans.files)) - scans.dicom_files
    if scans.dicom_files == 0 or plain > 0:
        return None
    modalities = sorted(scans.modalities) if sum(scans.modalities.values()) == scans.dicom_files else []
    body_parts = sorted(scans.body_parts) if sum(scans.body_parts.values()) == scans.dicom_files else []
    if not modalities and not body_parts:
        return None
    what = " / ".join(modalities) if modalities else "DICOM"
    where = f" of the {' / '.join(body_parts).lower()}" if body_parts else ""
    return Population(description=f"your {what} scans{where}", modalities=modalities, body_parts=body_parts)


def train_custom(
    name: str,
    scans: LabelledScans,
    rows: dict[str, np.ndarray],
    *,
    origin: str,
    folder: Path | None,
    positive: str | None,
    epochs: int | None,
    out_dir: Path,
    plan: VersionPlan,
    progress: ProgressCallback | None = None,
    start_from: ModelCard | None = None,
) -> ModelCard:
    """Train a seed ensemble of small CNNs on ``scans``' train rows, select epochs on validation, calibrate
    and choose the threshold on validation, score test once, fit the OOD gate on train; write the weights,
    the gate, the split file and the card into ``out_dir``. ``origin`` says where the scans came from (a
    folder, an upload); ``folder``, when they are one on this machine, is where ``evaluate`` reads them again.
    ``start_from`` (see ``check_fine_tuning``) fine-tunes an installed model's networks instead of new ones."""
    problem = class_count_problem(scans)
    if problem:
        raise UsageError(f"the scans hold {problem}")
    binary = len(scans.classes) == 2
    train_rows, val_rows, test_rows = (rows[split] for split in SPLITS)
    if start_from is not None:
        check_fine_tuning(start_from, scans.input_size, len(scans.classes))
        base = Preprocessing.from_dict(start_from.preprocessing)  # the inputs its networks were trained on
        preprocessing = Preprocessing(input_size=scans.input_size, mean=base.mean, std=base.std)
    else:
        pixels = scans.images[train_rows].astype(np.float64) / 255.0
        preprocessing = Preprocessing(
            input_size=scans.input_size, mean=float(pixels.mean()), std=float(pixels.std()) or 1.0
        )

    def inputs(selection: np.ndarray) -> torch.Tensor:
        return to_tensor(scans.images[selection], preprocessing.mean, preprocessing.std)

    defaults = TRAIN_CONFIG if start_from is None else FINE_TUNE_CONFIG
    if start_from is None and len(train_rows) >= LARGE_TRAINING_SET:
        defaults = LARGE_TRAIN_CONFIG
    config = defaults if epochs is None else TrainConfig(**{**asdict(defaults), "epochs": epochs})
    torch.manual_seed(config.seed)
    if start_from is not None:
        model_config = SmallCNNConfig(**start_from.config)
        model = load_weights(start_from).train()
    else:
        model_config = SmallCNNConfig(input_size=scans.input_size, num_classes=len(scans.classes), members=MEMBERS)
        model = small_cnn_ensemble(model_config)
    positive_index = scans.classes.index(positive) if binary and positive is not None else None
    train_labels, val_labels, test_labels = (scans.labels[r] for r in (train_rows, val_rows, test_rows))
    val_loader = make_loader(inputs(val_rows), val_labels, 256)
    # Classes are often unbalanced in a user's folder: weight the loss by inverse class frequency.
    classes = len(scans.classes)
    counts = np.bincount(train_labels, minlength=classes).astype(np.float64)
    weights = torch.tensor(counts.sum() / (classes * np.maximum(counts, 1)), dtype=torch.float32)

    def member(index: int, seed: int) -> Member:
        batches = make_loader(inputs(train_rows), train_labels, config.batch_size, augmentation=AUGMENTATION, seed=seed)
        return Member(batches, val_loader, lambda logits, y: F.cross_entropy(logits, y, weight=weights))

    selection_metric = auc_metric(positive_index) if positive_index is not None else accuracy_and_macro_f1
    trained = train_ensemble(model.members, member, selection_metric, config, progress)
    model.eval()
    val_logits, test_logits = logits_in_batches(model, inputs(val_rows)), logits_in_batches(model, inputs(test_rows))
    temperature = fit_temperature(val_logits, val_labels)
    threshold = None
    if positive_index is not None:
        threshold = youden_threshold(val_labels == positive_index, softmax(val_logits, temperature)[:, positive_index])
    sections = {
        split: split_metrics(logits, labels, temperature, threshold, positive_index, scans.classes)
        for split, logits, labels in (("validation", val_logits, val_labels), ("test", test_logits, test_labels))
    }

    gate = fit_gate(feature_statistics(model, inputs(train_rows)), train_labels, OOD_QUANTILE)
    ood = gate_summary(
        gate,
        {
            "validation (in distribution)": flagged_share(gate, model, inputs(val_rows)),
            "test (in distribution)": flagged_share(gate, model, inputs(test_rows)),
        },
    )
    split_counts = {split: rows[split] for split in SPLITS}
    card = build_card(
        name,
        plan=plan,
        builder=BUILDER,
        architecture=f"SeedEnsemble of {model_config.members} SmallCNN",
        config=asdict(model_config),
        labels=list(scans.classes),
        task=f"{'binary' if binary else f'{len(scans.classes)}-class'} classification of your scans: "
        + " vs ".join(scans.classes),
        preprocessing=preprocessing.to_dict(),
        temperature=temperature,
        threshold=threshold,
        positive_label=positive if positive_index is not None else None,
        threshold_rule="Youden's J (max sensitivity + specificity - 1) on calibrated validation probabilities"
        if positive_index is not None
        else "",
        main_metric="roc_auc" if positive_index is not None else "accuracy_and_macro_f1",
        metrics=CardMetrics(validation=sections["validation"], test=sections["test"]),
        history=trained.history,
        training=training_record(
            trained.results,
            config.seed,
            selection="per member, the epoch with the best validation "
            + ("ROC AUC" if positive_index is not None else "mean of accuracy and macro-F1")
            + " (ties: lower validation loss)",
            settings=asdict(config),
            details={
                "optimizer": "AdamW, cosine learning-rate schedule",
                "augmentation": asdict(AUGMENTATION),
                "loss": "cross-entropy weighted by inverse class frequency in the training split",
                **(
                    {
                        "fine_tuned_from": f"{start_from.name} version {start_from.version}, every layer trained, "
                        "its input normalisation kept; your classes in alphabetical order take its outputs in order"
                    }
                    if start_from is not None
                    else {}
                ),
            },
        ),
        data=DataProvenance(
            name=f"your labelled scans ({origin})",
            citation="",
            licence="your own data",
            unit="images",
            splits={split: len(r) for split, r in split_counts.items()},
            class_counts={
                split: {c: int((scans.labels[r] == i).sum()) for i, c in enumerate(scans.classes)}
                for split, r in split_counts.items()
            },
            counts={
                "groups": {split: scans.group_counts(r) for split, r in split_counts.items()},
                "files": {split: len({scans.files[i] for i in r}) for split, r in split_counts.items()},
            },
            split_rule=__doc__.split("**Splits.** ", 1)[1].strip().replace("\n", " "),
            details={
                "origin": origin,
                **({"images_folder": str(folder)} if folder is not None else {}),
                "input_size": scans.input_size,
                "slice_rule": __doc__.split("**Slices.** ", 1)[1].split("\n\n", 1)[0].replace("\n", " "),
                "group_rule": __doc__.split("**Groups.** ", 1)[1].split("\n\n", 1)[0].replace("\n", " "),
            },
            skipped=dict(scans.skipped),
        ),
        ood=ood,
        population=_population(scans),
        intended_use=(
            "Research on your own labelled scans, as decision support beside a clinician's reading. Not a medical "
            "device; not for diagnosis. It has seen only the scans in its training folder."
        ),
        limitations=[
            (
                f"Trained on {len(train_rows)} images from {scans.group_counts(train_rows)} patients, series or files, "
                f"downsampled to {scans.input_size} x {scans.input_size}; its test split has {len(test_rows)} images, "
                "so its figures carry wide confidence intervals."
            ),
            (
                "Scans from other scanners, sites, protocols or populations than the training folder are out of "
                "distribution; the gate catches some of them, not all."
            ),
        ],
        reproduce=f"python -m medmodels train {BUILDER} --images {folder or 'DIR'} --name {name} "
        f"--size {scans.input_size}"
        + (f" --epochs {epochs}" if epochs else "")
        + (f" --start-from {start_from.name}" if start_from is not None else "")
        + ("" if folder is not None else f", with DIR holding the scans of {origin}, unzipped"),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    gate_file = save_gate(gate, name, out_dir)
    split_file = out_dir / f"{name}.splits.csv"
    with open(split_file, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("file", "split"))
        for split in SPLITS:
            for path in sorted({scans.files[i] for i in rows[split]}):
                writer.writerow((path, split))
    return save_checkpoint(model, card, out_dir, {"ood_gate": gate_file, "splits": split_file})


def split_metrics(
    logits: np.ndarray,
    labels: np.ndarray,
    temperature: float,
    threshold: float | None,
    positive_index: int | None,
    classes: list[str],
) -> BinaryClassificationMetrics | MultiClassMetrics:
    """A split's card section: binary figures at ``threshold`` with a positive class, else multi-class ones."""
    if positive_index is None or threshold is None:
        return calibrated_multiclass_metrics(logits, labels, temperature, classes)
    return calibrated_binary_metrics(logits, labels, temperature, threshold, positive_index)


def evaluate_custom(
    name: str, split: str, directory: Path | None = None
) -> BinaryClassificationMetrics | MultiClassMetrics:
    """A user's model on one split of the folder it was trained on (as its split file lists the files), with
    the card's temperature and threshold."""
    from medmodels.imaging.classifier import ImageClassifier  # deferred: it loads weights through the registry

    classifier = ImageClassifier.load(name, directory)
    card = classifier.card
    details = card.data.details if card.data else {}
    folder = Path(str(details.get("images_folder", "")))
    if "images_folder" not in details or not folder.is_dir():
        raise UsageError(
            f"{name} was trained on {details.get('origin', 'scans')}, which is not a folder on this machine; "
            "evaluate rereads the files its split file lists from that folder"
        )
    wanted = "validation" if split == "val" else split
    file_splits = read_split_file(card.file("splits").read_bytes())
    files = [source for source in folder_files(folder) if file_splits.get(source.path) == wanted]
    scans = read_labelled_scans(files, int(card.preprocessing["input_size"]), classes=card.labels)
    if len(scans.labels) == 0:
        raise UsageError(f"none of the files of the {wanted} split of {name} can be read in {folder} any more")
    inputs = to_tensor(scans.images, classifier.preprocessing.mean, classifier.preprocessing.std)
    logits = logits_in_batches(classifier.model, inputs)
    return split_metrics(
        logits, scans.labels, card.temperature, classifier.threshold, classifier.positive_index, card.labels
    )


def class_count_problem(scans: LabelledScans) -> str | None:
    """Why ``scans`` cannot train a model (fewer than 2 or more than ``MAX_CLASSES`` classes), naming the
    first skipped file and its reason; None when the count is right."""
    if 2 <= len(scans.classes) <= MAX_CLASSES:
        return None
    unread = ""
    if scans.skipped:
        path, why = scans.skipped[0]
        unread = f"; {len(scans.skipped)} file(s) skipped, the first {path}: {why}"
    return (
        f"{len(scans.classes)} class folder(s) with readable scans ({', '.join(scans.classes) or 'none'}); "
        f"give 2 to {MAX_CLASSES}{unread}"
    )


def split_summary(scans: LabelledScans, rows: dict[str, np.ndarray]) -> list[dict[str, object]]:
    """One row per split: images of each class, files, and patients, series or files as groups."""
    summary = []
    for split in SPLITS:
        indices = rows[split]
        row: dict[str, object] = {"split": split}
        for label, name in enumerate(scans.classes):
            row[f"images: {name}"] = int((scans.labels[indices] == label).sum())
        row["files"] = len({scans.files[i] for i in indices})
        row["patients, series or files"] = scans.group_counts(indices)
        summary.append(row)
    return summary


def suggested_name(filename: str) -> str:
    """A valid model name from an upload's name: "Chest CT (2024).zip" -> "imaging.chest-ct-2024"."""
    stem = re.sub(r"[^a-z0-9]+", "-", Path(filename).stem.lower()).strip("-")[:40] or "my-scans"
    return f"imaging.{stem}"
