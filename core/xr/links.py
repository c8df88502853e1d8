"""Links to a scene's viewer, their QR codes (segno), and what keeps a headset from opening them."""

from __future__ import annotations

import io
import ipaddress
from urllib.parse import urlsplit

import segno

from core.errors import InputError
from core.xr.server import viewer_path

__all__ = ["app_url", "headset_notes", "qr_png", "viewer_url"]

_DEFAULT_URL = "http://localhost:8501"


def _without_credentials(url: str) -> str:
    """``url`` with any ``user:password@`` removed, so that a refusal never repeats a password."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return url.rpartition("@")[2]
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def app_url(public_url: str | None, browser_url: str | None) -> str:
    """The app's address for links and QR codes: the configured public address, else the browser's, else localhost.

    Parameters
    ----------
    public_url : str or None
        ``XRAY_PUBLIC_URL`` (set behind a proxy, or by ``scripts/serve_https.sh``): an http(s) address alone, such
        as ``https://10.0.0.5:8501``. It is printed in every link and QR code, so one carrying a user name or
        password is refused, and so is a path, a query (``?…``) or a fragment (``#…``) that links would drop.
    browser_url : str or None
        The address the browser used to open the page (``st.context.url``).

    Returns
    -------
    str

    Raises
    ------
    InputError
        A public address that is not an http(s) URL, or carries credentials, a query or a fragment.
    """
    if not public_url:
        return browser_url or _DEFAULT_URL
    shown = _without_credentials(public_url.strip())
    try:
        parts = urlsplit(public_url.strip())
    except ValueError as error:
        raise InputError(f"XRAY_PUBLIC_URL cannot be read as an address ({error}); got '{shown}'.") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"XRAY_PUBLIC_URL must be an http(s) address such as 'https://10.0.0.5:8501'; got '{shown}'.")
    if "@" in parts.netloc:
        raise InputError(
            f"XRAY_PUBLIC_URL must not carry a user name or password: it is printed in every link and QR code. "
            f"Set it to the address alone ('{shown}') and protect the app in front of it instead."
        )
    if parts.query or parts.fragment or public_url.strip().endswith(("?", "#")):
        raise InputError(
            f"XRAY_PUBLIC_URL must be the app's address alone, without a query ('?…') or fragment ('#…'); got "
            f"'{shown}'."
        )
    if parts.path not in ("", "/"):
        raise InputError(
            f"XRAY_PUBLIC_URL must be the app's address alone: links to the viewer are made at its root, so a path "
            f"('{parts.path}') would be lost from them; got '{shown}'. Serve the app at the root of its address."
        )
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number or out of range)
    except ValueError as error:
        raise InputError(f"XRAY_PUBLIC_URL has an invalid port ({error}); got '{shown}'.") from error
    return public_url.strip()


def viewer_url(app_url: str, scene_id: str) -> str:
    """The viewer's address for a scene, from the app's address (any page of it; see :func:`app_url`).

    An address that carries a user name or password is refused: the link is shown and encoded in a QR code.
    """
    parts = urlsplit(app_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(
            f"The app's address must be an http(s) URL; got '{_without_credentials(app_url)}'. Set XRAY_PUBLIC_URL "
            "to the address a headset should open, such as 'https://10.0.0.5:8501'."
        )
    if "@" in parts.netloc:
        raise InputError(
            "The app's address must not carry a user name or password (links and QR codes would show them); got "
            f"'{_without_credentials(app_url)}'."
        )
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
