"""How well a model's out-of-distribution score tells unfamiliar images from its own population, beside the
alternatives it was chosen over.

Usage::

    python benchmarks/bench_ood.py [--model PATH] [--shared ../shared/data] [--threads 2] [--json]

Groups (every one but the first two is unlike the paediatric frontal films the model learned from):

- **paediatric validation**: the model's patient-disjoint validation split carved from ``train/``; every method's
  threshold is its score's value that at most 5 % of these exceed (as the shipped score's is);
- **paediatric test**: the data set's ``test/`` (the same population, another acquisition);
- **adult X-rays**: ``cxr_lung_masks/images`` (353 adult films, PA, AP and AP supine, several hospitals);
- **CT slices**: 12 axial slices of each of the four chest CTs (``chest_ct``, ``chest_ct_more``), window -1000 to
  400 HU;
- **simulated laterals**: parallel-beam radiographs of the four CTs at 80°, 90°, 100° and 270°;
- **simulated frontals**: the same at 0° (adult anatomy through a simulated detector);
- **photographs**: scikit-image's sample images that ship with it (no download).

Methods, all on the same features (each classifier's penultimate layer) and the same reference (the model's bank of
training images):

- **kNN** (shipped, :mod:`core.classify.ood`): cosine distance to the 10th nearest reference image;
- **Mahalanobis**: the smallest squared Mahalanobis distance to the two classes' means with one shared covariance
  (Ledoit-Wolf shrinkage; Lee et al. 2018), on the raw features and on unit-length features;
- **energy**: minus the free energy of the logits (0, z), i.e. ``-log(1 + e^z)`` (Liu et al. 2020).

Printed per method and group: AUROC of the score against paediatric validation and against paediatric test (95 %
bootstrap intervals, 1000 resamples), and the share of the group flagged.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from sklearn.covariance import LedoitWolf  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from core.classify.checkpoint import DEFAULT_MODEL_PATH, load_model  # noqa: E402
from core.classify.data import load_images  # noqa: E402
from core.classify.ood import BUFFER, bank_indices, extract_features, knn_distance, ood_threshold  # noqa: E402
from core.classify.train import model_splits  # noqa: E402
from core.classify.transforms import model_input  # noqa: E402
from core.io import read_volume, read_xray_file  # noqa: E402
from core.reconstruct.projection import parallel_beam, radiograph  # noqa: E402
from core.reconstruct.volume import attenuation, display_slice  # noqa: E402
from core.types import pixels_to_uint8  # noqa: E402

SHARED = REPO_ROOT.parent / "shared" / "data"
PHOTOS = ("astronaut", "brick", "camera", "cat", "chelsea", "coffee", "coins", "grass", "gravel", "horse",
          "hubble_deep_field", "immunohistochemistry", "logo", "moon", "page", "rocket", "text", "clock",
          "colorwheel", "retina", "microaneurysms", "shepp_logan_phantom")  # fmt: skip


def _cts(shared: Path) -> list[Path]:
    return [shared / "chest_ct" / "cxr.nii.gz", *sorted((shared / "chest_ct_more").glob("*_ct.nii.gz"))]


def unfamiliar_groups(shared: Path, prepare) -> dict[str, np.ndarray]:
    """The unfamiliar images, prepared as the model's input (uint8)."""
    as_input = lambda pixels: pixels_to_uint8(prepare(np.asarray(pixels, dtype=np.float32)))  # noqa: E731
    groups: dict[str, list[np.ndarray]] = {"adult X-rays": [], "CT slices": [], "simulated laterals": [],
                                           "simulated frontals": [], "photographs": []}  # fmt: skip
    for path in sorted((shared / "cxr_lung_masks" / "images").iterdir()):
        groups["adult X-rays"].append(as_input(read_xray_file(path).pixels))
    for path in _cts(shared):
        ct = read_volume(path)
        for share in np.linspace(0.2, 0.8, 12):
            hu = display_slice(ct, plane="axial", index=int(share * ct.shape[0]))
            groups["CT slices"].append(as_input(np.clip((hu + 1000.0) / 1400.0, 0.0, 1.0)))
        views = parallel_beam(attenuation(ct), np.array([0.0, 80.0, 90.0, 100.0, 270.0]))
        groups["simulated frontals"].append(as_input(radiograph(views, 0)))
        groups["simulated laterals"] += [as_input(radiograph(views, i)) for i in range(1, 5)]
    import skimage.color
    import skimage.data

    for name in PHOTOS:
        image = np.asarray(getattr(skimage.data, name)(), dtype=np.float64)
        image = skimage.color.rgb2gray(image[..., :3] / 255.0) if image.ndim == 3 else image / (image.max() or 1.0)
        groups["photographs"].append(as_input(image))
    return {name: np.stack(images) for name, images in groups.items()}


def _mahalanobis(reference: np.ndarray, labels: np.ndarray):
    means = np.stack([reference[labels == c].mean(axis=0) for c in (0, 1)])
    precision = np.linalg.inv(LedoitWolf().fit(reference - means[labels]).covariance_)

    def score(features: np.ndarray) -> np.ndarray:
        return np.min([np.einsum("ij,jk,ik->i", features - m, precision, features - m) for m in means], axis=0)

    return score


def _unit(features: np.ndarray) -> np.ndarray:
    return features / np.linalg.norm(features, axis=-1, keepdims=True)


def _auroc(inside: np.ndarray, outside: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float]:
    def auc(a: np.ndarray, b: np.ndarray) -> float:
        return float(roc_auc_score(np.r_[np.zeros(len(a)), np.ones(len(b))], np.r_[a, b]))

    resampled = [auc(rng.choice(inside, len(inside)), rng.choice(outside, len(outside))) for _ in range(1000)]
    return auc(inside, outside), *np.quantile(resampled, [0.025, 0.975])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared data folder")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model, meta = load_model(args.model)
    if meta.ood is None:
        sys.exit(f"{args.model} has no out-of-distribution reference: python -m core fit-ood --model ... first.")
    config, splits = model_splits(meta, args.shared / "chest_xray")
    prepare = partial(model_input, size=meta.input_size)
    chosen = [splits.train[i] for i in bank_indices(len(splits.train), seed=config.seed)]
    reference, reference_labels = load_images(chosen, prepare=prepare)  # the bank's images, with their labels
    images = {"paediatric validation": load_images(splits.validation, prepare=prepare)[0],
              "paediatric test": load_images(splits.test, prepare=prepare)[0],
              **unfamiliar_groups(args.shared, prepare)}  # fmt: skip

    features = {name: extract_features(model, batch) for name, batch in images.items()}
    with torch.inference_mode():
        logits = {name: torch.cat([model(torch.as_tensor(batch[i : i + 128]).unsqueeze(1).float().div(255))
                                   for i in range(0, len(batch), 128)]).double().numpy()
                  for name, batch in images.items()}  # fmt: skip
    members_reference = extract_features(model, reference).numpy()
    bank = getattr(model, BUFFER)
    raw = [_mahalanobis(members_reference[m], reference_labels) for m in range(len(members_reference))]
    unit = [_mahalanobis(_unit(members_reference[m]), reference_labels) for m in range(len(members_reference))]
    methods = {
        "kNN (shipped)": lambda name: knn_distance(features[name], bank, meta.ood["neighbours"]),
        "Mahalanobis": lambda name: np.mean([s(f) for s, f in zip(raw, features[name].numpy(), strict=True)], 0),
        "Mahalanobis, unit features": lambda name: np.mean(
            [s(_unit(f)) for s, f in zip(unit, features[name].numpy(), strict=True)], 0),
        "energy": lambda name: -np.logaddexp(0.0, logits[name]),
    }  # fmt: skip
    rng = np.random.default_rng(0)
    results = []
    for method, score in methods.items():
        validation, test = score("paediatric validation"), score("paediatric test")
        threshold = ood_threshold(validation)
        for group in images:
            values = score(group)
            row = {"method": method, "group": group, "n": len(values),
                   "flagged": round(float((values > threshold).mean()), 4)}  # fmt: skip
            if group != "paediatric validation":
                row["auroc_vs_validation"] = [round(v, 4) for v in _auroc(validation, values, rng)]
            if group not in ("paediatric validation", "paediatric test"):
                row["auroc_vs_test"] = [round(v, 4) for v in _auroc(test, values, rng)]
            results.append(row)
    if args.json:
        print(json.dumps({"model": str(args.model), "ood": meta.ood, "results": results}))
        return
    ood = meta.ood
    print(f"{args.model.name}: {ood['method']} (k = {ood['neighbours']}, {ood['bank']} training images), threshold "
          f"{ood['threshold']:.4f}")  # fmt: skip
    print(f"{'method':<28}{'group':<24}{'n':>5}{'flagged':>9}   {'AUROC vs validation':<24}{'AUROC vs test':<24}")
    for row in results:
        cells = ["–" if key not in row else f"{row[key][0]:.3f} ({row[key][1]:.3f}–{row[key][2]:.3f})"
                 for key in ("auroc_vs_validation", "auroc_vs_test")]  # fmt: skip
        print(f"{row['method']:<28}{row['group']:<24}{row['n']:>5}{100 * row['flagged']:>8.1f}%   "
              f"{cells[0]:<24}{cells[1]:<24}")  # fmt: skip


if __name__ == "__main__":
    main()
