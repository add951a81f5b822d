"""Serializer fields shared by every app."""

import datetime as dt
import re

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

_FORMAT_HINT = "YYYY-MM-DDThh:mm[:ss[.uuuuuu]] followed by Z or +HH:MM"


class OffsetDateTimeField(serializers.DateTimeField):
    """ISO 8601 datetime that must carry an offset; stored and returned in UTC.

    DRF would silently read a naive datetime in the server's zone; the SPEC
    makes that a validation error instead.
    """

    default_error_messages = {"naive": "Datetime must include a UTC offset, e.g. 2026-12-01T10:00:00Z."}

    def to_internal_value(self, value):
        if isinstance(value, dt.datetime):
            parsed = value
        elif isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is None:
                self.fail("invalid", format=_FORMAT_HINT)
        else:
            self.fail("invalid", format=_FORMAT_HINT)
        if timezone.is_naive(parsed):
            self.fail("naive")
        return parsed.astimezone(dt.UTC)


# An unencoded "+" in a query string arrives as a space: "...T10:00:00 02:00".
_SPACE_OFFSET = re.compile(r"^(\S+T\S+) (\d{2}(?::?\d{2})?)$")


class QueryOffsetDateTimeField(OffsetDateTimeField):
    """An `OffsetDateTimeField` for query strings, where an unencoded `+02:00` arrives as ` 02:00`."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            value = _SPACE_OFFSET.sub(r"\1+\2", value.strip())
        return super().to_internal_value(value)


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into text."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    """A UUID given as a string; DRF would otherwise read the integer 5 as UUID(int=5)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


@extend_schema_field({"type": "object", "additionalProperties": True})
class JsonObjectField(serializers.JSONField):
    """A JSON object (`{...}`); arrays, strings, numbers and null are refused.

    So are NUL characters and unpaired surrogates in any key or string inside it:
    PostgreSQL's jsonb cannot store them (a 500 otherwise), as DRF's CharField refuses them.
    """

    default_error_messages = {
        "not_an_object": "Must be a JSON object.",
        "unstorable_text": "Keys and strings must not contain NUL characters or unpaired surrogates.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_an_object")
        if not _storable_json_text(data):
            self.fail("unstorable_text")
        return super().to_internal_value(data)


def _storable_json_text(value) -> bool:
    """True when every string in a decoded JSON value is valid, NUL-free UTF-8 text."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True
