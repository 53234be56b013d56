"""End to end, as a learner sees it: JupyterLab in headless Chromium, run all cells through the UI.

Needs Debian's chromium (/usr/bin/chromium, or FWCOURSE_CHROMIUM) and the playwright package;
`.ci/run` installs both, and the test is skipped with a message where they are absent. Run it alone:

    .venv/bin/python -m pytest tests/test_e2e_browser.py -n 0

Screenshots land in test-artifacts/e2e/ (one per notebook, and one on failure).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = os.environ.get("FWCOURSE_CHROMIUM", "/usr/bin/chromium")
TOKEN = "fwcourse-e2e"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
# The notebook a learner opens first (the learner version, exercises left undone), and a heavier
# one with training, widgets and checks (the worked version), with the verdict each should show.
NOTEBOOKS = {"00_start_here.ipynb": "not attempted",
             "solutions/02_linear_transformers_are_fast_weight_programmers.ipynb": "public checks passed"}

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set FWCOURSE_CHROMIUM)",
                allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on loopback over a scratch copy of notebooks/ (the UI saves files)."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns("src"))
    port = _free_port()
    log = open(root / "server.log", "w")
    # Render every cell (JupyterLab 4 leaves off-screen cells out of the page by default) and
    # ask nothing about news: the test reads every cell's prompt.
    settings = root / "settings"
    for name, values in (("notebook-extension/tracker", {"windowingMode": "none"}),
                         ("apputils-extension/notification", {"fetchNews": "false"})):
        path = settings / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # conftest's Agg shows no plots
    env = {**env, "FWCOURSE_SCALE": "quick", "JUPYTER_CONFIG_DIR": str(root / "cfg"),
           "JUPYTER_RUNTIME_DIR": str(root / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(settings)}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={TOKEN}", "--allow-root", f"--ServerApp.root_dir={root / 'notebooks'}",
         "--LabApp.news_url=", "--ServerApp.open_browser=False"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n" + (root / "server.log").read_text()[-3000:])
                time.sleep(0.5)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _run_all(page, timeout_s: float) -> None:
    page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
    # On a slow machine the page can open before the kernel list arrives; JupyterLab then asks
    # which kernel to start, as it would ask a learner: take the one it proposes.
    select = page.locator(".jp-Dialog").get_by_role("button", name="Select", exact=True)
    try:
        select.wait_for(timeout=15_000)
        select.click()
    except playwright_api.TimeoutError:
        pass
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=120_000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    deadline = time.monotonic() + timeout_s
    # Every code cell gets an execution count when it has run; "[*]" marks one still running.
    while time.monotonic() < deadline:
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
        if prompts and all(p.strip() not in ("[ ]:", "[*]:", "") for p in prompts):
            return
        time.sleep(1)
    raise AssertionError(f"cells still running after {timeout_s:g} s")


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_a_learner_runs_the_notebook_in_a_browser(lab, browser, notebook):
    verdict = NOTEBOOKS[notebook]
    if not (ROOT / "notebooks" / notebook).exists():
        pytest.skip(f"{notebook} is not in this checkout")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / (Path(notebook).stem + ".png")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{lab}/lab/tree/{notebook}?token={TOKEN}&reset", wait_until="domcontentloaded")
        _run_all(page, timeout_s=240)

        # No cell shows a traceback.
        errors = [t for t in page.locator(".jp-OutputArea-output").all_inner_texts()
                  if "Traceback (most recent call last)" in t or "Error:" in t.split("\n", 1)[0]]
        assert not errors, f"error output in the notebook: {errors[0][:500]}"

        # An exercise check's verdict is shown.
        verdicts = page.locator(".jp-OutputArea-output", has_text=verdict)
        assert verdicts.count() >= 1

        # A widget rendered: the slider is visible, and moving it changes the plotted frame.
        slider = page.locator(".widget-slider").first
        slider.scroll_into_view_if_needed()
        assert slider.is_visible()
        box = slider.locator("xpath=ancestor::div[contains(@class,'widget-vbox')][1]")
        image = box.locator("img").first
        before = image.get_attribute("src")
        slider.locator(".noUi-handle, .ui-slider-handle").first.focus()
        page.keyboard.press("End")
        # The output widget redraws into a new <img>: look it up afresh until its picture changes.
        deadline = time.monotonic() + 30
        while image.get_attribute("src") == before and time.monotonic() < deadline:
            time.sleep(0.25)
        assert image.get_attribute("src") != before, "moving the slider did not change the frame"
        image.scroll_into_view_if_needed()
        page.screenshot(path=str(shot), full_page=False)
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / (Path(notebook).stem + "-failure.png")), full_page=False)
        raise
    finally:
        page.close()
