"""Links to a scene's viewer, their QR codes (segno), and what keeps a headset from opening them."""

from __future__ import annotations

import io
import ipaddress
from urllib.parse import urlsplit

import segno

from core.errors import InputError
from core.xr.server import viewer_path

__all__ = ["headset_notes", "qr_png", "viewer_url"]


def viewer_url(app_url: str, scene_id: str) -> str:
    """The viewer's address for a scene, from the app's address as the browser sees it (any page of it)."""
    parts = urlsplit(app_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"The app's address must be an http(s) URL; got '{app_url}'.")
    return f"{parts.scheme}://{parts.netloc}{viewer_path(scene_id)}"


def qr_png(text: str, *, scale: int = 6) -> bytes:
    """A QR code (error correction M, quiet zone of 4 modules) as a PNG image."""
    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def headset_notes(url: str) -> list[str]:
    """Why a headset on the network might fail to open ``url`` (empty when nothing stands in the way).

    WebXR needs a secure context: ``https://``, or ``http://localhost`` on the headset itself (port forwarding).
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    local = host == "localhost" or (_is_ip(host) and ipaddress.ip_address(host).is_loopback)
    if local:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return [
            f"This link names {host}, which on a headset is the headset itself. Either forward the port over USB "
            f"(`adb reverse tcp:{port} tcp:{port}`, then open the link in the headset's "
            "browser), or open the app by its network address over HTTPS (README, 'Open in VR')."
        ]
    if parts.scheme != "https":
        return [
            'A headset will show the model but refuse "Enter VR" over plain HTTP (WebXR needs HTTPS): start the '
            "app with a certificate (README, 'Open in VR')."
        ]
    return []


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
