"""Command line: ``python -m medmodels list | train | evaluate | predict``, plus commands domains register.

Exit status: 0 success; 1 when an input or a model could not be processed (each unreadable input gets
its own line with an ``error``, and the others are still processed); 2 for a usage error (unknown model,
missing data folder, bad option). Errors are one line, never a traceback: only the project's own errors
(``medmodels.errors``) are caught, so anything else is a bug and surfaces as one.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medmodels.cards import ModelCard, plan_version, read_card
from medmodels.checkpoints import card_path, checkpoint_paths, find_card
from medmodels.data import resolve_data_dir
from medmodels.errors import MedmodelsError, UsageError
from medmodels.recipe import InputOption, Recipe, predict_all
from medmodels.registry import built_in_models, get_model_info, list_models
from medmodels.schema import to_json


@dataclass(frozen=True)
class Command:
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# Commands a domain adds beside the model verbs (the literature domain's ``index``).
_COMMANDS: dict[str, Command] = {}


def register_command(
    name: str, help: str, configure: Callable[[argparse.ArgumentParser], None], run: Callable[[argparse.Namespace], int]
) -> None:
    """Add ``python -m medmodels NAME``: ``configure`` adds its arguments, ``run(args)`` returns the exit status."""
    if name in _COMMANDS or name in ("list", "train", "evaluate", "predict"):
        raise ValueError(f"command {name!r} is registered twice")
    _COMMANDS[name] = Command(help, configure, run)


def _print_json(value: Any) -> None:
    print(json.dumps(to_json(value)), flush=True)  # NaN as null, so every line parses with a strict reader


def _format(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _recipe(name: str) -> Recipe:
    return get_model_info(name).recipe


def _installed(name: str, directory: Path | None) -> ModelCard | None:
    """The verified card of ``name``, or None when no folder holds one (a damaged one raises)."""
    return find_card(name, directory) if card_path(name, directory) else None


def command_list(args: argparse.Namespace) -> int:
    cards = {name: _installed(name, args.weights) for name in list_models()}
    rows = []
    for name, card in cards.items():
        info = get_model_info(name)
        rows.append(
            {
                "name": name,
                "task": info.task,
                "labels": list(info.labels),
                "installed": card is not None,
                "version": card.version if card else None,
                "test_scorings": card.test_looks if card else 0,
                "test_metrics": card.metrics.test.figures() if card and card.metrics else {},
                "created": card.created if card else None,
            }
        )
    if args.json:
        _print_json(rows)
        return 0
    print(
        f"{'model':<22} {'installed':<9} {'version':>7} {'test scorings':>13}  test figures (or task, when not installed)"
    )
    for row, card in zip(rows, cards.values()):
        shown = row["task"]
        if card is not None and card.metrics is not None:
            shown = ", ".join(f"{label} {_format(value)}" for label, value in card.metrics.test.headline().items())
        version = row["version"] if row["version"] is not None else "-"
        print(f"{row['name']:<22} {'yes' if card else 'no':<9} {version:>7} {row['test_scorings']:>13}  {shown}")
    return 0


def _previous_card(name: str, out_dir: Path) -> ModelCard | None:
    """The card a new version of ``name`` follows: the one in ``out_dir``, else the installed one."""
    path = card_path(name, out_dir) or card_path(name)
    return read_card(path, verify=False) if path else None


def _train_options() -> dict[str, tuple[InputOption, list[str]]]:
    """Every further ``train`` option the registered recipes declare, with the models that read it (a user's
    model shares its builder's recipe, so only built-in names are listed)."""
    options: dict[str, tuple[InputOption, list[str]]] = {}
    for name in built_in_models():
        for option in _recipe(name).train_options:
            options.setdefault(option.flag, (option, []))[1].append(name)
    return options


def command_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    recipe = _recipe(args.model)
    own = {option.flag for option in recipe.train_options}
    options = {}
    for flag, (option, models) in _train_options().items():
        value = getattr(args, option.dest)
        if value is not None:
            if flag not in own:
                raise UsageError(f"{flag} is an option of train {' and '.join(models)}, not of {args.model}")
            options[option.dest] = value
    data_dir = resolve_data_dir(args.data) if recipe.needs_data_folder else None
    if args.epochs is not None and args.epochs < 1:
        raise UsageError("--epochs must be at least 1")
    name = recipe.trained_name(args.model, options)
    out_dir = args.out if args.out is not None else recipe.default_out_dir()
    plan = plan_version(name, _previous_card(name, out_dir), args.reason)  # before hours of training
    bars: list[Any] = []  # the bar starts with the first update, so an input refused before training prints one line

    def progress(update: Any) -> None:
        if not bars:
            bars.append(
                tqdm(total=1.0, unit="run", bar_format="{desc} |{bar}| {percentage:3.0f}% {elapsed}<{remaining}")
            )
        bars[0].n = round(update.fraction, 4)
        bars[0].set_description(update.message)
        bars[0].refresh()

    try:
        card = recipe.train(
            name, data_dir, epochs=args.epochs, out_dir=out_dir, plan=plan, progress=progress, options=options
        )
    finally:
        for bar in bars:
            bar.close()
    skipped = card.data.skipped if card.data is not None else {}
    if skipped:
        print(f"skipped {len(skipped)} input(s) that could not be used:")
        for what, why in list(skipped.items())[:20]:
            print(f"  {what}: {why}")
        if len(skipped) > 20:
            print(f"  ... and {len(skipped) - 20} more (all listed in the card's data.skipped)")
    if card.training is not None:
        training = card.training
        print(f"selected epochs {training.best_epochs} of {training.epochs_run}, {training.seconds:.0f} s")
    if card.metrics is not None:
        print(
            "test: " + ", ".join(f"{label} {_format(value)}" for label, value in card.metrics.test.headline().items())
        )
    print(f"version {card.version}; the test split of {card.name} has now been scored {card.test_looks} time(s)")
    print(
        "wrote "
        + ", ".join(str(out_dir / entry.path) for entry in card.files)
        + f", {checkpoint_paths(card.name, out_dir)[1]}"
    )
    return 0


def command_evaluate(args: argparse.Namespace) -> int:
    recipe = _recipe(args.model)
    data_dir = resolve_data_dir(args.data) if recipe.needs_data_folder else None
    section = recipe.evaluate(args.model, data_dir, args.split, args.weights)
    if args.json:
        _print_json({"model": args.model, "split": args.split, **section.to_dict()})
        return 0
    print(f"{args.model} on the {args.split} split ({section.title}, n = {section.n})")
    for row in section.rows():
        print(f"  {row.label:<48} {_format(row.value)}")
    for title, records in section.tables():
        print(f"  {title}")
        columns = list(records[0]) if records else []
        for record in records:
            print(
                "    "
                + "  ".join(
                    f"{column} {_format(record[column])}" if column else str(record[column]) for column in columns
                )
            )
    return 0


def _input_options() -> dict[str, tuple[InputOption, list[str]]]:
    """Every predict option the registered recipes declare, with the domains that read it."""
    options: dict[str, tuple[InputOption, list[str]]] = {}
    for name in list_models():
        recipe = _recipe(name)
        for option in recipe.inputs.options:
            _, domains = options.setdefault(option.flag, (option, []))
            if recipe.domain not in domains:
                domains.append(recipe.domain)
    return options


def command_predict(args: argparse.Namespace) -> int:
    recipe = _recipe(args.model)
    spec = recipe.inputs
    own = {option.flag for option in spec.options}
    given = {}
    for flag, (option, domains) in _input_options().items():
        value = getattr(args, option.dest)
        if value:
            if flag not in own:
                raise UsageError(f"{flag} is for {' and '.join(domains)} models; {args.model} takes {spec.describe()}")
            given[option.dest] = value
    if args.inputs and spec.positional is None:
        raise UsageError(f"{args.model} takes no positional inputs: give {spec.describe()}")
    if not args.inputs and not given:
        raise UsageError(f"give at least one input: {spec.describe()}")
    predictor = recipe.load_predictor(args.model, args.weights)
    failed = False
    for record in predict_all(predictor, recipe.read_inputs(list(args.inputs), given), recipe.predict_batch_size):
        if args.json:
            _print_json(record)
        elif "error" in record:
            name = next(value for key, value in record.items() if key != "error")
            print(f"{name}: error: {record['error']}", flush=True)
        else:
            print(recipe.describe(record), flush=True)
        failed |= "error" in record
    return 1 if failed else 0


def command_batch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from medmodels.batch import run_batch  # pyarrow is loaded only for batch runs

    if args.shard_size < 1 or (args.batch_size is not None and args.batch_size < 1) or (args.workers or 1) < 1:
        raise UsageError("--shard-size, --batch-size and --workers must be positive")
    if args.engine == "local" and (args.address or args.workers):
        raise UsageError("--address and --workers are for --engine ray")
    _recipe(args.model)  # an unknown model is a usage error before any reading
    with tqdm(desc=f"{args.model}", unit=" inputs", dynamic_ncols=True, file=sys.stderr) as bar:
        try:
            manifest = run_batch(
                args.model,
                list(args.inputs),
                args.out,
                shard_size=args.shard_size,
                batch_size=args.batch_size,
                weights=args.weights,
                progress=lambda done, added, total: _advance(bar, done, added, total),
                engine=args.engine,
                address=args.address,
                workers=args.workers,
            )
        except KeyboardInterrupt:
            bar.close()
            print(
                f"interrupted: finished shards are kept in {args.out}; rerun the same command to resume",
                file=sys.stderr,
            )
            return 130
    records = sum(shard.records for shard in manifest.shards)
    errors = sum(shard.errors for shard in manifest.shards)
    print(f"{records:,} records in {len(manifest.shards)} shard(s), {errors:,} error row(s): {args.out}")
    return 0


def add_engine_options(parser: argparse.ArgumentParser, ray_does: str) -> None:
    """``--engine local|ray``, ``--address`` and ``--workers``, for ``batch`` and a domain's bulk commands."""
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help=f"local: this process (default); ray: {ray_does} (needs requirements-scale.txt)",
    )
    parser.add_argument(
        "--address", default=None, help="Ray: join the cluster at ADDR (default: start a local one on 127.0.0.1)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="Ray: model replicas of one CPU each (default: the cluster's CPUs - 1)",
    )


def _advance(bar: Any, done: int, added: int, total: int | None) -> None:
    """The bar counts this run's inputs; with the recipe's count of all inputs it shows an ETA too."""
    if total is not None:
        bar.total = total - (done - bar.n - added)  # less what an earlier, interrupted run finished
    bar.update(added)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    list_models()  # loads every domain, which registers its models, recipes and commands
    parser = _Parser(
        prog="python -m medmodels", description="medmodels: research models for medical data. Not a medical device."
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    weights = {
        "type": Path,
        "default": None,
        "help": "folder of weights and cards (default: the shipped models, then $MEDMODELS_HOME/models)",
    }
    data = {"default": None, "help": "data folder (default: $MEDMODELS_DATA)"}

    listing = commands.add_parser("list", help="registered models, installed ones with their version and test figures")
    listing.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    listing.add_argument("--weights", **weights)
    listing.set_defaults(run=command_list)

    training = commands.add_parser("train", help="train a model and write its weights and card")
    training.add_argument("model")
    training.add_argument("--data", **data)
    training.add_argument("--epochs", type=int, default=None, help="override the recipe's number of epochs")
    training.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write NAME.safetensors and NAME.json (default: the shipped models; "
        "for a model you name, $MEDMODELS_HOME/models)",
    )
    for option, models in _train_options().values():
        training.add_argument(
            option.flag, default=None, metavar=option.metavar, help=f"{' and '.join(models)}: {option.help}"
        )
    training.add_argument(
        "--reason",
        default=None,
        help="one line: why this new version exists, decided on validation alone (needed once a model's test split has been scored)",
    )
    training.set_defaults(run=command_train)

    evaluating = commands.add_parser("evaluate", help="metrics of an installed model on a data split")
    evaluating.add_argument("model")
    evaluating.add_argument("--data", **data)
    evaluating.add_argument("--split", choices=("train", "val", "test"), default="test")
    evaluating.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    evaluating.add_argument("--weights", **weights)
    evaluating.set_defaults(run=command_evaluate)

    predicting = commands.add_parser("predict", help="predict for inputs; one line per input")
    predicting.add_argument("model")
    predicting.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="what the model reads: image files, or sequences for sequence models"
    )
    for option, domains in _input_options().values():
        help_text = f"{' and '.join(domains)}: {option.help}"
        if option.repeatable:
            predicting.add_argument(option.flag, action="append", default=[], metavar=option.metavar, help=help_text)
        else:
            predicting.add_argument(option.flag, default=None, metavar=option.metavar, help=help_text)
    predicting.add_argument("--json", action="store_true", help="JSON Lines: one object per input")
    predicting.add_argument("--weights", **weights)
    predicting.set_defaults(run=command_predict)

    batching = commands.add_parser(
        "batch", help="predict for many inputs into Parquet shards with a manifest; a rerun resumes"
    )
    batching.add_argument("model")
    batching.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="files the model reads: FASTA or CSV for sequence models, scans"
    )
    batching.add_argument("--out", type=Path, required=True, help="folder for the shards and manifest.json")
    add_engine_options(batching, "predict on a Ray cluster")
    batching.add_argument("--batch-size", type=int, default=None, help="inputs per prediction call")
    batching.add_argument("--shard-size", type=int, default=10_000, help="inputs per Parquet shard (default 10,000)")
    batching.add_argument("--weights", **weights)
    batching.set_defaults(run=command_batch)

    for name, command in _COMMANDS.items():
        extra = commands.add_parser(name, help=command.help)
        command.configure(extra)
        extra.add_argument("--weights", **weights)
        extra.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except UsageError as error:  # unknown model, missing data folder, bad option
        print(f"error: {error}", file=sys.stderr)
        return 2
    except MedmodelsError as error:  # a damaged checkpoint, a data file of the wrong kind
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
