"""The slot picker in a real browser: Voila serves a notebook, Playwright drives Debian's chromium.

Click a heatmap cell, pick a slot, hold, type the contact, confirm; then check through the API
that the appointment exists and in the sandbox outbox that the email went out. Leaves a
screenshot and the click → UI-updated times under ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import nbformat
import pytest
from browser_support import ARTIFACTS, free_port, launch_chromium, require_chromium
from front_desk import front_desk

from zimun_analytics import ZimunClient
from zimun_analytics.sandbox import Sandbox

UI_TIMEOUT_MS = 120_000  # Voila runs the notebook before the widget appears

playwright_api = pytest.importorskip("playwright.sync_api")
require_chromium()


def _notebook(path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "from zimun_analytics import ZimunClient\n"
            "from zimun_analytics.widgets import SlotPicker\n\n"
            "SlotPicker(ZimunClient(), service_id='s_eyebrow', days_ahead=7)"
        )
    ]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, path)


@pytest.fixture
def voila(tmp_path):
    """A real-clock sandbox and Voila serving the picker notebook against it."""
    with Sandbox(seed=1) as sandbox:
        _notebook(tmp_path / "picker.ipynb")
        port = free_port()
        env = {
            **os.environ,
            "ZIMUN_CLIENT_ID": sandbox.client_id,
            "ZIMUN_CLIENT_SECRET": sandbox.client_secret,
            "ZIMUN_BASE_URL": sandbox.base_url,
        }
        command = [
            sys.executable,
            "-m",
            "voila",
            "picker.ipynb",
            f"--port={port}",
            "--no-browser",
            "--Voila.ip=127.0.0.1",
        ]
        with subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ) as server:
            try:
                url = f"http://127.0.0.1:{port}/"
                for _ in range(600):  # waiting for the server to listen, not timing anything
                    try:
                        httpx.get(url, timeout=5)
                        break
                    except httpx.TransportError:
                        time.sleep(0.1)
                yield url, sandbox
            finally:
                server.terminate()


def _timed_click(page, selector: str, then: str, timings: dict, name: str) -> None:
    started = time.perf_counter()
    page.click(selector)
    page.wait_for_selector(then, timeout=UI_TIMEOUT_MS)
    timings[name] = round((time.perf_counter() - started) * 1000)


def test_pick_hold_and_confirm_in_a_real_browser(voila):
    url, sandbox = voila
    timings: dict[str, int] = {}
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(url, timeout=UI_TIMEOUT_MS)
        page.wait_for_selector("button.zimun-cell.zimun-free", timeout=UI_TIMEOUT_MS)
        assert page.locator("button.zimun-cell.zimun-closed").count() > 0  # Berlin Sundays
        _timed_click(
            page,
            "button.zimun-cell.zimun-free >> nth=-1",  # the last day: no slot starts meanwhile
            ".zimun-slots select option",
            timings,
            "cell_to_slot_list",
        )
        page.select_option(".zimun-slots select", index=0)
        page.wait_for_selector("button.zimun-hold:not([disabled])", timeout=UI_TIMEOUT_MS)
        _timed_click(
            page, "button.zimun-hold", ".zimun-hold-info :text('h_')", timings, "hold_to_hold_shown"
        )
        page.fill(".zimun-contact-name input", "Dana Lee")
        page.fill(".zimun-contact-email input", "dana@example.com")
        page.wait_for_selector("button.zimun-confirm:not([disabled])", timeout=UI_TIMEOUT_MS)
        _timed_click(
            page,
            "button.zimun-confirm",
            ".zimun-status :text('a_')",
            timings,
            "confirm_to_appointment_shown",
        )
        status = page.inner_text(".zimun-status")
        page.screenshot(path=str(ARTIFACTS / "slot_picker_confirmed.png"), full_page=True)
        browser.close()
    (ARTIFACTS / "browser_timings_ms.json").write_text(json.dumps(timings, indent=2))
    print(f"click -> UI updated (ms): {timings}")
    appointment_id = re.search(r"a_[0-9a-f]{12}", status).group(0)
    with ZimunClient(sandbox.client_id, sandbox.client_secret, sandbox.base_url) as client:
        assert client.appointment(appointment_id).status == "confirmed"
    emails = [m for m in sandbox.outbox() if m["appointment_id"] == appointment_id]
    assert [(m["kind"], m["to"]) for m in emails] == [("confirmed", "dana@example.com")]
    assert set(timings) == {
        "cell_to_slot_list",
        "hold_to_hold_shown",
        "confirm_to_appointment_shown",
    }


def test_every_front_desk_path_in_voila(voila):
    url, sandbox = voila
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(url, timeout=UI_TIMEOUT_MS)
        timings = front_desk(page, sandbox, str(ARTIFACTS / "voila_picker"))
        browser.close()
    (ARTIFACTS / "voila_front_desk_ms.json").write_text(json.dumps(timings, indent=2))
    print(f"click -> UI updated (ms): {timings}")
