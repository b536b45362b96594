"""What a genome model's call rests on, beside the sequence stack's saliency and mutation scan: the known
motifs of each task marked on the sequence, and the longest open reading frame."""

from __future__ import annotations

import re
from dataclasses import dataclass

from medmodels.genome.baseline import longest_orf

# Motifs a model that learned the biology should lean on, per model: (name, pattern on the given strand,
# pattern of the same motif read on the other strand).
MOTIFS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "genome.tfbs": (
        ("octamer (Oct4)", "ATGCAAAT", "ATTTGCAT"),
        ("MARE half-site (MafK)", "TGCTGA[CG]", "[CG]TCAGCA"),
    ),
}
SPLICE_CENTRE = 30  # a splice window's junction lies between bases 30 and 31 (1-based)


@dataclass(frozen=True)
class MotifHit:
    name: str
    start: int  # 0-based
    end: int  # exclusive
    strand: str  # "+" as given, "-" the reverse complement


def motif_hits(model: str, sequence: str) -> list[MotifHit]:
    """Every occurrence of the model's known motifs, on either strand; for ``genome.splice``, the GT donor
    and AG acceptor dinucleotides where the model looks for them, beside the junction."""
    hits = []
    for name, forward, reverse in MOTIFS.get(model, ()):
        for strand, pattern in (("+", forward), ("-", reverse)):
            hits += [MotifHit(name, m.start(), m.end(), strand) for m in re.finditer(f"(?={pattern})", sequence)]
    if model == "genome.splice" and len(sequence) == 2 * SPLICE_CENTRE:
        if sequence[SPLICE_CENTRE : SPLICE_CENTRE + 2] == "GT":
            hits.append(MotifHit("GT after the junction (donor consensus)", SPLICE_CENTRE, SPLICE_CENTRE + 2, "+"))
        if sequence[SPLICE_CENTRE - 2 : SPLICE_CENTRE] == "AG":
            hits.append(MotifHit("AG before the junction (acceptor consensus)", SPLICE_CENTRE - 2, SPLICE_CENTRE, "+"))
    # Lookahead matches have zero width: give each hit the length of the motif it matched.
    return [
        MotifHit(h.name, h.start, h.start + _motif_length(model, h.name) if h.end == h.start else h.end, h.strand)
        for h in sorted(hits, key=lambda h: (h.start, h.name))
    ]


def _motif_length(model: str, name: str) -> int:
    forward = next(f for n, f, _ in MOTIFS[model] if n == name)
    return len(re.sub(r"\[[^]]*\]", "N", forward))


def orf_track(sequence: str) -> tuple[int, int] | None:
    """The longest ATG-to-stop open reading frame as (start, end) 0-based, end exclusive; None without one."""
    orf = longest_orf(sequence)
    return (orf.start, orf.start + orf.length) if orf.length else None
