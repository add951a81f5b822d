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
    """The page for `key_parts` from the cache, or `compute()` it and keep it for CACHE_SECONDS.

    One round trip on a hit: the generation and the page entry are read
    together (MGET), and an entry counts only if it was filed under the
    current generation.
    """
    digest = hashlib.blake2b(repr(key_parts).encode(), digest_size=16).hexdigest()
    key = f"scheduling:open-slots:{digest}"
    try:
        found = cache.get_many([GENERATION_KEY, key])
        generation = found.get(GENERATION_KEY)
        if generation is None:
            cache.add(GENERATION_KEY, 1, timeout=None)
            generation = cache.get(GENERATION_KEY, 1)
    except Exception as exc:  # the cache is an optimisation; reads must not fail with it
        logger.warning("open-slot cache unavailable: %s", exc)
        return compute()
    entry = found.get(key)
    if entry is not None and entry[0] == generation:
        return entry[1]
    page = compute()
    try:
        cache.set(key, (generation, page), CACHE_SECONDS)
    except Exception as exc:
        logger.warning("open-slot page not cached: %s", exc)
    return page
