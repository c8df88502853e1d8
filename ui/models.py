"""The shipped classifier as the pages see it (metadata, model card, the diagnoser) and the prediction records,
each built once per server process."""

from __future__ import annotations

import streamlit as st

from core.classify.checkpoint import DEFAULT_MODEL_PATH, ModelMeta, read_meta
from core.diagnose import Diagnoser
from core.store.files import file_version
from core.store.predictions import PredictionStore
from core.store.registry import ModelRegistry


@st.cache_resource(show_spinner=False)
def default_model_meta() -> ModelMeta:
    """The default model's metadata (raises :class:`~core.errors.ModelError` when the file is missing or bad)."""
    return read_meta(DEFAULT_MODEL_PATH)


@st.cache_resource(show_spinner=False)
def default_model_version() -> str:
    """The shipped model's version (its file's SHA-256, first 12 hex digits)."""
    return file_version(DEFAULT_MODEL_PATH)


@st.cache_resource(show_spinner=False)
def default_model_card() -> str | None:
    """The default model's card (Markdown), or ``None`` when it has none."""
    card = DEFAULT_MODEL_PATH.with_name("MODEL_CARD.md")
    return card.read_text() if card.is_file() else None


@st.cache_resource(max_entries=2, show_spinner="Loading the model…")
def _diagnoser(path: str, version: str) -> Diagnoser:
    return Diagnoser(path)


def active_diagnoser() -> Diagnoser:
    """The active model (the registry's, else the shipped default) with its heat-map machinery: built once per
    model and server process, shared by sessions; activating another model switches every session to it."""
    entry = model_registry().active()
    if entry is None:
        return _diagnoser(str(DEFAULT_MODEL_PATH), "shipped")
    return _diagnoser(str(model_registry().local_path(entry)), entry.version)


@st.cache_resource(show_spinner=False)
def model_registry() -> ModelRegistry:
    """The model registry (same database as the records)."""
    return ModelRegistry()


@st.cache_resource(show_spinner=False)
def prediction_store() -> PredictionStore:
    """The prediction records (``XRAY_DB_URL``, else the SQLite file in the data folder)."""
    return PredictionStore()
