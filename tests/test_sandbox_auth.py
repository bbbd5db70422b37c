"""Token endpoint, bearer checks, scopes and organization isolation of the sandbox."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from conftest import ALL_SCOPES, Api, assert_error, assert_oauth_error

TOKEN = "/oauth/token"
INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"'


def token_request(sb: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{sb.base_url}{TOKEN}", timeout=15, **kwargs)


@pytest.fixture(scope="module")
def demo_booking(demo: Api) -> dict[str, Any]:
    """One hold and one appointment of o_demo, for the isolation tests."""
    first = demo.find_slot()
    second = demo.find_slot(exclude=(first["start"],))
    appointment = demo.book("s_eyebrow", first["start"])
    hold = demo.held("s_eyebrow", second["start"])
    return {"appointment_id": appointment["appointment_id"], "hold_id": hold["hold_id"]}


# -- /oauth/token: success ----------------------------------------------------------------


def test_token_with_basic_auth_returns_bearer_token(sandbox):
    response = token_request(
        sandbox, auth=("demo", "demo-secret"), data={"grant_type": "client_credentials"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert isinstance(body["access_token"], str) and body["access_token"]


def test_token_expires_in_defaults_to_3600(sandbox):
    response = token_request(
        sandbox, auth=("demo", "demo-secret"), data={"grant_type": "client_credentials"}
    )
    assert response.json()["expires_in"] == 3600


def test_token_grants_all_scopes_when_none_requested(sandbox):
    response = token_request(
        sandbox, auth=("demo", "demo-secret"), data={"grant_type": "client_credentials"}
    )
    assert set(response.json()["scope"].split()) == ALL_SCOPES


@pytest.mark.parametrize(
    ("client", "organization_id"),
    [("demo", "o_demo"), ("readonly", "o_demo"), ("other", "o_other")],
)
def test_token_names_the_clients_organization(sandbox, client, organization_id):
    response = token_request(
        sandbox, auth=(client, sandbox.clients[client]), data={"grant_type": "client_credentials"}
    )
    assert response.json()["organization_id"] == organization_id


def test_token_accepts_client_credentials_as_form_fields(sandbox):
    data = {
        "grant_type": "client_credentials",
        "client_id": "demo",
        "client_secret": "demo-secret",
    }
    response = token_request(sandbox, data=data)
    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer"


def test_form_field_token_works_on_the_api(sandbox):
    data = {"grant_type": "client_credentials", "client_id": "demo", "client_secret": "demo-secret"}
    token = token_request(sandbox, data=data).json()["access_token"]
    response = httpx.get(
        f"{sandbox.base_url}/api/v1/organization", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.json()["organization_id"] == "o_demo"


def test_token_grants_exactly_the_requested_scope_subset(sandbox):
    data = {"grant_type": "client_credentials", "scope": "org:read availability:read"}
    response = token_request(sandbox, auth=("demo", "demo-secret"), data=data)
    assert response.status_code == 200
    assert set(response.json()["scope"].split()) == {"org:read", "availability:read"}


def test_readonly_token_lacks_appointments_write(sandbox):
    response = token_request(
        sandbox, auth=("readonly", "readonly-secret"), data={"grant_type": "client_credentials"}
    )
    assert set(response.json()["scope"].split()) == {
        "org:read",
        "availability:read",
        "appointments:read",
    }


# -- /oauth/token: RFC 6749 errors ----------------------------------------------------------


def test_token_with_unknown_scope_is_invalid_scope(sandbox):
    data = {"grant_type": "client_credentials", "scope": "org:read admin:everything"}
    response = token_request(sandbox, auth=("demo", "demo-secret"), data=data)
    assert_oauth_error(response, 400, "invalid_scope")


def test_token_with_scope_beyond_the_client_is_invalid_scope(sandbox):
    data = {"grant_type": "client_credentials", "scope": "appointments:write"}
    response = token_request(sandbox, auth=("readonly", "readonly-secret"), data=data)
    assert_oauth_error(response, 400, "invalid_scope")


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "refresh_token", "x"])
def test_token_with_other_grant_type_is_unsupported_grant_type(sandbox, grant_type):
    response = token_request(sandbox, auth=("demo", "demo-secret"), data={"grant_type": grant_type})
    assert_oauth_error(response, 400, "unsupported_grant_type")


def test_token_without_grant_type_is_invalid_request(sandbox):
    response = token_request(sandbox, auth=("demo", "demo-secret"), data={"scope": "org:read"})
    assert_oauth_error(response, 400, "invalid_request")


def test_token_with_wrong_secret_is_invalid_client(sandbox):
    response = token_request(
        sandbox, auth=("demo", "wrong-secret"), data={"grant_type": "client_credentials"}
    )
    assert_oauth_error(response, 401, "invalid_client")


def test_token_with_unknown_client_is_invalid_client(sandbox):
    response = token_request(
        sandbox, auth=("nobody", "demo-secret"), data={"grant_type": "client_credentials"}
    )
    assert_oauth_error(response, 401, "invalid_client")


def test_token_without_client_credentials_is_invalid_client(sandbox):
    response = token_request(sandbox, data={"grant_type": "client_credentials"})
    assert_oauth_error(response, 401, "invalid_client")


def test_token_with_wrong_form_field_secret_is_invalid_client(sandbox):
    data = {"grant_type": "client_credentials", "client_id": "demo", "client_secret": "nope"}
    response = token_request(sandbox, data=data)
    assert_oauth_error(response, 401, "invalid_client")


def test_token_with_malformed_basic_header_is_invalid_client(sandbox):
    garbage = base64.b64encode(b"no-colon-here").decode()
    response = token_request(
        sandbox,
        headers={"Authorization": f"Basic {garbage}"},
        data={"grant_type": "client_credentials"},
    )
    assert_oauth_error(response, 401, "invalid_client")


def test_token_errors_carry_a_request_id(sandbox):
    response = token_request(sandbox, data={"grant_type": "client_credentials"})
    assert response.headers["X-Request-Id"]


# -- bearer tokens on the API ----------------------------------------------------------------


def test_api_without_token_is_invalid_token(raw):
    response = raw.get("/api/v1/organization")
    assert_error(response, 401, "invalid_token")


def test_api_without_token_sends_www_authenticate(raw):
    response = raw.get("/api/v1/organization")
    assert INVALID_TOKEN_CHALLENGE in response.headers["WWW-Authenticate"]


def test_api_with_unknown_token_is_invalid_token(raw):
    response = raw.get("/api/v1/organization", headers={"Authorization": "Bearer not-a-token"})
    assert_error(response, 401, "invalid_token")
    assert INVALID_TOKEN_CHALLENGE in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "authorization", ["Basic ZGVtbzpkZW1vLXNlY3JldA==", "Bearer", "bearer", "Token x"]
)
def test_api_with_malformed_authorization_is_invalid_token(raw, authorization):
    response = raw.get("/api/v1/services", headers={"Authorization": authorization})
    assert_error(response, 401, "invalid_token")


def test_token_expires_by_the_sandbox_clock(make_sandbox, make_api):
    sb = make_sandbox(token_ttl=60)
    api = make_api(sb)
    sb.advance(61)
    response = api.http.get("/api/v1/organization")
    assert_error(response, 401, "invalid_token")
    assert INVALID_TOKEN_CHALLENGE in response.headers["WWW-Authenticate"]


def test_token_is_valid_until_its_ttl_has_passed(make_sandbox, make_api):
    sb = make_sandbox(token_ttl=60)
    api = make_api(sb)
    sb.advance(59)
    assert api.http.get("/api/v1/organization").status_code == 200


def test_expires_in_follows_the_token_ttl(make_sandbox):
    sb = make_sandbox(token_ttl=60)
    response = token_request(
        sb, auth=("demo", "demo-secret"), data={"grant_type": "client_credentials"}
    )
    assert response.json()["expires_in"] == 60


def test_new_token_works_after_the_old_one_expired(make_sandbox, make_api):
    sb = make_sandbox(token_ttl=60)
    make_api(sb)
    sb.advance(120)
    fresh = make_api(sb)
    assert fresh.http.get("/api/v1/organization").status_code == 200


# -- scopes ------------------------------------------------------------------------------------


def test_readonly_cannot_hold(readonly, demo):
    slot = demo.find_slot()
    body = demo.hold_body("s_eyebrow", slot["start"])
    response = readonly.http.post("/api/v1/appointments/hold", json=body)
    assert_error(response, 403, "insufficient_scope")


def test_readonly_cannot_confirm(readonly, demo_booking):
    body = {
        "hold_id": demo_booking["hold_id"],
        "contact_name": "Dana Lee",
        "contact_email": "dana@example.com",
    }
    response = readonly.http.post("/api/v1/appointments/confirm", json=body)
    assert_error(response, 403, "insufficient_scope")


@pytest.mark.parametrize(
    "body", [{"status": "cancelled"}, {"appointment_time": "2026-03-25T10:00:00+01:00"}]
)
def test_readonly_cannot_patch(readonly, demo_booking, body):
    response = readonly.http.patch(
        f"/api/v1/appointments/{demo_booking['appointment_id']}", json=body
    )
    assert_error(response, 403, "insufficient_scope")


def test_readonly_cannot_release_a_hold(readonly, demo_booking):
    response = readonly.http.delete(f"/api/v1/appointments/hold/{demo_booking['hold_id']}")
    assert_error(response, 403, "insufficient_scope")


def test_readonly_can_read_an_appointment(readonly, demo_booking):
    response = readonly.http.get(f"/api/v1/appointments/{demo_booking['appointment_id']}")
    assert response.status_code == 200
    assert response.json()["appointment_id"] == demo_booking["appointment_id"]


def test_readonly_can_read_availability(readonly):
    response = readonly.http.get("/api/v1/availability", params={"service_id": "s_eyebrow"})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/organization", "/api/v1/locations", "/api/v1/services"])
def test_catalogue_needs_org_read(sandbox, make_api, path):
    api = make_api(sandbox, scope="availability:read appointments:read")
    assert_error(api.http.get(path), 403, "insufficient_scope")


def test_availability_needs_availability_read(sandbox, make_api):
    api = make_api(sandbox, scope="org:read")
    response = api.http.get("/api/v1/availability", params={"service_id": "s_eyebrow"})
    assert_error(response, 403, "insufficient_scope")


def test_reading_an_appointment_needs_appointments_read(sandbox, make_api, demo_booking):
    api = make_api(sandbox, scope="org:read appointments:write")
    response = api.http.get(f"/api/v1/appointments/{demo_booking['appointment_id']}")
    assert_error(response, 403, "insufficient_scope")


def test_holding_needs_appointments_write(sandbox, make_api, demo):
    api = make_api(sandbox, scope="org:read availability:read appointments:read")
    body = demo.hold_body("s_eyebrow", demo.find_slot()["start"])
    response = api.http.post("/api/v1/appointments/hold", json=body)
    assert_error(response, 403, "insufficient_scope")


# -- organization isolation -----------------------------------------------------------------


def test_other_client_sees_its_own_organization(other):
    body = other.http.get("/api/v1/organization").json()
    assert body["organization_id"] == "o_other"


def test_other_client_lists_only_its_locations(other):
    ids = {item["location_id"] for item in other.walk("/api/v1/locations")}
    assert ids == {"l_telaviv"}


def test_other_client_lists_only_its_services(other):
    ids = set(other.services())
    assert "s_tlv_consult" in ids
    assert not ids & {"s_eyebrow", "s_haircut", "s_color", "s_massage_60", "s_legacy_perm"}


def test_demo_does_not_list_the_other_organizations_location(demo):
    ids = {item["location_id"] for item in demo.walk("/api/v1/locations")}
    assert "l_telaviv" not in ids
    assert {"l_berlin", "l_munich", "l_london", "l_newyork"} <= ids


@pytest.mark.parametrize(
    "params",
    [
        {"service_id": "s_tlv_consult"},
        {"service_id": "s_tlv_consult", "location_id": "l_telaviv"},
        {"service_id": "s_haircut", "location_id": "l_telaviv"},
    ],
)
def test_demo_gets_404_for_the_other_organizations_availability(demo, params):
    response = demo.http.get("/api/v1/availability", params=params)
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    "params", [{"service_id": "s_eyebrow"}, {"service_id": "s_haircut", "location_id": "l_berlin"}]
)
def test_other_gets_404_for_demo_availability(other, params):
    response = other.http.get("/api/v1/availability", params=params)
    assert_error(response, 404, "not_found")


def test_other_gets_404_for_a_demo_appointment(other, demo_booking):
    response = other.http.get(f"/api/v1/appointments/{demo_booking['appointment_id']}")
    assert_error(response, 404, "not_found")


def test_other_gets_404_patching_a_demo_appointment(other, demo, demo_booking):
    appointment_id = demo_booking["appointment_id"]
    response = other.http.patch(
        f"/api/v1/appointments/{appointment_id}", json={"status": "cancelled"}
    )
    assert_error(response, 404, "not_found")
    assert demo.http.get(f"/api/v1/appointments/{appointment_id}").json()["status"] == "confirmed"


def test_other_gets_404_confirming_a_demo_hold(other, demo_booking):
    body = {
        "hold_id": demo_booking["hold_id"],
        "contact_name": "Eve",
        "contact_email": "eve@example.com",
    }
    response = other.http.post("/api/v1/appointments/confirm", json=body)
    assert_error(response, 404, "not_found")


def test_other_gets_404_releasing_a_demo_hold(other, demo_booking):
    response = other.http.delete(f"/api/v1/appointments/hold/{demo_booking['hold_id']}")
    assert_error(response, 404, "not_found")


def test_demo_gets_404_holding_with_the_other_organization_id(demo):
    slot = demo.find_slot()
    body = {**demo.hold_body("s_eyebrow", slot["start"]), "organization_id": "o_other"}
    response = demo.http.post("/api/v1/appointments/hold", json=body)
    assert_error(response, 404, "not_found")


def test_demo_gets_404_holding_the_other_organizations_service(demo, other):
    slot = other.find_slot("s_tlv_consult")
    body = {
        "organization_id": "o_other",
        "service_id": "s_tlv_consult",
        "appointment_time": slot["start"],
        "appointment_duration": other.services()["s_tlv_consult"]["duration_minutes"],
    }
    response = demo.http.post("/api/v1/appointments/hold", json=body)
    assert_error(response, 404, "not_found")


def test_other_can_book_its_own_service(other):
    slot = other.find_slot("s_tlv_consult")
    appointment = other.book("s_tlv_consult", slot["start"])
    assert appointment["organization_id"] == "o_other"
    assert appointment["location_id"] == "l_telaviv"
