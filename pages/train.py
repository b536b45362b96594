import pandas as pd
import streamlit as st

from medmodels.cards import plan_version, read_card
from medmodels.checkpoints import card_path
from medmodels.data import user_models_dir
from medmodels.errors import InputError, UsageError
from medmodels.imaging.archive import zip_sources
from medmodels.imaging.background import TrainingRequest
from medmodels.imaging.custom import (
    DEFAULT_INPUT_SIZE,
    FINE_TUNE_CONFIG,
    INPUT_SIZES,
    TRAIN_CONFIG,
    LabelledScans,
    check_name,
    class_count_problem,
    positive_class,
    read_labelled_scans,
    split_rows,
    split_summary,
    suggested_name,
)
from medmodels.plots import history_curves, training_curves
from medmodels.registry import built_in_models
from pages._shared import Keys, background_trainer, installed_in, require_entrypoint

require_entrypoint(__file__)

st.title("Train on your scans")
st.caption(
    "Train a model on your own labelled scans, here, on this computer: nothing is sent anywhere. Upload a "
    "zip holding one folder per class (PNG, JPEG, TIFF, DICOM or NIfTI, any file names). The archive is read in "
    f"memory; only the trained model (weights, card and the list of files in each split) is written, to "
    f"`{user_models_dir()}`. It then appears on the Imaging and Models pages."
)
trainer = background_trainer()
token = st.session_state[Keys.TRAIN_TOKEN]


@st.fragment(run_every=2 if trainer.running else None)
def training_status() -> None:
    # Rerun the whole page when a run starts or ends, so the form below hides or comes back.
    if trainer.running != st.session_state[Keys.TRAIN_WAS_RUNNING]:
        st.session_state[Keys.TRAIN_WAS_RUNNING] = trainer.running
        st.rerun()
    request, mine = trainer.request, trainer.owner == token
    if trainer.running and request is not None:
        progress = trainer.progress
        st.progress(
            progress.fraction if progress else 0.0,
            text=f"Training {request.name}: " + (progress.message if progress else "starting…"),
        )
        if mine:
            st.button(
                "Cancel training",
                icon=":material/cancel:",
                on_click=trainer.cancel,  # a callback: a click is never lost to the periodic rerun
                help="Stops at the next training step; nothing is saved",
            )
        else:
            st.info(
                f"Another session is training {request.name}. One training runs at a time on this server; this page "
                "opens the form again when it ends.",
                icon=":material/hourglass_top:",
            )
        if trainer.history:
            binary = len(request.scans.classes) == 2
            metric = "roc_auc" if binary else "accuracy_and_macro_f1"
            st.plotly_chart(history_curves(trainer.history, metric), key="live-curves")
            st.caption(
                "Per epoch, for each of the three networks trained in turn: loss and "
                + ("ROC AUC." if binary else "the mean of accuracy and macro-F1.")
            )
        return
    if not mine or request is None:
        return
    if trainer.cancelled:
        st.warning(f"Training of {request.name} was cancelled; nothing was saved.", icon=":material/cancel:")
    elif trainer.error:
        st.error(f"Training of {request.name} stopped with an error: {trainer.error}", icon=":material/error:")
    elif trainer.card is not None:
        card = trainer.card
        figures = ", ".join(f"{k} {v:.3f}" for k, v in card.metrics.test.headline().items())
        st.success(
            f"**{card.name}** version {card.version} is trained and installed. Its test split "
            f"({card.metrics.test.n} images, scored once): {figures}.",
            icon=":material/check_circle:",
        )
        st.page_link("pages/imaging.py", label=f"Use {card.name} on the Imaging page", icon=":material/radiology:")
        st.plotly_chart(training_curves(card), key="final-curves")


training_status()

upload = st.file_uploader(
    "Zip of class folders",
    type=["zip"],
    help="For example normal/…, pneumonia/…; a folder inside a class folder (patient-07/…) is kept together in one split",
)
if upload is None:
    st.info(
        "Zip a folder laid out as `my-scans/normal/…`, `my-scans/lesion/…` (one folder per class, 2 to 20) and upload "
        "it. "
        "Slices of one DICOM patient or series, one volume, or one sub-folder always stay in the same split.",
        icon=":material/folder_zip:",
    )
    st.stop()
size = st.segmented_control(
    "Input size (pixels)",
    INPUT_SIZES,
    default=DEFAULT_INPUT_SIZE,
    help="Each image is centre-cropped and resized to this; larger keeps more detail and trains more slowly",
)


def read_upload(data: bytes, input_size: int) -> tuple[LabelledScans | None, str | None]:
    try:
        sources, refused = zip_sources(data)
    except InputError as error:
        return None, str(error)
    bar = st.progress(0.0, text="Reading the archive…")

    def reading(count: int, path: str) -> None:
        bar.progress(count / len(sources), text=f"Reading file {count:,} of {len(sources):,}")

    scans = read_labelled_scans(sources, input_size, reading)
    bar.empty()
    scans.skipped.extend(refused)
    return scans, None


key = (upload.file_id, size)
if st.session_state[Keys.TRAIN_READ] is None or st.session_state[Keys.TRAIN_READ][0] != key:
    st.session_state[Keys.TRAIN_READ] = (key, *read_upload(upload.getvalue(), size or DEFAULT_INPUT_SIZE))
_, scans, problem = st.session_state[Keys.TRAIN_READ]
if problem:
    st.error(f"**{upload.name}** cannot be used: {problem}", icon=":material/error:")
    st.stop()
if scans.skipped:
    with st.expander(f"{len(scans.skipped)} file(s) skipped", icon=":material/warning:"):
        st.dataframe(pd.DataFrame(scans.skipped, columns=["file", "why"]), hide_index=True)
problem = class_count_problem(scans)
if problem:
    hint = (
        " Many files are smaller than the input size: choose a smaller one above."
        if any("the model needs at least" in why for _, why in scans.skipped)
        else ""
    )
    st.error(f"**{upload.name}** holds {problem}.{hint}", icon=":material/error:")
    st.stop()
try:
    rows = split_rows(scans, None)
except UsageError as error:
    st.error(f"These scans cannot be split for training: {error}.", icon=":material/error:")
    st.stop()

st.subheader("What will be trained on")
st.dataframe(pd.DataFrame(split_summary(scans, rows)), hide_index=True)
st.caption(
    f"{len(scans.labels):,} images of {scans.input_size} x {scans.input_size} pixels from {len(set(scans.files)):,} "
    "files. Each class's patients, series or files are dealt 70 / 15 / 15 % to training, validation and test "
    "(seeded); validation chooses the epochs, the calibration and the threshold, and test is scored once, at the end."
)

left, middle, right = st.columns(3)
name = left.text_input(
    "Model name", value=suggested_name(upload.name), help="imaging. then lower-case letters, digits, - or _"
)
positive = None
if len(scans.classes) == 2:
    positive = middle.selectbox(
        "Positive class",
        scans.classes,
        index=scans.classes.index(positive_class(scans.classes, None)),
        help="The class whose calibrated probability is thresholded, like 'pneumonia' in the shipped model",
    )
else:
    middle.caption(f"{len(scans.classes)} classes: the model calls the most probable one.")
bases = [
    card
    for card in installed_in("imaging")
    if card.config.get("input_size") == scans.input_size and card.config.get("num_classes", 2) == len(scans.classes)
]
start_from = st.selectbox(
    "Start from",
    [None, *bases],
    format_func=lambda card: "new networks" if card is None else f"{card.name} (fine-tune its networks)",
    help="Fine-tuning starts from an installed model that reads the same input size and number of classes: "
    f"fewer epochs ({FINE_TUNE_CONFIG.epochs}) at a smaller learning rate",
)
epochs = right.number_input(
    "Epochs per network",
    1,
    100,
    TRAIN_CONFIG.epochs if start_from is None else FINE_TUNE_CONFIG.epochs,
    help="Each network of the ensemble is trained in turn",
)
try:
    check_name(name, built_in_models())
    name_problem = None
except UsageError as error:
    name_problem = str(error).replace("--name ", "")
previous_path = card_path(name, user_models_dir()) if not name_problem else None
previous = read_card(previous_path, verify=False) if previous_path else None
reason = None
if previous is not None:
    reason = st.text_input(
        f"{name} exists (version {previous.version}). Why a new version? (one line, decided on validation alone)",
        help="Its test split has been scored before; the card keeps every scoring with its reason",
    )
if name_problem:
    st.error(name_problem, icon=":material/error:")
elif st.button(
    "Train",
    type="primary",
    icon=":material/play_arrow:",
    disabled=trainer.running,
    help="A training is running on this server; one runs at a time" if trainer.running else None,
):
    try:
        plan = plan_version(name, previous, reason)
    except UsageError as error:
        st.error(str(error).replace("--reason", "a reason"), icon=":material/error:")
        st.stop()
    request = TrainingRequest(
        name=name,
        scans=scans,
        rows=rows,
        positive=positive,
        epochs=int(epochs),
        origin=f"the upload {upload.name}",
        plan=plan,
        out_dir=user_models_dir(),
        start_from=start_from,
    )
    if trainer.start(request, token):
        st.session_state[Keys.TRAIN_WAS_RUNNING] = True
        st.rerun()
    st.warning("A training is already running on this server; one runs at a time. Try again when it ends.")
