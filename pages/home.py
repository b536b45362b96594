import pandas as pd
import streamlit as st

from medmodels import DISCLAIMER
from medmodels.registry import get_model_info, list_models
from pages._shared import WORKFLOWS, installed_cards, require_entrypoint

require_entrypoint(__file__)

st.title("medmodels")
st.markdown("Deep-learning models for medical diagnosis and drug discovery, running locally on your computer.")
st.warning(DISCLAIMER, icon=":material/warning:")

for column, workflow in zip(st.columns(len(WORKFLOWS)), WORKFLOWS):
    with column:
        st.subheader(f"{workflow.icon} {workflow.title}")
        st.markdown(workflow.blurb)
        st.page_link(workflow.page, label=f"Open {workflow.title.lower()}", icon=":material/arrow_forward:")

st.subheader("Models")
cards = {card.name: card for card in installed_cards()}
rows = []
for name in list_models():
    info, card = get_model_info(name), cards.get(name)
    figures = card.metrics.test.headline() if card is not None and card.metrics is not None else {}
    rows.append(
        {
            "model": name,
            "installed": "yes" if card else "not yet",
            "version": card.version if card else None,
            "test scorings": card.test_looks if card else None,
            **{f"test {label}": value for label, value in figures.items()},
            "trained on": card.data.name if card is not None and card.data is not None else None,
            "task": info.task,
            "classes": ", ".join(info.labels),
        }
    )
# The figures first, in view without scrolling; the long descriptions last.
details = ["trained on", "task", "classes"]
columns = [column for column in dict.fromkeys(key for row in rows for key in row) if column not in details] + details
table = pd.DataFrame(rows, columns=columns)
st.dataframe(
    table,
    hide_index=True,
    column_config={
        **{
            column: st.column_config.NumberColumn(format="%.3f")
            for column in table.columns
            if column.startswith("test ") and column != "test scorings"
        },
        "test scorings": st.column_config.NumberColumn(
            help="How many times each model's test split has been scored, over all its versions"
        ),
    },
)
st.page_link("pages/models.py", label="Model cards, training curves and calibration", icon=":material/model_training:")
