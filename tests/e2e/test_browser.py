"""The dashboard in a real headless Chromium, served by a real Streamlit server on a free local port."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import REPO_ROOT, radiograph_without_age

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """A fresh server per test, with its own empty findings database: what a page does on a server's
    first request matters."""
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "MEDMODELS_HOME": str(tmp_path / "home")},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("the Streamlit server did not start within 60 s")
                time.sleep(0.5)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()  # never leave a server behind, and still report the hang
            process.wait()
            pytest.fail("the Streamlit server did not stop within 20 s of SIGTERM")


@pytest.fixture
def server_url(server):
    return server[0]


def _inotify_watches(pid: int) -> int:
    """How many inotify watches a process holds (Linux reports each as one ``inotify wd:`` line)."""
    count = 0
    for info in Path(f"/proc/{pid}/fdinfo").iterdir():
        try:
            count += info.read_text().count("inotify wd:")
        except OSError:  # a descriptor closed while we read
            pass
    return count


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium chromium-driver)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


def test_home_page_serves_navigation_and_the_medical_device_notice_and_the_idle_server_watches_no_files(
    server, browser, tmp_path
):
    server_url, process = server
    with urllib.request.urlopen(server_url, timeout=10) as response:
        assert response.status == 200
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server_url)
    nav = page.get_by_test_id("stSidebarNav")
    for label in ("Home", "Imaging", "Train on your scans", "Sequence screening", "Literature mining", "Models"):
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible(timeout=30_000)
    notice = page.get_by_test_id("stAlert").filter(has_text="not a medical device")
    expect(notice).to_be_visible(timeout=30_000)
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)
    # Streamlit's source watcher put thousands of watches on the project folder and kept a core busy while idle.
    if Path(f"/proc/{process.pid}/fdinfo").exists():
        for _ in range(4):
            time.sleep(1)
            assert _inotify_watches(process.pid) == 0, "the dashboard server is watching files"


def test_deep_link_as_first_request_gets_the_full_app_and_the_models_page(server_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server_url}/models")
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name="Sequence screening", exact=True)).to_be_visible(timeout=30_000)
    expect(nav.get_by_role("link", name="app", exact=True)).to_have_count(0)
    expect(page.get_by_test_id("stSidebar").get_by_text("not a medical device")).to_be_visible()
    expect(page.get_by_role("heading", name="Training curves").first).to_be_visible(timeout=30_000)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)
    expect(page.get_by_role("tab", name="imaging.pneumonia")).to_be_visible()


def test_imaging_upload_of_a_sample_radiograph_shows_the_result_and_a_corrupt_file_a_clear_error(
    server_url, browser, tmp_path
):

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server_url}/imaging")
    upload = page.locator("input[type=file]")
    upload.wait_for(state="attached", timeout=30_000)
    radiograph = tmp_path / "RG1_anonymous.dcm"  # a copy whose tags no longer state the patient's age
    radiograph.write_bytes(radiograph_without_age())
    upload.set_input_files(str(radiograph))
    expect(page.get_by_test_id("stMetric").filter(has_text="Diagnosis")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Model's-eye view: 28 x 28 px")).to_be_visible()
    expect(page.get_by_text("calibrated probability").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Overlay opacity")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Faithfulness (probability before").first).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Download summary (CSV)")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "imaging.png"), full_page=True)

    # A new browser session: the uploader keeps earlier files, and two files would give the batch table.
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server_url}/imaging")
    upload = page.locator("input[type=file]")
    upload.wait_for(state="attached", timeout=30_000)
    upload.set_input_files(str(broken))
    expect(page.get_by_text("broken.png could not be read")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_sequence_paste_of_a_hundred_peptides_ranks_explains_and_exports(server_url, browser, tmp_path):
    from medmodels.sequences.data import peptide_splits

    test = peptide_splits("sequence.amp")["test"]
    fasta = "".join(f">pep{i}\n{sequence}\n" for i, sequence in enumerate(test.sequences[:99])) + ">broken\nGIG#K\n"
    page = browser.new_page(viewport={"width": 1400, "height": 1600}, accept_downloads=True)
    page.goto(f"{server_url}/sequences")
    box = page.locator("textarea")
    box.wait_for(timeout=30_000)
    box.fill(fasta)
    box.press("Control+Enter")
    expect(page.get_by_text("broken, position 4: '#' is not an amino-acid letter")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("heading", name="Ranked results")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("99 of 99 sequences")).to_be_visible()
    expect(page.get_by_role("heading", name="Mutation scan")).to_be_visible(timeout=60_000)
    expect(page.locator(".js-plotly-plot")).to_have_count(2, timeout=60_000)  # residue tracks and the mutation heatmap
    with page.expect_download() as download:
        page.get_by_role("button", name="Download table (CSV)").click()
    rows = download.value.path().read_text().splitlines()
    assert rows[0].startswith("id,length,P(antimicrobial)") and len(rows) == 100
    assert "localisation call" in rows[0].split(",")
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "sequences.png"), full_page=True)


def test_literature_indexes_in_the_background_and_a_pasted_abstract_gets_entities_relations_and_attention(
    server_url, browser, tmp_path
):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(f"{server_url}/literature")
    start = page.get_by_role("button", name="Index the default corpus")
    start.click(timeout=30_000)
    expect(page.get_by_text("Indexing the default corpus").first).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("stProgress").first).to_be_visible()
    page.get_by_role("button", name="Pause indexing").click(timeout=30_000)

    page.get_by_role("tab", name="Your abstracts").click()
    box = page.get_by_role("tabpanel", name="Your abstracts").locator("textarea")
    box.wait_for(timeout=30_000)
    box.fill(
        "Captopril-induced angioedema <script>alert(1)</script>.\nA 54-year-old man developed angioedema and hypotension two days after starting captopril. [Full text](https://evil.example)"
    )
    box.press("Control+Enter")
    expect(page.get_by_text("Chemical-disease pairs", exact=True)).to_be_visible(timeout=60_000)
    expect(page.get_by_text("<script>alert(1)</script>", exact=False).first).to_be_visible()  # shown as text, not run
    expect(page.locator("mark").first).to_be_visible(
        timeout=60_000
    )  # a slow machine lazy-loads the widgets' code for seconds
    expect(page.get_by_text("[Full text](https", exact=False).first).to_be_visible()  # Markdown shown as typed
    for link in page.locator('a[href*="evil.example"]').all():  # a bare URL may be linked, never disguised
        assert link.inner_text() == link.get_attribute("href")
    expect(page.get_by_text("Attention is not an explanation by itself", exact=False)).to_be_visible(timeout=60_000)
    own = page.get_by_role("tabpanel", name="Your abstracts")
    expect(own.locator(".js-plotly-plot")).to_have_count(2, timeout=60_000)  # attention heatmap and attribution
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "literature.png"), full_page=True)


def _class_zip(path: Path, per_class: int = 40) -> None:
    """normal/ speckle and lesion/ speckle with a bright blob, 40 x 40 PNGs, zipped as a folder."""
    import io
    import zipfile

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:40, :40]
    with zipfile.ZipFile(path, "w") as archive:
        for label in ("normal", "lesion"):
            for i in range(per_class):
                image = rng.normal(90, 20, (40, 40))
                if label == "lesion":
                    y, x = rng.integers(10, 30, 2)
                    image += 120 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 20)
                buffer = io.BytesIO()
                Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(buffer, format="PNG")
                archive.writestr(f"my-scans/{label}/{i}.png", buffer.getvalue())


def test_train_on_a_zip_watch_the_curves_cancel_one_run_finish_another_then_predict_with_it(
    server_url, browser, tmp_path
):
    archive = tmp_path / "my-scans.zip"
    _class_zip(archive)
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{server_url}/train")
    upload = page.locator("input[type=file]")
    upload.wait_for(state="attached", timeout=30_000)
    upload.set_input_files(str(archive))
    page.get_by_text("28", exact=True).click()
    expect(page.get_by_role("heading", name="What will be trained on")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("80 images of 28 x 28 pixels from 80 files")).to_be_visible(timeout=30_000)

    # First run: 100 epochs per network, cancelled once its curves have grown.
    page.get_by_role("spinbutton").fill("100")
    page.get_by_role("spinbutton").press("Enter")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_role("button", name="Cancel training")).to_be_visible(timeout=30_000)
    curve = page.locator(".js-plotly-plot").first
    expect(curve).to_be_visible(timeout=60_000)
    # A plot Streamlit is redrawing can be in the page before plotly has attached its data: count that as none.
    points = "(plot) => (plot.data || []).reduce((n, trace) => n + (trace.x || []).length, 0)"
    first = curve.evaluate(points)
    page.wait_for_function(
        f"(before) => {{ const plot = document.querySelector('.js-plotly-plot'); return plot && ({points})(plot) > before; }}",
        arg=first,
        timeout=60_000,
    )
    page.get_by_role("button", name="Cancel training").click()
    expect(page.get_by_text("was cancelled; nothing was saved")).to_be_visible(timeout=60_000)

    # Second run: three epochs, to the end; the model is then offered on the Imaging page.
    page.get_by_role("spinbutton").fill("3")
    page.get_by_role("spinbutton").press("Enter")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_text("imaging.my-scans version 1 is trained and installed")).to_be_visible(timeout=120_000)
    expect(page.get_by_test_id("stException")).to_have_count(0)

    page.goto(f"{server_url}/imaging")
    model = page.get_by_role("combobox").first
    model.wait_for(timeout=30_000)
    model.click()
    page.get_by_role("option", name=re.compile(r"^imaging\.my-scans")).click()
    scan = tmp_path / "lesion.png"
    import zipfile

    scan.write_bytes(zipfile.ZipFile(archive).read("my-scans/lesion/0.png"))
    page.locator("input[type=file]").set_input_files(str(scan))
    expect(page.get_by_test_id("stMetric").filter(has_text="Diagnosis")).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("stException")).to_have_count(0)
