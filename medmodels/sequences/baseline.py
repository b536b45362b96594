"""The composition baseline every sequence model must beat: logistic regression on amino-acid and
dipeptide composition (the 20 + 400 frequencies of single residues and adjacent pairs)."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from medmodels.sequences.data import SequenceSet

C_GRID = (0.01, 0.1, 1.0, 10.0)


def _frequencies(counts):  # counts per sequence -> shares of its residues and of its residue pairs
    counts = counts.toarray().astype(np.float64)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)


def composition_pipeline(c: float) -> Pipeline:
    return make_pipeline(
        CountVectorizer(analyzer="char", ngram_range=(1, 2), lowercase=False),
        FunctionTransformer(_frequencies, accept_sparse=True),
        StandardScaler(),
        LogisticRegression(C=c, max_iter=5000),
    )


def _score(pipeline: Pipeline, data: SequenceSet) -> float:
    probabilities = pipeline.predict_proba(data.sequences)
    if probabilities.shape[1] == 2:
        return float(roc_auc_score(data.labels, probabilities[:, 1]))
    return float((probabilities.argmax(axis=1) == data.labels).mean())


def fit_composition_baseline(train: SequenceSet, validation: SequenceSet) -> tuple[Pipeline, float]:
    """The pipeline whose regularisation ``C`` scores best on validation (ROC AUC, or accuracy for
    several classes), refitted on train; returns it with the chosen ``C``."""
    best = max(C_GRID, key=lambda c: _score(composition_pipeline(c).fit(train.sequences, train.labels), validation))
    return composition_pipeline(best).fit(train.sequences, train.labels), best
