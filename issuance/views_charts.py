"""The manager's charts page (/manager/charts/, linked from the admin home): supply against audited
reserve over time, issued and redeemed per month, approval latency per proposal. Managers only."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from backoffice.accounts.roles import user_is_manager

from .charts import approval_latencies, bar_chart_svg, monthly_flows
from .public.chart import reserve_chart_svg
from .public.selectors import reserve_history_get


@login_required
def manager_charts(request: HttpRequest) -> HttpResponse:
    if not user_is_manager(request.user):
        raise PermissionDenied("Only managers see the charts.")
    months, flows = monthly_flows()
    proposals, latencies = approval_latencies()
    return render(request, "issuance/manager_charts.html", {
        **admin.site.each_context(request), "title": "Charts",
        "reserve_chart": reserve_chart_svg(reserve_history_get()),
        "flows_chart": bar_chart_svg(chart_id="flows-chart", title="Issued and redeemed per month", labels=months,
                                     series=flows, unit="USDKG"),
        "latency_chart": bar_chart_svg(chart_id="latency-chart", title="Approval latency (proposed to executed)",
                                       labels=proposals, series=latencies, unit="hours"),
    })


app_name = "charts"
urlpatterns = [path("", manager_charts, name="manager")]
