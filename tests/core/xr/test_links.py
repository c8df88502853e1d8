"""Links to the viewer, their QR codes, and the notes on what keeps a headset out."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.errors import InputError
from core.xr.links import app_url, headset_notes, qr_png, viewer_url


def test_the_viewer_url_keeps_the_address_the_browser_used_and_drops_the_page():
    assert viewer_url("https://10.0.0.5:8501/reconstruct", "ab" * 16) == f"https://10.0.0.5:8501/xr/{'ab' * 16}"
    with pytest.raises(InputError, match="http"):
        viewer_url("file:///tmp/x", "ab" * 16)


def test_the_qr_code_reads_back_as_the_link():
    url = f"https://192.168.1.20:8501/xr/{'0f' * 16}"
    image = cv2.imdecode(np.frombuffer(qr_png(url), np.uint8), cv2.IMREAD_GRAYSCALE)
    decoded, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert decoded == url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:8501/xr/x", "adb reverse tcp:8501 tcp:8501"),
        ("http://127.0.0.1:9000/xr/x", "adb reverse tcp:9000 tcp:9000"),
        ("http://192.168.1.20:8501/xr/x", "HTTPS"),
        ("https://192.168.1.20:8501/xr/x", None),
    ],
)
def test_headset_notes(url, expected):
    notes = headset_notes(url)
    assert (notes == []) if expected is None else (expected in notes[0])


def test_the_app_url_is_the_public_one_where_set_else_the_browsers():
    assert app_url(None, "http://10.0.0.5:8501/diagnose") == "http://10.0.0.5:8501/diagnose"
    assert app_url("", None) == "http://localhost:8501"
    assert app_url(" https://xray.example.org:8501/ ", "http://127.0.0.1:8501") == "https://xray.example.org:8501/"


@pytest.mark.parametrize(
    ("public_url", "expected"),
    [
        ("https://admin:s3cret@xray.example.org", "user name or password"),
        ("https://token@xray.example.org:8501", "user name or password"),
        ("https://xray.example.org/?session=1", "query"),
        ("https://xray.example.org/#top", "fragment"),
        ("https://xray.example.org?", "query"),
        ("https://hospital.example.org/xray", "path"),
        ("ftp://xray.example.org", "http"),
        ("xray.example.org:8501", "http"),
        ("https://xray.example.org:99999", "port"),
        ("http://[::1", "cannot be read"),
    ],
)
def test_a_public_url_with_credentials_or_junk_is_refused_without_repeating_the_password(public_url, expected):
    with pytest.raises(InputError, match=expected) as refusal:
        app_url(public_url, "http://localhost:8501")
    message = str(refusal.value)
    assert "XRAY_PUBLIC_URL" in message and message.endswith(".")  # a sentence naming what to fix
    assert "s3cret" not in message and "token" not in message


def test_a_viewer_url_never_carries_credentials():
    with pytest.raises(InputError, match="user name or password") as refusal:
        viewer_url("https://admin:s3cret@10.0.0.5:8501/reconstruct", "ab" * 16)
    assert "s3cret" not in str(refusal.value) and "10.0.0.5:8501" in str(refusal.value)
