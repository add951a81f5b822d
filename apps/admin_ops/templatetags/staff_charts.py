"""`{% bar_chart %}`: a small bar chart as inline SVG, drawn on the server (no script, no CDN).

Accessible: the SVG has a <title> and <desc> (the numbers in words), every bar its own
<title>, and the same numbers come as a table under the chart.
"""

import math
from dataclasses import dataclass
from decimal import Decimal

from django import template

from apps.admin_ops.selectors import PeriodValue

register = template.Library()

WIDTH, HEIGHT = 400, 190
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 18, 40
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
BAR_SHARE = 0.66  # of each period's width; the rest is the gap between bars


@dataclass(frozen=True)
class Bar:
    label: str
    sublabel: str  # under the label where it changes: the month under week days, the year under months
    full_label: str
    value_text: str
    short_value: str
    x: float
    center: float
    y: float
    value_y: float
    width: float
    height: float


@dataclass(frozen=True)
class GridLine:
    y: float
    label: str


def nice_ceiling(value: float) -> float:
    """The chart's top: the smallest 1, 2, 4, 6 or 8 x 10^k at or above `value`, at least 2.

    Those steps keep the middle grid line a round number (a count of 3, not 2.5).
    """
    if value <= 2:
        return 2
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 4, 6, 8, 10) if step * magnitude >= value)


def _number(value, *, money: bool) -> str:
    return f"{value:,.2f}" if money else f"{value:,}"


def _short(value, *, money: bool) -> str:
    """A label narrow enough to sit over a bar: 950, 1.2k, 12k, 1.5M."""
    value = float(value)
    for limit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if abs(value) >= limit:
            scaled = value / limit
            return f"{scaled:.1f}".rstrip("0").rstrip(".") + suffix if scaled < 10 else f"{scaled:.0f}{suffix}"
    return f"{value:.0f}" if not money or value == int(value) else f"{value:.2f}"


def _axis_labels(starts: list, period: str) -> list[tuple[str, str, str]]:
    """(label, sublabel, full label) per bar; the sublabel only where it changes, so the axis stays narrow."""
    labels, previous = [], None
    for start in starts:
        if period == "month":
            label, sub, full = start.strftime("%b"), str(start.year), start.strftime("%B %Y")
        else:
            label, sub, full = str(start.day), start.strftime("%b"), f"week of {start.day} {start.strftime('%b %Y')}"
        labels.append((label, sub if sub != previous else "", full))
        previous = sub
    return labels


@register.inclusion_tag("admin_ops/bar_chart.html")
def bar_chart(
    points: list[PeriodValue], *, chart_id: str, title: str, period: str, value_label: str, caption: str = ""
):
    """Bars for `points` (oldest first); `period` is "week" or "month"; money when the values are Decimal."""
    money = any(isinstance(point.value, Decimal) for point in points)
    top = nice_ceiling(float(max((point.value for point in points), default=0)))
    step = PLOT_WIDTH / max(len(points), 1)
    bar_width = step * BAR_SHARE
    bars = []
    labels = _axis_labels([point.start for point in points], period)
    for index, (point, (label, sublabel, full_label)) in enumerate(zip(points, labels, strict=True)):
        height = PLOT_HEIGHT * float(point.value) / top
        x = LEFT + index * step + (step - bar_width) / 2
        bars.append(
            Bar(
                label=label,
                sublabel=sublabel,
                full_label=full_label,
                value_text=_number(point.value, money=money),
                short_value=_short(point.value, money=money) if point.value else "",
                x=round(x, 1),
                center=round(x + bar_width / 2, 1),
                y=round(TOP + PLOT_HEIGHT - height, 1),
                value_y=round(TOP + PLOT_HEIGHT - height - 4, 1),
                width=round(bar_width, 1),
                height=round(height, 1),
            )
        )
    grid = [
        GridLine(y=round(TOP + PLOT_HEIGHT * (1 - share), 1), label=_short(top * share, money=money))
        for share in (0, 0.5, 1)
    ]
    total = sum((point.value for point in points), Decimal(0) if money else 0)
    return {
        "chart_id": chart_id,
        "title": title,
        "value_label": value_label,
        "caption": caption,
        "bars": bars,
        "grid": grid,
        "total": _number(total, money=money),
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "axis_x": LEFT - 6,
        "right": WIDTH - RIGHT,
        "label_y": HEIGHT - BOTTOM + 14,
        "sublabel_y": HEIGHT - BOTTOM + 27,
        "period": period,
    }
