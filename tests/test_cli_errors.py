"""A CLI a scheduler can trust: every bad input, OS or network error is one line and a code.

Bad input runs ``cli.main`` in-process (an escaping exception fails the test); disk, port and
service failures run ``python -m zimun_analytics`` in a subprocess, as cron would. Each checks
the exit code, that stderr is one ``error:`` line (never a traceback), and what is left on disk.
Documented codes: 0 done, 1 a failure that may pass (service, network, disk), 2 a usage or
configuration error.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from zimun_analytics.cli import _main as cli

RUN_TIMEOUT_S = 120  # a bound on a hang, not a timing


def _run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **(env or {})}
    for name in ("ZIMUN_CLIENT_ID", "ZIMUN_CLIENT_SECRET", "ZIMUN_BASE_URL"):
        if env is None or name not in env:
            environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "zimun_analytics", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    assert "error: " in lines[0], lines[0]
    return lines[0]


SNAPSHOT = ["snapshot", "--sandbox", "--days-ahead", "2", "--services", "s_beard", "--quiet"]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["sandbox", "--port", "99999"], 2, "is not a port"),
        (["sandbox", "--port", "http"], 2, "is not a port number"),
        (["sandbox", "--host", "no-such-host.invalid", "--port", "0"], 2, "cannot resolve"),
        (["sandbox", "--host", "192.0.2.1", "--port", "0"], 2, "not an address of this machine"),
        (["sandbox", "--rate-limit", "nan"], 2, "rate_limit must be > 0 and finite"),
        (["sandbox", "--latency-ms", "inf"], 2, "latency_ms and latency_jitter_ms must be"),
        (["demo", "--now", "9999-12-31T23:59:59Z"], 2, "in the years 1971-9000"),
        (["demo", "--now", "0001-01-01T00:00:00Z"], 2, "in the years 1971-9000"),
        (["demo", "--now", "yesterday"], 2, "now:"),
        (["demo", "--fault-rate", "2"], 2, "fault_rate must be between 0 and 1"),
        ([*SNAPSHOT, "--rate-limit", "nan"], 2, "finite"),
        ([*SNAPSHOT, "--days-ahead", "x"], 2, "invalid int value"),
        ([*SNAPSHOT, "--days-ahead", "0"], 2, "days_ahead must be between 1 and"),
        ([*SNAPSHOT, "--start-date", "2020-01-01"], 2, "is in the past"),
        ([*SNAPSHOT, "--start-date", "2026-02-30"], 2, "invalid fromisoformat value"),
        (["snapshot", "--sandbox", "--services", "s_legacy_perm"], 2, "inactive services"),
        (["snapshot", "--sandbox", "--services", "s_nope"], 2, "unknown service ids"),
        (["snapshot", "--sandbox", "--locations", "l_mars"], 2, "no chosen service is offered"),
        (["snapshot", "--latency-ms", "5", "--out", "x"], 2, "--latency-ms: only with --sandbox"),
        (["snapshot", "--fault-rate", "0.1", "--seed", "3"], 2, "--seed, --fault-rate: only with"),
        (["snapshot", "--out", "x"], 2, "missing credentials"),
        ([*SNAPSHOT, "--out", "nosuch://bucket/x"], 2, "Protocol not known"),
    ],
)
def test_bad_input_is_one_line_and_a_usage_code(tmp_path, monkeypatch, capsys, args, code, says):
    monkeypatch.chdir(tmp_path)
    for name in ("ZIMUN_CLIENT_ID", "ZIMUN_CLIENT_SECRET", "ZIMUN_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    try:
        returned = cli.main(args)
    except SystemExit as exit_:  # argparse's own errors
        returned = exit_.code
    result = subprocess.CompletedProcess(args, returned, "", capsys.readouterr().err)
    assert result.returncode == code, result.stderr
    assert says in _one_error_line(result)
    assert not any(tmp_path.iterdir())  # nothing was created for a run that could not start


def test_out_naming_a_file_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = _run(*SNAPSHOT, "--out", "notes.txt", cwd=tmp_path)
    assert result.returncode == 2
    assert "is a file; give a folder" in _one_error_line(result)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_out_that_cannot_be_created_fails_in_one_line(tmp_path):
    result = _run(*SNAPSHOT, "--out", "/proc/zimun-store", cwd=tmp_path)
    assert result.returncode == 1
    assert "/proc/zimun-store" in _one_error_line(result)


def test_port_in_use_is_one_line_and_exit_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run("sandbox", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is in use" in _one_error_line(result)


def test_json_reports_a_failure_as_json_too(tmp_path):
    result = _run("snapshot", "--sandbox", "--services", "s_nope", "--json", cwd=tmp_path)
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["exit_code"] == 2
    assert report["error_class"] == "InputError" and "s_nope" in report["error"]
    _one_error_line(result)


def test_unwritable_report_dir_is_refused_before_fetching(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "file").write_text("")
    result = _run(*SNAPSHOT, "--out", "store", "--report-dir", "locked/file", cwd=tmp_path)
    assert result.returncode == 2
    assert "is a file" in _one_error_line(result)
    assert not (tmp_path / "store").exists()


def test_reports_that_fail_after_the_save_say_the_snapshot_is_safe(tmp_path):
    # /proc refuses new folders even to root: the check before the fetch cannot see that
    result = _run(*SNAPSHOT, "--out", "store", "--report-dir", "/proc/zimun-reports", cwd=tmp_path)
    assert result.returncode == 1
    line = _one_error_line(result)
    assert "was saved to store, but its reports could not be written" in line
    snapshot_id = line.split("snapshot ")[1].split(" ")[0]
    assert (tmp_path / "store" / "manifests" / f"{snapshot_id}.json").exists()


def _tmpfs(path: Path, *options: str) -> None:
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")


@pytest.fixture
def full_disk(tmp_path):
    """A 12 KiB file system: the snapshot's files do not fit."""
    path = tmp_path / "full"
    _tmpfs(path, "size=12k")
    yield path
    subprocess.run(["umount", str(path)], check=False)


@pytest.fixture
def read_only_disk(tmp_path):
    path = tmp_path / "ro"
    _tmpfs(path, "ro", "size=64k")
    yield path
    subprocess.run(["umount", str(path)], check=False)


def test_a_full_disk_fails_in_one_line_and_leaves_nothing(full_disk, tmp_path):
    result = _run(*SNAPSHOT, "--out", str(full_disk / "store"), cwd=tmp_path)
    assert result.returncode == 1
    assert "no space left on device" in _one_error_line(result)
    assert not (full_disk / "store").exists()  # the run's own folder is gone again


def test_a_read_only_disk_fails_in_one_line(read_only_disk, tmp_path):
    result = _run(*SNAPSHOT, "--out", str(read_only_disk / "store"), cwd=tmp_path)
    assert result.returncode == 1
    assert "read-only file system" in _one_error_line(result)


def test_a_failed_run_leaves_no_out_folder(tmp_path):
    # the service fails on every call: nothing to save, and no empty folder left behind
    result = _run("snapshot", "--sandbox", "--fault-rate", "1", "--out", "store", cwd=tmp_path)
    assert result.returncode == 1
    _one_error_line(result)
    assert not (tmp_path / "store").exists()
