"""What the real-browser tests share: Debian's chromium and its flags, free ports, artefacts.

Playwright drives the chromium that Debian installs (``.ci/run`` installs it); no browser is
ever downloaded. Without chromium the browser tests skip, except under ``CI=true``, where a
missing chromium is an error.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"  # gitignored
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip the calling test module when chromium is missing (an error under ``CI=true``)."""
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"chromium is missing at {CHROMIUM}; .ci/run installs it")
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )


def launch_chromium(playwright: Any) -> Any:
    """Debian's headless chromium under Playwright, with the flags every browser test uses."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
