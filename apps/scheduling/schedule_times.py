"""A weekly schedule's arithmetic: "HH:MM" windows, their rules, and cutting them into UTC slot times.

Pure functions (no database), so the rules read in one place and the
daylight-saving cases are easy to reason about.

How a window becomes slots, on every local date of the range whose weekday matches:

- the window is cut, in local wall-clock time, into `slot_minutes` pieces from
  its start; minutes left at its end that do not fill a slot make no slot;
- a slot's start is converted to UTC *on that date* with the schedule's zone
  (zoneinfo), so a daylight-saving change moves the UTC time, never the local one;
- a start that does not exist that day (the hour skipped when clocks spring
  forward) makes no slot; a start that happens twice (the hour repeated when
  clocks fall back) is taken at its first occurrence (`fold=0`);
- a slot lasts `slot_minutes` of real time, and is kept only if it is over
  before its wall-clock end: on the spring-forward night a slot whose local end
  falls into or past the skipped hour would run into the next slot, so it
  makes no slot either. On the fall-back night the slot starting in the
  repeated hour is made once, and the second pass through that hour has none.

Kept slots of one schedule therefore never overlap each other, and each one
lies inside its window in real time.
"""

import re
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

MINUTES_PER_DAY = 24 * 60
MAX_WINDOWS = 84
SLOT_MINUTES_MIN, SLOT_MINUTES_MAX, SLOT_MINUTES_DEFAULT = 15, 240, 60
MAX_GENERATE_DAYS = 92
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

START_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
END_PATTERN = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
_START = re.compile(START_PATTERN)
_END = re.compile(END_PATTERN)
_ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, order=True)
class Window:
    """One weekly window: `weekday` (0 = Monday) from `start_minute` to `end_minute` (minutes after local midnight)."""

    weekday: int
    start_minute: int
    end_minute: int

    def label(self) -> str:
        return f"{WEEKDAY_NAMES[self.weekday]} {hhmm(self.start_minute)}-{hhmm(self.end_minute)}"


def hhmm(minutes: int) -> str:
    """Minutes after midnight as "HH:MM" (1440 is "24:00", the midnight that ends the day)."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def minutes_of(value: str, *, end: bool = False) -> int | None:
    """ "HH:MM" as minutes after midnight, or None if malformed ("24:00" only as an end)."""
    if not isinstance(value, str) or not (_END if end else _START).fullmatch(value):
        return None
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_time_zone(name) -> bool:
    """Whether `name` is an IANA time zone name this system knows."""
    return isinstance(name, str) and name in _zone_names()


def schedule_problems(*, windows: Iterable[Window], slot_minutes, timezone) -> dict[str, list | dict]:
    """Field -> messages for everything wrong with a schedule ({} when it is valid).

    `windows` problems are keyed by the window's position in the list, as DRF
    reports a list's items: {"windows": {"3": ["..."]}}.
    """
    problems: dict[str, list | dict] = {}
    if not is_time_zone(timezone):
        problems["timezone"] = ["Must be an IANA time zone name, e.g. Europe/Berlin."]
    if not isinstance(slot_minutes, int) or not SLOT_MINUTES_MIN <= slot_minutes <= SLOT_MINUTES_MAX:
        problems["slot_minutes"] = [f"Must be between {SLOT_MINUTES_MIN} and {SLOT_MINUTES_MAX}."]
        slot_minutes = None
    windows = list(windows)
    if len(windows) > MAX_WINDOWS:
        problems["windows"] = [f"At most {MAX_WINDOWS} windows."]
        return problems
    by_window: dict[str, list[str]] = {}
    for index, window in enumerate(windows):
        messages = []
        if not 0 <= window.weekday <= 6:
            messages.append("weekday must be 0 (Monday) to 6 (Sunday).")
        if not 0 <= window.start_minute < MINUTES_PER_DAY or not 0 < window.end_minute <= MINUTES_PER_DAY:
            messages.append("start must be 00:00..23:59 and end 00:01..24:00.")
        elif window.end_minute <= window.start_minute:
            messages.append("end must be after start.")
        elif slot_minutes is not None and window.end_minute - window.start_minute < slot_minutes:
            messages.append(f"A window must be at least slot_minutes ({slot_minutes}) long to hold a slot.")
        if messages:
            by_window[str(index)] = messages
    reaching: tuple[Window, int] | None = None  # of the windows so far on this weekday, the one ending last
    for window, index in sorted((w, i) for i, w in enumerate(windows) if str(i) not in by_window):
        if reaching is not None and reaching[0].weekday == window.weekday:
            if window.start_minute < reaching[0].end_minute:
                by_window.setdefault(str(index), []).append(
                    f"{window.label()} overlaps window {reaching[1]} ({reaching[0].label()})."
                )
            if window.end_minute <= reaching[0].end_minute:
                continue
        reaching = (window, index)
    if by_window:
        problems["windows"] = dict(sorted(by_window.items(), key=lambda item: int(item[0])))
    return problems


def generate_range_problems(*, from_date: date, to_date: date, today: date) -> dict[str, list]:
    """Field -> messages for a `generate` date range ({} when it is valid)."""
    if to_date < from_date:
        return {"to_date": ["Must not be earlier than from_date."]}
    if (to_date - from_date).days + 1 > MAX_GENERATE_DAYS:
        return {"to_date": [f"At most {MAX_GENERATE_DAYS} days from from_date (both inclusive)."]}
    # Bounds that keep every date arithmetic far from datetime's limits (and catch typos like 2207).
    if from_date < today - timedelta(days=366):
        return {"from_date": ["Must be no more than a year in the past."]}
    if to_date > today + timedelta(days=731):
        return {"to_date": ["Must be no more than two years ahead."]}
    return {}


def _local_to_utc(wall: datetime, zone: zoneinfo.ZoneInfo) -> datetime | None:
    """A naive local time as UTC at its first occurrence (fold=0); None when it does not exist that day."""
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None  # a spring-forward gap: zoneinfo would shift it to a different wall time
    return instant


def slot_times(
    *, windows: Iterable[Window], timezone: str, slot_minutes: int, from_date: date, to_date: date
) -> Iterator[tuple[datetime, datetime]]:
    """(start, end) in UTC of every slot the windows make from `from_date` to `to_date` (local, inclusive).

    Yields in local date order, each day's windows in order; see the module docstring for the rules.
    """
    zone = zoneinfo.ZoneInfo(timezone)
    length = timedelta(minutes=slot_minutes)
    by_weekday: dict[int, list[Window]] = {}
    for window in sorted(windows):
        by_weekday.setdefault(window.weekday, []).append(window)
    day = from_date
    while day <= to_date:
        midnight = datetime.combine(day, time())
        for window in by_weekday.get(day.weekday(), ()):
            minute = window.start_minute
            while minute + slot_minutes <= window.end_minute:
                wall_start = midnight + timedelta(minutes=minute)
                wall_end = wall_start + length
                minute += slot_minutes
                start = _local_to_utc(wall_start, zone)
                if start is None:
                    continue
                end = start + length
                # Its last instant must come before its wall-clock end: false only when a spring-forward
                # gap inside the slot would make it run on into the next one.
                if (end - _ONE_MICROSECOND).astimezone(zone).replace(tzinfo=None) >= wall_end:
                    continue
                yield start, end
        day += timedelta(days=1)
