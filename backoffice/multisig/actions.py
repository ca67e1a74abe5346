"""The proposal-action registry: what a multisig may be asked to do, declared once per action by its app.

An action is one token call (operation 0, to the token) a multisig role may make: `issue`, `pause`,
`blacklist`... Its app declares, in one class, the input fields and their validation (errors name
their field), the calldata, a human description, the guard run right before sending, what follows
execution, and the record (proposal, case) a transaction belongs to. Apps register their actions
from `AppConfig.ready` (`action_register`); the kernel, the apps' services, their API and admin and
the signing page all read this registry, so no module branches on a kind.

What a transaction does is always decoded from its signed bytes (`call_decode`), never from the
`decoded` JSON its author wrote: the guards, the pending-issue sum and every page trust only what
the owners sign.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from backoffice.chain.client import ChainClient

    from .models import MultisigTransaction

__all__ = [
    "FIELD_KINDS", "ActionField", "DecodedCall", "ProposalAction", "ProposalRecord", "action_find", "action_require",
    "action_register", "action_unregister", "actions_of", "call_decode", "call_display", "call_read",
    "calldata_summary", "transaction_after_execution", "transaction_cancel_permission", "transaction_display",
    "transaction_guards_run", "transaction_record", "transaction_withdrawn",
]

# How an input is typed: tokens (a decimal string in tokens), address (EIP-55), integer, text, ids (a list).
FIELD_KINDS = ("tokens", "address", "integer", "text", "ids")


@dataclass(frozen=True)
class ActionField:
    """One input of an action, as the forms and the API offer it. The action's `clean` validates it."""

    name: str
    label: str
    kind: str = "text"
    help_text: str = ""
    required: bool = False
    # The refusal when a required field is missing, without the field's name (it is prefixed).
    required_message: str = "required"
    max_length: int = 100

    def __post_init__(self) -> None:
        if self.kind not in FIELD_KINDS:
            raise ValueError(f"field {self.name}: kind must be one of {', '.join(FIELD_KINDS)}")


@dataclass(frozen=True)
class ProposalRecord:
    """What a multisig transaction was proposed for (an owner proposal, a compliance case's proposal)."""

    kind: str  # e.g. "owner_proposal", "compliance_proposal"
    id: int
    label: str  # for people: "ISS-0003", "CMP-0002 (case 2)"
    url: str = ""  # the record's page, "" when there is none
    case: int | None = None  # the compliance case, when there is one


@dataclass(frozen=True)
class DecodedCall:
    """A transaction's call as read from its bytes: the registered action, if any, and its arguments."""

    function: str  # the token function; "rejection" for a nonce-burning empty call; "" when unknown
    arguments: dict[str, Any] = field(default_factory=dict)
    action: ProposalAction | None = None


class ProposalAction:
    """The contract of one action. Subclass it in the app's `actions.py` and register the class.

    Class attributes: `name` (unique, e.g. "issue"), `label`, `role` (the multisig role that makes
    the call), `function` (the token function; unique within the role), `fields`, and
    `cancel_permission` (who may withdraw such a transaction before it is sent).
    """

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    role: ClassVar[str] = ""
    function: ClassVar[str] = ""
    fields: ClassVar[tuple[ActionField, ...]] = ()
    cancel_permission: ClassVar[str] = ""

    # --- input ------------------------------------------------------------------------------
    def clean(self, *, client: ChainClient, values: Mapping[str, Any]) -> dict[str, Any]:
        """The validated values of this action's fields (chain reads allowed; no row locks held).
        Refuses with InvalidInput naming the field. The default checks required fields only."""
        self.required_check(values)
        return {f.name: values.get(f.name) for f in self.fields}

    def required_check(self, values: Mapping[str, Any]) -> None:
        from backoffice.core.errors import InvalidInput

        for f in self.fields:
            value = values.get(f.name)
            if f.required and (value is None or value == "" or value == [] or value == ()):
                raise InvalidInput(f"{f.name}: {f.required_message}", field=f.name)

    # --- the call ---------------------------------------------------------------------------
    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The token function's arguments, in ABI order, from cleaned values."""
        return []

    def calldata(self, *, client: ChainClient, values: Mapping[str, Any]) -> bytes:
        return client.token_calldata(self.function, *self.arguments(values))

    def describe(self, arguments: Mapping[str, Any]) -> str:
        """One sentence for people, from the arguments decoded from the bytes."""
        return str(self.label)

    def display(self, *, transaction: MultisigTransaction | None, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The call's arguments as the pages show them (strings), e.g. to / amount / tokens."""
        return {k: str(v) for k, v in arguments.items()}

    # --- around execution -------------------------------------------------------------------
    def guard(self, *, transaction: MultisigTransaction, client: ChainClient, arguments: Mapping[str, Any]) -> None:
        """Raise backoffice.multisig.services.GuardRefused to stop the transaction right before it is sent."""

    def after_execution(self, *, transaction: MultisigTransaction, client: ChainClient,
                        arguments: Mapping[str, Any]) -> None:
        """Runs once the transaction is executed and committed (e.g. refresh a register)."""

    # --- the record it belongs to -----------------------------------------------------------
    def record(self, transaction: MultisigTransaction) -> ProposalRecord | None:
        return None

    def withdrawn(self, *, transaction: MultisigTransaction, reason: str, actor: User | None, how: str,
                  rejection: MultisigTransaction | None) -> None:
        """The transaction was cancelled or rejected (`how`), inside the database transaction that did it:
        move the owning record accordingly (journal it, note the reason)."""


# --- the registry ---------------------------------------------------------------------------

_BY_NAME: dict[str, ProposalAction] = {}


def action_register(cls: type[ProposalAction]) -> type[ProposalAction]:
    """Register an action class (usable as a decorator). Registering the same class again is a no-op;
    another class under a taken name, or a second action for a role's function, is refused."""
    from .models import MultisigRole

    if not cls.name or not cls.function or not cls.label:
        raise ValueError(f"{cls.__name__}: name, label and function are required")
    if cls.role not in MultisigRole.values:
        raise ValueError(f"{cls.__name__}: role must be one of {', '.join(MultisigRole.values)}")
    existing = _BY_NAME.get(cls.name)
    if existing is not None:
        if type(existing) is cls:
            return cls
        raise ValueError(f"an action named {cls.name!r} is already registered ({type(existing).__name__})")
    for other in _BY_NAME.values():
        if (other.role, other.function) == (cls.role, cls.function):
            raise ValueError(f"{cls.role} already has an action calling {cls.function} ({other.name})")
    _BY_NAME[cls.name] = cls()
    return cls


def action_unregister(name: str) -> None:
    """Forget an action (tests that register one of their own clean up with it)."""
    _BY_NAME.pop(name, None)


A = TypeVar("A", bound="ProposalAction")


def action_find(name: str, *, role: str | None = None) -> ProposalAction | None:
    action = _BY_NAME.get(name)
    if action is None or (role is not None and action.role != role):
        return None
    return action


def action_require(name: str, *, role: str, cls: type[A], field: str) -> A:
    """The registered action `name` of `role` (an instance of the app's `cls`); refuses any other with
    InvalidInput naming `field` and listing the actions there are."""
    from backoffice.core.errors import InvalidInput

    action = action_find(name, role=role)
    if not isinstance(action, cls):
        names = [a.name for a in actions_of(role)]
        raise InvalidInput(f"{field} must be one of {', '.join(names)}", field=field)
    return action


def actions_of(role: str) -> list[ProposalAction]:
    """The actions of one multisig role, in registration order."""
    return [a for a in _BY_NAME.values() if a.role == role]


# --- reading a transaction ------------------------------------------------------------------

@lru_cache(maxsize=4096)
def _token_call_read(data: bytes) -> tuple[str, tuple[tuple[str, Any], ...]]:
    from backoffice.chain.client import chain_client

    # Decoding needs the token's ABI only: no node is asked.
    function, arguments = chain_client().token_call_decode(data)
    return function, tuple(arguments.items())


def _token_call_decoded(data: bytes) -> tuple[str, dict[str, Any]]:
    """The token ABI's reading of calldata, remembered per process: it is a function of the bytes alone
    (the ABI is the committed artifact), and ABI decoding costs milliseconds while lists and the pending
    sum read the same transactions again on every request. A fresh dict each time: callers may change it."""
    function, arguments = _token_call_read(data)
    return function, dict(arguments)


def call_decode(transaction: MultisigTransaction) -> DecodedCall:
    """What the transaction's signed bytes do: a rejection (an empty call to the multisig itself), a
    registered action of its multisig with its arguments, or an unknown call ("" function)."""
    return call_read(multisig=str(transaction.multisig), to=transaction.to, safe_address=transaction.safe_address,
                     operation=transaction.operation, nonce=transaction.nonce, data=bytes(transaction.data or b""))


def call_read(*, multisig: str, to: str, safe_address: str, operation: int, nonce: int, data: bytes) -> DecodedCall:
    """`call_decode` from the signed fields themselves, for lists that read rows rather than models."""
    if not data and to == safe_address:
        return DecodedCall(function="rejection", arguments={"nonce": nonce})
    if operation != 0:
        return DecodedCall(function="")
    function, arguments = _token_call_decoded(data)
    action = next((a for a in actions_of(multisig) if a.function == function), None) if function else None
    return DecodedCall(function=function, arguments=arguments, action=action)


def calldata_summary(action: ProposalAction, *, client: ChainClient, data: bytes) -> dict[str, Any]:
    """The human-readable form of `action`'s calldata, decoded from the bytes (stored with the
    transaction and journalled when it is proposed; decisions never read it back)."""
    function, arguments = client.token_call_decode(data)
    return {"function": function, "action": action.name, "description": action.describe(arguments),
            **action.display(transaction=None, arguments=arguments)}


def transaction_display(transaction: MultisigTransaction, *, details: bool = True) -> dict[str, Any]:
    """The call for people, from the bytes: function, action, description and the shown arguments.
    `details` adds what the owning record knows (e.g. an issue's backing deposits), at a query or two;
    lists pass False to stay at a fixed number of queries."""
    call = call_decode(transaction)
    replaced = transaction.replaces if call.action is None and call.function == "rejection" else None
    return call_display(call, nonce=transaction.nonce, replaced_hash=replaced.safe_tx_hash if replaced else None,
                        transaction=transaction if details else None)


def call_display(call: DecodedCall, *, nonce: int, replaced_hash: str | None = None,
                 transaction: MultisigTransaction | None = None) -> dict[str, Any]:
    """`transaction_display` of a decoded call: a rejection names the hash it replaces, and `transaction`
    (the details) lets the action add what its record knows."""
    shown: dict[str, Any] = {"function": call.function or "", "action": "", "description": ""}
    if call.action is not None:
        shown |= {"action": call.action.name,
                  "description": call.action.describe(call.arguments),
                  **call.action.display(transaction=transaction, arguments=call.arguments)}
    elif call.function == "rejection":
        shown["description"] = (f"Rejection: uses up nonce {nonce}"
                                + (f" so that {replaced_hash} can never run" if replaced_hash else ""))
    else:
        shown |= {k: str(v) for k, v in call.arguments.items()}
    return shown


def _action_behind(transaction: MultisigTransaction) -> tuple[ProposalAction | None, MultisigTransaction]:
    """The action a transaction carries out; a rejection speaks for the transaction it replaces."""
    target = transaction.replaces if transaction.replaces_id is not None and transaction.replaces else transaction
    return call_decode(target).action, target


def transaction_record(transaction: MultisigTransaction) -> ProposalRecord | None:
    """The proposal or case the transaction belongs to (a rejection: that of the transaction it replaces)."""
    action, target = _action_behind(transaction)
    return action.record(target) if action is not None else None


def transaction_cancel_permission(transaction: MultisigTransaction) -> str:
    """The permission its action's app requires to withdraw it; "" when no registered action is behind it."""
    action, _ = _action_behind(transaction)
    return action.cancel_permission if action is not None else ""


def transaction_guards_run(transaction: MultisigTransaction, client: ChainClient) -> None:
    """The guard of the action the bytes call, right before sending. Raises GuardRefused."""
    call = call_decode(transaction)
    if call.action is not None:
        call.action.guard(transaction=transaction, client=client, arguments=call.arguments)


def transaction_after_execution(transaction: MultisigTransaction, client: ChainClient) -> None:
    call = call_decode(transaction)
    if call.action is not None:
        call.action.after_execution(transaction=transaction, client=client, arguments=call.arguments)


def transaction_withdrawn(transaction: MultisigTransaction, *, reason: str, actor: User | None, how: str,
                          rejection: MultisigTransaction | None) -> None:
    """Tell the owning app that its transaction was cancelled or rejected (inside the same DB transaction)."""
    action, target = _action_behind(transaction)
    if action is not None and target.pk == transaction.pk:
        action.withdrawn(transaction=transaction, reason=reason, actor=actor, how=how, rejection=rejection)
