import streamlit as st

from pages._shared import require_entrypoint, stop_unless_installed

require_entrypoint(__file__)

st.title("Sequence screening")
st.caption("Antimicrobial, anticancer and subcellular-location scores for protein and peptide sequences.")
stop_unless_installed("sequence", "sequence-screening")
