from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image
from streamlit.delta_generator import DeltaGenerator

from medmodels.imaging.analysis import (
    METHODS,
    Explanation,
    display_saliency,
    explain,
    probability_column,
    report_csv,
    report_png,
    report_rows,
    scan_row,
)
from medmodels.imaging.classifier import ImagePrediction
from medmodels.imaging.deidentify import DicomTag
from medmodels.imaging.display import WINDOW_PRESETS, Window, default_display, display_image
from medmodels.imaging.explain import colormap_lut, overlay
from medmodels.imaging.figures import faithfulness_bars
from medmodels.imaging.images import ImageReadError, finite_range
from medmodels.imaging.samples import Sample, medmnist_samples, packaged_dicom_samples, samples_for
from medmodels.imaging.scans import Scan, ScanReadError, read_scan
from medmodels.metrics import operating_point
from medmodels.plots import probability_bars, roc_with_operating_point
from pages._shared import data_dir_or_none, image_classifier, require_entrypoint, stop_unless_installed

FILE_WINDOW = "The file's own window"
CUSTOM_WINDOW = "Custom"
# Overlays are drawn on a copy at most this wide; the model's input never depends on it.
DISPLAY_SIDE = 900
DEFAULT_MODEL = "imaging.pneumonia"  # chest radiographs are the commonest upload

require_entrypoint(__file__)

st.title("Imaging")
st.caption(
    "Upload a scan (PNG, JPEG, TIFF, DICOM or NIfTI) and see the model's calibrated diagnosis, the image exactly "
    "as the model saw it, and where it looked. Files are processed in memory and never stored."
)
cards = stop_unless_installed("imaging", "imaging")
tasks = {card.name: card.task for card in cards}
names = list(tasks)
name = st.selectbox(
    "Model",
    names,
    index=names.index(DEFAULT_MODEL) if DEFAULT_MODEL in names else 0,
    format_func=lambda n: f"{n} — {tasks[n]}",
)
classifier = image_classifier(name)
card = classifier.card


@st.cache_data(show_spinner=False)
def samples(data_dir: Path | None) -> list[Sample]:
    return packaged_dicom_samples() + medmnist_samples(data_dir)


# A scan's identity for the caches below: the upload's id (or the sample's title), the slice axis, the
# frame and the window. Widgets change these; moving an opacity or threshold slider does not, so a redraw
# reuses the scan, the displayed image, the prediction and the explanations. Entries live in memory only.
ImageKey = tuple[str, int | None, int, Window | None]


@st.cache_resource(max_entries=8, ttl=600, show_spinner="Reading the scan…")
def read_cached(scan_key: str, filename: str, _data: bytes) -> Scan:
    return read_scan(_data, filename)  # a Scan is frozen and its arrays read-only, so sharing it is safe


def read_or_stop(scan_key: str, filename: str, data: bytes) -> Scan:
    try:
        return read_cached(scan_key, filename, data)
    except ScanReadError as error:
        st.error(f"**{filename}** could not be read: {error}", icon=":material/error:")
        st.stop()


@st.cache_data(max_entries=32, ttl=600, show_spinner=False)
def displayed(key: ImageKey, _scan: Scan) -> Image.Image:
    """The frame as shown and scored: the file's own window, or the chosen one."""
    _, _, index, window = key
    if window is None:
        return default_display(_scan, index)
    return display_image(_scan.frame(index), window=window, monochrome1=_scan.monochrome1)


@st.cache_data(max_entries=64, ttl=600, show_spinner=False)
def predicted(model: str, key: ImageKey, _image: Image.Image, _tags: tuple[DicomTag, ...]) -> ImagePrediction:
    return image_classifier(model).predict(_image, _tags)  # the key names the scan, hence its tags


# Explanations are kept as they are (cache_resource, not copied on every read: their maps span the whole
# scan); nothing changes them once made.
@st.cache_resource(max_entries=8, ttl=600, show_spinner="Computing Grad-CAM and occlusion maps…")
def explained(model: str, key: ImageKey, target: str, _image: Image.Image) -> tuple[Explanation, ...]:
    return explain(image_classifier(model), _image, target)


@st.cache_resource(max_entries=8, ttl=600, show_spinner=False)
def maps_on_screen(
    model: str, key: ImageKey, target: str, size: tuple[int, int], _image: Image.Image
) -> tuple[np.ndarray, ...]:
    """Each method's map resized to the scan as displayed, so an opacity change only blends."""
    return tuple(display_saliency(explanation, size) for explanation in explained(model, key, target, _image))


def choose_frame(scan: Scan) -> tuple[Scan, int | None, int]:
    axis = None
    if scan.volume is not None:
        axes = {2: "axial", 1: "coronal", 0: "sagittal"}
        axis = st.radio("Slice orientation", list(axes), format_func=lambda a: axes[a], horizontal=True)
        scan = scan.slices(axis)
    count = scan.frame_count()
    if count == 1:
        return scan, axis, 0
    label = "Slice" if scan.volume is not None else "Frame"
    return scan, axis, st.slider(label, 1, count, count // 2 + 1) - 1


def choose_window(scan: Scan, index: int) -> Window | None:
    """The window the user picked; None for the file's own (and for plain images, which have none)."""
    if scan.source == "image":
        return None
    options = [FILE_WINDOW, *WINDOW_PRESETS, CUSTOM_WINDOW]
    choice = st.selectbox("Window / level", options, help="CT presets are in Hounsfield units (width / level).")
    if choice == FILE_WINDOW:
        return None
    if choice != CUSTOM_WINDOW:
        return WINDOW_PRESETS[choice]
    bounds = finite_range(scan.frame(index))
    if bounds is None or bounds[1] <= bounds[0]:
        st.info(
            "This frame has a single value, so there is nothing to window; it is shown as the file asks.",
            icon=":material/info:",
        )
        return None
    low, high = bounds
    span = high - low
    step = span / 1000  # fine enough for 0..1 float data and for CT's thousands of HU alike
    start = scan.window or Window(center=(low + high) / 2, width=span)
    level = st.slider("Level (centre)", low, high, float(np.clip(start.center, low, high)), step=step)
    width = st.slider("Width", step, 2 * span, float(np.clip(start.width, step, 2 * span)), step=step)
    # LINEAR_EXACT maps any width exactly; LINEAR's DICOM formula assumes integer data and widths of 1 or more.
    return Window(center=level, width=width, function="LINEAR_EXACT")


def for_display(image: Image.Image) -> Image.Image:
    if max(image.size) <= DISPLAY_SIDE:
        return image
    scale = DISPLAY_SIDE / max(image.size)
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)


def colour_bar() -> Image.Image:
    strip = np.repeat(colormap_lut()[None, :, :], 14, axis=0)
    return Image.fromarray(strip, mode="RGB")


def show_tags(scan: Scan) -> None:
    with st.expander(f"DICOM tags ({len(scan.tags)})"):
        reveal = st.toggle(
            "Reveal patient-identifying fields",
            value=False,
            help="Names, IDs, dates, addresses, institutions, physicians and UIDs (DICOM PS3.15 basic profile) are hidden by default.",
        )
        rows = [
            {
                "tag": tag.tag,
                "name": tag.name or tag.keyword,
                "VR": tag.vr,
                "value": tag.value if reveal or not tag.identifying else "●●● hidden",
                "identifying": tag.identifying,
            }
            for tag in scan.tags
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True)


def models_that_know(key: ImageKey, image: Image.Image, tags: tuple[DicomTag, ...]) -> list[str]:
    """The other installed imaging models that accept this scan: familiar pixels, tags within their population."""
    return [other for other in names if other != name and predicted(other, key, image, tags).ood is False]


def withheld_message(prediction: ImagePrediction, alternatives: list[str]) -> str:
    parts = []
    if prediction.population.reason:
        parts.append(
            f"**Outside the training population.** The model was trained on {card.population.description}; this "
            f"file's DICOM tags say otherwise: {'; '.join(prediction.population.contradictions)}."
        )
    if prediction.unfamiliar:
        parts.append(
            f"**Out of distribution.** This scan does not look like the {prediction.data_name} images the model was "
            f"trained on (distance from the training images {prediction.ood_score:.0f}, where above "
            f"{prediction.ood_threshold:.0f} counts as unfamiliar)."
        )
    parts.append("The model gives no diagnosis, no class probabilities and no attention maps for it.")
    if alternatives:
        parts.append(f"It does suit {', '.join(alternatives)}: choose that model above.")
    return " ".join(parts)


def population_caption(prediction: ImagePrediction) -> str | None:
    """What the file's tags said about the training population, for a scan that got a diagnosis."""
    population = card.population
    if population is None:
        return None
    if prediction.population.checked:
        return (
            f":material/check_circle: The file's DICOM tags agree with the training population ({population.description}): "
            f"{', '.join(prediction.population.checked)} checked."
        )
    return (
        ":material/info: The file states nothing to check against the training population (age, sex, modality, body "
        f"part or view; a plain image has no DICOM tags). The model was trained on {population.description}: make "
        "sure the scan fits it."
    )


def show_result(
    prediction: ImagePrediction,
    label: str,
    threshold: float | None,
    key: ImageKey,
    image: Image.Image,
    tags: tuple[DicomTag, ...],
) -> None:
    positive = card.positive_label
    if prediction.ood:
        st.metric("Diagnosis", "Withheld")
        st.error(withheld_message(prediction, models_that_know(key, image, tags)), icon=":material/block:")
        st.page_link(
            "pages/train.py",
            label="Train a model on your own scans",
            icon=":material/school:",
        )
        return
    st.metric("Diagnosis", label)
    st.plotly_chart(probability_bars(prediction.probabilities, threshold, positive), key="probabilities")
    st.caption(
        f"Calibrated probabilities (temperature {card.temperature:.2f}). "
        + (
            f"'{positive}' is called when its probability is at least {threshold:.3f}."
            if threshold is not None
            else "The most probable class is called."
        )
    )
    if prediction.ood is False:
        st.caption(
            f":material/check_circle: Familiar input: score {prediction.ood_score:.0f} is within the limit "
            f"{prediction.ood_threshold:.0f} set on the training images."
        )
    caption = population_caption(prediction)
    if caption:
        st.caption(caption)


def show_operating_point(threshold: float | None) -> None:
    test = card.metrics.test
    roc = test.roc_curve()
    if roc is None or threshold is None:
        return
    with st.expander("Operating point: what this threshold means on the test split", expanded=False):
        prevalence = st.number_input(
            f"Prevalence of '{card.positive_label}' where you work (%)",
            min_value=0.1,
            max_value=99.9,
            value=round(100 * test.positives / test.n, 1),
            step=0.5,
            help="PPV and NPV depend on prevalence; the default is the test split's own.",
        )
        point = operating_point(roc, threshold, prevalence / 100)
        columns = st.columns(4)
        for column, (title, value) in zip(
            columns,
            (
                ("Sensitivity", point.sensitivity),
                ("Specificity", point.specificity),
                ("PPV", point.ppv),
                ("NPV", point.npv),
            ),
        ):
            column.metric(title, "–" if np.isnan(value) else f"{value:.1%}")
        st.plotly_chart(roc_with_operating_point(card, point), key="roc")
        st.caption(
            f"Sensitivity and specificity measured on the {test.n} test images at threshold {threshold:.3f}; "
            "PPV and NPV follow from them by Bayes' rule at the prevalence above."
        )


@st.fragment
def overlay_images(
    slots: list,
    report: DeltaGenerator,
    key: ImageKey,
    target: str,
    shown: Image.Image,
    image: Image.Image,
    title: str,
    stem: str,
) -> None:
    """The opacity slider, the overlays it blends and the overlay report: a fragment of its own, so moving the
    slider redraws the two images and nothing else."""
    opacity = st.slider("Overlay opacity", 0.0, 1.0, 0.45, 0.05)
    overlays = []
    for slot, explanation, saliency in zip(
        slots, explained(name, key, target, image), maps_on_screen(name, key, target, shown.size, image)
    ):
        overlays.append((f"{explanation.method} for '{target}'", overlay(shown, saliency, opacity=opacity)))
        slot.image(overlays[-1][1], width="stretch")
    overlay_download(report, shown, overlays, title, stem)


def overlay_download(
    where: DeltaGenerator, shown: Image.Image, overlays: list[tuple[str, Image.Image]], title: str, stem: str
) -> None:
    where.download_button(
        "Download overlay (PNG)" if overlays else "Download scan and result (PNG)",
        lambda: report_png(shown, overlays, title),  # drawn when clicked
        file_name=f"{stem}-{name}-overlay.png",
        mime="image/png",
        icon=":material/download:",
    )


@st.fragment
def maps_and_report(
    key: ImageKey,
    image: Image.Image,
    shown: Image.Image,
    prediction: ImagePrediction,
    threshold: float | None,
    filename: str,
) -> None:
    """Where the model looked, and the report: a fragment, so the class and map toggles rerun this part
    alone, on explanations computed once per scan, model and class."""
    st.subheader("Where the model looked")
    explanations: tuple[Explanation, ...] = ()
    # A withheld scan gets no map: a map names a class, and would explain a call the model is not fit to make.
    show_maps = not prediction.ood and st.toggle("Show attention maps", value=True)
    if prediction.ood:
        st.caption("No attention maps: the diagnosis is withheld for this scan (above).")
    if show_maps:
        left, right = st.columns(2)
        target = left.selectbox(
            "Explain the class", card.labels, index=card.labels.index(classifier.label_at(prediction, threshold))
        )
        explanations = explained(name, key, target, image)
        slots = []
        for column, explanation in zip(st.columns(len(METHODS)), explanations):
            with column:
                st.markdown(f"**{explanation.method}** for '{target}'")
                slots.append(st.empty())  # the overlay, drawn by ``overlay_images``
                st.image(
                    colour_bar(),
                    caption="low → high attribution (zero outside the centre square the model saw)",
                    width="stretch",
                )
                st.plotly_chart(faithfulness_bars(explanation.faithfulness), key=f"faith-{explanation.method}")
        st.caption(
            "Faithfulness: how much the probability of the explained class falls when the most-attributed pixels are "
            "replaced by the image mean, against the same number of random pixels. A map that points at what the model "
            "uses shows a larger drop for its top pixels. Attention maps are an aid to judgement, not proof of reasoning."
        )

    st.subheader("Report")
    rows = report_rows(classifier, prediction, explanations, filename, threshold)
    result = "withheld (see the summary)" if prediction.ood else dict(rows)["result"]
    title, stem = f"{card.name} · {filename} · result: {result}", filename.rsplit(".", 1)[0]
    png, csv = st.columns(2)
    report = png.empty()
    if show_maps:
        with right:
            overlay_images(slots, report, key, target, shown, image, title, stem)
    else:
        overlay_download(report, shown, [], title, stem)
    csv.download_button(
        "Download summary (CSV)",
        report_csv(rows),
        file_name=f"{stem}-{name}-summary.csv",
        mime="text/csv",
        icon=":material/download:",
    )


def show_single(scan_key: str, filename: str, data: bytes) -> None:
    scan = read_or_stop(scan_key, filename, data)
    st.caption(f"**{filename}** · {scan.description}")
    controls, settings = st.columns([2, 3])
    with controls:
        frames, axis, index = choose_frame(scan)
        window = choose_window(frames, index)
        key: ImageKey = (scan_key, axis, index, window)
        image = displayed(key, frames)
    threshold = None  # a model of more than two classes calls the most probable one
    if classifier.threshold is not None:
        with settings:
            threshold = st.slider(
                f"Decision threshold on P({card.positive_label})",
                0.0,
                1.0,
                float(round(classifier.threshold, 3)),
                0.001,
                format="%.3f",
                help=f"Chosen on validation data: {classifier.threshold:.3f} ({card.threshold_rule}).",
            )
    try:
        prediction = predicted(name, key, image, scan.tags)
    except ImageReadError as error:  # e.g. smaller than the model's input
        st.error(f"**{filename}** cannot be scored: {error}", icon=":material/error:")
        return
    shown = for_display(image)
    label = classifier.label_at(prediction, threshold)

    original, seen, result = st.columns([2, 1, 2])
    with original:
        st.image(shown, caption=f"Scan as displayed: {image.width} x {image.height} px", width="stretch")
    with seen:
        size = classifier.preprocessing.input_size
        st.image(
            np.kron(
                prediction.model_input, np.ones((8, 8))
            ),  # nearest-neighbour enlargement keeps the real pixels visible
            caption=f"Model's-eye view: {size} x {size} px, {classifier.preprocessing.crop}",
            clamp=True,
            width="stretch",
        )
    with result:
        show_result(prediction, label, threshold, key, image, scan.tags)
    show_operating_point(threshold)

    maps_and_report(key, image, shown, prediction, threshold, filename)
    if scan.tags:
        show_tags(scan)


def show_batch(uploads: list) -> None:
    positive = probability_column(classifier)
    rows = []
    progress = st.progress(0.0, text="Scoring…")
    for done, upload in enumerate(uploads, start=1):
        rows.append(scan_row(classifier, upload.getvalue(), upload.name))
        progress.progress(done / len(uploads), text=f"Scored {done} of {len(uploads)}")
    progress.empty()
    table = pd.DataFrame(rows)
    failed = int((table["error"] != "").sum())
    st.caption(
        f"{len(rows)} files, {failed} unreadable. Middle frame of multi-frame files, the file's own window; "
        + (
            f"'{card.positive_label}' when P ≥ {classifier.threshold:.3f}; "
            if classifier.threshold is not None
            else "the most probable class is called; "
        )
        + "scans unlike the training images, or whose DICOM tags "
        "place them outside the training population, are withheld, with no probability and the reason."
    )
    st.dataframe(
        table,
        hide_index=True,
        column_config={positive: st.column_config.ProgressColumn(format="%.3f", min_value=0, max_value=1)},
    )
    st.download_button(
        "Download table (CSV)",
        table.to_csv(index=False),
        file_name=f"{name}-predictions.csv",
        mime="text/csv",
        icon=":material/download:",
    )


source = st.segmented_control("Scan source", ["Upload", "Built-in sample"], default="Upload")
if source == "Built-in sample":
    options = {sample.title: sample for sample in samples_for(name, samples(data_dir_or_none()))}
    title = st.selectbox("Sample", list(options))
    if not any(sample.model == name for sample in options.values()):
        st.caption(
            f"No test images of {name} here: its samples are rendered from the data folder (MEDMODELS_DATA) when it is "
            "present. The files below come from pydicom and show how scans outside the model's domain are withheld."
        )
    show_single(f"sample:{title}", options[title].filename, options[title].data)
else:
    # Any name is accepted: PACS and CD exports name DICOM files IM000001 with no extension, and the reader
    # decides by content, so a wrong file gets a clear message rather than a silent refusal.
    uploads = st.file_uploader(
        "Scans",
        accept_multiple_files=True,
        help="PNG, JPEG, BMP, TIFF, DICOM (with or without .dcm), NIfTI (.nii, .nii.gz); up to 100 MB each",
    )
    if not uploads:
        st.info(
            "Choose one file for the full view, or several for a table. Or pick a built-in sample.",
            icon=":material/upload_file:",
        )
    elif len(uploads) == 1:
        show_single(f"upload:{uploads[0].file_id}", uploads[0].name, uploads[0].getvalue())
    else:
        show_batch(uploads)
