"""Home: what the workstation does, what it is not, and how to start."""

import streamlit as st

from ui.layout import RESEARCH_NOTICE
from ui.navigation import page_setup

page_setup()

st.title("Chest X-ray workstation")
st.markdown(
    """
A browser workstation for looking closely at chest radiographs: clean them up, see what each filter does, and
explore their intensities in 3D.

**Available now**

- **Preprocessing lab** — load a JPEG, PNG or DICOM chest X-ray (or a shipped sample) and chain the classical
  steps: salt-and-pepper noise (to demonstrate denoising), median filter, CLAHE or histogram equalisation,
  morphology (erosion, dilation, opening, closing, gradient, top-hat), min–max or z-score normalisation, and
  resizing. Before and after side by side, PSNR and SSIM of every step, a 3D surface of pixel intensity, and the
  result as a PNG download.
"""
)
st.page_link("pages/preprocessing_lab.py", label="Open the preprocessing lab", icon=":material/science:")
st.markdown(
    """
- **Classifier** — the CNN that tells NORMAL from PNEUMONIA, trained from scratch on the labelled paediatric
  chest X-rays of Kermany et al.: its figures on held-out test images (accuracy, sensitivity, specificity, AUC),
  its training curves, its confusion matrix and its model card, including where it falls short.
"""
)
st.page_link("pages/classifier.py", label="Open the classifier", icon=":material/model_training:")
st.markdown(
    """
- **Diagnose** — drop one or many chest X-rays (or pick samples) and read each verdict, NORMAL or PNEUMONIA, with
  its calibrated probability, the decision threshold and the model that gave it; a heat map (Grad-CAM, Grad-CAM++,
  Score-CAM or Eigen-CAM) with a faithfulness check that tells a telling map from a decorative one; a sortable
  table of the batch (CSV) and a one-page report per image (PDF or PNG).
- **History** — your verdicts kept on record (the file's hash and a pseudonym, not the image or its name, unless
  you ask), filtered, compared, exported and deleted.
"""
)
st.page_link("pages/diagnose.py", label="Diagnose X-rays", icon=":material/stethoscope:")
st.page_link("pages/history.py", label="Open the history", icon=":material/history:")
st.markdown(
    """
- **Reconstruct 3D** — the lungs in 3D from X-ray views at known angles: tomography (FBP, SART) from many views, a
  visual hull from two or more, or a clearly labelled approximation from one frontal view. The demo simulates the
  views from a real chest CT and scores each result against its lung labels; a 3D surface to rotate, slices, and
  STL/PLY downloads.
- **Open in VR** — on every 3D result (the lungs, an X-ray's intensity relief, its Grad-CAM heat map): a link and
  a QR code that a headset browser (Meta Quest and similar) opens to walk around the model life-size, cut it open
  and pin labelled notes on it; the notes are kept, and the model downloads as glTF (GLB).
"""
)
st.page_link("pages/reconstruct.py", label="Reconstruct in 3D", icon=":material/view_in_ar:")
st.markdown(
    """
- **My scenes** — the scenes you opened in VR, their links and pins; revoke a link for good.
- **Train**, **Models**, **Accounts and audit** (admins) — retrain the classifier in the background with live
  curves, compare every model's test figures and ROC curves, choose the one the Diagnose page uses; manage accounts,
  read and export the audit trail, purge old records.

**Accounts:** every page but this one asks you to sign in (open any page for the form), unless the app runs in
single-user mode on your own computer. Each doctor sees their own records and scenes; every access is written to an
audit trail; records and scenes are deleted after the retention period the server sets.
"""
)
st.markdown(
    """
**How to start:** open the lab, upload an X-ray or keep the sample that is already selected, then switch steps
on in the sidebar. Every control updates the result at once.

**Input:** JPEG, PNG (8- or 16-bit, grey, colour, with transparency or a palette) and single-frame DICOM
radiographs (windowing, rescale and MONOCHROME1 are honoured). Files up to 64 MB and 40 megapixels, at least
64×64 px. The lab processes uploads in memory and stores nothing; Diagnose records each verdict with the file's
hash (and the file itself only if you ask).

**Sample images:** six paediatric chest X-rays from Kermany et al., *Cell* 2018 (Mendeley Data,
doi:10.17632/rscbjbr9sj, CC BY 4.0).
"""
)
st.warning(RESEARCH_NOTICE, icon=":material/warning:")
