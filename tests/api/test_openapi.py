"""The OpenAPI document is complete enough to build a client from: every operation is described, declares its
problem+json errors and shows an example of what it takes and returns (SPEC §4)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

PROBLEM = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
async def document(client) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def documented_operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) of the JSON API and the ops probes."""
    for path, item in document["paths"].items():
        if path.startswith("/api/v1/") or path in ("/health", "/ready"):
            for method, operation in item.items():
                if method in HTTP_METHODS:
                    yield method, path, operation


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = document["components"]["schemas"][name]
    return schema


def has_example(document: dict[str, Any], media: dict[str, Any]) -> bool:
    """An example on the media type, on the (resolved) schema, or on the items of an array schema."""
    if media.get("example") is not None or media.get("examples"):
        return True
    schema = resolve(document, media.get("schema", {}))
    if schema.get("type") == "array":
        schema = resolve(document, schema.get("items", {}))
    return schema.get("example") is not None or bool(schema.get("examples"))


def concrete(path: str) -> str:
    """The path with every parameter set to 1 (the station of the chef in the 403 test)."""
    return re.sub(r"\{[^}]+\}", "1", path)


def test_info_is_complete(document):
    info = document["info"]
    assert info["title"].strip()
    assert len(info["description"].strip()) > 100
    assert info["version"].strip()
    assert info["contact"]["name"] and info["contact"]["url"].startswith("https://")
    assert info["license"]["name"]
    assert document["openapi"].startswith("3.")


def test_every_tag_used_is_described(document):
    described = {tag["name"]: tag.get("description", "") for tag in document.get("tags", [])}
    used = {tag for _, _, op in documented_operations(document) for tag in op.get("tags", [])}
    assert used, "no tagged operations"
    missing = sorted(tag for tag in used if not described.get(tag, "").strip())
    assert not missing, f"tags without a description: {missing}"


def test_the_core_operations_are_documented(document):
    documented = {(m.upper(), p) for m, p, _ in documented_operations(document)}
    assert {("POST", "/api/v1/auth/login"), ("GET", "/api/v1/auth/me"), ("GET", "/api/v1/stations"),
            ("POST", "/api/v1/stations"), ("PATCH", "/api/v1/stations/{station_id}"),
            ("GET", "/api/v1/audit-log"), ("GET", "/health"), ("GET", "/ready")} <= documented


def test_every_operation_has_summary_description_and_tag(document):
    bad = [f"{m.upper()} {p}" for m, p, op in documented_operations(document)
           if not op.get("summary", "").strip() or not op.get("description", "").strip() or not op.get("tags")]
    assert not bad, f"operations without a summary, description or tag: {bad}"


def test_error_responses_are_problem_json(document):
    bad = []
    for method, path, op in documented_operations(document):
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")):
                schema = response.get("content", {}).get(PROBLEM, {}).get("schema", {})
                if schema.get("$ref") != PROBLEM_REF:
                    bad.append(f"{method.upper()} {path} {status}")
    assert not bad, f"error responses not documented as problem+json with the Problem schema: {bad}"


def test_problem_schema_has_the_rfc_9457_fields(document):
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    field_error = resolve(document, {"$ref": "#/components/schemas/FieldError"})
    assert {"field", "message", "type"} <= set(field_error["required"])


def test_operations_taking_input_declare_422(document):
    bad = [f"{m.upper()} {p}" for m, p, op in documented_operations(document)
           if (op.get("parameters") or op.get("requestBody")) and "422" not in op["responses"]]
    assert not bad, f"operations taking input without a documented 422: {bad}"


async def test_staff_routes_are_secured_and_declare_401(client, document):
    """Exactly the operations that answer 401 without a token are documented as secured, and declare 401."""
    secured, bad = 0, []
    for method, path, op in documented_operations(document):
        response = await client.request(method, concrete(path), json={} if "requestBody" in op else None)
        if response.status_code == 401:
            secured += 1
            if not op.get("security") or "401" not in op["responses"]:
                bad.append(f"{method.upper()} {path}: answers 401 but documents no security/401")
        elif op.get("security") and {} not in op["security"]:  # `{}`: signing in is optional (a public door)
            bad.append(f"{method.upper()} {path}: documented as secured but answers {response.status_code}")
    assert secured >= 10
    assert not bad, bad


async def test_permission_checked_routes_declare_403(client, document, make_station, make_user, login):
    """Whatever a signed-in chef is refused with 403 must be documented as a possible 403."""
    station = await make_station("FRE")
    await make_user("chef@example.com", "chef", station)
    headers = await login("chef@example.com")
    forbidden, bad = 0, []
    for method, path, op in documented_operations(document):
        if not op.get("security"):
            continue
        response = await client.request(method, concrete(path), headers=headers,
                                        json={} if "requestBody" in op else None)
        if response.status_code == 403:
            forbidden += 1
            if "403" not in op["responses"]:
                bad.append(f"{method.upper()} {path}")
    assert forbidden >= 5
    assert not bad, f"403 answered but not documented: {bad}"


def test_request_bodies_have_examples(document):
    bodies, bad = 0, []
    for method, path, op in documented_operations(document):
        for media_type, media in op.get("requestBody", {}).get("content", {}).items():
            bodies += 1
            if not has_example(document, media):
                bad.append(f"{method.upper()} {path} ({media_type})")
    assert bodies >= 10
    assert not bad, f"request bodies without an example: {bad}"


def test_success_responses_have_examples(document):
    json_responses, bad = 0, []
    for method, path, op in documented_operations(document):
        for status, response in op["responses"].items():
            media = response.get("content", {}).get("application/json")
            if status.startswith("2") and media is not None:
                json_responses += 1
                if not has_example(document, media):
                    bad.append(f"{method.upper()} {path} {status}")
    assert json_responses >= 10
    assert not bad, f"2xx JSON responses without an example: {bad}"


@pytest.mark.parametrize(("path", "marker"), [("/docs", "swagger-ui"), ("/redoc", "redoc")])
async def test_interactive_docs_are_served(client, path, marker):
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert marker in response.text.lower()
    assert "/openapi.json" in response.text
