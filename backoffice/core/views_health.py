"""GET /healthz: the process is up and Django answers. A load balancer's liveness probe, and the floor
`make bench` measures the API against (the whole middleware stack, nothing behind it).

It asks neither the database nor the node on purpose: a probe that fails with the database would have
every web process restarted for an outage restarts cannot fix, and the floor must be the cost of a
request alone.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


@require_safe
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
