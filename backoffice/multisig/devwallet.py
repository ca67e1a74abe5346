"""The development wallet: a browser wallet for the local demo, where anvil holds the owners' keys.

Served only when DEBUG and CHAIN_IS_LOCAL are both on and the node reports anvil's chain id 31337;
otherwise both URLs answer 404 and the signing page does not load the script. The script installs
an EIP-1193 provider only when no real wallet (MetaMask) is present, so the signing page runs the
exact calls it makes with MetaMask. The server signs for the signed-in user's OWN bound address
only, and answers nothing but the methods the signing page needs: an unlocked anvil account could
otherwise be made to send anything. It sends only `approveHash` or `execTransaction` (operation 0)
to a USDKG multisig of the user's own role, from the user's own address.
"""

from __future__ import annotations

import json
import logging
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from backoffice.chain.client import ChainError, ChainUnavailable, chain_client
from backoffice.chain.models import Multisig

from .kinds import onchain_kinds
from .models import Signer

logger = logging.getLogger(__name__)

LOCAL_CHAIN_ID = 31337  # anvil's and hardhat's: no public network uses it
# EIP-1193 error codes, so the page handles these errors as it would MetaMask's.
UNAUTHORIZED, UNSUPPORTED_METHOD, INVALID_PARAMS, INTERNAL_ERROR = 4100, 4200, -32602, -32603


def dev_wallet_enabled() -> bool:
    """DEBUG and CHAIN_IS_LOCAL on, and the configured node really is a local test chain."""
    if not (settings.DEBUG and settings.CHAIN_IS_LOCAL):
        return False
    try:
        return chain_client().chain_id_check() == LOCAL_CHAIN_ID
    except ChainError:
        return False


def node_typed_data_sign(*, address: str, typed_data: str) -> str:
    """Have the local node sign EIP-712 typed data with its unlocked account `address` (anvil only).

    Not a ChainClient method on purpose: no production code path may ever ask a node to sign.
    """
    provider: Any = chain_client().w3.provider
    try:
        response = provider.make_request("eth_signTypedData_v4", [address, typed_data])
    except OSError as exc:  # requests' connection errors and timeouts
        raise ChainUnavailable(f"the node at {settings.CHAIN_RPC_URL} does not answer: {exc}") from exc
    if response.get("error"):
        raise ChainError(f"the node refused to sign: {response['error'].get('message', response['error'])}")
    return str(response["result"])


def node_transaction_send(*, sender: str, to: str, data: str) -> str:
    """Have the local node send a transaction from its unlocked account `sender` (anvil only)."""
    provider: Any = chain_client().w3.provider
    try:
        response = provider.make_request("eth_sendTransaction", [{"from": sender, "to": to, "data": data}])
    except OSError as exc:
        raise ChainUnavailable(f"the node at {settings.CHAIN_RPC_URL} does not answer: {exc}") from exc
    if response.get("error"):
        raise ChainError(f"the node refused the transaction: {response['error'].get('message', response['error'])}")
    return str(response["result"])


def _send_refusal(signer: Signer, params: Any) -> str:
    """Why the development wallet will not send this transaction; "" when it may."""
    call = params[0] if isinstance(params, list) and len(params) == 1 and isinstance(params[0], dict) else None
    if call is None:
        return "eth_sendTransaction takes [{from, to, data}]"
    if str(call.get("from", "")).lower() != signer.address.lower():
        return f"you may send only from your own address {signer.address}"
    multisig = Multisig.objects.filter(chain_id=settings.CHAIN_ID, address__iexact=str(call.get("to", "")),
                                       kind__in=onchain_kinds(), role=signer.multisig).first()
    if multisig is None:
        return "the development wallet sends only to the USDKG multisig you sign for"
    try:
        data = bytes.fromhex(str(call.get("data", "")).removeprefix("0x"))
    except ValueError:
        return "data must be hexadecimal"
    function, arguments = chain_client().usdkg_call_decode(data)
    if function not in ("approveHash", "execTransaction") or arguments.get("operation") != 0:
        return "the development wallet sends only approveHash or execTransaction of a call (operation 0)"
    return ""


def _rpc_error(code: int, message: str, *, status: int, request_id: Any = None) -> JsonResponse:
    return JsonResponse({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}},
                        status=status)


@require_GET
@never_cache
def dev_wallet_script(request: HttpRequest) -> HttpResponse:
    if not dev_wallet_enabled():
        raise Http404("the development wallet is off")
    return render(request, "multisig/dev-wallet.js", content_type="text/javascript; charset=utf-8")


@require_POST
def dev_wallet_rpc(request: HttpRequest) -> JsonResponse:
    """The provider's JSON-RPC: accounts and chain id of the signed-in user, and their signatures."""
    if not dev_wallet_enabled():
        raise Http404("the development wallet is off")
    if not request.user.is_authenticated:
        return _rpc_error(UNAUTHORIZED, "sign in first", status=403)
    user = cast(User, request.user)
    try:
        call = json.loads(request.body)
    except ValueError:
        return _rpc_error(INVALID_PARAMS, "the request is not JSON", status=400)
    if not isinstance(call, dict):
        return _rpc_error(INVALID_PARAMS, "the request is not a JSON-RPC call", status=400)
    method, params, request_id = call.get("method"), call.get("params") or [], call.get("id")
    signer = Signer.objects.filter(user_id=user.pk).first()
    if method in ("eth_accounts", "eth_requestAccounts"):
        if signer is None and method == "eth_requestAccounts":
            return _rpc_error(UNAUTHORIZED, f"{user.get_username()} has no signing address", status=403,
                              request_id=request_id)
        return JsonResponse({"jsonrpc": "2.0", "id": request_id, "result": [signer.address] if signer else []})
    if method == "eth_chainId":
        return JsonResponse({"jsonrpc": "2.0", "id": request_id, "result": hex(settings.CHAIN_ID)})
    if method == "eth_sendTransaction":
        refusal = _send_refusal(signer, params) if signer is not None else "you have no signing address"
        if refusal or signer is None:
            logger.warning("dev-wallet refused send user=%s reason=%s", user.get_username(), refusal)
            return _rpc_error(UNAUTHORIZED, refusal, status=403, request_id=request_id)
        try:
            tx_hash = node_transaction_send(sender=signer.address, to=params[0]["to"], data=params[0]["data"])
        except ChainError as exc:
            return _rpc_error(INTERNAL_ERROR, str(exc), status=502, request_id=request_id)
        logger.info("dev-wallet sent user=%s address=%s tx=%s", user.get_username(), signer.address, tx_hash)
        return JsonResponse({"jsonrpc": "2.0", "id": request_id, "result": tx_hash})
    if method != "eth_signTypedData_v4":
        return _rpc_error(UNSUPPORTED_METHOD, f"the development wallet does not do {method}", status=400,
                          request_id=request_id)
    if not isinstance(params, list) or len(params) != 2 or not isinstance(params[0], str):
        return _rpc_error(INVALID_PARAMS, "eth_signTypedData_v4 takes [address, typedData]", status=400,
                          request_id=request_id)
    address, typed_data = params
    if signer is None or address.lower() != signer.address.lower():
        logger.warning("dev-wallet refused user=%s address=%s", user.get_username(), address)
        return _rpc_error(UNAUTHORIZED, f"{user.get_username()} may sign only with their own address "
                                        f"{signer.address if signer else '(none)'}, not {address}",
                          status=403, request_id=request_id)
    try:
        typed = json.loads(typed_data) if isinstance(typed_data, str) else typed_data
    except ValueError:
        typed = None
    if not isinstance(typed, dict) or typed.get("primaryType") != "SafeTx":
        return _rpc_error(INVALID_PARAMS, "the development wallet signs multisig transactions (SafeTx) only",
                          status=400, request_id=request_id)
    try:
        signature = node_typed_data_sign(address=signer.address, typed_data=json.dumps(typed))
    except ChainError as exc:
        return _rpc_error(INTERNAL_ERROR, str(exc), status=502, request_id=request_id)
    logger.info("dev-wallet signed user=%s address=%s", user.get_username(), signer.address)
    return JsonResponse({"jsonrpc": "2.0", "id": request_id, "result": signature})
