"""A model checkpoint's metadata as one typed, immutable object, without torch.

A checkpoint stores its metadata as a JSON-like dictionary (``payload["meta"]``, see :mod:`core.classify.checkpoint`).
:meth:`ModelMeta.from_dict` checks it once, where the file is read, and every reader then uses attributes;
:meth:`ModelMeta.to_dict` gives back the dictionary the file stores, with the same keys, so the file format does not
change. Keys this code does not know (written by a newer version, say) are kept in :attr:`ModelMeta.extra` and written
back unchanged. Writers make a new object with :meth:`ModelMeta.with_`.

The figures (``validation``, ``test``: the output of :func:`~core.classify.evaluate.evaluate_arrays`), the recipe, the
data summary and the history stay plain dictionaries and lists.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.classify.data import LABELS
from core.classify.settings import ARCHITECTURE_NAMES
from core.errors import ModelError

__all__ = ["REQUIRED_META", "ModelMeta"]

#: Metadata every usable model checkpoint has.
REQUIRED_META = ("arch", "input_size", "labels", "temperature", "threshold")
#: Optional keys left out of :meth:`ModelMeta.to_dict` while they hold these values (a file without them reads so).
_UNSET: dict[str, Any] = {"members": 1, "borderline": 0.0}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ModelMeta:
    """What a checkpoint says about its model: everything needed to use it without guessing, and its history.

    Optional fields are ``None`` (or empty, or their default) when the file does not record them; such keys are
    left out of :meth:`to_dict`, as they were absent from the file.

    Attributes
    ----------
    arch : str
        A key of :data:`core.classify.models.ARCHITECTURES`.
    input_size : int
        Side of the square model input, in pixels.
    labels : tuple of str
        The class names, index = class id (:data:`core.classify.data.LABELS`).
    temperature : float
        The logit is divided by it before the sigmoid (fitted on validation; 1 before calibration).
    threshold : float
        PNEUMONIA when the calibrated probability is at least this (chosen on validation; 0.5 before calibration).
    members : int
        How many classifiers the checkpoint holds: more than 1 for an ensemble, whose logit is their mean.
    epoch : int or None
        The training epoch of the weights.
    created : str or None
        When the run (or the ensemble) was started, ISO 8601 in UTC.
    threshold_rule : str or None
        How the threshold was chosen (``"Youden's J"``, ``"sensitivity >= 0.95"``); ``None`` before calibration.
    input_pipeline : str or None
        How an image becomes the model's input, in words.
    positive_label : str or None
        The class whose logit the model gives.
    software : dict
        Versions of the software that made it (``{"torch": "2.13.0+cpu"}``).
    hardware : str or None
        What it was trained on.
    training_seconds : float or None
        Training time; an ensemble's is its members' summed.
    member_seeds, member_epochs : tuple of int or None
        An ensemble's members' seeds and chosen epochs, in member order.
    recipe : dict
        The training settings (:meth:`core.classify.settings.TrainConfig.recipe`).
    data : dict
        The data it was trained on: ``root_name``, ``fingerprint``, ``train`` and ``validation`` counts,
        ``validation_patients``.
    validation, test : dict or None
        Figures on the validation split and on the test split (the output of
        :func:`core.classify.evaluate.evaluate_arrays`); ``None`` before calibration, and ``test`` without a test
        split.
    history : list of dict or None
        The run's per-epoch records (:func:`core.classify.train.train`'s ``on_epoch``).
    recalibration : dict or None
        Set when the model was recalibrated to a site (:mod:`core.classify.recalibrate`): ``when``, ``data``
        (folder name, fingerprint, counts), ``target_sensitivity``, and ``previous`` (the version, temperature,
        threshold, band, threshold rule, validation and test figures it had before).
    borderline : float
        Half-width of the borderline band around the threshold, in log-odds (calibrated logit minus the threshold's
        logit); 0 means no band.
    ood : dict or None
        The out-of-distribution score's settings and threshold (:func:`core.classify.ood.fit_ood`); its reference
        features are the model's ``ood_bank`` buffer. ``None``: the model gives no such score.
    extra : dict
        Keys this code does not know, kept so that they are written back unchanged.
    """

    arch: str
    input_size: int
    labels: tuple[str, ...]
    temperature: float
    threshold: float
    members: int = 1
    epoch: int | None = None
    created: str | None = None
    threshold_rule: str | None = None
    input_pipeline: str | None = None
    positive_label: str | None = None
    software: dict[str, Any] = field(default_factory=dict)
    hardware: str | None = None
    training_seconds: float | None = None
    member_seeds: tuple[int, ...] | None = None
    member_epochs: tuple[int, ...] | None = None
    recipe: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] | None = None
    test: dict[str, Any] | None = None
    history: list[dict[str, Any]] | None = None
    recalibration: dict[str, Any] | None = None
    borderline: float = 0.0
    ood: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, meta: Any, *, source: str | None = None) -> ModelMeta:
        """The metadata a checkpoint stores, checked: the required keys, the labels, a known architecture, numbers
        where numbers belong.

        Parameters
        ----------
        meta : mapping
            A checkpoint's ``payload["meta"]`` (or :meth:`to_dict`'s output).
        source : str, optional
            The file it comes from, named in the error messages.

        Raises
        ------
        ModelError
            A sentence saying what is missing or wrong.
        """
        subject = f"'{source}'" if source else "This model"
        missing = [key for key in REQUIRED_META if not isinstance(meta, Mapping) or key not in meta]
        if missing:
            raise ModelError(f"{subject} lacks metadata: {', '.join(missing)}.")
        labels = meta["labels"]
        if not isinstance(labels, list | tuple) or tuple(labels) != LABELS:
            raise ModelError(f"{subject} was trained for labels {labels}, not {list(LABELS)}.")
        arch = meta["arch"]
        if not isinstance(arch, str) or arch not in ARCHITECTURE_NAMES:
            known = ", ".join(ARCHITECTURE_NAMES)
            raise ModelError(f"{subject} uses architecture '{arch}', which this code does not know ({known}).")
        input_size, temperature, threshold = meta["input_size"], meta["temperature"], meta["threshold"]
        if not _is_whole(input_size) or input_size < 1:
            raise ModelError(f"{subject} gives its input size as {input_size!r}; expected a whole number of pixels.")
        if not _is_number(temperature) or temperature <= 0:
            raise ModelError(f"{subject} gives its temperature as {temperature!r}; expected a positive number.")
        if not _is_number(threshold) or not 0.0 <= threshold <= 1.0:
            raise ModelError(f"{subject} gives its threshold as {threshold!r}; expected a probability from 0 to 1.")
        members = meta.get("members", 1)
        if not _is_whole(members) or members < 1:
            raise ModelError(f"{subject} says it holds {members!r} models; expected a whole number of at least 1.")
        borderline = meta.get("borderline", 0.0)
        if not _is_number(borderline) or borderline < 0:
            raise ModelError(
                f"{subject} gives its borderline band as {borderline!r}; expected a half-width of at least 0 log-odds."
            )
        ood = meta.get("ood")
        if ood is not None and not (isinstance(ood, Mapping) and _is_number(ood.get("threshold"))
                                    and _is_whole(ood.get("neighbours")) and ood["neighbours"] >= 1):  # fmt: skip
            raise ModelError(f"{subject} has an unreadable out-of-distribution reference ({ood!r}).")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {key: value for key, value in meta.items() if key in known}
        values.update(labels=tuple(labels), temperature=float(temperature), threshold=float(threshold),
                      borderline=float(borderline))  # fmt: skip
        for key in ("member_seeds", "member_epochs"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values, extra={key: value for key, value in meta.items() if key not in known})

    def to_dict(self) -> dict[str, Any]:
        """The JSON-like dictionary a checkpoint stores (``payload["meta"]``): the keys it was read from, unknown
        ones included; optional ones that are unset are left out."""
        meta: dict[str, Any] = {}
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if spec.name == "extra" or value is None or value == _UNSET.get(spec.name, ...):
                continue
            if spec.name in ("recipe", "data", "software") and not value:
                continue
            meta[spec.name] = list(value) if isinstance(value, tuple) else value
        return {**meta, **self.extra}

    def with_(self, **changes: Any) -> ModelMeta:
        """A copy with some fields changed (:func:`dataclasses.replace`): how writers update metadata."""
        return dataclasses.replace(self, **changes)

    @property
    def architecture_label(self) -> str:
        """``"xraynet"``, or ``"3 × xraynet"`` for an ensemble of three: the architecture in one phrase."""
        return f"{self.members} × {self.arch}" if self.members > 1 else self.arch
