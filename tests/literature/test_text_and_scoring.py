"""Token and sentence offsets, BIO tags, and the BC5CDR scorer checked by hand."""

from itertools import pairwise

import pysbd
import pytest

from medmodels.literature.reading import Mention, read_pubtator
from medmodels.literature.scoring import mention_scores, relation_scores
from medmodels.literature.text import bio_tags, propagate_abbreviations, sentence_spans, spans_from_tags, tokenize

TEXT = "Famotidine-associated delirium. Lithium (Li) given i.v. caused acute renal failure in 3 of 12 rats."


def test_token_offsets_round_trip_to_the_original_text():
    tokens = tokenize(TEXT)
    assert all(TEXT[t.start : t.end] == t.text for t in tokens)
    assert [t.text for t in tokens[:5]] == ["Famotidine", "-", "associated", "delirium", "."]
    # Nothing but whitespace lies between tokens.
    assert all(TEXT[a.end : b.start].strip() == "" for a, b in pairwise(tokens))


def test_sentences_keep_abbreviations_together_and_cover_every_token():
    spans = sentence_spans(TEXT)
    assert [TEXT[a:b] for a, b in spans] == [
        "Famotidine-associated delirium.",
        "Lithium (Li) given i.v. caused acute renal failure in 3 of 12 rats.",
    ]
    assert all(any(a <= t.start and t.end <= b for a, b in spans) for t in tokenize(TEXT))


@pytest.mark.parametrize(
    "text",
    [
        TEXT,
        "Rats died.  Rats died. Rats died.\nRats died.",  # repeated sentences: each span follows the last
        "Results (p < 0.05) were seen, e.g. in Fig. 2.\u00a0Dr. Smith et al. agreed. U.S.A. data? Yes!",
        "Title without a full stop",
        "Dose was 5 mg/kg i.p. for 3 days.\t\tNo change.   ",
    ],
)
def test_sentence_spans_are_pysbds_own(text):
    """The splitter finds each sentence by string search, not pysbd's regular expressions: same spans."""
    reference = pysbd.Segmenter(language="en", clean=False, char_span=True).segment(text)
    expected = [(s.start, s.start + len(s.sent.rstrip())) for s in reference if s.sent.strip()]
    assert sentence_spans(text) == expected


def test_bio_tags_round_trip_mentions_and_overlaps_keep_the_first():
    tokens = tokenize(TEXT)
    acute = TEXT.index("acute renal failure")
    mentions = [
        Mention(0, 10, "Famotidine", "Chemical", "D015738"),
        Mention(22, 30, "delirium", "Disease", "D003693"),
        Mention(acute, acute + 19, "acute renal failure", "Disease", "D058186"),
        Mention(
            acute + 6, acute + 19, "renal failure", "Disease", "D051437"
        ),  # nested: flat tagging keeps the outer one
    ]
    tags = bio_tags(tokens, mentions)
    assert tags[:4] == ["B-Chemical", "O", "O", "B-Disease"]
    assert spans_from_tags(tokens, tags) == [(0, 10, "Chemical"), (22, 30, "Disease"), (acute, acute + 19, "Disease")]


def test_stray_inside_tags_start_a_mention():
    tokens = tokenize("aspirin and warfarin")
    assert spans_from_tags(tokens, ["I-Chemical", "O", "I-Chemical"]) == [(0, 7, "Chemical"), (12, 20, "Chemical")]
    assert spans_from_tags(tokens, ["B-Chemical", "I-Disease", "I-Disease"]) == [(0, 7, "Chemical"), (8, 20, "Disease")]


def test_mention_and_relation_scores_match_hand_counts():
    gold = {("1", 0, 10, "Chemical"), ("1", 22, 30, "Disease"), ("2", 5, 9, "Disease"), ("2", 0, 4, "Chemical")}
    predicted = {
        ("1", 0, 10, "Chemical"),
        ("1", 22, 31, "Disease"),
        ("2", 5, 9, "Disease"),
        ("2", 12, 15, "Chemical"),
        ("2", 20, 25, "Chemical"),
    }
    scores = mention_scores(gold, predicted)
    # Chemical: 1 hit, 2 false positives, 1 miss. Disease: 1 hit (doc 2), 1 false positive (wrong end), 1 miss.
    assert (scores["Chemical"].precision, scores["Chemical"].recall) == pytest.approx((1 / 3, 1 / 2))
    assert scores["Chemical"].f1 == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert scores["Disease"].f1 == pytest.approx(0.5)
    relations = relation_scores({("1", "D1", "D2"), ("1", "D1", "D3")}, {("1", "D1", "D2"), ("2", "D1", "D2")})
    assert (relations.precision, relations.recall, relations.f1) == (0.5, 0.5, 0.5)
    assert relation_scores(set(), set()).f1 == 0.0


def test_gold_bc5cdr_mentions_tag_and_untag_exactly(data_dir):
    path = data_dir / "bc5cdr" / "CDR_TrainingSet.PubTator.txt"
    if not path.is_file():
        pytest.skip(f"needs {path}")
    gold, recovered = set(), set()
    for record in read_pubtator(path.read_text()):
        document = record.document
        tokens = tokenize(document.text)
        gold |= {(document.pmid, m.start, m.end, m.type) for m in document.mentions}
        recovered |= {(document.pmid, *span) for span in spans_from_tags(tokens, bio_tags(tokens, document.mentions))}
    # Only overlapping gold mentions are lost to flat tagging: the ceiling any tagger can reach.
    scores = mention_scores(gold, recovered)
    assert scores["Chemical"].precision == 1.0 and scores["Disease"].precision == 1.0
    assert scores["Chemical"].recall > 0.99 and scores["Disease"].recall > 0.99


def test_a_short_form_defined_after_a_mention_is_tagged_wherever_it_recurs():
    text = "Cyclophosphamide (CP) was given. CP caused cystitis; CPK rose; ACP did not."
    tokens = tokenize(text)
    spans = [(0, 16, "Chemical"), (18, 20, "Chemical"), (43, 51, "Disease")]
    found = propagate_abbreviations(text, tokens, spans)
    assert (33, 35, "Chemical") in found  # the second "CP"
    assert len(found) == 4  # "CPK" and "ACP" are other words, not the short form
    assert propagate_abbreviations(
        "Lithium caused tremor.", tokenize("Lithium caused tremor."), [(0, 7, "Chemical")]
    ) == [(0, 7, "Chemical")]
