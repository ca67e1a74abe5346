"""Compliance pages outside the admin's model lists: the frozen-address register with its chain mismatch flag,
sanctions screening (list upload and the hits that still need a case), and evidence downloads.

Officers act; managers read (a write is a 403); every other role gets a 403 on every page. Each write is
one service call.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from backoffice.accounts.mfa import step_up_required
from backoffice.chain.client import ChainError, chain_client
from backoffice.core.amounts import tokens_format
from backoffice.core.files import UploadField, file_response
from backoffice.journal.services import TransitionRefused

from . import services
from .api.serializers import signing_url
from .models import Case, CaseCategory, CaseEvidence, CaseState, ScreeningImport
from .models.register import SCREENING_LIST
from .selectors import register_entries, screening_hits

ACT = "compliance.act_compliance"
# The service's refusals: input (InvalidInput is a ValueError), role or state, and a node that cannot be asked.
REFUSALS = (ValueError, TransitionRefused, ChainError)


def _require(request: HttpRequest, permission: str) -> User:
    user = cast(User, request.user)
    if not user.has_perm(permission):
        raise PermissionDenied("Compliance pages are for compliance officers and managers.")
    return user


def _page(request: HttpRequest, template: str, title: str, **context: Any) -> HttpResponse:
    return render(request, template, {**admin.site.each_context(request), "title": title,
                                      "may_act": request.user.has_perm(ACT), **context})


def _tokens(base_units: Any) -> str:
    return tokens_format(int(base_units)) if base_units is not None else "-"


# --- the register ---------------------------------------------------------------------------

@login_required
def register_page(request: HttpRequest) -> HttpResponse:
    _require(request, "compliance.view_frozenaddress")
    entries = register_entries()
    rows = [{"entry": e, "balance": _tokens(e.balance),
             "signing_url": signing_url(e.last_transaction_id) if e.last_transaction_id else ""}
            for e in entries]
    return _page(request, "compliance/register.html", "Frozen-address register", rows=rows,
                 mismatches=sum(1 for e in entries if e.mismatch))


@require_POST
@login_required
@step_up_required
def register_refresh_page(request: HttpRequest) -> HttpResponse:
    _require(request, ACT)
    try:
        count = services.register_refresh_all(client=chain_client())
    except ChainError as exc:
        messages.error(request, f"The chain could not be read; the register is as it was: {exc}")
    else:
        messages.success(request, f"{count} address(es) read again from chain.")
    return redirect("compliance:register")


# --- screening ------------------------------------------------------------------------------

class ScreeningUploadForm(forms.Form):
    file = UploadField(kind=SCREENING_LIST,
                       help_text="CSV with an 'address' column (any letter case) and an optional 'name' column. "
                                 "All rows or none are imported.")
    source = forms.CharField(max_length=100, help_text="Who publishes the list, e.g. OFAC.")
    list_name = forms.CharField(max_length=100, help_text="e.g. SDN. It becomes the reference of cases opened "
                                                          "from this list.")
    listed_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="The list's date.")


class HitCaseForm(forms.Form):
    address = forms.CharField(max_length=42)
    list_name = forms.CharField(max_length=100)


@login_required
@step_up_required
def screening_page(request: HttpRequest) -> HttpResponse:
    user = _require(request, "compliance.view_screeningentry")
    form = ScreeningUploadForm(data=request.POST or None, files=request.FILES or None)
    if request.method == "POST":
        _require(request, ACT)
        if form.is_valid():
            data = form.cleaned_data
            try:
                batch = services.screening_import(upload=data["file"], source=data["source"],
                                                  list_name=data["list_name"], listed_on=data["listed_on"],
                                                  actor=user)
            except REFUSALS as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"{batch.rows} address(es) of {batch.list_name} imported.")
                return redirect("compliance:screening")
    hits, hits_error = [], ""
    try:
        hits = screening_hits(client=chain_client())
    except ChainError as exc:
        hits_error = f"The chain could not be read, so the hits are not known now: {exc}"
    # An open case already answers a hit: link to it instead of inviting a second one.
    open_cases = dict(Case.objects.filter(address__in=[h.address for h in hits], state=CaseState.OPEN)
                      .order_by("opened_at").values_list("address", "pk"))
    rows = [{"hit": h, "balance": _tokens(h.balance), "lists": ", ".join(h.lists),
             "case_url": reverse("admin:compliance_case_change", args=[open_cases[h.address]])
             if h.address in open_cases else ""} for h in hits]
    return _page(request, "compliance/screening.html", "Sanctions screening", form=form, rows=rows,
                 hits_error=hits_error, imports=ScreeningImport.objects.select_related("imported_by")[:10])


@require_POST
@login_required
@step_up_required
def screening_case_open(request: HttpRequest) -> HttpResponse:
    """One click on a hit: a sanctions case whose reference is the list's name, then the case's page."""
    user = _require(request, ACT)
    form = HitCaseForm(data=request.POST)
    if not form.is_valid():
        messages.error(request, "Refused, no case opened: the hit's address and list are missing.")
        return redirect("compliance:screening")
    address, list_name = form.cleaned_data["address"], form.cleaned_data["list_name"]
    try:
        case = services.case_open(
            address=address, category=CaseCategory.SANCTIONS, reference=list_name, actor=user,
            description=f"Sanctions screening hit: {address} is listed on {list_name}, holds USDKG and is not "
                        "blacklisted on chain.")
    except REFUSALS as exc:
        messages.error(request, f"Refused, no case opened: {exc}")
        return redirect("compliance:screening")
    messages.success(request, f"Case {case.pk} opened for {address}.")
    return redirect("admin:compliance_case_change", object_id=case.pk)


# --- evidence -------------------------------------------------------------------------------

@login_required
def evidence_download(request: HttpRequest, pk: int) -> FileResponse:
    _require(request, "compliance.view_caseevidence")
    evidence = get_object_or_404(CaseEvidence, pk=pk)
    return file_response(evidence.file, evidence.file_name)
