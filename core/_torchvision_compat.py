"""Let torchvision import next to a torch build its native extension was not compiled for.

Why: PyPI's Linux ``torchvision`` wheel is built against the CUDA build of torch. Installed beside the CPU build
of the same torch version (``torch==2.13.0+cpu``, the only one that installs without several GB of CUDA
packages), its native extension ``torchvision/_C.so`` cannot be loaded (it links ``libc10_cuda.so``). torchvision
tolerates that for its detection operators, except that ``torchvision/_meta_registrations.py`` registers
shape functions for ``torchvision::nms`` and ``torchvision::qnms`` unconditionally, which fails with
``RuntimeError: operator torchvision::nms does not exist`` and makes ``import torchvision`` itself fail.

What: when -- and only when -- the extension fails to load, this module declares the schemas of those two
operators (the same strings torchvision's C++ code declares), so that the import succeeds. Models, transforms and
datasets, which are pure Python, work; the detection operators (``torchvision.ops.nms``, ``roi_align``...) still
raise torchvision's own "Couldn't load custom C++ ops" error, as they would without this module. Where the
extension loads (a CUDA machine, macOS, a matching CPU build) nothing is changed.

How: :func:`install` (called by ``core/__init__.py``) puts a finder on ``sys.meta_path`` that acts the first time
``torchvision`` is imported, so importing :mod:`core` does not import torch, and any later ``import torchvision``
-- ours or a library's such as pytorch-grad-cam -- works.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path

# Kept referenced for the life of the process: a torch.library.Library unregisters its definitions when collected.
_FALLBACK_LIBRARY = None
_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)


def native_ops_load() -> bool:
    """Whether torchvision's native extension loads with the installed torch (imports torch, not torchvision).

    Returns
    -------
    bool
        ``False`` when the extension is missing or cannot be loaded.
    """
    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return False
    package = Path(next(iter(spec.submodule_search_locations)))
    extension = next((p for p in sorted(package.glob("_C*")) if p.suffix in (".so", ".pyd", ".dylib")), None)
    if extension is None:
        return False
    try:
        torch.ops.load_library(str(extension))
    except OSError:
        return False
    return True


def declare_missing_ops() -> bool:
    """Declare the operator schemas torchvision's import needs if its extension cannot provide them.

    Returns
    -------
    bool
        ``True`` if the fallback was needed and installed, ``False`` if the native operators are available.
    """
    global _FALLBACK_LIBRARY
    if _FALLBACK_LIBRARY is not None or native_ops_load():
        return False
    import torch

    library = torch.library.Library("torchvision", "DEF")
    for schema in _SCHEMAS:
        library.define(schema)
    _FALLBACK_LIBRARY = library
    return True


class _BeforeTorchvision(importlib.abc.MetaPathFinder):
    """Runs :func:`declare_missing_ops` once, just before the first ``import torchvision``."""

    def find_spec(self, fullname, path, target=None):
        if fullname == "torchvision":
            sys.meta_path.remove(self)
            declare_missing_ops()
        return None  # let the normal finders import the real package


def install() -> None:
    """Arrange for :func:`declare_missing_ops` to run before torchvision is first imported (idempotent)."""
    if "torchvision" in sys.modules:
        return
    if not any(isinstance(finder, _BeforeTorchvision) for finder in sys.meta_path):
        sys.meta_path.insert(0, _BeforeTorchvision())
