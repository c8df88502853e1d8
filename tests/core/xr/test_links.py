"""Links to the viewer, their QR codes, and the notes on what keeps a headset out."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.errors import InputError
from core.xr.links import headset_notes, qr_png, viewer_url


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
