"""Make a finished training run the shipped default model, and write its model card.

    python scripts/ship_model.py --run RUN_DIR --data ../shared/data/chest_xray [--dest core/data/models] [--notes F]

Takes the run's ``model.pt`` (the epoch chosen on validation), stores it in float16 as ``default.pt`` and
recalibrates it on the same validation images (so the temperature, threshold and figures in its metadata are
those of the float16 weights that ship), then writes ``MODEL_CARD.md`` with the test accuracy of the run's
snapshots (e.g. after 10, 20 and 50 epochs) beside the seed paper's.
"""

from __future__ import annotations

import argparse
import tempfile
from functools import partial
from pathlib import Path

from core.classify.card import render_model_card
from core.classify.checkpoint import load_checkpoint, load_model, save_checkpoint
from core.classify.data import load_images
from core.classify.train import TrainConfig, dataset_splits, finalize
from core.classify.transforms import model_input

REPO_ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, type=Path, help="a finished run's output folder")
    parser.add_argument("--data", required=True, help="the data folder the run trained on")
    parser.add_argument("--dest", type=Path, default=REPO_ROOT / "core" / "data" / "models")
    parser.add_argument("--name", default="default")
    parser.add_argument("--notes", type=Path, help="Markdown appended to the card (what the figures show)")
    args = parser.parse_args()

    recipe = load_checkpoint(args.run / "model.pt")["meta"]["recipe"]
    config = TrainConfig.from_recipe(recipe, data=args.data, out=args.run)
    splits = dataset_splits(config)
    prepare = partial(model_input, size=config.input_size)
    validation = load_images(splits.validation, prepare=prepare)
    test = load_images(splits.test, prepare=prepare)

    snapshots = []
    for epoch in sorted({*config.snapshot_epochs, config.epochs}):
        path = args.run / f"epoch{epoch:03d}.pt"
        if not path.exists() and epoch == config.epochs:  # runs from before the last epoch was snapshotted
            finalize(args.run / "last.pt", validation=validation, test=test, out=path)
        meta = load_checkpoint(path)["meta"]
        if "test" not in meta:
            meta = finalize(path, validation=validation, test=test, target_sensitivity=config.target_sensitivity)
        snapshots.append(meta)

    model, _ = load_model(args.run / "model.pt")
    args.dest.mkdir(parents=True, exist_ok=True)
    shipped = args.dest / f"{args.name}.pt"
    with tempfile.TemporaryDirectory() as scratch:
        half = save_checkpoint(
            Path(scratch) / "half.pt", model=model, meta=load_checkpoint(args.run / "model.pt")["meta"], half=True
        )
        history = load_checkpoint(args.run / "last.pt")["meta"]["history"]  # the whole run, for its curves
        meta = finalize(half, validation=validation, test=test, out=shipped, half=True,
                        target_sensitivity=config.target_sensitivity, history=history)  # fmt: skip
    options = f" --ema {config.ema_decay}" if config.ema_decay else ""
    options += f" --mixup {config.mixup}" if config.mixup else ""
    options += f" --split-seed {config.split_seed}" if config.split_seed is not None else ""
    chosen = "the last epoch" if config.select == "last" else "the epoch chosen by validation loss"
    notes = [
        "## How these figures were produced",
        "",
        f"`python -m core train --data DATA --out RUN --arch {config.arch} --epochs {config.epochs} --input-size "
        f"{config.input_size} --augment {config.augment} --balance {config.balance} --seed {config.seed} --snapshots "
        f"{' '.join(map(str, config.snapshot_epochs))}{options} --select {config.select}` then "
        "`python scripts/ship_model.py --run RUN --data DATA`;",
        "check with `python -m core evaluate --data DATA --split test --json` (the default model).",
        "The epoch table evaluates calibrated snapshots of that one run after 10, 20 and 50 epochs (each with its own",
        "temperature and threshold fitted on validation); the 10- and 20-epoch snapshots sit mid-way through the",
        f"50-epoch learning-rate schedule. The shipped model is {chosen}, stored in float16 and recalibrated as",
        "stored.",
        "",
        *(args.notes.read_text().splitlines() if args.notes else []),
    ]
    card = render_model_card(meta, title="Default model: NORMAL / PNEUMONIA", snapshots=snapshots, notes=notes)
    (args.dest / "MODEL_CARD.md").write_text(card)
    print(f"{shipped} ({shipped.stat().st_size / 1e6:.1f} MB), test {meta['test']['accuracy']:.4f}")


if __name__ == "__main__":
    main()
