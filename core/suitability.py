"""Cheap checks of whether an image looks like what the classifier was trained on: a frontal chest radiograph.

The classifier answers NORMAL or PNEUMONIA for any picture it is given. These checks read what the file already
says (DICOM tags, colour, proportions) and turn it into warnings a user sees beside the verdict; they never block a
prediction, because a tag can be wrong or missing.
"""

from __future__ import annotations

from core.types import XRay

__all__ = ["suitability_warnings"]

# Modalities of projection radiographs: computed and digital radiography, radiographic imaging, and "other"
# (secondary captures of radiographs are often tagged OT).
_RADIOGRAPHY = {"CR", "DX", "DR", "RG", "OT"}
_CHEST = {"CHEST", "THORAX", "LUNG", "LUNGS"}
_LATERAL_VIEWS = {"LL", "RL", "LAT", "LATERAL", "LLD", "RLD"}
# Chest films are between about 4:5 and 5:4; beyond these proportions the image is unlikely to be one.
_ASPECT_RANGE = (0.6, 1.7)


def suitability_warnings(xray: XRay) -> list[str]:
    """Reasons to doubt that ``xray`` is a frontal chest radiograph, in plain words (empty when none).

    Parameters
    ----------
    xray : XRay

    Returns
    -------
    list of str
    """
    warnings = []
    tags = xray.metadata
    modality = str(tags.get("Modality", "")).upper()
    if modality and modality not in _RADIOGRAPHY:
        warnings.append(
            f"The DICOM modality is {modality}, not a radiograph (CR/DX): the model was trained on chest X-rays "
            "only, so its verdict means little here."
        )
    body_part = str(tags.get("BodyPartExamined", "")).upper()
    if body_part and body_part not in _CHEST:
        warnings.append(
            f"The DICOM body part is {body_part}, not the chest: the model was trained on chest X-rays only."
        )
    view = str(tags.get("ViewPosition", "")).upper()
    if view in _LATERAL_VIEWS:
        warnings.append(f"The view is lateral ({view}); the model was trained on frontal (AP/PA) views only.")
    if xray.colour:
        warnings.append("The image is in colour: it may be a photograph or a screenshot rather than a radiograph.")
    height, width = xray.shape
    if not _ASPECT_RANGE[0] <= width / height <= _ASPECT_RANGE[1]:
        warnings.append(
            f"The image is {width}×{height} px, unusual proportions for a chest film: check that it is one, and "
            "crop it to the chest if it shows more."
        )
    return warnings
