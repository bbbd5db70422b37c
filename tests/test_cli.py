"""The command line: every command has help with an example, is in the README, and works."""

import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from zimun_analytics import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
COMMANDS = ["sandbox", "demo"]


def _subcommands():
    parser = cli.build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


def test_every_command_is_known_to_the_parser():
    assert sorted(_subcommands()) == sorted(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_help_has_an_example(name):
    help_text = _subcommands()[name].format_help()
    assert f"Example: zimun-analytics {name}" in help_text


@pytest.mark.parametrize("name", COMMANDS)
def test_command_is_documented_in_readme(name):
    assert re.search(rf"zimun-analytics {name}\b", README)


def test_demo_walks_the_whole_flow(capsys):
    assert cli.main(["demo", "--now", "2026-03-23T08:00:00Z"]) == 0
    out = capsys.readouterr().out
    for step in ["token", "services", "availability", "hold", "confirm", "reschedule", "cancel"]:
        assert re.search(rf"^\d \s*{step}\b", out, re.M) or f" {step} " in out, step
    assert "3 emails: confirmed, rescheduled, cancelled" in out
    assert "demo-secret" not in out and "zt_" not in out  # no secret, no token


def test_bad_sandbox_setting_is_a_usage_error(capsys):
    assert cli.main(["demo", "--fault-rate", "2"]) == 2
    assert "fault_rate must be between 0 and 1" in capsys.readouterr().err


def test_python_dash_m_shows_version():
    result = subprocess.run(
        [sys.executable, "-m", "zimun_analytics", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("zimun-analytics ")


def test_sandbox_command_serves_until_stopped():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "zimun_analytics", "sandbox", "--port", str(port)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            banner = process.stdout.readline()  # printed after the port is bound and listening
            assert f"http://127.0.0.1:{port}" in banner
            clock = httpx.get(f"http://127.0.0.1:{port}/_sandbox/clock", timeout=30).json()
            assert clock["frozen"] is False
        finally:
            process.terminate()
    assert process.returncode is not None
