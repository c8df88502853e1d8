"""Builders of small test files (PNG, JPEG, DICOM, decompression bombs) and images with known answers."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

DIGITAL_XRAY_STORAGE = UID("1.2.840.10008.5.1.4.1.1.1.1")  # Digital X-Ray Image Storage - For Presentation
BASIC_TEXT_SR = UID("1.2.840.10008.5.1.4.1.1.88.11")  # a structured report: no pixels


def encode(image: Image.Image | np.ndarray, fmt: str = "PNG", **params) -> bytes:
    """Encode a Pillow image (or an array Pillow understands) to bytes."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def ramp(height: int = 96, width: int = 128) -> np.ndarray:
    """A horizontal ramp from 0 to 1, float32 ``(height, width)``."""
    return np.tile(np.linspace(0.0, 1.0, width, dtype=np.float32), (height, 1))


def disk_image(size: int = 128, radius: int = 30, *, value: float = 1.0) -> np.ndarray:
    """A bright disk centred on a black square, float32."""
    rows, columns = np.mgrid[:size, :size]
    centre = (size - 1) / 2
    return (((rows - centre) ** 2 + (columns - centre) ** 2) <= radius**2).astype(np.float32) * value


def make_dicom(
    stored: np.ndarray | None,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int = 12,
    signed: bool = False,
    window: tuple[float, float] | None = None,
    rescale: tuple[float, float] | None = None,
    frames: int = 1,
    sop_class: UID = DIGITAL_XRAY_STORAGE,
    preamble: bool = True,
    tags: dict[str, str] | None = None,
) -> bytes:
    """A DICOM file holding ``stored`` (``(H, W)`` or ``(frames, H, W)`` integers), or no pixels if ``None``.

    ``window`` is (centre, width); ``rescale`` is (slope, intercept); ``tags`` override or add elements by keyword
    (``Modality``, ``BodyPartExamined``, ``ViewPosition``...).
    """
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = sop_class
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = "DX"
    dataset.BodyPartExamined = "CHEST"
    dataset.PatientName = "Test^Patient"
    for keyword, value in (tags or {}).items():
        setattr(dataset, keyword, value)
    if stored is not None:
        dtype = np.int16 if signed else np.uint16
        array = np.asarray(stored).astype(dtype)
        dataset.Rows, dataset.Columns = array.shape[-2:]
        dataset.SamplesPerPixel = 1
        dataset.PhotometricInterpretation = photometric
        dataset.BitsAllocated = 16
        dataset.BitsStored = bits_stored
        dataset.HighBit = bits_stored - 1
        dataset.PixelRepresentation = int(signed)
        dataset.PixelSpacing = [0.15, 0.15]
        if frames > 1:
            dataset.NumberOfFrames = frames
        if window is not None:
            dataset.WindowCenter, dataset.WindowWidth = window
        if rescale is not None:
            dataset.RescaleSlope, dataset.RescaleIntercept = rescale
        dataset.PixelData = array.tobytes()
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=preamble, implicit_vr=False, little_endian=True)
    return buffer.getvalue()


def compress_dicom(data: bytes, syntax: str, tmp_dir) -> bytes:
    """Re-encode a DICOM file's pixels with GDCM; ``syntax`` names a ``gdcm.TransferSyntax`` constant."""
    import gdcm

    source, target = tmp_dir / "plain.dcm", tmp_dir / "compressed.dcm"
    source.write_bytes(data)
    reader = gdcm.ImageReader()
    reader.SetFileName(str(source))
    assert reader.Read()
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(getattr(gdcm.TransferSyntax, syntax)))
    change.SetInput(reader.GetImage())
    assert change.Change()
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(target))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    assert writer.Write()
    return target.read_bytes()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(side: int = 20_000) -> bytes:
    """A valid 8-bit greyscale PNG of ``side × side`` black pixels: a few hundred KB that decode to side² bytes."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + pixels
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def deflate_bomb_dicom(inflated_mb: int = 300) -> bytes:
    """A Deflated Explicit VR Little Endian DICOM of a few hundred KB whose dataset inflates to ``inflated_mb`` MB
    (a private OB element of zeros), built in pieces so that making it costs no memory."""
    from pydicom.filewriter import write_file_meta_info
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DIGITAL_XRAY_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    head = io.BytesIO()
    head.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(head, meta)
    size = inflated_mb * 2**20
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    element = struct.pack("<HH2sHI", 0x0009, 0x1001, b"OB", 0, size)  # (0009,1001) OB, 32-bit length
    body = [compressor.compress(element)]
    zeros = b"\x00" * 2**20
    body += [compressor.compress(zeros) for _ in range(inflated_mb)]
    return head.getvalue() + b"".join(body) + compressor.flush()


def png_with_chunk(kind: bytes, inflated_mb: int = 50) -> bytes:
    """A small valid greyscale PNG carrying a ``zTXt`` or ``iCCP`` chunk whose compressed payload inflates to
    ``inflated_mb`` MB."""
    payload = zlib.compress(b"\x00" * (inflated_mb * 2**20), 9)
    # zTXt: keyword, NUL, method 0, data; iCCP: profile name, NUL, method 0, data (the same layout).
    chunk = _png_chunk(kind, b"Comment\x00\x00" + payload)
    plain = encode(np.full((80, 80), 128, dtype=np.uint8))
    return plain[:33] + chunk + plain[33:]  # after the signature (8) and IHDR (25)


def dicom_with_raw_tags(stored: np.ndarray, raw: dict[str, bytes]) -> bytes:
    """A DICOM of ``stored`` whose elements named in ``raw`` hold these exact bytes (malformed values that pydicom
    would refuse to write through its attributes, e.g. ``{"PixelSpacing": b"abc\\\\defgh"}``)."""
    from pydicom.datadict import dictionary_VR, tag_for_keyword
    from pydicom.dataelem import RawDataElement

    plain = pydicom_read(make_dicom(stored))
    for keyword, value in raw.items():
        tag = tag_for_keyword(keyword)
        if len(value) % 2:
            value += b" "
        plain[tag] = RawDataElement(tag, dictionary_VR(tag), len(value), value, 0, False, True)
    buffer = io.BytesIO()
    plain.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def pydicom_read(data: bytes):
    """A DICOM file's dataset (pydicom)."""
    import pydicom

    return pydicom.dcmread(io.BytesIO(data))
