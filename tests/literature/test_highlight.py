"""Highlighted abstracts: entities marked by type, the evidence underlined, and markup in the text shown as text."""

import html
import re

from medmodels.literature.highlight import highlighted_html, markdown_safe
from medmodels.literature.reading import Mention

TEXT = "<script>alert(1)</script> Lithium caused tremor & <b>seizures</b>."


def _mention(word: str, kind: str, mesh: str) -> Mention:
    start = TEXT.index(word)
    return Mention(start, start + len(word), word, kind, mesh)


def test_markup_in_the_text_is_escaped_and_entities_are_marked_by_type():
    rendered = highlighted_html(
        TEXT, [_mention("Lithium", "Chemical", "D008094"), _mention("tremor", "Disease", "D014202")]
    )
    assert "<script>" not in rendered and "<b>" not in rendered
    shown = html.unescape(re.sub(r"<[^>]+>", "", rendered))  # the text a reader sees
    assert shown == TEXT
    assert rendered.count("<mark") == 2 and rendered.count("</mark>") == 2
    assert 'title="Chemical · MeSH D008094">Lithium</mark>' in rendered


def test_the_evidence_sentence_is_underlined_and_a_mention_inside_it_stays_marked():
    start = TEXT.index("Lithium")
    rendered = highlighted_html(TEXT, [_mention("tremor", "Disease", "D014202")], evidence=(start, len(TEXT)))
    assert "text-decoration: underline" in rendered and ">tremor</span></mark>" in rendered
    assert rendered.index("alert") < rendered.index("underline")  # the text before the evidence is not underlined


def test_overlapping_or_out_of_range_mentions_never_break_the_markup():
    mentions = [
        Mention(27, 41, "Lithium caused", "Chemical", "-1"),
        Mention(35, 48, "caused tremor", "Disease", "-1"),
        Mention(60, 999, "x", "Disease", "-1"),
    ]
    rendered = highlighted_html(TEXT, mentions)
    assert rendered.count("<mark") == rendered.count("</mark>") == 1


def test_markdown_latex_and_html_in_a_text_or_an_id_are_shown_as_typed():
    # A pasted abstract or a PMID could otherwise plant a working link, a heading or a code-span break-out.
    typed = "x`</code><h1>FAKE</h1> [click](https://evil.example) **bold** $x^2$ # heading :smile:"
    safe = markdown_safe(typed)
    assert not set(re.sub(r"&#\d+;", "", safe)) & set("`<>[]()*$#:&;") and html.unescape(safe) == typed
    rendered = highlighted_html(typed, [])
    assert "evil.example)" not in rendered and "[" not in rendered and html.unescape(rendered) == typed
