"""The one clock every service reads.

Call it as `clock.now()` (module attribute), never `from ... import now`, so
tests can move time with `monkeypatch.setattr(clock, "now", ...)` or the
`clock` fixture in the root conftest.
"""

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    """Current time, timezone-aware, in UTC."""
    return timezone.now()
