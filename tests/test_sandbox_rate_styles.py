"""The sandbox's rate-limit styles (bucket, window, ietf, none), Reset and Retry-After forms.

Over loopback HTTP with plain httpx. Windows are fixed and aligned to the Unix epoch, so a
test computes them from ``time.time()``: the tests on counting use a 30 s window with a small
quota and, when the current window is nearly over, first wait for the computed start of the
next one; each then checks it stayed inside one window.
"""

from __future__ import annotations

import math
import re
import socket
import subprocess
import sys
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest
from conftest import TIMEOUT_S, assert_error

from zimun_analytics.cli import _main as cli
from zimun_analytics.sandbox import Sandbox, SandboxSettings, ratelimit

X_RATELIMIT = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
IETF = ("RateLimit-Policy", "RateLimit")
EVERY_RATE_HEADER = (*X_RATELIMIT, *IETF)
WINDOW_S = 30.0
QUOTA = 3
WINDOWED = {"rate_window": WINDOW_S, "rate_limit": QUOTA / WINDOW_S}  # 3 requests per 30 s
ROOM_S = 5.0  # a test on one window needs this long of it at most
RATE_LIMIT = re.compile(r'^"default";r=(\d+);t=(\d+)$')
ORGANIZATION = "/api/v1/organization"


def window_index(moment: float, window_s: float = WINDOW_S) -> int:
    return math.floor(moment / window_s)


def window_end(moment: float, window_s: float = WINDOW_S) -> float:
    return (window_index(moment, window_s) + 1) * window_s


def wait_until(moment: float) -> None:
    """Wait on the clock until ``moment`` (Unix time) has passed."""
    while (left := moment - time.time()) > 0:
        time.sleep(left)


def room_in_window(window_s: float = WINDOW_S, room_s: float = ROOM_S) -> int:
    """The index of a window with ``room_s`` left, waiting for the next one if need be."""
    if window_end(time.time(), window_s) - time.time() < room_s:
        wait_until(window_end(time.time(), window_s))
    return window_index(time.time(), window_s)


def token(sb: Sandbox, client: str = "demo") -> httpx.Response:
    return httpx.post(
        f"{sb.base_url}/oauth/token",
        auth=(client, sb.clients[client]),
        data={"grant_type": "client_credentials"},
        timeout=TIMEOUT_S,
    )


def rate_headers(response: httpx.Response) -> dict[str, str]:
    return {name: response.headers[name] for name in EVERY_RATE_HEADER if name in response.headers}


def timed(send: Any) -> tuple[float, httpx.Response, float]:
    """(Unix time before, the response, Unix time after)."""
    before = time.time()
    response = send()
    return before, response, time.time()


# -- bucket (the default) -----------------------------------------------------------------------


def test_bucket_is_the_default_style_with_todays_headers(make_sandbox, make_api):
    api = make_api(make_sandbox())
    response = api.http.get(ORGANIZATION)
    # 100 tokens less one; the one comes back in 1/50 s, which rounds up to 1
    assert rate_headers(response) == {
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "99",
        "X-RateLimit-Reset": "1",
    }


def test_bucket_epoch_reset_is_now_plus_the_seconds_until_full(make_sandbox, make_api):
    api = make_api(make_sandbox(rate_limit=0.001, rate_burst=10, rate_reset="epoch"))
    before, response, after = timed(lambda: api.http.get(ORGANIZATION))
    # one token at 0.001 per second is 1000 s away
    reset = int(response.headers["X-RateLimit-Reset"])
    assert math.ceil(before + 1000) <= reset <= math.ceil(after + 1000)


def test_bucket_429_retry_after_date_is_the_wait_from_now(make_sandbox, make_api):
    api = make_api(make_sandbox(rate_limit=0.5, rate_burst=1, retry_after="date"))
    assert api.http.get(ORGANIZATION).status_code == 200
    before, refused, after = timed(lambda: api.http.get(ORGANIZATION))
    assert_error(refused, 429, "rate_limited")
    # the token comes back within 2 s (at 0.5 per second): whole seconds, rounded up
    ends = parsedate_to_datetime(refused.headers["Retry-After"]).timestamp()
    assert before + 1 <= ends <= after + 3


# -- window ---------------------------------------------------------------------------------------


def test_window_style_sends_x_ratelimit_with_the_window_quota(make_sandbox, make_api):
    api = make_api(make_sandbox(rate_limit_style="window", **WINDOWED))
    room_in_window()
    response = api.http.get(ORGANIZATION)
    headers = rate_headers(response)
    assert set(headers) == set(X_RATELIMIT)
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]) == ("3", "2")


def test_window_quota_is_the_rate_times_the_window_and_at_least_one():
    assert ratelimit.window_quota(50.0, 1.0) == 50
    assert ratelimit.window_quota(0.1, 30.0) == 3
    assert ratelimit.window_quota(0.001, 1.0) == 1


@pytest.mark.parametrize("style", ["window", "ietf"])
def test_window_allows_exactly_its_quota_then_429s(make_sandbox, make_api, style):
    api = make_api(make_sandbox(rate_limit_style=style, **WINDOWED))
    window = room_in_window()
    statuses = [api.http.get(ORGANIZATION).status_code for _ in range(QUOTA + 2)]
    assert window_index(time.time()) == window, "the test straddled a window boundary"
    assert statuses == [200] * QUOTA + [429, 429]


def test_window_429s_until_its_end_then_allows_again(make_sandbox, make_api):
    window_s = 2.0  # short, as this test waits for a window's end
    sb = make_sandbox(rate_limit_style="window", rate_window=window_s, rate_limit=QUOTA / window_s)
    api = make_api(sb)
    wait_until(window_end(time.time(), window_s))  # start at the start of a window
    window = window_index(time.time(), window_s)
    statuses = [api.http.get(ORGANIZATION).status_code for _ in range(QUOTA + 1)]
    assert window_index(time.time(), window_s) == window, "the test straddled a window boundary"
    assert statuses == [200] * QUOTA + [429]
    wait_until(window_end(time.time(), window_s))
    response = api.http.get(ORGANIZATION)
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == str(QUOTA - 1)


def test_window_epoch_reset_is_the_window_end(make_sandbox, make_api):
    api = make_api(make_sandbox(rate_limit_style="window", rate_reset="epoch", **WINDOWED))
    room_in_window()
    before, response, _ = timed(lambda: api.http.get(ORGANIZATION))
    assert response.headers["X-RateLimit-Reset"] == str(int(window_end(before)))


def test_window_epoch_reset_rounds_a_fractional_end_up(make_sandbox, make_api):
    window_s = 2.5  # every other window ends on a half second
    sb = make_sandbox(rate_limit_style="window", rate_reset="epoch", rate_window=window_s)
    api = make_api(sb)
    before, response, after = timed(lambda: api.http.get(ORGANIZATION))
    indexes = range(window_index(before, window_s), window_index(after, window_s) + 1)
    assert int(response.headers["X-RateLimit-Reset"]) in {
        math.ceil((index + 1) * window_s) for index in indexes
    }


def test_window_seconds_reset_is_the_time_to_the_window_end_rounded_up(make_sandbox, make_api):
    api = make_api(make_sandbox(rate_limit_style="window", **WINDOWED))
    room_in_window()
    before, response, after = timed(lambda: api.http.get(ORGANIZATION))
    end = window_end(before)
    reset = response.headers["X-RateLimit-Reset"]
    assert reset.isdigit()
    assert math.ceil(end - after) <= int(reset) <= math.ceil(end - before)


def test_window_retry_after_is_the_seconds_to_the_window_end(make_sandbox, make_api):
    api = make_api(make_sandbox(rate_limit_style="window", **WINDOWED))
    room_in_window()
    for _ in range(QUOTA):
        api.http.get(ORGANIZATION)
    before, refused, after = timed(lambda: api.http.get(ORGANIZATION))
    assert_error(refused, 429, "rate_limited")
    end = window_end(before)
    assert max(1, math.ceil(end - after)) <= int(refused.headers["Retry-After"])
    assert int(refused.headers["Retry-After"]) <= math.ceil(end - before)
    assert refused.headers["X-RateLimit-Remaining"] == "0"


def test_window_retry_after_date_lies_1_to_w_plus_1_s_ahead(make_sandbox, make_api):
    api = make_api(make_sandbox(rate_limit_style="window", retry_after="date", **WINDOWED))
    room_in_window()
    for _ in range(QUOTA):
        api.http.get(ORGANIZATION)
    before, refused, after = timed(lambda: api.http.get(ORGANIZATION))
    assert_error(refused, 429, "rate_limited")
    value = refused.headers["Retry-After"]
    assert value.endswith(" GMT"), value
    ends = parsedate_to_datetime(value).timestamp()
    assert before + 1 <= ends <= after + WINDOW_S + 1
    assert ends >= window_end(before)  # never before the window is over


# -- ietf -----------------------------------------------------------------------------------------


def test_ietf_style_sends_ratelimit_policy_and_ratelimit_only(make_sandbox, make_api):
    api = make_api(make_sandbox(rate_limit_style="ietf", **WINDOWED))
    room_in_window()
    before, response, after = timed(lambda: api.http.get(ORGANIZATION))
    headers = rate_headers(response)
    assert set(headers) == set(IETF)
    assert headers["RateLimit-Policy"] == '"default";q=3;w=30'
    match = RATE_LIMIT.match(headers["RateLimit"])
    assert match, headers["RateLimit"]
    remaining, reset = map(int, match.groups())
    end = window_end(before)
    assert remaining == QUOTA - 1
    assert math.ceil(end - after) <= reset <= math.ceil(end - before)


def test_ietf_window_is_a_whole_second_at_least(make_sandbox, make_api):
    api = make_api(make_sandbox(rate_limit_style="ietf", rate_window=0.25, rate_limit=100.0))
    response = api.http.get(ORGANIZATION)
    assert response.headers["RateLimit-Policy"] == '"default";q=25;w=1'


def test_ietf_429_tells_nothing_remains(make_sandbox, make_api):
    api = make_api(make_sandbox(rate_limit_style="ietf", **WINDOWED))
    room_in_window()
    for _ in range(QUOTA):
        api.http.get(ORGANIZATION)
    refused = api.http.get(ORGANIZATION)
    assert_error(refused, 429, "rate_limited")
    match = RATE_LIMIT.match(refused.headers["RateLimit"])
    assert match and match.group(1) == "0"
    assert not set(X_RATELIMIT) & set(rate_headers(refused))
    assert int(refused.headers["Retry-After"]) >= 1


# -- none -----------------------------------------------------------------------------------------


def test_none_style_tells_nothing_but_a_429s_retry_after(make_sandbox, make_api):
    api = make_api(make_sandbox(rate_limit_style="none", rate_limit=0.01, rate_burst=2))
    responses = [api.http.get(ORGANIZATION) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]  # the bucket, enforced
    assert [rate_headers(r) for r in responses] == [{}, {}, {}]
    assert int(responses[2].headers["Retry-After"]) >= 1


def test_none_style_retry_after_date(make_sandbox, make_api):
    sb = make_sandbox(rate_limit_style="none", rate_limit=0.5, rate_burst=1, retry_after="date")
    api = make_api(sb)
    api.http.get(ORGANIZATION)
    before, refused, after = timed(lambda: api.http.get(ORGANIZATION))
    assert refused.status_code == 429 and rate_headers(refused) == {}
    ends = parsedate_to_datetime(refused.headers["Retry-After"]).timestamp()
    assert before + 1 <= ends <= after + 3


# -- the token endpoint ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("bucket", {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "9"}),
        ("window", {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "9"}),  # still a bucket
        ("ietf", {"RateLimit-Policy": '"default";q=10;w=60'}),
        ("none", {}),
    ],
)
def test_token_endpoint_tells_its_bucket_in_the_api_style(make_sandbox, style, expected):
    response = token(make_sandbox(rate_limit_style=style, **WINDOWED))
    assert response.status_code == 200
    headers = rate_headers(response)
    assert {name: headers[name] for name in expected} == expected
    told = {"bucket": X_RATELIMIT, "window": X_RATELIMIT, "ietf": IETF, "none": ()}[style]
    assert set(headers) == set(told)


def test_token_endpoint_bucket_reset_in_the_ietf_style(make_sandbox):
    response = token(make_sandbox(rate_limit_style="ietf"))
    # one token of ten a minute is 6 s away
    assert response.headers["RateLimit"] == '"default";r=9;t=6'


def test_token_endpoint_429_retry_after_date(make_sandbox):
    sb = make_sandbox(token_rate_limit=1, retry_after="date")
    assert token(sb).status_code == 200
    before, refused, after = timed(lambda: token(sb))
    assert_error(refused, 429, "rate_limited")
    # one token a minute: the next is 60 s away
    ends = parsedate_to_datetime(refused.headers["Retry-After"]).timestamp()
    assert before + 59 <= ends <= after + 61


# -- settings, the CLI and the OpenAPI document ---------------------------------------------------


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"rate_limit_style": "foo"}, "rate_limit_style must be one of bucket, window, ietf, none"),
        ({"rate_reset": "iso"}, "rate_reset must be one of seconds, epoch, got 'iso'"),
        ({"retry_after": "http"}, "retry_after must be one of seconds, date"),
        ({"rate_window": float("nan")}, "rate_window must be > 0 and at most 3600 seconds"),
        ({"rate_window": float("inf")}, "rate_window must be > 0"),
        ({"rate_window": 0.0}, "rate_window must be > 0"),
        ({"rate_window": -1.0}, "rate_window must be > 0"),
        ({"rate_window": 3600.5}, "at most 3600 seconds"),
    ],
)
def test_settings_refuse_bad_rate_values(options, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        SandboxSettings(**options)


def test_settings_take_the_longest_window():
    assert SandboxSettings(rate_limit_style="window", rate_window=3600).rate_window == 3600


def test_cli_choices_are_the_sandboxs():
    assert cli.RATE_LIMIT_STYLES == ratelimit.RATE_LIMIT_STYLES
    assert cli.RATE_RESET_FORMS == ratelimit.RATE_RESET_FORMS
    assert cli.RETRY_AFTER_FORMS == ratelimit.RETRY_AFTER_FORMS


RATE_FLAGS = [
    "--rate-limit-style",
    "window",
    "--rate-window",
    "2.5",
    "--rate-reset",
    "epoch",
    "--retry-after",
    "date",
]
RATE_KEYWORDS = {
    "rate_limit_style": "window",
    "rate_window": 2.5,
    "rate_reset": "epoch",
    "retry_after": "date",
}


@pytest.mark.parametrize("command", [["sandbox"], ["demo"], ["snapshot", "--sandbox"]])
def test_rate_flags_become_sandbox_keywords(command):
    args = cli.build_parser().parse_args([*command, *RATE_FLAGS])
    assert cli._sandbox_options(args) == RATE_KEYWORDS


def _cli_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the CLI in-process; (exit code, its one stderr line)."""
    try:
        code = cli.main(args)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error: " in lines[0], err
    return code, lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["sandbox", "--rate-window", "nan"], "rate_window must be > 0 and at most 3600"),
        (["sandbox", "--rate-window", "0"], "rate_window must be > 0"),
        (["sandbox", "--rate-window", "soon"], "invalid float value"),
        (["sandbox", "--rate-limit-style", "foo"], "invalid choice: 'foo'"),
        (["demo", "--rate-reset", "iso"], "invalid choice: 'iso'"),
        (["snapshot", "--sandbox", "--rate-window", "inf"], "rate_window must be > 0"),
        (["snapshot", "--sandbox", "--retry-after", "http"], "invalid choice: 'http'"),
    ],
)
def test_cli_refuses_bad_rate_values_in_one_line(tmp_path, monkeypatch, capsys, args, says):
    monkeypatch.chdir(tmp_path)
    code, line = _cli_error(args, capsys)
    assert code == 2
    assert says in line


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--rate-limit-style", "ietf"], "--rate-limit-style"),
        (["--rate-window", "5"], "--rate-window"),
        (["--rate-reset", "epoch"], "--rate-reset"),
        (["--retry-after", "date"], "--retry-after"),
        (
            ["--rate-limit-style", "window", "--rate-window", "5"],
            "--rate-limit-style, --rate-window",
        ),
    ],
)
def test_snapshot_refuses_rate_flags_without_sandbox(tmp_path, monkeypatch, capsys, flags, named):
    monkeypatch.chdir(tmp_path)
    code, line = _cli_error(["snapshot", *flags, "--out", "x"], capsys)
    assert code == 2
    assert f"{named}: only with --sandbox" in line
    assert not any(tmp_path.iterdir())


def test_sandbox_command_serves_the_chosen_style():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    flags = ["--rate-limit-style", "ietf", "--rate-window", "30", "--rate-limit", "2"]
    command = [sys.executable, "-m", "zimun_analytics", "sandbox", "--port", str(port), *flags]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            process.stdout.readline()  # the banner: printed once the port listens
            base_url = f"http://127.0.0.1:{port}"
            granted = httpx.post(
                f"{base_url}/oauth/token",
                auth=("demo", "demo-secret"),
                data={"grant_type": "client_credentials"},
                timeout=TIMEOUT_S,
            )
            bearer = {"Authorization": f"Bearer {granted.json()['access_token']}"}
            response = httpx.get(f"{base_url}{ORGANIZATION}", headers=bearer, timeout=TIMEOUT_S)
        finally:
            process.terminate()
    assert response.headers["RateLimit-Policy"] == '"default";q=60;w=30'
    assert "X-RateLimit-Limit" not in response.headers


@pytest.mark.parametrize("style", ratelimit.RATE_LIMIT_STYLES)
def test_openapi_describes_the_rate_headers_each_style_sends(make_sandbox, make_api, style):
    sb = make_sandbox(rate_limit_style=style, rate_limit=0.01, rate_burst=1, rate_window=100.0)
    api = make_api(sb)
    room_in_window(100.0)
    responses = {str(r.status_code): r for r in (api.http.get(ORGANIZATION) for _ in range(2))}
    document = httpx.get(f"{sb.base_url}/openapi.json", timeout=TIMEOUT_S).json()
    described = document["paths"][ORGANIZATION]["get"]["responses"]
    assert set(responses) == {"200", "429"}
    for status, response in responses.items():
        entry = described[status]
        if "$ref" in entry:
            entry = document["components"]["responses"][entry["$ref"].rsplit("/", 1)[1]]
        sent = set(rate_headers(response)) | ({"Retry-After"} if status == "429" else set())
        assert sent <= set(entry["headers"]), (status, sent - set(entry["headers"]))
