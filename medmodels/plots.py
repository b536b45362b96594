"""Plotly figures drawn from model cards and results; used by the pages and the reports."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from medmodels.checkpoints import ModelCard
from medmodels.imaging.explain import Faithfulness
from medmodels.metrics import OperatingPoint, operating_point
from medmodels.sequences.explain import MutationScan
from medmodels.sequences.models import ALPHABET

METRIC_NAMES = {
    "roc_auc": "ROC AUC",
    "accuracy": "accuracy",
    "f1": "F1",
    "mcc": "MCC",
    "macro_f1": "macro-F1",
    "accuracy_and_macro_f1": "mean of accuracy and macro-F1",
    "mean_entity_f1": "mean of chemical and disease F1",
}


def training_curves(card: ModelCard) -> go.Figure:
    """Loss and main metric per epoch, train vs validation, one line per ensemble member; selected epochs starred.
    Cards trained in stages (history rows with a ``stage``) get ``staged_training_curves``."""
    if any("stage" in row for row in card.history):
        return staged_training_curves(card)
    metric = METRIC_NAMES.get(card.main_metric, card.main_metric)
    members = sorted({row.get("member", 1) for row in card.history})
    best_epochs = card.training.get("best_epochs", [])
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Cross-entropy loss", metric))
    for member in members:
        rows = [row for row in card.history if row.get("member", 1) == member]
        epochs = [row["epoch"] for row in rows]
        for column, key in ((1, "loss"), (2, "metric")):
            for split, dash, colour in (("train", "solid", "#1f77b4"), ("val", "dash", "#d62728")):
                figure.add_trace(
                    go.Scatter(
                        x=epochs,
                        y=[row[f"{split}_{key}"] for row in rows],
                        mode="lines",
                        name=f"{'train' if split == 'train' else 'validation'} {key if key == 'loss' else metric}",
                        legendgroup=f"{split}-{key}",
                        showlegend=member == members[0],
                        line={"dash": dash, "color": colour, "width": 1.5},
                        opacity=0.75,
                        hovertemplate=f"member {member}<br>epoch %{{x}}<br>%{{y:.4f}}<extra></extra>",
                    ),
                    row=1,
                    col=column,
                )
        if member <= len(best_epochs):
            best = next(row for row in rows if row["epoch"] == best_epochs[member - 1])
            figure.add_trace(
                go.Scatter(
                    x=[best["epoch"]],
                    y=[best["val_metric"]],
                    mode="markers",
                    name="selected epoch",
                    legendgroup="selected",
                    showlegend=member == members[0],
                    marker={"symbol": "star", "size": 11, "color": "black"},
                    hovertemplate=f"member {member}: selected epoch %{{x}}<extra></extra>",
                ),
                row=1,
                col=2,
            )
    figure.update_xaxes(title_text="epoch")
    figure.update_layout(height=360, margin={"t": 50, "b": 40, "l": 40, "r": 20}, legend={"orientation": "h", "y": -0.25})
    return figure


def staged_training_curves(card: ModelCard) -> go.Figure:
    """The literature model's stages: tagger training loss (each stage), development-set F1 of each entity
    type, and the relation scorer's development CID F1; the selected epochs starred."""
    figure = make_subplots(rows=1, cols=3, subplot_titles=("Tagger: cross-entropy loss", "Tagger: dev F1 (exact span)", "Relations: dev CID F1"))
    stages = list(dict.fromkeys(row["stage"] for row in card.history))
    colours = ["#1f77b4", "#9467bd", "#2ca02c", "#8c564b"]
    for stage, colour in zip(stages, colours):
        rows = [row for row in card.history if row["stage"] == stage]
        epochs = [row["epoch"] for row in rows]
        if stage.startswith("tagger"):
            figure.add_trace(go.Scatter(x=epochs, y=[row["train_loss"] for row in rows], mode="lines", name=f"{stage}: train loss", line={"color": colour}), row=1, col=1)
        for key, name, dash, column in (
            ("val_chemical_f1", "dev chemical F1", "solid", 2),
            ("val_disease_f1", "dev disease F1", "dash", 2),
            ("val_cid_f1", "dev CID F1", "solid", 3),
        ):
            if any(key in row for row in rows):
                figure.add_trace(
                    go.Scatter(x=epochs, y=[row.get(key) for row in rows], mode="lines", name=name, line={"color": "#d62728", "dash": dash}),
                    row=1,
                    col=column,
                )
    tagger_rows = [row for row in card.history if "val_metric" in row]
    relation_rows = [row for row in card.history if "val_cid_f1" in row]
    for rows, key, selected, column in (
        (tagger_rows, "val_metric", card.training.get("best_epochs", [None])[0], 2),
        (relation_rows, "val_cid_f1", card.training.get("relation_best_epoch"), 3),
    ):
        best = next((row for row in rows if row["epoch"] == selected), None)
        if best:
            figure.add_trace(
                go.Scatter(x=[best["epoch"]], y=[best[key]], mode="markers", name="selected epoch", showlegend=column == 2, legendgroup="selected", marker={"symbol": "star", "size": 11, "color": "black"}),
                row=1,
                col=column,
            )
    figure.update_xaxes(title_text="epoch")
    figure.update_layout(height=360, margin={"t": 50, "b": 40, "l": 40, "r": 20}, legend={"orientation": "h", "y": -0.25})
    return figure


def roc_with_operating_point(card: ModelCard, point: OperatingPoint | None = None, split: str = "test") -> go.Figure:
    """The split's ROC curve from the card, with the card's own threshold and (if given) the user's operating point marked."""
    roc = card.metrics[split]["roc"]
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dot", "color": "grey"}))
    figure.add_trace(
        go.Scatter(
            x=[0.0] + [1 - s for s in roc["specificity"]],
            y=[0.0] + roc["sensitivity"],
            mode="lines",
            name=f"{split} ROC (AUC {card.metrics[split]['roc_auc']:.3f})",
            line={"color": "#1f77b4"},
            customdata=[None] + roc["threshold"],
            hovertemplate="threshold %{customdata:.3f}<br>1 - specificity %{x:.3f}<br>sensitivity %{y:.3f}<extra></extra>",
        )
    )
    if card.threshold is not None:
        chosen = operating_point(roc, card.threshold, prevalence=0.5)  # prevalence does not move a ROC point
        figure.add_trace(
            go.Scatter(
                x=[1 - chosen.specificity], y=[chosen.sensitivity], mode="markers", name=f"validation-chosen threshold {card.threshold:.3f}",
                marker={"symbol": "diamond", "size": 10, "color": "#7f7f7f"},
            )
        )
    if point is not None:
        figure.add_trace(
            go.Scatter(
                x=[1 - point.specificity], y=[point.sensitivity], mode="markers", name=f"your threshold {point.threshold:.3f}",
                marker={"size": 12, "color": "#d62728"},
            )
        )
    figure.update_layout(
        xaxis={"title": "1 - specificity (false-positive rate)", "range": [0, 1]},
        yaxis={"title": "sensitivity (true-positive rate)", "range": [0, 1.02]},
        height=340,
        margin={"t": 20, "b": 40, "l": 40, "r": 20},
        legend={"orientation": "h", "y": -0.3},
    )
    return figure


def reliability_diagram(card: ModelCard, split: str = "test") -> go.Figure:
    """Accuracy against confidence per bin after temperature scaling; the diagonal is perfect calibration."""
    bins = [b for b in card.metrics.get(split, {}).get("reliability", []) if b["count"]]
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration", line={"dash": "dot", "color": "grey"}))
    figure.add_trace(
        go.Bar(
            x=[(b["lower"] + b["upper"]) / 2 for b in bins],
            y=[b["accuracy"] for b in bins],
            width=[b["upper"] - b["lower"] for b in bins],
            name="observed accuracy",
            marker={"color": "#1f77b4", "line": {"color": "white", "width": 1}},
            customdata=[[b["count"], b["mean_confidence"]] for b in bins],
            hovertemplate="confidence %{customdata[1]:.2f}<br>accuracy %{y:.2f}<br>%{customdata[0]} images<extra></extra>",
        )
    )
    ece = card.metrics.get(split, {}).get("ece")
    title = f"Reliability on the {split} split" + (f" (ECE {ece:.3f})" if ece is not None else "")
    figure.update_layout(
        title=title,
        xaxis={"title": "predicted confidence", "range": [0, 1]},
        yaxis={"title": "observed accuracy", "range": [0, 1]},
        height=360,
        margin={"t": 50, "b": 40, "l": 40, "r": 20},
    )
    return figure


def probability_bars(probabilities: dict[str, float], threshold: float | None = None, positive: str | None = None) -> go.Figure:
    """Horizontal bars of calibrated class probabilities, with the decision threshold marked."""
    labels = list(probabilities)
    figure = go.Figure(
        go.Bar(
            x=[probabilities[label] for label in labels],
            y=labels,
            orientation="h",
            text=[f"{probabilities[label]:.1%}" for label in labels],
            textposition="auto",
            marker={"color": ["#d62728" if label == positive else "#1f77b4" for label in labels]},
        )
    )
    if threshold is not None and positive is not None:
        figure.add_vline(x=threshold, line={"dash": "dash", "color": "black"}, annotation_text=f"threshold {threshold:.2f}")
    figure.update_layout(xaxis={"title": "calibrated probability", "range": [0, 1], "tickformat": ".0%"}, height=200, margin={"t": 30, "b": 40, "l": 10, "r": 10})
    return figure


def faithfulness_bars(result: Faithfulness) -> go.Figure:
    """Probability drop when the top-attributed pixels are removed, against the same area at random."""
    labels = [f"top {fraction:.0%}" for fraction in result.fractions]
    figure = go.Figure(
        [
            go.Bar(x=labels, y=list(result.drop_top), name="most-attributed pixels removed", marker={"color": "#d62728"}),
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


LETTERED_RESIDUES = 120  # more letters than this would overlap on a page-wide axis


def sequence_tracks(sequence: str, tracks: dict[str, np.ndarray]) -> go.Figure:
    """Per-residue tracks stacked on one shared axis, the residue letters beneath the last.

    NaN leaves a gap (window ends, the unread middle of a long protein). Letters label the axis up to
    ``LETTERED_RESIDUES`` residues; beyond that the axis shows positions and hovering shows letters."""
    positions = list(range(1, len(sequence) + 1))
    figure = make_subplots(rows=len(tracks), cols=1, shared_xaxes=True, vertical_spacing=0.04, subplot_titles=list(tracks))
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
        figure.update_xaxes(tickmode="array", tickvals=positions, ticktext=list(sequence), tickangle=0, row=len(tracks), col=1)
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
            y=list(ALPHABET),
            zmin=-limit,
            zmax=limit,
            colorscale="RdBu_r",
            colorbar={"title": {"text": "Δ P"}},
            hovertemplate="%{x} → %{y}: %{z:+.3f}<extra></extra>",
        )
    )
    figure.update_layout(
        title={"text": f"Change in P({scan.target}) for each substitution (wild type: {scan.wild_type_probability:.3f})", "font": {"size": 13}},
        xaxis={"title": "position (wild-type residue)"},
        yaxis={"title": "substituted by", "autorange": "reversed"},
        height=520,
        margin={"t": 40, "b": 40, "l": 40, "r": 10},
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
            z=np.asarray(weights, dtype=float).tolist(),
            x=labels,
            y=labels,
            colorscale="Blues",
            zmin=0,
            colorbar={"title": {"text": "attention"}},
            hovertemplate="%{y} → %{x}: %{z:.3f}<extra></extra>",
        )
    )
    size = max(360, min(900, 22 * len(tokens) + 160))
    figure.update_layout(
        title={"text": title, "font": {"size": 13}},
        xaxis={"title": "attended token", "tickangle": -60},
        yaxis={"title": "attending token", "autorange": "reversed"},
        height=size,
        margin={"t": 40, "b": 40, "l": 40, "r": 10},
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
    figure = go.Figure(go.Bar(x=list(counts.values()), y=names, orientation="h", marker={"color": colour}, hovertemplate="%{y}: %{x} abstracts<extra></extra>"))
    figure.update_layout(
        title={"text": title, "font": {"size": 13}},
        xaxis={"title": "supporting abstracts"},
        yaxis={"autorange": "reversed"},
        height=max(300, 24 * len(names) + 100),
        margin={"t": 40, "b": 40, "l": 40, "r": 10},
    )
    return figure


def evidence_over_time(years: list[int], scores: list[float], threshold: float, title: str) -> go.Figure:
    """Supporting abstracts per publication year, split at the relation threshold."""
    figure = go.Figure()
    for name, keep, colour in (("relation (score ≥ threshold)", True, "#d62728"), ("co-mention", False, "#9aa5b1")):
        chosen = [year for year, score in zip(years, scores) if (score >= threshold) == keep and year is not None]
        found = sorted(set(chosen))
        figure.add_trace(go.Bar(x=found, y=[chosen.count(y) for y in found], name=name, marker={"color": colour}))
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
