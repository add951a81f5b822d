"""List pages cached under a generation per scope, bumped when a write that changes the list commits.

A scope names the rows one list shows: `bookings:<user id>` (a student's or a
teacher's bookings), `bookings:all` (what admins list), `packages:<student
id>`... Each app names its scopes and says which ones a write changes; this
module knows nothing about domains.

- **Writes** call `scopes_changed(*scopes)` inside their transaction. When it
  commits (`transaction.on_commit`: inside the request, before the response is
  sent), each scope's generation is replaced by a new random token, in one
  round trip. A rolled-back write bumps nothing.
- **Reads** call `cached_page(scope=..., key=..., compute=...)`: the scope's
  generation and the page entry come back in one `MGET`, and the entry counts
  only if it was filed under the current generation. Otherwise the page is
  computed and filed under the generation read *before* computing it, so a
  page computed from data older than a commit is filed under the generation
  that commit retires. A read right after a write's response therefore sees
  the write.
- Tokens are random, never counters: a generation that expires or is evicted
  comes back as a new token, never as an old value some stale page was filed
  under.
- `PAGE_SECONDS` is only a safety net (a bump lost while the cache was
  unreachable); the lists cached with it change only through writes, never
  with the clock.
- A read inside a transaction (`atomic()`) is computed and not cached: it may
  see the transaction's own uncommitted rows, which must not be published,
  and its own writes have not bumped anything yet. Requests run in autocommit
  (`ATOMIC_REQUESTS` is off), so list endpoints always use the cache.
- The cache is an optimisation: when it fails, reads compute the page and
  writes log a warning (pages may then lag by up to `PAGE_SECONDS`).

Every process that writes (app servers, the outbox worker, cron commands)
must share the cache (`REDIS_URL`), or its bumps reach no reader.
"""

import hashlib
import logging
import secrets
import uuid
from collections.abc import Callable, Iterable

from django.core.cache import cache
from django.db import connection, transaction

logger = logging.getLogger(__name__)

PAGE_SECONDS = 60
# Long enough to keep pages useful, short enough not to keep one key per user for ever.
GENERATION_SECONDS = 24 * 3600
ALL = "all"

# Test hooks (tests/page_cache_guard.py): called with (scope, key, page, compute) on every cache hit,
# and with the scopes of every `scopes_changed` call. None in production.
on_hit: Callable[[str, tuple, dict, Callable[[], dict]], None] | None = None
on_change: Callable[[tuple[str, ...]], None] | None = None


def _generation_key(scope: str) -> str:
    return f"pages:generation:{scope}"


def _page_key(scope: str, key: tuple) -> str:
    digest = hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()
    return f"pages:{scope}:{digest}"


def _new_token() -> str:
    return secrets.token_hex(8)


def _bump(scopes: tuple[str, ...]) -> None:
    try:
        cache.set_many({_generation_key(scope): _new_token() for scope in scopes}, GENERATION_SECONDS)
    except Exception as exc:
        logger.warning("page cache generations %s not bumped (pages may lag %ss): %s", scopes, PAGE_SECONDS, exc)


def scopes_changed(*scopes: str) -> None:
    """Call inside the transaction of a write that changes what these scopes list: bumped when it commits."""
    scopes = tuple(dict.fromkeys(scope for scope in scopes if scope))
    if not scopes:
        return
    if on_change is not None:
        on_change(scopes)
    transaction.on_commit(lambda: _bump(scopes))


def _current_generation(found: dict, scope: str):
    generation = found.get(_generation_key(scope))
    if generation is not None:
        return generation
    token = _new_token()
    if cache.add(_generation_key(scope), token, GENERATION_SECONDS):
        return token
    return cache.get(_generation_key(scope))  # another reader or a writer set it first


def cached_page(*, scope: str, key: tuple, compute: Callable[[], dict]) -> dict:
    """The page of `scope` identified by `key` (filters, bounds, who asks) from the cache, or `compute()` it.

    One round trip on a hit. `key` must hold everything the page depends on
    besides the scope's rows.
    """
    if connection.in_atomic_block:
        return compute()
    page_key = _page_key(scope, key)
    try:
        found = cache.get_many([_generation_key(scope), page_key])
        generation = _current_generation(found, scope)
    except Exception as exc:  # the cache is an optimisation; reads must not fail with it
        logger.warning("page cache unavailable: %s", exc)
        return compute()
    entry = found.get(page_key)
    if generation is not None and entry is not None and entry[0] == generation:
        if on_hit is not None:
            on_hit(scope, key, entry[1], compute)
        return entry[1]
    page = compute()
    if generation is not None:
        try:
            cache.set(page_key, (generation, page), PAGE_SECONDS)
        except Exception as exc:
            logger.warning("page not cached: %s", exc)
    return page


# --- lists of two-party rows (student_id, teacher_id): see apps.common.queries.participant_rows ---


def _id(value) -> str:
    """A row id as the canonical UUID text, however it was given (UUID, or a string in any case)."""
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


def participant_scope(name: str, *, user) -> tuple[str, tuple]:
    """(scope, key part) of the `name` list `user` sees: all rows for an admin, else their own.

    The key part carries the role, because the rows a user sees depend on it.
    """
    if user.is_admin:
        return f"{name}:{ALL}", (name, ALL)
    role = "teacher" if user.is_teacher else "student"
    user_id = _id(user.pk)
    return f"{name}:{user_id}", (name, role, user_id)


def participant_scopes(name: str, *, student_id, teacher_id) -> tuple[str, ...]:
    """The scopes a change to one two-party row touches: its student's, its teacher's and the admins' list."""
    return (f"{name}:{_id(student_id)}", f"{name}:{_id(teacher_id)}", f"{name}:{ALL}")


def user_scopes(name: str, user_ids: Iterable) -> tuple[str, ...]:
    """The scopes of per-user lists (`notifications:<user id>`) for these users."""
    return tuple(f"{name}:{_id(user_id)}" for user_id in user_ids)
