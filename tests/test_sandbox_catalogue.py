"""Organization, locations, services, pagination and the OpenAPI document of the sandbox."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from conftest import NOW, UNLIMITED, Api, assert_error

from zimun_analytics.sandbox import Sandbox

LOCATIONS = {
    "l_berlin": ("Europe/Berlin", "DE", "DE-BE"),
    "l_munich": ("Europe/Berlin", "DE", "DE-BY"),
    "l_london": ("Europe/London", "GB", "GB-ENG"),
    "l_newyork": ("America/New_York", "US", "US-NY"),
}
LOCATION_FIELDS = {
    "location_id",
    "name",
    "timezone",
    "country",
    "subdivision",
    "address",
    "active",
}
SERVICE_FIELDS = {
    "service_id",
    "name",
    "duration_minutes",
    "buffer_minutes",
    "location_ids",
    "active",
}
CONTRACT_OPERATIONS = {
    ("/oauth/token", "post"),
    ("/api/v1/organization", "get"),
    ("/api/v1/locations", "get"),
    ("/api/v1/services", "get"),
    ("/api/v1/availability", "get"),
    ("/api/v1/appointments/hold", "post"),
    ("/api/v1/appointments/hold/{}", "delete"),
    ("/api/v1/appointments/confirm", "post"),
    ("/api/v1/appointments/{}", "get"),
    ("/api/v1/appointments/{}", "patch"),
    ("/_sandbox/outbox", "get"),
    ("/_sandbox/clock", "get"),
    ("/_sandbox/clock", "post"),
    ("/_sandbox/traffic", "get"),
    ("/_sandbox/traffic", "delete"),
}


@pytest.fixture(scope="module")
def big() -> Iterator[Api]:
    """The demo client on a sandbox with 2000 services."""
    with Sandbox(seed=1, now=NOW, services=2000, **UNLIMITED) as sb:
        api = Api(sb, "demo")
        yield api
        api.close()


def pages(api: Api, path: str, page_size: int) -> list[dict]:
    """Every page of a list, as returned."""
    result = []
    params: dict = {"page_size": page_size}
    while True:
        response = api.http.get(path, params=params)
        assert response.status_code == 200, response.text
        result.append(response.json())
        token = result[-1]["next_page_token"]
        if not token:
            return result
        assert len(result) < 1000, "pagination does not end"
        params["page_token"] = token


# -- organization -----------------------------------------------------------------------------


def test_organization_describes_o_demo(demo):
    response = demo.http.get("/api/v1/organization")
    assert response.status_code == 200
    body = response.json()
    assert body["organization_id"] == "o_demo"
    assert body["timezone"] == "Europe/Berlin"
    assert body["country"] == "DE"
    assert isinstance(body["name"], str) and body["name"]


# -- locations --------------------------------------------------------------------------------


@pytest.mark.parametrize("location_id", sorted(LOCATIONS))
def test_location_has_its_timezone_country_and_subdivision(demo, location_id):
    locations = {item["location_id"]: item for item in demo.walk("/api/v1/locations")}
    item = locations[location_id]
    assert (item["timezone"], item["country"], item["subdivision"]) == LOCATIONS[location_id]


def test_locations_have_every_contract_field(demo):
    for item in demo.walk("/api/v1/locations"):
        assert LOCATION_FIELDS <= set(item), item
        assert item["location_id"].startswith("l_")
        assert isinstance(item["active"], bool)


def test_locations_page_of_one_walks_each_location_once(demo):
    walked = pages(demo, "/api/v1/locations", page_size=1)
    ids = [item["location_id"] for page in walked for item in page["items"]]
    assert all(len(page["items"]) <= 1 for page in walked)
    assert len(ids) == len(set(ids))
    assert set(LOCATIONS) <= set(ids)


# -- services ---------------------------------------------------------------------------------


def test_demo_has_at_least_twelve_services(demo):
    assert len(demo.services()) >= 12


def test_services_have_every_contract_field(demo):
    for item in demo.services().values():
        assert SERVICE_FIELDS <= set(item), item
        assert item["service_id"].startswith("s_")
        assert isinstance(item["duration_minutes"], int) and item["duration_minutes"] > 0
        assert isinstance(item["buffer_minutes"], int) and item["buffer_minutes"] >= 0
        assert all(location.startswith("l_") for location in item["location_ids"])


@pytest.mark.parametrize(
    ("service_id", "duration", "locations"),
    [
        ("s_eyebrow", 15, {"l_berlin"}),
        ("s_haircut", 30, {"l_berlin", "l_munich", "l_london", "l_newyork"}),
        ("s_massage_60", 60, {"l_munich", "l_newyork"}),
    ],
)
def test_service_has_its_duration_and_locations(demo, service_id, duration, locations):
    service = demo.services()[service_id]
    assert service["duration_minutes"] == duration
    assert set(service["location_ids"]) == locations


def test_color_takes_ninety_minutes(demo):
    assert demo.services()["s_color"]["duration_minutes"] == 90


def test_legacy_perm_is_inactive(demo):
    assert demo.services()["s_legacy_perm"]["active"] is False


def test_eyebrow_is_active(demo):
    assert demo.services()["s_eyebrow"]["active"] is True


# -- pagination -------------------------------------------------------------------------------


def test_services_default_page_size_is_50(big):
    response = big.http.get("/api/v1/services")
    assert len(response.json()["items"]) == 50
    assert response.json()["next_page_token"]


def test_walking_2000_services_by_100_lists_each_id_once(big):
    walked = pages(big, "/api/v1/services", page_size=100)
    ids = [item["service_id"] for page in walked for item in page["items"]]
    assert len(ids) == 2000
    assert len(set(ids)) == 2000


def test_walking_2000_services_by_100_takes_20_full_pages(big):
    walked = pages(big, "/api/v1/services", page_size=100)
    assert [len(page["items"]) for page in walked] == [100] * 20


def test_last_page_has_null_next_page_token(big):
    walked = pages(big, "/api/v1/services", page_size=100)
    assert walked[-1]["next_page_token"] is None


def test_page_size_100_is_accepted(demo):
    response = demo.http.get("/api/v1/services", params={"page_size": 100})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/services", "/api/v1/locations"])
@pytest.mark.parametrize(
    "page_size", ["0", "101", "-1", "abc", "", "1.5", "1e2", "99999999999999999999"]
)
def test_page_size_out_of_range_is_invalid_request(demo, path, page_size):
    response = demo.http.get(path, params={"page_size": page_size})
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("page_token", ["garbage", "!!!", "eyJvZmZzZXQiOiAtNX0=", "0" * 500])
def test_unknown_page_token_is_invalid_request(demo, page_token):
    response = demo.http.get("/api/v1/services", params={"page_token": page_token})
    assert_error(response, 400, "invalid_request")


# -- OpenAPI ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openapi(sandbox) -> dict:
    response = httpx.get(f"{sandbox.base_url}/openapi.json", timeout=15)
    assert response.status_code == 200
    return response.json()


def test_openapi_is_version_3(openapi):
    assert re.fullmatch(r"3\.\d+\.\d+", openapi["openapi"])


def test_openapi_describes_every_contract_operation(openapi):
    described = {
        (re.sub(r"\{[^}]*\}", "{}", path), method.lower())
        for path, operations in openapi["paths"].items()
        for method in operations
    }
    assert CONTRACT_OPERATIONS <= described, CONTRACT_OPERATIONS - described
