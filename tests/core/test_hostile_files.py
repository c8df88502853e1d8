"""The whole battery of hostile files through one ``python -m core predict --json`` call, as a user (or an attacker)
would run it: one answer per file, no traceback, no NaN, memory bounded by the input limits."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from core.samples import SAMPLES_DIR
from tests.conftest import REPO_ROOT
from tests.helpers import (
    deflate_bomb_dicom,
    dicom_with_raw_tags,
    encode,
    png_bomb,
    png_with_chunk,
    pydicom_read,
    ramp,
)

PEAK_MEMORY_LIMIT_MB = 1536


def _largest_accepted_dicom() -> bytes:
    """A deflated 16-bit DICOM of 6000 × 6600 px (39.6 MP, just under the 40 MP limit): small on disk, the most
    memory a file within the limits can cost."""
    import pydicom

    dataset = pydicom_read(dicom_with_raw_tags(ramp(80, 80) * 4000, {}))
    stored = np.tile((ramp(600, 660) * 4000).astype(np.uint16), (10, 10))
    dataset.Rows, dataset.Columns = stored.shape
    dataset.PixelData = stored.tobytes()
    dataset.file_meta.TransferSyntaxUID = pydicom.uid.DeflatedExplicitVRLittleEndian
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _battery(folder: Path) -> dict[str, bool]:
    """Write the hostile files (and two good ones) into ``folder``; name → whether a verdict is expected."""
    sample = next(p for p in sorted(SAMPLES_DIR.rglob("*")) if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
    lut = ramp(80, 80) * 4000
    files = {
        "good" + sample.suffix: (sample.read_bytes(), True),
        "spacing-abc.dcm": (dicom_with_raw_tags(lut, {"PixelSpacing": b"abc\\defgh"}), True),
        "largest-accepted.dcm": (_largest_accepted_dicom(), True),
        "largest-accepted.png": (encode(np.full((6600, 6000), 120, dtype=np.uint8)), True),
        "deflate-bomb.dcm": (deflate_bomb_dicom(1024), False),
        "pixel-bomb.png": (png_bomb(), False),
        "ztxt.png": (png_with_chunk(b"zTXt"), False),
        "iccp.png": (png_with_chunk(b"iCCP"), False),
        "slope-1e308.dcm": (dicom_with_raw_tags(lut, {"RescaleSlope": b"1e+308", "RescaleIntercept": b"0"}), False),
        "slope-nan.dcm": (dicom_with_raw_tags(lut, {"RescaleSlope": b"NaN"}), False),
        "intercept-inf.dcm": (dicom_with_raw_tags(lut, {"RescaleIntercept": b"-inf"}), False),
        "window-nan.dcm": (dicom_with_raw_tags(lut, {"WindowCenter": b"NaN", "WindowWidth": b"400"}), False),
        "frames-abcd.dcm": (dicom_with_raw_tags(lut, {"NumberOfFrames": b"abcd"}), False),
        "badVR.dcm": (Path(get_testdata_file("badVR.dcm")).read_bytes(), False),
        "empty.png": (b"", False),
        "text.png": (b"this is not an image\n" * 20, False),
        "truncated.jpeg": (sample.read_bytes()[:400], False),
        "garbage.dcm": (os.urandom(4096), False),
    }
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    return {name: verdict for name, (_, verdict) in files.items()}


def _peak_memory_mb(process: subprocess.Popen) -> float:
    """The process's own peak resident memory (``VmHWM``), read until it ends. Not ``ru_maxrss``: Linux carries the
    parent's peak across fork and exec into it, and the test process itself holds over a gigabyte late in the suite.
    VmHWM only rises, so the last reading holds every peak before it; the battery ends with small files."""
    peak_kb = 0
    while process.poll() is None:
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except OSError:  # it has just ended
            break
        peak_kb = max([peak_kb, *(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))])
        time.sleep(0.02)
    process.wait()
    return peak_kb / 1024


def test_every_hostile_file_gets_one_answer_in_one_call_with_bounded_memory(tmp_path):
    expected = _battery(tmp_path)
    paths = [str(tmp_path / name) for name in expected]
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "core", "predict", *paths, "--json"], stdout=stdout,
                                   stderr=stderr, cwd=REPO_ROOT, env=env)  # fmt: skip
        peak_mb = _peak_memory_mb(process)
    print(f"hostile battery: {len(paths)} files, peak memory {peak_mb:.0f} MB (limit {PEAK_MEMORY_LIMIT_MB} MB)")
    errors = err.read_text()
    assert "Traceback" not in errors, errors
    assert process.returncode == 1  # some files refused, none an internal error
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert [a["file"] for a in answers] == paths
    for answer in answers:
        name = Path(answer["file"]).name
        if expected[name]:
            assert "error" not in answer, answer
            p = answer["probabilities"]["PNEUMONIA"]
            assert math.isfinite(p) and 0 <= p <= 1 and answer["label"] in ("NORMAL", "PNEUMONIA")
        else:
            assert set(answer) == {"file", "error"}, answer
            sentence = answer["error"]
            assert sentence.startswith(f"'{name}'") and sentence.endswith(".") and "Traceback" not in sentence
    assert peak_mb < PEAK_MEMORY_LIMIT_MB


@pytest.mark.parametrize("status_line", ["0  every file has a verdict", "1  one or more files were refused"])
def test_predict_documents_its_exit_statuses(status_line, capsys):
    from core.__main__ import main

    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    assert status_line in capsys.readouterr().out
