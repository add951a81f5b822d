"""Strict JSON bodies (apps/common/parsers.py) and the API's body gate (JsonBodyMiddleware).

Each malformed body is sent two ways: to a real API endpoint (refused by the
middleware before the view) and to a test-only view outside /api/ (refused by
`StrictJSONParser` itself), and both must answer the same envelope.
"""

import json

import pytest
from django.test import override_settings

from apps.common.parsers import MAX_DEPTH
from apps.common.tests.test_errors import assert_envelope
from apps.identity.models import User

TEST_URLS = "apps.common.tests.urls_for_tests"
REGISTER = "/api/v1/identity/auth/register"
ECHO = "/test-only/echo"

pytestmark = [pytest.mark.django_db, pytest.mark.urls(TEST_URLS)]


def _nested(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


# name -> (raw body, the text the error must mention)
MALFORMED = {
    "nested_100000_deep": (_nested(100_000), "nested more than"),
    "arrays_100000_deep": (b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested more than"),
    "nested_one_past_the_limit": (_nested(MAX_DEPTH + 1), "nested more than"),
    "huge_exponent": (b'{"email": 1e999999}', "too large"),
    "huge_negative_exponent": (b'{"email": -1e400}', "too large"),
    "nan": (b'{"email": NaN}', "NaN is not a JSON number"),
    "infinity": (b'{"email": Infinity}', "Infinity is not a JSON number"),
    "minus_infinity": (b'{"email": -Infinity}', "-Infinity is not a JSON number"),
    "integer_of_5000_digits": (b'{"email": ' + b"9" * 5000 + b"}", "JSON parse error"),
    "duplicate_keys": (b'{"email": "a@example.com", "email": "b@example.com"}', "Duplicate key 'email'"),
    "invalid_utf8": (b'{"email": "\xff\xfe"}', "not valid UTF-8"),
    "latin1_text": ('{"email": "caf\u00e9"}'.encode("latin-1"), "not valid UTF-8"),
    "utf8_bom": (b'\xef\xbb\xbf{"email": "a@example.com"}', "JSON parse error"),
    "truncated": (b'{"email": ', "JSON parse error"),
    "raw_control_character": (b'{"email": "a\x01b"}', "JSON parse error"),
    "array_not_object": (b'["a@example.com"]', "must be a JSON object"),
    "string_not_object": (b'"a@example.com"', "must be a JSON object"),
    "number_not_object": (b"17", "must be a JSON object"),
    "whitespace_only": (b"   ", "JSON parse error"),
}

# Strings PostgreSQL cannot store: reported under the top-level field that holds them.
UNSTORABLE = {
    "nul_in_a_string": (b'{"email": "a\\u0000@example.com"}', "email", "Null characters are not allowed."),
    "nul_deep_inside": (b'{"payload": {"k": ["ok", {"deep": "\\u0000"}]}}', "payload", "Null characters"),
    "nul_in_a_nested_key": (b'{"payload": {"k\\u0000": 1}}', "payload", "Null characters"),
    "unpaired_surrogate": (b'{"email": "\\udb0d"}', "email", "Surrogate characters are not allowed: U+DB0D."),
}


def _post(client, path: str, raw: bytes, content_type: str = "application/json"):
    return client.generic("POST", path, raw, content_type=content_type)


@pytest.mark.parametrize("path", [REGISTER, ECHO], ids=["api_middleware", "parser"])
@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_body_is_400_validation_error(api_client, path, name):
    raw, reason = MALFORMED[name]

    error = assert_envelope(_post(api_client, path, raw), 400, "validation_error")

    assert error["message"] == "Malformed request body."
    assert list(error["details"]) == ["body"]
    assert reason in error["details"]["body"][0], error
    assert User.objects.count() == 0


@pytest.mark.parametrize("path", [REGISTER, ECHO], ids=["api_middleware", "parser"])
@pytest.mark.parametrize("name", sorted(UNSTORABLE))
def test_unstorable_text_is_400_under_its_field(api_client, path, name):
    raw, field, reason = UNSTORABLE[name]

    error = assert_envelope(_post(api_client, path, raw), 400, "validation_error")

    assert list(error["details"]) == [field]
    assert error["details"][field][0].startswith(reason)


def test_nul_in_a_top_level_key_is_reported_under_body(api_client):
    error = assert_envelope(_post(api_client, REGISTER, b'{"\\u0000": 1}'), 400, "validation_error")

    assert error["details"] == {"body": ["Null characters are not allowed."]}


@pytest.mark.parametrize("path", [REGISTER, ECHO], ids=["api_middleware", "parser"])
def test_body_at_the_size_limit_is_read_and_one_byte_more_is_413(api_client, settings, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    duplicate = b'{"email": 1, "email": 2, "padding": "'
    at_limit = duplicate + b"x" * (4096 - len(duplicate) - 2) + b'"}'
    assert len(at_limit) == 4096

    # At the limit the body is read and parsed: refused for what it says, not for its size.
    error = assert_envelope(_post(api_client, path, at_limit), 400, "validation_error")
    assert "Duplicate key 'email'" in error["details"]["body"][0]

    past = at_limit[:-2] + b'x"}'
    error = assert_envelope(_post(api_client, path, past), 413, "payload_too_large")
    assert error["details"] == {"max_bytes": 4096}
    assert "4096 bytes" in error["message"]


def test_a_good_body_at_the_limit_is_served(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    head = b'{"email": "big@example.com", "password": "a-long-Passphrase-42", "ignored": "'
    body = head + b"x" * (4096 - len(head) - 2) + b'"}'

    response = _post(api_client, REGISTER, body)

    assert response.status_code == 201, response.content
    assert User.objects.filter(email="big@example.com").exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_admin_form_past_the_limit_is_413_envelope_not_an_html_page(client):
    client.raise_request_exception = False
    response = client.post("/admin/login/", {"username": "a", "password": "x" * 2000})

    assert_envelope(response, 413, "payload_too_large")


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [("text/plain", b'{"email": "a@example.com"}'), ("application/x-www-form-urlencoded", b"email=a")],
)
def test_api_body_that_is_not_json_is_415(api_client, content_type, raw):
    assert_envelope(_post(api_client, REGISTER, raw, content_type), 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (_nested(MAX_DEPTH), None),
        (b'{"n": 1e308, "m": -1e-999, "i": 9007199254740993}', {"n": 1e308, "m": -0.0, "i": 9007199254740993}),
        (
            '{"s": "caf\u00e9 \U0001f3b8", "t": "\\ud83c\\udfb8"}'.encode(),
            {"s": "caf\u00e9 \U0001f3b8", "t": "\U0001f3b8"},
        ),
        (b'{"a": {"b": [1, 2, {"c": null}]}}', {"a": {"b": [1, 2, {"c": None}]}}),
        (b"{}", {}),
    ],
    ids=["deepest_allowed", "big_but_finite_numbers", "unicode_and_surrogate_pair", "nested", "empty_object"],
)
def test_well_formed_bodies_pass_unchanged(api_client, raw, expected):
    response = _post(api_client, ECHO, raw)

    assert response.status_code == 200, response.content
    assert response.json()["data"] == (json.loads(raw) if expected is None else expected)


def test_an_api_request_without_a_body_is_not_checked(api_client):
    # Bodyless methods and empty bodies pass to the view, which answers as before.
    assert api_client.get("/health").status_code == 200
    error = assert_envelope(
        api_client.generic("POST", REGISTER, b"", content_type="text/plain"), 400, "validation_error"
    )
    assert set(error["details"]) == {"email", "password"}


def test_the_schema_documents_413_and_415_where_a_body_is_taken(api_client):
    paths = api_client.get("/api/schema", {"format": "json"}).json()["paths"]

    register = paths["/api/v1/identity/auth/register"]["post"]["responses"]
    assert {"400", "413", "415"} <= set(register)
    assert register["413"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorEnvelope"}
    assert "413" not in paths["/api/v1/identity/users/me"]["get"]["responses"]
