"""Recalibrating a model to a site: its operating point refitted on the site's own labelled images.

A model trained on one hospital's images ranks another hospital's images less well, and, more often, ranks them
well but at the wrong place: its temperature (how sure it claims to be) and threshold (where NORMAL turns into
PNEUMONIA) were fitted on images unlike the site's. Given a folder of the site's labelled images
(``DIR/NORMAL``, ``DIR/PNEUMONIA``), :func:`recalibrate` refits the temperature, the threshold and the borderline
band on them, exactly as training fits them on validation images (:mod:`core.classify.calibration`), and writes a
new checkpoint that records it: when, on which images (fingerprint and counts), and what the model had before.

What it cannot fix: the ranking. The weights are untouched, so the AUC on the site's images is what it was; an
image the model ranks wrongly stays wrong. The "after" figures are measured on the images the operating point was
fitted on, so they flatter it; judge it on other images of the site (``python -m core evaluate``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from core.classify.calibration import choose_band, choose_threshold, fit_temperature, sigmoid
from core.classify.checkpoint import ModelMeta, load_model, save_checkpoint
from core.classify.data import LABELS, count_labels, fingerprint, load_images, scan_dataset
from core.classify.evaluate import evaluate_arrays, predict_logits
from core.classify.ood import BUFFER, FLAGGED_SHARE, extract_features, knn_distance
from core.classify.transforms import model_input
from core.errors import InputError
from core.store.files import file_version

__all__ = ["FEWEST_PER_CLASS", "WARN_BELOW_PER_CLASS", "Recalibration", "recalibrate"]

#: Fewer images of either class than this are refused: the threshold would follow a handful of images.
FEWEST_PER_CLASS = 20
#: Fewer than this per class are accepted with a warning: the intervals stay wide.
WARN_BELOW_PER_CLASS = 100


@dataclass(frozen=True)
class Recalibration:
    """What recalibrating did.

    Attributes
    ----------
    before, after : dict
        Figures on the site's images (:func:`~core.classify.evaluate.evaluate_arrays`, with bootstrap 95 %
        intervals) with the model's operating point, and with the refitted one (in-sample: optimistic).
    meta : ModelMeta
        The new checkpoint's metadata.
    warnings : tuple of str
    """

    before: dict[str, Any]
    after: dict[str, Any]
    meta: ModelMeta
    warnings: tuple[str, ...]

    def rows(self) -> list[dict[str, str]]:
        """The figures before and after as text, one row each, 95 % intervals in brackets: what the command line
        prints and the Models page shows."""

        def cell(figures: dict[str, Any], key: str, percent: bool = True) -> str:
            value, interval = figures.get(key), (figures.get("ci95") or {}).get(key)
            if value is None:
                return "–"
            text = f"{100 * value:.1f} %" if percent else f"{value:.3f}"
            if interval:
                low, high = interval
                text += f" [{100 * low:.1f}, {100 * high:.1f}]" if percent else f" [{low:.3f}, {high:.3f}]"
            return text

        return [
            {
                "": name,
                "Threshold": f"{f['threshold']:.3f}",
                "Accuracy": cell(f, "accuracy"),
                "Sensitivity": cell(f, "sensitivity"),
                "Specificity": cell(f, "specificity"),
                "AUC": cell(f, "auc", percent=False),
                "ECE": f"{f['ece']:.3f}",
            }
            for name, f in (("before", self.before), ("after", self.after))
        ]


def recalibrate(
    model: str | Path, data: str | Path, out: str | Path, *, target_sensitivity: float | None = None
) -> Recalibration:
    """Refit a model's temperature, threshold and borderline band on a site's labelled images; write the result.

    Parameters
    ----------
    model : str or Path
        A checkpoint.
    data : str or Path
        A folder holding ``NORMAL/`` and ``PNEUMONIA/`` with the site's JPEG, PNG or DICOM files.
    out : str or Path
        The new checkpoint (written atomically; the model's file is left as it was).
    target_sensitivity : float, optional
        The threshold rule: the highest threshold reaching this sensitivity on the site's images; Youden's J
        when omitted.

    Returns
    -------
    Recalibration

    Raises
    ------
    InputError
        A folder of another layout, fewer than :data:`FEWEST_PER_CLASS` images of a class, an output path that
        is the model's own file.
    """
    data = Path(data).absolute()  # the name the admin gave, even for a link
    if Path(out).resolve() == Path(model).resolve():
        raise InputError("Write the recalibrated model to a new file: the original stays as it was.")
    missing = [label for label in LABELS if not (data / label).is_dir()]
    if missing:
        raise InputError(
            f"The site folder '{data}' "
            + ("does not exist" if not data.is_dir() else f"lacks {', '.join(missing)}/")
            + f"; expected a folder holding {' and '.join(f'{label}/' for label in LABELS)} with the site's labelled "
            "JPEG, PNG or DICOM files."
        )
    records = scan_dataset(data.parent, splits=(data.name,))[data.name]
    counts = count_labels(records)
    short = [f"{counts[label]} {label}" for label in LABELS if counts[label] < FEWEST_PER_CLASS]
    if short:
        raise InputError(
            f"Recalibration needs at least {FEWEST_PER_CLASS} images of each class; '{data.name}' has "
            f"{' and '.join(short)}. Add labelled images of the site, or keep the model's own operating point."
        )
    warnings = tuple(
        f"Only {counts[label]} {label} images: the operating point is fitted but uncertain (see the intervals); "
        f"{WARN_BELOW_PER_CLASS} or more of each class are advised."
        for label in LABELS
        if counts[label] < WARN_BELOW_PER_CLASS
    )
    network, meta = load_model(model)
    images, labels = load_images(records, prepare=partial(model_input, size=meta.input_size))
    logits = predict_logits(network, images)
    before = evaluate_arrays(logits, labels, temperature=meta.temperature, threshold=meta.threshold,
                             band=meta.borderline)  # fmt: skip
    if before["auc"] is not None and before["auc"] <= 0.5:
        raise InputError(
            f"The model does not separate the site's classes (AUC {before['auc']:.2f} on '{data.name}'): no operating "
            "point can fix that. Check the folders' labels, or the images' kind (frontal chest X-rays)."
        )
    if meta.ood is not None:  # images the model finds unfamiliar stay so: recalibration moves only the threshold
        scores = knn_distance(extract_features(network, images), getattr(network, BUFFER), meta.ood["neighbours"])
        flagged = int((scores > meta.ood["threshold"]).sum())
        if flagged > 2 * FLAGGED_SHARE * len(scores):
            warnings += (
                f"{flagged} of the site's {len(scores)} images ({100 * flagged / len(scores):.0f} %) are unlike the "
                'images the model learned from, and their verdicts will still read "unreliable: unfamiliar '
                'image": recalibration fixes the operating point, not what the model has seen.',
            )
    temperature = fit_temperature(logits, labels)
    probabilities = sigmoid(logits / temperature)
    threshold = choose_threshold(labels, probabilities, target_sensitivity=target_sensitivity)
    band = choose_band(labels, probabilities, threshold)
    after = evaluate_arrays(logits, labels, temperature=temperature, threshold=threshold, band=band)
    record = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data": {"root_name": data.name, "fingerprint": fingerprint(records, data), "counts": counts},
        "target_sensitivity": target_sensitivity,
        "previous": {
            "version": file_version(model),
            "temperature": meta.temperature,
            "threshold": meta.threshold,
            "borderline": meta.borderline,
            "threshold_rule": meta.threshold_rule,
            "validation": meta.validation,
            "test": meta.test,
        },
    }
    new = meta.with_(
        temperature=temperature,
        threshold=threshold,
        borderline=band,
        threshold_rule=f"sensitivity >= {target_sensitivity}" if target_sensitivity else "Youden's J",
        validation=after,  # the images the operating point was chosen on, as training's validation split
        test=None,  # the model's test figures were those of its former operating point (kept under "previous")
        recalibration=record,
    )
    save_checkpoint(out, model=network, meta=new)
    return Recalibration(before=before, after=after, meta=new, warnings=warnings)
