"""Plotly figures drawn from model cards and results; used by the pages and the reports."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from medmodels.checkpoints import ModelCard
from medmodels.imaging.explain import Faithfulness

METRIC_NAMES = {"roc_auc": "ROC AUC", "accuracy": "accuracy", "f1": "F1", "mcc": "MCC", "macro_f1": "macro-F1"}


def training_curves(card: ModelCard) -> go.Figure:
    """Loss and main metric per epoch, train vs validation, from the card's history; the chosen epoch is marked."""
    epochs = [row["epoch"] for row in card.history]
    metric = METRIC_NAMES.get(card.main_metric, card.main_metric)
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Cross-entropy loss", metric))
    for column, key, colour in ((1, "loss", None), (2, "metric", None)):
        for split, dash in (("train", "solid"), ("val", "dash")):
            figure.add_trace(
                go.Scatter(
                    x=epochs,
                    y=[row[f"{split}_{key}"] for row in card.history],
                    mode="lines+markers",
                    name=f"{'train' if split == 'train' else 'validation'} {key if key == 'loss' else metric}",
                    line={"dash": dash, "color": "#1f77b4" if split == "train" else "#d62728"},
                    marker={"size": 4},
                ),
                row=1,
                col=column,
            )
    best = card.training.get("best_epoch")
    if best:
        for column in (1, 2):
            figure.add_vline(x=best, line={"dash": "dot", "color": "grey"}, row=1, col=column)
        figure.add_annotation(x=best, y=1.0, yref="paper", text=f"selected epoch {best}", showarrow=False, xanchor="left")
    figure.update_xaxes(title_text="epoch")
    figure.update_layout(height=360, margin={"t": 50, "b": 40, "l": 40, "r": 20}, legend={"orientation": "h", "y": -0.25})
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
        yaxis={"title": "drop in probability", "tickformat": ".0%"},
        title={"text": f"Faithfulness (probability before: {result.original_probability:.1%})", "font": {"size": 13}},
        height=260,
        margin={"t": 40, "b": 30, "l": 40, "r": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure
