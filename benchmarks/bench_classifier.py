"""Training throughput and evaluation time of the classifier on this machine.

Usage::

    python benchmarks/bench_classifier.py [--data DIR] [--archs xraynet,resnet18] [--size 128] [--threads 2] [--json]

- Training: images per second of full training steps (augmentation, forward, backward, AdamW) on batches of real
  training images, per architecture; the median over ``--steps`` timed steps after two warm-up steps.
- Evaluation: the shipped default model on the whole test split, split into decoding and preparing the images
  (read, median 3×3, resize) and the model's forward passes; seconds and images per second.
- Peak resident memory of the process.

DIR defaults to ../shared/data/chest_xray.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from core.classify.checkpoint import DEFAULT_MODEL_PATH, load_model  # noqa: E402
from core.classify.data import load_images, scan_dataset  # noqa: E402
from core.classify.evaluate import evaluate_arrays, predict_logits  # noqa: E402
from core.classify.models import build_model  # noqa: E402
from core.classify.transforms import augment, model_input, sample_augmentation  # noqa: E402


def training_throughput(arch: str, images: torch.Tensor, labels: torch.Tensor, *, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    model = build_model(arch).train().to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    times = []
    for step in range(steps + 2):
        index = torch.randint(0, images.shape[0], (batch,), generator=generator)
        start = time.perf_counter()
        x = images[index].unsqueeze(1).float().div_(255.0)
        x = augment(x, sample_augmentation(batch, generator=generator), noise=torch.randn(x.shape, generator=generator))
        loss = F.binary_cross_entropy_with_logits(model(x.contiguous(memory_format=torch.channels_last)),
                                                  labels[index].float())  # fmt: skip
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step >= 2:
            times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description="Classifier training throughput and evaluation time.")
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "chest_xray")
    parser.add_argument("--archs", default="xraynet,resnet18")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dataset = scan_dataset(args.data, splits=("train", "test"))

    results: dict[str, object] = {"threads": args.threads, "input_size": args.size, "batch": args.batch}
    train_records = dataset["train"][:: max(1, len(dataset["train"]) // 512)]  # 512 real images spread over train
    images, labels = load_images(train_records, prepare=partial(model_input, size=args.size))
    images, labels = torch.from_numpy(images), torch.from_numpy(labels)
    results["train_images_per_second"] = {
        arch: round(training_throughput(arch, images, labels, batch=args.batch, steps=args.steps), 1)
        for arch in args.archs.split(",")
    }

    model, meta = load_model(args.model)
    start = time.perf_counter()
    test_images, test_labels = load_images(dataset["test"], prepare=partial(model_input, size=meta.input_size))
    prepare_s = time.perf_counter() - start
    predict_logits(model, test_images[:8])  # warm-up
    start = time.perf_counter()
    logits = predict_logits(model, test_images)
    forward_s = time.perf_counter() - start
    figures = evaluate_arrays(logits, test_labels, temperature=meta.temperature, threshold=meta.threshold,
                              bootstrap=False)  # fmt: skip
    n = len(dataset["test"])
    results["evaluation"] = {
        "model": args.model.name,
        "n": n,
        "prepare_s": round(prepare_s, 2),
        "forward_s": round(forward_s, 2),
        "images_per_second": round(n / (prepare_s + forward_s), 1),
        "forward_images_per_second": round(n / forward_s, 1),
        "accuracy": round(figures["accuracy"], 4),
    }
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if args.json:
        print(json.dumps(results))
        return
    print(f"threads {args.threads}, input {args.size}×{args.size}, batch {args.batch}")
    for arch, rate in results["train_images_per_second"].items():
        print(f"  train {arch:10s} {rate:7.1f} images/s  ({5216 / rate / 60:.1f} min per epoch of the train split)")
    e = results["evaluation"]
    print(
        f"  evaluate {e['model']} on {e['n']} test images: prepare {e['prepare_s']} s + forward {e['forward_s']} s "
        f"= {e['images_per_second']} images/s (forward alone {e['forward_images_per_second']} images/s)"
    )
    print(f"  peak RSS {results['peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
