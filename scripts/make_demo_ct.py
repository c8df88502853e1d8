"""Write the demo CT shipped with the app: the shared chest CT at 128 × 128 per axial slice, and its lung mask.

Usage::

    python scripts/make_demo_ct.py [--ct ../shared/data/chest_ct] [--side 128]

Writes ``core/data/ct/chest_ct.nii.gz`` (int16 Hounsfield units, LAS) and ``core/data/ct/lungs.nii.gz`` (uint8 mask),
about 3 MB together: small enough for the repository, from an MIT-licensed source (see core/data/ct/README.md).
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

import nibabel as nib
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from core.io import read_volume  # noqa: E402
from core.reconstruct.volume import label_mask, resample_to  # noqa: E402
from core.store.files import write_atomic  # noqa: E402
from core.types import Volume  # noqa: E402


def _nifti_bytes(volume: Volume, dtype: type) -> bytes:
    # data[z, y, x] in LAS → NIfTI (i, j, k) = (x, y, z) with an LAS affine (x grows to the left: -1 in RAS).
    spacing_z, spacing_y, spacing_x = volume.spacing_mm
    affine = np.diag([-spacing_x, spacing_y, spacing_z, 1.0])
    image = nib.Nifti1Image(np.transpose(volume.data, (2, 1, 0)).astype(dtype), affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    return image.to_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ct", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "chest_ct")
    parser.add_argument("--side", type=int, default=128)
    args = parser.parse_args()
    ct = read_volume(args.ct / "cxr.nii.gz")
    clamped = Volume(data=np.maximum(ct.data, -1000.0), spacing_mm=ct.spacing_mm, unit="HU")
    small = resample_to(clamped, side=args.side)
    lungs = resample_to(label_mask(read_volume(args.ct / "mask.nii.gz", unit="label")), side=args.side)
    out = REPO_ROOT / "core" / "data" / "ct"
    ct = Volume(data=np.rint(small.data), spacing_mm=small.spacing_mm, unit="HU")
    write_atomic(out / "chest_ct.nii.gz", gzip.compress(_nifti_bytes(ct, np.int16), mtime=0), mode=0o644)
    write_atomic(out / "lungs.nii.gz", gzip.compress(_nifti_bytes(lungs, np.uint8), mtime=0), mode=0o644)
    for name in ("chest_ct.nii.gz", "lungs.nii.gz"):
        print(f"{out / name}: {(out / name).stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
