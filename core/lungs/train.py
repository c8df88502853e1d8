"""Training the lung U-Net: real ``train-ok`` films and simulated radiographs of the training CTs, augmented.

    python -m core train-lungs --shared ../shared/data --out RUN [--epochs 40] [--threads 2]

The recipe (fixed before the shipped model was trained, see its model card): 256 px inputs; AdamW, one-cycle learning
rate peaking at 1e-3, weight decay 1e-4, batch 8; loss = binary cross-entropy + soft Dice; augmentation on every
batch (rotation ±10°, scale 0.85-1.15, shift ±8 %, gamma 0.7-1.5, contrast and brightness, Gaussian noise), no
flips (the heart is on the patient's left); the last epoch's weights. ``RUN/last.pt`` is written after every epoch
(weights, optimiser, scheduler, random state), and a stopped run resumes from it. The validation films' median Dice
is logged every 5 epochs and chooses nothing.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from core.lungs.data import (
    CT_CASES,
    FRONTAL_ANGLES,
    HELD_OUT_CT,
    LATERAL_ANGLES,
    load_real,
    real_pairs,
    simulated_pairs,
)
from core.lungs.model import build_unet, save_lung_model
from core.store.files import write_atomic

__all__ = ["RECIPE", "train_lungs"]

RECIPE = {"size": 256, "epochs": 40, "batch_size": 8, "learning_rate": 1e-3, "weight_decay": 1e-4, "seed": 0,
          "rotation_deg": 10.0, "scale": (0.85, 1.15), "shift": 0.08, "gamma": (0.7, 1.5), "noise": 0.02,
          "held_out_ct": HELD_OUT_CT, "select": "last"}  # fmt: skip


def _augment(images: torch.Tensor, masks: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """The same random affine warp of each image and its mask, then intensity changes of the image alone."""
    count = images.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(count, generator=generator)

    angle = torch.deg2rad(uniform(-RECIPE["rotation_deg"], RECIPE["rotation_deg"]))
    scale = uniform(*RECIPE["scale"])
    shift = torch.stack([uniform(-RECIPE["shift"], RECIPE["shift"]) for _ in range(2)], dim=1) * 2
    theta = torch.zeros(count, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = torch.cos(angle) / scale, -torch.sin(angle) / scale
    theta[:, 1, 0], theta[:, 1, 1] = torch.sin(angle) / scale, torch.cos(angle) / scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    images = F.grid_sample(images, grid, padding_mode="border", align_corners=False)
    masks = F.grid_sample(masks, grid, padding_mode="zeros", align_corners=False)
    gamma = uniform(*RECIPE["gamma"]).view(-1, 1, 1, 1)
    contrast, brightness = uniform(0.8, 1.2).view(-1, 1, 1, 1), uniform(-0.1, 0.1).view(-1, 1, 1, 1)
    images = images.clamp(0, 1) ** gamma * contrast + brightness
    noise = torch.randn(images.shape, generator=generator) * RECIPE["noise"]
    return (images + noise).clamp(0, 1), masks


def _loss(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    probabilities = torch.sigmoid(logits)
    overlap = (probabilities * masks).sum(dim=(1, 2, 3))
    dice = (2 * overlap + 1) / (probabilities.sum(dim=(1, 2, 3)) + masks.sum(dim=(1, 2, 3)) + 1)
    return F.binary_cross_entropy_with_logits(logits, masks) + (1 - dice).mean()


@torch.inference_mode()
def median_dice(model: torch.nn.Module, images: np.ndarray, masks: np.ndarray) -> float:
    """Median Dice at the model's input size of hard masks (probability ≥ 0.5) against targets (fraction ≥ 0.5)."""
    scores = []
    for start in range(0, len(images), 16):
        logits = model(torch.from_numpy(images[start : start + 16]).unsqueeze(1))
        found = (logits[:, 0] >= 0).numpy()
        for guess, truth in zip(found, masks[start : start + 16] >= 0.5, strict=True):
            total = guess.sum() + truth.sum()
            scores.append(1.0 if total == 0 else 2 * (guess & truth).sum() / total)
    return float(np.median(scores))


def training_pairs(shared: Path, size: int) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """The training images and masks (real ``train-ok`` films, then simulated views of the training CTs)."""
    real = [load_real(p, size) for p in real_pairs(shared / "cxr_lung_masks") if p.part == "train"]
    images, masks = [np.stack([r[0] for r in real])], [np.stack([r[1] for r in real])]
    for case in CT_CASES:
        if case != HELD_OUT_CT:
            simulated = simulated_pairs(shared, case, FRONTAL_ANGLES + LATERAL_ANGLES, size=size)
            images.append(simulated[0])
            masks.append(simulated[1])
    counts = {"real": len(real), "simulated": sum(len(i) for i in images[1:])}
    return np.concatenate(images), np.concatenate(masks), counts


def train_lungs(shared: str | Path, out: str | Path, *, epochs: int = RECIPE["epochs"],
                log: Callable[[str], None] = print) -> Path:  # fmt: skip
    """Train (or resume) a lung U-Net; returns ``out/model.pt`` (float16, with its recipe, time and figures)."""
    shared, out = Path(shared), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    size, batch = RECIPE["size"], RECIPE["batch_size"]
    images, masks, counts = training_pairs(shared, size)
    validation = [load_real(p, size) for p in real_pairs(shared / "cxr_lung_masks") if p.part == "validation"]
    val_images, val_masks = np.stack([v[0] for v in validation]), np.stack([v[1] for v in validation])
    log(f"training pairs: {counts}; validation films: {len(validation)}")

    torch.manual_seed(RECIPE["seed"])
    model = build_unet(pretrained=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=RECIPE["learning_rate"], weight_decay=RECIPE["weight_decay"])
    steps = math.ceil(len(images) / batch)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=RECIPE["learning_rate"], epochs=epochs,
                                                    steps_per_epoch=steps)  # fmt: skip
    generator = torch.Generator().manual_seed(RECIPE["seed"])
    history: list[dict[str, Any]] = []
    done, seconds = 0, 0.0
    if (out / "last.pt").is_file():
        state = torch.load(out / "last.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        done, seconds, history = state["epoch"], state["seconds"], json.loads(state["history"])
        log(f"resuming after epoch {done}")
    data_x, data_y = torch.from_numpy(images).unsqueeze(1), torch.from_numpy(masks).unsqueeze(1)
    for epoch in range(done + 1, epochs + 1):
        tick = time.perf_counter()
        model.train()
        order = torch.randperm(len(data_x), generator=generator)
        losses = []
        for start in range(0, len(order), batch):
            chosen = order[start : start + batch]
            if len(chosen) < 2:
                continue
            x, y = _augment(data_x[chosen], data_y[chosen], generator)
            loss = _loss(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.detach()))
        model.eval()
        elapsed = time.perf_counter() - tick
        seconds += elapsed
        record = {"epoch": epoch, "loss": float(np.mean(losses)), "seconds": elapsed}
        if epoch % 5 == 0 or epoch == epochs:
            record["validation_median_dice"] = median_dice(model, val_images, val_masks)
        history.append(record)
        log(" ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items()))
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                 "generator": generator.get_state(), "epoch": epoch, "seconds": seconds,
                 "history": json.dumps(history)}  # fmt: skip
        write_atomic(out / "last.pt", lambda handle, s=state: torch.save(s, handle))
    meta = {
        "recipe": {**RECIPE, "epochs": epochs},
        "data": {**counts, "validation": len(validation), "training_cts": [c for c in CT_CASES if c != HELD_OUT_CT]},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_seconds": seconds,
        "hardware": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        "software": {"torch": str(torch.__version__)},
        "history": history,
        "validation_median_dice": history[-1].get("validation_median_dice"),
    }
    return save_lung_model(out / "model.pt", model=model, meta=meta, half=True)
