"""Decoding X-ray files: every supported kind, and a clear refusal for every bad one."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import InputError
from core.io import InputLimits, encode_png, read_xray, read_xray_file
from tests.helpers import (
    BASIC_TEXT_SR,
    compress_dicom,
    deflate_bomb_dicom,
    dicom_with_raw_tags,
    encode,
    make_dicom,
    png_bomb,
    png_with_chunk,
    pydicom_read,
    ramp,
)

# ------------------------------------------------------------------------------------------------------------------
# Real images


def test_reads_every_fullres_xray_in_the_convention(fullres_paths):
    for path in fullres_paths:
        xray = read_xray_file(path)
        with Image.open(path) as original:
            expected = np.asarray(original.convert("L"), dtype=np.float32) / 255
        assert xray.pixels.dtype == np.float32
        assert xray.shape == expected.shape
        assert 0.0 <= xray.pixels.min() and xray.pixels.max() <= 1.0
        # Grey (and grey stored as RGB) must match Pillow's own conversion to within one 8-bit level.
        assert np.abs(xray.pixels - expected).max() <= 1 / 255 + 1e-6, path.name
        assert xray.source_format == "JPEG"
        assert not any("Colour" in note for note in xray.notes), path.name
        assert len(xray.sha256) == 64


def test_pixels_are_read_only(real_xray):
    with pytest.raises(ValueError, match="read-only"):
        real_xray.pixels[0, 0] = 1.0


def test_png_round_trip_keeps_8bit_values():
    pixels = ramp(80, 256)
    xray = read_xray(encode_png(pixels), name="ramp.png")
    assert xray.source_format == "PNG"
    assert np.abs(xray.pixels - pixels).max() <= 0.5 / 255 + 1e-6  # rounding to 8 bits


# ------------------------------------------------------------------------------------------------------------------
# PNG and JPEG variants


def test_16bit_png_keeps_its_precision_and_uses_its_significant_bits():
    values = np.tile(np.arange(0, 4096, 4, dtype=np.uint16), (80, 1))  # 12-bit data in a 16-bit PNG
    xray = read_xray(encode(Image.fromarray(values)), name="twelve_bit.png")
    assert xray.pixels.max() == pytest.approx(4092 / 4095)
    assert len(np.unique(xray.pixels)) == 1024  # more levels than 8 bits could hold
    assert any("12-bit" in note for note in xray.notes)


def test_full_16bit_png_is_scaled_by_65535():
    values = np.tile(np.linspace(0, 65535, 300).astype(np.uint16), (70, 1))
    xray = read_xray(encode(Image.fromarray(values)), name="sixteen.png")
    assert xray.pixels.max() == pytest.approx(1.0)
    assert xray.pixels.min() == 0.0


def test_rgba_is_composited_over_black():
    grey = (ramp(80, 100) * 255).astype(np.uint8)
    alpha = np.full_like(grey, 255)
    alpha[:, :50] = 0  # left half transparent
    rgba = np.dstack([grey, grey, grey, alpha])
    xray = read_xray(encode(Image.fromarray(rgba, "RGBA")), name="rgba.png")
    assert np.all(xray.pixels[:, :50] == 0)
    assert np.allclose(xray.pixels[:, 50:], grey[:, 50:] / 255, atol=1e-6)
    assert any("Transparent" in note for note in xray.notes)


def test_opaque_rgba_and_grey_rgb_equal_grey():
    grey = (ramp(80, 100) * 255).astype(np.uint8)
    rgb = np.dstack([grey] * 3)
    for image in (Image.fromarray(rgb), Image.fromarray(np.dstack([rgb, np.full_like(grey, 255)]), "RGBA")):
        xray = read_xray(encode(image), name="grey.png")
        assert np.allclose(xray.pixels, grey / 255, atol=1e-6)
        assert xray.notes == () and not xray.colour


def test_colour_photograph_is_converted_and_flagged():
    colour = np.zeros((80, 80, 3), dtype=np.uint8)
    colour[..., 0] = 200  # red
    xray = read_xray(encode(colour), name="photo.png")
    assert xray.pixels.max() == pytest.approx(0.299 * 200 / 255, abs=1e-3)
    assert any("Colour image" in note for note in xray.notes) and xray.colour


def test_palette_png_decodes_to_its_grey_levels():
    grey = (ramp(70, 90) * 255).astype(np.uint8)
    palette_image = Image.fromarray(grey).convert("P")
    xray = read_xray(encode(palette_image), name="palette.png")
    assert np.allclose(xray.pixels, np.asarray(palette_image.convert("L")) / 255, atol=1e-6)


def test_exif_orientation_is_honoured():
    pixels = np.zeros((80, 120), dtype=np.uint8)
    pixels[:10, :] = 255  # a white band along the top of the stored (landscape) image
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    xray = read_xray(encode(image, "JPEG", exif=exif, quality=95), name="phone.jpg")
    assert xray.shape == (120, 80)  # displayed upright: portrait
    assert xray.pixels[:, -10:].mean() > 0.9  # the top band is now on the right
    assert xray.pixels[:, :-12].mean() < 0.1
    assert any("EXIF orientation 6" in note for note in xray.notes)


# ------------------------------------------------------------------------------------------------------------------
# DICOM


def test_dicom_monochrome2_window_and_spacing():
    stored = np.tile(np.arange(0, 4000, 40, dtype=np.uint16), (70, 1))  # 0..3960 across 100 columns
    data = make_dicom(stored, window=(2000, 1000))
    xray = read_xray(data, name="chest.dcm")
    assert xray.source_format == "DICOM"
    assert xray.pixel_spacing_mm == (0.15, 0.15)
    # Below centre - width/2 is black, above centre + width/2 white, the centre mid-grey.
    assert np.all(xray.pixels[:, stored[0] < 1490] == 0)
    assert np.all(xray.pixels[:, stored[0] > 2510] == 1)
    assert xray.pixels[0, 50] == pytest.approx(0.5, abs=0.01)  # stored 2000
    assert xray.metadata["Modality"] == "DX"
    assert "PatientName" not in xray.metadata


def test_dicom_monochrome1_is_inverted():
    stored = np.tile(np.arange(0, 4000, 40, dtype=np.uint16), (70, 1))
    mono2 = read_xray(make_dicom(stored), name="m2.dcm").pixels
    mono1 = read_xray(make_dicom(stored, photometric="MONOCHROME1"), name="m1.dcm")
    assert np.allclose(mono1.pixels, 1 - mono2, atol=1e-6)
    assert any("MONOCHROME1" in note for note in mono1.notes)


def test_dicom_rescale_slope_intercept_then_window_in_hounsfield_units():
    # CT-style: stored = HU + 1024, signed 16-bit, soft-tissue window 40/400 HU.
    hounsfield = np.tile(np.linspace(-1000, 1000, 101), (70, 1))
    data = make_dicom(hounsfield + 1024, bits_stored=16, signed=True, window=(40, 400), rescale=(1, -1024))
    xray = read_xray(data, name="ct.dcm")
    assert np.all(xray.pixels[hounsfield < -161] == 0)
    assert np.all(xray.pixels[hounsfield > 241] == 1)
    assert xray.pixels[0, 51] == pytest.approx((20 - (40 - 0.5)) / 399 + 0.5, abs=1e-3)  # 20 HU


def test_dicom_without_window_uses_the_full_range():
    stored = np.tile(np.arange(100, 1100, 10, dtype=np.uint16), (70, 1))
    xray = read_xray(make_dicom(stored), name="nowindow.dcm")
    assert xray.pixels.min() == 0 and xray.pixels.max() == 1
    assert any("full range" in note for note in xray.notes)


def test_dicom_without_preamble_is_read_by_extension():
    stored = np.tile(np.arange(0, 4000, 40, dtype=np.uint16), (70, 1))
    xray = read_xray(make_dicom(stored, preamble=False), name="legacy.dcm")
    assert xray.shape == (70, 100)


@pytest.mark.parametrize("syntax", ["JPEGLosslessProcess14_1", "JPEGLSLossless", "RLELossless"])
def test_compressed_dicom_decodes_losslessly(tmp_path, syntax):
    stored = np.tile(np.arange(0, 4000, 40, dtype=np.uint16), (70, 1))
    plain = make_dicom(stored)
    compressed = compress_dicom(plain, syntax, tmp_path)
    assert len(compressed) < len(plain)
    assert np.array_equal(read_xray(compressed, name="c.dcm").pixels, read_xray(plain, name="p.dcm").pixels)


def test_dicom_with_undecodable_pixel_data_says_so(tmp_path):
    stored = np.tile(np.arange(0, 4000, 40, dtype=np.uint16), (70, 1))
    compressed = bytearray(compress_dicom(make_dicom(stored), "JPEGLosslessProcess14_1", tmp_path))
    start = compressed.index(b"\xff\xd8")  # the JPEG stream inside the pixel data
    compressed[start + 200 : start + 600] = b"\x00" * 400  # corrupt the entropy-coded data and markers
    compressed[start : start + 2] = b"\x00\x00"
    message = _refusal(bytes(compressed), "broken_jpeg.dcm")
    assert "cannot be decoded" in message


# ------------------------------------------------------------------------------------------------------------------
# Refusals: each a sentence naming the file and what to do


def _refusal(data: bytes, name: str, limits: InputLimits | None = None) -> str:
    with pytest.raises(InputError) as caught:
        read_xray(data, name=name, **({"limits": limits} if limits else {}))
    message = str(caught.value)
    assert name in message and message.endswith("."), message
    return message


def test_empty_upload():
    assert "empty" in _refusal(b"", "nothing.png")


def test_text_file_named_png():
    assert "not an image" in _refusal(b"patient: 42\nfindings: none\n" * 10, "notes.png")


def test_truncated_jpeg(real_xray, fullres_paths):
    data = fullres_paths[0].read_bytes()
    assert "truncated or corrupt" in _refusal(data[: len(data) // 2], "cut.jpeg")


def test_20000_by_20000_decompression_bomb():
    message = _refusal(png_bomb(20_000), "bomb.png")
    assert "megapixels" in message


def test_image_over_our_pixel_limit_but_under_pillows():
    limits = InputLimits(max_pixels=1_000_000)
    message = _refusal(encode(np.zeros((1200, 1000), dtype=np.uint8)), "big.png", limits)
    assert "1000×1200 px" in message and "megapixels" in message


def test_10_by_10_image():
    assert "at least 64×64" in _refusal(encode(np.zeros((10, 10), dtype=np.uint8)), "tiny.png")


def test_file_over_the_byte_limit():
    assert "MB" in _refusal(b"\x00" * 2048, "huge.png", InputLimits(max_bytes=1024))


def test_unsupported_format():
    assert "JPEG, PNG and DICOM" in _refusal(encode(np.zeros((80, 80), dtype=np.uint8), "BMP"), "scan.bmp")


def test_dicom_without_pixel_data():
    message = _refusal(make_dicom(None, sop_class=BASIC_TEXT_SR), "report.dcm")
    assert "without pixel data" in message and "Basic Text SR" in message


def test_multiframe_dicom():
    frames = np.zeros((3, 70, 70), dtype=np.uint16)
    assert "3 frames" in _refusal(make_dicom(frames, frames=3), "cine.dcm")


def test_garbage_named_dcm():
    assert "not a readable DICOM" in _refusal(b"\x01\x02garbage" * 50, "broken.dcm")


def test_tiny_dicom():
    assert "at least 64×64" in _refusal(make_dicom(np.zeros((20, 20))), "tiny.dcm")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="No file at"):
        read_xray_file(tmp_path / "absent.png")


def test_png_misnamed_as_dcm_is_read_as_png():
    xray = read_xray(encode(np.zeros((70, 70), dtype=np.uint8)), name="misnamed.dcm")
    assert xray.source_format == "PNG"


# ------------------------------------------------------------------------------------------------------------------
# Hostile files: every one is a sentence, bounded in memory, never a traceback or a non-finite pixel


def test_a_deflate_bomb_is_refused_before_it_inflates():
    import tracemalloc

    bomb = deflate_bomb_dicom(300)  # 300 MB once inflated, from a file of a few hundred KB
    assert len(bomb) < 2**20
    tracemalloc.start()
    try:
        message = _refusal(bomb, "bomb.dcm")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "decompression bomb" in message and "128 MB" in message
    assert peak < 32 * 2**20  # measured in 1 MiB pieces, never held whole


def test_a_small_deflated_dicom_still_reads():
    import pydicom

    plain = pydicom_read(make_dicom(ramp(80, 80) * 4000))
    buffer = io.BytesIO()
    plain.save_as(buffer, implicit_vr=False, little_endian=True, enforce_file_format=True)
    plain.file_meta.TransferSyntaxUID = pydicom.uid.DeflatedExplicitVRLittleEndian
    deflated = io.BytesIO()
    plain.save_as(deflated, enforce_file_format=True)
    xray = read_xray(deflated.getvalue(), name="deflated.dcm")
    np.testing.assert_allclose(xray.pixels, read_xray(buffer.getvalue(), name="plain.dcm").pixels)


@pytest.mark.parametrize(
    "raw",
    [
        {"RescaleSlope": b"1e+308", "RescaleIntercept": b"0"},  # overflows to inf in the modality LUT
        {"RescaleSlope": b"NaN"},
        {"RescaleSlope": b"inf"},
        {"RescaleIntercept": b"-inf"},
        {"WindowCenter": b"NaN", "WindowWidth": b"400"},
        {"WindowCenter": b"40", "WindowWidth": b"inf"},
    ],
    ids=["slope-1e308", "slope-nan", "slope-inf", "intercept-inf", "centre-nan", "width-inf"],
)
def test_non_finite_lookup_tables_are_refused(raw):
    message = _refusal(dicom_with_raw_tags(ramp(80, 80) * 4000, raw), "lut.dcm")
    assert "finite" in message and "'lut.dcm'" in message


@pytest.mark.parametrize("kind", [b"zTXt", b"iCCP"])
def test_a_png_whose_text_or_profile_inflates_too_far_is_a_sentence(kind):
    assert "too large or malformed" in _refusal(png_with_chunk(kind, inflated_mb=50), "chunk.png")


def test_an_unreadable_pixel_spacing_is_said_and_not_used():
    xray = read_xray(dicom_with_raw_tags(ramp(80, 80) * 4000, {"PixelSpacing": b"abc\\defgh"}), name="spacing.dcm")
    assert xray.pixel_spacing_mm is None
    assert any("PixelSpacing is not a usable spacing" in note for note in xray.notes)


def test_an_unreadable_number_of_frames_is_a_sentence():
    message = _refusal(dicom_with_raw_tags(ramp(80, 80) * 4000, {"NumberOfFrames": b"abcd"}), "frames.dcm")
    assert "NumberOfFrames element is not a number" in message


def test_a_header_that_claims_more_decoded_bytes_than_allowed_is_refused():
    data = dicom_with_raw_tags(ramp(80, 80) * 4000, {})
    limits = InputLimits(max_decoded_bytes=80 * 80 * 2 - 1)
    with pytest.raises(InputError, match="once decoded"):
        read_xray(data, name="big.dcm", limits=limits)


def test_every_pydicom_test_file_decodes_or_is_refused_with_a_sentence():
    """pydicom's own test files: every transfer syntax, odd VRs, broken files (badVR.dcm's IS of '1A' escaped as a
    ValueError once). Each is an X-ray in the convention or an InputError, nothing else."""
    from pydicom.data import get_testdata_files

    paths = [Path(p) for p in get_testdata_files("**/*") if Path(p).is_file()]
    assert len(paths) >= 80 and any(p.name == "badVR.dcm" for p in paths)
    decoded = refused = 0
    for path in paths:
        try:
            xray = read_xray(path.read_bytes(), name=path.name)
        except InputError as error:
            assert str(error).startswith(f"'{path.name}'") and str(error).endswith("."), str(error)
            refused += 1
        else:
            assert np.isfinite(xray.pixels).all() and 0 <= xray.pixels.min() <= xray.pixels.max() <= 1
            decoded += 1
    print(f"pydicom test files: {decoded} decoded, {refused} refused with a sentence, of {len(paths)}")
    assert decoded >= 30 and refused >= 60


def _with_lut(sequence: str, item_elements: dict) -> bytes:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    dataset = pydicom_read(make_dicom(ramp(80, 80) * 4000))
    item = Dataset()
    for keyword, value in item_elements.items():
        setattr(item, keyword, value)
    setattr(dataset, sequence, Sequence([item]))
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_a_modality_lut_item_without_its_descriptor_is_a_sentence():
    assert "cannot be read" in _refusal(_with_lut("ModalityLUTSequence", {}), "lut.dcm")


def test_a_voi_lut_with_an_unsupported_entry_size_falls_back_to_the_full_range():
    lut = {"LUTDescriptor": [4, 0, 40], "LUTData": np.arange(4, dtype=np.uint16).tobytes()}
    xray = read_xray(_with_lut("VOILUTSequence", lut), name="voi.dcm")
    assert any("window could not be applied" in note for note in xray.notes) and np.isfinite(xray.pixels).all()


def test_a_bug_in_the_reader_is_not_passed_off_as_a_bad_file(monkeypatch):
    """Only errors raised inside pydicom are the file's fault; one raised by the project's own code stays a bug."""
    import core.io

    def broken(*args, **kwargs):
        raise KeyError("a bug in the project's code")

    monkeypatch.setattr(core.io, "_spacing_mm", broken)
    with pytest.raises(KeyError):
        read_xray(make_dicom(ramp(80, 80) * 4000), name="fine.dcm")


def test_a_kept_dicom_copy_holds_the_image_and_no_identifier():
    import pydicom

    from core.io import kept_copy

    stored = (np.arange(128 * 96).reshape(128, 96) % 4096).astype(np.uint16)
    data = make_dicom(stored, window=(2000, 4000), tags={
        "PatientID": "MRN123456", "PatientBirthDate": "19700101", "InstitutionName": "St Elsewhere",
        "AccessionNumber": "A998", "PixelSpacing": [0.15, 0.15], "PatientOrientation": ["L", "F"]})  # fmt: skip
    copy = kept_copy(data, name="DOE_JANE.dcm")
    dataset = pydicom.dcmread(io.BytesIO(copy))
    for identifier in ("PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "AccessionNumber"):
        assert identifier not in dataset
    assert b"MRN123456" not in copy and b"Test^Patient" not in copy and dataset.PatientIdentityRemoved == "YES"
    original, kept = read_xray(data, name="a.dcm"), read_xray(copy, name="a.dcm")
    assert np.array_equal(original.pixels, kept.pixels)
    assert kept.pixel_spacing_mm == original.pixel_spacing_mm == (0.15, 0.15)
    assert kept.metadata["PatientOrientation"] == original.metadata["PatientOrientation"]


def test_a_kept_jpeg_loses_its_metadata_but_not_its_pixels_or_orientation():
    from PIL import Image

    from core.io import kept_copy

    exif = Image.Exif()
    exif[0x010E] = "DOE^JANE MRN123456"  # ImageDescription
    exif[0x0112] = 6  # Orientation: turned 90°
    grey = (np.add.outer(np.arange(80), np.arange(120)) % 256).astype(np.uint8)
    data = encode(grey, "JPEG", exif=exif.tobytes(), quality=95)
    copy = kept_copy(data, name="DOE_JANE.jpeg")
    assert copy.startswith(b"\x89PNG") and b"MRN123456" not in copy
    original, kept = read_xray(data, name="a.jpeg"), read_xray(copy, name="a.png")
    assert original.shape == kept.shape == (120, 80) and np.array_equal(original.pixels, kept.pixels)
