"""Decoding and encoding of X-ray files: the only module that reads image bytes (Pillow, pydicom).

Every file a user gives goes through :func:`read_xray`, which either returns an :class:`~core.types.XRay` in the
project's convention (see :mod:`core.types`) or raises :class:`~core.errors.InputError` with a sentence saying
what is wrong with the file and what to do about it, whatever the bytes are. Limits on size, pixel count and what any
decoder may inflate are checked from the file's header *before* anything is decompressed, so a small file that
claims a huge image or dataset (a decompression bomb) costs nothing. Pixels that are not finite after the file's
lookup tables (an absurd rescale slope, a NaN window) are refused: no verdict is ever made on them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pydicom.errors
import pydicom.filereader
from PIL import Image, ImageOps, UnidentifiedImageError
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import DeflatedExplicitVRLittleEndian

from core.errors import InputError
from core.types import Volume, XRay, pixels_to_uint8

__all__ = [
    "DEFAULT_LIMITS",
    "SUPPORTED_EXTENSIONS",
    "InputLimits",
    "encode_png",
    "encode_png_rgb",
    "kept_copy",
    "read_volume",
    "read_xray",
    "read_xray_file",
]

#: File name endings offered in upload dialogs.
SUPPORTED_EXTENSIONS = ("png", "jpg", "jpeg", "dcm", "dicom")

_DICOM_EXTENSIONS = (".dcm", ".dicom")
_RASTER_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG"}  # MPO: a JPEG with extra frames (some cameras)
# Tags safe and useful to show; nothing that identifies a patient.
_DICOM_TAGS_KEPT = (
    "Modality",
    "BodyPartExamined",
    "ViewPosition",
    "PatientOrientation",  # the image's directions in the patient (e.g. L\\F): the viewer's R/L markers
    "PhotometricInterpretation",
    "BitsStored",
    "Manufacturer",
    "StudyDescription",
    "SeriesDescription",
)
_PYDICOM_DIR = Path(pydicom.__file__).parent
# Weights of ITU-R BT.601 luma, the conversion most viewers apply to a colour image.
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Channels differing by more than this (on the 0-255 scale) make an image "colour": JPEG compression alone
# leaves grey images with channel differences of 1-2 levels.
_GREY_TOLERANCE_8BIT = 3


@dataclass(frozen=True)
class InputLimits:
    """Limits that protect the server from files that are too large or too small to be chest X-rays.

    Attributes
    ----------
    max_bytes : int
        Largest accepted file. The default (64 MiB) holds an uncompressed 16-bit 5000×5000 DICOM.
    max_pixels : int
        Largest accepted width × height, checked from the header before decoding. The default (40 MP) is above
        the largest flat-panel detectors (about 4300×4300 = 18 MP) and far below what exhausts memory.
    min_side_px : int
        Smallest accepted width and height; below it no anatomy can be seen.
    max_decoded_bytes : int
        Most that any decoder may produce from one file: a deflated DICOM dataset once inflated, or a DICOM's pixel
        data once decompressed (rows × columns × samples × bytes per sample, from the header). The default
        (128 MiB) holds a 40-megapixel 8-bit colour or 16-bit grey image; more is a decompression bomb.
    """

    max_bytes: int = 64 * 1024 * 1024
    max_pixels: int = 40_000_000
    min_side_px: int = 64
    max_decoded_bytes: int = 128 * 1024 * 1024


DEFAULT_LIMITS = InputLimits()


def read_xray_file(path: str | Path, *, limits: InputLimits = DEFAULT_LIMITS) -> XRay:
    """Read an X-ray from a file on disk; see :func:`read_xray`.

    Raises
    ------
    InputError
        If the file is missing, too large, or cannot be decoded as an X-ray.
    """
    path = Path(path)
    try:
        if not path.is_file():
            raise InputError(f"No file at '{path}'. Check the path; JPEG, PNG or DICOM files are expected.")
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise InputError(_too_many_bytes(path.name, size, limits))
        data = path.read_bytes()
    except OSError as error:  # no permission, a file that vanished, an I/O error
        raise InputError(
            f"'{path}' cannot be read ({error.strerror or error}). Check that it can be opened."
        ) from error
    return read_xray(data, name=path.name, limits=limits)


def read_xray(data: bytes, *, name: str, limits: InputLimits = DEFAULT_LIMITS) -> XRay:
    """Decode a JPEG, PNG or DICOM file into an :class:`~core.types.XRay`.

    Parameters
    ----------
    data : bytes
        The whole file.
    name : str
        Its file name, used in messages and to recognise DICOM files without the ``DICM`` preamble.
    limits : InputLimits
        Size limits; see :class:`InputLimits`.

    Returns
    -------
    XRay
        Pixels as float32 ``(H, W)`` in ``[0, 1]``, 0 black, EXIF orientation applied, with notes of every
        conversion made.

    Raises
    ------
    InputError
        For an empty, oversized, undersized, truncated, corrupt or unsupported file, a multi-frame DICOM or one
        without pixel data. The message names the file and says what to do.
    """
    name = Path(name).name or "upload"
    if not data:
        raise InputError(f"'{name}' is empty (0 bytes). Choose the file again; the upload may have failed.")
    if len(data) > limits.max_bytes:
        raise InputError(_too_many_bytes(name, len(data), limits))
    has_preamble = data[128:132] == b"DICM"
    is_raster = data.startswith((b"\x89PNG", b"\xff\xd8\xff"))  # PNG and JPEG signatures
    if has_preamble or (name.lower().endswith(_DICOM_EXTENSIONS) and not is_raster):
        xray = _read_dicom(data, name=name, limits=limits, force=not has_preamble)
    else:
        xray = _read_raster(data, name=name, limits=limits)
    return dataclasses.replace(xray, sha256=hashlib.sha256(data).hexdigest())


# What a kept DICOM copy holds (:func:`kept_copy`): the image and how to display and measure it, nothing else.
_DICOM_IMAGE_TAGS = (
    "SOPClassUID", "Modality", "BodyPartExamined", "ViewPosition", "PatientOrientation", "ImageLaterality",
    "SamplesPerPixel", "PhotometricInterpretation", "PlanarConfiguration", "Rows", "Columns", "BitsAllocated",
    "BitsStored", "HighBit", "PixelRepresentation", "PixelSpacing", "ImagerPixelSpacing", "PixelAspectRatio",
    "EstimatedRadiographicMagnificationFactor", "RescaleSlope", "RescaleIntercept", "RescaleType", "WindowCenter",
    "WindowWidth", "VOILUTFunction", "VOILUTSequence", "ModalityLUTSequence", "PresentationLUTShape",
    "PixelPaddingValue", "LossyImageCompression", "PixelData",
)  # fmt: skip


def kept_copy(data: bytes, *, name: str) -> bytes:
    """The bytes to keep of an upload, with nothing in them that may identify the patient but the pixels:

    - a DICOM file is rebuilt with its image tags only (pixels, geometry, spacing, orientation, windowing, modality and
      view: :data:`_DICOM_IMAGE_TAGS`), so no name, ID, birth date, accession number, institution, date, UID or
      private tag is stored; the copy is marked ``PatientIdentityRemoved``;
    - a JPEG or PNG becomes a PNG of its decoded pixels, turned as its EXIF orientation says: no EXIF, XMP, comment
      or text chunk is kept (PACS exports put names and IDs there); lossless, so it reads back as the same image.

    Text burned into the pixels is not removed. The file must have been read by :func:`read_xray` already (limits
    are not checked again); :class:`InputError` if it cannot be rebuilt.
    """
    has_preamble = data[128:132] == b"DICM"
    is_raster = data.startswith((b"\x89PNG", b"\xff\xd8\xff"))
    try:
        if has_preamble or (Path(name).name.lower().endswith(_DICOM_EXTENSIONS) and not is_raster):
            return _kept_dicom(pydicom.dcmread(io.BytesIO(data), force=not has_preamble))
        with Image.open(io.BytesIO(data)) as opened:
            image = ImageOps.exif_transpose(opened)
            if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
                image = image.convert("I;16" if image.mode.startswith("I") else "RGB")
            out = io.BytesIO()
            image.save(out, format="PNG")
            return out.getvalue()
    except (pydicom.errors.InvalidDicomError, UnidentifiedImageError, OSError, ValueError, KeyError, TypeError,
            AttributeError, struct.error) as error:  # fmt: skip
        raise InputError(f"'{Path(name).name}' could not be kept without its identifying data ({_short(error)}); "
                         "its verdict is recorded without the image.") from error  # fmt: skip


def _kept_dicom(source: pydicom.Dataset) -> bytes:
    """``source`` rebuilt with :data:`_DICOM_IMAGE_TAGS` only, under a new instance UID."""
    copy = pydicom.Dataset()
    for keyword in _DICOM_IMAGE_TAGS:
        if keyword in source:
            copy[keyword] = source[keyword]
    copy.SOPInstanceUID = pydicom.uid.generate_uid()
    copy.PatientIdentityRemoved = "YES"
    copy.DeidentificationMethod = "X-ray workstation: image tags kept, every other element dropped"
    meta = getattr(source, "file_meta", None)
    copy.file_meta = pydicom.dataset.FileMetaDataset()
    copy.file_meta.TransferSyntaxUID = getattr(meta, "TransferSyntaxUID", None) or pydicom.uid.ExplicitVRLittleEndian
    copy.file_meta.MediaStorageSOPClassUID = copy.get("SOPClassUID", pydicom.uid.SecondaryCaptureImageStorage)
    copy.file_meta.MediaStorageSOPInstanceUID = copy.SOPInstanceUID
    copy.SOPClassUID = copy.file_meta.MediaStorageSOPClassUID
    out = io.BytesIO()
    copy.save_as(out, enforce_file_format=True)
    return out.getvalue()


def encode_png(pixels: np.ndarray) -> bytes:
    """Encode an image in the project's convention as an 8-bit greyscale PNG.

    Parameters
    ----------
    pixels : ndarray, shape (H, W)
        Values in ``[0, 1]``; values outside are clipped.

    Returns
    -------
    bytes
        The PNG file.
    """
    buffer = io.BytesIO()
    Image.fromarray(pixels_to_uint8(pixels), mode="L").save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def encode_png_rgb(rgb: np.ndarray) -> bytes:
    """Encode a colour picture (a heat-map overlay) as a PNG, at zlib's fastest level: a full-size overlay in tens of
    milliseconds rather than ~170 ms, for files about a quarter larger.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (H, W, 3)

    Returns
    -------
    bytes
        The PNG file.
    """
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(rgb, dtype=np.uint8), mode="RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------------------
# Checks shared by both decoders


def _too_many_bytes(name: str, size: int, limits: InputLimits) -> str:
    return (
        f"'{name}' is {size / 2**20:.1f} MB; files up to {limits.max_bytes / 2**20:.0f} MB are accepted. "
        "Export the image at a lower resolution or with compression."
    )


def _check_dimensions(name: str, width: int, height: int, limits: InputLimits) -> None:
    if width * height > limits.max_pixels:
        raise InputError(
            f"'{name}' is {width}×{height} px ({width * height / 1e6:.0f} megapixels); at most "
            f"{limits.max_pixels / 1e6:.0f} megapixels are accepted. Downscale the image before uploading."
        )
    if min(width, height) < limits.min_side_px:
        raise InputError(
            f"'{name}' is {width}×{height} px; at least {limits.min_side_px}×{limits.min_side_px} px is needed "
            "for a chest X-ray. Upload the original image, not a thumbnail."
        )


# --------------------------------------------------------------------------------------------------------------
# JPEG and PNG (Pillow)


def _read_raster(data: bytes, *, name: str, limits: InputLimits) -> XRay:
    try:
        with Image.open(io.BytesIO(data)) as opened:
            source_format = _RASTER_FORMATS.get(opened.format or "")
            if source_format is None:
                raise InputError(
                    f"'{name}' is a {opened.format} image; JPEG, PNG and DICOM files are supported. "
                    "Convert it to PNG first."
                )
            _check_dimensions(name, opened.width, opened.height, limits)
            orientation = opened.getexif().get(0x0112, 1)  # EXIF Orientation tag
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except InputError:
        raise
    except UnidentifiedImageError as error:
        raise InputError(
            f"'{name}' is not an image that can be read: it is neither JPEG, PNG nor DICOM, or its header is "
            "damaged. Check that you chose the right file."
        ) from error
    except Image.DecompressionBombError as error:
        # Pillow refuses images over twice its own pixel limit before our check can run.
        raise InputError(
            f"'{name}' claims an image so large that decoding it could exhaust the server's memory "
            f"(a 'decompression bomb'); at most {limits.max_pixels / 1e6:.0f} megapixels are accepted."
        ) from error
    except ValueError as error:
        # Pillow's own bound on what a PNG's compressed text or colour-profile chunk may inflate to
        # ("Decompressed Data Too Large"), or a value its header parser cannot take.
        raise InputError(
            f"'{name}' holds a compressed text or colour-profile block that is too large or malformed ({error}); "
            "it cannot be read safely. Export the image again without metadata (e.g. as a plain PNG)."
        ) from error
    except (OSError, SyntaxError, struct.error, EOFError) as error:
        # Pillow reports truncated or corrupt data as OSError ("image file is truncated"), SyntaxError (bad PNG
        # chunk) or struct.error (short header).
        raise InputError(
            f"'{name}' is truncated or corrupt and cannot be decoded ({error}). Export or copy the file again."
        ) from error

    notes = []
    if orientation != 1:
        notes.append(f"EXIF orientation {orientation} applied (image rotated/flipped as the camera recorded).")
    pixels, mode_text, mode_notes, colour = _pillow_to_grey(image)
    return XRay(
        pixels=pixels,
        name=name,
        source_format=source_format,
        original_mode=mode_text,
        notes=(*notes, *mode_notes),
        colour=colour,
    )


def _pillow_to_grey(image: Image.Image) -> tuple[np.ndarray, str, list[str], bool]:
    """Convert any Pillow mode to float32 grey in [0, 1]; returns pixels, a mode description, notes, colour."""
    mode = image.mode
    notes: list[str] = []
    if mode.startswith("I"):  # 16-bit ("I;16", "I;16B") or 32-bit integer grey
        values = np.asarray(image).astype(np.float64)
        bits = _significant_bits(float(values.max(initial=0)))
        if bits > 8:
            notes.append(f"{bits}-bit data scaled by 1/{2**bits - 1}.")
        grey = np.clip(values / (2**bits - 1), 0, 1).astype(np.float32)
        return grey, f"{mode} ({bits}-bit grey)", notes, False
    if mode == "P":
        image = image.convert("RGBA")
        notes.append("Palette image expanded to its colours.")
    elif mode == "PA":
        image = image.convert("RGBA")
    elif mode == "CMYK":
        image = image.convert("RGB")
    elif mode == "1":
        image = image.convert("L")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGB")

    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 2:
        return array / 255.0, f"{mode} 8-bit", notes, False
    colour, alpha, is_colour = array[..., :-1], None, False
    if image.mode in ("LA", "RGBA"):
        alpha = array[..., -1] / 255.0
    else:
        colour = array
    if colour.shape[-1] == 1:
        grey = colour[..., 0]
    else:
        spread = colour.max(axis=-1) - colour.min(axis=-1)
        if float(np.percentile(spread, 99)) <= _GREY_TOLERANCE_8BIT:
            grey = colour.mean(axis=-1)
        else:
            grey, is_colour = colour @ _LUMA_WEIGHTS, True
            notes.append("Colour image converted to grey: check that it is an X-ray and not a photograph.")
    if alpha is not None and float(alpha.min()) < 1.0:
        grey = grey * alpha
        notes.append("Transparent pixels shown as black (alpha channel composited over black).")
    return (grey / 255.0).astype(np.float32), f"{mode} 8-bit", notes, is_colour


def _significant_bits(peak: float) -> int:
    """Bit depth the data uses: 8, 10, 12, 14 or 16 (detectors store 10-16 significant bits in 16-bit words)."""
    needed = math.ceil(math.log2(peak + 1)) if peak > 0 else 8
    return next(bits for bits in (8, 10, 12, 14, 16, 32) if bits >= needed)


# --------------------------------------------------------------------------------------------------------------
# DICOM (pydicom)


def _read_dicom(data: bytes, *, name: str, limits: InputLimits, force: bool) -> XRay:
    _check_inflation(data, name=name, limits=limits, force=force)
    try:
        dataset = pydicom.dcmread(io.BytesIO(data), force=force)
    except RecursionError as error:
        raise InputError(
            f"'{name}' nests its DICOM sequences too deeply to be read (a malformed or hostile file). Export it again "
            "from the PACS or viewer."
        ) from error
    except (pydicom.errors.InvalidDicomError, EOFError, OSError, ValueError, KeyError, struct.error, zlib.error,
            OverflowError, MemoryError) as error:  # fmt: skip
        raise InputError(
            f"'{name}' is not a readable DICOM file ({_short(error)}). Export it again from the PACS or viewer."
        ) from error
    try:
        return _dicom_to_xray(dataset, name=name, limits=limits, force=force)
    except InputError:
        raise
    except (ValueError, KeyError, AttributeError, NotImplementedError, OverflowError, IndexError, TypeError,
            struct.error) as error:  # fmt: skip
        # pydicom converts element values lazily, at first use: a malformed value (an IS of '1A', a DS of 'abc', a
        # LUT item without its descriptor) surfaces from whichever step reads it first. Only what pydicom raised is
        # the file's fault; an error raised by this module's own code is a bug and stays one.
        if not _raised_in_pydicom(error):
            raise
        raise InputError(
            f"'{name}' holds a DICOM element whose value cannot be read ({_short(error)}). Export the image again "
            "from the PACS or viewer."
        ) from error


def _check_inflation(data: bytes, *, name: str, limits: InputLimits, force: bool) -> None:
    """Refuse a Deflated Explicit VR Little Endian file whose dataset inflates past ``limits.max_decoded_bytes``,
    measured by inflating it in 1 MiB pieces that are thrown away, before pydicom inflates it whole."""
    stream = io.BytesIO(data)
    try:
        pydicom.filereader.read_preamble(stream, force)
        meta = pydicom.filereader.read_dataset(stream, is_implicit_VR=False, is_little_endian=True,
                                               stop_when=lambda tag, vr, length: tag.group != 2)  # fmt: skip
        deflated = meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian
    except (pydicom.errors.InvalidDicomError, EOFError, OSError, ValueError, TypeError, KeyError, struct.error):
        return  # the full read that follows says what is wrong
    if not deflated:
        return
    chunk, inflated = 1 << 20, 0
    inflater, tail = zlib.decompressobj(-zlib.MAX_WBITS), data[stream.tell() :]
    try:
        while True:
            inflated += len(out := inflater.decompress(tail, chunk))
            if inflated > limits.max_decoded_bytes:
                raise InputError(
                    f"'{name}' is a deflated DICOM file whose content inflates to more than "
                    f"{limits.max_decoded_bytes / 2**20:.0f} MB (a 'decompression bomb'); it is not read. Export the "
                    "image again, uncompressed or as PNG."
                )
            tail = inflater.unconsumed_tail
            if inflater.eof or (not tail and len(out) < chunk):
                return
    except zlib.error as error:
        raise InputError(f"'{name}' is a deflated DICOM file whose compressed content is damaged ({error}).") from error


def _raised_in_pydicom(error: BaseException) -> bool:
    """Whether the innermost frame of ``error``'s traceback is pydicom's own code."""
    traceback = error.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    return traceback is not None and _PYDICOM_DIR in Path(traceback.tb_frame.f_code.co_filename).parents


def _short(error: BaseException) -> str:
    """An exception's message, cut to one readable line for a sentence."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _number(dataset: pydicom.Dataset, keyword: str, kind: type, *, name: str, default: float | None = None):
    """A numeric element's value (the first of a multi-value) as ``kind``, ``default`` when absent; a value that is
    not a finite number is refused with a sentence naming the element."""
    try:
        value = dataset.get(keyword)
        if value is None or value == "":
            return default
        number = kind(_first(value))
    except (ValueError, TypeError, OverflowError) as error:
        raise InputError(
            f"'{name}': its {keyword} element is not a number ({_short(error)}). Export the image again from the "
            "PACS or viewer."
        ) from error
    if not math.isfinite(number):
        raise InputError(f"'{name}': its {keyword} element is not a finite number, so the image cannot be used.")
    return number


def _dicom_to_xray(dataset: pydicom.Dataset, *, name: str, limits: InputLimits, force: bool) -> XRay:
    if force and not any(tag in dataset for tag in ("SOPClassUID", "Modality", "Rows", "PixelData")):
        # Read without the "DICM" preamble, any bytes parse as some elements; a real file has these.
        raise InputError(
            f"'{name}' is not a readable DICOM file: it has neither the DICM preamble nor the usual DICOM elements. "
            "Export it again from the PACS or viewer."
        )
    if not any(tag in dataset for tag in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        kind = getattr(dataset.get("SOPClassUID"), "name", None) or "unknown object type"
        raise InputError(
            f"'{name}' is a DICOM file without pixel data ({kind}): it holds no image. Export the image "
            "itself (a CR or DX radiograph) rather than a report or presentation state."
        )
    frames = _number(dataset, "NumberOfFrames", int, name=name, default=1) or 1
    if frames > 1:
        raise InputError(
            f"'{name}' is a multi-frame DICOM with {frames} frames; one radiograph per file is supported. "
            "Export the frame you want as a single-frame DICOM, PNG or JPEG."
        )
    rows, columns = _number(dataset, "Rows", int, name=name), _number(dataset, "Columns", int, name=name)
    if not rows or not columns or rows < 0 or columns < 0:
        raise InputError(
            f"'{name}' does not state a usable image size (Rows {rows}, Columns {columns}); it cannot be decoded."
        )
    _check_dimensions(name, columns, rows, limits)
    samples = _number(dataset, "SamplesPerPixel", int, name=name, default=1)
    bits = _number(dataset, "BitsAllocated", int, name=name, default=16)
    if samples not in (1, 3, 4) or bits not in (1, 8, 16, 32, 64):
        raise InputError(
            f"'{name}' states {samples} samples of {bits} bits per pixel, which no radiograph has (1 grey or 3 colour "
            "samples of 8 or 16 bits). Export the image again as a single grey frame."
        )
    decoded = rows * columns * samples * max(bits // 8, 1)
    if decoded > limits.max_decoded_bytes:
        raise InputError(
            f"'{name}' states {rows}×{columns} px with {samples} samples of {bits} bits per pixel: "
            f"{decoded / 2**20:.0f} MB once decoded, beyond the {limits.max_decoded_bytes / 2**20:.0f} MB accepted. "
            "Export the image at a lower resolution."
        )
    for keyword in ("RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth"):
        _number(dataset, keyword, float, name=name)  # refuses a value that is not a finite number
    notes: list[str] = []
    spacing, spacing_at = _spacing_mm(dataset, notes)

    try:
        stored = dataset.pixel_array
    except (NotImplementedError, RuntimeError, ValueError, AttributeError, EOFError, MemoryError) as error:
        syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
        syntax_name = getattr(syntax, "name", None) or "unknown transfer syntax"
        raise InputError(
            f"'{name}': its pixel data ({syntax_name}) cannot be decoded here ({_short(error)}). Export it "
            "uncompressed (Explicit VR Little Endian) or as PNG."
        ) from error
    if stored.ndim not in (2, 3) or stored.shape[:2] != (rows, columns):
        raise InputError(
            f"'{name}': its pixel data decodes to shape {stored.shape}, not the {rows}×{columns} its header states. "
            "Export the image again."
        )

    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    if stored.ndim == 3:  # colour (secondary capture); pydicom has converted YBR to RGB
        grey = stored[..., :3].astype(np.float64) @ _LUMA_WEIGHTS.astype(np.float64)
        pixels = grey / max(float(grey.max()), 1.0)
        notes.append(f"{photometric} colour DICOM converted to grey: check that it is a radiograph.")
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # an absurd slope overflows: refused just below
            pixels = _dicom_grey_to_unit(stored, dataset, notes)
        if photometric == "MONOCHROME1":
            np.subtract(1.0, pixels, out=pixels)
            notes.append("MONOCHROME1 (white = air) inverted so that bone is white.")
    if not np.isfinite(pixels).all():
        raise InputError(
            f"'{name}': its pixel values are not finite numbers after the file's rescale and window (its "
            "RescaleSlope, RescaleIntercept or window values are out of range). The image is not used; export it "
            "again from the PACS or viewer."
        )

    metadata = {tag: str(dataset.get(tag)) for tag in _DICOM_TAGS_KEPT if dataset.get(tag) not in (None, "")}
    sop_class = getattr(dataset.get("SOPClassUID"), "name", None)
    if sop_class:
        metadata["SOPClass"] = sop_class
    np.clip(pixels, 0.0, 1.0, out=pixels)
    return XRay(
        pixels=pixels.astype(np.float32, copy=False),
        name=name,
        source_format="DICOM",
        original_mode=f"{photometric} {dataset.get('BitsStored', '?')}-bit",
        pixel_spacing_mm=spacing,
        spacing_at=spacing_at,
        notes=tuple(notes),
        metadata=metadata,
        colour=stored.ndim == 3,
    )


def _spacing_mm(dataset: pydicom.Dataset, notes: list[str]) -> tuple[tuple[float, float] | None, str | None]:
    """``(row, column)`` spacing from PixelSpacing (at the patient) or ImagerPixelSpacing (at the detector, so
    magnified by the beam's divergence), and which; ``(None, None)`` where absent or unusable (said in ``notes``:
    distances are then in pixels, which is safer than millimetres on a made-up scale)."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        try:
            value = dataset.get(keyword)
            if not value:
                continue
            values = list(value) if isinstance(value, pydicom.multival.MultiValue | list | tuple) else [value]
            row, column = float(values[0]), float(values[-1])
            usable = all(math.isfinite(v) and 0 < v < 100 for v in (row, column))
        except (ValueError, TypeError, OverflowError):
            usable = False
        if usable:
            return (row, column), "patient" if keyword == "PixelSpacing" else "detector"
        notes.append(f"The file's {keyword} is not a usable spacing in mm; distances can only be given in pixels.")
    return None, None


def _dicom_grey_to_unit(stored: np.ndarray, dataset: pydicom.Dataset, notes: list[str]) -> np.ndarray:
    """Modality LUT, then VOI LUT (or the data's full range), mapped to [0, 1] as float32; values that are not finite
    after the modality LUT are left for the caller to refuse. float32 holds every stored integer exactly (at most 16
    bits are stored), and the steps after the LUTs work in place: a 40-megapixel image costs one float64 copy (the
    VOI LUT's output) and two float32 ones at most."""
    values = apply_modality_lut(stored, dataset).astype(np.float32)  # a value past float32's range becomes inf
    if not np.isfinite(values).all():
        return values
    if ("WindowCenter" in dataset and "WindowWidth" in dataset) or "VOILUTSequence" in dataset:
        try:
            windowed = apply_voi_lut(values, dataset)
            # pydicom's output range depends on BitsStored, signedness and rescale; passing two extreme values
            # through the same transform yields exactly that range.
            low, high = apply_voi_lut(np.array([-1e12, 1e12]), dataset)
        except (ValueError, KeyError, AttributeError, NotImplementedError, IndexError) as error:
            # e.g. a window width below 1, a VOI LUT item without data or with an unsupported entry size
            notes.append(f"The file's window could not be applied ({_short(error)}); full range shown.")
        else:
            if high > low:
                if "WindowCenter" in dataset:
                    notes.append(
                        f"Window centre {_first(dataset.WindowCenter)} / width {_first(dataset.WindowWidth)} "
                        "from the file applied."
                    )
                else:
                    notes.append("VOI LUT from the file applied.")
                del values
                windowed = windowed.astype(np.float32)
                windowed -= np.float32(low)
                windowed /= np.float32(high - low)
                return windowed
            del windowed
    else:
        notes.append("No window in the file; the full range of the data is shown.")
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros_like(values)
    values -= np.float32(low)
    values /= np.float32(high - low)
    return values


def _first(value: object) -> object:
    """The first of a DICOM multi-value, or the value itself."""
    return value[0] if isinstance(value, list | tuple | pydicom.multival.MultiValue) else value


# --------------------------------------------------------------------------------------------------------------
# Volumes: NIfTI (nibabel) and DICOM series (pydicom), reoriented to the project's LAS convention

_LAS = nib.orientations.axcodes2ornt(("L", "A", "S"))
_NIFTI_SUFFIXES = (".nii", ".nii.gz")


def read_volume(path: str | Path, *, unit: str = "HU") -> Volume:
    """Read a CT volume (or a label map on the same grid) into a :class:`~core.types.Volume`.

    Parameters
    ----------
    path : str or Path
        A NIfTI file (``.nii``, ``.nii.gz``) or a folder of single-slice DICOM files of one series.
    unit : str
        What the values are: ``"HU"`` (rescaled to Hounsfield units, float32) or ``"label"`` (integers kept).

    Returns
    -------
    Volume
        Reoriented to ``data[z, y, x]`` = (superior, anterior, left), spacing in mm.

    Raises
    ------
    InputError
        For a missing path, an unreadable file, a folder without a consistent DICOM series.
    """
    path = Path(path)
    if path.is_dir():
        data, affine = _read_dicom_series(path)
    elif path.is_file() and path.name.lower().endswith(_NIFTI_SUFFIXES):
        try:
            image = nib.load(path)
            data, affine = np.asanyarray(image.dataobj), image.affine
        except (OSError, EOFError, ValueError, nib.filebasedimages.ImageFileError) as error:
            raise InputError(f"'{path.name}' is not a readable NIfTI volume ({error}).") from error
        if data.ndim == 4 and data.shape[-1] == 1:
            data = data[..., 0]
        if data.ndim != 3:
            raise InputError(f"'{path.name}' holds a {data.ndim}D image; a 3D volume is expected.")
    else:
        raise InputError(
            f"No volume at '{path}': give a NIfTI file (.nii or .nii.gz) or a folder holding one DICOM series."
        )
    # Reorder and flip the axes to LAS (x, y, z); numpy order is then (z, y, x).
    transform = nib.orientations.ornt_transform(nib.orientations.io_orientation(affine), _LAS)
    data = nib.orientations.apply_orientation(data, transform)
    spacing_xyz = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))[transform[:, 0].astype(int).argsort()]
    data = np.ascontiguousarray(np.transpose(data, (2, 1, 0)))
    if unit == "label":
        data = data.astype(np.int16 if data.max(initial=0) > 255 else np.uint8)
    else:
        data = data.astype(np.float32)
    return Volume(data=data, spacing_mm=tuple(float(s) for s in spacing_xyz[::-1]), unit=unit)


def _read_dicom_series(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Stack a folder's DICOM slices in position order; returns (i, j, k) data in HU and a RAS affine."""
    slices = []
    for file in sorted(p for p in folder.iterdir() if p.is_file()):
        try:
            dataset = pydicom.dcmread(file, force=True)
        except (pydicom.errors.InvalidDicomError, EOFError, OSError, ValueError, KeyError, struct.error):
            continue
        if "PixelData" in dataset and "ImagePositionPatient" in dataset and "ImageOrientationPatient" in dataset:
            slices.append(dataset)
    if len(slices) < 2:
        raise InputError(
            f"'{folder.name}' holds {len(slices)} DICOM slice(s) with position and orientation; a CT series of at "
            "least two slices is expected. Put one series per folder."
        )
    series = {str(s.get("SeriesInstanceUID", "")) for s in slices}
    if len(series) > 1:
        raise InputError(f"'{folder.name}' mixes {len(series)} DICOM series; put one series per folder.")
    row_dir, col_dir = (np.array(v, dtype=float) for v in np.reshape(slices[0].ImageOrientationPatient, (2, 3)))
    normal = np.cross(row_dir, col_dir)
    slices.sort(key=lambda s: float(np.dot(normal, np.array(s.ImagePositionPatient, dtype=float))))
    positions = np.array([np.dot(normal, np.array(s.ImagePositionPatient, dtype=float)) for s in slices])
    steps = np.diff(positions)
    if np.any(steps <= 0) or np.ptp(steps) > 0.01 * np.median(steps):
        raise InputError(
            f"The slices in '{folder.name}' are duplicated or unevenly spaced (gaps {steps.min():.2f}–"
            f"{steps.max():.2f} mm); a regular series is needed."
        )
    shapes = {(int(s.Rows), int(s.Columns)) for s in slices}
    if len(shapes) > 1:
        raise InputError(f"The slices in '{folder.name}' have different sizes {sorted(shapes)}.")
    stack = np.stack(
        [s.pixel_array * float(s.get("RescaleSlope", 1)) + float(s.get("RescaleIntercept", 0)) for s in slices]
    )  # (k, rows, columns)
    row_mm, column_mm = (float(v) for v in slices[0].PixelSpacing)
    # DICOM patient coordinates are LPS; voxel (column i, row j, slice k) sits at
    # origin + i * column_mm * row_dir + j * row_mm * col_dir + k * step * normal.
    lps = np.eye(4)
    lps[:3, 0], lps[:3, 1] = row_dir * column_mm, col_dir * row_mm
    lps[:3, 2] = normal * float(np.median(steps))
    lps[:3, 3] = np.array(slices[0].ImagePositionPatient, dtype=float)
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
    return np.transpose(stack, (2, 1, 0)), ras
