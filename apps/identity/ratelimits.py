"""Per-client-IP rate limits for the auth endpoints (SPEC §3, Identity) and the admin's staff login (§8.6).

Counters live in the Django cache (Redis in production, shared by every
worker and host) through django-ratelimit. The client IP is the socket peer;
`X-Forwarded-For` is believed only when the peer is one of our own proxies
(`TRUSTED_PROXY_IPS`), so a client cannot pick a fresh IP per request by
forging the header.
"""

import ipaddress
import logging
from functools import lru_cache

from django.conf import settings
from django_ratelimit.core import get_usage

from apps.common.errors import RateLimited

logger = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# IPv6 clients usually own a whole /64; counting per address would let one
# client rotate through 2^64 of them.
IPV6_KEY_PREFIX = 64


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    networks = []
    for entry in entries:
        entry = entry.strip()
        if entry:
            networks.append(ipaddress.ip_network(entry, strict=False))
    return tuple(networks)


def trusted_proxy_networks() -> tuple[IPNetwork, ...]:
    """`settings.TRUSTED_PROXY_IPS` (IPs or CIDRs, list or comma-separated string), parsed."""
    raw = getattr(settings, "TRUSTED_PROXY_IPS", ()) or ()
    if isinstance(raw, str):
        raw = raw.split(",")
    return _networks(tuple(raw))


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _is_trusted(address, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def client_ip(request) -> str:
    """The address the limits count against.

    The socket peer (`REMOTE_ADDR`), unless that peer is a trusted proxy: then
    the right-most `X-Forwarded-For` entry that is not itself a trusted proxy
    (entries to its left were written by the client and prove nothing).
    """
    peer = request.META.get("REMOTE_ADDR", "") or ""
    peer_address = _parse_ip(peer)
    networks = trusted_proxy_networks()
    if peer_address is None or not networks or not _is_trusted(peer_address, networks):
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    nearest = peer_address
    for entry in reversed([part for part in forwarded.split(",") if part.strip()]):
        address = _parse_ip(entry)
        if address is None:
            # Garbage where our proxy should have written an address: stop at
            # the last hop we can vouch for.
            break
        if not _is_trusted(address, networks):
            return str(address)
        nearest = address
    return str(nearest)


def _rate_limit_key(group: str, request) -> str:
    ip = client_ip(request)
    address = _parse_ip(ip)
    if address is not None and address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_KEY_PREFIX}", strict=False).network_address)
    return ip


def _limit_for(scope: str) -> tuple[int, int]:
    limit = int(getattr(settings, f"AUTH_RATE_LIMIT_{scope.upper()}_REQUESTS"))
    window = int(settings.AUTH_RATE_LIMIT_WINDOW_SECONDS)
    return limit, window


def enforce_auth_rate_limit(request, *, scope: str) -> None:
    """Count this attempt against the client's `scope` budget; raise RateLimited (429) when over.

    Call it first thing in the view so every attempt counts, refused ones
    included. If the cache cannot count, refuse (fail closed): an attacker
    must not get unlimited guesses while Redis is down.
    """
    limit, window = _limit_for(scope)
    try:
        usage = get_usage(
            request,
            group=f"auth:{scope}",
            key=_rate_limit_key,
            rate=f"{limit}/{window}s",
            increment=True,
        )
    except Exception:  # the cache backend itself failed (e.g. Redis unreachable)
        logger.exception("rate-limit cache unavailable; refusing %s", scope)
        raise RateLimited(retry_after=1) from None
    if usage is None:  # RATELIMIT_ENABLE is off
        return
    if usage["should_limit"]:
        # django-ratelimit's bucket still counts at its last second (time_left == 0),
        # so the honest wait is one second more than time_left.
        raise RateLimited(retry_after=max(int(usage["time_left"]) + 1, 1))
