"""Streamlit helpers shared by the pages: input widgets, cached calls into :mod:`core`, common layout."""
