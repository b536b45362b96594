"""Mention text to MeSH id: the corpus's own spellings, their dictionary synonyms, and -1 otherwise."""

import bz2
import io
import json
import os
import pickle
import subprocess
import sys

import pytest

from medmodels.literature import mesh
from medmodels.literature.mesh import UNRESOLVED, MeshNormaliser, lookup_key
from medmodels.literature.reading import Document, Mention

CORPUS = [
    Document(
        "1",
        "Doxorubicin cardiotoxicity.",
        "Hypertension after famotidine.",
        mentions=(
            Mention(0, 11, "Doxorubicin", "Chemical", "D004317"),
            Mention(12, 26, "cardiotoxicity", "Disease", "D066126"),
            Mention(28, 40, "Hypertension", "Disease", "D006973"),
            Mention(47, 57, "famotidine", "Chemical", "D015738"),
            Mention(0, 3, "Dox", "Chemical", "-1"),  # unresolved gold mentions teach nothing
        ),
    )
]


def test_spellings_seen_in_the_corpus_keep_their_annotated_id_whatever_the_case_and_spacing():
    normaliser = MeshNormaliser.from_documents(CORPUS)
    assert normaliser.normalise("DOXORUBICIN", "Chemical") == "D004317"
    assert normaliser.normalise("famotidine", "Disease") == UNRESOLVED  # ids are per entity type
    assert lookup_key("5 - fluoro  uracil") == lookup_key("5-Fluoro uracil")


def test_dictionary_synonyms_of_a_corpus_spelling_share_its_id():
    normaliser = MeshNormaliser.from_documents(CORPUS)
    assert (
        normaliser.normalise("adriamycin", "Chemical") == "D004317"
    )  # a synonym of doxorubicin in the drug dictionary
    assert (
        normaliser.normalise("high blood pressure", "Disease") == "D006973"
    )  # of hypertension in the disease dictionary
    assert normaliser.normalise("Hypertensions", "Disease") == "D006973"  # plural
    assert normaliser.normalise("Dox", "Chemical") == UNRESOLVED
    assert normaliser.normalise("zzzzquux", "Chemical") == UNRESOLVED


def test_the_dictionary_loader_refuses_anything_but_plain_data():
    blob = io.BytesIO()
    with bz2.open(blob, "wb") as stream:
        pickle.dump({"x": io.BytesIO}, stream)  # any class reference, the way a hostile pickle runs code
    blob.seek(0)
    with bz2.open(blob, "rb") as stream, pytest.raises(pickle.UnpicklingError, match="plain data only"):
        mesh._PlainDataOnly(stream).load()


def test_synonym_tables_are_kept_in_a_cache_and_rebuilt_when_it_is_damaged(tmp_path, monkeypatch):
    built = mesh.load_synonym_groups("Disease", tmp_path)
    (cache,) = tmp_path.glob("synonyms-disease-*.json")
    assert built[lookup_key("Hypertension")] == built[lookup_key("high blood pressure")]  # synonyms share a concept
    # A later start reads the cache and never unpickles the dictionary.
    monkeypatch.setattr(mesh, "_build_synonym_groups", lambda *_: pytest.fail("the dictionary was unpickled again"))
    assert mesh.load_synonym_groups("Disease", tmp_path) == built
    monkeypatch.undo()
    for damage in ("{truncated", '{"hypertension": "not a number"}', "[]"):
        cache.write_text(damage)
        assert mesh.load_synonym_groups("Disease", tmp_path) == built
        assert json.loads(cache.read_text()) == built  # rewritten whole
    # A folder that cannot be written costs only the rebuild.
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    assert mesh.load_synonym_groups("Disease", blocked / "cache") == built


class _WritesAMarker:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))  # what unpickling runs: here it only creates a file


def test_loading_the_dictionaries_never_imports_their_packages_or_unpickles_files_in_the_home_folder(tmp_path):
    """Importing drug-named-entity-recognition unpickles ``~/.omop_cache.pkl`` unguarded; medmodels never imports it."""
    marker = tmp_path / "unpickled"
    (tmp_path / ".omop_cache.pkl").write_bytes(pickle.dumps(_WritesAMarker(str(marker))))
    script = (
        "import sys; from pathlib import Path; from medmodels.literature import mesh; "
        f"groups = mesh.load_synonym_groups('Chemical', Path({str(tmp_path / 'cache')!r})); "
        "print(len(groups), sorted(m for m in sys.modules if 'named_entity' in m))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    count, imported = result.stdout.split(" ", 1)
    assert int(count) > 100_000 and imported.strip() == "[]"
    assert not marker.exists()


MEDLINE_XML = b"""<?xml version="1.0"?>
<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID>
<ChemicalList><Chemical><NameOfSubstance UI="D020927">Dexmedetomidine</NameOfSubstance></Chemical></ChemicalList>
<MeshHeadingList><MeshHeading><DescriptorName UI="D001281">Atrial Fibrillation</DescriptorName></MeshHeading></MeshHeadingList>
</MedlineCitation></PubmedArticle></PubmedArticleSet>"""


def test_mesh_names_indexed_in_medline_records_resolve_spellings_the_corpus_never_saw(tmp_path):
    path = tmp_path / "sample.xml"
    path.write_bytes(MEDLINE_XML)
    names = mesh.heading_names([path])
    assert names == {"dexmedetomidine": "D020927", "atrial fibrillation": "D001281"}
    normaliser = MeshNormaliser.from_documents(CORPUS, names)
    assert normaliser.normalise("Dexmedetomidine", "Chemical") == "D020927"
    assert normaliser.normalise("atrial fibrillation", "Disease") == "D001281"
    assert normaliser.normalise("doxorubicin", "Chemical") == "D004317"  # the corpus still comes first


def test_an_abbreviation_defined_in_the_document_takes_its_long_forms_id_there_only():
    normaliser = MeshNormaliser.from_documents(CORPUS, {"atrial fibrillation": "D001281"})
    text = "Atrial fibrillation (AF) after surgery; AF recurred."
    spans = [(0, 19, "Disease"), (21, 23, "Disease"), (40, 42, "Disease")]
    assert normaliser.normalise_document(text, spans) == ["D001281", "D001281", "D001281"]
    assert normaliser.normalise_document("AF recurred.", [(0, 2, "Disease")]) == [UNRESOLVED]
