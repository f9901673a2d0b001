"""A real browser: JupyterLab runs a notebook with an explorer, a dropdown is changed, and the
plotly figure in the page follows.

JupyterLab is started on 127.0.0.1 on a free port with a random token, in a temporary folder
holding one small notebook; Debian's headless Chromium is driven through Playwright.
"""

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
KERNEL_TIMEOUT_MS = 120_000
RUN_TIMEOUT_MS = 90_000
RUN_ATTEMPTS = 2
SERVER_TIMEOUT_S = 90

NOTEBOOK_CELLS = [
    "import workbench as wb\n"
    "sample = wb.datasets.load_sample(n_customers=800)\n"
    "explorer = wb.explore.CohortExplorer(sample.events, customers=sample.customers, "
    "debounce=0.1)\n"
    "explorer",
    "print('cohorts:', explorer.result['cohort'].n_unique())",
]

# The heatmap of the explorer: number of cohort rows (y categories) of its first trace.
HEATMAP_ROWS = """() => {
  const plots = document.querySelectorAll('.wb-explorer .js-plotly-plot');
  if (!plots.length || !plots[0].data || !plots[0].data.length) return -1;
  const y = plots[0].data[0].y;
  return y ? y.length : -1;
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook(path: Path) -> None:
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"c{i}",
            "metadata": {},
            "outputs": [],
            "source": src,
        }
        for i, src in enumerate(NOTEBOOK_CELLS)
    ]
    nb = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(
        f"jupyter lab did not answer within {SERVER_TIMEOUT_S} s:\n{log.read_text()[-3000:]}"
    )


@pytest.fixture
def lab(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"no real-browser test because {CHROMIUM} is missing (apt-get install chromium)"
        )
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    root = tmp_path / "root"
    root.mkdir()
    _notebook(root / "explore.ipynb")
    home = tmp_path / "home"
    env = {
        **os.environ,
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "PYTHONWARNINGS": "ignore",
    }
    token = secrets.token_hex(16)
    port = _free_port()
    jupyter = Path(sys.executable).with_name("jupyter")
    log = tmp_path / "lab.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                str(jupyter),
                "lab",
                "--no-browser",
                f"--IdentityProvider.token={token}",
                "--ServerApp.allow_root=True",
                "--ServerApp.ip=127.0.0.1",
                f"--port={port}",
                "--ServerApp.port_retries=0",
                f"--ServerApp.root_dir={root}",
                "--LabApp.expose_app_in_browser=True",
                "--LabApp.news_url=",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_server(f"{base}/api/status?token={token}", proc, log)
        yield {"url": f"{base}/lab/tree/explore.ipynb?token={token}", "log": log}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(home, ignore_errors=True)


KERNEL_READY = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle';
}"""


def test_explorer_updates_in_jupyterlab(lab):
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    shot = lab["log"].with_name("explorer.png")
    step = "start Chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(KERNEL_TIMEOUT_MS)
        try:
            step = "open the notebook in JupyterLab"
            page.goto(lab["url"])
            page.wait_for_function("() => !!window.jupyterapp")
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
            step = "wait for the kernel"
            page.wait_for_function(KERNEL_READY)
            step = "run all cells and wait for the explorer"
            for attempt in range(RUN_ATTEMPTS):
                page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
                try:
                    page.wait_for_selector(".wb-explorer .js-plotly-plot", timeout=RUN_TIMEOUT_MS)
                    break
                except PlaywrightError:
                    if attempt == RUN_ATTEMPTS - 1:
                        raise
                    page.wait_for_function(KERNEL_READY)  # then run the cells again
            step = "wait for the second cell's output"
            page.wait_for_selector("text=cohorts: 24")
            step = "read the monthly heatmap"
            page.wait_for_function(f"() => ({HEATMAP_ROWS})() > 0")
            assert page.evaluate(HEATMAP_ROWS) == 24
            assert "Updated in" in page.inner_text(".wb-explorer .wb-status")

            def select(name):
                label = page.locator("label", has_text=re.compile(f"^{name}$"))
                return page.locator(".wb-explorer .widget-dropdown", has=label).locator("select")

            shown = "s => s.selectedIndex < 0 ? null : s.options[s.selectedIndex].text"
            assert select("by").first.evaluate(shown) == "(none)"
            assert select("period").first.evaluate(shown) == "month"
            step = "choose period=quarter and wait for the heatmap to follow"
            select("period").first.select_option("quarter")
            # The kernel recomputes (after the debounce) and the heatmap follows: 8 quarters.
            page.wait_for_function(f"() => ({HEATMAP_ROWS})() === 8", timeout=60_000)
            assert page.evaluate(HEATMAP_ROWS) == 8
            page.screenshot(path=str(shot))
        except (PlaywrightError, AssertionError) as exc:
            try:
                page.screenshot(path=str(shot))
            except PlaywrightError:
                pass
            log = lab["log"].read_text()[-2000:]
            raise AssertionError(
                f"browser test failed at step: {step} ({type(exc).__name__}: {exc}). "
                f"Page: {_diagnose(page)}. Screenshot: {shot}. JupyterLab log tail:\n{log}"
            ) from exc
        finally:
            browser.close()


def _diagnose(page) -> str:
    """What the page shows: figures, heatmap rows, cell outputs (for failure messages)."""
    try:
        return page.evaluate(
            f"""() => JSON.stringify({{
              plots: document.querySelectorAll('.js-plotly-plot').length,
              heatmap_rows: ({HEATMAP_ROWS})(),
              outputs: Array.from(document.querySelectorAll('.jp-OutputArea-output'))
                .map(o => o.innerText.slice(0, 200)),
            }})"""
        )
    except Exception as exc:  # the page itself may be gone
        return f"(no page: {exc})"
