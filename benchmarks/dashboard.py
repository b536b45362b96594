"""Dashboard benchmark: how long the server takes to start and each page to render in Chromium on a cold
server, the server's CPU use and memory while the dashboard sits idle, then how long a widget change takes
to redraw the page: the Imaging page's overlay opacity and decision threshold on a large uploaded radiograph, and the
Literature page's attention layer and head, first on the findings database tab (a finding's evidence, below
the findings table and charts), then on a pasted abstract. Last, the upload to the full result is timed
again in one session while another trains a model on the Train page (``--no-training`` skips it), and the
ratio of the two medians is printed: training in the browser must not hold up other sessions.

    python benchmarks/dashboard.py [--repo PATH] [--abstracts -1] [--idle 10] [--moves 5] [--no-interactions]
                                   [--no-training] [--file-watcher auto]

``--repo`` measures another checkout of the project (default: the one holding this script), so one script
gives before/after figures. ``--idle 0`` skips the idle window. Prints a table, then one JSON line. Needs
Debian's Chromium at /usr/bin/chromium and Linux's /proc (for the server's CPU time and memory).
``--file-watcher auto`` measures Streamlit's default source watching, which the project's config turns off.
The server gets a temporary MEDMODELS_HOME, and MEDMODELS_DATA only if the caller has it.

Before the server starts, its MEDMODELS_HOME gets a findings database (``findings.sqlite``) holding the first
``--abstracts`` abstracts of the default corpus, indexed by this checkout's medmodels (the schema is the same
in the measured one), so the Literature page renders and redraws as it does in use. The default, ``-1``, is the
whole default corpus (33,272 abstracts), as the page's "Index the default corpus" button stores it. Indexing is
setup, not a measure (eight minutes for the whole corpus on two cores): its time goes to stderr, and the
database is kept under the temporary folder (``medmodels-dashboard-benchmark/``), one file per size, for later
runs to copy; delete that folder to rebuild (after the literature model or the corpus changes).
``--abstracts 0`` leaves the database empty and skips the database tab's redraws.

A redraw is timed by the browser's clock, from the key or pointer press that makes the change to the first
animation frame in which Streamlit's root element (``data-test-script-state``) is "notRunning", no element is
still marked stale (``data-stale="true"``), the status widget is gone, every image has loaded, and the page
shows what the change should bring (new overlay images, the heatmap's new title); a change with nothing new to
show (the threshold) must also have been seen "running" since the press.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable
from itertools import islice
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT = {"width": 1400, "height": 1000}
# Each page's path, and the role and name of an element its script draws only after its models are loaded.
PAGES: dict[str, tuple[str, str, str | re.Pattern[str]]] = {
    "Home": ("", "link", "Model cards, training curves and calibration"),
    "Imaging": ("imaging", "region", "Scans"),
    "Train on your scans": ("train", "region", "Zip of class folders"),
    "Sequence screening": ("sequences", "textbox", "One sequence, or FASTA text with many records"),
    # "Index the default corpus" on an empty database, "Resume or update the default-corpus index" on a filled one.
    "Literature mining": ("literature", "button", re.compile(r"default[ -]corpus")),
    "Models": ("models", "heading", "Training curves"),
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WAIT_MS = 180_000  # one cold render or redraw; a large scan's explanations take seconds on two cores
# The upload whose explanations cost the most: a 1955 x 1841 radiograph (see ``large_radiograph``).
LARGE_SCAN = "RG1_anonymous.dcm"
ABSTRACT = (
    "Lithium-induced nephrogenic diabetes insipidus.\n"
    "A 45-year-old woman treated with lithium for bipolar disorder developed polyuria and nephrogenic diabetes "
    "insipidus. Cisplatin nephrotoxicity was also reported in children given cisplatin."
)
# Where built findings databases are kept between runs, one file per number of abstracts.
DATABASE_CACHE = Path(tempfile.gettempdir()) / "medmodels-dashboard-benchmark"
# (key in the JSON, row in the table) for each redraw measured.
REDRAWS = {
    "imaging_upload": "imaging: upload to full result (1955 x 1841 DICOM)",
    "imaging_upload_while_training": "imaging: the same while another session trains a model",
    "imaging_opacity": "imaging: opacity change redraw",
    "imaging_threshold": "imaging: threshold change redraw",
    "literature_database_head": "literature (findings database): head switch redraw",
    "literature_database_layer": "literature (findings database): layer switch redraw",
    "literature_head": "literature: head switch redraw",
    "literature_layer": "literature: layer switch redraw",
}

# Installed once per page, then re-armed before each change: the clock starts at the change's first key or
# pointer press, as the browser saw it, and `ran` records that the script started, so the page as it stood
# before the rerun can never pass for its end.
ARM = """() => {
    if (!window.__redraw) {
        const redraw = (window.__redraw = {});
        new MutationObserver((records) => {
            for (const record of records) {
                if (record.target.getAttribute('data-test-script-state') === 'running') redraw.ran = true;
            }
        }).observe(document.body, {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']});
        const pressed = (event) => { if (redraw.start === null) redraw.start = event.timeStamp; };
        document.addEventListener('keydown', pressed, true);
        document.addEventListener('pointerdown', pressed, true);
    }
    window.__redraw.ran = false;
    window.__redraw.start = null;
}"""
# True once the last script run has ended and its output is all on screen.
SETTLED = """() => {
    const app = document.querySelector('[data-test-script-state]');
    return app !== null && app.getAttribute('data-test-script-state') !== 'running'
        && !document.querySelector('[data-stale="true"], [data-testid="stStatusWidget"]')
        && [...document.querySelectorAll('[data-testid="stMain"] img')].every((img) => img.complete);
}"""
# Page-specific evidence that the change reached the screen, each called with one argument.
IMAGE_SOURCES = """() => [...document.querySelectorAll('[data-testid="stMain"] img')].map((img) => img.src).join(' ')"""
NEW_IMAGES = f"(before) => ({IMAGE_SOURCES})() !== before"
# Streamlit keeps an inactive tab's content in the DOM, hidden (only the selected tab's carries the "tabpanel"
# role): the title is read in the tab on screen only, so one tab's heatmap can never pass for the other's.
HEATMAP_TITLE = """() => {
    const main = document.querySelector('[data-testid="stMain"]');
    const panel = [...main.querySelectorAll('[role="tabpanel"]')].find((panel) => panel.checkVisibility()) ?? main;
    return [...panel.querySelectorAll('.gtitle')].map((title) => title.textContent)
        .find((text) => text.startsWith('Attention, layer')) ?? '';
}"""
TITLE_MATCHES = "(pattern) => new RegExp(pattern).test((" + HEATMAP_TITLE + ")())"
ANY_HEATMAP = r"^Attention, layer \d+, "
ANYTHING = "() => true"
# Both maps and their faithfulness charts (with the probabilities, three plots) are drawn: the page is complete.
MAPS_DRAWN = """() => [...document.querySelectorAll('[data-testid="stMain"] strong')]
        .some((bold) => bold.textContent === 'Grad-CAM')
    && document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot').length >= 3"""


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS line")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def findings_database(abstracts: int) -> Path:
    """A findings database holding the first ``abstracts`` abstracts of the default corpus: built here the first
    time (the time it took goes to stderr), then reused from ``DATABASE_CACHE`` while the model is the same."""
    from medmodels.checkpoints import find_card

    card = find_card("literature.cdr")
    weights = next(f.sha256 for f in card.files if f.role == "weights")
    cached = DATABASE_CACHE / f"findings-{'all' if abstracts < 0 else abstracts}-v{card.version}-{weights[:12]}.sqlite"
    if cached.is_file():
        print(f"findings database: {abstracts} abstracts, reused from {cached}", file=sys.stderr)
        return cached
    # Imported here: only a run that builds a database pays for loading the model.
    from medmodels.literature.indexing import DEFAULT_SOURCE, default_corpus
    from medmodels.literature.pipeline import LiteratureModel
    from medmodels.literature.store import FindingsStore, index_documents

    DATABASE_CACHE.mkdir(exist_ok=True)
    # Built beside the cache and renamed into it when complete, so an interrupted build is never reused.
    with tempfile.TemporaryDirectory(dir=DATABASE_CACHE) as scratch:
        path = Path(scratch) / "findings.sqlite"
        model = LiteratureModel.load()
        documents, _ = default_corpus()
        # Records without an abstract are skipped by the indexer; counting only those with one makes N the
        # number of abstracts stored.
        with_abstract = (document for document in documents if document.abstract.strip())
        store = FindingsStore(path)
        started = time.perf_counter()
        try:
            progress = index_documents(
                store,
                DEFAULT_SOURCE,
                islice(with_abstract, None if abstracts < 0 else abstracts),
                model.extract,
                model.stamp,
            )
        finally:
            store.close()
        seconds = time.perf_counter() - started
        if 0 <= abstracts and progress.done < abstracts:
            sys.exit(f"benchmarks/dashboard.py: the default corpus has only {progress.done} abstracts, not {abstracts}")
        # One self-contained file (no write-ahead log beside it) to copy; the server's store turns WAL back on.
        with contextlib.closing(sqlite3.connect(path)) as connection:
            connection.execute("PRAGMA journal_mode=DELETE")
        os.replace(path, cached)
    built = f"{progress.done} abstracts indexed in {seconds:.1f} s ({progress.done / seconds:.0f} abstracts/s)"
    print(f"findings database: {built}, kept in {cached}", file=sys.stderr)
    return cached


def wait_settled(page: Page, shows: str = ANYTHING, argument: object = None) -> None:
    """Wait until the page is idle after a run and ``shows(argument)`` holds."""
    page.wait_for_function(f"(argument) => ({SETTLED})() && ({shows})(argument)", arg=argument, timeout=WAIT_MS)


def timed_redraw(page: Page, change: Callable[[], None], shows: str = ANYTHING, argument: object = None) -> float:
    """Seconds from ``change()`` to a settled page that ``shows(argument)``, after a script run it caused."""
    page.evaluate(ARM)
    change()
    # A change ``shows`` can see (new images, a new title) proves the rerun by itself; a fragment's rerun can
    # be over before the root element is seen "running". Without one, the run must have been seen.
    ran = "true" if shows != ANYTHING else "window.__redraw.ran"
    # Polled every animation frame and timed by the browser's own clock, so Python's latency is not counted.
    elapsed = page.wait_for_function(
        f"""(argument) => window.__redraw.start !== null && {ran} && ({SETTLED})() && ({shows})(argument)
            && Math.max(performance.now() - window.__redraw.start, 0.001)""",
        arg=argument,
        polling="raf",
        timeout=WAIT_MS,
    ).json_value()
    return round(elapsed / 1000, 3)


def open_options(page: Page, label: str, within: Locator | None = None) -> list[str]:
    """Open the selectbox labelled ``label`` (in ``within``, else anywhere on the page); its options' texts."""
    combobox = (page if within is None else within).get_by_role("combobox", name=label, exact=True)
    for _ in range(3):
        # The first click after typing in a text area can focus the box without opening it; a second opens it.
        if combobox.get_attribute("aria-expanded") != "true":
            combobox.click()
        try:
            # The open list is drawn at the end of the body, outside any tab panel.
            page.get_by_role("listbox").wait_for(timeout=2_000)
            return page.get_by_role("option").all_inner_texts()
        except PlaywrightTimeoutError:
            continue
    raise RuntimeError(f"the selectbox '{label}' did not open")


def switch(page: Page, label: str, move: int, title: str, within: Locator) -> float:
    """Redraw time for choosing another option in the selectbox labelled ``label`` in ``within``, each other
    option in turn as ``move`` counts up, until the attention heatmap's title matches ``title`` (a regular
    expression with ``{}`` for the option)."""
    options = open_options(page, label, within)
    current = within.get_by_role("combobox", name=label, exact=True).input_value()
    others = [option for option in options if option != current]
    option = others[move % len(others)]
    chosen = page.get_by_role("option", name=option, exact=True)
    return timed_redraw(page, chosen.click, TITLE_MATCHES, title.format(re.escape(option)))


def summary(runs: list[float]) -> dict[str, object]:
    return {"median": round(statistics.median(runs), 3), "runs": runs}


def large_radiograph(folder: Path) -> Path:
    """pydicom's 1955 x 1841 chest radiograph, the scan whose explanations cost the most, as a de-identified
    copy written into ``folder``: the original's tags state an adult's age, so the pneumonia model withholds
    it and draws no maps."""
    import pydicom
    from pydicom.data import get_testdata_file

    dataset = pydicom.dcmread(get_testdata_file("RG1_UNCR.dcm"))
    for keyword in ("PatientAge", "PatientBirthDate"):
        if keyword in dataset:
            delattr(dataset, keyword)
    path = folder / LARGE_SCAN
    dataset.save_as(path, enforce_file_format=True)
    return path


def open_imaging(page: Page, url: str) -> None:
    page.goto(f"{url}/imaging")
    page.get_by_role("region", name="Scans").first.wait_for(timeout=WAIT_MS)
    wait_settled(page)


def upload_times(page: Page, url: str, repeats: int) -> list[float]:
    """Seconds from the upload's start to the full result (diagnosis, both maps, faithfulness charts), by
    Python's clock, ``repeats`` times: each on a fresh page, with a new file to the server, so nothing of
    the scan is cached and the last result's maps cannot pass for this one's. Leaves the last result shown.

    The scan is chosen from a file on disk, as a user chooses it: handed over as bytes instead, Playwright
    sends the 7 MB to the browser base64-encoded first, which took 1.3 s here and is no part of an upload."""
    uploads = []
    with tempfile.TemporaryDirectory() as folder:
        scan = large_radiograph(Path(folder))
        for _ in range(max(repeats, 1)):
            open_imaging(page, url)
            start = time.perf_counter()
            page.locator("input[type=file]").set_input_files(scan)
            wait_settled(page, MAPS_DRAWN)
            uploads.append(round(time.perf_counter() - start, 3))
    return uploads


def imaging_redraws(page: Page, url: str, moves: int) -> tuple[str, dict[str, dict[str, object]]]:
    """The scan used, and the redraw times for opacity and threshold moves on it."""
    uploads = upload_times(page, url, moves)
    chosen = f"{LARGE_SCAN} (RG1_UNCR.dcm without its age tags)"

    results = {"imaging_upload": summary(uploads)}
    # Streamlit's slider is an <input type="range"> carrying the label (its accessible name repeats it).
    sliders = {
        "imaging_opacity": page.locator('input[type="range"][aria-label="Overlay opacity"]'),
        "imaging_threshold": page.locator('input[type="range"][aria-label^="Decision threshold on P("]'),
    }
    for key, slider in sliders.items():
        runs = []
        for move in range(moves):
            before = page.evaluate(IMAGE_SOURCES)
            value = slider.input_value()
            slider.focus()
            # One key press is one step and one rerun; alternating keeps the value near its default.
            key_press = "ArrowRight" if move % 2 == 0 else "ArrowLeft"
            # A new opacity means new overlay images; a new threshold leaves them as they were.
            shows = NEW_IMAGES if key == "imaging_opacity" else ANYTHING
            runs.append(timed_redraw(page, lambda key_press=key_press: page.keyboard.press(key_press), shows, before))
            if slider.input_value() == value:
                raise RuntimeError(f"{key}: the slider did not move from {value}")
        results[key] = summary(runs)
    return chosen, results


def training_archive(per_class: int = 150, side: int = 64) -> dict[str, object]:
    """A zip of two class folders of synthetic scans at ``side`` pixels (speckle; speckle with a bright blob),
    built in memory: at 64 px and 100 epochs per network, a training that outlasts the uploads timed beside it."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:side, :side]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for label in ("normal", "lesion"):
            for index in range(per_class):
                image = rng.normal(90, 20, (side, side))
                if label == "lesion":
                    y, x = rng.integers(side // 4, 3 * side // 4, 2)
                    image += 120 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (side / 2))
                png = io.BytesIO()
                Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(png, format="PNG")
                archive.writestr(f"benchmark-scans/{label}/{index}.png", png.getvalue())
    return {"name": "benchmark-scans.zip", "mimeType": "application/zip", "buffer": buffer.getvalue()}


def upload_times_while_training(browser: Browser, url: str, repeats: int) -> list[float]:
    """``upload_times`` in a second session while a first trains a model on the Train page (64 px, 100 epochs
    per network); the training is cancelled afterwards, so nothing is saved."""
    trainer = browser.new_page(viewport=VIEWPORT)
    trainer.goto(f"{url}/train")
    upload = trainer.locator("input[type=file]")
    upload.wait_for(state="attached", timeout=WAIT_MS)
    upload.set_input_files(training_archive())
    trainer.get_by_role("heading", name="What will be trained on").wait_for(timeout=WAIT_MS)
    trainer.get_by_text("64", exact=True).click()
    trainer.get_by_text("images of 64 x 64 pixels", exact=False).wait_for(timeout=WAIT_MS)
    trainer.get_by_role("spinbutton").fill("100")
    trainer.get_by_role("spinbutton").press("Enter")
    wait_settled(trainer)
    trainer.get_by_role("button", name="Train", exact=True).click()
    cancel = trainer.get_by_role("button", name="Cancel training")
    cancel.wait_for(timeout=WAIT_MS)
    # The first epoch's curve: the networks are built and training steps are running.
    trainer.locator(".js-plotly-plot").first.wait_for(timeout=WAIT_MS)
    progress = trainer.get_by_test_id("stProgress")
    try:
        before = progress.inner_text()
        times = upload_times(browser.new_page(viewport=VIEWPORT), url, repeats)
        after = progress.inner_text()
        # The bar's text names the network and epoch ("member 1/3 · epoch 12/100 · ..."): it must have moved on,
        # with the training still running, or the uploads were not timed beside a training.
        if not cancel.is_visible() or after == before:
            raise RuntimeError(f"the training did not run through the uploads beside it ({before!r}, then {after!r})")
    finally:
        cancel.click()
        trainer.get_by_text("was cancelled; nothing was saved").wait_for(timeout=WAIT_MS)
    print(f"training beside the uploads: from {before!r} to {after!r}", file=sys.stderr)
    return times


def heatmap_shown(page: Page) -> bool:
    """Whether the tab on screen shows an attention heatmap, given a few seconds to draw it after the run."""
    try:
        page.wait_for_function(TITLE_MATCHES, arg=ANY_HEATMAP, timeout=10_000)
        return True
    except PlaywrightTimeoutError:
        return False


def switches(page: Page, panel: Locator, moves: int, prefix: str) -> dict[str, dict[str, object]]:
    """Redraw times for switching the attention head, then the layer, of the heatmap in ``panel``."""
    results = {}
    # The heatmap's title names the layer and head it shows, e.g. "Attention, layer 2, head 3".
    for key, label, pattern in (
        (f"{prefix}_head", "Head", ", {}$"),
        (f"{prefix}_layer", "Attention layer", "^Attention, {}, "),
    ):
        results[key] = summary([switch(page, label, move, pattern, panel) for move in range(moves)])
    return results


def literature_redraws(page: Page, url: str, moves: int, database: bool) -> dict[str, dict[str, object]]:
    """Redraw times for switching the attention head and layer below a finding of the findings database (when
    ``database``: it holds abstracts), then on a pasted abstract."""
    page.goto(f"{url}/literature")
    tab = page.get_by_role("tab", name="Your abstracts")
    tab.wait_for(timeout=WAIT_MS)
    # Both tabs draw a "Head" and an "Attention layer" selectbox; every look-up stays in the tab on screen.
    panel = page.get_by_role("tabpanel").filter(visible=True)
    results = {}
    if database:
        panel.get_by_test_id("stDataFrame").first.wait_for(timeout=WAIT_MS)
        panel.get_by_role("heading", name="A finding's evidence").wait_for(timeout=WAIT_MS)
        wait_settled(page)
        if not heatmap_shown(page):
            # The first finding's evidence drew no heatmap: the next one on the list that does.
            for option in open_options(page, "Finding", panel)[1:]:
                timed_redraw(page, page.get_by_role("option", name=option, exact=True).click)
                if heatmap_shown(page):
                    break
                open_options(page, "Finding", panel)
            else:
                raise RuntimeError("no finding on the findings database tab shows an attention heatmap")
        results |= switches(page, panel, moves, "literature_database")
    else:
        wait_settled(page)

    tab.click()
    text = panel.get_by_label("An abstract: its title on the first line, then the text", exact=True)
    text.fill(ABSTRACT)
    # A text area applies its value on Ctrl+Enter (or on losing focus).
    timed_redraw(page, lambda: text.press("Control+Enter"), TITLE_MATCHES, ANY_HEATMAP)
    return results | switches(page, panel, moves, "literature")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="checkout to measure (default: this script's)")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle time to measure (0: skip)")
    parser.add_argument(
        "--interactions", action=argparse.BooleanOptionalAction, default=True, help="measure widget-change redraws"
    )
    parser.add_argument("--moves", type=int, default=5, help="widget changes per redraw measure")
    parser.add_argument(
        "--training",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --interactions, time the uploads again while another session trains a model",
    )
    parser.add_argument(
        "--abstracts",
        type=int,
        default=-1,
        help="abstracts of the default corpus in the findings database (-1, the default: all of them, as 'Index the default corpus' stores them; 0: none)",
    )
    parser.add_argument("--file-watcher", choices=["none", "auto"], help="override the config's server.fileWatcherType")
    args = parser.parse_args()
    repo = args.repo.resolve()
    if not CHROMIUM.exists():
        sys.exit("benchmarks/dashboard.py: needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    if not (repo / "app.py").is_file():
        sys.exit(f"benchmarks/dashboard.py: no app.py in {repo}")
    if args.moves < 1:
        sys.exit("benchmarks/dashboard.py: --moves must be at least 1")
    if args.abstracts < -1:
        sys.exit("benchmarks/dashboard.py: --abstracts must be -1 (all), 0 (none) or more")
    # A plain `kill` must still run the finally below that stops the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
    ]
    if args.file_watcher:
        command += ["--server.fileWatcherType", args.file_watcher]
    url = f"http://127.0.0.1:{port}"
    results: dict[str, object] = {
        "benchmark": "dashboard",
        "repo": str(repo),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "file_watcher": args.file_watcher or "as configured",
        "abstracts": args.abstracts,
    }
    # Built (or found) before the server starts, so indexing never competes with what is measured.
    database = findings_database(args.abstracts) if args.abstracts else None
    # os.environ passes MEDMODELS_DATA through when the caller has it; it is never invented here.
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    with tempfile.TemporaryDirectory() as home:
        env["MEDMODELS_HOME"] = home
        if database:
            # A copy: the server's store writes to its file (WAL mode), and the cached one must stay as built.
            shutil.copyfile(database, Path(home) / "findings.sqlite")
        log_path = Path(home) / "server.log"
        started = time.perf_counter()
        with log_path.open("wb") as log:
            server = subprocess.Popen(command, cwd=repo, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                        break
                except OSError:
                    if server.poll() is not None or time.perf_counter() - started > 60:
                        sys.exit("benchmarks/dashboard.py: the Streamlit server did not start within 60 s")
                    time.sleep(0.1)
            results["server_start_s"] = round(time.perf_counter() - started, 2)

            page_seconds = {}
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM),
                    args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
                )
                page = browser.new_page(viewport=VIEWPORT)
                for title, (path, role, name) in PAGES.items():
                    start = time.perf_counter()
                    page.goto(f"{url}/{path}")
                    page.get_by_role(role, name=name).first.wait_for(timeout=120_000)
                    page_seconds[title] = round(time.perf_counter() - start, 2)
                results["first_render_s"] = page_seconds

                if args.idle > 0:
                    time.sleep(2)  # let the last page's work settle before the idle window
                    before = cpu_seconds(server.pid)
                    time.sleep(args.idle)
                    results["idle_cpu_percent"] = round(100 * (cpu_seconds(server.pid) - before) / args.idle, 1)
                results["idle_rss_mb"] = round(resident_mb(server.pid), 1)

                if args.interactions:
                    # A fresh browser session per page; the server's model caches are warm from the first renders.
                    page.close()
                    results["imaging_sample"], redraws = imaging_redraws(
                        browser.new_page(viewport=VIEWPORT), url, args.moves
                    )
                    literature = browser.new_page(viewport=VIEWPORT)
                    redraws |= literature_redraws(literature, url, args.moves, database is not None)
                    if args.training:
                        uploads = upload_times_while_training(browser, url, args.moves)
                        redraws["imaging_upload_while_training"] = summary(uploads)
                        results["upload_slowdown_while_training"] = round(
                            statistics.median(uploads) / redraws["imaging_upload"]["median"], 2
                        )
                    results["redraw_s"] = redraws
                    results["rss_after_redraws_mb"] = round(resident_mb(server.pid), 1)
                browser.close()
        except BaseException:
            log_tail = log_path.read_text(errors="replace")[-3000:]
            print(f"benchmarks/dashboard.py: failed; the server's last output:\n{log_tail}", file=sys.stderr)
            raise
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    print(f"{'measure':<70} {'value':>10}")
    print(f"{'server start (s)':<70} {results['server_start_s']:>10}")
    for title, seconds in page_seconds.items():
        print(f"{'first render: ' + title + ' (s)':<70} {seconds:>10}")
    if "idle_cpu_percent" in results:
        print(f"{'idle CPU, % of one core':<70} {results['idle_cpu_percent']:>10}")
    print(f"{'resident memory after all pages (MB)':<70} {results['idle_rss_mb']:>10}")
    if args.interactions:
        for key, row in REDRAWS.items():
            if key in results["redraw_s"]:  # the database tab's rows need a database
                print(f"{f'{row} (s, median of {args.moves})':<70} {results['redraw_s'][key]['median']:>10}")
        if "upload_slowdown_while_training" in results:
            slowdown = results["upload_slowdown_while_training"]
            print(f"{'imaging: upload while training / upload alone (x)':<70} {slowdown:>10}")
        print(f"{'resident memory after the redraws (MB)':<70} {results['rss_after_redraws_mb']:>10}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
