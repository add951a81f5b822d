"""Serialize list pages straight from `values_list()` rows, with DRF's output byte for byte.

DRF builds every field of every model instance through a chain of field
objects; for a 20-row page that is most of the request's CPU. A list serializer
whose fields are all plain columns can be rendered from tuples instead:
`row_serializer_for(SlotSerializer)` inspects the DRF serializer once and
returns a function that turns a queryset into the same list of dicts. Any
serializer with a field it does not understand (method fields, nested
serializers, custom `to_representation`) gets `None`, and callers fall back to
DRF. `apps/common/tests/test_rows.py` checks parity for every list serializer.

A field that is built from several columns (a nested object read from
annotated columns, e.g. a slot's active booking) can join the fast path by
declaring them: `row_sources = ("col_a", "col_b")` and `from_row(a, b)`
returning what its `to_representation` would.
"""

import datetime as dt
from collections.abc import Callable, Mapping
from functools import cache

from rest_framework import serializers

_UTC = dt.UTC


def _iso(value):
    """DRF's ISO 8601 output in UTC: `2026-12-01T10:00:00Z` (microseconds kept when present)."""
    if value is None:
        return None
    text = value.astimezone(_UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _uuid(value):
    return None if value is None else str(value)


def _same(value):
    return value


def _converter(field: serializers.Field) -> Callable | None:
    """How to turn a column value into what `field.to_representation` would return; None if unsure."""
    if not type(field).to_representation.__module__.startswith("rest_framework."):
        return None  # a field that renders its own way is not ours to guess
    if isinstance(field, serializers.UUIDField):
        return _uuid if field.uuid_format == "hex_verbose" else None
    if isinstance(field, serializers.DateTimeField):
        return _iso if getattr(field, "format", serializers.empty) in (serializers.empty, None, "iso-8601") else None
    if isinstance(field, serializers.DecimalField):
        return lambda value, _field=field: None if value is None else _field.to_representation(value)
    if isinstance(field, (serializers.CharField, serializers.ChoiceField, serializers.IntegerField)):
        return _same
    if isinstance(field, (serializers.BooleanField, serializers.JSONField, serializers.ModelField)):
        return _same
    if type(field) is serializers.ReadOnlyField:
        return _same
    return None


@cache
def row_serializer_for(serializer_class: type[serializers.Serializer]):
    """A `rows(queryset) -> list[dict]` equivalent of `serializer_class(many=True)`, or None."""
    if serializer_class.to_representation is not serializers.Serializer.to_representation:
        return None
    sources: list[str] = []
    plan: list[tuple[str, Callable, slice | int]] = []
    for name, field in serializer_class().fields.items():
        if field.write_only:
            continue
        row_sources = getattr(field, "row_sources", None)
        if row_sources is not None:
            # several columns -> one value; the field says how (`from_row`)
            plan.append((name, field.from_row, slice(len(sources), len(sources) + len(row_sources))))
            sources.extend(row_sources)
            continue
        if isinstance(field, (serializers.BaseSerializer, serializers.SerializerMethodField)) or field.source == "*":
            return None
        converter = _converter(field)
        if converter is None:
            return None
        plan.append((name, converter, len(sources)))
        sources.append(field.source.replace(".", "__"))

    if all(isinstance(where, int) for _, _, where in plan):
        simple = tuple((name, convert) for name, convert, _ in plan)

        def rows(queryset) -> list[dict]:
            return [
                {name: convert(value) for (name, convert), value in zip(simple, row, strict=True)}
                for row in queryset.values_list(*sources)
            ]

        return rows

    def rows_with_composites(queryset) -> list[dict]:
        return [
            {
                name: convert(*row[where]) if isinstance(where, slice) else convert(row[where])
                for name, convert, where in plan
            }
            for row in queryset.values_list(*sources)
        ]

    return rows_with_composites


@cache
def object_serializer_for(serializer_class: type[serializers.Serializer]):
    """A `render(instance) -> dict` equivalent of `serializer_class(instance).data`, or None.

    The same plan as `row_serializer_for`, read from the instance's attributes
    instead of a values row: DRF's ModelSerializer builds its field objects
    again for every instance it renders, which cost a write request about a
    millisecond of CPU. Serializers `row_serializer_for` cannot render (method
    fields, nested serializers, composite fields) get None.
    """
    if row_serializer_for(serializer_class) is None:
        return None
    plan = []
    for name, field in serializer_class().fields.items():
        if field.write_only:
            continue
        if getattr(field, "row_sources", None) is not None:
            return None
        plan.append((name, _converter(field), tuple(field.source.split("."))))
    plan = tuple(plan)

    def render(instance) -> dict:
        out = {}
        for name, convert, path in plan:
            value = instance
            for attribute in path:
                value = value[attribute] if isinstance(value, Mapping) else getattr(value, attribute)
                if value is None:
                    break
            out[name] = convert(value)
        return out

    return render
