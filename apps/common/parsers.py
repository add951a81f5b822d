"""Strict JSON request bodies: the one parser of the whole API (`DEFAULT_PARSER_CLASSES`).

The standard library's decoder accepts things a booking API must not act on:
`NaN`/`Infinity`, numbers so large they become infinity, the same key twice
(which copy wins depends on who reads it), strings PostgreSQL cannot store
(U+0000, unpaired surrogates), and nesting deep enough to exhaust the stack.
`parse_json_body` refuses each of them as a `ParseError`, which the error
envelope turns into 400 `validation_error` with the reason under `details.body`.
"""

import json
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import BaseParser

JSON_MEDIA_TYPE = "application/json"

# Our bodies nest two or three levels (a free-form `payload` object at most);
# anything deeper than this is refused before it can cost stack or CPU.
MAX_DEPTH = 32

# Where a problem of the body as a whole is reported in `details` (as the envelope does for ParseError).
BODY_FIELD = "body"

# Set on the HttpRequest by `JsonBodyMiddleware`, so the body is parsed once per request.
PARSED_BODY_ATTRIBUTE = "parsed_json_body"

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class _DuplicateKey(ValueError):
    pass


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(f"Duplicate key {key!r} in a JSON object.")
            seen.add(key)
    return obj


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"Number {text[:40]!r} is too large.")
    return value


def _unstorable_text_message(text: str) -> str | None:
    match = _UNSTORABLE.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        # Same wording as DRF's CharField, so clients see one message for one rule.
        return "Null characters are not allowed."
    return f"Surrogate characters are not allowed: U+{ord(match.group()):X}."


def _check_depth_and_text(data: dict) -> None:
    """Walk the parsed body once (without recursion): bounded depth, storable strings only.

    Unstorable text is reported under the top-level field that holds it (as DRF's
    CharField does), so the client learns which field to fix.
    """
    stack: list[tuple[Any, int, str]] = [(value, 2, key) for key, value in data.items()]
    for key in data:
        problem = _unstorable_text_message(key)
        if problem:
            raise ValidationError({BODY_FIELD: [problem]})
    while stack:
        value, depth, field = stack.pop()
        if isinstance(value, str):
            problem = _unstorable_text_message(value)
            if problem:
                raise ValidationError({field: [problem]})
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise ParseError(f"JSON is nested more than {MAX_DEPTH} levels deep.")
            if isinstance(value, dict):
                for key, item in value.items():
                    problem = _unstorable_text_message(key)
                    if problem:
                        raise ValidationError({field: [problem]})
                    stack.append((item, depth + 1, field))
            else:
                stack.extend((item, depth + 1, field) for item in value)


def parse_json_body(raw: bytes) -> dict:
    """The body as a dict, or ParseError / ValidationError (a field's unstorable text) saying what is wrong.

    UTF-8 only (RFC 8259; a declared charset is not honoured), one JSON object,
    no NaN/Infinity or numbers beyond a float's range, no duplicate keys,
    no U+0000 or unpaired surrogates in keys or strings, at most MAX_DEPTH levels.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"The body is not valid UTF-8 (byte {exc.start}).") from None
    try:
        data = json.loads(
            text,
            object_pairs_hook=_object_without_duplicate_keys,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except RecursionError:
        raise ParseError(f"JSON is nested more than {MAX_DEPTH} levels deep.") from None
    except _DuplicateKey as exc:
        raise ParseError(str(exc)) from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, huge numbers, >4300-digit integers
        raise ParseError(f"JSON parse error: {exc}") from None
    if not isinstance(data, dict):
        raise ParseError("The body must be a JSON object.")
    _check_depth_and_text(data)
    return data


def read_limited(stream) -> bytes:
    """Read a body stream; longer than DATA_UPLOAD_MAX_MEMORY_SIZE raises Django's RequestDataTooBig (413)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    raw = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(raw) > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    return raw


class StrictJSONParser(BaseParser):
    """DRF parser for `application/json` built on `parse_json_body`.

    Under `/api/` the middleware has already parsed the body (it refuses bad
    bodies even for actions that never read them); elsewhere this parses it.
    """

    media_type = JSON_MEDIA_TYPE

    def parse(self, stream, media_type=None, parser_context=None):
        drf_request = (parser_context or {}).get("request")
        http_request = getattr(drf_request, "_request", None)
        if http_request is not None and hasattr(http_request, PARSED_BODY_ATTRIBUTE):
            return getattr(http_request, PARSED_BODY_ATTRIBUTE)
        if stream is None:
            return {}
        return parse_json_body(read_limited(stream))
