import gzip
import importlib.resources
import io
import logging
import warnings

import nibabel as nib
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.datadict import dictionary_has_tag, tag_for_keyword
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import apply_color_lut, apply_modality_lut
from pydicom.uid import JPEG2000, ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from medmodels.imaging import nifti, scans
from medmodels.imaging.deidentify import EXTRA_IDENTIFYING_KEYWORDS
from medmodels.imaging.display import WINDOW_PRESETS, Window, default_display, display_image
from medmodels.imaging.images import ImageReadError, read_image
from medmodels.imaging.scans import ScanReadError, read_scan

NIBABEL_DATA = importlib.resources.files("nibabel") / "tests" / "data"


def _sample(name: str) -> bytes:
    path = get_testdata_file(name)  # exact names only: a pattern makes pydicom try the network
    assert path is not None, name
    with open(path, "rb") as file:
        return file.read()


def _dataset(name: str) -> Dataset:
    return pydicom.dcmread(io.BytesIO(_sample(name)))


def _dicom(pixels: np.ndarray | None = None, *, transfer_syntax: str = ExplicitVRLittleEndian, **elements) -> bytes:
    """A small DICOM file made in memory; ``pixels`` are int16 unless ``elements`` say otherwise."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    if pixels is not None:
        ds.Rows, ds.Columns = pixels.shape
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        if ds.file_meta.TransferSyntaxUID.is_compressed:  # a stand-in codestream: these tests never decode it
            ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(12)])
            ds["PixelData"].VR = "OB"
        else:
            ds.PixelData = pixels.astype("<i2").tobytes()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some tests store deliberately invalid values
        for keyword, value in elements.items():
            setattr(ds, keyword, value)
        ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _nifti(volume: np.ndarray, affine: np.ndarray | None = None) -> bytes:
    return nib.Nifti1Image(volume, np.eye(4) if affine is None else affine).to_bytes()


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


# --- DICOM values and windows -------------------------------------------------------------------


def test_ct_pixels_are_in_hounsfield_units():
    ds = _dataset("CT_small.dcm")
    scan = read_scan(_sample("CT_small.dcm"))
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert scan.source == "dicom" and scan.modality == "CT"
    assert scan.pixels.dtype == np.float32 and scan.pixels.shape == (1, 128, 128)
    np.testing.assert_array_equal(scan.frame(0), expected)
    assert scan.description == "DICOM CT, 128 x 128, 1 frame, transfer syntax Explicit VR Little Endian"


def test_rescale_slope_is_applied_for_mr():
    ds = _dataset("MR2_UNCR.dcm")
    scan = read_scan(_sample("MR2_UNCR.dcm"))
    assert float(ds.RescaleSlope) != 1.0
    np.testing.assert_allclose(
        scan.frame(0), ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept), rtol=1e-6
    )
    assert scan.window == Window(1000.0, 2000.0)


def test_modality_lut_sequence_is_applied():
    ds = _dataset("mlut_18.dcm")
    scan = read_scan(_sample("mlut_18.dcm"))
    np.testing.assert_array_equal(scan.frame(0), apply_modality_lut(ds.pixel_array, ds))


def test_enhanced_ct_takes_rescale_and_window_from_functional_groups():
    ds = _dataset("eCT_Supplemental.dcm")
    scan = read_scan(_sample("eCT_Supplemental.dcm"))
    assert "RescaleIntercept" not in ds  # only inside the shared functional group
    np.testing.assert_array_equal(scan.pixels, ds.pixel_array.astype(np.float32) - 1024)
    assert scan.window == Window(49.0, 102.0)


@pytest.mark.parametrize(
    "name, window",
    [
        ("MR_small.dcm", Window(600.0, 1600.0)),
        ("MR-SIEMENS-DICOM-WithOverlays.dcm", Window(450.0, 790.0)),
        ("CT_small.dcm", None),
    ],
)
def test_the_files_own_window_is_read(name, window):
    assert read_scan(_sample(name)).window == window


@pytest.mark.parametrize("preset", sorted(WINDOW_PRESETS))
def test_preset_window_maps_its_edges_to_black_and_white(preset):
    window = WINDOW_PRESETS[preset]
    low, high = window.center - window.width / 2, window.center + window.width / 2
    frame = np.array([[low - 1000, low, window.center, high, high + 1000]], dtype=np.float32)
    shown = np.asarray(display_image(frame, window=window))
    assert shown.tolist()[0][:2] == [0, 0] and shown.tolist()[0][3:] == [255, 255]
    assert abs(int(shown[0, 2]) - 128) <= 1


def test_an_exact_window_grades_unit_range_data():
    # Custom windows on float data (0..1 NIfTI maps): DICOM's LINEAR formula would turn width 0.5 into a threshold.
    frame = np.linspace(0.0, 1.0, 1000, dtype=np.float32).reshape(10, 100)
    shown = np.asarray(display_image(frame, window=Window(center=0.5, width=0.5, function="LINEAR_EXACT")))
    assert shown[frame <= 0.25].max() == 0 and shown[frame >= 0.75].min() == 255
    assert len(np.unique(shown)) > 200


def test_presets_are_the_published_ct_windows():
    assert WINDOW_PRESETS == {
        "CT lung": Window(-600, 1500),
        "CT mediastinum / soft tissue": Window(40, 400),
        "CT bone": Window(480, 2500),
        "CT brain": Window(40, 80),
    }


def test_explicit_window_applies_to_hounsfield_units_of_a_real_ct():
    scan = read_scan(_sample("CT_small.dcm"))
    frame = scan.frame(0)
    shown = np.asarray(display_image(frame, window=WINDOW_PRESETS["CT brain"])).astype(int)
    assert (shown[frame <= 0] == 0).all() and (shown[frame >= 80] == 255).all()
    assert ((shown > 0) & (shown < 255)).any()  # soft tissue between 0 and 80 HU is graded


def test_default_display_uses_the_files_window_without_inversion():
    scan = read_scan(_sample("MR_small.dcm"))
    frame = scan.frame(0)
    shown = np.asarray(default_display(scan))
    assert not scan.monochrome1
    np.testing.assert_array_equal(shown, np.asarray(display_image(frame, window=Window(600, 1600))))
    # MONOCHROME2: the highest value is white, the lowest darkest.
    assert shown[frame == frame.max()].min() == 255
    assert shown[frame == frame.min()].max() == shown.min()


def test_voi_lut_sequence_wins_over_the_window_by_default():
    ramp = np.arange(256, dtype=np.int16).reshape(16, 16)
    lut = Dataset()
    lut.add_new(0x00283002, "US", [256, 0, 8])  # LUT Descriptor
    lut.add_new(0x00283006, "US", [255 - value for value in range(256)])  # LUT Data
    data = _dicom(ramp, WindowCenter=128, WindowWidth=256, VOILUTSequence=[lut])
    scan = read_scan(data)
    assert scan.voi_lut is not None and scan.window == Window(128.0, 256.0)
    np.testing.assert_array_equal(np.asarray(default_display(scan)), 255 - ramp)
    # An explicit window (a preset or the sliders) replaces the file's VOI LUT.
    windowed = np.asarray(display_image(scan.frame(0), window=Window(128, 256), voi_lut=scan.voi_lut))
    assert windowed[0, 0] == 0 and windowed[-1, -1] == 255


def test_sample_with_voi_lut_sequence_is_displayed_through_it():
    scan = read_scan(_sample("vlut_04.dcm"))
    assert scan.voi_lut is not None and scan.window is None
    # Its 16-bit LUT maps stored value v to 257 * v, i.e. v again on an 8-bit screen.
    np.testing.assert_array_equal(np.asarray(default_display(scan)), scan.frame(0).astype(np.uint8))


# --- MONOCHROME1 ------------------------------------------------------------------------------


def test_monochrome1_chest_radiograph_is_inverted_for_display():
    scan = read_scan(_sample("RG1_UNCR.dcm"))
    assert scan.pixels.shape == (1, 1955, 1841) and scan.modality == "CR"
    assert scan.monochrome1 and scan.window == Window(15000.0, 30000.0)
    assert scan.description.startswith("DICOM CR, 1841 x 1955, 1 frame")
    frame = scan.frame(0)
    lung, spine = (slice(400, 800), slice(400, 600)), (slice(400, 1200), slice(850, 950))
    # Stored values: the lung (little attenuation) is high, the mediastinum and spine low...
    assert frame[lung].mean() > frame[spine].mean() + 5000
    # ...and on screen the lung must be dark and the spine bright, as on a film.
    shown = np.asarray(default_display(scan)).astype(int)
    assert shown[lung].mean() + 50 < shown[spine].mean()
    plain = np.asarray(display_image(frame, window=scan.window, monochrome1=False)).astype(int)
    np.testing.assert_array_equal(shown, 255 - plain)


def test_monochrome1_is_inverted_even_with_a_preset_window():
    frame = np.array([[0.0, 100.0]], dtype=np.float32)
    shown = np.asarray(display_image(frame, window=Window(50, 100), monochrome1=True))
    assert shown.tolist() == [[255, 0]]


# --- compressed and multi-frame DICOM ---------------------------------------------------------


@pytest.mark.parametrize(
    "compressed", ["MR_small_jp2klossless.dcm", "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm"]
)
def test_lossless_compressed_files_decode_to_the_same_values(compressed):
    np.testing.assert_array_equal(read_scan(_sample(compressed)).pixels, read_scan(_sample("MR_small.dcm")).pixels)


@pytest.mark.parametrize("compressed", ["emri_small_RLE.dcm", "emri_small_jpeg_2k_lossless.dcm"])
def test_multi_frame_files_keep_every_frame(compressed):
    plain = read_scan(_sample("emri_small.dcm"))
    assert plain.frame_count() == 10 and plain.frame(9).shape == (64, 64)
    assert "10 frames" in plain.description
    np.testing.assert_array_equal(read_scan(_sample(compressed)).pixels, plain.pixels)
    assert not np.array_equal(plain.frame(0), plain.frame(9))
    with pytest.raises(IndexError):
        plain.frame(10)


@pytest.mark.parametrize(
    "name, syntax",
    [
        ("JPEG2000.dcm", "JPEG 2000 Image Compression"),
        ("explicit_VR-UN.dcm", "JPEG 2000 Image Compression (Lossless Only)"),
        ("JPGExtended.dcm", "JPEG Extended"),
        ("JPEG-LL.dcm", "JPEG Lossless"),
        ("JPEGLSNearLossless_16.dcm", "JPEG-LS Lossy"),
        ("SC_rgb_rle.dcm", "RLE Lossless"),
        ("US1_J2KR.dcm", "JPEG 2000 Image Compression (Lossless Only)"),
    ],
)
def test_compressed_samples_decode_like_pydicom(name, syntax):
    ds = _dataset(name)
    scan = read_scan(_sample(name))
    expected = ds.pixel_array.astype(np.float64)
    if expected.ndim == 3:  # colour: ITU-R 601-2 luminance
        expected = expected @ np.array([0.299, 0.587, 0.114])
    else:
        expected = apply_modality_lut(ds.pixel_array, ds)
    np.testing.assert_allclose(scan.frame(0), expected, atol=1e-3)
    assert syntax in scan.description


def test_colour_files_become_grey_luminance_and_are_never_inverted():
    for name in ("SC_rgb_rle.dcm", "examples_ybr_color.dcm", "examples_palette.dcm"):
        scan = read_scan(_sample(name))
        assert scan.pixels.ndim == 3 and not scan.monochrome1 and scan.window is None
    ds = _dataset("examples_palette.dcm")
    rgb = apply_color_lut(ds.pixel_array, ds).astype(np.float64)
    np.testing.assert_allclose(
        read_scan(_sample("examples_palette.dcm")).frame(0), rgb @ np.array([0.299, 0.587, 0.114]), rtol=1e-5
    )
    assert read_scan(_sample("examples_ybr_color.dcm")).frame_count() == 30


def test_undecodable_sample_names_its_transfer_syntax():
    # The installed plugins reject this file's JPEG stream; the user must learn which compression it is.
    named = r"JPEG Extended \(Process 2 and 4\) \(1\.2\.840\.10008\.1\.2\.4\.51\)"
    with pytest.raises(ScanReadError, match=named) as raised:
        read_scan(_sample("JPEG-lossy.dcm"))
    assert "\n" not in str(raised.value)


def test_transfer_syntax_without_a_decoder_is_named(monkeypatch):
    data = _dicom(np.zeros((4, 4)), transfer_syntax=JPEG2000)

    class NoPlugins:
        is_available = False

    from pydicom.pixels.decoders import base

    monkeypatch.setattr(base, "get_decoder", lambda uid: NoPlugins())
    with pytest.raises(ScanReadError) as raised:
        read_scan(data)
    assert str(raised.value) == (
        "cannot decode transfer syntax JPEG 2000 Image Compression (1.2.840.10008.1.2.4.91): no installed decoder"
    )


def test_transfer_syntax_pydicom_cannot_decode_is_named():
    # pydicom has no decoder for JPEG 2000 Part 2; the writer refuses it, so patch the UID in the file meta.
    data = _dicom(np.zeros((4, 4)), transfer_syntax=JPEG2000)
    data = data.replace(JPEG2000.encode(), b"1.2.840.10008.1.2.4.92")
    with pytest.raises(ScanReadError, match=r"\(1\.2\.840\.10008\.1\.2\.4\.92\): no installed decoder$"):
        read_scan(data)


# --- tags ---------------------------------------------------------------------------------------


def test_tags_flag_identifying_elements_and_skip_pixel_data():
    scan = read_scan(_sample("CT_small.dcm"))
    tags = {tag.keyword: tag for tag in scan.tags if tag.keyword}
    for keyword in (
        "PatientName",
        "PatientID",
        "StudyInstanceUID",
        "SOPInstanceUID",
        "StudyDate",
        "MediaStorageSOPInstanceUID",
    ):
        assert tags[keyword].identifying, keyword
    for keyword in ("Rows", "Columns", "Modality", "RescaleSlope", "TransferSyntaxUID", "SOPClassUID"):
        assert not tags[keyword].identifying, keyword
    assert tags["PatientName"].tag == "(0010,0010)" and tags["PatientName"].name == "Patient's Name"
    assert tags["PatientName"].vr == "PN" and tags["PatientName"].value == str(_dataset("CT_small.dcm").PatientName)
    assert tags["Rows"].value == "128"
    assert "PixelData" not in tags and not any(tag.tag.startswith("(7FE0") for tag in scan.tags)
    assert tags["TransferSyntaxUID"].tag == "(0002,0010)"  # file meta is included
    private = [tag for tag in scan.tags if int(tag.tag[1:5], 16) % 2 == 1]
    assert private and all(tag.identifying for tag in private)


def test_tag_values_are_summarised_and_kept_to_one_short_line():
    other_ids = Dataset()
    other_ids.PatientID = "OTHER-1"
    data = _dicom(
        np.zeros((2, 2)),
        PatientName="Doe^Jane",
        PatientBirthDate="19700101",
        PatientID="MRN-123",
        OtherPatientIDsSequence=[other_ids, other_ids, other_ids],
        ImageComments="first line\nsecond line " + "x" * 500,
        InstitutionName="General Hospital",
    )
    tags = {tag.keyword: tag for tag in read_scan(data).tags}
    assert tags["OtherPatientIDsSequence"].value == "<3 items>"
    assert tags["ImageComments"].value.startswith("first line second line")
    assert "\n" not in tags["ImageComments"].value and len(tags["ImageComments"].value) <= 201
    for keyword in ("PatientName", "PatientBirthDate", "PatientID", "OtherPatientIDsSequence", "InstitutionName"):
        assert tags[keyword].identifying, keyword
    assert tags["PatientBirthDate"].value == "19700101"


def test_binary_values_are_summarised():
    tags = {tag.keyword: tag for tag in read_scan(_sample("CT_small.dcm")).tags}
    assert tags["FileMetaInformationVersion"].value == "<binary, 2 bytes>"


def test_every_extra_identifying_keyword_is_a_real_dicom_keyword():
    unknown = [keyword for keyword in EXTRA_IDENTIFYING_KEYWORDS if tag_for_keyword(keyword) is None]
    assert unknown == []
    assert all(dictionary_has_tag(tag_for_keyword(keyword)) for keyword in EXTRA_IDENTIFYING_KEYWORDS)


def test_identifying_fields_outside_the_name_and_date_types_are_hidden_too():
    # Free-text and coded fields that name, locate or date a patient, trial subject or order (a QA pass found
    # these shown); repeating-group overlay comments come from the profile's masked entries.
    fields = {
        "ClinicalTrialSubjectID": "SUBJ-0042",
        "ClinicalTrialSubjectReadingID": "READ-7",
        "PatientBirthDateInAlternativeCalendar": "1391-05-12",
        "StudyComments": "Jane Doe, ward 4",
        "ReasonForStudy": "follow-up after fall at home",
        "OrderCallbackPhoneNumber": "555-0100",
        "PatientInstitutionResidence": "St Mary's care home",
        "PatientSex": "F",
    }
    dataset = pydicom.dcmread(io.BytesIO(_dicom(np.zeros((2, 2)), **fields)))
    dataset.add_new(0x60024000, "LT", "overlay note naming the patient")
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    tags = {tag.tag: tag for tag in read_scan(buffer.getvalue()).tags}
    by_keyword = {tag.keyword: tag for tag in tags.values()}
    for keyword in fields:
        assert by_keyword[keyword].identifying, keyword
    assert tags["(6002,4000)"].identifying
    assert not by_keyword["Rows"].identifying and not by_keyword["Modality"].identifying


def test_reading_does_not_log_tag_values(caplog):
    data = _dicom(np.zeros((2, 2)), InstanceNumber="1234.5")  # an invalid IS value that pydicom reports
    with caplog.at_level(logging.DEBUG, logger="pydicom"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _ = pydicom.dcmread(io.BytesIO(data)).InstanceNumber  # reading the value is what makes pydicom log it
    assert "1234.5" in caplog.text  # pydicom on its own does quote the value
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="pydicom"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scan = read_scan(data)
    assert "1234.5" not in caplog.text
    assert not any("1234.5" in str(warning.message) for warning in caught)
    assert any(tag.value == "1234.5" for tag in scan.tags)


# --- bad inputs ---------------------------------------------------------------------------------


def _no_pixel_data() -> bytes:
    return _dicom(None, PatientName="Doe^Jane")


def _gzip_of_zeros(megabytes: int) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as file:
        chunk = bytes(1024 * 1024)
        for _ in range(megabytes):
            file.write(chunk)
    return buffer.getvalue()


def _oversized_nifti() -> bytes:
    header = nib.Nifti1Header()
    header.set_data_dtype(np.uint8)
    header.set_data_shape((5000, 5000, 5000))
    return header.binaryblock + bytes(4) + bytes(64)


def _oversized_dicom() -> bytes:
    return _dicom(np.zeros((2, 2)), Rows=60000, Columns=60000, NumberOfFrames=100)


@pytest.mark.parametrize(
    "make, filename, message",
    [
        (lambda: b"", "scan.dcm", "the file is empty"),
        (lambda: b"Patient: Jane Doe\nFindings: none\n" * 20, "notes.dcm", "not a DICOM file"),
        (lambda: bytes(range(256)) * 8, "scan.dicom", "not a DICOM file"),
        (_no_pixel_data, "report.dcm", "no pixel data"),
        (_oversized_nifti, "big.nii", "limit is"),
        (_oversized_dicom, "big.dcm", "limit is"),
        (lambda: _nifti(np.zeros((8, 8, 8), np.int16))[:400], "cut.nii", "truncated"),
        (lambda: (NIBABEL_DATA / "nifti1.hdr").read_bytes(), "pair.hdr", "without its image data"),
        (lambda: b"just text", "scan.nii", "not a NIfTI file"),
        (lambda: b"just text", "upload.bin", "not a readable scan or image"),
        (lambda: gzip.compress(b"just text"), "scan.nii.gz", "neither a NIfTI volume nor a DICOM"),
        (lambda: gzip.compress(b"just text" * 100)[:30], "scan.nii.gz", "gzip file is truncated"),
        (lambda: _sample("reportsi.dcm"), "sr.dcm", "no pixel data"),
        (lambda: _sample("MR_truncated.dcm"), "cut.dcm", "could not be decoded"),
    ],
)
def test_bad_inputs_are_refused_with_one_line(make, filename, message):
    with pytest.raises(ScanReadError, match=message) as raised:
        read_scan(make(), filename)
    assert "\n" not in str(raised.value)
    assert isinstance(raised.value, ImageReadError)  # callers catching the image error still catch these


def test_gzip_bomb_is_refused(monkeypatch):
    monkeypatch.setattr(nifti, "MAX_GUNZIP_BYTES", 4 * 1024 * 1024)
    bomb = _gzip_of_zeros(16)
    assert len(bomb) < 100_000
    with pytest.raises(ScanReadError, match="gzip bomb") as raised:
        read_scan(bomb, "scan.nii.gz")
    assert "\n" not in str(raised.value)


def test_gzip_cap_allows_files_under_it(monkeypatch):
    monkeypatch.setattr(nifti, "MAX_GUNZIP_BYTES", 64 * 1024)
    volume = np.zeros((16, 16, 16), np.uint8)  # ~4 kB of voxels + header: under the cap
    assert read_scan(gzip.compress(_nifti(volume)), "v.nii.gz").frame_count() == 16


def test_oversized_upload_is_refused(monkeypatch):
    monkeypatch.setattr(scans, "MAX_UPLOAD_BYTES", 1000)
    with pytest.raises(ScanReadError, match="limit"):
        read_scan(_sample("MR_small.dcm"))


def test_dicom_without_preamble_is_read_when_named_dcm():
    data = _sample("MR_small.dcm")
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.preamble, ds.file_meta = None, FileMetaDataset()  # a bare data set, as some exports write
    buffer = io.BytesIO()
    ds.save_as(buffer, implicit_vr=True, little_endian=True)
    bare = buffer.getvalue()
    assert bare[128:132] != b"DICM"
    np.testing.assert_array_equal(read_scan(bare, "IM0001.DCM").pixels, read_scan(data).pixels)
    with pytest.raises(ScanReadError):
        read_scan(bare, "IM0001")


def test_gzipped_dicom_is_read():
    np.testing.assert_array_equal(read_scan(_sample("zipMR.gz")).pixels, read_scan(_sample("MR_small.dcm")).pixels)


# --- plain images -----------------------------------------------------------------------------


def test_plain_images_become_one_grey_frame_shown_unchanged():
    pixels = np.random.default_rng(0).integers(20, 200, (32, 48), dtype=np.uint8)
    scan = read_scan(_png(pixels), "photo.dcm")  # content decides, not the name
    assert scan.source == "image" and scan.frame_count() == 1 and scan.tags == ()
    assert scan.window is None and scan.voi_lut is None and not scan.monochrome1
    np.testing.assert_array_equal(scan.frame(0), np.asarray(read_image(_png(pixels)), dtype=np.float32))
    np.testing.assert_array_equal(np.asarray(default_display(scan)), pixels)
    with pytest.raises(ValueError):
        scan.slices(0)


def test_dicom_cannot_be_resliced():
    with pytest.raises(ValueError):
        read_scan(_sample("emri_small.dcm")).slices(1)


def test_scan_pixels_cannot_be_changed_by_accident():
    scan = read_scan(_sample("CT_small.dcm"))
    with pytest.raises(ValueError):
        scan.pixels[0, 0, 0] = 1


# --- NIfTI --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["anatomical.nii", "example4d.nii.gz"])
def test_nifti_slices_cover_every_axis(name):
    data = (NIBABEL_DATA / name).read_bytes()
    scan = read_scan(data, name)
    image = nib.as_closest_canonical(nib.load(str(NIBABEL_DATA / name)))
    expected = np.asarray(image.dataobj)
    expected = expected[..., 0] if expected.ndim == 4 else expected
    assert scan.source == "nifti" and scan.volume.shape == expected.shape and scan.volume.dtype == np.float32
    np.testing.assert_array_equal(scan.volume, expected)
    for axis in range(3):
        resliced = scan.slices(axis)
        assert resliced.frame_count() == scan.volume.shape[axis]
        assert resliced.frame(0).ndim == 2
    assert scan.frame_count() == scan.volume.shape[2]


def test_first_volume_of_a_4d_file_is_used():
    volume = np.zeros((6, 7, 5, 3), np.int16)
    volume[..., 1] = 9
    scan = read_scan(_nifti(volume), "fmri.nii")
    assert scan.volume.shape == (6, 7, 5) and not scan.volume.any()
    assert "volume 1 of 3" in scan.description


def test_bright_column_appears_in_the_right_slices():
    volume = np.zeros((10, 12, 8), np.float32)
    volume[3, 5, :] = 100  # a line along z at x=3, y=5
    scan = read_scan(gzip.compress(_nifti(volume)), "v.nii.gz")
    sagittal, coronal, axial = scan.slices(0), scan.slices(1), scan.slices(2)
    assert [bool(sagittal.frame(i).any()) for i in range(10)] == [i == 3 for i in range(10)]
    assert [bool(coronal.frame(i).any()) for i in range(12)] == [i == 5 for i in range(12)]
    for k in range(8):
        frame = axial.frame(k)
        assert frame.shape == (12, 10)
        # Upright: anterior (high y) at the top, so y=5 of 12 is row 6; x runs left to right.
        assert list(zip(*np.nonzero(frame))) == [(6, 3)]
    np.testing.assert_array_equal(scan.pixels, axial.pixels)


def test_nifti_is_reoriented_so_left_and_right_agree():
    volume = np.zeros((10, 12, 8), np.float32)
    volume[3, 5, 2] = 100
    flipped_x = np.diag([-1.0, 1.0, 1.0, 1.0])  # stored right-to-left (LAS)
    scan = read_scan(_nifti(volume, flipped_x), "las.nii")
    assert scan.volume[6, 5, 2] == 100 and "LAS" in scan.description


def test_nifti_default_display_spans_the_grey_range():
    scan = read_scan((NIBABEL_DATA / "anatomical.nii").read_bytes())
    shown = np.asarray(default_display(scan, scan.frame_count() // 2))
    assert shown.min() == 0 and shown.max() == 255 and not scan.monochrome1


def test_scan_fields_cannot_be_reassigned():
    scan = read_scan(_sample("MR_small.dcm"))
    with pytest.raises(AttributeError):
        scan.window = None  # type: ignore[misc]
