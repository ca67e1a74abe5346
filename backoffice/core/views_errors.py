"""The refused page (403): it says why, in the refusal's own words, and offers the way back."""

from __future__ import annotations

from django import http
from django.template import loader
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

GENERIC_REASON = "Your role does not allow this page or this action."


def permission_denied(request: http.HttpRequest, exception: Exception | None = None) -> http.HttpResponse:
    """handler403: staff see it inside the admin's layout, everyone else on a plain page. The link back is
    the page they came from when it is on this site (never a foreign referer), else the admin's home."""
    staff = bool(getattr(request.user, "is_staff", False))
    referer = request.META.get("HTTP_REFERER", "")
    same_site = referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()},
                                                            require_https=request.is_secure())
    back = referer if same_site and referer != request.build_absolute_uri() else (
        reverse("admin:index") if staff else "/")
    context = {"exception": str(exception or "") or GENERIC_REASON, "back_url": back, "staff": staff,
               "title": "Refused", "site_header": "USDKG back-office", "site_title": "USDKG back-office",
               "has_permission": staff}
    template = loader.get_template("403.html")
    return http.HttpResponseForbidden(template.render(context, request))
