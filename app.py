"""Entry point: page configuration and navigation only (run with ``streamlit run app.py``)."""

import streamlit as st

from ui.layout import research_notice

st.set_page_config(page_title="X-ray workstation", page_icon=":material/radiology:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/preprocessing_lab.py", title="Preprocessing lab", icon=":material/science:"),
    ]
)
research_notice()
navigation.run()
