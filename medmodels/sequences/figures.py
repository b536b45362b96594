"""Plotly figures of the sequence domain: per-residue tracks and the mutation-scan heatmap."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from medmodels.sequences.explain import MutationScan

LETTERED_RESIDUES = 120  # more letters than this would overlap on a page-wide axis


def sequence_tracks(sequence: str, tracks: dict[str, np.ndarray]) -> go.Figure:
    """Per-residue tracks stacked on one shared axis, the residue letters beneath the last.

    NaN leaves a gap (window ends, the unread middle of a long protein). Letters label the axis up to
    ``LETTERED_RESIDUES`` residues; beyond that the axis shows positions and hovering shows letters."""
    positions = list(range(1, len(sequence) + 1))
    figure = make_subplots(
        rows=len(tracks), cols=1, shared_xaxes=True, vertical_spacing=0.04, subplot_titles=list(tracks)
    )
    for row, (title, values) in enumerate(tracks.items(), start=1):
        values = np.asarray(values, dtype=float)
        figure.add_trace(
            go.Bar(
                x=positions[: len(values)],
                y=[None if np.isnan(v) else float(v) for v in values],
                name=title,
                marker={"color": ["#d62728" if v >= 0 else "#1f77b4" for v in np.nan_to_num(values)]},
                customdata=list(sequence[: len(values)]),
                hovertemplate="%{customdata}%{x}: %{y:.3f}<extra></extra>",
                showlegend=False,
            ),
            row=row,
            col=1,
        )
    if len(sequence) <= LETTERED_RESIDUES:
        figure.update_xaxes(
            tickmode="array", tickvals=positions, ticktext=list(sequence), tickangle=0, row=len(tracks), col=1
        )
    else:
        figure.update_xaxes(title_text="residue position", row=len(tracks), col=1)
    figure.update_layout(height=140 * len(tracks) + 60, margin={"t": 30, "b": 30, "l": 40, "r": 10})
    for annotation in figure.layout.annotations:
        annotation.font.size = 12
    return figure


def mutation_heatmap(scan: MutationScan) -> go.Figure:
    """Change in calibrated P(scan.target) for every single substitution: residues down, positions across."""
    limit = float(np.abs(scan.change).max()) or 1.0
    figure = go.Figure(
        go.Heatmap(
            z=scan.change.tolist(),
            x=[f"{residue}{i + 1}" for i, residue in enumerate(scan.sequence)],
            y=list(scan.letters),
            zmin=-limit,
            zmax=limit,
            colorscale="RdBu_r",
            colorbar={"title": {"text": "Δ P"}},
            hovertemplate="%{x} → %{y}: %{z:+.3f}<extra></extra>",
        )
    )
    figure.update_layout(
        title={
            "text": f"Change in P({scan.target}) for each substitution (wild type: {scan.wild_type_probability:.3f})",
            "font": {"size": 13},
        },
        xaxis={"title": "position (wild type)"},
        yaxis={"title": "substituted by", "autorange": "reversed"},
        height=520,
        margin={"t": 40, "b": 40, "l": 40, "r": 10},
    )
    return figure
