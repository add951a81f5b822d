"""The SPEC page: `{"items", "total", "limit", "offset"}`; out-of-range query is 400."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


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
    """Limit/offset pagination with strict bounds and one COUNT query."""

    def paginate_queryset(self, queryset, request, view=None):
        self.limit = parse_bounded_int(
            request.query_params, "limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT
        )
        self.offset = parse_bounded_int(request.query_params, "offset", default=0, minimum=0)
        self.total = queryset.count()
        if self.total == 0 or self.offset >= self.total:
            return []
        return list(queryset[self.offset : self.offset + self.limit])

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
                "schema": {"type": "integer", "minimum": 0, "default": 0},
            },
        ]


def paginated_response(*, request, view, queryset, serializer_class, context: dict | None = None):
    """Paginate a queryset and serialize the page: the one way list views answer."""
    paginator = LimitOffsetPage()
    page = paginator.paginate_queryset(queryset, request, view)
    data = serializer_class(page, many=True, context=context or {"request": request}).data
    return paginator.get_paginated_response(data)


# --- OpenAPI description of a page (drf-spectacular) ------------------------------------------

PAGE_PARAMETERS = [
    OpenApiParameter("limit", OpenApiTypes.INT, required=False, description=f"1..{MAX_LIMIT}, default {DEFAULT_LIMIT}"),
    OpenApiParameter("offset", OpenApiTypes.INT, required=False, description=">= 0, default 0"),
]

_page_serializers: dict[type, type] = {}


def page_serializer(item_serializer: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of a page of `item_serializer` items (`{"items", "total", "limit", "offset"}`)."""
    if item_serializer not in _page_serializers:
        name = item_serializer.__name__.removesuffix("Serializer") + "PageSerializer"
        _page_serializers[item_serializer] = type(
            name,
            (serializers.Serializer,),
            {
                "items": item_serializer(many=True),
                "total": serializers.IntegerField(),
                "limit": serializers.IntegerField(),
                "offset": serializers.IntegerField(),
            },
        )
    return _page_serializers[item_serializer]
