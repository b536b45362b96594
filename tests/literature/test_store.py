"""The findings database: indexing, resuming after an interruption, full-text search, the findings table
ranked by relation type, display names, and reindexing when the model changes; with a stand-in extractor
(a word list) so the database is tested apart from the model."""

import sqlite3

import pandas as pd
import pytest

from medmodels.literature.reading import Document, Mention
from medmodels.literature.results import Extraction, Pair, display_names
from medmodels.literature.store import DISPUTED, FindingsStore, ModelStamp, StaleStoreError, index_documents
from medmodels.literature.text import sentence_spans

WORDS = {
    "lithium": ("Chemical", "D008094"),
    "cisplatin": ("Chemical", "D002945"),
    "captopril": ("Chemical", "D002216"),
    "nephrotoxicity": ("Disease", "D007674"),
    "tremor": ("Disease", "D014202"),
    "hypertension": ("Disease", "D006973"),
}
MODEL = ModelStamp("literature.cdr", 2, "a" * 64)
INDUCED = (("co-mention", 0.05), ("induces", 0.9), ("treats", 0.05))
TREATED = (("co-mention", 0.1), ("induces", 0.1), ("treats", 0.8))
MENTIONED = (("co-mention", 0.7), ("induces", 0.2), ("treats", 0.1))


def word_extractor(documents):
    """Mentions of the words above. A pair in one sentence is induced (0.9), or treated when the chemical is
    captopril (0.8); a pair no sentence holds together is a co-mention (induces 0.2)."""
    extractions = []
    for document in documents:
        text = document.text
        lowered = text.lower()
        mentions = []
        for word, (kind, mesh) in WORDS.items():
            start = lowered.find(word)
            while start >= 0:
                mentions.append(Mention(start, start + len(word), text[start : start + len(word)], kind, mesh))
                start = lowered.find(word, start + 1)
        pairs = {}
        for chemical in (m for m in mentions if m.type == "Chemical"):
            for disease in (m for m in mentions if m.type == "Disease"):
                sentence = next(s for s in sentence_spans(text) if s[0] <= chemical.start < s[1])
                together = sentence[0] <= disease.start < sentence[1]
                relation, probabilities = (
                    ("co-mention", MENTIONED)
                    if not together
                    else ("treats", TREATED)
                    if chemical.mesh == "D002216"
                    else ("induces", INDUCED)
                )
                key = (chemical.mesh, disease.mesh)
                if key not in pairs or pairs[key].relation == "co-mention" != relation:  # a stating sentence wins
                    pairs[key] = Pair(chemical.mesh, disease.mesh, relation, probabilities, *sentence)
        extractions.append(Extraction(document.pmid, tuple(mentions), tuple(pairs.values())))
    return extractions


DOCUMENTS = [
    Document(
        "1", "Lithium and the kidney.", "Lithium caused nephrotoxicity in two patients. Tremor was also seen.", 1978
    ),
    Document(
        "2", "Cisplatin nephrotoxicity.", "Cisplatin is nephrotoxic. We saw nephrotoxicity after cisplatin.", 2021
    ),
    Document("3", "Lithium tremor.", "Tremor appeared with lithium.", 1979),
    Document("4", "Title only.", "", 1979),
    Document("5", "<script>alert(1)</script>", "Lithium and tremor in a <b>case</b>.", 2021),
    Document("6", "Captopril in hypertension.", "Captopril lowered pressure in hypertension.", 1979),
]


@pytest.fixture
def store(tmp_path):
    store = FindingsStore(tmp_path / "findings.sqlite")
    yield store
    store.close()


def _pairs(table):
    return list(zip(table.chemical_mesh, table.disease_mesh))


def test_indexing_stores_each_pairs_relation_and_counts_abstracts_per_relation_type(store):
    report = index_documents(store, "test", DOCUMENTS, word_extractor, MODEL, batch_size=2)
    assert (report.done, report.skipped) == (5, 1) and store.count() == 5
    table = store.findings()  # induces by default
    lithium_tremor = table.set_index(["chemical_mesh", "disease_mesh"]).loc[("D008094", "D014202")]
    # docs 3 and 5 state it (0.9); doc 1 mentions both in different sentences
    assert (lithium_tremor.supporting, lithium_tremor.induces, lithium_tremor.co_mentions) == (2, 2, 1)
    assert lithium_tremor.relation == "induces" and lithium_tremor.best_probability == pytest.approx(0.9)
    assert (lithium_tremor.first_year, lithium_tremor.last_year) == (1978, 2021)
    assert ("D002216", "D006973") not in _pairs(table)  # a treatment is not listed as induced
    evidence = store.evidence("D008094", "D014202", "induces")
    assert list(evidence.relation) == ["induces", "induces", "co-mention"] and evidence.pmid.iloc[2] == "1"
    assert list(evidence.columns[4:8]) == ["relation", "induces", "treats", "co-mention"]
    assert evidence.iloc[-1].evidence == "Lithium and the kidney."  # doc 1: its best sentence for the pair
    assert "<script>" in evidence.set_index("pmid").loc["5", "title"]  # stored as text, unchanged


def test_the_relation_filter_keeps_pairs_stated_that_way_and_ranks_them_by_abstracts_not_co_mentions(store):
    index_documents(store, "test", DOCUMENTS, word_extractor, MODEL)
    assert _pairs(store.findings("treats")) == [("D002216", "D006973")]
    induced = store.findings("induces")
    # lithium-tremor: 2 stating abstracts and a co-mention; cisplatin-nephrotoxicity: 1; lithium-nephrotoxicity: 1
    assert _pairs(induced)[0] == ("D008094", "D014202") and list(induced.supporting) == [2, 1, 1]
    assert set(_pairs(store.findings("co-mention"))) == {("D008094", "D014202")}
    everything = store.findings(None)
    assert len(everything) == 4 and set(everything.relation) == {"induces", "treats"}


def test_a_pair_is_listed_under_the_relation_more_abstracts_read_and_a_tie_under_neither(store):
    def mixed_readings(documents):
        # "worsened" turns a treatment into an induced reading, "relieved" an induced one into a treatment.
        extractions = word_extractor(documents)
        for document, extraction in zip(documents, extractions):
            flips = {"worsened": ("treats", "induces", INDUCED), "relieved": ("induces", "treats", TREATED)}
            for word, (before, after, probabilities) in flips.items():
                if word in document.text:
                    pairs = tuple(
                        Pair(p.chemical, p.disease, after, probabilities, p.evidence_start, p.evidence_end)
                        if p.relation == before
                        else p
                        for p in extraction.pairs
                    )
                    extraction = Extraction(extraction.pmid, extraction.entities, pairs)
            extractions[documents.index(document)] = extraction
        return extractions

    extra = [
        Document("7", "Captopril again.", "Captopril in hypertension, once more.", 1980),
        Document("8", "A warning.", "Captopril worsened hypertension in one patient.", 1980),
        Document("9", "A rescue.", "Cisplatin relieved nephrotoxicity, oddly.", 1980),
    ]
    index_documents(store, "test", DOCUMENTS + extra, mixed_readings, MODEL)
    # captopril-hypertension: two abstracts read treats, one induces; it is a treatment, not a cause.
    treated = store.findings("treats").set_index(["chemical_mesh", "disease_mesh"]).loc[("D002216", "D006973")]
    assert (treated.supporting, treated.treats, treated.induces) == (2, 2, 1)
    induced = _pairs(store.findings("induces"))
    assert ("D002216", "D006973") not in induced
    # cisplatin-nephrotoxicity: one abstract each way; listed under neither, and as disputed among every pair.
    assert ("D002945", "D007674") not in induced + _pairs(store.findings("treats"))
    everything = store.findings(None).set_index(["chemical_mesh", "disease_mesh"])
    assert everything.loc[("D002945", "D007674"), "relation"] == DISPUTED


def test_an_interrupted_index_resumes_without_redoing_or_losing_work(tmp_path):
    calls = []

    def counting(documents):
        calls.extend(d.pmid for d in documents)
        return word_extractor(documents)

    first = FindingsStore(tmp_path / "f.sqlite")
    batches = iter(range(100))
    stopped = index_documents(
        first, "test", DOCUMENTS, counting, MODEL, batch_size=2, should_stop=lambda: next(batches) >= 1
    )
    assert stopped.done == 2 and first.count() == 2
    first.close()
    again = FindingsStore(tmp_path / "f.sqlite")  # a new process after a restart
    resumed = index_documents(again, "test", DOCUMENTS + DOCUMENTS[:1], counting, MODEL, batch_size=2)
    assert resumed.done == 3 and again.count() == 5
    assert sorted(calls) == ["1", "2", "3", "5", "6"]  # each document extracted once
    again.close()


def test_full_text_search_matches_words_and_ignores_query_syntax(store):
    index_documents(store, "test", DOCUMENTS, word_extractor, MODEL)
    assert set(store.search("nephrotoxicity").pmid) == {"1", "2"}
    assert list(store.search("cisplatin nephrotoxic").pmid) == ["2"]
    assert set(store.search('lithium" (').pmid) == {"1", "3", "5"}  # stray quotes and brackets are not syntax
    assert store.search("").empty and store.search("(*)").empty
    assert store.search("no-such-word-anywhere").empty


def test_a_stored_document_reads_back_whole(store):
    index_documents(store, "test", DOCUMENTS, word_extractor, MODEL)
    assert store.document("5") == DOCUMENTS[4]
    with pytest.raises(KeyError, match="no document 99"):
        store.document("99")


def test_findings_filter_by_year_range_and_by_any_name_of_either_concept(store):
    index_documents(store, "test", DOCUMENTS, word_extractor, MODEL)
    assert store.year_range() == (1978, 2021)
    seventies = store.findings("induces", years=(1977, 1979))
    assert set(_pairs(seventies)) == {("D008094", "D007674"), ("D008094", "D014202")}
    assert seventies.set_index("disease_mesh").loc["D014202", "supporting"] == 1  # 1979; 2021 is out of range
    headings = {"D007674": "kidney diseases"}
    named = store.findings("induces", headings=headings)
    assert set(named.loc[named.disease_mesh == "D007674", "disease"]) == {"kidney diseases"}
    # "nephrotox" is no part of the name shown, but is how the abstracts spell the concept
    assert set(store.findings("induces", text="NEPHROTOX", headings=headings).disease_mesh) == {"D007674"}
    assert set(store.findings("induces", text="d014202").disease_mesh) == {"D014202"}
    assert store.findings("induces", years=(1990, 2000)).empty


def test_a_concept_is_named_by_its_heading_or_a_full_form_never_an_abbreviation_defined_for_something_else():
    spellings = pd.DataFrame(
        [("D007674", "TG", 40), ("D007674", "nephrotoxicity", 5), ("D007674", "Kidney Diseases", 2),
         ("D002945", "CDDP", 9), ("D002945", "cisplatin", 4), ("D000001", "XYZ", 3)],
        columns=["mesh", "text", "n"],
    )  # fmt: skip
    headings = {"D007674": "kidney diseases", "D002945": "cisplatin"}
    names = display_names(spellings, headings)
    assert names == {"D007674": "Kidney Diseases", "D002945": "cisplatin", "D000001": "XYZ"}
    without_headings = display_names(spellings, {})
    assert without_headings["D007674"] == "nephrotoxicity" and without_headings["D002945"] == "cisplatin"
    assert display_names(spellings[spellings.text != "Kidney Diseases"], headings)["D007674"] == "kidney diseases"
    anaemia = pd.DataFrame([("D000743", "HA", 3)], columns=["mesh", "text", "n"])
    assert display_names(anaemia, {"D000743": "anemia,hemolytic"}) == {"D000743": "anemia, hemolytic"}


def test_a_database_written_by_another_model_version_refuses_additions_and_says_why(store):
    index_documents(store, "test", DOCUMENTS[:2], word_extractor, MODEL)
    assert store.stamp() == MODEL and store.staleness(MODEL) is None
    newer = ModelStamp("literature.cdr", 3, "b" * 64)
    assert store.staleness(newer) == (
        "this database was written by literature.cdr version 2; the installed model is literature.cdr version 3"
    )
    with pytest.raises(StaleStoreError, match="reindex"):
        index_documents(store, "test", DOCUMENTS[2:], word_extractor, newer)
    assert store.count() == 2  # nothing was mixed in
    retrained = ModelStamp("literature.cdr", 2, "c" * 64)
    assert "other weights" in store.staleness(retrained)


def test_a_reindex_reads_every_stored_abstract_again_resumes_and_swaps_the_findings_in_at_the_end(store):
    index_documents(store, "MEDLINE", DOCUMENTS[:3], word_extractor, MODEL)
    index_documents(store, "your abstracts", DOCUMENTS[4:], word_extractor, MODEL)
    newer = ModelStamp("literature.cdr", 3, "b" * 64)

    def reads_all_as_co_mentions(documents):
        return [
            Extraction(e.pmid, e.entities, tuple(Pair(p.chemical, p.disease, "co-mention", MENTIONED, p.evidence_start, p.evidence_end) for p in e.pairs))
            for e in word_extractor(documents)
        ]  # fmt: skip

    batches = iter(range(100))
    stopped = store.reindex(reads_all_as_co_mentions, newer, batch_size=2, should_stop=lambda: next(batches) >= 1)
    assert stopped.done == 2 and store.stamp() == MODEL and not store.findings().empty  # old findings still shown
    resumed = store.reindex(reads_all_as_co_mentions, newer, batch_size=2)
    assert (resumed.done, resumed.skipped, resumed.total) == (3, 2, 5)
    assert store.stamp() == newer and store.staleness(newer) is None
    assert store.findings().empty and len(store.findings("co-mention")) == 4  # every pair, now a co-mention
    assert store.sources() == ["MEDLINE", "your abstracts"] and store.count() == 5  # documents kept
    assert [m.text for m in store.entities("3")] == ["Lithium", "tremor", "Tremor", "lithium"]


def test_a_database_from_before_relation_types_is_offered_for_reindexing_and_reindexes(tmp_path):
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE documents (pmid TEXT PRIMARY KEY, source TEXT NOT NULL, title TEXT NOT NULL, abstract TEXT NOT NULL, year INTEGER);
        CREATE VIRTUAL TABLE documents_fts USING fts5(title, abstract, content='documents', content_rowid='rowid');
        CREATE TABLE entities (pmid TEXT, start INTEGER, end INTEGER, text TEXT, type TEXT, mesh TEXT);
        CREATE TABLE pairs (pmid TEXT, chemical TEXT, disease TEXT, score REAL, evidence_start INTEGER, evidence_end INTEGER);
        INSERT INTO documents VALUES ('3', 'MEDLINE', 'Lithium tremor.', 'Tremor appeared with lithium.', 1979);
        INSERT INTO pairs VALUES ('3', 'D008094', 'D014202', 0.9, 0, 15);
    """)  # the layout version 1 of the model wrote
    old.commit()
    old.close()
    store = FindingsStore(path)
    assert store.outdated_schema and "before relation types" in store.staleness(MODEL)
    with pytest.raises(StaleStoreError):
        index_documents(store, "test", DOCUMENTS[:1], word_extractor, MODEL)
    store.reindex(word_extractor, MODEL)
    assert not store.outdated_schema and store.staleness(MODEL) is None
    assert _pairs(store.findings()) == [("D008094", "D014202")]
    store.close()
    assert FindingsStore(path).stamp() == MODEL  # and so it stays when opened again


def test_findings_of_a_model_that_reads_no_treatments_have_no_treats_column(store):
    def induces_or_not(documents):
        return [
            Extraction(e.pmid, e.entities, tuple(Pair(p.chemical, p.disease, p.relation if p.relation == "induces" else "co-mention", tuple((c, v) for c, v in p.probabilities if c != "treats"), p.evidence_start, p.evidence_end) for p in e.pairs))
            for e in word_extractor(documents)
        ]  # fmt: skip

    index_documents(store, "test", DOCUMENTS, induces_or_not, MODEL)
    assert "treats" not in store.findings(None).columns and "co_mentions" in store.findings(None).columns
    assert "treats" not in store.evidence("D008094", "D014202").columns
