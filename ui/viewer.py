"""The image viewer in a page: cornerstone3D (bundled from ``viewer/image`` into ``ui/components/viewer``, served by
the app itself, no CDN) as a Streamlit component. One image, or two side by side kept in step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit.components.v1 as components

from core.export.viewer import viewer_args

__all__ = ["image_viewer"]

_VIEWER = components.declare_component("xray_viewer", path=str(Path(__file__).parent / "components" / "viewer"))


def image_viewer(panes: list[dict[str, Any]], *, key: str, colourmap: str = "inferno", height: int = 520,
                 outline: bool = False, opacity: float = 0.6) -> dict[str, Any] | None:  # fmt: skip
    """Show ``panes`` (:func:`core.export.viewer.viewer_pane`, one or two) in the viewer: full resolution,
    window/level, zoom, pan, length and angle, overlays. Returns ``{"measurements": [...]}`` once the user has
    measured, else None."""
    return _VIEWER(**viewer_args(panes, colourmap=colourmap, height=height, outline=outline, opacity=opacity),
                   key=key, default=None)  # fmt: skip
