"""Plotly figures of any model card (training curves, ROC curve, reliability diagram) and of calibrated
probabilities; figures of one domain live in that domain's ``figures`` module."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from medmodels.cards import ModelCard
from medmodels.metrics import OperatingPoint, operating_point

METRIC_NAMES = {
    "roc_auc": "ROC AUC",
    "accuracy": "accuracy",
    "f1": "F1",
    "mcc": "MCC",
    "macro_f1": "macro-F1",
    "accuracy_and_macro_f1": "mean of accuracy and macro-F1",
}


def training_curves(card: ModelCard) -> go.Figure:
    """Loss and main metric per epoch, train vs validation, one line per ensemble member; selected epochs starred."""
    return history_curves(card.history, card.main_metric, card.training.best_epochs if card.training else [])


def history_curves(history: list[dict[str, Any]], main_metric: str, best_epochs: list[int] = ()) -> go.Figure:
    """``training_curves`` of per-epoch rows as the trainer writes them (``member`` 1-based when several),
    also while a training is still running; ``best_epochs`` (per member) are starred."""
    metric = METRIC_NAMES.get(main_metric, main_metric)
    members = sorted({row.get("member", 1) for row in history})
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Cross-entropy loss", metric))
    for member in members:
        rows = [row for row in history if row.get("member", 1) == member]
        epochs = [row["epoch"] for row in rows]
        for column, key in ((1, "loss"), (2, "metric")):
            for split, dash, colour in (("train", "solid", "#1f77b4"), ("val", "dash", "#d62728")):
                figure.add_trace(
                    go.Scatter(
                        x=epochs,
                        y=[row.get(f"{split}_{key}") for row in rows],
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
    # Whole epochs only: a short run would otherwise get ticks at 1.5 and 2.5.
    figure.update_xaxes(
        title_text="epoch", dtick=1 if max((row["epoch"] for row in history), default=0) <= 12 else None
    )
    figure.update_layout(
        height=360, margin={"t": 50, "b": 40, "l": 40, "r": 20}, legend={"orientation": "h", "y": -0.25}
    )
    return figure


def roc_with_operating_point(card: ModelCard, point: OperatingPoint | None = None, split: str = "test") -> go.Figure:
    """The split's ROC curve from the card, with the card's own threshold and (if given) the user's operating point marked."""
    section = card.metrics.test if split == "test" else card.metrics.validation
    roc = section.roc_curve()
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dot", "color": "grey"}))
    figure.add_trace(
        go.Scatter(
            x=[0.0] + [1 - s for s in roc.specificity],
            y=[0.0] + roc.sensitivity,
            mode="lines",
            name=f"{split} ROC (AUC {section.roc_auc:.3f})",
            line={"color": "#1f77b4"},
            customdata=[None] + roc.threshold,
            hovertemplate="threshold %{customdata:.3f}<br>1 - specificity %{x:.3f}<br>sensitivity %{y:.3f}<extra></extra>",
        )
    )
    if card.threshold is not None:
        chosen = operating_point(roc, card.threshold, prevalence=0.5)  # prevalence does not move a ROC point
        figure.add_trace(
            go.Scatter(
                x=[1 - chosen.specificity],
                y=[chosen.sensitivity],
                mode="markers",
                name=f"validation-chosen threshold {card.threshold:.3f}",
                marker={"symbol": "diamond", "size": 10, "color": "#7f7f7f"},
            )
        )
    if point is not None:
        figure.add_trace(
            go.Scatter(
                x=[1 - point.specificity],
                y=[point.sensitivity],
                mode="markers",
                name=f"your threshold {point.threshold:.3f}",
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
    section = card.metrics.test if split == "test" else card.metrics.validation
    bins = [b for b in section.reliability_bins() or [] if b.count]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration", line={"dash": "dot", "color": "grey"})
    )
    figure.add_trace(
        go.Bar(
            x=[(b.lower + b.upper) / 2 for b in bins],
            y=[b.accuracy for b in bins],
            width=[b.upper - b.lower for b in bins],
            name="observed accuracy",
            marker={"color": "#1f77b4", "line": {"color": "white", "width": 1}},
            customdata=[[b.count, b.mean_confidence] for b in bins],
            hovertemplate="confidence %{customdata[1]:.2f}<br>accuracy %{y:.2f}<br>%{customdata[0]} images<extra></extra>",
        )
    )
    ece = section.calibration_error()
    title = f"Reliability on the {split} split" + (f" (ECE {ece:.3f})" if ece is not None else "")
    figure.update_layout(
        title=title,
        xaxis={"title": "predicted confidence", "range": [0, 1]},
        yaxis={"title": "observed accuracy", "range": [0, 1]},
        height=360,
        margin={"t": 50, "b": 40, "l": 40, "r": 20},
    )
    return figure


def probability_bars(
    probabilities: dict[str, float], threshold: float | None = None, positive: str | None = None
) -> go.Figure:
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
        figure.add_vline(
            x=threshold, line={"dash": "dash", "color": "black"}, annotation_text=f"threshold {threshold:.2f}"
        )
    figure.update_layout(
        xaxis={"title": "calibrated probability", "range": [0, 1], "tickformat": ".0%"},
        height=200,
        margin={"t": 30, "b": 40, "l": 10, "r": 10},
    )
    return figure
