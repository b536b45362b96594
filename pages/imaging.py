import numpy as np
import streamlit as st

from medmodels.imaging.io import ImageReadError, read_image
from medmodels.plots import probability_bars
from pages._shared import image_classifier, require_entrypoint, stop_unless_installed

require_entrypoint(__file__)

st.title("Imaging")
st.caption("Upload a scan and see the model's calibrated diagnosis and the image exactly as the model saw it.")
cards = stop_unless_installed("imaging", "imaging")

names = [card.name for card in cards]
name = st.selectbox("Model", names, format_func=lambda n: f"{n} — {next(c.task for c in cards if c.name == n)}")
classifier = image_classifier(name)
upload = st.file_uploader("Scan (PNG, JPEG, BMP or TIFF)", type=["png", "jpg", "jpeg", "bmp", "tif", "tiff"])
if upload is None:
    st.info("Choose a file to see a prediction. Files are processed in memory and never stored.", icon=":material/upload_file:")
    st.stop()

try:
    image = read_image(upload.getvalue())
except ImageReadError as error:
    st.error(f"**{upload.name}** could not be read: {error}", icon=":material/error:")
    st.stop()

prediction = classifier.predict(image)
card = classifier.card
st.warning(
    "This model scores any image it is given. It is only meaningful for the kind of scan in its training data "
    f"({card.data.get('name')}); check the model card's limitations.",
    icon=":material/warning:",
)
original, seen, result = st.columns([2, 1, 2])
with original:
    st.image(image, caption=f"Uploaded: {image.width} x {image.height} px", width="stretch")
with seen:
    size = classifier.preprocessing.input_size
    st.image(
        np.kron(prediction.model_input, np.ones((8, 8))),  # nearest-neighbour enlargement keeps the real pixels visible
        caption=f"Model's-eye view: {size} x {size} px, {classifier.preprocessing.crop}",
        clamp=True,
        width="stretch",
    )
with result:
    st.metric("Model output", prediction.label)
    st.plotly_chart(probability_bars(prediction.probabilities, prediction.threshold, card.positive_label))
    st.caption(
        f"Calibrated probabilities (temperature {card.temperature:.2f}). '{card.positive_label}' is called when its "
        f"probability is at least {prediction.threshold:.2f}, a threshold chosen on validation data. "
        f"Test ROC AUC {card.test_metrics.get('roc_auc', float('nan')):.3f}, accuracy {card.test_metrics.get('accuracy', float('nan')):.3f}."
    )
