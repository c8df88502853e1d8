"""The lung model as the pages see it, loaded once per server process, and lungs found once per image. Torch loads
only when a page asks for lungs."""

from __future__ import annotations

import streamlit as st


@st.cache_resource(show_spinner="Loading the lung model…")
def lung_segmenter():
    """The shipped lung model (:class:`core.lungs.segment.LungSegmenter`), loaded once per server process."""
    from core.lungs.segment import LungSegmenter  # torch loads only when lungs are asked for

    return LungSegmenter()


@st.cache_resource(max_entries=16, show_spinner="Finding the lungs…")
def _lungs(_xray, sha256: str):
    return lung_segmenter().segment(_xray.pixels)


def lungs_cached(xray):
    """The lungs of an X-ray (:class:`core.lungs.segment.LungMask`), found once per image."""
    return _lungs(xray, xray.sha256)
