"""The sandbox's OpenAPI document describes the whole contract (zimun-api.md) and is valid."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

SANDBOX_DIR = Path(__file__).resolve().parents[1] / "zimun_analytics" / "sandbox"
MODULE_PATH = SANDBOX_DIR / "openapi.py"
MODULE_PATHS = sorted(SANDBOX_DIR.glob("openapi*.py"))  # openapi.py and the modules it uses
PACKAGE_UNDER_TEST = "_zimun_sandbox_openapi_under_test"


def _load_module() -> Any:
    # Loaded by file path: the sandbox package __init__ may not be importable while it is built.
    # A stand-in package over the sandbox directory lets openapi.py import its openapi_* siblings.
    package = types.ModuleType(PACKAGE_UNDER_TEST)
    package.__path__ = [str(SANDBOX_DIR)]
    sys.modules[PACKAGE_UNDER_TEST] = package
    spec = importlib.util.spec_from_file_location(f"{PACKAGE_UNDER_TEST}.openapi", MODULE_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


openapi = _load_module()

# Every operation in the contract, including the sandbox-only ones.
CONTRACT_OPERATIONS = [
    ("post", "/oauth/token"),
    ("get", "/api/v1/organization"),
    ("get", "/api/v1/locations"),
    ("get", "/api/v1/services"),
    ("get", "/api/v1/availability"),
    ("post", "/api/v1/appointments/hold"),
    ("delete", "/api/v1/appointments/hold/{hold_id}"),
    ("post", "/api/v1/appointments/confirm"),
    ("get", "/api/v1/appointments/{appointment_id}"),
    ("patch", "/api/v1/appointments/{appointment_id}"),
    ("get", "/_sandbox/outbox"),
    ("get", "/_sandbox/clock"),
    ("post", "/_sandbox/clock"),
    ("get", "/_sandbox/traffic"),
    ("delete", "/_sandbox/traffic"),
    ("get", "/openapi.json"),
]
# The contract's error table, status -> codes.
CONTRACT_ERROR_CODES = {
    "400": ["invalid_request", "location_required"],
    "401": ["invalid_token"],
    "403": ["insufficient_scope"],
    "404": ["not_found"],
    "409": ["slot_unavailable", "hold_already_confirmed", "invalid_state"],
    "410": ["hold_expired"],
    "422": ["validation_error", "idempotency_key_reused"],
    "429": ["rate_limited"],
    "5XX": ["internal"],
}
API_WRITES = [
    ("post", "/api/v1/appointments/hold"),
    ("post", "/api/v1/appointments/confirm"),
    ("patch", "/api/v1/appointments/{appointment_id}"),
]
SCOPES = {"org:read", "availability:read", "appointments:read", "appointments:write"}


@pytest.fixture
def doc() -> dict[str, Any]:
    return openapi.build_openapi("http://127.0.0.1:8765")


def _walk(node: Any) -> Any:
    """Yield every dict in a JSON tree."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, item in doc["paths"].items() for m, op in item.items()]


def _response(doc: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    return _resolve(doc, response["$ref"]) if "$ref" in response else response


def test_exports_only_build_openapi() -> None:
    assert openapi.__all__ == ["build_openapi"]


@pytest.mark.parametrize(("method", "path"), CONTRACT_OPERATIONS)
def test_contract_operation_is_described(doc: dict[str, Any], method: str, path: str) -> None:
    assert method in doc["paths"][path]


def test_no_operation_beyond_the_contract(doc: dict[str, Any]) -> None:
    assert sorted((m, p) for m, p, _ in _operations(doc)) == sorted(CONTRACT_OPERATIONS)


def test_is_openapi_31_with_unique_operation_ids(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1")
    ids = [op["operationId"] for _, _, op in _operations(doc)]
    assert len(ids) == len(set(ids))


def test_every_ref_resolves(doc: dict[str, Any]) -> None:
    refs = [node["$ref"] for node in _walk(doc) if "$ref" in node]
    assert refs
    for ref in refs:
        assert _resolve(doc, ref) is not None, ref


def test_error_code_enum_lists_every_contract_code(doc: dict[str, Any]) -> None:
    enum = doc["components"]["schemas"]["ErrorCode"]["enum"]
    expected = {code for codes in CONTRACT_ERROR_CODES.values() for code in codes}
    assert expected | {"method_not_allowed"} <= set(enum)


def test_error_envelope_shape(doc: dict[str, Any]) -> None:
    envelope = doc["components"]["schemas"]["Error"]
    inner = envelope["properties"]["error"]
    assert envelope["required"] == ["error"]
    assert set(inner["required"]) == {"code", "message", "request_id"}
    detail = _resolve(doc, inner["properties"]["details"]["items"]["$ref"])
    assert set(detail["properties"]) == {"field", "message"}


def test_document_survives_json_round_trip(doc: dict[str, Any]) -> None:
    assert json.loads(json.dumps(doc)) == doc


def test_document_validates_against_openapi_31_schema(doc: dict[str, Any]) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(doc)


def test_token_endpoint_offers_basic_and_form_credentials(doc: dict[str, Any]) -> None:
    token = doc["paths"]["/oauth/token"]["post"]
    schemes = doc["components"]["securitySchemes"]
    basic = next(name for name, s in schemes.items() if s.get("scheme") == "basic")
    assert {basic: []} in token["security"] and {} in token["security"]
    form = token["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    fields = _resolve(doc, form["$ref"])["properties"]
    assert {"grant_type", "scope", "client_id", "client_secret"} <= set(fields)


def test_token_endpoint_errors_follow_rfc_6749(doc: dict[str, Any]) -> None:
    responses = doc["paths"]["/oauth/token"]["post"]["responses"]
    for status in ("400", "401"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/OAuthError")
    assert _response(doc, responses["429"])["content"]["application/json"]["schema"]["$ref"] == (
        "#/components/schemas/Error"
    )


def test_bearer_scheme_is_client_credentials_with_four_scopes(doc: dict[str, Any]) -> None:
    oauth = [s for s in doc["components"]["securitySchemes"].values() if s["type"] == "oauth2"]
    assert len(oauth) == 1
    flow = oauth[0]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/oauth/token"
    assert set(flow["scopes"]) == SCOPES


def test_api_operations_need_a_known_scope_and_sandbox_ones_none(doc: dict[str, Any]) -> None:
    for _, path, op in _operations(doc):
        if path.startswith("/api/v1"):
            (requirement,) = op["security"]
            (scopes,) = requirement.values()
            assert set(scopes) <= SCOPES and scopes, path
        elif path != "/oauth/token":
            assert op["security"] == [], path


@pytest.mark.parametrize(("method", "path"), API_WRITES)
def test_api_writes_take_idempotency_key(doc: dict[str, Any], method: str, path: str) -> None:
    op = doc["paths"][path][method]
    params = [_resolve(doc, p["$ref"]) if "$ref" in p else p for p in op["parameters"]]
    key = next(p for p in params if p["name"] == "Idempotency-Key")
    assert key["in"] == "header" and key["schema"]["maxLength"] == 255
    success = next(r for status, r in op["responses"].items() if status.startswith("2"))
    assert "Idempotent-Replayed" in success["headers"]
    assert "422" in op["responses"]


def test_every_response_carries_request_id(doc: dict[str, Any]) -> None:
    for _, path, op in _operations(doc):
        for status, response in op["responses"].items():
            assert "X-Request-Id" in _response(doc, response)["headers"], (path, status)


def test_api_responses_carry_rate_limit_headers(doc: dict[str, Any]) -> None:
    for _, path, op in _operations(doc):
        if path.startswith("/api/v1") or path == "/oauth/token":
            for response in op["responses"].values():
                headers = _response(doc, response)["headers"]
                assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(
                    headers
                )


def test_401_responses_carry_www_authenticate(doc: dict[str, Any]) -> None:
    for _, path, op in _operations(doc):
        if path.startswith("/api/v1"):
            assert "WWW-Authenticate" in _response(doc, op["responses"]["401"])["headers"], path


def test_429_responses_carry_retry_after(doc: dict[str, Any]) -> None:
    for _, path, op in _operations(doc):
        if path.startswith("/api/v1") or path == "/oauth/token":
            assert "Retry-After" in _response(doc, op["responses"]["429"])["headers"], path


def test_api_errors_use_the_envelope(doc: dict[str, Any]) -> None:
    for _, path, op in _operations(doc):
        for status, response in op["responses"].items():
            if status[0] in "45" and "$ref" in response:
                schema = _response(doc, response)["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (path, status)


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("get", "/api/v1/availability", {"200", "400", "401", "403", "404", "429", "5XX"}),
        ("post", "/api/v1/appointments/hold", {"201", "404", "409", "422", "429"}),
        ("delete", "/api/v1/appointments/hold/{hold_id}", {"204", "404", "409"}),
        ("post", "/api/v1/appointments/confirm", {"201", "404", "409", "410", "422"}),
        ("patch", "/api/v1/appointments/{appointment_id}", {"200", "404", "409", "422"}),
    ],
)
def test_operation_lists_its_contract_responses(
    doc: dict[str, Any], method: str, path: str, statuses: set[str]
) -> None:
    assert statuses <= set(doc["paths"][path][method]["responses"])


def test_list_endpoints_are_paginated(doc: dict[str, Any]) -> None:
    for path in ("/api/v1/locations", "/api/v1/services"):
        op = doc["paths"][path]["get"]
        params = {
            _resolve(doc, p["$ref"])["name"]: _resolve(doc, p["$ref"]) for p in op["parameters"]
        }
        size = params["page_size"]["schema"]
        assert (size["minimum"], size["maximum"], size["default"]) == (1, 100, 50)
        assert "page_token" in params
        page = _resolve(
            doc, op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        )
        assert set(page["required"]) == {"items", "next_page_token"}


def test_availability_query_and_slot_shape(doc: dict[str, Any]) -> None:
    op = doc["paths"]["/api/v1/availability"]["get"]
    params = {_resolve(doc, p["$ref"])["name"]: _resolve(doc, p["$ref"]) for p in op["parameters"]}
    assert params["service_id"]["required"] is True
    days = params["days_ahead"]["schema"]
    assert (days["minimum"], days["maximum"], days["default"]) == (1, 60, 7)
    assert {"location_id", "start_date"} <= set(params)
    slot = doc["components"]["schemas"]["Slot"]["properties"]
    assert {"start", "end", "capacity", "available"} <= set(slot)
    holidays = doc["components"]["schemas"]["Availability"]["properties"]["holidays"]
    assert holidays["additionalProperties"] == {"$ref": "#/components/schemas/Holiday"}


def test_patch_body_is_one_of_reschedule_or_cancel(doc: dict[str, Any]) -> None:
    body = doc["paths"]["/api/v1/appointments/{appointment_id}"]["patch"]["requestBody"]
    patch = _resolve(doc, body["content"]["application/json"]["schema"]["$ref"])
    options = [_resolve(doc, option["$ref"]) for option in patch["oneOf"]]
    assert [o["required"] for o in options] == [["appointment_time"], ["status"]]
    assert options[1]["properties"]["status"]["enum"] == ["cancelled"]


def test_ids_carry_their_prefix_pattern(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for name, prefix in [
        ("OrganizationId", "o_"),
        ("LocationId", "l_"),
        ("ServiceId", "s_"),
        ("HoldId", "h_"),
        ("AppointmentId", "a_"),
    ]:
        assert schemas[name]["pattern"].startswith(f"^{prefix}")


def test_request_timestamps_demand_an_offset(doc: dict[str, Any]) -> None:
    for name in ("HoldRequest", "RescheduleRequest"):
        field = doc["components"]["schemas"][name]["properties"]["appointment_time"]
        assert field["format"] == "date-time"
        assert "offset" in field["description"] and "pattern" in field


def test_sandbox_clock_shapes(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    assert set(schemas["Clock"]["required"]) == {"now", "frozen"}
    assert set(schemas["ClockAdvanced"]["required"]) == {"now", "frozen", "booked"}
    assert schemas["ClockAdvance"]["properties"]["advance_seconds"]["minimum"] == 0


def test_tags_group_every_operation(doc: dict[str, Any]) -> None:
    names = [tag["name"] for tag in doc["tags"]]
    assert names == ["auth", "catalogue", "availability", "appointments", "sandbox"]
    assert all(op["tags"][0] in names for _, _, op in _operations(doc))


def test_servers_set_only_when_url_given() -> None:
    assert "servers" not in openapi.build_openapi()
    assert openapi.build_openapi("http://x:1")["servers"][0]["url"] == "http://x:1"


def test_each_call_returns_a_fresh_document() -> None:
    first = openapi.build_openapi()
    first["components"]["schemas"]["ErrorCode"]["enum"].clear()
    first["paths"].clear()
    assert openapi.build_openapi()["paths"]
    assert openapi.build_openapi()["components"]["schemas"]["ErrorCode"]["enum"]


@pytest.mark.parametrize("path", MODULE_PATHS, ids=lambda path: path.name)
def test_module_imports_only_the_standard_library(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    roots |= {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
    }
    relative = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]
    # relative imports only of the other openapi*.py modules, which this test checks too
    siblings = {p.stem for p in MODULE_PATHS}
    assert all(node.level == 1 and node.module in siblings for node in relative)
    assert roots <= set(sys.stdlib_module_names)


def test_the_documents_numbers_are_the_servers() -> None:
    """The spec modules stand alone (stdlib only), so they repeat the sandbox's limits: keep
    the copies from drifting apart."""
    from zimun_analytics.sandbox import engine, openapi, openapi_schemas, routes, state, stores, web

    assert (openapi.MAX_PAGE_SIZE, openapi.DEFAULT_PAGE_SIZE) == (
        web.MAX_PAGE_SIZE,
        web.DEFAULT_PAGE_SIZE,
    )
    assert (openapi_schemas.MAX_DAYS_AHEAD, openapi_schemas.DEFAULT_DAYS_AHEAD) == (
        routes.MAX_DAYS_AHEAD,
        routes.DEFAULT_DAYS_AHEAD,
    )
    assert openapi_schemas.HOLD_TTL_MINUTES * 60 == engine.HOLD_TTL.total_seconds()
    assert openapi_schemas.TOKEN_TTL_S == state.DEFAULT_TOKEN_TTL_S
    assert openapi.TOKEN_RATE_PER_MINUTE == state.DEFAULT_TOKEN_RATE_LIMIT_PER_MIN
    assert openapi.IDEMPOTENCY_TTL_HOURS * 3600 == stores.IDEMPOTENCY_TTL.total_seconds()
    assert openapi.MAX_IDEMPOTENCY_KEY_CHARS == stores.MAX_IDEMPOTENCY_KEY_CHARS
