"""Owners consenting on the signing page in a real browser, whatever the multisig's kind: on a Safe
they sign with the development wallet; on a USDKG multisig the wallet SENDS approveHash, the chain
watcher counts it, and the last approver sends execTransaction from the page."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from backoffice.accounts.tests.mfa import browser_second_factor
from conftest import TEST_PASSWORD

# How the page draws when a signature or approval was stored, live or not (UTC, to the second).
SIGNED_AT = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
# How the page says a transaction is executed (MultisigTransaction.status_label); the raw state is data-state.
EXECUTED_LABEL = re.compile(r"^Executed in block \d+$")


def log_in(page: Any, base_url: str, username: str, next_path: str) -> None:
    page.goto(f"{base_url}/admin/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("input[type=submit]")
    browser_second_factor(page, username)
    page.wait_for_url(f"{base_url}{next_path}")


def owners_consent(browser: Any, base_url: str, signing_path: str, usernames: list[str], *, kind: str) -> list[Any]:
    """Each user, in a browser context of their own, signs or approves; returns their pages (open)."""
    pages, threshold = [], len(usernames)
    for number, username in enumerate(usernames, 1):
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(20_000)
        log_in(page, base_url, username, signing_path)
        expect(page.locator("#tx-state")).to_have_attribute("data-state", "awaiting_signatures")
        if kind == "safe":
            page.click("#sign-button")
            expect(page.locator("#sign-result")).to_contain_text(f"Signature accepted: {number} of {threshold}.")
            expect(page.locator("#sign-button")).to_be_hidden()
            # Drawn from the one API's answer: the signer's name and when they signed.
            expect(page.locator("#signed-by li").nth(number - 1)).to_have_text(
                re.compile(rf"^{username} 0x[0-9a-fA-F]{{40}} {SIGNED_AT}$"))
        else:
            page.click("#approve-button")
            if number < threshold:
                expect(page.locator("#sign-result")).to_contain_text("Sent 0x")
                # Counted only once the watcher saw it on chain: the page follows the count.
                expect(page.locator("#tx-progress")).to_have_text(f"{number} of {threshold} approvals",
                                                                  timeout=30_000)
                # Drawn by the poll of the one API: who approved, when, and in which block and transaction.
                expect(page.locator("#signed-by li").nth(number - 1)).to_have_text(
                    re.compile(rf"^{username} 0x[0-9a-fA-F]{{40}} {SIGNED_AT} approved in block \d+, tx 0x[0-9a-f]+$"))
            # The last one: the threshold seen, the page is drawn anew with the execution (below).
        expect(page.locator("#sign-error")).to_be_hidden()
        pages.append(page)
    if kind == "usdkg":
        last = pages[-1]
        # The threshold is seen: the page of the owner who completed it offers the execution.
        expect(last.locator("#execute-button")).to_be_visible(timeout=60_000)  # a loaded machine: watcher + redraw
        last.click("#execute-button")  # the page then follows it to `executed` (the caller waits for it)
    return pages
