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
# Pages show images at most ~1200 px wide; sending full-size 5-megapixel images would only slow every rerun.
DISPLAY_MAX_SIDE = 1200


def for_display(pixels: np.ndarray) -> np.ndarray:
    """A copy small enough to send to the browser (the computation itself stays at full resolution)."""
    return preprocess.shrink_to_fit(pixels, max_side=DISPLAY_MAX_SIDE)


# Cached by prefix: moving the control of the last step recomputes that step only, not the ones before it.
@st.cache_resource(max_entries=16, show_spinner="Processing…")
def _run(_xray: XRay, sha256: str, steps: tuple[pipeline.Step, ...]) -> tuple[pipeline.Stage, ...]:
    if not steps:
        return pipeline.run_pipeline(_xray.pixels, ())
    return pipeline.extend_pipeline(_run(_xray, sha256, steps[:-1]), steps[-1])


def run_pipeline_cached(xray: XRay, steps: tuple[pipeline.Step, ...]) -> tuple[pipeline.Stage, ...]:
    """:func:`core.pipeline.run_pipeline` on the X-ray, each prefix of the recipe computed once."""
    return _run(xray, xray.sha256, steps)


@st.cache_resource(max_entries=32, show_spinner="Measuring PSNR and SSIM…")
def _assess_last(_xray: XRay, sha256: str, steps: tuple[pipeline.Step, ...]) -> Quality | None:
    return pipeline.assess_stage(_run(_xray, sha256, steps), len(steps))


def assess_cached(xray: XRay, steps: tuple[pipeline.Step, ...]) -> list[Quality | None]:
    """:func:`core.pipeline.assess_stages` for the X-ray's pipeline, each stage measured once per prefix."""
    return [_assess_last(xray, xray.sha256, steps[:count]) for count in range(len(steps) + 1)]


@st.cache_resource(max_entries=4, show_spinner="Computing morphological views…")
def _morphology(
    _xray: XRay, sha256: str, steps: tuple[pipeline.Step, ...], shape: str, size: int
) -> dict[str, np.ndarray]:
    stages = run_pipeline_cached(_xray, steps)
    # Views of the processed image at full resolution: skip a final resize, which would shrink the details.
    source = stages[-2] if steps and steps[-1].is_geometric else stages[-1]
    views = preprocess.morphology_views(pipeline.to_display(source), shape=shape, size=size)
    return {
        _MORPHOLOGY_LABELS[op]: for_display(
            preprocess.normalize_minmax(view, high_percentile=99.9) if op in _STRETCHED else view
        )
        for op, view in views.items()
    }


def morphology_views_cached(
    xray: XRay, steps: tuple[pipeline.Step, ...], shape: str, size: int
) -> dict[str, np.ndarray]:
    """Erosion, dilation, opening, closing, gradient, top-hat and black-hat of the processed image, for display."""
    return _morphology(xray, xray.sha256, steps, shape, size)
