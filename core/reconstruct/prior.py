"""A lung-shape prior for the two-view hull, learned from CTs: how real lungs fill each cross-section of their hull.

From a frontal and a lateral view, each axial slice of the visual hull holds one rectangle per lung (its width from
the frontal view, its depth from the lateral). Real lungs do not fill it evenly: the medial side in front is cut
away by the heart, and the shape changes from apex to base. The prior is the mean share of lung at each point of
that rectangle, in coordinates normalised to it (:data:`GRID` × :data:`GRID`, the medial side always on the same
side), in :data:`BANDS` bands of height from the top of the hull to its base; a point belongs to the lungs when its
share reaches the prior's threshold. It never leaves the hull.

How it was chosen (README, "3D reconstruction"): the number of bands (1, 3, 6, 10) by fitting on two of the three
training CTs and scoring on the third (6 was best: mean Dice 0.736, against 0.719 for one band); the threshold by
the mean Dice of the CTs it is fitted on. The shipped prior (:data:`DEFAULT_SHAPE_PRIOR`) is fitted on the three
CTs the lung model trained on; ``python -m core fit-shape-prior`` refits it.
"""

from __future__ import annotations

import functools
import io
import os
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from core.errors import InputError
from core.reconstruct.hull import silhouettes, visual_hull
from core.reconstruct.metrics import dice
from core.reconstruct.projection import Projections
from core.types import Volume

__all__ = [
    "BANDS",
    "DEFAULT_SHAPE_PRIOR",
    "GRID",
    "ShapePrior",
    "ct_hulls",
    "fit_shape_prior",
    "prior_hull",
    "prior_hull_of",
]

#: Bands of height (apex to base) and the side of the normalised cross-section grid.
BANDS, GRID = 6, 32
#: The prior the app and the bench use.
DEFAULT_SHAPE_PRIOR = Path(__file__).resolve().parents[1] / "data" / "models" / "lung_shape_prior.npz"
_THRESHOLDS = np.round(np.arange(0.20, 0.701, 0.05), 2)


@dataclass(frozen=True)
class ShapePrior:
    """Mean lung share in each normalised hull cross-section.

    Attributes
    ----------
    share : ndarray of float32, shape (BANDS, GRID, GRID)
        Per band of height; rows follow the volume's rows (front to back), columns run from the lateral side
        (column 0) to the medial side.
    threshold : float
        A point is lung where its share reaches this.
    fitted_on : tuple of str
        The CTs it was fitted on.
    """

    share: np.ndarray
    threshold: float
    fitted_on: tuple[str, ...] = ()

    def save(self, path: str | Path) -> None:
        """Write it as ``.npz`` (atomically)."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, share=self.share.astype(np.float16), threshold=np.float32(self.threshold),
                            fitted_on=np.array(self.fitted_on, dtype=str))  # fmt: skip
        path = Path(path)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "wb") as out:
            out.write(buffer.getvalue())
        os.chmod(temporary, 0o644)  # shipped with the app, no patient data
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_SHAPE_PRIOR) -> ShapePrior:
        """Read one written by :meth:`save`; a clear sentence when it is missing or not a prior."""
        try:
            with np.load(path, allow_pickle=False) as data:
                share, threshold = data["share"].astype(np.float32), float(data["threshold"])
                fitted_on = tuple(str(name) for name in data["fitted_on"])
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
            raise InputError(f"'{Path(path).name}' is not a readable lung-shape prior ({error}); refit it with "
                             "`python -m core fit-shape-prior`.") from None  # fmt: skip
        if share.shape != (BANDS, GRID, GRID) or not np.isfinite(share).all() or not 0.0 < threshold < 1.0:
            raise InputError(f"'{Path(path).name}' holds a lung-shape prior of another layout; refit it with "
                             "`python -m core fit-shape-prior`.")  # fmt: skip
        return cls(share=share, threshold=threshold, fitted_on=fitted_on)


@functools.lru_cache(maxsize=1)
def _shipped() -> ShapePrior:
    """:data:`DEFAULT_SHAPE_PRIOR`, read once per process (a failed read is not kept: it is tried again)."""
    return ShapePrior.load()


def _sections(hull: np.ndarray) -> Iterator[tuple[int, tuple[slice, slice], np.ndarray, int, bool]]:
    """Each connected piece of each axial slice of ``hull``: ``(slice, box, piece within box, band, mirrored)``;
    pieces right of the volume's middle are mirrored so that the medial side is always last."""
    occupied = np.flatnonzero(hull.any(axis=(1, 2)))
    if occupied.size == 0:
        return
    top, base = occupied[0], occupied[-1]
    middle = (hull.shape[2] - 1) / 2
    for k in occupied:
        labels, _ = ndimage.label(hull[k])
        for index, box in enumerate(ndimage.find_objects(labels), start=1):
            band = min(BANDS - 1, int((k - top) / max(1, base - top) * BANDS))
            mirrored = (box[1].start + box[1].stop - 1) / 2 > middle
            yield k, box, labels[box] == index, band, mirrored


def _resample(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``values`` stretched (bilinear) onto ``shape``."""
    zoom = (shape[0] / values.shape[0], shape[1] / values.shape[1])
    out = ndimage.zoom(values.astype(np.float32), zoom, order=1, grid_mode=True, mode="nearest")
    padded = np.zeros(shape, dtype=np.float32)  # zoom may round one row or column short
    padded[: out.shape[0], : out.shape[1]] = out[: shape[0], : shape[1]]
    return padded


def prior_hull_of(hull: np.ndarray, prior: ShapePrior) -> np.ndarray:
    """A hull's mask (bool, ``(Z, Y, X)``) with its cross-sections filled as ``prior`` says."""
    return _apply(prior.share, prior.threshold, hull)


def _apply(share: np.ndarray, threshold: float, hull: np.ndarray) -> np.ndarray:
    out = np.zeros_like(hull, dtype=bool)
    for k, box, piece, band, mirrored in _sections(hull):
        template = share[band][:, ::-1] if mirrored else share[band]
        out[k][box] |= (_resample(template, piece.shape) >= threshold) & piece
    return out


def prior_hull(views: Projections, *, shape: tuple[int, int, int], spacing_mm: tuple[float, float, float],
               prior: ShapePrior | None = None) -> Volume:  # fmt: skip
    """The visual hull with each cross-section of each lung filled as the prior says real lungs fill it.

    Meant for a frontal and a lateral view (each cross-section of their hull is a rectangle per lung).
    ``prior``: :data:`DEFAULT_SHAPE_PRIOR` when omitted.
    """
    prior = prior or _shipped()
    hull = visual_hull(views, shape=shape, spacing_mm=spacing_mm).data
    return Volume(data=_apply(prior.share, prior.threshold, hull), spacing_mm=spacing_mm, unit="mask")


def fit_shape_prior(cases: Iterable[tuple[str, np.ndarray, np.ndarray]]) -> ShapePrior:
    """Fit the prior on ``(name, hull, lungs)`` triples: two-view hulls (of exact silhouettes) and the true lung
    masks on the same grid. The threshold is the one of 0.20-0.70 (steps of 0.05) with the best mean Dice on them."""
    cases = list(cases)
    if not cases:
        raise InputError("Fitting a lung-shape prior needs at least one CT with its lungs.")
    total, count = np.zeros((BANDS, GRID, GRID)), np.zeros(BANDS)
    for _, hull, lungs in cases:
        for k, box, piece, band, mirrored in _sections(hull):
            share = _resample(lungs[k][box] & piece, (GRID, GRID))
            total[band] += share[:, ::-1] if mirrored else share
            count[band] += 1
    share = (total / np.maximum(count, 1)[:, None, None]).astype(np.float32)
    scores = [np.mean([dice(_apply(share, t, hull), lungs) for _, hull, lungs in cases]) for t in _THRESHOLDS]
    return ShapePrior(share=share, threshold=float(_THRESHOLDS[int(np.argmax(scores))]),
                      fitted_on=tuple(name for name, _, _ in cases))  # fmt: skip


def ct_hulls(shared: str | Path, cases: Iterable[str], *, side: int = 128) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, hull, lungs)`` for CTs of :data:`core.lungs.data.CT_CASES`: the hull of their lungs' exact frontal
    and lateral silhouettes and the lungs themselves, at ``side``² per axial slice (what :func:`fit_shape_prior`
    takes)."""
    from core.lungs.data import load_ct_case

    out = []
    for case in cases:
        mu, lungs = load_ct_case(shared, case, side=side)
        views = silhouettes(lungs, np.array([0.0, 90.0]))
        out.append((case, visual_hull(views, shape=mu.shape, spacing_mm=mu.spacing_mm).data, lungs.data))
    return out
