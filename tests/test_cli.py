"""The command line: every command has help with an example, is in the README, and works."""

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from zimun_analytics import SnapshotStore
from zimun_analytics.cli import _main as cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
COMMANDS = ["snapshot", "sandbox", "demo", "migrate", "verify", "compact", "prune"]


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


def test_snapshot_on_the_sandbox_saves_and_summarises(tmp_path, capsys):
    out = tmp_path / "store"
    code = cli.main(
        [
            "snapshot",
            "--sandbox",
            "--now",
            "2026-03-23T08:00:00Z",
            "--days-ahead",
            "3",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    listing = SnapshotStore(str(out)).list()
    assert len(listing) == 1 and listing.complete.all()
    assert f"snapshot {listing.snapshot_id[0]} saved to {out}" in printed
    assert "s_eyebrow" in printed and "(Europe/Berlin)" in printed


def test_snapshot_json_summary(tmp_path, capsys):
    args = [
        "snapshot",
        "--sandbox",
        "--now",
        "2026-03-23T08:00:00Z",
        "--days-ahead",
        "2",
        "--services",
        "s_haircut,s_beard",
        "--locations",
        "l_london",
        "--json",
        "--out",
        str(tmp_path),
    ]
    assert cli.main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["services"] == 2 and summary["locations"] == 1 and summary["failed"] == 0
    assert {row["service_id"] for row in summary["next_available"]} == {"s_haircut", "s_beard"}


def test_snapshot_removes_files_of_an_interrupted_run(tmp_path, capsys):
    killed = tmp_path / "slots" / "snapshot_id=killed-run" / "part-0.parquet"
    killed.parent.mkdir(parents=True)
    killed.write_bytes(b"PAR1 torn")  # what a run killed before its manifest leaves
    args = ["snapshot", "--sandbox", "--now", "2026-03-23T08:00:00Z", "--days-ahead", "1"]
    assert cli.main([*args, "--services", "s_beard", "--out", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["cleaned_files"] == ["slots/snapshot_id=killed-run/part-0.parquet"]
    assert not killed.parent.exists()
    assert SnapshotStore(str(tmp_path)).list()["snapshot_id"].tolist() == [summary["snapshot_id"]]


def test_make_demo_arguments_run_twice_into_the_same_folder(tmp_path, monkeypatch, capsys):
    """`make demo` is run again and again: its second run must find its own store fine."""
    makefile = (Path(__file__).parent.parent / "Makefile").read_text()
    recipe = makefile.split("\ndemo:")[1].splitlines()[1]
    args = recipe.split("-m zimun_analytics", 1)[1].split()
    assert args[0] == "snapshot" and "--sandbox" in args
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / ".gitkeep").touch()
    fast = ["--days-ahead", "2", "--services", "s_beard", "--now", "2026-03-23T08:00:00Z"]
    assert cli.main([*args, *fast]) == 0
    assert cli.main([*args, *fast, "--now", "2026-03-23T09:00:00Z"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("saved to data/") == 2 and printed.count("report: data/reports/") >= 4
    assert len(SnapshotStore("data/").list()) == 2


def test_snapshot_without_credentials_says_how_to_set_them(tmp_path, capsys):
    assert cli.main(["snapshot", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "ZIMUN_CLIENT_ID" in err and "--sandbox" in err and "Traceback" not in err


def test_snapshot_with_unknown_service_is_a_usage_error(tmp_path, capsys):
    args = ["snapshot", "--sandbox", "--services", "s_nope", "--out", str(tmp_path), "--quiet"]
    assert cli.main(args) == 2
    assert "unknown service ids: s_nope" in capsys.readouterr().err
    assert SnapshotStore(str(tmp_path)).list().empty


def test_snapshot_refuses_to_overlap_another_run(tmp_path, capsys):
    store = SnapshotStore(str(tmp_path))
    with store.lock():
        code = subprocess.run(
            [
                sys.executable,
                "-m",
                "zimun_analytics",
                "snapshot",
                "--sandbox",
                "--quiet",
                "--out",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
        )
    assert code.returncode == 1
    assert "another export is running" in code.stderr
    assert store.list().empty


def test_snapshot_when_the_service_fails_exits_1(tmp_path, capsys):
    args = ["snapshot", "--sandbox", "--fault-rate", "1", "--quiet", "--out", str(tmp_path)]
    assert cli.main(args) == 1
    assert capsys.readouterr().err.startswith("error: ")


def test_reports_of_a_snapshot_without_slots_write_nothing(tmp_path):
    from zimun_analytics._schema import DAYS, ERRORS, SLOTS, AvailabilitySnapshot, empty_frame
    from zimun_analytics.plots import write_heatmap_reports

    folder = tmp_path / "reports"
    empty = AvailabilitySnapshot(empty_frame(SLOTS), empty_frame(DAYS), empty_frame(ERRORS))
    assert write_heatmap_reports(empty, folder, "x-") == []
    assert not folder.exists()


def test_readme_documents_every_snapshot_column():
    from zimun_analytics._schema import TABLES

    for table in TABLES.values():
        for column in table.names:
            assert f"| `{column}` |" in README, f"{table.name}.{column} missing from README"


def test_readme_quick_start_has_exactly_the_two_commands():
    quick_start = README.split("## Quick start")[1].split("##")[0]
    block = quick_start.split("```sh")[1].split("```")[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make demo", "make test"]


def test_snapshot_report_dir_writes_heatmaps(tmp_path, capsys):
    reports = tmp_path / "reports"
    args = [
        "snapshot",
        "--sandbox",
        "--now",
        "2026-03-23T08:00:00Z",
        "--days-ahead",
        "7",
        "--out",
        str(tmp_path / "store"),
        "--report-dir",
        str(reports),
    ]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    written = sorted(reports.glob("*.png"))
    names = {path.name.split("-", 2)[-1] for path in written}
    assert names == {
        "weekday_hour.png",
        "calendar_l_berlin.png",
        "calendar_l_london.png",
        "calendar_l_munich.png",
        "calendar_l_newyork.png",
    }
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"report: {path}" in printed


# -- a service that never answers ------------------------------------------------------------

CLI_DEADLINE_S = 3
STARTUP_S = 12  # a fresh interpreter importing pandas and pyarrow on a loaded 2-core machine


def _never_answering_env(server) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "ZIMUN_CLIENT_ID": "id",
        "ZIMUN_CLIENT_SECRET": "secret",
        "ZIMUN_BASE_URL": server.base_url,
    }


@pytest.mark.slow
def test_snapshot_against_a_silent_token_endpoint_exits_1_in_time_and_frees_the_lock(
    tmp_path, misbehaving, capsys
):
    server = misbehaving({"/oauth/token": "never"})
    out = tmp_path / "store"
    command = [sys.executable, "-m", "zimun_analytics", "snapshot", "--out", str(out)]
    started = time.monotonic()
    result = subprocess.run(
        [*command, "--deadline", str(CLI_DEADLINE_S)],
        capture_output=True,
        text=True,
        env=_never_answering_env(server),
        timeout=120,
    )
    took = time.monotonic() - started
    assert result.returncode == 1
    assert took < CLI_DEADLINE_S + STARTUP_S
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr
    assert f"fetch's {CLI_DEADLINE_S} s deadline passed" in lines[0]
    assert "POST /oauth/token" in server.seen
    assert not (out / ".lock").exists()
    # and the next run takes the store's lock as usual
    fast = ["--now", "2026-03-23T08:00:00Z", "--days-ahead", "1", "--services", "s_beard"]
    assert cli.main(["snapshot", "--sandbox", *fast, "--quiet", "--out", str(out)]) == 0


def test_snapshot_with_a_stalled_catalogue_ends_at_its_deadline(
    tmp_path, misbehaving, monkeypatch, capsys
):
    server = misbehaving({"/oauth/token": "token", "/api/v1/organization": "never"})
    for name, value in _never_answering_env(server).items():
        if name.startswith("ZIMUN_"):
            monkeypatch.setenv(name, value)
    started = time.monotonic()
    code = cli.main(["snapshot", "--deadline", "2", "--quiet", "--out", str(tmp_path)])
    assert time.monotonic() - started < 2 + 1.5
    assert code == 1
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("value", ["0", "-3", "soon", "inf", "nan"])
def test_snapshot_deadline_must_be_a_positive_number(value, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["snapshot", "--sandbox", "--deadline", value])
    assert exited.value.code == 2
    assert "positive number of seconds" in capsys.readouterr().err
