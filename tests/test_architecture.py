"""Architecture rules: core never imports Streamlit; torchvision imports next to the installed torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "core"


def test_core_sources_never_import_streamlit():
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {name}" for name in names if name.split(".")[0] == "streamlit"]
    assert not offenders


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=CORE.parent, timeout=300, check=False
    )


# The modules that work with networks; every other module (I/O, filters, the lab) must import without torch, so
# that the pages that do not classify start fast.
TORCH_MODULES = {
    f"core.classify.{name}"
    for name in (
        "card",
        "checkpoint",
        "distributed",
        "efficientnet",
        "ensemble",
        "evaluate",
        "models",
        "ood",
        "predict",
        "recalibrate",
        "state",
        "train",
        "transforms",
    )
} | {"core.diagnose", "core.explain", "core.lungs.model", "core.lungs.segment", "core.lungs.train"}


def _modules() -> list[str]:
    return sorted(
        ".".join(path.relative_to(CORE.parent).with_suffix("").parts).removesuffix(".__init__")
        for path in CORE.rglob("*.py")
    )


def _loaded_after_import(modules: list[str]) -> str:
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in ('streamlit', 'torch') if m in sys.modules))\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_core_modules_outside_the_network_code_load_neither_streamlit_nor_torch():
    assert _loaded_after_import([m for m in _modules() if m not in TORCH_MODULES]) == "[]"


def test_no_core_module_loads_streamlit():
    assert set(_modules()) >= TORCH_MODULES  # a renamed module must be renamed here too
    assert _loaded_after_import(_modules()) == "['torch']"


def test_torchvision_and_grad_cam_import_and_build_a_model_after_core():
    code = (
        "import core, torch, torchvision, pytorch_grad_cam\n"
        "from core import _torchvision_compat as compat\n"
        "model = torchvision.models.resnet18(weights=None).eval()\n"
        "print(tuple(model(torch.zeros(1, 3, 64, 64)).shape))\n"
        "print(compat._FALLBACK_LIBRARY is not None, compat.native_ops_load())\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr
    shape, flags = result.stdout.strip().splitlines()
    assert shape == "(1, 1000)"
    fallback_active, native_ops = (word == "True" for word in flags.split())
    # The fallback is active exactly when the native extension cannot load (CPU torch beside PyPI's CUDA wheel).
    assert fallback_active != native_ops
