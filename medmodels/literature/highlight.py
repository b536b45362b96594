"""Abstracts as HTML with their entities highlighted: every piece of the text is escaped first, so markup
inside an abstract (a title with ``<script>``, a ``<b>`` or a Markdown link in a pasted text) is shown as
text, never run."""

from __future__ import annotations

import html
import string
from itertools import pairwise

from medmodels.literature.reading import Mention

# Every ASCII punctuation mark as a character reference: Markdown, HTML, LaTeX ($) and emoji codes in a text
# then show as typed (CommonMark never reads a reference as syntax), so a [link](...) cannot be planted.
_LITERAL = {ord(mark): f"&#{ord(mark)};" for mark in string.punctuation}

COLOURS = {"Chemical": "#cfe8ff", "Disease": "#ffd9cc"}  # light blue, light orange: legible with black text
EVIDENCE_STYLE = "text-decoration: underline; text-decoration-thickness: 2px; text-underline-offset: 3px"


def highlighted_html(
    text: str, mentions: list[Mention] | tuple[Mention, ...], evidence: tuple[int, int] | None = None
) -> str:
    """``text`` escaped, each mention in a ``<mark>`` coloured by type with its MeSH id as a tooltip, and the
    evidence span (character offsets) underlined. Overlapping mentions keep the first."""
    cuts = {0, len(text)}
    kept, end = [], -1
    for mention in sorted(mentions, key=lambda m: (m.start, -m.end)):
        if mention.start >= end and 0 <= mention.start < mention.end <= len(text):
            kept.append(mention)
            end = mention.end
            cuts |= {mention.start, mention.end}
    if evidence is not None:
        cuts |= {max(0, min(evidence[0], len(text))), max(0, min(evidence[1], len(text)))}
    starts = {m.start: m for m in kept}
    ends = {m.end for m in kept}
    pieces, inside = [], False
    points = sorted(cuts)
    for left, right in pairwise(points):
        if left in ends and inside:
            pieces.append("</mark>")
            inside = False
        if left in starts:
            mention = starts[left]
            title = html.escape(f"{mention.type} · MeSH {mention.mesh}", quote=True)
            pieces.append(
                f'<mark style="background: {COLOURS.get(mention.type, "#eeeeee")}; padding: 0 2px; border-radius: 3px" title="{title}">'
            )
            inside = True
        chunk = markdown_safe(text[left:right])
        in_evidence = evidence is not None and evidence[0] <= left and right <= evidence[1]
        pieces.append(f'<span style="{EVIDENCE_STYLE}">{chunk}</span>' if in_evidence else chunk)
    if inside:
        pieces.append("</mark>")
    return "".join(pieces)


def markdown_safe(text: str) -> str:
    """``text`` for ``st.markdown(..., unsafe_allow_html=True)`` shown literally, whatever it holds."""
    return text.translate(_LITERAL)
