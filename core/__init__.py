"""The workstation's core: image input, preprocessing, classification and reconstruction.

This package never imports Streamlit; pages call into it. Importing it is cheap (no torch), but it arranges for
torchvision to import correctly next to a CPU-only torch build (see :mod:`core._torchvision_compat`).
"""

from core import _torchvision_compat

_torchvision_compat.install()
