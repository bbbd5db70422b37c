"""Retry rules as tables."""

import pytest

from zimun_analytics._config import INITIAL_RETRY_DELAY_S, MAX_RETRY_AFTER_S, MAX_RETRY_DELAY_S
from zimun_analytics.client._retries import (
    is_retryable_status,
    parse_retry_after,
    retry_delay,
)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (408, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (599, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, False),
        (410, False),
        (422, False),
    ],
)
def test_is_retryable_status(status, expected):
    assert is_retryable_status(status) is expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"Retry-After": "0"}, 0.0),
        ({}, None),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "-1"}, None),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date long past
        ({"Retry-After": "Wed, 32 Oct 2015 07:28:00 GMT"}, None),
        ({"Retry-After": "nan"}, None),
    ],
)
def test_parse_retry_after(headers, expected):
    assert parse_retry_after(headers) == expected


@pytest.mark.parametrize(
    ("retries_taken", "expected"),
    [
        (0, INITIAL_RETRY_DELAY_S),
        (1, 2 * INITIAL_RETRY_DELAY_S),
        (2, 4 * INITIAL_RETRY_DELAY_S),
        (30, MAX_RETRY_DELAY_S),
    ],
)
def test_retry_delay_backs_off_exponentially_up_to_a_cap(retries_taken, expected):
    assert retry_delay(retries_taken, {}, jitter=0.0) == expected


@pytest.mark.parametrize("jitter", [-1.0, 1.0])
def test_retry_delay_jitter_stays_within_a_quarter(jitter):
    delay = retry_delay(1, {}, jitter=jitter)
    assert 0.75 * 2 * INITIAL_RETRY_DELAY_S <= delay <= 1.25 * 2 * INITIAL_RETRY_DELAY_S
    assert delay != 2 * INITIAL_RETRY_DELAY_S


def test_retry_delay_honours_retry_after():
    assert retry_delay(0, {"Retry-After": "2"}, jitter=1.0) == 2.0


def test_retry_delay_ignores_an_absurd_retry_after():
    delay = retry_delay(0, {"Retry-After": str(MAX_RETRY_AFTER_S * 10)}, jitter=0.0)
    assert delay == INITIAL_RETRY_DELAY_S


def test_parse_retry_after_reads_an_http_date_from_now():
    # 2015-10-21T07:28:00Z is 1445412480 in Unix time
    headers = {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    assert parse_retry_after(headers, wall_now=1445412478.5) == pytest.approx(1.5)
