"""The shipped classifier as the pages see it (metadata, model card, the diagnoser) and the prediction records,
each built once per server process."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.classify.checkpoint import DEFAULT_MODEL_PATH, load_checkpoint
from core.diagnose import Diagnoser
from core.store.predictions import PredictionStore


@st.cache_resource(show_spinner=False)
def default_model_meta() -> dict[str, Any]:
    """The default model's metadata (raises :class:`~core.errors.ModelError` when the file is missing or bad)."""
    return load_checkpoint(DEFAULT_MODEL_PATH)["meta"]


@st.cache_resource(show_spinner=False)
def default_model_card() -> str | None:
    """The default model's card (Markdown), or ``None`` when it has none."""
    card = DEFAULT_MODEL_PATH.with_name("MODEL_CARD.md")
    return card.read_text() if card.is_file() else None


@st.cache_resource(show_spinner="Loading the model…")
def default_diagnoser() -> Diagnoser:
    """The default model with its heat-map machinery, built once per server process and shared by sessions."""
    return Diagnoser(DEFAULT_MODEL_PATH)


@st.cache_resource(show_spinner=False)
def prediction_store() -> PredictionStore:
    """The prediction records (``XRAY_DB_URL``, else the SQLite file in the data folder)."""
    return PredictionStore()
