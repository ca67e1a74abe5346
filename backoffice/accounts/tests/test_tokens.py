"""Personal API tokens: shown once, stored hashed, refused with a 401 that says why once revoked or expired,
managed in the admin by their own user only, journalled without the secret; and the README's signing
script, run as written against a live server."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from backoffice.accounts.models import ApiToken
from backoffice.accounts.tokens import MAX_DAYS, api_token_create, api_token_revoke
from backoffice.core.errors import InvalidInput
from backoffice.journal.models import JournalEntry
from conftest import TEST_PASSWORD

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[3] / "README.md"
LIST = "/api/multisig/transactions/"
ADMIN = "/admin/accounts/apitoken/"


def staff(username: str, **extra: Any) -> User:
    return User.objects.create_user(username=username, password=TEST_PASSWORD, is_staff=True, **extra)


def with_token(secret: str, keyword: str = "Token") -> APIClient:
    return APIClient(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"{keyword} {secret}")


def tokens_snapshot() -> tuple[Any, ...]:
    return (list(ApiToken.objects.order_by("pk").values_list("pk", "revoked_at", "last_used_at", "expires_at")),
            JournalEntry.objects.count())


def test_a_token_is_returned_once_and_stored_only_as_its_sha256_and_prefix() -> None:
    user = staff("alice")
    token, secret = api_token_create(user=user, name="laptop script")
    assert re.fullmatch(r"usdkg_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", secret), secret
    assert secret.startswith(token.prefix + "_") and len(token.prefix) == len("usdkg_") + 12
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert stored["digest"] == hashlib.sha256(secret.encode()).hexdigest()
    assert all(secret not in str(value) for value in stored.values())
    assert stored["may_sign"] is False and stored["last_used_at"] is None
    assert timedelta(days=89, hours=23) < token.expires_at - timezone.now() <= timedelta(days=90)
    entry = JournalEntry.objects.get(action="api_token.created")
    assert (entry.actor, entry.object_id, entry.data["prefix"], entry.data["name"]) == (
        user, str(token.pk), token.prefix, "laptop script")
    # The secret is nowhere in the journal (nor is its hash: the prefix identifies the token).
    journal = json.dumps(list(JournalEntry.objects.values("data", "reason")), default=str)
    assert secret not in journal and stored["digest"] not in journal
    _, other = api_token_create(user=user, name="laptop script")
    assert other != secret  # two tokens, two secrets, even with the same name


def test_a_token_authenticates_as_its_user_by_token_or_bearer_and_notes_its_last_use() -> None:
    user = staff("alice")
    token, secret = api_token_create(user=user, name="ci")
    for keyword in ("Token", "Bearer"):
        response = with_token(secret, keyword).get(LIST)
        assert response.status_code == 200, response.content
    token.refresh_from_db()
    assert token.last_used_at is not None and timezone.now() - token.last_used_at < timedelta(seconds=30)
    # A token-authenticated write needs no CSRF token (but this token may not cancel: no may_sign, not a CSRF 403).
    response = with_token(secret).post(f"{LIST}999999/cancel/", {"reason": "x"}, format="json")
    assert response.status_code == 403 and "may not approve, sign or propose" in response.json()["detail"]
    signing_token, signing = api_token_create(user=user, name="signer", may_sign=True)
    response = with_token(signing).post(f"{LIST}999999/cancel/", {"reason": "x"}, format="json")
    assert response.status_code == 404, response.content


@pytest.mark.parametrize("case", ["unknown", "revoked", "expired", "inactive", "malformed", "old drf key"])
def test_unknown_revoked_expired_or_inactive_tokens_are_refused_with_a_401_that_says_why(case: str) -> None:
    user = staff("alice")
    token, secret = api_token_create(user=user, name="ci")
    header, expected = f"Token {secret}", ""
    if case == "unknown":
        header, expected = f"Token {secret[:-1]}x" if not secret.endswith("x") else f"Token {secret[:-1]}y", \
            "Unknown API token"
    elif case == "revoked":
        api_token_revoke(token_id=token.pk, actor=user)
        expected = f"This API token ({token.prefix}) was revoked at"
    elif case == "expired":
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        expected = f"This API token ({token.prefix}) expired at"
    elif case == "inactive":
        User.objects.filter(pk=user.pk).update(is_active=False)
        expected = "is inactive"
    elif case == "malformed":
        header, expected = f"Token {secret} extra", "Send the token as"
    else:
        header, expected = "Token 0000000000000000000000000000000000000000", "Unknown API token"
    before = tokens_snapshot()
    for method in ("get", "post"):
        response = getattr(APIClient(HTTP_AUTHORIZATION=header), method)(LIST if method == "get" else
                                                                       f"{LIST}1/cancel/", {"reason": "x"})
        assert response.status_code == 401, response.content
        assert expected in response.json()["detail"], response.json()
        assert response["WWW-Authenticate"].startswith("Token")
    assert tokens_snapshot() == before  # last use not noted, nothing journalled


@pytest.mark.parametrize(("name", "days", "field"), [("", 90, "name"), ("   ", 90, "name"), ("x" * 101, 90, "name"),
                                                     ("ci", 0, "expires_in_days"),
                                                     ("ci", MAX_DAYS + 1, "expires_in_days"),
                                                     ("ci", True, "expires_in_days")])
def test_a_token_without_a_name_or_with_a_lifetime_out_of_range_is_refused_and_nothing_saved(
    name: str, days: Any, field: str
) -> None:
    user = staff("alice")
    before = tokens_snapshot()
    with pytest.raises(InvalidInput) as refused:
        api_token_create(user=user, name=name, expires_in_days=days)
    assert refused.value.field == field
    assert tokens_snapshot() == before


def test_a_user_revokes_only_their_own_token_a_superuser_anyones_and_only_once() -> None:
    alice, bob, root = staff("alice"), staff("bob"), staff("root", is_superuser=True)
    token, secret = api_token_create(user=alice, name="ci")
    before = tokens_snapshot()
    with pytest.raises(InvalidInput, match="No such API token of yours"):
        api_token_revoke(token_id=token.pk, actor=bob)
    assert tokens_snapshot() == before and with_token(secret).get(LIST).status_code == 200
    api_token_revoke(token_id=token.pk, actor=root, reason="leaked in a paste")
    token.refresh_from_db()
    assert token.revoked_by == root and token.status == "revoked"
    entry = JournalEntry.objects.get(action="api_token.revoked")
    assert (entry.actor, entry.reason, entry.data["prefix"], entry.data["user"]) == (
        root, "leaked in a paste", token.prefix, "alice")
    before = tokens_snapshot()
    with pytest.raises(InvalidInput, match="already revoked"):
        api_token_revoke(token_id=token.pk, actor=alice)
    assert tokens_snapshot() == before


def test_in_the_admin_a_user_adds_a_token_sees_its_secret_once_and_lists_and_revokes_only_their_own(
    roles: None,
) -> None:
    alice, bob = staff("alice"), staff("bob")
    _, bobs_secret = api_token_create(user=bob, name="bob's script")
    bobs = ApiToken.objects.get(user=bob)
    browser = Client()
    browser.force_login(alice)
    assert ADMIN in browser.get("/admin/").content.decode()  # linked from the admin home
    form = browser.get(f"{ADMIN}add/")
    assert form.status_code == 200 and 'value="90"' in form.content.decode()
    # Bad input: the form again with the reason, nothing saved.
    before = tokens_snapshot()
    refused = browser.post(f"{ADMIN}add/", {"name": "ci", "expires_in_days": str(MAX_DAYS + 1)})
    assert refused.status_code == 200 and "api-token-secret" not in refused.content.decode()
    assert tokens_snapshot() == before
    created = browser.post(f"{ADMIN}add/", {"name": "signing script", "expires_in_days": "30", "may_sign": "on"})
    assert created.status_code == 200 and "no-store" in created["Cache-Control"]
    match = re.search(r'<code id="api-token-secret">(usdkg_[^<]+)</code>', created.content.decode())
    assert match, created.content.decode()
    secret = match.group(1)
    token = ApiToken.objects.get(user=alice)
    assert (token.name, token.may_sign) == ("signing script", True)
    assert timedelta(days=29, hours=23) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert with_token(secret).get(LIST).status_code == 200
    # The list shows her token by prefix, never a secret, and not Bob's.
    listed = browser.get(ADMIN).content.decode()
    assert token.prefix in listed and secret not in listed and bobs.prefix not in listed
    assert browser.get(f"{ADMIN}{token.pk}/change/").status_code == 200
    assert secret not in browser.get(f"{ADMIN}{token.pk}/change/").content.decode()
    assert browser.get(f"{ADMIN}{bobs.pk}/change/").status_code in (302, 404)  # "does not exist"
    # Revoking Bob's through the action does nothing: it is not in her list.
    before = tokens_snapshot()
    browser.post(ADMIN, {"action": "revoke_selected", "_selected_action": [str(bobs.pk)]})
    assert tokens_snapshot() == before and with_token(bobs_secret).get(LIST).status_code == 200
    browser.post(ADMIN, {"action": "revoke_selected", "_selected_action": [str(token.pk)]})
    token.refresh_from_db()
    assert token.status == "revoked" and with_token(secret).get(LIST).status_code == 401


def readme_script() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    scripts = [block for block in blocks if "/signatures/" in block]
    assert len(scripts) == 1, "README.md: the API section's signing script is missing or ambiguous"
    return str(scripts[0])


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_readme_signing_script_signs_a_proposal_on_the_live_server(
    live_server: Any, chain: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backoffice.chain.devkeys import OWNER_INDEXES, dev_account
    from backoffice.multisig.models import Confirmation
    from backoffice.multisig.tests.helpers import issue_propose

    tx = issue_propose(5_000_000, dev_account(17).address)
    owner1 = User.objects.get(username="owner1")
    _, secret = api_token_create(user=owner1, name="README script", may_sign=True)
    key_file = tmp_path / "owner.key"
    key_file.write_text(dev_account(OWNER_INDEXES[0]).key.hex())
    monkeypatch.setenv("USDKG_URL", live_server.url)
    monkeypatch.setenv("USDKG_TOKEN", secret)
    monkeypatch.setenv("USDKG_TX", str(tx.pk))
    monkeypatch.setenv("USDKG_KEY_FILE", str(key_file))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(readme_script(), "README.md", "exec"), {"__name__": "__readme__"})  # noqa: S102
    assert out.getvalue().startswith("201 1 awaiting_signatures"), out.getvalue()
    confirmation = Confirmation.objects.get(transaction_id=tx.pk)
    assert confirmation.signer is not None and confirmation.signer.user == owner1
    assert confirmation.signer.address == dev_account(OWNER_INDEXES[0]).address
    # Run again: the server refuses the second signature, the script prints why and raises.
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(Exception, match="400"):
        exec(compile(readme_script(), "README.md", "exec"), {"__name__": "__readme__"})  # noqa: S102
    assert out.getvalue().startswith("400 None None "), out.getvalue()
    assert Confirmation.objects.filter(transaction_id=tx.pk).count() == 1
