"""The literature page as a user meets it: browsing the findings database, and reading one's own abstracts."""

import html
import re
import time

import plotly.io
import pytest
from streamlit.testing.v1 import AppTest

from medmodels.literature.pipeline import LiteratureModel
from medmodels.literature.reading import Document, pasted_pmid
from medmodels.literature.store import FindingsStore, ModelStamp, default_store_path, index_documents
from tests.conftest import REPO_ROOT

ABSTRACTS = [
    Document(
        "1001",
        "Cisplatin nephrotoxicity in children.",
        "Nephrotoxicity developed in 12 of 40 children treated with cisplatin for solid tumours. Renal function recovered in most.",
        1978,
    ),
    Document(
        "1002",
        "Lithium-induced tremor.",
        "Tremor is common in patients on lithium. We describe three patients whose tremor worsened after lithium was increased.",
        1979,
    ),
    Document(
        "1003",
        "Haloperidol and seizures.",
        "Seizures were observed in two patients given haloperidol. Neither had epilepsy before haloperidol.",
        2021,
    ),
    Document(
        "1004",
        "Doxorubicin cardiotoxicity.",
        "Cardiomyopathy followed doxorubicin therapy in a 60-year-old woman with breast cancer.",
        2021,
    ),
]
PASTED = "Captopril-induced <b>angioedema</b>.\nA 54-year-old man developed angioedema two days after starting captopril for hypertension."


@pytest.fixture(scope="module")
def model() -> LiteratureModel:
    return LiteratureModel.load()


@pytest.fixture
def database(tmp_path, monkeypatch, model):
    monkeypatch.setenv("MEDMODELS_HOME", str(tmp_path))
    store = FindingsStore(default_store_path())
    index_documents(store, "test", ABSTRACTS, model.extract, model.stamp)
    store.close()
    return tmp_path


def _open() -> AppTest:
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    app.run()
    app.switch_page("pages/literature.py")
    return app.run()


def _charts(app: AppTest) -> list:
    return [plotly.io.from_json(chart.proto.spec) for chart in app.get("plotly_chart")]


def test_an_empty_database_offers_to_index_the_default_corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDMODELS_HOME", str(tmp_path))
    app = _open()
    assert not app.exception
    assert any(b.label == "Index the default corpus" for b in app.button)
    assert any("database is empty" in i.value for i in app.info)


def test_the_findings_browser_filters_and_opens_a_finding_with_highlighted_evidence_and_attention(database):
    app = _open()
    assert not app.exception
    relation = next(s for s in app.selectbox if s.label == "Relation")
    assert relation.value == "induces"  # the default: what the literature says causes what
    induced = app.dataframe[0].value
    assert (induced.relation == "induces").all() and (induced.supporting > 0).all()
    relation.set_value("all").run()
    everything = app.dataframe[0].value  # co-mentions too
    assert not everything.empty and {
        "chemical", "disease", "relation", "supporting", "induces", "co_mentions", "chemical_mesh", "disease_mesh",
    } <= set(everything.columns)  # fmt: skip
    assert set(zip(induced.chemical_mesh, induced.disease_mesh)) <= set(
        zip(everything.chemical_mesh, everything.disease_mesh)
    )
    next(s for s in app.selectbox if s.label == "Relation").set_value("co-mention").run()
    assert (app.dataframe[0].value.co_mentions > 0).all()
    next(s for s in app.selectbox if s.label == "Relation").set_value("all").run()
    chemical = everything.iloc[0]["chemical"]
    next(t for t in app.text_input if t.label == "Chemical or disease contains").set_value(chemical[:5]).run()
    filtered = app.dataframe[0].value
    assert not filtered.empty and all(
        chemical[:5].lower() in (r.chemical + r.disease).lower() for r in filtered.itertuples()
    )
    assert any("<mark" in m.value and "text-decoration: underline" in m.value for m in app.markdown)
    titles = [c.layout.title.text or "" for c in _charts(app)]
    assert any(t.startswith("Attention, layer 2, average of heads") for t in titles)
    assert any(t.startswith("Gradient x input for '") for t in titles) and any(
        "abstracts by year and relation read" in t for t in titles
    )
    per_abstract = next(d.value for d in app.dataframe if "evidence" in d.value.columns)
    assert {"pmid", "relation", "induces", "co-mention", "evidence"} <= set(per_abstract.columns)
    assert (
        set(per_abstract.relation) <= {"induces", "treats", "co-mention"}
        and per_abstract.evidence.str.len().gt(0).all()
    )
    assert any(t.startswith("Top chemicals") for t in titles)
    head = next(s for s in app.selectbox if s.label == "Head")
    head.set_value(0).run()
    assert any((c.layout.title.text or "").startswith("Attention, layer 2, head 1") for c in _charts(app))
    assert any("pubmed.ncbi.nlm.nih.gov/100" in m.value for m in app.markdown)


def test_full_text_search_finds_abstracts_by_their_words(database):
    app = _open()
    app.text_input(key="fulltext").set_value("lithium tremor").run()
    assert not app.exception
    hits = next(d.value for d in app.dataframe if list(d.value.columns) == ["pmid", "title", "year"])
    assert list(hits["pmid"]) == ["1002"]
    assert any(
        "Lithium-induced tremor." in html.unescape(re.sub(r"<[^>]+>", "", m.value)) and "<mark" in m.value
        for m in app.markdown
    )


def test_a_pasted_abstract_gets_entities_relations_and_its_html_shown_as_text(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDMODELS_HOME", str(tmp_path))
    app = _open()
    app.text_area[0].set_value(PASTED).run()
    assert not app.exception
    assert any("HTML-like tags" in c.value for c in app.caption)
    rendered = next(m.value for m in app.markdown if "angioedema" in m.value)
    assert "<b>" not in rendered and "<mark" in rendered  # escaped, then marked
    assert html.unescape(re.sub(r"</?(mark|span)[^>]*>", "", rendered)) == " ".join(PASTED.replace("\n", " ").split())
    pairs = next(d.value for d in app.dataframe if "induces" in d.value.columns)
    assert set(pairs["pmid"]) <= {pasted_pmid(PASTED)} and set(pairs["relation"]) <= {"induces", "treats", "co-mention"}
    assert any(b.label == "Add these abstracts to the local database" for b in app.button)


def test_an_unreadable_upload_gets_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDMODELS_HOME", str(tmp_path))
    app = _open()
    app.file_uploader[0].set_value([("abstracts.txt", "1|t|Caf\u00e9 tremor.\n".encode("latin-1"), "text/plain")])
    app.run()
    assert not app.exception
    assert any("not UTF-8" in html.unescape(e.value) for e in app.error)


def _add_to_database(app: AppTest) -> AppTest:
    return next(b for b in app.button if b.label == "Add these abstracts to the local database").click().run()


def test_two_different_pastes_are_both_stored_and_undated_ones_are_listed(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDMODELS_HOME", str(tmp_path))
    app = _open()
    for text in (PASTED, "Lithium-induced tremor.\nTremor worsened in three patients after lithium was increased."):
        app.text_area[0].set_value(text).run()
        app = _add_to_database(app)
        assert not app.exception and any("Added 1 abstracts" in m.value for m in app.success)
    store = FindingsStore(default_store_path())
    assert store.stored_pmids() == {
        pasted_pmid(PASTED),
        pasted_pmid("Lithium-induced tremor.\nTremor worsened in three patients after lithium was increased."),
    }
    store.close()
    app = _open()  # pasted abstracts have no year: the findings table still lists their pairs
    next(s for s in app.selectbox if s.label == "Relation").set_value("all").run()
    assert not app.exception and len(app.dataframe[0].value) > 0


def test_a_database_of_one_year_opens_with_a_note_instead_of_a_year_slider(tmp_path, monkeypatch, model):
    monkeypatch.setenv("MEDMODELS_HOME", str(tmp_path))
    store = FindingsStore(default_store_path())
    index_documents(store, "test", ABSTRACTS[2:], model.extract, model.stamp)  # both from 2021
    store.close()
    app = _open()
    assert not app.exception
    assert any("Every dated abstract is from 2021" in c.value for c in app.caption)
    assert not [s for s in app.slider if s.label == "Publication years"]


def test_repeated_pmids_and_the_same_text_under_a_new_name_are_read_without_confusion(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDMODELS_HOME", str(tmp_path))
    app = _open()
    csv = "pmid,title,abstract\n111,Captopril and angioedema.,Angioedema followed captopril.\n111,Lithium.,Lithium caused tremor.\n"
    app.file_uploader[0].set_value([("dup.csv", csv.encode(), "text/csv")]).run()
    assert not app.exception
    assert any("111: this PMID appears earlier" in html.unescape(e.value) for e in app.error)
    app.file_uploader[0].set_value([]).run()
    app.text_area[0].set_value(PASTED).run()
    app.file_uploader[0].set_value([("same.txt", PASTED.encode(), "text/plain")]).run()  # same text, another id
    assert not app.exception
    pairs = next(d.value for d in app.dataframe if "induces" in d.value.columns)
    assert set(pairs["pmid"]) <= {"same"} and not pairs.empty


def test_a_database_written_by_another_model_version_is_offered_for_reindexing(tmp_path, monkeypatch, model):
    monkeypatch.setenv("MEDMODELS_HOME", str(tmp_path))
    store = FindingsStore(default_store_path())
    earlier = ModelStamp(model.stamp.name, model.stamp.version - 1, "0" * 64)
    index_documents(store, "test", ABSTRACTS, model.extract, earlier)
    store.close()
    app = _open()
    assert not app.exception
    warning = next(w.value for w in app.warning if "out of date" in w.value)
    assert f"written by {earlier.describe()}; the installed model is {model.stamp.describe()}" in warning
    assert not [b for b in app.button if b.label.startswith("Index the default corpus")]  # no mixing of models
    app = next(b for b in app.button if b.label == f"Reindex with {model.stamp.describe()}").click().run()
    assert not app.exception
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        store = FindingsStore(default_store_path())
        stamp = store.stamp()
        store.close()
        if stamp == model.stamp:
            break
        time.sleep(0.5)
    assert stamp == model.stamp
    app = _open()
    assert not app.exception and not [w for w in app.warning if "out of date" in w.value]
    assert any(f"findings by {model.stamp.describe()}" in c.value for c in app.caption)
