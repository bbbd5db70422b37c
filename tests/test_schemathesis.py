"""The sandbox's OpenAPI document and its server agree: ``schemathesis run --checks all``.

Every operation, with a small example budget and a fixed seed, against a real sandbox over
loopback; ``tests/schemathesis.toml`` says which documented refusals no schema can state.
Moving the clock (years per call, as fuzzing does) would expire every token, so that one
operation runs against a sandbox of its own.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import UNLIMITED

from zimun_analytics.sandbox import Sandbox

pytestmark = pytest.mark.slow

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = 15  # per operation and phase: a small budget, enough to find the old mismatches


def _schemathesis(
    sandbox: Sandbox, workdir: Path, *selection: str
) -> subprocess.CompletedProcess[str]:
    basic = base64.b64encode(f"{sandbox.client_id}:{sandbox.client_secret}".encode()).decode()
    token = httpx.post(
        f"{sandbox.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    ).json()["access_token"]
    command = [
        sys.executable, "-m", "schemathesis.cli", "--no-color", "--config-file", str(CONFIG),
        "run", f"{sandbox.base_url}/openapi.json", "--checks", "all",
        "--max-examples", str(EXAMPLES), "--seed", "1", *selection,
    ]  # fmt: skip
    env = {**os.environ, "SANDBOX_TOKEN": token, "SANDBOX_BASIC": basic}
    # in a folder of its own: schemathesis keeps its example database where it runs
    return subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=600, cwd=workdir
    )


def _assert_clean(ran: subprocess.CompletedProcess[str]) -> None:
    report = ran.stdout + ran.stderr
    assert ran.returncode == 0, report[-6000:]
    assert "Authentication failed" not in report, report[-3000:]  # tested, not turned away


def test_every_api_operation_agrees_with_the_document(tmp_path):
    with Sandbox(seed=1, token_ttl=30 * 86_400, **UNLIMITED) as sandbox:
        ran = _schemathesis(sandbox, tmp_path, "--exclude-operation-id", "advanceClock")
    _assert_clean(ran)


def test_moving_the_clock_agrees_with_the_document(tmp_path):
    with Sandbox(seed=1, **UNLIMITED) as sandbox:
        ran = _schemathesis(sandbox, tmp_path, "--include-operation-id", "advanceClock")
    _assert_clean(ran)
