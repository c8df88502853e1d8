"""Make a finished training run (or several: a deep ensemble) the shipped default model, and write its model card.

    python scripts/ship_model.py --run RUN_DIR [RUN_DIR ...] --data ../shared/data/chest_xray [--dest DIR] [--notes F]

Takes the run's ``model.pt`` (the epoch chosen on validation), stores it in float16 as ``default.pt`` and
recalibrates it on the same validation images (so the temperature, threshold and figures in its metadata are
those of the float16 weights that ship), then writes ``MODEL_CARD.md`` with the test accuracy of the run's
snapshots (e.g. after 10, 20 and 50 epochs) beside the seed paper's. With several runs (trained alike, seeds
apart, on one validation split) the shipped model is their ensemble (:mod:`core.classify.ensemble`), and each
row of the epoch table is the ensemble of the runs' snapshots at that epoch.
"""

from __future__ import annotations

import argparse
import tempfile
from functools import partial
from pathlib import Path

from core.classify.card import render_model_card
from core.classify.checkpoint import load_model, read_meta, save_checkpoint
from core.classify.data import load_images
from core.classify.ensemble import combine
from core.classify.train import TrainConfig, dataset_splits, finalize
from core.classify.transforms import INPUT_PIPELINE, model_input

REPO_ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, type=Path, nargs="+", help="finished runs' output folders")
    parser.add_argument("--data", required=True, help="the data folder the runs trained on")
    parser.add_argument("--dest", type=Path, default=REPO_ROOT / "core" / "data" / "models")
    parser.add_argument("--name", default="default")
    parser.add_argument("--notes", type=Path, help="Markdown appended to the card (what the figures show)")
    args = parser.parse_args()

    runs = args.run
    recipe = read_meta(runs[0] / "model.pt").recipe
    config = TrainConfig.from_recipe(recipe, data=args.data, out=runs[0])
    splits = dataset_splits(config)
    prepare = partial(model_input, size=config.input_size)
    validation = load_images(splits.validation, prepare=prepare)
    test = load_images(splits.test, prepare=prepare)

    args.dest.mkdir(parents=True, exist_ok=True)
    shipped = args.dest / f"{args.name}.pt"
    history = read_meta(runs[0] / "last.pt").history  # the (first) run's whole curves
    snapshots = []
    with tempfile.TemporaryDirectory() as scratch:
        # the epoch table: the run's snapshots (and its last epoch beside them), when it kept any
        for epoch in sorted({*config.snapshot_epochs, config.epochs}) if config.snapshot_epochs else ():
            paths = [run / f"epoch{epoch:03d}.pt" for run in runs]
            for run, path in zip(runs, paths, strict=True):
                if not path.exists() and epoch == config.epochs:  # runs from before the last epoch was snapshotted
                    finalize(run / "last.pt", validation=validation, test=test, out=path,
                             target_sensitivity=config.target_sensitivity)  # fmt: skip
            if len(runs) > 1:
                combine(paths, Path(scratch) / f"epoch{epoch:03d}.pt")
                paths = [Path(scratch) / f"epoch{epoch:03d}.pt"]
            meta = read_meta(paths[0])
            if meta.test is None:
                meta = finalize(paths[0], validation=validation, test=test,
                                target_sensitivity=config.target_sensitivity)  # fmt: skip
            snapshots.append(meta)

        half = Path(scratch) / "half.pt"
        if len(runs) > 1:
            combine([run / "model.pt" for run in runs], half, half=True)
        else:
            model, meta = load_model(runs[0] / "model.pt")
            save_checkpoint(half, model=model, meta=meta, half=True)
        # the input pipeline as this code applies it (the same on the data set's 224 px copies the run trained on)
        model, meta = load_model(half)
        save_checkpoint(half, model=model, meta=meta.with_(input_pipeline=INPUT_PIPELINE), half=True)
        meta = finalize(half, validation=validation, test=test, out=shipped, half=True,
                        target_sensitivity=config.target_sensitivity, history=history)  # fmt: skip
    shipped.chmod(0o644)  # part of the package: readable by whoever serves it (checkpoints are private by default)
    chosen = "the last epoch" if config.select == "last" else "the epoch chosen by validation loss"
    seeds = meta.member_seeds or (config.seed,)
    if len(runs) > 1:
        how = [
            f"`{config.command_line(seed='SEED')}` once per seed ({', '.join(map(str, seeds))}), each into its own RUN"
            " folder, then",
            "`python scripts/ship_model.py --run RUN1 RUN2 ... --data DATA`;",
        ]
    else:
        how = [f"`{config.command_line()}` then", "`python scripts/ship_model.py --run RUN --data DATA`;"]
    table = []
    if snapshots:
        epochs = ", ".join(str(epoch) for epoch in sorted({*config.snapshot_epochs, config.epochs}))
        table = [
            f"The epoch table evaluates calibrated {'ensembles of the members' if len(runs) > 1 else 'the run'}'s",
            f"snapshots after {epochs} epochs, each with its own temperature and threshold fitted on validation;",
            "snapshots before the last sit mid-way through the learning-rate schedule.",
        ]
    notes = [
        "## How these figures were produced",
        "",
        *how,
        "check with `python -m core evaluate --data DATA --split test --json` (the default model).",
        *table,
        f"The shipped model is {chosen}{' of each member' if len(runs) > 1 else ''}, stored in float16 and",
        "calibrated on validation as stored.",
        "",
        *(args.notes.read_text().splitlines() if args.notes else []),
    ]
    card = render_model_card(meta, title="Default model: NORMAL / PNEUMONIA", snapshots=snapshots, notes=notes)
    (args.dest / "MODEL_CARD.md").write_text(card)
    print(f"{shipped} ({shipped.stat().st_size / 1e6:.1f} MB), test {meta.test['accuracy']:.4f}")


if __name__ == "__main__":
    main()
