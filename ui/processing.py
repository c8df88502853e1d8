"""Cached calls into :mod:`core` for the pages, keyed by the image's SHA-256 and the step values.

``st.cache_resource`` (not ``cache_data``) because results are large read-only arrays: sharing them costs no copy,
and nothing downstream can modify them.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from core import pipeline, preprocess
from core.quality import Quality
from core.types import XRay

_MORPHOLOGY_LABELS = {
    "erode": "Erosion",
    "dilate": "Dilation",
    "open": "Opening",
    "close": "Closing",
    "gradient": "Gradient (stretched for display)",
    "tophat": "Top-hat (stretched for display)",
    "blackhat": "Black-hat (stretched for display)",
}
_STRETCHED = ("gradient", "tophat", "blackhat")  # small differences, invisible unless stretched


@st.cache_resource(max_entries=4, show_spinner="Processing…")
def _run(_xray: XRay, sha256: str, steps: tuple[pipeline.Step, ...]) -> tuple[pipeline.Stage, ...]:
    return pipeline.run_pipeline(_xray.pixels, steps)


def run_pipeline_cached(xray: XRay, steps: tuple[pipeline.Step, ...]) -> tuple[pipeline.Stage, ...]:
    """:func:`core.pipeline.run_pipeline` on the X-ray, computed once per image and recipe."""
    return _run(xray, xray.sha256, steps)


@st.cache_resource(max_entries=8, show_spinner="Measuring PSNR and SSIM…")
def _assess(_xray: XRay, sha256: str, steps: tuple[pipeline.Step, ...]) -> list[Quality | None]:
    return pipeline.assess_stages(run_pipeline_cached(_xray, steps))


def assess_cached(xray: XRay, steps: tuple[pipeline.Step, ...]) -> list[Quality | None]:
    """:func:`core.pipeline.assess_stages` for the X-ray's pipeline, computed once per image and recipe."""
    return _assess(xray, xray.sha256, steps)


@st.cache_resource(max_entries=4, show_spinner="Computing morphological views…")
def _morphology(
    _xray: XRay, sha256: str, steps: tuple[pipeline.Step, ...], shape: str, size: int
) -> dict[str, np.ndarray]:
    stages = run_pipeline_cached(_xray, steps)
    # Views of the processed image at full resolution: skip a final resize, which would shrink the details.
    source = stages[-2] if steps and steps[-1].is_geometric else stages[-1]
    views = preprocess.morphology_views(pipeline.to_display(source), shape=shape, size=size)
    return {
        _MORPHOLOGY_LABELS[op]: preprocess.normalize_minmax(view, high_percentile=99.9) if op in _STRETCHED else view
        for op, view in views.items()
    }


def morphology_views_cached(
    xray: XRay, steps: tuple[pipeline.Step, ...], shape: str, size: int
) -> dict[str, np.ndarray]:
    """Erosion, dilation, opening, closing, gradient, top-hat and black-hat of the processed image, for display."""
    return _morphology(xray, xray.sha256, steps, shape, size)
