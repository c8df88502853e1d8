"""A one-page report of one diagnosis (image, heat map, verdict, model, date) as PNG or PDF, drawn with matplotlib.

The page says what the numbers are and are not: a research tool's output, not a diagnosis.
"""

from __future__ import annotations

import datetime as dt
import io
import textwrap
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from core.errors import InputError
from core.export.heatmap import describe_heat_in_lungs, draw_outline, heat_overlay
from core.preprocess import shrink_to_fit
from core.types import pseudonym

if TYPE_CHECKING:
    from core.diagnose import Diagnosis

__all__ = ["REPORT_FORMATS", "diagnosis_report"]

REPORT_FORMATS = {"png": "image/png", "pdf": "application/pdf"}
_NOTICE = (
    "Research and teaching tool, not a medical device. This output is not a diagnosis and must not be used for "
    "patient care."
)


def _percent(value: Any) -> str:
    return f"{100 * value:.1f} %" if isinstance(value, int | float) else "–"


def _lines(
    diagnosis: Diagnosis, model: Mapping[str, Any], created: dt.datetime, file_name: str | None = None
) -> list[str]:
    prediction, xray = diagnosis.prediction, diagnosis.xray
    file_name = file_name or pseudonym(xray.name, xray.sha256)  # the file's own name only when asked
    height, width = xray.shape
    test = model.get("test") or {}
    ood = prediction.out_of_distribution
    lines = [f"Verdict: {prediction.reading}"]
    if prediction.unfamiliar:  # the first thing read after the verdict
        lines.append(f"Warning: {ood.explanation()}")
    lines += [
        prediction.explanation(),
        "Unfamiliarity: not assessed (the model has no reference)"
        if ood is None
        else f"Unfamiliarity: {ood.score:.3f} (threshold {ood.threshold:.3f})",
        "",
        f"File: {file_name} ({xray.source_format}, {width}×{height} px)    SHA-256: {xray.sha256[:16]}…",
        f"Reported: {created.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"Model: {prediction.model}, version {model.get('version', '?')}",
        f"Model on the held-out test split: accuracy {_percent(test.get('accuracy'))}, sensitivity "
        f"{_percent(test.get('sensitivity'))}, specificity {_percent(test.get('specificity'))}, AUC "
        f"{test.get('auc', float('nan')):.3f}"
        if test
        else "Model on the held-out test split: not evaluated",
    ]
    if diagnosis.cam is not None:
        cam = diagnosis.cam
        lines.append(f"Heat map: {cam.method} for {cam.target}.")
        if cam.faithfulness is not None:
            lines.append(f"Faithfulness: {cam.faithfulness.assessment}. {cam.faithfulness.describe(cam.target)}")
        if diagnosis.lungs is not None:
            lines.append(describe_heat_in_lungs(diagnosis.heat_in_lungs, cam.target, diagnosis.lungs.area_share))
    for warning in diagnosis.warnings:
        lines.append(f"Warning: {warning}")
    return lines


def diagnosis_report(
    diagnosis: Diagnosis,
    *,
    model: Mapping[str, Any] | None = None,
    fmt: str = "png",
    opacity: float = 0.45,
    colourmap: str = "inferno",
    created: dt.datetime | None = None,
    file_name: str | None = None,
) -> bytes:
    """The report's file.

    Parameters
    ----------
    diagnosis : Diagnosis
    model : mapping, optional
        ``version`` and ``test`` (figures with ``accuracy``, ``sensitivity``, ``specificity``, ``auc``).
    fmt : str
        ``"png"`` or ``"pdf"``.
    opacity, colourmap
        Of the heat map, as on the page.
    created : datetime, optional
        The time printed; now when omitted.
    file_name : str, optional
        The name printed: the file's own only when the user asks for it; its pseudonym
        (:func:`core.store.predictions.pseudonym`) when omitted.

    Returns
    -------
    bytes
    """
    if fmt not in REPORT_FORMATS:
        raise InputError(f"Reports are written as {' or '.join(REPORT_FORMATS)}, not '{fmt}'.")
    created = created or dt.datetime.now(dt.UTC)
    figure = Figure(figsize=(8.27, 11.69), dpi=120, layout="compressed")  # A4 portrait
    FigureCanvasAgg(figure)
    top, bottom = figure.subfigures(2, 1, height_ratios=(1.0, 1.0))
    top.suptitle("Chest X-ray classifier report", fontsize=16)
    image_axes, heat_axes = top.subplots(1, 2)
    image_axes.imshow(shrink_to_fit(diagnosis.xray.pixels, max_side=768), cmap="gray", vmin=0, vmax=1)
    image_axes.set_title("X-ray", fontsize=10)
    if diagnosis.cam is not None:
        overlay = heat_overlay(diagnosis.xray.pixels, diagnosis.cam.heat, opacity=opacity, colourmap=colourmap)
        lungs = diagnosis.lungs.lungs if diagnosis.lungs is not None else None
        heat_axes.imshow(draw_outline(overlay, lungs))
        outlined = ", lungs outlined" if lungs is not None and lungs.any() else ""
        heat_axes.set_title(f"{diagnosis.cam.method} ({diagnosis.cam.target}{outlined})", fontsize=10)
        bar = top.colorbar(ScalarMappable(Normalize(0, 1), colourmap), ax=heat_axes, location="bottom", shrink=0.8)
        bar.ax.tick_params(labelsize=7)
    else:
        heat_axes.text(0.5, 0.5, "no heat map", ha="center", va="center", color="grey")
    for axes in (image_axes, heat_axes):
        axes.set_axis_off()

    wrapped = []
    for line in _lines(
        diagnosis, model or {}, created, file_name or pseudonym(diagnosis.xray.name, diagnosis.xray.sha256)
    ):
        wrapped += textwrap.wrap(line, width=105) or [""]
    bottom.text(0.06, 0.95, wrapped[0], fontsize=14, weight="bold", va="top")
    bottom.text(0.06, 0.87, "\n".join(wrapped[1:]), fontsize=8.5, va="top", linespacing=1.6)
    bottom.text(0.06, 0.08, textwrap.fill(_NOTICE, width=95), fontsize=9, color="#a00000", weight="bold")
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, metadata={"Title": "Chest X-ray classifier report"})
    return buffer.getvalue()
