"""Dashboard benchmark: how long the server takes to start and each page to render in Chromium on a cold
server, then the server's CPU use and memory while the dashboard sits idle.

    python benchmarks/dashboard.py [--idle 10] [--file-watcher auto]

Prints a table, then one JSON line. Needs Debian's Chromium at /usr/bin/chromium and Linux's /proc (for
the server's CPU time and memory). ``--file-watcher auto`` measures Streamlit's default source watching,
which the project's config turns off.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
# Each page's path, and the role and name of an element its script draws only after its models are loaded.
PAGES = {
    "Home": ("", "link", "Model cards, training curves and calibration"),
    "Imaging": ("imaging", "region", "Scans"),
    "Sequence screening": ("sequences", "textbox", "One sequence, or FASTA text with many records"),
    "Literature mining": ("literature", "button", "Index the default corpus"),
    "Models": ("models", "heading", "Training curves"),
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle time to measure")
    parser.add_argument("--file-watcher", choices=["none", "auto"], help="override the config's server.fileWatcherType")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit("benchmarks/dashboard.py: needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")

    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address", "127.0.0.1"]
    if args.file_watcher:
        command += ["--server.fileWatcherType", args.file_watcher]
    url = f"http://127.0.0.1:{port}"
    results: dict[str, object] = {
        "benchmark": "dashboard",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "file_watcher": args.file_watcher or "as configured",
    }
    with tempfile.TemporaryDirectory() as home:
        started = time.perf_counter()
        server = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "MEDMODELS_HOME": home, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"},
        )
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
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                for title, (path, role, name) in PAGES.items():
                    start = time.perf_counter()
                    page.goto(f"{url}/{path}")
                    page.get_by_role(role, name=name).first.wait_for(timeout=120_000)
                    page_seconds[title] = round(time.perf_counter() - start, 2)
                results["first_render_s"] = page_seconds

                time.sleep(2)  # let the last page's work settle before the idle window
                before = cpu_seconds(server.pid)
                time.sleep(args.idle)
                results["idle_cpu_percent"] = round(100 * (cpu_seconds(server.pid) - before) / args.idle, 1)
                results["idle_rss_mb"] = round(resident_mb(server.pid), 1)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)

    print(f"{'measure':<40} {'value':>10}")
    print(f"{'server start (s)':<40} {results['server_start_s']:>10}")
    for title, seconds in page_seconds.items():
        print(f"{'first render: ' + title + ' (s)':<40} {seconds:>10}")
    print(f"{'idle CPU, % of one core':<40} {results['idle_cpu_percent']:>10}")
    print(f"{'resident memory after all pages (MB)':<40} {results['idle_rss_mb']:>10}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
