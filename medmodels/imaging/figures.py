"""Plotly figures of the imaging domain: the faithfulness check beside each attribution map."""

from __future__ import annotations

import plotly.graph_objects as go

from medmodels.imaging.explain import Faithfulness


def faithfulness_bars(result: Faithfulness) -> go.Figure:
    """Probability drop when the top-attributed pixels are removed, against the same area at random."""
    labels = [f"top {fraction:.0%}" for fraction in result.fractions]
    figure = go.Figure(
        [
            go.Bar(
                x=labels, y=list(result.drop_top), name="most-attributed pixels removed", marker={"color": "#d62728"}
            ),
            go.Bar(x=labels, y=list(result.drop_random), name="random pixels removed", marker={"color": "#7f7f7f"}),
        ]
    )
    figure.update_layout(
        barmode="group",
        yaxis={"title": "drop in probability (percentage points)", "tickformat": ".1%"},
        title={"text": f"Faithfulness (probability before: {result.original_probability:.1%})", "font": {"size": 13}},
        height=260,
        margin={"t": 40, "b": 30, "l": 40, "r": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure
