import streamlit as st

from pages._shared import require_entrypoint, stop_unless_installed

require_entrypoint(__file__)

st.title("Literature mining")
st.caption("Chemicals, diseases and chemical-induced disease relations extracted from medical abstracts.")
stop_unless_installed("literature", "literature-mining")
