"""The manager's charts: issued and redeemed per month, and each proposal's approval latency (proposed
-> executed), drawn on the server as inline SVG like the proof-of-reserve chart (no script, no CDN).
Supply against audited reserve over time is that chart itself (public/chart.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from backoffice.multisig.models import TxState

from .models import OwnerProposal
from .public.chart import nice_top, px
from .selectors import TOKEN_UNIT

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 84, 24, 44, 64
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
Y_TICKS = 4
LATENCY_PROPOSALS = 40  # the newest executed proposals shown


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    values: list[Decimal]


def monthly_flows() -> tuple[list[str], list[Series]]:
    """Tokens issued and redeemed by executed owner proposals, per calendar month (UTC) of execution."""
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"issue": Decimal(0), "redeem": Decimal(0)})
    executed = OwnerProposal.objects.filter(kind__in=["issue", "redeem"], transaction__state=TxState.EXECUTED,
                                            transaction__executed_at__isnull=False, amount__isnull=False
                                            ).values_list("kind", "amount", "transaction__executed_at")
    for kind, amount, at in executed:
        sums[at.astimezone(UTC).strftime("%Y-%m")][kind] += Decimal(amount) / TOKEN_UNIT
    months = sorted(sums)
    return months, [Series("Issued (USDKG)", "#1f5fa8", [sums[m]["issue"] for m in months]),
                    Series("Redeemed (USDKG)", "#b8860b", [sums[m]["redeem"] for m in months])]


def approval_latencies() -> tuple[list[str], list[Series]]:
    """Hours from proposing (the multisig transaction's creation) to execution, per executed proposal,
    oldest of the newest LATENCY_PROPOSALS first."""
    rows = list(OwnerProposal.objects.filter(transaction__state=TxState.EXECUTED,
                                             transaction__executed_at__isnull=False).select_related("transaction")
                .order_by("-transaction__executed_at")[:LATENCY_PROPOSALS])[::-1]
    hours = [Decimal((p.transaction.executed_at - p.transaction.created_at).total_seconds()) / 3600
             for p in rows]
    return [p.reference for p in rows], [Series("Proposed to executed (hours)", "#1d5b25", hours)]


def _label(amount: Decimal) -> str:
    for size, suffix in ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "k")):
        if amount >= size:
            return f"{(amount / size).normalize():f}{suffix}"
    return f"{amount.quantize(Decimal('0.01')).normalize():f}"


def bar_chart_svg(*, chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series],
                  unit: str) -> SafeString | None:
    """Grouped bars, one group per label; None when there is nothing to draw."""
    if not labels:
        return None
    top = nice_top(max(v for s in series for v in s.values))
    group = Decimal(PLOT_W) / len(labels)
    bar = group * Decimal("0.8") / len(series)

    def y(v: Decimal) -> Decimal:
        return TOP + PLOT_H - Decimal(PLOT_H) * v / top

    bars = format_html_join("", '<rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="{}">'
                                '<title>{} {}: {} {}</title></rect>',
                            ((px(LEFT + group * i + group / 10 + bar * j), px(y(v)), px(bar),
                              px(TOP + PLOT_H - y(v)), s.colour, labels[i], s.name, _label(v), unit)
                             for j, s in enumerate(series) for i, v in enumerate(s.values)))
    grid = format_html_join("", '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                                '<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>',
                            ((LEFT, LEFT + PLOT_W, px(y(t)), px(y(t)), LEFT - 8, px(y(t) + 4), _label(t))
                             for t in (top * i / Y_TICKS for i in range(Y_TICKS + 1))))
    every = max(1, len(labels) // 12)  # at most about a dozen labels under the axis
    ticks = format_html_join("", '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>',
                             ((px(LEFT + group * i + group / 2), TOP + PLOT_H + 18, label)
                              for i, label in enumerate(labels) if i % every == 0))
    legend = format_html_join("", '<rect x="{}" y="0" width="14" height="10" fill="{}"/><text x="{}" y="10">{}</text>',
                              ((j * 220, s.colour, j * 220 + 20, s.name) for j, s in enumerate(series)))
    return format_html(
        '<svg id="{id}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" '
        'aria-label="{title}" preserveAspectRatio="xMidYMid meet"><title>{title}</title>'
        '<style>.grid{{stroke:#e3e3e3;stroke-width:1}}.axis{{stroke:#555;stroke-width:1}}'
        '.tick{{font:11px sans-serif;fill:#555}}.legend,.axis-title{{font:12px sans-serif;fill:#222}}</style>'
        '{grid}<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{bottom}"/>'
        '<line class="axis" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>{bars}{ticks}'
        '<text class="axis-title" x="16" y="{mid_y}" text-anchor="middle" transform="rotate(-90 16 {mid_y})">{unit}'
        '</text><g class="legend" transform="translate({left} 14)">{legend}</g></svg>',
        id=chart_id, w=WIDTH, h=HEIGHT, title=title, grid=grid, left=LEFT, right=LEFT + PLOT_W, top=TOP,
        bottom=TOP + PLOT_H, bars=bars, ticks=ticks, mid_y=TOP + PLOT_H // 2, unit=unit, legend=legend)
