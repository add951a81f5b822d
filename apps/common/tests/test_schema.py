"""OpenAPI document and offline Swagger UI (SPEC §3, Service)."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command

pytestmark = pytest.mark.django_db

IDENTITY_OPERATIONS = {
    ("/api/v1/identity/auth/register", "post"): "201",
    ("/api/v1/identity/auth/login", "post"): "200",
    ("/api/v1/identity/auth/refresh", "post"): "200",
    ("/api/v1/identity/auth/logout", "post"): "204",
    ("/api/v1/identity/users/me", "get"): "200",
}


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema", {"format": "json"})
    assert response.status_code == 200
    assert "json" in response["Content-Type"]
    return response.json()


def _resolve(schema: dict, ref: str) -> dict:
    assert ref.startswith("#/components/schemas/")
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def test_schema_is_openapi_3_with_bearer_jwt_and_error_envelope(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "GuitarOnline API"
    schemes = schema["components"]["securitySchemes"]
    assert any(
        s["type"] == "http" and s["scheme"] == "bearer" and s.get("bearerFormat") == "JWT" for s in schemes.values()
    )
    envelope = schema["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["properties"]["error"]["required"] == ["code", "message", "details"]


def test_schema_validates_against_the_openapi_spec(tmp_path):
    # --validate raises on an invalid document.
    call_command("spectacular", "--validate", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.")


def test_schema_by_accept_header(client):
    response = client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_schema_default_is_yaml(client):
    response = client.get("/api/schema")

    assert response.status_code == 200
    assert response.content.startswith(b"openapi: 3.")


def test_identity_operations_are_documented(schema):
    for (path, method), success in IDENTITY_OPERATIONS.items():
        operation = schema["paths"][path][method]
        assert success in operation["responses"], (path, operation["responses"].keys())
        # The error envelope is documented on every operation.
        assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorEnvelope"
        }

    login = schema["paths"]["/api/v1/identity/auth/login"]["post"]
    request = _resolve(schema, login["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    assert set(request["properties"]) == {"email", "password"}
    pair = _resolve(schema, login["responses"]["200"]["content"]["application/json"]["schema"]["$ref"])
    assert set(pair["properties"]) == {"access_token", "refresh_token", "token_type"}
    assert login.get("security") in (None, [], [{}])  # public: no token needed

    me = schema["paths"]["/api/v1/identity/users/me"]["get"]
    user = _resolve(schema, me["responses"]["200"]["content"]["application/json"]["schema"]["$ref"])
    assert set(user["properties"]) == {
        "id",
        "email",
        "full_name",
        "role",
        "timezone",
        "is_active",
        "created_at",
        "updated_at",
    }
    assert any("jwtAuth" in requirement for requirement in me["security"])
    assert me["operationId"] == "identity_users_me"

    # A second method on the same path: its own body, the same user back, DRF's name for the method.
    update_me = schema["paths"]["/api/v1/identity/users/me"]["patch"]
    assert update_me["operationId"] == "identity_users_me_partial_update"
    body = _resolve(schema, update_me["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    assert set(body["properties"]) == {"full_name", "timezone"}
    assert body["properties"]["full_name"]["maxLength"] == 200
    assert update_me["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/User"
    }

    register = schema["paths"]["/api/v1/identity/auth/register"]["post"]
    body = _resolve(schema, register["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    assert set(body["properties"]) == {"email", "password", "timezone", "role", "full_name"}
    assert body["required"] == ["email", "password"]


def test_docs_page_uses_only_local_assets(client):
    response = client.get("/docs")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert not re.search(r"https?://", html), "the UI must not load anything from the internet"
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert any(a.endswith("swagger-ui.css") for a in assets)
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset
    # The start-up script is served by the same view (no inline script: Content-Security-Policy).
    script = client.get("/docs", {"script": ""}).content.decode()
    assert not re.search(r"https?://", script)
    assert '"/api/schema"' in script


def test_input_rules_are_in_the_schema(schema):
    """What the API refuses with a 400 is stated in the schema (the schema fuzzer relies on it)."""
    page = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/booking/my"]["get"]["parameters"]}
    assert (page["limit"]["minimum"], page["limit"]["maximum"]) == (1, 100)
    assert (page["offset"]["minimum"], page["offset"]["maximum"]) == (0, 2**31 - 1)

    for path in (
        "/api/v1/billing/payments/{payment_id}/status",
        "/api/v1/notifications/{notification_id}/status",
    ):
        body = schema["paths"][path]["patch"]["requestBody"]
        assert body["required"] is True
        assert _resolve(schema, body["content"]["application/json"]["schema"]["$ref"])["required"] == ["status"]

    payment = schema["components"]["schemas"]["PaymentCreateRequest"]["properties"]
    assert re.fullmatch(payment["amount"]["pattern"], "49.90") and not re.fullmatch(payment["amount"]["pattern"], "-1")
    assert not re.fullmatch(payment["amount"]["pattern"], "0.00")
    assert payment["currency"]["pattern"] == "^[A-Za-z]{3}$"
    audit = schema["components"]["schemas"]["AuditLogCreateRequest"]["properties"]
    assert audit["payload"]["type"] == "object"
