"""CT volumes from NIfTI and DICOM series, in the LAS convention, with their spacing."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from core.errors import InputError
from core.io import read_volume
from core.reconstruct.volume import attenuation, label_mask, resample_to
from core.types import Volume


def _marked_array() -> np.ndarray:
    """(i, j, k) = (4, 5, 6) zeros with a marker at the highest i, j and k corner."""
    data = np.zeros((4, 5, 6), dtype=np.int16)
    data[3, 4, 5] = 100
    return data


def test_nifti_in_ras_is_reoriented_to_las(tmp_path):
    affine = np.diag([2.0, 3.0, 4.0, 1.0])  # RAS: i to the right, j anterior, k superior
    nib.save(nib.Nifti1Image(_marked_array(), affine), tmp_path / "ras.nii.gz")
    volume = read_volume(tmp_path / "ras.nii.gz")
    assert volume.shape == (6, 5, 4) and volume.spacing_mm == (4.0, 3.0, 2.0)
    # The marker was right-most: in LAS (x towards the left) it sits at x = 0; anterior and superior stay high.
    assert tuple(np.argwhere(volume.data == 100)[0]) == (5, 4, 0)
    assert volume.data.dtype == np.float32 and volume.unit == "HU"


def test_the_real_ct_has_its_stated_grid_and_the_heart_on_the_left(ct_dir):
    ct = read_volume(ct_dir / "cxr.nii.gz")
    labels = read_volume(ct_dir / "mask.nii.gz", unit="label")
    assert ct.shape == labels.shape == (133, 512, 512)
    assert ct.spacing_mm == pytest.approx((2.5, 0.703125, 0.703125))
    heart_x = np.nonzero(labels.data == 51)[2].mean()
    liver_x = np.nonzero(labels.data == 5)[2].mean()
    assert heart_x > 256 > liver_x  # x grows towards the patient's left


def _ct_slice(position_mm: float, value: int, series: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CTImageStorage, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID, ds.SeriesInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID, series
    ds.Modality = "CT"
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [0, 0, position_mm]
    ds.PixelSpacing = [0.5, 0.8]
    ds.Rows, ds.Columns = 6, 8
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.PixelData = np.full((6, 8), value, dtype=np.uint16).tobytes()
    return ds


def test_a_dicom_series_is_stacked_by_position_in_hounsfield_units(tmp_path):
    series = generate_uid()
    for name, position, value in (("b.dcm", 5.0, 1024), ("a.dcm", 2.5, 0), ("c.dcm", 0.0, 2048)):
        _ct_slice(position, value, series).save_as(tmp_path / name, enforce_file_format=True)
    volume = read_volume(tmp_path)
    assert volume.shape == (3, 6, 8) and volume.spacing_mm == pytest.approx((2.5, 0.5, 0.8))
    # Superior (highest z position) last; HU = stored - 1024.
    assert [float(volume.data[k].mean()) for k in range(3)] == [1024.0, -1024.0, 0.0]


def test_bad_volumes_are_refused_with_a_reason(tmp_path):
    with pytest.raises(InputError, match="No volume"):
        read_volume(tmp_path / "missing.nii.gz")
    (tmp_path / "broken.nii.gz").write_bytes(b"not a nifti file")
    with pytest.raises(InputError, match="not a readable NIfTI"):
        read_volume(tmp_path / "broken.nii.gz")
    folder = tmp_path / "one"
    folder.mkdir()
    _ct_slice(0.0, 0, generate_uid()).save_as(folder / "only.dcm", enforce_file_format=True)
    with pytest.raises(InputError, match="at least two slices"):
        read_volume(folder)
    _ct_slice(0.0, 0, generate_uid()).save_as(folder / "twin.dcm", enforce_file_format=True)
    with pytest.raises(InputError, match="mixes 2 DICOM series"):
        read_volume(folder)


def _empty_labels() -> Volume:
    return Volume(data=np.zeros((2, 8, 8), dtype=np.uint8), spacing_mm=(1, 1, 1), unit="label")


def test_attenuation_clamps_air_and_resampling_keeps_masks_binary(ct_64):
    mu, lungs = ct_64
    assert mu.unit == "1/mm" and mu.data.min() >= 0 and mu.shape == (133, 64, 64)
    assert mu.spacing_mm == pytest.approx((2.5, 5.625, 5.625))
    assert lungs.data.dtype == bool and 0.05 < lungs.data.mean() < 0.3
    with pytest.raises(InputError, match="Hounsfield"):
        attenuation(mu)
    with pytest.raises(InputError, match="label"):
        resample_to(_empty_labels(), side=32)
    with pytest.raises(InputError, match="No voxel"):
        label_mask(_empty_labels(), ids=(99,))
