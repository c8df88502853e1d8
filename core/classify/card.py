"""Model cards (Mitchell et al., "Model Cards for Model Reporting", FAT* 2019) written from a checkpoint's metadata.

Everything in the card comes from the checkpoint itself (recipe, data, timing, figures), so a card cannot drift
from the model it describes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.classify.calibration import band_edges
from core.classify.meta import ModelMeta
from core.classify.models import ARCHITECTURES

__all__ = ["PUBLISHED", "render_model_card"]

#: Published figures on the same 624-image test split, for comparison.
PUBLISHED = {
    "Kermany et al. 2018 (ImageNet transfer learning)": {
        "accuracy": 0.928, "sensitivity": 0.932, "specificity": 0.901, "auc": 0.968,
    },
}  # fmt: skip
#: The seed paper's test accuracy after 10, 20 and 50 epochs.
SEED_PAPER_EPOCHS = {10: 0.91, 20: 0.92, 50: 0.96}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _interval(figures: dict[str, Any], key: str, percent: bool) -> str:
    interval = (figures.get("ci95") or {}).get(key)
    if not interval:
        return ""
    low, high = interval
    return f" ({_pct(low)} – {_pct(high)})" if percent else f" ({low:.3f} – {high:.3f})"


_AUGMENTATION_TEXT = {
    "none": "none",
    "standard": "rotation ±10°, scale ±10 %, shift ±6 %, gamma, noise",
    "strong": "rotation ±15°, scale ±20 %, aspect ±15 %, shift ±10 %, gamma, contrast, brightness, blur/sharpen, noise",
}


def _selection(recipe: dict) -> str:
    rule = "the last one" if recipe.get("select") == "last" else "lowest class-balanced validation loss"
    if recipe.get("ema_decay"):
        rule += f"; weights averaged over training steps, EMA decay {recipe['ema_decay']}"
    return rule


def _architecture(meta: ModelMeta) -> list[str]:
    arch, members, description = meta.arch, meta.members, ARCHITECTURES[meta.arch].description
    if members == 1:
        return [f"- Architecture: `{arch}`, {description}; one logit for PNEUMONIA."]
    return [
        f"- Architecture: a deep ensemble of {members} `{arch}` models ({description}) trained alike but for their",
        "  seed, each giving one logit for PNEUMONIA; the logits are averaged, then calibrated as one model.",
    ]


def _augmentation(level: str | bool) -> str:
    if isinstance(level, bool):  # recipes written before the augmentation levels
        level = "standard" if level else "none"
    return f"{level} ({_AUGMENTATION_TEXT[level]})" if level != "none" else "none"


def _counts(counts: dict[str, int]) -> str:
    return " + ".join(f"{n} {label}" for label, n in counts.items())


def _fitted_on(meta: ModelMeta) -> str:
    """Where the operating point was fitted: validation, or the site's images it was recalibrated on."""
    record = meta.recalibration
    if not record:
        return "validation"
    return f"the site's images '{record['data']['root_name']}', recalibrated {record['when'][:10]}"


def _validation_name(meta: ModelMeta) -> str:
    return "site's images (recalibration; in-sample)" if meta.recalibration else "validation (from train)"


def _recalibration(meta: ModelMeta) -> list[str]:
    """A recalibrated model's record: on what, and the operating point and figures it had before."""
    record = meta.recalibration
    if not record:
        return []
    previous, data = record["previous"], record["data"]
    counts = " + ".join(f"{n} {label}" for label, n in data["counts"].items())
    lines = [
        "## Recalibration",
        f"Recalibrated {record['when']} on the site's images '{data['root_name']}' ({counts}; fingerprint",
        f"`{data['fingerprint']}`): temperature {previous['temperature']:.3f} -> {meta.temperature:.3f}, threshold",
        f"{previous['threshold']:.3f} -> {meta.threshold:.3f}, from version {previous['version']}. The weights are",
        "the same: the ranking (AUC) is unchanged, and the figures on the site's images are in-sample.",
        "",
    ]
    if previous.get("test"):
        lines += ["Before recalibration:", "", *_figures_table([("test (former operating point)", previous["test"])]),
                  ""]  # fmt: skip
    return lines


def _band(meta: ModelMeta) -> list[str]:
    """The borderline band: where it lies, and how many validation and test images fell in it."""
    if not meta.borderline:
        return [
            "- Borderline band: none (even the images nearest the threshold, of those it was chosen on, were mostly",
            "  right).",
        ]
    low, high = band_edges(meta.threshold, meta.borderline)
    lines = [
        f"- Borderline band: scores between {low:.3f} and {high:.3f} (±{meta.borderline:.2f} log-odds around the",
        '  threshold) read "borderline: review", the label kept as a lean.',
    ]
    for name, figures in (("validation" if not meta.recalibration else "site", meta.validation), ("test", meta.test)):
        counted = (figures or {}).get("borderline")
        if counted:
            lines.append(
                f"  {name.capitalize()}: {counted['count']} of {counted['n']} images in the band (accuracy "
                f"{_pct(counted['accuracy_inside'])} inside, {_pct(counted['accuracy_outside'])} outside)."
            )
    return lines


def _ood(meta: ModelMeta) -> list[str]:
    """The out-of-distribution score: how it is computed and where it flags."""
    ood = meta.ood
    if not ood:
        return ["- Unfamiliar images: not assessed (the model has no out-of-distribution reference)."]
    validation = ood["validation"]
    return [
        f"- Unfamiliar images: flagged above **{ood['threshold']:.3f}** ({validation['flagged']} of {validation['n']} "
        f"validation images exceed it; at most {100 * ood['flagged_share']:.0f} %),",
        f"  by the {ood['method']} (k = {ood['neighbours']}) to {ood['bank']} training",
        '  images. A flagged verdict reads "unreliable: unfamiliar image".',
    ]


def _figures_table(rows: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
    lines = [
        "| | n | accuracy (95 % CI) | sensitivity | specificity | precision | F1 | AUC (95 % CI) | ECE |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, f in rows:
        lines.append(
            f"| {name} | {f.get('n', '–')} | {_pct(f['accuracy'])}{_interval(f, 'accuracy', True)} | "
            f"{_pct(f['sensitivity'])} | {_pct(f['specificity'])} | {_pct(f.get('precision'))} | "
            f"{_num(f.get('f1'))} | {_num(f['auc'])}{_interval(f, 'auc', False)} | {_num(f.get('ece'))} |"
        )
    return lines


def render_model_card(
    meta: ModelMeta, *, title: str, snapshots: Sequence[ModelMeta] = (), notes: Sequence[str] = ()
) -> str:
    """A Markdown model card.

    Parameters
    ----------
    meta : ModelMeta
        A calibrated checkpoint's metadata (with ``validation`` and, if evaluated, ``test`` figures).
    title : str
    snapshots : sequence of ModelMeta
        Metadata of calibrated snapshots of the same run (for the epoch table), each with ``epoch`` and ``test``.
    notes : sequence of str
        Extra paragraphs (how the figures were produced, caveats).

    Returns
    -------
    str
    """
    recipe, data, members = meta.recipe, meta.data, meta.members
    hours = (meta.training_seconds or 0.0) / 3600
    seeds = f"seeds {', '.join(map(str, meta.member_seeds or ()))}" if members > 1 else f"seed {recipe['seed']}"
    epochs = ", ".join(map(str, meta.member_epochs or [meta.epoch]))
    lines = [
        f"# {title}",
        "",
        "**Research and teaching tool, not a diagnostic device.** It has not been validated clinically; its",
        "verdicts must not guide the care of a patient.",
        "",
        "## Model",
        *_architecture(meta),
        f"- Input: {meta.input_size}×{meta.input_size} px; {meta.input_pipeline}.",
        f"- Output: calibrated probability of PNEUMONIA (temperature {meta.temperature:.3f}); PNEUMONIA when it",
        f"  is at least **{meta.threshold:.3f}** ({meta.threshold_rule or 'Youden'} on {_fitted_on(meta)}).",
        *_band(meta),
        *_ood(meta),
        f"- Selected epoch{'s' if members > 1 else ''}: {epochs} of {recipe['epochs']} ({_selection(recipe)}).",
        f"- Created {meta.created or '?'}, torch {meta.software.get('torch', '?')}.",
        "",
        "## Training",
        f"- {'Fine-tuned from ImageNet weights' if recipe['pretrained'] else 'From scratch (no ImageNet weights)'};"
        f" {seeds}.",
        f"- Data: `{data['root_name']}` train split: {_counts(data['train'])} images for training and a",
        f"  patient-disjoint validation set of {_counts(data['validation'])} ({data['validation_patients']} patients,",
        f"  split seed {recipe['split_seed'] if recipe.get('split_seed') is not None else recipe['seed']})",
        "  carved from it;",
        f"  data fingerprint `{data['fingerprint']}`.",
        f"- Recipe: AdamW, one-cycle learning rate peaking at {recipe['learning_rate']}, weight decay",
        f"  {recipe['weight_decay']}, batch {recipe['batch_size']}, {recipe['epochs']} epochs; class imbalance:",
        f"  {recipe['balance']}; augmentation: {_augmentation(recipe['augment'])}"
        + (f"; mixup (alpha {recipe['mixup']})." if recipe.get("mixup") else "."),
        f"- Time: {hours:.2f} h on {meta.hardware or '?'}"
        + (f" (the {members} members one after another)." if members > 1 else "."),
        "",
        "## Figures",
        "Validation figures choose nothing beyond what is stated above; test figures are reported only, computed",
        "once after every choice was made.",
        "",
        *_figures_table([(_validation_name(meta), meta.validation)] + ([("**test**", meta.test)] if meta.test else [])),
        "",
    ]
    lines += _recalibration(meta)
    if meta.test is not None:
        published = [(name, {**f, "n": 624}) for name, f in PUBLISHED.items()]
        lines += ["Published on the same test split:", "", *_figures_table(published), ""]
        test = meta.test
        met = [
            key for key in ("accuracy", "sensitivity", "specificity", "auc")
            if test[key] is not None and test[key] >= next(iter(PUBLISHED.values()))[key]
        ]  # fmt: skip
        lines += [f"Matches or beats Kermany et al. on {len(met)} of 4 figures ({', '.join(met) or 'none'}).", ""]
    if snapshots:
        lines += [
            "## Test accuracy by training length (the seed paper's experiment)",
            "",
            "| epochs | this model's recipe: test accuracy | sensitivity | specificity | AUC | seed paper |",
            "|---|---|---|---|---|---|",
        ]
        for snap in sorted(snapshots, key=lambda s: s.epoch):
            t = snap.test
            lines.append(
                f"| {snap.epoch} | {_pct(t['accuracy'])} | {_pct(t['sensitivity'])} | {_pct(t['specificity'])} | "
                f"{_num(t['auc'])} | {_pct(SEED_PAPER_EPOCHS.get(snap.epoch))} |"
            )
        lines.append("")
    lines += [*notes] if notes else []
    lines += [
        "",
        "## Limits",
        "- Trained on paediatric (age 1–5) frontal chest X-rays from one hospital (Guangzhou); adult images, other",
        "  views, other hospitals and other diseases are outside what it has seen.",
        "- Two classes only: it cannot say 'something else is wrong'.",
        "- The data set's images were squashed to 224×224; uploads are squashed the same way before the model.",
        "",
    ]
    return "\n".join(lines)
