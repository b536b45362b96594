"""Training on your own scans, measured: PneumoniaMNIST's train and validation images exported as a folder
tree of PNGs (normal/, pneumonia/), then ``train imaging.custom --size 28`` on it, against the shipped
``imaging.pneumonia``.

    python benchmarks/custom_training.py [--data DIR] [--epochs N]

The floor: the custom model's ROC AUC within 0.01 of the shipped model's, in under 10 minutes of wall clock
on this machine. Its own test split (a seeded 15 % of the exported images) comes from the same source as its
training images, so it is also scored on the official test split, where the shipped model was. The export and
the model go to a temporary folder (MEDMODELS_HOME too), so nothing of the user's is touched. Prints a
table, then one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from PIL import Image
from sklearn.metrics import roc_auc_score

from medmodels.checkpoints import find_card
from medmodels.cli import main as cli
from medmodels.data import resolve_data_dir
from medmodels.imaging.classifier import ImageClassifier
from medmodels.imaging.datasets import load_medmnist, to_tensor

CLASSES = ("normal", "pneumonia")  # PneumoniaMNIST's labels 0 and 1


def export_tree(data_dir: Path, root: Path) -> int:
    """PneumoniaMNIST train + validation as root/normal/*.png and root/pneumonia/*.png; the number written."""
    written = 0
    for split in ("train", "val"):
        images = load_medmnist(data_dir / "medmnist" / "pneumoniamnist.npz", split)
        for index, (image, label) in enumerate(zip(images.images, images.labels)):
            folder = root / CLASSES[int(label)]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{split}-{index:05d}.png")
            written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--epochs", type=int, default=None, help="override the custom recipe's default")
    args = parser.parse_args()
    data_dir = resolve_data_dir(args.data)
    shipped = find_card("imaging.pneumonia")
    with tempfile.TemporaryDirectory() as temporary:
        root, home = Path(temporary) / "pneumonia-tree", Path(temporary) / "home"
        started = time.perf_counter()
        images = export_tree(data_dir, root)
        exported = time.perf_counter() - started
        os.environ["MEDMODELS_HOME"] = str(home)
        command = ["train", "imaging.custom", "--images", str(root), "--name", "imaging.pneumonia-tree", "--size", "28"]
        if args.epochs:
            command += ["--epochs", str(args.epochs)]
        started = time.perf_counter()
        output = io.StringIO()
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(output):  # the progress bar
            status = cli(command)
        trained = time.perf_counter() - started
        if status != 0:
            raise SystemExit(f"training failed with exit status {status}:\n{output.getvalue()}")
        card = find_card("imaging.pneumonia-tree")
        # Like with like: the custom model on the shipped model's official test split too. Its own test split is
        # a random 15 % of train + validation, drawn from the same source as its training images.
        classifier = ImageClassifier.load("imaging.pneumonia-tree")
        official = load_medmnist(data_dir / "medmnist" / "pneumoniamnist.npz", "test")
        inputs = to_tensor(official.images, classifier.preprocessing.mean, classifier.preprocessing.std)
        probabilities = classifier.calibrated_probabilities(inputs)[:, classifier.positive_index].numpy()
        custom_official_auc = float(roc_auc_score(official.labels == classifier.positive_index, probabilities))
    custom_auc, shipped_auc = card.metrics.test.roc_auc, shipped.metrics.test.roc_auc
    results = {
        "benchmark": "custom_training",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "images_exported": images,
        "export_s": round(exported, 1),
        "train_s": round(trained, 1),
        "epochs": card.training.settings["epochs"],
        "batch_size": card.training.settings["batch_size"],
        "splits": card.data.splits,
        "custom_test_roc_auc": round(custom_auc, 4),
        "custom_official_test_roc_auc": round(custom_official_auc, 4),
        "shipped_test_roc_auc": round(shipped_auc, 4),
        "within_0_01_on_the_official_test": abs(custom_official_auc - shipped_auc) <= 0.01,
        "under_10_min": trained < 600,
    }
    print(f"{'measure':<52} {'value':>12}")
    for key in ("images_exported", "export_s", "train_s", "epochs", "batch_size"):
        print(f"{key:<52} {results[key]:>12}")
    print(f"{'custom model test ROC AUC (its own 15 %)':<52} {custom_auc:>12.4f}")
    print(f"{'custom model ROC AUC on the official test split':<52} {custom_official_auc:>12.4f}")
    print(f"{'shipped imaging.pneumonia test ROC AUC (official test)':<52} {shipped_auc:>12.4f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
