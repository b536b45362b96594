"""Findings-table rules on a sample set aside for them: which pairs the Literature page's ``induces`` view
should list, judged against MEDLINE's human MeSH indexing.

    python benchmarks/findings_rules.py [--database PATH] [--data DIR]

The database is a findings database of the default corpus (``python -m medmodels index``; default: the one
in ``$MEDMODELS_HOME``). The sample: its abstracts from the MeSH-indexed 1977-79 file whose PMID hash puts
them in the train or validation share (``medmodels.literature.distant.split_of``), BC5CDR's PMIDs left out
(they need the data folder). A pair's human label is the relation more of those abstracts' indexing gives it
(``Indexing.label``: induces or treats); the model's readings are counted over the same abstracts. For each
rule: how many pairs indexed as treated and as induced the view lists, the share of induced among the
labelled pairs it lists, and the indexed-as-treated pairs among its top 50. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from medmodels.data import resolve_data_dir
from medmodels.literature.distant import INDEXING_FILE, read_indexing, split_of
from medmodels.literature.reading import default_corpus_files
from medmodels.literature.recipes import SPLIT_FILES, load_split
from medmodels.literature.results import INDUCES, TREATS
from medmodels.literature.store import default_store_path

TOP = 50


def labelled_pairs(database: Path, data_dir: Path) -> pd.DataFrame:
    """Per chemical-disease pair of the sample: the model's induces and treats readings, the best P(induces),
    and how many abstracts' indexing labels the pair induced and treated."""
    bc5cdr = {document.pmid for split in SPLIT_FILES for document in load_split(data_dir, split)}
    indexing = read_indexing([next(path for path in default_corpus_files() if path.name == INDEXING_FILE)])
    with sqlite3.connect(database) as connection:
        rows = pd.read_sql_query("SELECT pmid, chemical, disease, relation, induces FROM pairs", connection)
    rows = rows[rows.pmid.isin(indexing.keys()) & ~rows.pmid.isin(bc5cdr)]
    rows = rows[rows.pmid.map(split_of).isin(["train", "val"])].copy()
    rows["human"] = [indexing[p].label(c, d) for p, c, d in zip(rows.pmid, rows.chemical, rows.disease)]
    print(f"sample: {rows.pmid.nunique():,} abstracts, {len(rows):,} pairs read, {rows.human.notna().sum():,} labelled")
    pairs = (
        rows.assign(
            read_induces=rows.relation == INDUCES,
            read_treats=rows.relation == TREATS,
            human_induces=rows.human == INDUCES,
            human_treats=rows.human == TREATS,
        )
        .groupby(["chemical", "disease"])
        .agg(
            induces=("read_induces", "sum"),
            treats=("read_treats", "sum"),
            best=("induces", "max"),
            human_induces=("human_induces", "sum"),
            human_treats=("human_treats", "sum"),
        )
        .reset_index()
    )
    pairs["human"] = np.select(
        [pairs.human_induces > pairs.human_treats, pairs.human_treats > pairs.human_induces], [INDUCES, TREATS], "-"
    )
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", type=Path, default=None, help="a findings database of the default corpus")
    parser.add_argument("--data", default=None, help="the data folder (BC5CDR's PMIDs are left out)")
    args = parser.parse_args()
    database = args.database or default_store_path()
    pairs = labelled_pairs(database, resolve_data_dir(args.data))
    pairs["net"] = pairs.induces - pairs.treats
    rules = {
        "one induces reading": (pairs.induces > 0, ["induces", "best"]),
        "induces readings >= treats readings": (
            (pairs.induces > 0) & (pairs.induces >= pairs.treats),
            ["induces", "best"],
        ),
        "induces readings > treats readings": (pairs.induces > pairs.treats, ["induces", "best"]),
        "ranked by induces minus treats readings": (pairs.net > 0, ["net", "best"]),
    }
    treated, induced = int((pairs.human == TREATS).sum()), int((pairs.human == INDUCES).sum())
    results = {
        "benchmark": "findings_rules",
        "database": str(database),
        "indexed_treated": treated,
        "indexed_induced": induced,
    }
    print(f"{'rule':<42} {'treated listed':>15} {'induced listed':>15} {'precision':>10} {'treated in top 50':>18}")
    for name, (keep, order) in rules.items():
        listed = pairs[keep].sort_values(order, ascending=False, kind="stable")
        labelled = listed[listed.human != "-"]
        row = {
            "treated_listed": int((labelled.human == TREATS).sum()),
            "induced_listed": int((labelled.human == INDUCES).sum()),
            "precision": round(float(np.mean(labelled.human == INDUCES)), 3),
            "treated_in_top": int((listed.head(TOP).human == TREATS).sum()),
        }
        results[name] = row
        print(
            f"{name:<42} {row['treated_listed']:>9} of {treated:<3} {row['induced_listed']:>9} of {induced:<3} "
            f"{row['precision']:>10.3f} {row['treated_in_top']:>18}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
