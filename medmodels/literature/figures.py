"""Plotly figures of the literature domain: the staged training curves of ``literature.cdr``, attention
and attribution over an evidence sentence, and the findings browser's charts."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from medmodels.cards import ModelCard
from medmodels.literature.results import COMENTION, INDUCES, TREATS


def staged_training_curves(card: ModelCard) -> go.Figure:
    """The literature model's stages: tagger training loss (each stage), development-set F1 of each entity
    type, and the relation scorer's development CID F1; the selected epochs starred."""
    figure = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=("Tagger: cross-entropy loss", "Tagger: dev F1 (exact span)", "Relations: dev CID F1"),
    )
    stages = list(dict.fromkeys(row["stage"] for row in card.history))
    colours = ["#1f77b4", "#9467bd", "#2ca02c", "#8c564b"]
    for stage, colour in zip(stages, colours):
        rows = [row for row in card.history if row["stage"] == stage]
        epochs = [row["epoch"] for row in rows]
        if stage.startswith("tagger"):
            figure.add_trace(
                go.Scatter(
                    x=epochs,
                    y=[row["train_loss"] for row in rows],
                    mode="lines",
                    name=f"{stage}: train loss",
                    line={"color": colour},
                ),
                row=1,
                col=1,
            )
        for key, name, dash, column in (
            ("val_chemical_f1", "dev chemical F1", "solid", 2),
            ("val_disease_f1", "dev disease F1", "dash", 2),
            ("val_cid_f1", "dev CID F1", "solid", 3),
        ):
            if any(key in row for row in rows):
                figure.add_trace(
                    go.Scatter(
                        x=epochs,
                        y=[row.get(key) for row in rows],
                        mode="lines",
                        name=name,
                        line={"color": "#d62728", "dash": dash},
                    ),
                    row=1,
                    col=column,
                )
    tagger_rows = [row for row in card.history if "val_metric" in row]
    relation_rows = [row for row in card.history if "val_cid_f1" in row]
    training = card.training
    for rows, key, selected, column in (
        (tagger_rows, "val_metric", training.best_epochs[0] if training else None, 2),
        (relation_rows, "val_cid_f1", training.details.get("relation_best_epoch") if training else None, 3),
    ):
        best = next((row for row in rows if row["epoch"] == selected), None)
        if best:
            figure.add_trace(
                go.Scatter(
                    x=[best["epoch"]],
                    y=[best[key]],
                    mode="markers",
                    name="selected epoch",
                    showlegend=column == 2,
                    legendgroup="selected",
                    marker={"symbol": "star", "size": 11, "color": "black"},
                ),
                row=1,
                col=column,
            )
    figure.update_xaxes(title_text="epoch")
    figure.update_layout(
        height=360, margin={"t": 50, "b": 40, "l": 40, "r": 20}, legend={"orientation": "h", "y": -0.25}
    )
    return figure


def _token_labels(tokens: list[str]) -> list[str]:
    """Axis labels that stay distinct when a word repeats ("the", "the")."""
    return [f"{token} ·{i + 1}" for i, token in enumerate(tokens)]


def attention_heatmap(tokens: list[str], weights: np.ndarray, title: str) -> go.Figure:
    """One attention map over a sentence's tokens: rows attend to columns."""
    labels = _token_labels(tokens)
    figure = go.Figure(
        go.Heatmap(
            # Four decimals are more than the eye or the hover text needs, and keep the page's message small.
            z=np.round(np.asarray(weights, dtype=float), 4).tolist(),
            x=labels,
            y=labels,
            colorscale="Blues",
            zmin=0,
            colorbar={"title": {"text": "attention"}},
            hovertemplate="%{y} → %{x}: %{z:.3f}<extra></extra>",
        )
    )
    size = max(360, min(900, 22 * len(tokens) + 160))
    # Margins sized to the longest label instead of Plotly's automargin, which draws the chart twice to
    # measure them: a layer or head switch redraws it a tenth faster.
    longest = max(map(len, labels))
    figure.update_layout(
        title={"text": title, "font": {"size": 13}},
        xaxis={"title": "attended token", "tickangle": -60, "automargin": False},
        yaxis={"title": "attending token", "autorange": "reversed", "automargin": False},
        height=size,
        margin={"t": 40, "b": min(6.5 * longest + 45, 260), "l": min(7 * longest + 45, 280), "r": 10},
    )
    return figure


def attribution_bars(tokens: list[str], attribution: np.ndarray, title: str) -> go.Figure:
    """Gradient x input per token: red pushes the score up, blue down."""
    values = np.asarray(attribution, dtype=float)
    labels = _token_labels(tokens)
    figure = go.Figure(
        go.Bar(
            x=values.tolist(),
            y=labels,
            orientation="h",
            marker={"color": ["#d62728" if v >= 0 else "#1f77b4" for v in values]},
            hovertemplate="%{y}: %{x:+.4f}<extra></extra>",
        )
    )
    figure.update_layout(
        title={"text": title, "font": {"size": 13}},
        xaxis={"title": "gradient x input (toward the relation)"},
        yaxis={"autorange": "reversed"},
        height=max(360, min(900, 22 * len(tokens) + 160)),
        margin={"t": 40, "b": 40, "l": 40, "r": 10},
    )
    return figure


def top_entities_bars(counts: dict[str, int], title: str, colour: str) -> go.Figure:
    """Horizontal bars of how many abstracts support each entity's findings, largest on top."""
    names = list(counts)
    figure = go.Figure(
        go.Bar(
            x=list(counts.values()),
            y=names,
            orientation="h",
            marker={"color": colour},
            hovertemplate="%{y}: %{x} abstracts<extra></extra>",
        )
    )
    figure.update_layout(
        title={"text": title, "font": {"size": 13}},
        xaxis={"title": "supporting abstracts"},
        yaxis={"autorange": "reversed"},
        height=max(300, 24 * len(names) + 100),
        margin={"t": 40, "b": 40, "l": 40, "r": 10},
    )
    return figure


RELATION_COLOURS = {INDUCES: "#d62728", TREATS: "#2c8c5a", COMENTION: "#9aa5b1"}


def evidence_over_time(years: list[int | None], relations: list[str], title: str) -> go.Figure:
    """Abstracts mentioning a pair per publication year, stacked by the relation the model read in each."""
    figure = go.Figure()
    for relation, colour in RELATION_COLOURS.items():
        chosen = [year for year, read in zip(years, relations) if read == relation and year is not None]
        if not chosen:
            continue
        found = sorted(set(chosen))
        figure.add_trace(go.Bar(x=found, y=[chosen.count(y) for y in found], name=relation, marker={"color": colour}))
    figure.update_layout(
        barmode="stack",
        title={"text": title, "font": {"size": 13}},
        xaxis={"title": "publication year", "type": "category"},
        yaxis={"title": "abstracts"},
        height=320,
        margin={"t": 40, "b": 40, "l": 40, "r": 10},
        legend={"orientation": "h", "y": -0.3},
    )
    return figure
