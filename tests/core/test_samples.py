"""The shipped sample X-rays."""

from core.io import read_xray_file
from core.samples import SAMPLES_DIR, list_samples


def test_samples_are_real_labelled_xrays_with_attribution():
    samples = list_samples()
    assert {s.label for s in samples} == {"NORMAL", "PNEUMONIA"}
    assert len(samples) >= 4
    assert "CC BY 4.0" in (SAMPLES_DIR / "README.md").read_text()
    for sample in samples:
        xray = read_xray_file(sample.path)
        assert min(xray.shape) >= 500  # realistic sizes, not thumbnails
        assert sample.path.stat().st_size < 300_000  # small enough to ship
        assert sample.path.name in sample.title
