"""Cached diagnoses for the Diagnose page: keyed by the model's version and each image's SHA-256, so a rerun (a
moved slider, another session opening the same file) costs nothing."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core.diagnose import Diagnoser, Diagnosis
from core.types import Prediction, XRay
from ui.memo import memo
from ui.progress import ProgressBar


def diagnose_cached(diagnoser: Diagnoser, xray: XRay, *, method: str, faithfulness: bool) -> Diagnosis:
    """:meth:`Diagnoser.diagnose`, computed once per model, image, method and faithfulness setting; Score-CAM (a
    few seconds an image) shows its progress and the time left, the others a spinner."""

    def compute() -> Diagnosis:
        if method != "Score-CAM":
            with st.spinner("Computing the heat map…"):
                return diagnoser.diagnose(xray, method=method, faithfulness=faithfulness)
        with ProgressBar(f"Score-CAM on {xray.name}") as progress:
            return diagnoser.diagnose(xray, method=method, faithfulness=faithfulness, progress=progress)

    key = (diagnoser.classifier.version, xray.sha256, method, faithfulness)
    return memo("diagnoses", 64).get_or_compute(key, compute)


@st.cache_resource(max_entries=16, show_spinner="Classifying…")
def _predictions(
    _diagnoser: Diagnoser, _xrays: Sequence[XRay], version: str, hashes: tuple[str, ...]
) -> list[Prediction]:
    return _diagnoser.predict(_xrays)


def predict_cached(diagnoser: Diagnoser, xrays: Sequence[XRay]) -> list[Prediction]:
    """Verdicts for a batch of X-rays (no heat maps), computed once per model and set of images."""
    return _predictions(diagnoser, xrays, diagnoser.classifier.version, tuple(x.sha256 for x in xrays))
