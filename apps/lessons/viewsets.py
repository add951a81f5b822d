"""Lesson endpoints (SPEC §3 Lessons, relative to /api/v1) and calendar feeds (SPEC §8.5).

`POST /lessons` is booking's (it locks the booking).
"""

import hashlib

from django.http import HttpResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny

from apps.common.pagination import cached_page_data
from apps.common.viewsets import ApiViewSet, endpoint
from apps.lessons.calendar import calendar_feed_ics
from apps.lessons.selectors import lesson_list_for, lesson_list_scope
from apps.lessons.serializers import (
    CalendarFeedSerializer,
    LessonListQuerySerializer,
    LessonSerializer,
    LessonUpdateSerializer,
)
from apps.lessons.services import calendar_feed_get_or_create, calendar_feed_rotate, lesson_update

ICALENDAR_CONTENT_TYPE = "text/calendar; charset=utf-8"


class LessonViewSet(ApiViewSet):
    serializer_class = LessonSerializer
    lookup_url_kwarg = "lesson_id"

    @endpoint(query=LessonListQuerySerializer, page=True)
    def my(self, request, query):
        """Your lessons (all for an admin), newest scheduled first; filter by start time and status."""
        filters = {"start_from": query.get("from"), "start_to": query.get("to"), "status": query.get("status")}
        scope, who = lesson_list_scope(user=request.user)
        return cached_page_data(
            request=request,
            scope=scope,
            key=(*who, *filters.values()),
            rows=lambda: lesson_list_for(user=request.user, **filters),
            serializer_class=LessonSerializer,
        )

    @endpoint(body=LessonUpdateSerializer)
    def partial_update(self, request, lesson_id, body):
        """Complete / mark no-show, or write topic, notes and homework (admin or the lesson's teacher)."""
        return lesson_update(actor=request.user, lesson_id=lesson_id, data=body)


def _feed_url(request, feed) -> dict:
    """The feed's absolute URL, on the host and scheme the caller reached us by."""
    return {"url": request.build_absolute_uri(reverse("calendar-ics", kwargs={"token": feed.token}))}


class CalendarFeedViewSet(ApiViewSet):
    """The caller's secret calendar URL (any signed-in user)."""

    serializer_class = CalendarFeedSerializer

    @endpoint("get", "feed")
    def feed(self, request):
        """Your secret calendar feed URL: subscribe to it in Google, Apple or Outlook calendar."""
        return _feed_url(request, calendar_feed_get_or_create(user=request.user))

    @endpoint("post", "feed/rotate")
    def feed_rotate(self, request):
        """Replace your calendar feed URL with a new one; the old one stops working at once."""
        return _feed_url(request, calendar_feed_rotate(user=request.user))


class FirstRendererNegotiation(BaseContentNegotiation):
    """Errors leave as the JSON envelope whatever a calendar client sends in `Accept` (DRF never renders the feed)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class CalendarIcsViewSet(ApiViewSet):
    """`GET /calendar/<token>.ics`: public by design. The secret token in the path is the only credential
    (calendar apps cannot log in), so no Authorization header is read; an unknown token is a 404."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    content_negotiation_class = FirstRendererNegotiation

    @endpoint(
        "get",
        "<slug:token>.ics",
        parameters=[
            OpenApiParameter(
                "token",
                str,
                OpenApiParameter.PATH,
                required=True,
                pattern=r"^[-A-Za-z0-9_]+$",
                description="The feed's secret, from `GET /calendar/feed`.",
            )
        ],
        responses={
            (200, "text/calendar"): OpenApiResponse(OpenApiTypes.STR, description="The calendar (RFC 5545)."),
            304: OpenApiResponse(description="Not modified since the ETag sent in If-None-Match."),
        },
    )
    def ics(self, request, token):
        """The calendar of the feed's owner (no login): their lessons from 30 days back on, as iCalendar."""
        return _ics_response(request, calendar_feed_ics(token=token))


def _ics_response(request, body: bytes) -> HttpResponse:
    """The feed with a content ETag: a client that already has these bytes gets a bodiless 304."""
    response = HttpResponse(body, content_type=ICALENDAR_CONTENT_TYPE)
    response["ETag"] = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    # Private: the URL is a secret. no-cache: revalidate each time (a 304 when nothing changed).
    patch_cache_control(response, private=True, no_cache=True)
    return get_conditional_response(request, etag=response["ETag"], response=response)
