"""Layout pieces every page shares."""

import streamlit as st

RESEARCH_NOTICE = (
    "**Research and teaching tool — not a medical device.** Its outputs are not a diagnosis and must not be "
    "used for patient care."
)


def research_notice() -> None:
    """The persistent notice, in the sidebar of every page."""
    st.sidebar.warning(RESEARCH_NOTICE, icon=":material/warning:")
