import json

import pandas as pd
import streamlit as st

from medmodels.cards import ModelCard
from medmodels.plots import reliability_diagram, roc_with_operating_point
from medmodels.registry import get_model_info
from pages._shared import installed_cards, require_entrypoint

require_entrypoint(__file__)

st.title("Models")
st.caption("Model cards: what each installed model was trained on, how well it does, and what it must not be used for.")


def metrics_table(card: ModelCard) -> pd.DataFrame:
    """Validation and test figures side by side, labelled as each section's kind labels them. A model chosen by
    cross-validation has out-of-fold figures in place of a validation split's."""
    cross_validated = card.training is not None and "cross_validation" in card.training.details
    validation = "validation (out-of-fold)" if cross_validated else "validation"
    sections = {validation: card.metrics.validation, "test": card.metrics.test}
    labels: dict[str, str] = {}
    for section in sections.values():
        labels.update({row.key: row.label for row in section.rows()})
    values = {split: {row.key: row.value for row in section.rows()} for split, section in sections.items()}
    return pd.DataFrame(
        {split: [values[split].get(key) for key in labels] for split in sections}, index=list(labels.values())
    )


def test_history(card: ModelCard) -> pd.DataFrame:
    """One row per scoring; a figure a version did not have (a later version measures more) is empty, and
    the reason comes last, after every version's figures."""
    label = card.metrics.test.label
    history = pd.DataFrame(
        [
            {
                "date": scoring.date,
                "version": scoring.version,
                "shipped": "yes" if scoring.shipped else "no (scored, never shipped)",
                **{label(key): value for key, value in scoring.figures.items()},
            }
            for scoring in card.test_history
        ]
    )
    history["why this version"] = [scoring.reason for scoring in card.test_history]
    return history


def show_card(card: ModelCard) -> None:
    recipe = get_model_info(card.name).recipe
    test = card.metrics.test
    st.subheader(card.name)
    st.markdown(
        f"**Task:** {card.task}  \n**Classes:** {', '.join(card.labels)}  \n**Architecture:** `{card.architecture}`  \n"
        f"**Version:** {card.version} · the test split has been scored {card.test_looks} time{'s' if card.test_looks != 1 else ''} for this model name"
    )
    st.markdown(f"**Intended use.** {card.intended_use}")
    if population := recipe.population_caption(card):
        st.markdown(f"**Training population.** {population}")
    with st.expander("Limitations", expanded=True):
        st.markdown("\n".join(f"- {item}" for item in card.limitations))

    st.markdown("#### Metrics")
    st.dataframe(metrics_table(card).style.format("{:.4f}", na_rep="–"))
    if card.metrics.published:
        st.caption(
            "Published figures on the same test set, for scale: "
            + "; ".join(
                f"{test.label(key)}: " + ", ".join(f"{who} {value:.3f}" for who, value in rows.items())
                for key, rows in card.metrics.published.items()
            )
            + "."
        )
    if card.metrics.baseline is not None:
        baseline = card.metrics.baseline
        shown = ", ".join(f"{test.label(key)} {value:.4f}" for key, value in baseline.figures.items())
        st.caption(f"Baseline on the same test split: {baseline.model}: {shown}.")
    for title, records in test.tables():
        st.markdown(f"{title}, test split")
        st.dataframe(
            pd.DataFrame(records),
            hide_index=True,
            column_config={key: st.column_config.NumberColumn(format="%.3f") for key in ("precision", "recall", "f1")},
        )
    st.caption(
        f"{recipe.decision_caption(card)} The test split (n = {test.n}) was scored after selection, with the rule above."
    )

    st.markdown("#### Test history")
    history = test_history(card)
    figures = [c for c in history.columns if c not in ("date", "version", "shipped", "why this version")]
    st.table(
        history.style.format("{:.3f}", subset=figures, na_rep="not measured").hide(axis="index")
    )  # a table, so the reasons wrap
    st.caption(
        f"Every scoring of this model name's test split ({card.test_looks} in all). Each version is chosen on validation data alone "
        "(a validation split, or cross-validation folds) and scores the test split once, when it ships; a version that was scored but never shipped still counts as a look."
    )

    st.markdown("#### Training curves")
    st.plotly_chart(recipe.training_figure(card), key=f"curves-{card.name}")
    if caption := recipe.training_caption(card):
        st.caption(caption)
    if test.reliability_bins():
        st.markdown("#### Calibration")
        st.plotly_chart(reliability_diagram(card), key=f"reliability-{card.name}")
    if test.roc_curve() is not None and card.threshold is not None:
        st.markdown("#### ROC curve")
        st.plotly_chart(roc_with_operating_point(card), key=f"roc-{card.name}")
        st.caption(
            "Every other operating point lies on this curve: hover over it to read its threshold, sensitivity and specificity."
        )

    if card.ood is not None:
        st.markdown("#### Out-of-distribution gate")
        st.markdown(f"{card.ood.method}. Threshold {card.ood.threshold:.4g}: {card.ood.threshold_rule}.")
        unit = card.data.unit if card.data is not None else "inputs"
        flagged = pd.DataFrame(
            [
                {unit: title, "n": row.n, "flagged as out of distribution": row.flagged}
                for title, row in card.ood.flagged.items()
            ]
        )
        st.dataframe(
            flagged,
            hide_index=True,
            column_config={
                "flagged as out of distribution": st.column_config.ProgressColumn(
                    format="percent", min_value=0, max_value=1
                )
            },
        )

    if card.data is not None:
        data = card.data
        st.markdown("#### Data")
        st.markdown(f"**{data.name}** · {data.licence}  \n{data.citation}")
        st.dataframe(pd.DataFrame({data.unit: data.splits, **data.counts}).T)
        if data.split_rule:
            st.caption(f"Splits: {data.split_rule}.")
    with st.expander("Files and checksums"):
        st.markdown("Model files (verified against these SHA-256 sums whenever the model is loaded):")
        st.dataframe(
            pd.DataFrame([{"file": f.path, "role": f.role, "SHA-256": f.sha256} for f in card.files]), hide_index=True
        )
        if card.data is not None and card.data.files:
            st.markdown("Data files (MD5):")
            st.json(card.data.files)
    st.markdown("#### Reproduce")
    st.code(card.reproduce, language="bash")
    st.caption(f"Card created {card.created} · format version {card.format_version}")
    st.download_button(
        "Download model card (JSON)",
        data=json.dumps(card.to_dict(), indent=2),
        file_name=f"{card.name}.json",
        mime="application/json",
        key=f"download-{card.name}",
        icon=":material/download:",
    )


cards = [card for card in installed_cards() if card.metrics is not None]
if not cards:
    st.info("No trained model is installed.", icon=":material/info:")
    st.stop()

for tab, card in zip(st.tabs([card.name for card in cards]), cards):
    with tab:
        show_card(card)
