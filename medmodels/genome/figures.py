"""Figures of the genome domain: the per-base saliency drawn as a sequence logo (logomaker), aligned with the
attention the model paid to each base, with known motifs and the longest ORF marked."""

from __future__ import annotations

import logomaker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from medmodels.genome.explain import MotifHit

BASES = "ACGT"
LOGO_MAX = 400  # bases drawn as letters; a longer sequence gets bars (thousands of glyphs would be unreadable)
MOTIF_COLOURS = ("#f2c14e", "#9ad0ec", "#c3e6a5", "#f4a6a6")


def saliency_logo(
    sequence: str,
    saliency: np.ndarray,
    attention: np.ndarray,
    hits: list[MotifHit],
    orf: tuple[int, int] | None = None,
    target: str = "",
) -> Figure:
    """Two aligned rows: attention per base (bars), then gradient x input as a logo (each base's letter as
    tall as its value, above the axis where it pushes toward ``target``, below where it pushes away; bars past
    ``LOGO_MAX`` bases). NaN (bases the model did not read) is drawn as zero.
    Motifs are shaded on both rows and named in the legend; ``orf`` is drawn as a bar under the logo."""
    length = len(sequence)
    matrix = pd.DataFrame(0.0, index=range(length), columns=list(BASES))
    for position, (base, value) in enumerate(zip(sequence, np.nan_to_num(saliency))):
        if base in BASES:
            matrix.at[position, base] = float(value)
    figure = Figure(figsize=(min(max(length / 9, 8), 16), 3.6), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(1, 2))
    top.bar(range(length), np.nan_to_num(attention), width=0.9, color="#7f7f7f")
    top.set_ylabel("attention")
    if length <= LOGO_MAX:
        logomaker.Logo(matrix, ax=bottom, color_scheme="classic", flip_below=False)
    else:
        values = np.nan_to_num(saliency)
        bottom.bar(range(length), values, width=1.0, color=np.where(values >= 0, "#d62728", "#1f77b4"))
    bottom.axhline(0, color="black", linewidth=0.5)
    bottom.set_ylabel(f"gradient x input\n(toward {target})" if target else "gradient x input")
    bottom.set_xlabel("position (1-based)")
    colours = {
        name: MOTIF_COLOURS[i % len(MOTIF_COLOURS)] for i, name in enumerate(dict.fromkeys(h.name for h in hits))
    }
    for hit in hits:
        for axis in (top, bottom):
            axis.axvspan(hit.start - 0.5, hit.end - 0.5, color=colours[hit.name], alpha=0.35, linewidth=0)
    handles = [bottom.axvspan(0, 0, color=c, alpha=0.35, label=n) for n, c in colours.items()]
    if orf is not None:
        low = bottom.get_ylim()[0]
        handles.append(
            bottom.hlines(low, orf[0] - 0.5, orf[1] - 0.5, color="#2ca02c", linewidth=4, label="longest ORF")
        )
    if handles:
        figure.legend(handles=handles, loc="outside upper right", fontsize=8, frameon=False, ncols=len(handles))
    ticks = list(range(0, length, 10 if length <= 200 else 50))
    bottom.set_xticks(ticks, [str(t + 1) for t in ticks])
    return figure
