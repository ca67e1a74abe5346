"""The signing page of one multisig transaction: what is signed, who signed, what happened on chain."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET

from backoffice.chain.client import ChainError, chain_client
from backoffice.chain.models import Multisig

from .actions import transaction_display, transaction_record
from .devwallet import dev_wallet_enabled
from .kinds import kind_of, multisig_of
from .models import FINAL_STATES, PENDING_STATES, MultisigRole, MultisigTransaction, Signer, TxState
from .onchain import CallRefused, approval_call_prepare, execution_call_prepare
from .selectors import transaction_status, transaction_visible_to
from .signing import signing_hashes, signing_page_version, signing_sections

# Keys of `decoded` the page shows in their own rows; any other argument is listed as it is.
_SHOWN_KEYS = {"function", "action", "description", "to", "amount", "tokens", "backing"}


def _sign_refusal(user: User, tx: MultisigTransaction, signer: Signer | None, signed: bool) -> str:
    """Why this user gets no "Sign with wallet" button; empty when they may sign."""
    if tx.state != TxState.AWAITING_SIGNATURES:
        return f"{tx.status_label}: it takes no more signatures."
    if signer is None:
        return f"Only signers of the {tx.get_multisig_display()} sign this transaction."
    if signed:
        return "You have signed this transaction."
    if settings.MULTISIG_FOUR_EYES and tx.multisig == MultisigRole.ISSUANCE and tx.created_by_id == user.pk:
        return "You proposed this transaction; other owners sign it (four eyes)."
    return ""


def _onchain_context(user: User, tx: MultisigTransaction, multisig: Multisig) -> dict[str, Any]:
    """What the page shows for a multisig whose owners approve on chain: whether this user may
    approve or execute now (and why not), the owners with their ETH balances, the handed-in
    transactions. The chain is asked here, once per page; a node that does not answer is said so."""
    client = chain_client()
    context: dict[str, Any] = {"approve_refusal": "", "execute_refusal": "", "owners": [], "chain_error": ""}
    try:
        try:
            approval_call_prepare(client=client, transaction_id=tx.pk, actor=user)
        except CallRefused as exc:
            context["approve_refusal"] = str(exc)
        if tx.state == TxState.APPROVED:
            try:
                execution_call_prepare(client=client, transaction_id=tx.pk, actor=user)
            except CallRefused as exc:
                context["execute_refusal"] = str(exc)
        max_fee, _ = client.fees_estimate()
        cost = max_fee * settings.MULTISIG_APPROVAL_GAS
        bound = {s.address: s.user.get_username() for s in Signer.objects.filter(address__in=multisig.owners)
                 .select_related("user")}
        for owner in multisig.owners:
            balance = client.balance(owner)
            context["owners"].append({"address": owner, "username": bound.get(owner, ""),
                                      "eth": _eth(balance), "low": balance < cost})
        context["approval_cost"] = _eth(cost)
    except ChainError as exc:
        context["chain_error"] = f"The chain node could not be asked: {exc}"
    context["raw_submissions"] = list(tx.raw_submissions.select_related("submitted_by").order_by("-created_at")[:10])
    return context


def _eth(wei: int) -> str:
    return f"{Decimal(wei) / Decimal(10**18):.6f}"


def _visible(request: HttpRequest, tx_id: int) -> MultisigTransaction:
    tx = get_object_or_404(MultisigTransaction.objects.select_related("created_by", "replaces"), pk=tx_id)
    if not transaction_visible_to(request.user, tx):
        raise PermissionDenied("Only signers of this multisig, operators and managers may see this transaction.")
    return tx


def _queue(tx: MultisigTransaction) -> dict[str, Any]:
    """Transactions still on their way: the multisig's queue, in the order the chain will take them."""
    queue = list(MultisigTransaction.objects.filter(safe_address=tx.safe_address, state__in=PENDING_STATES)
                 .select_related("replaces").annotate(signatures=Count("confirmations")).order_by("nonce", "pk"))
    for item in queue:
        item.call = transaction_display(item, details=False)
    # On the USDKG multisig only the lowest pending nonce can gather approvals; the rest wait for it.
    return {"queue": queue, "queue_head": min((item.nonce for item in queue), default=None), "tx": tx,
            "onchain": not kind_of(multisig_of(tx)).signs_off_chain}


@login_required
@require_GET
def transaction_queue_rows(request: HttpRequest, tx_id: int) -> HttpResponse:
    """The queue table's rows, as the page draws them: fetched again whenever the page learns of a change."""
    tx = _visible(request, tx_id)
    return HttpResponse(render_to_string("multisig/queue_rows.html", _queue(tx), request))


# How often a waiting request reads the page's version: a change is seen within this, at one small
# query each time.
_WAIT_CHECK_SECONDS = 0.15
# Requests of this process waiting now (never more than MULTISIG_WAIT_SLOTS).
_waiting = 0
_waiting_lock = threading.Lock()


@contextmanager
def _wait_slot() -> Iterator[bool]:
    """One of this process's MULTISIG_WAIT_SLOTS, if one is free: a waiting request holds a server thread,
    so open pages must never take them all (the others then ask again a second later, as they polled)."""
    global _waiting
    with _waiting_lock:
        taken = _waiting < settings.MULTISIG_WAIT_SLOTS
        if taken:
            _waiting += 1
    try:
        yield taken
    finally:
        if taken:
            with _waiting_lock:
                _waiting -= 1


def _unchanged(*, retry_after: int | None = None) -> HttpResponse:
    response = HttpResponse(status=204)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


@login_required
@require_GET
def transaction_wait(request: HttpRequest, tx_id: int) -> HttpResponse:
    """The signing page's long-poll: answers `{"version": ...}` as soon as what the page shows (this
    transaction, its approvals, its multisig's queue) differs from the version `v` the page knows, and 204
    after MULTISIG_WAIT_SECONDS without a change, so the page asks again. With no slot free to wait in
    (_wait_slot) an unchanged page gets 204 at once, with Retry-After. Seen by whoever sees the page."""
    _visible(request, tx_id)
    known = request.GET.get("v", "")
    version = signing_page_version(tx_id)
    if version != known:
        return JsonResponse({"version": version})
    # The session as it is now is stored before waiting, and not again after: saved at the end, this
    # request's copy (read before the wait) would undo what other requests stored meanwhile (a login, a
    # second factor passed in another tab).
    if request.session.modified:
        request.session.save()
        request.session.modified = False
    with _wait_slot() as slot:
        if not slot:
            return _unchanged(retry_after=1)
        deadline = time.monotonic() + settings.MULTISIG_WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(_WAIT_CHECK_SECONDS)
            version = signing_page_version(tx_id)
            if version != known:
                return JsonResponse({"version": version})
    return _unchanged()


@login_required
def transaction_sign_page(request: HttpRequest, tx_id: int) -> HttpResponse:
    # Read before anything the page shows, so a change made while it is drawn is seen by its first wait.
    version = signing_page_version(tx_id)
    tx = _visible(request, tx_id)
    user = cast(User, request.user)
    signer = Signer.objects.filter(user_id=user.pk, multisig=tx.multisig).first()
    status = transaction_status(tx)
    signed = any(s["address"] == (signer.address if signer else None) for s in status["signed_by"])
    hashes = signing_hashes(tx)
    refusal = _sign_refusal(user, tx, signer, signed) if hashes.matches else (
        "The stored safeTxHash is not what this transaction's fields hash to: do not sign; tell an administrator.")
    # What is signed, read from the bytes through the action registry: never the author's `decoded` JSON.
    decoded = transaction_display(tx)
    record = transaction_record(tx)
    backing = decoded.get("backing")
    queue = _queue(tx)
    multisig = multisig_of(tx)
    onchain = queue["onchain"]
    # The apps' parts of the page (the memo, the gold behind an issue, the case): each its own template.
    sections = [{"title": s.title, "html_id": s.html_id,
                 "html": render_to_string(s.template, s.context, request)} for s in signing_sections(tx)]
    config = {
        "tx_id": tx.pk, "chain_id": tx.chain_id, "username": user.get_username(),
        "signer_address": signer.address if signer else "", "final_states": [str(s) for s in FINAL_STATES],
        # Everything the page fetches or posts is the one transactions API: its detail is what it redraws.
        "detail_url": reverse("multisig-api:transaction-detail", args=[tx.pk]),
        "typed_data_url": reverse("multisig-api:transaction-typed-data", args=[tx.pk]),
        "signatures_url": reverse("multisig-api:transaction-signatures", args=[tx.pk]),
        "approve_call_url": reverse("multisig-api:transaction-approve-call", args=[tx.pk]),
        "execute_call_url": reverse("multisig-api:transaction-execute-call", args=[tx.pk]),
        "sent_url": reverse("multisig-api:transaction-sent", args=[tx.pk]),
        "raw_url": reverse("multisig-api:transaction-raw", args=[tx.pk]),
        # ... except the queue's rows, drawn by the server as on the page.
        "queue_url": reverse("multisig:queue", args=[tx.pk]),
        # The long-poll that tells the page when to fetch those again, and the version the page shows.
        "wait_url": reverse("multisig:wait", args=[tx.pk]), "version": version,
        "onchain": onchain,
    }
    return render(request, "multisig/sign.html", {
        **admin.site.each_context(request),
        "title": f"{tx.reference}: {tx.get_multisig_display()}, nonce {tx.nonce}",
        "tx": tx, "status": status, "decoded": decoded, "signer": signer,
        "can_sign": not refusal and not onchain and hashes.matches,
        "sign_refusal": refusal, "config": config, "proposal_url": record.url if record else "",
        "proposal_label": record.label if record else "", "description": decoded.get("description", ""),
        **queue, "hashes": hashes, "sections": sections,
        "backing": sorted(backing.items()) if isinstance(backing, dict) else [],
        "arguments": sorted((k, v) for k, v in decoded.items() if k not in _SHOWN_KEYS),
        "dev_wallet": dev_wallet_enabled(), "onchain": onchain,
        **(_onchain_context(user, tx, multisig) if onchain else {}),
    })
