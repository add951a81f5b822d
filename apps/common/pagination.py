"""The SPEC page: `{"items", "total", "limit", "offset"}`; out-of-range query is 400."""

from drf_spectacular.utils import OpenApiParameter, extend_schema_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from apps.common.page_cache import cached_page
from apps.common.rows import row_serializer_for

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Past this the database's OFFSET overflows (a 500); any larger offset is out of range, a 400.
MAX_OFFSET = 2**31 - 1


def parse_bounded_int(params, name: str, *, default: int, minimum: int, maximum: int | None = None) -> int:
    """Read an integer query parameter, raising a 400 naming it when malformed or out of range."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValidationError({name: ["Must be an integer."]}) from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ValidationError({name: [f"Must be {bound}."]})
    return value


class LimitOffsetPage(BasePagination):
    """Limit/offset pagination with strict bounds.

    The page is fetched first; the COUNT query runs only when the page does
    not already tell the total (a short first page is the whole list).
    """

    def read_bounds(self, request) -> None:
        self.limit = parse_bounded_int(
            request.query_params, "limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT
        )
        self.offset = parse_bounded_int(request.query_params, "offset", default=0, minimum=0, maximum=MAX_OFFSET)

    def page_of(self, queryset, fetch) -> list:
        """`fetch(sliced_queryset)` -> the page's items; sets `self.total`."""
        items = fetch(queryset[self.offset : self.offset + self.limit])
        if 0 < len(items) < self.limit or (not items and self.offset == 0):
            self.total = self.offset + len(items)
        else:
            self.total = queryset.count()
        return items

    def paginate_queryset(self, queryset, request, view=None):
        self.read_bounds(request)
        return self.page_of(queryset, list)

    def get_paginated_response(self, data):
        return Response({"items": data, "total": self.total, "limit": self.limit, "offset": self.offset})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["items", "total", "limit", "offset"],
            "properties": {
                "items": schema,
                "total": {"type": "integer", "example": 1},
                "limit": {"type": "integer", "example": DEFAULT_LIMIT},
                "offset": {"type": "integer", "example": 0},
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "limit",
                "required": False,
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            },
            {
                "name": "offset",
                "required": False,
                "in": "query",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
            },
        ]


def page_data(*, request, queryset, serializer_class, context: dict | None = None) -> dict:
    """One page of `queryset` as the SPEC's `{"items", "total", "limit", "offset"}` dict.

    Serializers made only of plain columns are rendered straight from
    `values_list()` rows (see apps/common/rows.py), with the same output.
    """
    paginator = LimitOffsetPage()
    paginator.read_bounds(request)
    rows = row_serializer_for(serializer_class)
    if rows is not None:
        items = paginator.page_of(queryset, rows)
    else:
        page = paginator.page_of(queryset, list)
        items = serializer_class(page, many=True, context=context or {"request": request}).data
    return {"items": items, "total": paginator.total, "limit": paginator.limit, "offset": paginator.offset}


def cached_page_data(*, request, scope: str, key: tuple, rows, serializer_class) -> dict:
    """`page_data` of `rows()` through the page cache (apps/common/page_cache.py) under `scope`.

    `key` holds what the page depends on besides the scope's rows (who asks,
    filters); the bounds are added here. A bad limit or offset is a 400 before
    any cache lookup. `rows` is a callable so a cache hit builds no queryset.
    """
    bounds = LimitOffsetPage()
    bounds.read_bounds(request)
    return cached_page(
        scope=scope,
        key=(*key, bounds.limit, bounds.offset),
        compute=lambda: page_data(request=request, queryset=rows(), serializer_class=serializer_class),
    )


# --- OpenAPI description of a page (drf-spectacular) ------------------------------------------


def bounded_int_parameter(
    name: str, *, default: int, minimum: int, maximum: int | None = None, description: str = ""
) -> OpenApiParameter:
    """An integer query parameter read by `parse_bounded_int`, with its bounds in the schema (not only in prose)."""
    schema = {"type": "integer", "minimum": minimum, "default": default}
    if maximum is not None:
        schema["maximum"] = maximum
    return OpenApiParameter(name, schema, required=False, description=description)


PAGE_PARAMETERS = [
    bounded_int_parameter(
        "limit",
        default=DEFAULT_LIMIT,
        minimum=1,
        maximum=MAX_LIMIT,
        description=f"1..{MAX_LIMIT}, default {DEFAULT_LIMIT}",
    ),
    bounded_int_parameter(
        "offset", default=0, minimum=0, maximum=MAX_OFFSET, description=f"0..{MAX_OFFSET}, default 0"
    ),
]

_page_serializers: dict[type, type] = {}


def page_serializer(item_serializer: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of a page of `item_serializer` items (`{"items", "total", "limit", "offset"}`)."""
    if item_serializer not in _page_serializers:
        name = item_serializer.__name__.removesuffix("Serializer") + "PageSerializer"
        # many=False: a page is one object, even as the answer of a viewset's `list` action.
        _page_serializers[item_serializer] = extend_schema_serializer(many=False)(
            type(
                name,
                (serializers.Serializer,),
                {
                    "items": item_serializer(many=True),
                    "total": serializers.IntegerField(),
                    "limit": serializers.IntegerField(),
                    "offset": serializers.IntegerField(),
                },
            )
        )
    return _page_serializers[item_serializer]
