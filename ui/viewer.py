"""The image viewer in a page: cornerstone3D (bundled from ``viewer/image`` into ``ui/components/viewer``, served by
the app itself, no CDN) as a Streamlit component. One image, or two side by side kept in step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st
import streamlit.components.v1 as components

from core.errors import InputError
from core.export.viewer import viewer_args, viewer_pane
from core.io import read_xray
from core.store.predictions import PredictionStore, StoredPrediction
from core.types import XRay
from ui.auth import audit

__all__ = ["image_viewer", "pane", "record_pane"]

_VIEWER = components.declare_component("xray_viewer", path=str(Path(__file__).parent / "components" / "viewer"))


def image_viewer(panes: list[dict[str, Any]], *, key: str, colourmap: str = "inferno", height: int = 520,
                 outline: bool = False, opacity: float = 0.6) -> None:  # fmt: skip
    """Show ``panes`` (:func:`core.export.viewer.viewer_pane`, one or two) in the viewer: full resolution,
    window/level, zoom, pan, length and angle, overlays. Measurements stay in the viewer (sending them back would
    rerun the page on every drag)."""
    _VIEWER(**viewer_args(panes, colourmap=colourmap, height=height, outline=outline, opacity=opacity), key=key,
            default=None)  # fmt: skip


@st.cache_resource(max_entries=32)
def _cached_pane(_xray: XRay, key: tuple, title: str, _overlays: dict[str, Any]) -> dict[str, Any]:
    return viewer_pane(_xray, title=title, **_overlays)


def pane(xray: XRay, *, key: tuple, title: str, **overlays: Any) -> dict[str, Any]:
    """:func:`core.export.viewer.viewer_pane` (``overlays``: its ``pixels``, ``heat``, ``lungs``, ``sides``), packed
    once per ``key`` (what identifies them besides the image's SHA-256: a rerun then sends the same pane without
    packing it again)."""
    return _cached_pane(xray, (xray.sha256, *key), title, overlays)


def record_pane(store: PredictionStore, record: StoredPrediction, title: str, *, owner: str | None) -> dict[str, Any]:
    """A kept record's image as a pane, read as ``owner`` (``None``: an admin) once per record; a sentence if it
    cannot be read. Each reading is audited."""
    audit("view-record", record.id, once=True)
    return _record_pane(store, record.id, record.file_name, title, owner)


@st.cache_resource(max_entries=8)
def _record_pane(_store: PredictionStore, record_id: int, file_name: str, title: str,
                 owner: str | None) -> dict[str, Any]:  # fmt: skip
    data = _store.image(record_id, owner=owner)
    if data is None:
        raise InputError(f"Record #{record_id} has no kept image that you may see.")
    return viewer_pane(read_xray(data, name=file_name), title=title)
