"""Reserve value against token supply over time, drawn on the server as inline SVG.

No JavaScript and nothing fetched from elsewhere: the page works offline and prints. Coordinates
are computed in Decimal like every other figure here and rounded to a tenth of a pixel.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from ..models import ReserveSnapshot
from ..selectors import TOKEN_UNIT

WIDTH, HEIGHT = 760, 330
# Room for the y-axis labels on the left, the legend above and the time labels below.
LEFT, RIGHT, TOP, BOTTOM = 84, 24, 44, 56
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
Y_TICKS = 4
PIXEL = Decimal("0.1")
VALUE_COLOUR, SUPPLY_COLOUR = "#b8860b", "#1f5fa8"


def px(value: Decimal | int) -> str:
    return f"{Decimal(value).quantize(PIXEL, rounding=ROUND_HALF_UP):f}"


def nice_top(highest: Decimal) -> Decimal:
    """The smallest 1, 2, 2.5 or 5 x 10^n at or above `highest`, so the ticks are round numbers."""
    if highest <= 0:
        return Decimal(1)
    magnitude = Decimal(10) ** highest.adjusted()
    for step in (1, 2, Decimal("2.5"), 5, 10):
        if step * magnitude >= highest:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always ends at 10


def _usd_label(amount: Decimal) -> str:
    for size, suffix in ((Decimal(10) ** 12, "T"), (Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"),
                         (Decimal(10) ** 3, "k")):
        if amount >= size:
            return f"${(amount / size).normalize():f}{suffix}"
    return f"${amount.normalize():f}"


def _x_positions(moments: Sequence[datetime]) -> list[Decimal]:
    """Proportional to time; evenly spaced if every snapshot carries the same time."""
    span = (moments[-1] - moments[0]) // timedelta(microseconds=1)
    if span <= 0:
        return [LEFT + Decimal(PLOT_W) * i / (len(moments) - 1) for i in range(len(moments))]
    return [LEFT + Decimal(PLOT_W) * ((m - moments[0]) // timedelta(microseconds=1)) / span for m in moments]


def _y(amount: Decimal, top: Decimal) -> Decimal:
    return TOP + PLOT_H - Decimal(PLOT_H) * amount / top


def _time_format(first: datetime, last: datetime) -> str:
    """Seconds only when the whole history spans minutes, so the labels never all read the same."""
    return "%Y-%m-%d %H:%M:%S" if last - first < timedelta(minutes=10) else "%Y-%m-%d %H:%M"


def reserve_chart_svg(snapshots: Sequence[ReserveSnapshot]) -> SafeString | None:
    """Two polylines (reserve value in USD, total supply in tokens = USD) over the snapshots given,
    oldest first; None below two snapshots, where a line cannot be drawn."""
    if len(snapshots) < 2:
        return None
    values = [s.value_usd for s in snapshots]
    supplies = [Decimal(s.total_supply) / TOKEN_UNIT for s in snapshots]  # 1 token = 1 USD
    top = nice_top(max(*values, *supplies))
    xs = _x_positions([s.taken_at for s in snapshots])

    def points(series: list[Decimal]) -> str:
        return " ".join(f"{px(x)},{px(_y(v, top))}" for x, v in zip(xs, series, strict=True))

    ticks = [top * i / Y_TICKS for i in range(Y_TICKS + 1)]
    grid = format_html_join(
        "", '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
            '<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>',
        ((LEFT, LEFT + PLOT_W, px(_y(t, top)), px(_y(t, top)), LEFT - 8, px(_y(t, top) + 4), _usd_label(t))
         for t in ticks),
    )
    labelled = {0: "start", len(snapshots) // 2: "middle", len(snapshots) - 1: "end"}
    time_format = _time_format(snapshots[0].taken_at, snapshots[-1].taken_at)
    time_labels = format_html_join(
        "", '<text class="tick" x="{}" y="{}" text-anchor="{}">{}</text>',
        ((px(xs[i]), TOP + PLOT_H + 18, anchor, snapshots[i].taken_at.astimezone(UTC).strftime(time_format))
         for i, anchor in sorted(labelled.items())),
    )
    return format_html(
        '<svg id="reserve-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" '
        'role="img" aria-labelledby="reserve-chart-title reserve-chart-desc" preserveAspectRatio="xMidYMid meet">'
        '<title id="reserve-chart-title">Reserve value and token supply over time</title>'
        '<desc id="reserve-chart-desc">{n} snapshots from {first} to {last} UTC; both lines in US dollars '
        '(one token is one dollar).</desc>'
        '<style>.grid{{stroke:#e3e3e3;stroke-width:1}}.axis{{stroke:#555;stroke-width:1}}'
        '.tick{{font:11px sans-serif;fill:#555}}.axis-title,.legend{{font:12px sans-serif;fill:#222}}</style>'
        '{grid}'
        '<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{bottom}"/>'
        '<line class="axis" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>'
        '{time_labels}'
        '<text class="axis-title" x="{mid_x}" y="{x_title_y}" text-anchor="middle">Snapshot time (UTC)</text>'
        '<text class="axis-title" x="16" y="{mid_y}" text-anchor="middle" '
        'transform="rotate(-90 16 {mid_y})">US dollars</text>'
        '<polyline id="chart-reserve-value" fill="none" stroke="{value_colour}" stroke-width="2.5" '
        'stroke-linejoin="round" points="{value_points}"><title>Reserve value (USD)</title></polyline>'
        '<polyline id="chart-total-supply" fill="none" stroke="{supply_colour}" stroke-width="2.5" '
        'stroke-dasharray="6 3" stroke-linejoin="round" points="{supply_points}">'
        '<title>Total supply (USDKG)</title></polyline>'
        '<g class="legend" transform="translate({left} 14)">'
        '<line x1="0" x2="24" y1="6" y2="6" stroke="{value_colour}" stroke-width="2.5"/>'
        '<text x="30" y="10">Reserve value (USD)</text>'
        '<line x1="190" x2="214" y1="6" y2="6" stroke="{supply_colour}" stroke-width="2.5" stroke-dasharray="6 3"/>'
        '<text x="220" y="10">Total supply (USDKG = USD)</text>'
        '</g></svg>',
        w=WIDTH, h=HEIGHT, n=len(snapshots), first=snapshots[0].taken_at.astimezone(UTC).strftime(time_format),
        last=snapshots[-1].taken_at.astimezone(UTC).strftime(time_format), grid=grid, time_labels=time_labels,
        left=LEFT, right=LEFT + PLOT_W, top=TOP, bottom=TOP + PLOT_H, mid_x=LEFT + PLOT_W // 2,
        x_title_y=HEIGHT - 10, mid_y=TOP + PLOT_H // 2, value_colour=VALUE_COLOUR, supply_colour=SUPPLY_COLOUR,
        value_points=points(values), supply_points=points(supplies),
    )
