"""Command line: ``python -m core COMMAND ...`` (``python -m core --help`` lists the commands,
``python -m core COMMAND --help`` their options)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import typing
from collections.abc import Sequence

from core.errors import CoreError, InputError

if typing.TYPE_CHECKING:
    from core.types import Prediction


def _train(args: argparse.Namespace) -> int:
    from core.classify.settings import TrainConfig
    from core.classify.train import train

    config = TrainConfig(
        **{spec.name: _from_argument(getattr(args, spec.name)) for spec in dataclasses.fields(TrainConfig)}
    )
    from core.classify.distributed import world_from_environment

    model = train(config, log=lambda line: print(line, flush=True))
    if world_from_environment().is_main:  # under torchrun, one line, not one per process
        print(model)
    return 0


def _ensemble(args: argparse.Namespace) -> int:
    from core.classify.ensemble import build_ensemble

    meta = build_ensemble(args.models, data=args.data, out=args.out, half=args.half)
    figures = meta.validation
    print(
        f"{args.out}: {meta.members} members, temperature {meta.temperature:.3f}, threshold "
        f"{meta.threshold:.3f}; validation (n={figures['n']}) accuracy {figures['accuracy']:.4f}, sensitivity "
        f"{figures['sensitivity']:.4f}, specificity {figures['specificity']:.4f}, AUC {figures['auc']:.4f}, "
        f"ECE {figures['ece']:.4f}"
        + ("; test figures stored (python -m core evaluate --model OUT ... prints them)" if meta.test else "")
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from core.classify.evaluate import evaluate_model

    figures = evaluate_model(args.model, args.data, split=args.split)
    if args.json:
        print(json.dumps(figures))
    else:
        ci = figures["ci95"]
        print(
            f"{figures['model']['file']} on {args.split} (n={figures['n']}): accuracy {figures['accuracy']:.4f} "
            f"[{ci['accuracy'][0]:.4f}, {ci['accuracy'][1]:.4f}], sensitivity {figures['sensitivity']:.4f}, "
            f"specificity {figures['specificity']:.4f}, AUC {figures['auc']:.4f} [{ci['auc'][0]:.4f}, "
            f"{ci['auc'][1]:.4f}], ECE {figures['ece']:.4f}, confusion [[TN, FP], [FN, TP]] {figures['confusion']}"
        )
    return 0


def _recalibrate(args: argparse.Namespace) -> int:
    from core.classify.recalibrate import recalibrate
    from core.classify.settings import DEFAULT_MODEL_PATH

    model = DEFAULT_MODEL_PATH if args.model == "default" else args.model
    result = recalibrate(model, args.data, args.out, target_sensitivity=args.target_sensitivity)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    if args.json:
        figures = ("n", "accuracy", "sensitivity", "specificity", "auc", "ece", "threshold", "ci95", "borderline")
        print(json.dumps({"out": args.out, "temperature": result.meta.temperature, "threshold": result.meta.threshold,
                          "band_log_odds": result.meta.borderline, "before": {k: result.before.get(k) for k in figures},
                          "after": {k: result.after.get(k) for k in figures}}))  # fmt: skip
        return 0

    site = result.meta.recalibration["data"]["root_name"]  # type: ignore[index]
    print(f"{args.out}: recalibrated on {result.before['n']} images of '{site}' "
          f"(temperature {result.meta.temperature:.3f}, threshold {result.meta.threshold:.3f}); on those images, "
          "with 95 % bootstrap intervals (after: fitted on them, so optimistic):")  # fmt: skip
    for row in result.rows():
        print(
            f"  {row.pop(''):<7} "
            + "  ".join(f"{name if name.isupper() else name.lower()} {text}" for name, text in row.items())
        )
    return 0


def _fit_ood(args: argparse.Namespace) -> int:
    from core.classify.settings import DEFAULT_MODEL_PATH
    from core.classify.train import fit_ood_reference

    model = DEFAULT_MODEL_PATH if args.model == "default" else args.model
    ood = fit_ood_reference(model, data=args.data, out=args.out).ood
    validation = ood["validation"]
    print(f"{args.out or model}: out-of-distribution threshold {ood['threshold']:.4f} ({ood['method']}, k = "
          f"{ood['neighbours']}, {ood['bank']} training images); {validation['flagged']} of {validation['n']} "
          "validation images flagged")  # fmt: skip
    return 0


def _segment(args: argparse.Namespace) -> int:
    import traceback
    from pathlib import Path

    from core.io import encode_png, read_xray_file
    from core.lungs.segment import LungSegmenter
    from core.store.files import write_atomic

    segmenter = LungSegmenter(args.model) if args.model else LungSegmenter()
    failures = bugs = 0
    written: dict[Path, str] = {}
    for path in args.files:
        try:
            target = Path(args.out) / f"{Path(path).stem}.png"
            if target in written:  # DICOM exports reuse names across folders: never overwrite an answer given
                raise InputError(f"'{path}' would write {target}, already written for '{written[target]}'; segment "
                                 "files of the same name into separate --out folders.")  # fmt: skip
            xray = read_xray_file(path)
            found = segmenter.segment(xray.pixels)
            written[target] = path
            write_atomic(target, encode_png(found.lungs.astype("float32")))  # 8-bit: 255 lung, 0 not
            record = {"file": path, "mask": str(target), "lung_area_share": round(found.area_share, 4),
                      "right_found": bool(found.right.any()), "left_found": bool(found.left.any()),
                      "size": list(xray.shape)}  # fmt: skip
        except CoreError as error:
            failures += 1
            record = {"file": path, "error": str(error)}
        except Exception as error:  # a bug must not cost the other files their masks
            bugs += 1
            traceback.print_exc(file=sys.stderr)
            record = {"file": path, "error": f"'{Path(path).name}' could not be segmented: an internal error "
                      f"({type(error).__name__}), a bug in the workstation; details on standard error."}  # fmt: skip
        if args.json:
            print(json.dumps(record), flush=True)
        elif "error" in record:
            print(f"{path}: error: {record['error']}", flush=True)
        else:
            sides = [side for side in ("right", "left") if record[f"{side}_found"]]
            print(f"{path}: {record['mask']} (lungs {100 * record['lung_area_share']:.1f} % of the image; "
                  f"{' and '.join(sides) or 'no'} lung{'s' if len(sides) != 1 else ''} found)", flush=True)  # fmt: skip
    return 3 if bugs else 1 if failures else 0


def _train_lungs(args: argparse.Namespace) -> int:
    import torch

    from core.lungs.train import train_lungs

    if args.threads:
        torch.set_num_threads(args.threads)
    path = train_lungs(args.shared, args.out, epochs=args.epochs, log=lambda line: print(line, flush=True))
    print(f"{path}: the lung model (float16)")
    return 0


#: ``python -m core predict`` exit statuses (also in its ``--help``).
PREDICT_EXIT_STATUSES = """exit status:
  0  every file has a verdict
  1  one or more files were refused, each answered with an "error" sentence; the others have verdicts
  2  the command could not run (bad options, a model that cannot be loaded); no file was answered
  3  one or more files met an internal error (a bug: its traceback is on standard error); every file was answered"""


def _ood_record(prediction: Prediction) -> dict[str, float | bool] | None:
    """A verdict's out-of-distribution score as the JSON gives it (``None``: the model has no reference)."""
    ood = prediction.out_of_distribution
    return None if ood is None else {"score": ood.score, "flag": ood.flag, "threshold": ood.threshold}


def _predict(args: argparse.Namespace) -> int:
    import traceback
    from pathlib import Path

    from core.diagnose import Diagnoser
    from core.export.heatmap import heat_overlay
    from core.io import encode_png_rgb, read_xray_file
    from core.store.files import write_atomic

    diagnoser = Diagnoser(args.model)
    failures = bugs = 0
    for path in args.files:
        try:
            diagnosis = diagnoser.diagnose(read_xray_file(path), method=args.method if args.cam else None,
                                           faithfulness=args.faithfulness, lungs=bool(args.cam))  # fmt: skip
            prediction = diagnosis.prediction
            record = {"file": path, "label": prediction.label, "borderline": prediction.borderline,
                      "reading": prediction.reading, "probabilities": dict(prediction.probabilities),
                      "threshold": prediction.threshold, "band": prediction.band, "model": prediction.model,
                      "model_version": diagnoser.classifier.version, "warnings": list(diagnosis.warnings),
                      "out_of_distribution": _ood_record(prediction)}  # fmt: skip
            if diagnosis.cam is not None:
                overlay = heat_overlay(diagnosis.xray.pixels, diagnosis.cam.heat)
                target = Path(args.cam) / f"{Path(path).stem}.{args.method.lower()}.png"
                write_atomic(target, encode_png_rgb(overlay))
                figure = diagnosis.cam.faithfulness
                lungs = diagnosis.lungs
                record["cam"] = {"file": str(target), "method": args.method, "target": diagnosis.cam.target,
                                 "heat_in_lungs": diagnosis.heat_in_lungs,
                                 "lung_area": lungs.area_share if lungs is not None else None}  # fmt: skip
                if figure is not None:
                    record["cam"]["faithfulness"] = dataclasses.asdict(figure) | {"assessment": figure.assessment}
        except CoreError as error:  # one bad file must not stop the batch
            failures += 1
            record = {"file": path, "error": str(error)}
        except Exception as error:  # a bug must not cost the other files their answers either
            bugs += 1
            traceback.print_exc(file=sys.stderr)
            record = {"file": path, "error": f"'{Path(path).name}' could not be processed: an internal error "
                      f"({type(error).__name__}) that is a bug in the workstation, not a fault of the file as far "
                      "as is known. The details are on standard error; please report them."}  # fmt: skip
        if args.json:
            print(json.dumps(record), flush=True)
        elif "error" in record:
            print(f"{path}: error: {record['error']}", flush=True)
        else:
            ood = record["out_of_distribution"]
            print(f"{path}: {record['reading']} (pneumonia score {record['probabilities']['PNEUMONIA']:.3f}, "
                  f"threshold {record['threshold']:.3f}"
                  + (f"; unfamiliarity {ood['score']:.3f}, threshold {ood['threshold']:.3f}" if ood else "") + ")"
                  + (f", heat map {record['cam']['file']}" if "cam" in record else ""), flush=True)  # fmt: skip
            for warning in record["warnings"]:
                print(f"  warning: {warning}", flush=True)
    return 3 if bugs else 1 if failures else 0


def _reconstruct_bench(args: argparse.Namespace) -> int:
    from core.reconstruct.bench import run_bench

    segment = None
    if args.learned:
        from core.lungs.segment import LungSegmenter

        segment = LungSegmenter().find
    results = run_bench(args.ct, lungs=args.lungs, side=args.side, view_counts=tuple(args.views), segment=segment,
                        log=lambda line: print(line, file=sys.stderr, flush=True))  # fmt: skip
    if args.json:
        print(json.dumps(results))
    else:
        for row in results:
            figures = ", ".join(f"{k} {v}" for k, v in row.items() if k not in ("method", "views", "error"))
            failed = f" (failed: {row['error']})" if row["error"] else ""
            print(f"{row['method']:<34} {row['views']:>3} views: {figures}{failed}")
    return 0


def _fit_shape_prior(args: argparse.Namespace) -> int:
    from core.lungs.data import CT_CASES, HELD_OUT_CT
    from core.reconstruct.metrics import dice
    from core.reconstruct.prior import ct_hulls, fit_shape_prior, prior_hull_of

    cases = ct_hulls(args.shared, CT_CASES, side=args.side)
    prior = fit_shape_prior(case for case in cases if case[0] != HELD_OUT_CT)
    prior.save(args.out)
    print(f"fitted on {', '.join(prior.fitted_on)}; threshold {prior.threshold:.2f}; written to {args.out}")
    for name, hull, lungs in cases:
        held_out = " (held out)" if name not in prior.fitted_on else ""
        print(f"  {name}{held_out}: Dice {dice(prior_hull_of(hull, prior), lungs):.3f} from exact silhouettes")
    return 0


def _xr_bench(args: argparse.Namespace) -> int:
    from core.xr.bench import run_xr_bench

    rows = run_xr_bench(args.out, chromium=args.chromium, repeats=args.repeats)
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            print(
                f"{row['scene']:<18} {row['bytes'] / 1e6:5.2f} MB {row['triangles']:>7} triangles, first frame "
                f"{row['load_ms']:.0f} ms (median of {len(row['load_ms_all'])}): {row['glb']}"
            )
    return 0


def _add_user(args: argparse.Namespace) -> int:
    import getpass

    from core.store.audit import AuditTrail
    from core.store.users import UserStore

    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not args.sso_only:
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("Again: ") != password:
            raise InputError("The two passwords differ.")
    user = UserStore().add(args.name, role="admin" if args.admin else "doctor", password=password, email=args.email)
    AuditTrail().record("command line", "add-user", user.name, f"role {user.role}")
    print(f"added {user.role} '{user.name}'" + (f" ({user.email})" if user.email else ""))
    return 0


def _add_settings(parser: argparse.ArgumentParser, settings: type) -> None:
    """One option per field of the ``settings`` dataclass, from its type, default and metadata (``help``, argparse
    options, ``flag`` to rename it); a field without a default is a required option."""
    hints = typing.get_type_hints(settings)
    for spec in dataclasses.fields(settings):
        options = dict(spec.metadata)
        flag = options.pop("flag", "--" + spec.name.replace("_", "-"))
        kind = hints[spec.name]
        if kind is bool:
            parser.add_argument(flag, dest=spec.name, action="store_true", help=options["help"])
            continue
        arguments = [t for t in typing.get_args(kind) if t not in (type(None), Ellipsis)]
        default = spec.default if spec.default is not dataclasses.MISSING else None
        if spec.name == "threads":  # torch's threads follow the environment's limit unless given
            threads = os.environ.get("OMP_NUM_THREADS", "")
            default = int(threads) if threads.isdigit() and int(threads) else None
        parser.add_argument(flag, dest=spec.name, type=arguments[0] if arguments else kind, default=default,
                            required=spec.default is dataclasses.MISSING, **options)  # fmt: skip


def _from_argument(value: object) -> object:
    """An option's value as the settings take it (lists from ``nargs`` as tuples)."""
    return tuple(value) if isinstance(value, list) else value


def _parser() -> argparse.ArgumentParser:
    from core.classify.settings import DEFAULT_MODEL_PATH, HEAT_MAP_METHODS, TrainConfig  # no torch: starts at once
    from core.reconstruct.prior import DEFAULT_SHAPE_PRIOR

    parser = argparse.ArgumentParser(prog="python -m core", description="Chest X-ray workstation tools.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a NORMAL/PNEUMONIA classifier (resumes a stopped run)")
    _add_settings(train, TrainConfig)
    train.set_defaults(run=_train)

    ensemble = commands.add_parser(
        "ensemble", help="average the logits of models trained alike (seeds apart); calibrate on their validation split"
    )
    ensemble.add_argument("--models", required=True, nargs="+", help="two or more checkpoints (e.g. RUN/model.pt)")
    ensemble.add_argument("--data", required=True, help="the data folder the models were trained on")
    ensemble.add_argument("--out", required=True, help="the ensemble's checkpoint")
    ensemble.add_argument("--half", action="store_true", help="store float16 weights (half the size)")
    ensemble.set_defaults(run=_ensemble)

    evaluate = commands.add_parser("evaluate", help="evaluate a model on a split; figures with 95%% intervals")
    evaluate.add_argument("--model", default=str(DEFAULT_MODEL_PATH), help="checkpoint (default: shipped model)")
    evaluate.add_argument("--data", required=True, help="data folder holding SPLIT/NORMAL and SPLIT/PNEUMONIA")
    evaluate.add_argument("--split", default="test", choices=["train", "val", "test"])
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(run=_evaluate)

    predict = commands.add_parser(
        "predict",
        help="verdicts on X-ray files (JPEG, PNG, DICOM)",
        epilog=PREDICT_EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predict.add_argument("files", nargs="+", help="image files")
    predict.add_argument("--model", default=str(DEFAULT_MODEL_PATH), help="checkpoint (default: shipped model)")
    predict.add_argument("--json", action="store_true", help="one JSON object per file")
    predict.add_argument("--cam", metavar="DIR", help="write heat-map overlays (PNG) into this folder")
    predict.add_argument("--method", default="Grad-CAM", choices=HEAT_MAP_METHODS, help="heat-map method")
    predict.add_argument(
        "--faithfulness",
        action="store_true",
        help="with --cam, also check each map's faithfulness (ROAD: five imputations and a batched pass; a file "
        "then takes over twice as long)",
    )
    predict.set_defaults(run=_predict)

    recalibrate = commands.add_parser(
        "recalibrate",
        help="refit a model's temperature, threshold and borderline band on a site's labelled images",
        description="Refit a model's operating point (temperature, threshold, borderline band) on a site's own "
        "labelled images, DIR/NORMAL and DIR/PNEUMONIA (at least 20 of each; 100 or more advised), and write a new "
        "checkpoint that records it. The weights, hence the ranking (AUC), do not change.",
    )
    recalibrate.add_argument("--model", required=True, help="a checkpoint, or 'default' for the shipped model")
    recalibrate.add_argument("--data", required=True, help="folder holding NORMAL/ and PNEUMONIA/")
    recalibrate.add_argument("--out", required=True, help="the new checkpoint")
    recalibrate.add_argument("--target-sensitivity", type=float, help="threshold rule (default: Youden's J)")
    recalibrate.add_argument("--json", action="store_true", help="print one JSON object")
    recalibrate.set_defaults(run=_recalibrate)

    ood = commands.add_parser(
        "fit-ood",
        help="give a trained model its out-of-distribution score (training does this at its end)",
        description="Fit a model's out-of-distribution reference: features of up to 1000 of its training images, and "
        "the threshold that at most 5 %% of its validation images exceed. Needs the data folder it was trained on.",
    )
    ood.add_argument("--model", required=True, help="a checkpoint, or 'default' for the shipped model")
    ood.add_argument("--data", required=True, help="the data folder the model was trained on")
    ood.add_argument("--out", help="the new checkpoint (default: over --model)")
    ood.set_defaults(run=_fit_ood)

    segment = commands.add_parser(
        "segment", help="lung masks of X-rays: OUT/<stem>.png (255 = lung, the input's size) and one line per file"
    )
    segment.add_argument("files", nargs="+", help="JPEG, PNG or DICOM files")
    segment.add_argument("--out", required=True, help="folder for the masks")
    segment.add_argument("--model", help="a lung checkpoint (default: the shipped one)")
    segment.add_argument("--json", action="store_true", help="one JSON object per file")
    segment.set_defaults(run=_segment)

    lungs = commands.add_parser(
        "train-lungs", help="train the lung U-Net on real films (train-ok rows) and simulated radiographs (resumes)"
    )
    lungs.add_argument("--shared", required=True, help="the shared data folder (cxr_lung_masks, chest_ct, ...)")
    lungs.add_argument("--out", required=True, help="the run's folder (last.pt each epoch, model.pt at the end)")
    lungs.add_argument("--epochs", type=int, default=40)
    lungs.add_argument("--threads", type=int, help="torch threads (default: OMP_NUM_THREADS)")
    lungs.set_defaults(run=_train_lungs)

    bench = commands.add_parser("reconstruct-bench", help="every 3D reconstruction method scored against a CT")
    bench.add_argument("--ct", required=True, help="a CT file (with --lungs), or a folder with cxr.nii.gz (HU) and "
                       "mask.nii.gz (labels, lungs 10-14)")  # fmt: skip
    bench.add_argument("--lungs", help="the CT's lung labels on its grid (label > 0 is lung)")
    bench.add_argument("--learned", action=argparse.BooleanOptionalAction, default=True,
                       help="also segment the simulated views with the lung model (default: on)")  # fmt: skip
    bench.add_argument("--side", type=int, default=128, help="axial slices resampled to SIDE × SIDE voxels")
    bench.add_argument("--views", type=int, nargs="+", default=[2, 4, 8, 30, 90], help="view counts")
    bench.add_argument("--json", action="store_true", help="print one JSON list")
    bench.set_defaults(run=_reconstruct_bench)

    prior = commands.add_parser(
        "fit-shape-prior", help="fit the two-view hull's lung-shape prior on the CTs the lung model trained on"
    )
    prior.add_argument("--shared", required=True, help="the shared data folder (chest_ct, chest_ct_more)")
    prior.add_argument("--out", default=str(DEFAULT_SHAPE_PRIOR), help="where to write it (default: the shipped one)")
    prior.add_argument("--side", type=int, default=128, help="axial slices resampled to SIDE × SIDE voxels")
    prior.set_defaults(run=_fit_shape_prior)

    xr = commands.add_parser("xr-bench", help="the demo scenes as GLB files, timed in the WebXR viewer (Chromium)")
    xr.add_argument("--out", required=True, help="folder for the GLB files")
    xr.add_argument("--chromium", default="/usr/bin/chromium", help="the browser Playwright drives")
    xr.add_argument("--repeats", type=int, default=3, help="page loads per scene (load_ms is their median)")
    xr.add_argument("--json", action="store_true", help="print one JSON list")
    xr.set_defaults(run=_xr_bench)

    user = commands.add_parser("add-user", help="add an account (the first admin: add-user NAME --admin)")
    user.add_argument("name", help="the account's name: letters, digits, . _ - @ (kept in lower case)")
    user.add_argument("--admin", action="store_true", help="an admin (default: a doctor)")
    user.add_argument("--email", help="its e-mail address, for single sign-on where configured")
    user.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    user.add_argument("--sso-only", action="store_true", help="no password: signs in by single sign-on only")
    user.set_defaults(run=_add_user)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a file name that is not valid text must not stop a batch's answers
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "faithfulness", False) and not args.cam:
        parser.error("--faithfulness checks the heat maps: give --cam DIR too")
    try:
        return args.run(args)
    except CoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
