"""Request metrics for Prometheus (SPEC §8.6), recorded by one middleware.

prometheus-client keeps the numbers. Under gunicorn (gunicorn.conf.py sets
PROMETHEUS_MULTIPROC_DIR before the app is imported) each worker process
writes its counters to its own file in that directory and `/metrics` sums
every file, so a scrape answered by any worker reports the whole server.
Without the variable (runserver, tests, commands) the numbers live in this
process's default registry.

Labels are bounded: `route` is the matched URL pattern
(`/api/v1/booking/<uuid:booking_id>/confirm`), never the raw path with its
ids; "unmatched" for paths that match no pattern, "static" for static files.
"""

import time

from django.conf import settings
from django.db import connection
from django.urls import Resolver404, get_resolver
from prometheus_client import Counter, Histogram

UNMATCHED_ROUTE = "unmatched"
STATIC_ROUTE = "static"
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "guitaronline_http_requests",
    "HTTP requests answered, by route pattern, method and status code.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "guitaronline_http_request_duration_seconds",
    "Time from the first middleware to the response, by route pattern, method and status code.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DB_QUERIES = Counter(
    "guitaronline_db_queries",
    "Database queries run while answering requests, by route pattern and method.",
    ["route", "method"],
)


def route_label(request) -> str:
    """The URL pattern the request matched (resolved here when a middleware answered before the view)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        if request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return STATIC_ROUTE
        try:
            match = get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info)
        except Resolver404:
            return UNMATCHED_ROUTE
    return "/" + match.route


def method_label(request) -> str:
    return request.method if request.method in _KNOWN_METHODS else "other"


class _QueryCounter:
    """A connection.execute_wrapper that counts the queries of one request."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class RequestMetricsMiddleware:
    """Counts and times every response, and the database queries behind it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        queries = _QueryCounter()
        started = time.perf_counter()
        with connection.execute_wrapper(queries):
            response = self.get_response(request)
        elapsed = time.perf_counter() - started
        route, method = route_label(request), method_label(request)
        status = str(response.status_code)
        REQUESTS.labels(route, method, status).inc()
        LATENCY.labels(route, method, status).observe(elapsed)
        if queries.count:
            DB_QUERIES.labels(route, method).inc(queries.count)
        return response
