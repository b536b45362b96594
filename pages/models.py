import json

import pandas as pd
import streamlit as st

from medmodels.plots import reliability_diagram, roc_with_operating_point, training_curves
from pages._shared import installed_cards, require_entrypoint

METRIC_ROWS = {
    "roc_auc": "ROC AUC",
    "accuracy": "Accuracy",
    "sensitivity": "Sensitivity (recall)",
    "specificity": "Specificity",
    "precision": "Precision (PPV)",
    "npv": "NPV",
    "f1": "F1",
    "mcc": "Matthews correlation (MCC)",
    "macro_f1": "Macro-F1 (classes weighted equally)",
    "balanced_accuracy": "Balanced accuracy (mean recall)",
    "ece_uncalibrated": "ECE before temperature scaling",
    "ece": "ECE after temperature scaling",
    "chemical_precision": "Chemical mentions: precision",
    "chemical_recall": "Chemical mentions: recall",
    "chemical_f1": "Chemical mentions: F1 (exact span)",
    "disease_precision": "Disease mentions: precision",
    "disease_recall": "Disease mentions: recall",
    "disease_f1": "Disease mentions: F1 (exact span)",
    "overall_f1": "All mentions: F1",
    "cid_precision": "CID relations: precision",
    "cid_recall": "CID relations: recall",
    "cid_f1": "CID relations: F1 (document level, end to end)",
    "gold_mentions_cid_f1": "CID relations: F1 given the annotated mentions",
}
SPLIT_UNITS = {"imaging": "images", "sequence": "sequences", "literature": "abstracts"}

require_entrypoint(__file__)

st.title("Models")
st.caption("Model cards: what each installed model was trained on, how well it does, and what it must not be used for.")

cards = installed_cards()
if not cards:
    st.info("No trained model is installed.", icon=":material/info:")
    st.stop()

tabs = st.tabs([card.name for card in cards])
for tab, card in zip(tabs, cards):
    with tab:
        st.subheader(card.name)
        st.markdown(f"**Task:** {card.task}  \n**Classes:** {', '.join(card.labels)}  \n**Architecture:** `{card.architecture}`")
        st.markdown(f"**Intended use.** {card.intended_use}")
        with st.expander("Limitations", expanded=True):
            st.markdown("\n".join(f"- {item}" for item in card.limitations))

        st.markdown("#### Metrics")
        splits = [split for split in ("validation", "test") if split in card.metrics]
        rows = [key for key in METRIC_ROWS if any(key in card.metrics[split] for split in splits)]
        table = pd.DataFrame({split: [card.metrics[split].get(key) for key in rows] for split in splits}, index=[METRIC_ROWS[k] for k in rows])
        st.dataframe(table.style.format("{:.4f}", na_rep="–"))
        published = card.metrics.get("baselines")
        if published:
            st.caption(
                "Published figures on the same BC5CDR test set, for scale: "
                + "; ".join(f"{METRIC_ROWS.get(key, key)}: " + ", ".join(f"{who} {value:.3f}" for who, value in rows.items()) for key, rows in published.items())
                + "."
            )
        baseline = card.metrics.get("baseline_test")
        if baseline:
            shown = ", ".join(f"{METRIC_ROWS[k]} {v:.4f}" for k, v in baseline.items() if k in METRIC_ROWS)
            st.caption(f"Baseline on the same test split: {baseline['model']}: {shown}.")
        per_class = card.metrics.get("test", {}).get("per_class")
        if per_class:
            st.markdown("Per class, test split")
            st.dataframe(
                pd.DataFrame(per_class).T.rename_axis("class").reset_index(),
                hide_index=True,
                column_config={k: st.column_config.NumberColumn(format="%.3f") for k in ("precision", "recall", "f1")},
            )
        if card.threshold is None:
            rule = "Calls the most probable class"
        elif card.name.startswith("literature."):
            rule = f"Relation threshold {card.threshold:.3f} on the pair score ({card.threshold_rule})"
        else:
            rule = f"Decision threshold {card.threshold:.3f} on the calibrated probability of '{card.positive_label}' ({card.threshold_rule})"
        calibration = "" if card.name.startswith("literature.") else f"; calibration temperature {card.temperature:.3f}"
        st.caption(
            f"{rule}{calibration}. The test split "
            f"(n = {card.metrics.get('test', {}).get('n', '?')}) was scored after selection; the limitations say if it was scored more than once."
        )

        st.markdown("#### Training curves")
        st.plotly_chart(training_curves(card), key=f"curves-{card.name}")
        if any("stage" in row for row in card.history):
            st.caption(
                f"Selected on the development set: tagger epoch {card.training['best_epochs'][0]}, relation-scorer epoch "
                f"{card.training.get('relation_best_epoch')}; {card.training.get('final_model', '')}. Training, word vectors included, "
                f"took {card.training.get('total_seconds', 0) / 60:.0f} min on {card.training.get('torch_threads', '?')} CPU threads."
            )
        elif card.training:
            st.caption(
                f"{card.training.get('members', 1)} member(s), selected epochs {card.training.get('best_epochs')} "
                f"({card.training.get('selection', 'best validation metric')}); "
                f"training took {card.training.get('seconds', 0):.0f} s on {card.training.get('torch_threads', '?')} CPU threads."
            )
        test = card.metrics.get("test", {})
        if "reliability" in test:
            st.markdown("#### Calibration")
            st.plotly_chart(reliability_diagram(card), key=f"reliability-{card.name}")
        if "roc" in test and card.threshold is not None:
            st.markdown("#### ROC curve")
            st.plotly_chart(roc_with_operating_point(card), key=f"roc-{card.name}")
            st.caption("Other thresholds, and PPV/NPV at your prevalence, are on the Imaging page's operating-point panel.")

        if card.ood:
            st.markdown("#### Out-of-distribution gate")
            st.markdown(f"{card.ood['method']}. Threshold {card.ood['threshold']:.1f}: {card.ood['threshold_rule']}.")
            flagged = pd.DataFrame(
                [{"images": title, "n": row["n"], "flagged as out of distribution": row["flagged"]} for title, row in card.ood["flagged"].items()]
            )
            st.dataframe(
                flagged,
                hide_index=True,
                column_config={"flagged as out of distribution": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1)},
            )

        st.markdown("#### Data")
        data = card.data
        st.markdown(f"**{data.get('name', 'unknown')}** · {data.get('licence', '')}  \n{data.get('citation', '')}")
        if "splits" in data:
            counts = {SPLIT_UNITS.get(card.name.split(".", 1)[0], "items"): data["splits"]}
            counts.update({kind: data[kind] for kind in ("mentions", "relations") if kind in data})
            st.dataframe(pd.DataFrame(counts).T)
        with st.expander("Files and checksums"):
            st.json(data.get("files", {}))
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
