"""A short-lived cache of the public open-slot pages, invalidated by every slot change.

The open-slot list is the hottest read (anonymous, the same for everyone) and
changes only when a slot changes. Every slot write goes through
`apps.scheduling.services`, which calls `open_slots_changed()`: when the
transaction commits, a generation number in the cache is bumped, and since it
is part of every page's key, the next read recomputes. A hold, confirm, cancel
or new slot is therefore visible to the first read after its commit.

What no write signals is the clock: a slot leaves the list when it starts. A
cached page therefore lives at most `CACHE_SECONDS`; for that long a slot that
has just started may still be listed (holding it answers 422, as for any slot
that is no longer open).

The generation is read *before* the page is computed, so a page computed from
data older than a commit is filed under the generation that commit retired.
If the cache is unreachable, pages are computed every time.
"""

import hashlib
import logging
from collections.abc import Callable

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

GENERATION_KEY = "scheduling:open-slots:generation"
CACHE_SECONDS = 2


def _generation() -> int | None:
    try:
        generation = cache.get(GENERATION_KEY)
        if generation is None:
            cache.add(GENERATION_KEY, 1, timeout=None)
            generation = cache.get(GENERATION_KEY, 1)
        return generation
    except Exception as exc:  # the cache is an optimisation; reads must not fail with it
        logger.warning("open-slot cache unavailable: %s", exc)
        return None


def _bump() -> None:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # no generation yet: nothing can be cached under an old one
        cache.add(GENERATION_KEY, 1, timeout=None)
    except Exception as exc:
        logger.warning("open-slot cache generation not bumped (pages may lag %ss): %s", CACHE_SECONDS, exc)


def open_slots_changed() -> None:
    """Call inside any transaction that changes a slot: pages are recomputed after it commits."""
    transaction.on_commit(_bump)


def cached_open_slot_page(key_parts: tuple, compute: Callable[[], dict]) -> dict:
    """The page for `key_parts` from the cache, or `compute()` it and keep it for CACHE_SECONDS."""
    generation = _generation()
    if generation is None:
        return compute()
    digest = hashlib.blake2b(repr(key_parts).encode(), digest_size=16).hexdigest()
    key = f"scheduling:open-slots:{generation}:{digest}"
    try:
        page = cache.get(key)
    except Exception:
        page = None
    if page is None:
        page = compute()
        try:
            cache.set(key, page, CACHE_SECONDS)
        except Exception as exc:
            logger.warning("open-slot page not cached: %s", exc)
    return page
