"""Distant supervision from MeSH qualifiers: which (document, chemical, disease) pairs are labelled how,
read from MEDLINE XML, and the document split by PMID."""

from collections import Counter

from medmodels.literature.distant import Indexing, read_indexing, split_of

XML = """<?xml version="1.0"?>
<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>11</PMID>
<ChemicalList><Chemical><NameOfSubstance UI="D002945">Cisplatin</NameOfSubstance></Chemical>
<Chemical><NameOfSubstance UI="D008094">Lithium</NameOfSubstance></Chemical>
<Chemical><NameOfSubstance UI="D000082">Acetaminophen</NameOfSubstance></Chemical></ChemicalList>
<MeshHeadingList>
<MeshHeading><DescriptorName UI="D002945">Cisplatin</DescriptorName><QualifierName UI="Q000009">adverse effects</QualifierName>
<QualifierName UI="Q000627">therapeutic use</QualifierName></MeshHeading>
<MeshHeading><DescriptorName UI="D007674">Kidney Diseases</DescriptorName><QualifierName UI="Q000139">chemically induced</QualifierName></MeshHeading>
<MeshHeading><DescriptorName UI="D009369">Neoplasms</DescriptorName><QualifierName UI="Q000188">drug therapy</QualifierName></MeshHeading>
<MeshHeading><DescriptorName UI="D056486">Chemical and Drug Induced Liver Injury</DescriptorName><QualifierName UI="Q000473">pathology</QualifierName></MeshHeading>
<MeshHeading><DescriptorName UI="D008094">Lithium</DescriptorName><QualifierName UI="Q000494">pharmacology</QualifierName></MeshHeading>
<MeshHeading><DescriptorName UI="D003920">Diabetes Mellitus</DescriptorName></MeshHeading>
<MeshHeading><DescriptorName UI="D006801">Humans</DescriptorName></MeshHeading>
</MeshHeadingList></MedlineCitation></PubmedArticle></PubmedArticleSet>
"""


def test_qualifiers_label_pairs_as_induced_treated_or_co_mentioned_and_silence_labels_nothing(tmp_path):
    path = tmp_path / "sample.xml"
    path.write_text(XML)
    (indexing,) = read_indexing([path]).values()
    assert indexing.pmid == "11" and indexing.relates()
    assert indexing.label("D002945", "D007674") == "induces"  # adverse effects x chemically induced
    assert indexing.label("D002945", "D009369") == "treats"  # therapeutic use x drug therapy
    assert indexing.label("D002945", "D056486") == "induces"  # a heading whose name says drug-induced
    # Lithium is indexed for its pharmacology, the kidney disease as chemically induced: weighed, not related.
    assert indexing.label("D008094", "D007674") == "co-mention"
    assert indexing.label("D000082", "D007674") is None  # in the chemical list alone: no qualifier says anything
    assert indexing.label("D002945", "D003920") is None  # diabetes is indexed without a qualifier: nothing said
    assert indexing.label("D002945", "D006973") is None  # hypertension is not indexed at all
    both = Indexing("12", {"C": frozenset({"Q000009", "Q000627"}), "D": frozenset({"Q000139", "Q000188"})})
    assert both.label("C", "D") is None  # both rules hold: ambiguous, left out
    assert not Indexing("13", {"D006801": frozenset()}).relates()


def test_documents_split_by_pmid_alone_in_the_stated_shares():
    pmids = [str(400000 + i) for i in range(5000)]
    shares = Counter(map(split_of, pmids))
    assert abs(shares["test"] / 5000 - 0.2) < 0.02 and abs(shares["val"] / 5000 - 0.1) < 0.02
    assert [split_of(p) for p in pmids[:50]] == [split_of(p) for p in pmids[:50]]  # no state, no order
