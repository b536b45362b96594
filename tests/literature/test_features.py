"""Token features: word shapes and dictionary matches the tagger reads."""

import pytest

from medmodels.literature.features import dictionary_tags, word_shape
from medmodels.literature.reading import read_pubtator
from medmodels.literature.scoring import mention_scores
from medmodels.literature.text import spans_from_tags, tokenize


def test_word_shapes_tell_acronyms_names_numbers_and_punctuation_apart():
    shapes = {t.text: word_shape(t) for t in tokenize("DOX Lithium 5FU renal -")}
    assert shapes == {"DOX": 1, "Lithium": 2, "5FU": 1 + 4, "renal": 0, "-": 8}


def test_dictionary_matches_prefer_the_longest_name_and_chemicals_first():
    text = "Doxorubicin-induced cardiomyopathy with high blood pressure after 3 mg."
    tokens = tokenize(text)
    spans = {(text[a:b], kind) for a, b, kind in spans_from_tags(tokens, dictionary_tags(text, tokens))}
    assert ("Doxorubicin", "Chemical") in spans and ("cardiomyopathy", "Disease") in spans
    assert ("high blood pressure", "Disease") in spans  # not just "blood pressure"
    assert not any(kind and name.strip().isdigit() for name, kind in spans)  # numbers are never names


def test_dictionary_matches_cover_part_of_bc5cdr_precisely_enough_to_help(data_dir):
    path = data_dir / "bc5cdr" / "CDR_DevelopmentSet.PubTator.txt"
    if not path.is_file():
        pytest.skip(f"needs {path}")
    documents = [r.document for r in read_pubtator(path.read_text())]
    dictionary_tags("warm up", tokenize("warm up"))  # loads the dictionaries once
    gold, found = set(), set()
    for document in documents:
        tokens = tokenize(document.text)
        found |= {(document.pmid, *span) for span in spans_from_tags(tokens, dictionary_tags(document.text, tokens))}
        gold |= {(document.pmid, m.start, m.end, m.type) for m in document.mentions}
    scores = mention_scores(gold, found)
    # A feature, not a tagger: it finds a good share of the mentions, and precisely enough to help.
    assert scores["Chemical"].recall > 0.3 and scores["Disease"].recall > 0.3
    assert scores["Chemical"].precision > 0.5 and scores["Disease"].precision > 0.5
