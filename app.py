"""medmodels dashboard: ``streamlit run app.py``."""

import streamlit as st

from medmodels import DISCLAIMER
from pages._shared import WORKFLOWS, Keys, init_session_state

st.set_page_config(page_title="medmodels", page_icon=":material/biotech:", layout="wide")

# Pages that serve a workflow's page, listed right after it.
FOLLOWERS = {"pages/imaging.py": [st.Page("pages/train.py", title="Train on your scans", icon=":material/school:")]}
PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    *(
        page
        for workflow in WORKFLOWS
        for page in (
            st.Page(workflow.page, title=workflow.title, icon=workflow.icon),
            *FOLLOWERS.get(workflow.page, []),
        )
    ),
    st.Page("pages/models.py", title="Models", icon=":material/model_training:"),
]

navigation = st.navigation(PAGES)
init_session_state()
st.session_state[Keys.APP_STARTED] = True
if requested := st.session_state.pop(Keys.REQUESTED_PAGE, None):
    st.switch_page(requested)
with st.sidebar:
    st.caption(DISCLAIMER)
navigation.run()
