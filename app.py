"""medmodels dashboard: ``streamlit run app.py``."""

import streamlit as st

from medmodels import DISCLAIMER
from pages._shared import APP_STARTED, REQUESTED_PAGE

st.set_page_config(page_title="medmodels", page_icon=":material/biotech:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/imaging.py", title="Imaging", icon=":material/radiology:"),
    st.Page("pages/sequences.py", title="Sequence screening", icon=":material/genetics:"),
    st.Page("pages/literature.py", title="Literature mining", icon=":material/article:"),
    st.Page("pages/models.py", title="Models", icon=":material/model_training:"),
]

navigation = st.navigation(PAGES)
st.session_state[APP_STARTED] = True
if requested := st.session_state.pop(REQUESTED_PAGE, None):
    st.switch_page(requested)
with st.sidebar:
    st.caption(DISCLAIMER)
navigation.run()
