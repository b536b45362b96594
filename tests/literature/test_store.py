"""The findings database: indexing, resuming after an interruption, full-text search and the findings
table, with a stand-in extractor (a word list) so the database is tested apart from the model."""

import pytest

from medmodels.literature.reading import Document, Mention
from medmodels.literature.results import Extraction, Pair
from medmodels.literature.store import FindingsStore, index_documents
from medmodels.literature.text import sentence_spans

WORDS = {
    "lithium": ("Chemical", "D008094"),
    "cisplatin": ("Chemical", "D002945"),
    "nephrotoxicity": ("Disease", "D007674"),
    "tremor": ("Disease", "D014202"),
}


def word_extractor(documents):
    """Mentions of the words above; every chemical-disease pair scores 0.9 if they share a sentence, else 0.2."""
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
                score = 0.9 if sentence[0] <= disease.start < sentence[1] else 0.2
                key = (chemical.mesh, disease.mesh)
                if key not in pairs or pairs[key].score < score:
                    pairs[key] = Pair(chemical.mesh, disease.mesh, score, *sentence)
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
]


@pytest.fixture
def store(tmp_path):
    store = FindingsStore(tmp_path / "findings.sqlite")
    yield store
    store.close()


def test_indexing_stores_documents_entities_and_pairs_and_skips_empty_abstracts(store):
    report = index_documents(store, "test", DOCUMENTS, word_extractor, batch_size=2)
    assert (report.done, report.skipped) == (4, 1) and store.count() == 4
    table = store.findings(threshold=0.5)
    lithium_tremor = table[(table.chemical_mesh == "D008094") & (table.disease_mesh == "D014202")].iloc[0]
    assert lithium_tremor.abstracts == 3 and lithium_tremor.relation  # docs 1 (0.2), 3 (0.9), 5 (0.9)
    assert lithium_tremor.best_score == pytest.approx(0.9) and lithium_tremor.mean_score == pytest.approx(
        (0.2 + 0.9 + 0.9) / 3
    )
    assert (lithium_tremor.first_year, lithium_tremor.last_year) == (1978, 2021)
    assert lithium_tremor.chemical == "Lithium"  # the most frequent spelling names the MeSH id
    evidence = store.evidence("D008094", "D014202")
    assert set(evidence.pmid[:2]) == {"3", "5"} and evidence.pmid.iloc[2] == "1"  # best score first
    assert evidence.iloc[-1].evidence == "Lithium and the kidney."  # doc 1: its best sentence for the pair
    assert (
        "<script>" in store.evidence("D008094", "D014202").set_index("pmid").loc["5", "title"]
    )  # stored as text, unchanged


def test_an_interrupted_index_resumes_without_redoing_or_losing_work(tmp_path):
    calls = []

    def counting(documents):
        calls.extend(d.pmid for d in documents)
        return word_extractor(documents)

    first = FindingsStore(tmp_path / "f.sqlite")
    batches = iter(range(100))
    stopped = index_documents(first, "test", DOCUMENTS, counting, batch_size=2, should_stop=lambda: next(batches) >= 1)
    assert stopped.done == 2 and first.count() == 2
    first.close()
    again = FindingsStore(tmp_path / "f.sqlite")  # a new process after a restart
    resumed = index_documents(again, "test", DOCUMENTS + DOCUMENTS[:1], counting, batch_size=2)
    assert resumed.done == 2 and again.count() == 4
    assert sorted(calls) == ["1", "2", "3", "5"]  # each document extracted once
    again.close()


def test_full_text_search_matches_words_and_ignores_query_syntax(store):
    index_documents(store, "test", DOCUMENTS, word_extractor)
    assert set(store.search("nephrotoxicity").pmid) == {"1", "2"}
    assert list(store.search("cisplatin nephrotoxic").pmid) == ["2"]
    assert set(store.search('lithium" (').pmid) == {
        "1",
        "3",
        "5",
    }  # stray quotes and brackets are not FTS5 syntax errors
    assert store.search("").empty and store.search("(*)").empty
    assert store.search("no-such-word-anywhere").empty


def test_a_stored_document_reads_back_whole(store):
    index_documents(store, "test", DOCUMENTS, word_extractor)
    assert store.document("5") == DOCUMENTS[4]
    with pytest.raises(KeyError, match="no document 99"):
        store.document("99")


def test_relations_only_filter_drops_co_mentions(store):
    index_documents(store, "test", DOCUMENTS, word_extractor)
    everything = store.findings(threshold=0.95)
    assert not everything.empty and not everything.relation.any()
    assert store.findings(threshold=0.95, relations_only=True).empty


def test_findings_filter_by_year_range_name_text_and_minimum_score(store):
    index_documents(store, "test", DOCUMENTS, word_extractor)
    assert store.year_range() == (1978, 2021)
    seventies = store.findings(threshold=0.5, years=(1977, 1979))
    assert set(zip(seventies.chemical_mesh, seventies.disease_mesh)) == {("D008094", "D007674"), ("D008094", "D014202")}
    assert (
        seventies.set_index("disease_mesh").loc["D014202", "abstracts"] == 2
    )  # 1978 and 1979; the 2021 abstract is out of range
    assert set(store.findings(threshold=0.5, text="NEPHRO").disease_mesh) == {"D007674"}
    assert set(store.findings(threshold=0.5, text="d014202").disease_mesh) == {"D014202"}
    assert (
        len(store.findings(threshold=0.5, min_score=0.9)) == 3 and store.findings(threshold=0.5, min_score=0.95).empty
    )
    assert store.findings(threshold=0.5, years=(1990, 2000)).empty
