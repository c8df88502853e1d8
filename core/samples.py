"""The sample X-rays shipped with the project (see ``core/data/samples/README.md`` for their attribution)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["SAMPLES_DIR", "Sample", "list_samples"]

SAMPLES_DIR = Path(__file__).parent / "data" / "samples"
_IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".dcm")


@dataclass(frozen=True)
class Sample:
    """A shipped sample image.

    Attributes
    ----------
    path : Path
    label : str
        The data set's label, ``"NORMAL"`` or ``"PNEUMONIA"``.
    """

    path: Path
    label: str

    @property
    def title(self) -> str:
        """How the sample is offered to a user, e.g. ``"PNEUMONIA – person55_bacteria_262.jpeg"``."""
        return f"{self.label} – {self.path.name}"


def list_samples() -> list[Sample]:
    """All shipped samples, NORMAL first, then by file name.

    Returns
    -------
    list of Sample
    """
    return [
        Sample(path=path, label=path.parent.name)
        for path in sorted(SAMPLES_DIR.glob("*/*"), key=lambda p: (p.parent.name, p.name))
        if path.suffix.lower() in _IMAGE_SUFFIXES
    ]
