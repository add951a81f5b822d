"""`GET /metrics` (SPEC §8.6): the request series plus the school's operations gauges, for Prometheus.

The gauges are read at scrape time from the operations overview
(`apps.admin_ops.selectors.ops_overview`: four aggregate queries), so every
scrape sees the database as it is, whichever process answers. If the database
cannot answer, the request series are still served and
`guitaronline_operations_gauges_up` says 0.

Access: clients whose IP (resolved as for the rate limits: `X-Forwarded-For`
only from TRUSTED_PROXY_IPS) is in METRICS_ALLOWED_IPS, or that send
`Authorization: Bearer <METRICS_TOKEN>`. Anyone else gets the 404 envelope,
as for a URL that does not exist.
"""

import hmac
import ipaddress
import logging
import os
from functools import lru_cache

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder

from apps.admin_ops.selectors import ops_overview
from apps.common.errors import error_body
from apps.identity.ratelimits import client_ip

logger = logging.getLogger(__name__)

# ops_overview key -> (metric name, help)
OPERATIONS_GAUGES = {
    "outbox_pending": ("guitaronline_outbox_pending", "Outbox events waiting for a worker."),
    "outbox_failed_retryable": (
        "guitaronline_outbox_failed_retryable",
        "Failed outbox events that will be retried (retries < OUTBOX_WORKER_MAX_RETRIES).",
    ),
    "outbox_failed_dead_letter": (
        "guitaronline_outbox_dead_letter",
        "Dead-lettered outbox events (failed, retries >= OUTBOX_WORKER_MAX_RETRIES): an operator must requeue them.",
    ),
    "notifications_failed": ("guitaronline_notifications_failed", "Notifications whose delivery failed."),
    "stale_booking_holds": (
        "guitaronline_stale_booking_holds",
        "Holds past hold_expires_at still in hold: the expiry cron is behind or not running.",
    ),
    "overdue_active_packages": (
        "guitaronline_overdue_active_packages",
        "Active packages past expires_at: the package expiry cron is behind or not running.",
    ),
}
GAUGES_UP = "guitaronline_operations_gauges_up"


class OperationsCollector:
    """Prometheus collector of the operations gauges; the queries run when a scrape collects it."""

    def collect(self):
        try:
            overview = ops_overview(max_retries=settings.OUTBOX_WORKER_MAX_RETRIES)
        except DatabaseError:
            logger.warning("metrics: the operations gauges could not be read", exc_info=True)
            yield GaugeMetricFamily(GAUGES_UP, "1 when the operations gauges were read from the database.", value=0)
            return
        for key, (name, documentation) in OPERATIONS_GAUGES.items():
            yield GaugeMetricFamily(name, documentation, value=overview[key])
        yield GaugeMetricFamily(GAUGES_UP, "1 when the operations gauges were read from the database.", value=1)


class _ProcessRegistry:
    """This process's default registry, as one collector of the per-scrape registry."""

    def collect(self):
        yield from REGISTRY.collect()


def scrape_registry() -> CollectorRegistry:
    """What one scrape reports: every gunicorn worker's request series (or this process's), plus the gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessRegistry())
    registry.register(OperationsCollector())
    return registry


@lru_cache(maxsize=4)
def _networks(entries: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def _bearer_token_matches(request) -> bool:
    expected = settings.METRICS_TOKEN
    if not expected:  # an empty token turns token access off
        return False
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


def _ip_allowed(request) -> bool:
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    networks = _networks(tuple(settings.METRICS_ALLOWED_IPS))
    return any(address.version == network.version and address in network for network in networks)


def metrics_access_allowed(request) -> bool:
    """An allowed client IP, or the METRICS_TOKEN bearer."""
    return _ip_allowed(request) or _bearer_token_matches(request)


@csrf_exempt  # no session behind it; refusals must be our 404, not a CSRF page
def metrics(request):
    """Prometheus exposition (text format, or OpenMetrics when the scraper asks for it)."""
    if not metrics_access_allowed(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    if request.method not in ("GET", "HEAD"):
        response = JsonResponse(error_body("method_not_allowed", f'Method "{request.method}" not allowed.'), status=405)
        response["Allow"] = "GET, HEAD"
        return response
    encoder, content_type = choose_encoder(request.META.get("HTTP_ACCEPT", ""))
    return HttpResponse(encoder(scrape_registry()), content_type=content_type)
