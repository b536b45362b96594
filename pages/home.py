import pandas as pd
import streamlit as st

from medmodels import DISCLAIMER
from medmodels.registry import get_model_info, list_models
from pages._shared import installed_cards, require_entrypoint

require_entrypoint(__file__)

st.title("medmodels")
st.markdown("Deep-learning models for medical diagnosis and drug discovery, running locally on your computer.")
st.warning(DISCLAIMER, icon=":material/warning:")

imaging, sequences, literature = st.columns(3)
with imaging:
    st.subheader(":material/radiology: Imaging")
    st.markdown(
        "Upload a scan and see a CNN's diagnosis with calibrated probabilities, the image exactly as the model saw it, "
        "and the model's training curves and test metrics."
    )
    st.page_link("pages/imaging.py", label="Open imaging", icon=":material/arrow_forward:")
with sequences:
    st.subheader(":material/genetics: Sequence screening")
    st.markdown(
        "Paste a protein or peptide sequence, or a FASTA file of many, and get antimicrobial, anticancer and "
        "subcellular-location scores from recurrent models, with per-residue attention and a ranked table."
    )
    st.page_link("pages/sequences.py", label="Open sequence screening", icon=":material/arrow_forward:")
with literature:
    st.subheader(":material/article: Literature mining")
    st.markdown(
        "Browse chemicals, diseases and chemical-induced disease relations that a self-attention model extracts "
        "from medical abstracts, with the evidence sentence and the attention over its tokens."
    )
    st.page_link("pages/literature.py", label="Open literature mining", icon=":material/arrow_forward:")

st.subheader("Models")
cards = {card.name: card for card in installed_cards()}
rows = []
for name in list_models():
    info = get_model_info(name)
    card = cards.get(name)
    test = card.test_metrics if card else {}
    rows.append(
        {
            "model": name,
            "task": info.task,
            "classes": ", ".join(info.labels),
            "installed": "yes" if card else "not yet",
            "test ROC AUC": test.get("roc_auc"),
            "test accuracy": test.get("accuracy"),
            "test F1 (chemical / disease / CID)": " / ".join(f"{test[k]:.3f}" for k in ("chemical_f1", "disease_f1", "cid_f1")) if "cid_f1" in test else None,
            "trained on": card.data.get("name") if card else None,
        }
    )
st.dataframe(
    pd.DataFrame(rows),
    hide_index=True,
    column_config={
        "test ROC AUC": st.column_config.NumberColumn(format="%.3f"),
        "test accuracy": st.column_config.NumberColumn(format="%.3f"),
    },
)
st.page_link("pages/models.py", label="Model cards, training curves and calibration", icon=":material/model_training:")
