"""No request body, however malformed, gets past the API or changes anything.

The write operations are read from our own OpenAPI document (drf-spectacular's
generator), so a new or renamed endpoint is covered without editing this file.
Each one gets every malformed body of `apps/common/tests/test_parsers.py`
(deep nesting, huge numbers, NaN/Infinity, duplicate keys, NUL and unpaired
surrogates, non-UTF-8, not an object), bodies at and past the size limit, and
a body that is not JSON, as an admin and as the student who owns the objects
in the path. Every answer must be the 4xx envelope, and no table may change.
"""

import uuid

import pytest
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator

from apps.common.tests.test_errors import assert_envelope
from apps.common.tests.test_parsers import MALFORMED, UNSTORABLE
from apps.identity.tests.factories import AdminFactory
from tests.test_authorization_matrix import _fingerprint, build_world

WRITE_METHODS = ("post", "put", "patch", "delete")


def _write_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method, path) for path, item in schema["paths"].items() for method in item if method in WRITE_METHODS
    )


def _at_limit(limit: int) -> bytes:
    """Exactly `limit` bytes of JSON that is refused for what it says (a duplicate key), not for its size."""
    head = b'{"status": "x", "status": "y", "padding": "'
    return head + b"x" * (limit - len(head) - 2) + b'"}'


def _bodies() -> list[tuple[str, bytes, str, int, str]]:
    """(name, raw body, content type, expected status, expected code)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    at_limit = _at_limit(limit)
    assert len(at_limit) == limit
    json_type = "application/json"
    bodies = [(name, raw, json_type, 400, "validation_error") for name, (raw, _) in MALFORMED.items()]
    bodies += [(name, raw, json_type, 400, "validation_error") for name, (raw, _, _) in UNSTORABLE.items()]
    bodies += [
        ("nul_in_a_top_level_key", b'{"\\u0000": 1}', json_type, 400, "validation_error"),
        ("at_the_size_limit", at_limit, json_type, 400, "validation_error"),
        ("one_byte_past_the_size_limit", at_limit[:-2] + b'x"}', json_type, 413, "payload_too_large"),
        ("not_json", b"status=completed", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ]
    return bodies


WRITE_OPERATIONS = _write_operations()


def _fill(path: str, ids: dict) -> str:
    """Path parameters from the owner's objects by name; a parameter this file does not know gets a fresh UUID."""
    for name in {part[1:-1] for part in path.split("/") if part.startswith("{")}:
        path = path.replace("{" + name + "}", str(ids.get(name, uuid.uuid4())))
    return path


def test_the_schema_lists_the_write_operations():
    # A sanity floor: if the generator found no writes, every test below would pass vacuously.
    assert len(WRITE_OPERATIONS) >= 20, WRITE_OPERATIONS
    assert ("post", "/api/v1/booking/hold") in WRITE_OPERATIONS


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), WRITE_OPERATIONS, ids=[f"{m.upper()} {p}" for m, p in WRITE_OPERATIONS])
def test_malformed_bodies_are_4xx_envelopes_and_change_nothing(method, path, client_for):
    world = build_world()
    url = _fill(path, world.ids)
    callers = {"admin": client_for(AdminFactory()), "student": client_for(world.owner_student)}
    before = _fingerprint()

    for role, client in callers.items():
        for name, raw, content_type, status_code, code in _bodies():
            response = client.generic(method.upper(), url, raw, content_type=content_type)
            try:
                assert_envelope(response, status_code, code)
            except AssertionError as exc:
                raise AssertionError(f"{method.upper()} {url} as {role} with {name}: {exc}") from None

    assert _fingerprint() == before
