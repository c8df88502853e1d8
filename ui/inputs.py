"""Choosing an X-ray: an upload, or one of the shipped samples."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.errors import CoreError
from core.io import read_xray
from core.samples import list_samples
from core.types import XRay


@st.cache_resource(max_entries=32, show_spinner=False)
def _decode(data: bytes, name: str) -> XRay:
    # An XRay is immutable, so one decoded copy can be shared by every session that opens the same file.
    return read_xray(data, name=name)


def pick_xray(*, key: str) -> XRay | None:
    """Upload widget plus sample chooser; returns the chosen X-ray, or ``None`` after showing why not.

    An uploaded file takes precedence over the sample. A file that cannot be read is reported with
    ``st.error`` in a sentence, never a traceback.

    Parameters
    ----------
    key : str
        Prefix of the widgets' keys (``{key}_upload``, ``{key}_sample``), unique per page.
    """
    upload_column, sample_column = st.columns([3, 2])
    upload = upload_column.file_uploader(
        "Upload a chest X-ray (JPEG, PNG or DICOM)",
        key=f"{key}_upload",
        help="DICOM files without an extension are accepted too. Files stay in memory; nothing is stored.",
    )
    samples = list_samples()
    sample = sample_column.selectbox(
        "…or pick a sample",
        samples,
        format_func=lambda s: s.title,
        key=f"{key}_sample",
        disabled=upload is not None,
        help="Real X-rays from Kermany et al. (CC BY 4.0), shipped with the app.",
    )
    if upload is not None:
        data, name = upload.getvalue(), upload.name
    elif sample is not None:
        data, name = sample.path.read_bytes(), sample.path.name
    else:
        st.info("Upload an X-ray to begin.")
        return None
    try:
        return _decode(data, name)
    except CoreError as error:
        st.error(str(error))
        return None


@dataclass(frozen=True)
class Upload:
    """One file a user chose: its bytes, and the decoded X-ray or the sentence saying why there is none."""

    name: str
    data: bytes
    xray: XRay | None
    error: str | None


def pick_xrays(*, key: str) -> list[Upload]:
    """Upload widget for many files plus a multi-choice of shipped samples; every file is decoded or explained.

    Parameters
    ----------
    key : str
        Prefix of the widgets' keys (``{key}_uploads``, ``{key}_samples``), unique per page.
    """
    upload_column, sample_column = st.columns([3, 2])
    uploads = upload_column.file_uploader(
        "Upload chest X-rays (JPEG, PNG or DICOM)",
        accept_multiple_files=True,
        key=f"{key}_uploads",
        help="Several files at once are fine. DICOM files without an extension are accepted too.",
    )
    chosen = sample_column.multiselect(
        "…and/or pick samples",
        list_samples(),
        format_func=lambda s: s.title,
        key=f"{key}_samples",
        help="Real X-rays from Kermany et al. (CC BY 4.0), shipped with the app.",
    )
    files = [(u.name, u.getvalue()) for u in uploads or []] + [(s.path.name, s.path.read_bytes()) for s in chosen]
    result = []
    for name, data in files:
        try:
            result.append(Upload(name=name, data=data, xray=_decode(data, name), error=None))
        except CoreError as error:
            result.append(Upload(name=name, data=data, xray=None, error=str(error)))
    return result


def describe_xray(xray: XRay) -> None:
    """A one-line summary of the image, its conversion notes and any DICOM tags."""
    height, width = xray.shape
    spacing = ""
    if xray.pixel_spacing_mm:
        spacing = f" · {xray.pixel_spacing_mm[0]:.3g}×{xray.pixel_spacing_mm[1]:.3g} mm/px"
    st.caption(f"**{xray.name}** · {xray.source_format} · {xray.original_mode} · {width}×{height} px{spacing}")
    for note in xray.notes:
        st.caption(f":material/info: {note}")
    if xray.metadata:
        st.caption(" · ".join(f"{tag}: {value}" for tag, value in xray.metadata.items()))
