"""The one shape of every endpoint: parse the input, call one service or selector, render.

A viewset action states only what differs, in `@endpoint(...)`: its route,
input and output serializers, status and permissions. This module
does the rest once: it validates the body and the query string, hands the
action plain validated data, turns what the action returns into the answer
(an object through the output serializer, a queryset into the SPEC page, None
into an empty 204), wires the action into DRF's router (`@action` for
anything but the standard list/create/retrieve/partial_update) and writes its
OpenAPI operation.

    class BookingViewSet(ApiViewSet):
        serializer_class = BookingSerializer      # what actions render unless they say otherwise
        lookup_url_kwarg = "booking_id"

        @endpoint("post", detail=True)    # POST /booking/{booking_id}/confirm, operation booking_confirm
        def confirm(self, request, booking_id):
            # (its docstring is the operation's summary)
            return booking_confirm(actor=request.user, booking_id=booking_id)

Each app's `urls.py` is an `ApiRouter` and nothing else; every router is
mounted at `/api/v1/`, so a router's prefixes are the SPEC's section paths
(`booking`, `lessons`, `identity/auth`...).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpResponseBase
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status as http_status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.viewsets import GenericViewSet

from apps.common.pagination import PAGE_PARAMETERS, page_data, page_serializer
from apps.common.permissions import IsAdmin
from apps.common.rows import object_serializer_for
from apps.common.schema import STANDARD_ACTIONS


class ApiRouter(SimpleRouter):
    """Paths exactly as the SPEC writes them: no trailing slash, path converters (`<uuid:booking_id>`)."""

    def __init__(self):
        super().__init__(trailing_slash=False, use_regex_path=False)


@dataclass(frozen=True)
class Endpoint:
    """What one action declares; everything else is the shared shape."""

    method: str
    url_path: str | None
    detail: bool
    body: type | None
    query: type | None
    returns: Any
    status: int
    page: bool
    many: bool
    permissions: Sequence[type] | None
    schema: dict = field(default_factory=dict)


def endpoint(
    method: str = "get",
    url_path: str | None = None,
    *,
    detail: bool = False,
    body: type | None = None,
    query: type | None = None,
    returns: Any = None,
    status: int = http_status.HTTP_200_OK,
    page: bool = False,
    many: bool = False,
    permissions: Sequence[type] | None = None,
    **schema: Any,
) -> Callable:
    """Declare a viewset action; `ApiViewSet` builds it when the class is created.

    - `body` / `query`: serializers validating `request.data` / the query string;
      the action receives `body=` / `query=` as validated dicts. An empty query
      parameter (`?status=`) counts as not given.
    - `returns`: the output serializer (default: the viewset's `serializer_class`);
      `page=True` renders a returned queryset as the SPEC page (a returned dict is
      taken as an already built page, e.g. from a cache); `many=True` renders a
      plain JSON array.
    - `permissions`: permission classes of this action (default: the viewset's).
    - anything else (`parameters`, `auth`, an `operation_id` other than the
      path's, see `apps.common.schema.ApiAutoSchema`) goes to drf-spectacular's
      `extend_schema`; the action's docstring is the operation's summary.
    """

    def declare(function: Callable) -> Callable:
        function.endpoint = Endpoint(
            method=method,
            url_path=url_path,
            detail=detail,
            body=body,
            query=query,
            returns=returns,
            status=status,
            page=page,
            many=many,
            permissions=permissions,
            schema=schema,
        )
        return function

    return declare


def _validated(serializer_class: type, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _given_query_params(request) -> dict:
    return {key: value for key, value in request.query_params.items() if value != ""}


class ApiViewSet(GenericViewSet):
    """Base of every viewset: uuid lookups, per-action permissions, and `@endpoint` actions."""

    lookup_value_converter = "uuid"
    # Pages are built by `page_data` (see `endpoint(page=True)`), not by DRF's paginator hooks.
    pagination_class = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # (detail, url_path) -> the @action first declared there; a later endpoint on the same path
        # answers another method of it (`GET` and `PATCH /identity/users/me`), as DRF's `@me.mapping.patch`.
        routes: dict[tuple[bool, str], Callable] = {}
        for name, function in list(vars(cls).items()):
            spec = getattr(function, "endpoint", None)
            if not isinstance(spec, Endpoint) or hasattr(function, "mapping") or hasattr(function, "mapped_to"):
                continue
            route = (spec.detail, spec.url_path or name)
            primary = routes.get(route) if name not in STANDARD_ACTIONS else None
            built = _build_action(cls, name, function, spec, as_action=primary is None)
            if primary is not None:
                primary.mapping[spec.method] = name
                built.mapped_to = primary.__name__
            elif name not in STANDARD_ACTIONS:
                routes[route] = built
            setattr(cls, name, built)

    def get_object(self):
        """Services look objects up (with their access rules); DRF's generic lookup has no queryset here.

        Only DRF's OPTIONS metadata calls this (for a PUT route): not found, so it describes no PUT form.
        """
        raise Http404

    def get_permissions(self):
        handler = getattr(self, self.action, None) if self.action else None
        classes = getattr(handler, "endpoint_permissions", None)
        if classes is None:
            return super().get_permissions()
        return [permission() for permission in classes]


def _build_action(viewset: type, name: str, function: Callable, spec: Endpoint, *, as_action: bool) -> Callable:
    returns = spec.returns if spec.returns is not None else viewset.serializer_class

    @wraps(function)
    def run(self, request, *args, **kwargs):
        if spec.body is not None:
            kwargs["body"] = _validated(spec.body, request.data)
        if spec.query is not None:
            kwargs["query"] = _validated(spec.query, _given_query_params(request))
        result = function(self, request, *args, **kwargs)
        if isinstance(result, HttpResponseBase):  # a finished answer (a DRF Response, or e.g. a text/calendar body)
            return result
        if result is None:
            return Response(status=spec.status)
        if spec.page:
            if isinstance(result, QuerySet):
                result = page_data(request=request, queryset=result, serializer_class=returns)
            return Response(result, status=spec.status)
        if spec.many:
            return Response(returns(result, many=True).data, status=spec.status)
        # Plain-column serializers render straight from the object's attributes (apps/common/rows.py).
        render = object_serializer_for(returns)
        return Response(render(result) if render else returns(result).data, status=spec.status)

    run.endpoint_permissions = spec.permissions
    if as_action and name not in STANDARD_ACTIONS:
        run = action(detail=spec.detail, methods=[spec.method], url_path=spec.url_path or name)(run)
    return extend_schema(**_schema_of(spec, returns, function.__doc__))(run)


def _schema_of(spec: Endpoint, returns: Any, docstring: str | None) -> dict:
    """extend_schema's arguments; the summary is the docstring's first line (the docstring, its description)."""
    schema = dict(spec.schema)
    schema.setdefault("summary", (docstring or "").strip().partition("\n")[0] or None)
    if returns is None or spec.status == http_status.HTTP_204_NO_CONTENT:
        response = OpenApiResponse(description=schema.pop("response_description", "No content."))
    else:
        response = page_serializer(returns) if spec.page else returns(many=True) if spec.many else returns
    schema.setdefault("responses", {spec.status: response})
    schema.setdefault("request", spec.body)
    if "parameters" not in schema:
        schema["parameters"] = [spec.query] if spec.query is not None else []
    if spec.page:
        schema["parameters"] = [*schema["parameters"], *PAGE_PARAMETERS]
    return schema


class AdminViewSet(ApiViewSet):
    """A staff resource: every action is admin only unless it says otherwise."""

    permission_classes = [IsAdmin]
