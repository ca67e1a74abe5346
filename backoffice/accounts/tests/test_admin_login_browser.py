"""A real browser (Debian's chromium through Playwright) against Django's live server."""

import pytest

from backoffice.accounts.tests.mfa import browser_second_factor
from backoffice.chain.devkeys import dev_account
from conftest import TEST_PASSWORD

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_an_owner_logs_into_the_admin_and_sees_their_home(live_server, page, roles):
    from backoffice.accounts.services import demo_seed

    demo_seed(password=TEST_PASSWORD)
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "owner3")
    page.fill("#id_password", TEST_PASSWORD)
    page.click("input[type=submit]")
    browser_second_factor(page, "owner3")
    page.wait_for_url(f"{live_server.url}/admin/")
    panel = page.locator("#my-role")
    assert "Signed in as owner3" in panel.inner_text()
    assert "Role: owner" in panel.inner_text()
    assert dev_account(3).address in panel.inner_text()
    assert "Issuance multisig" in panel.inner_text()


def test_a_wrong_password_keeps_the_person_out(live_server, page, roles):
    from backoffice.accounts.services import demo_seed

    demo_seed(password=TEST_PASSWORD)
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "owner3")
    page.fill("#id_password", "not-the-password")
    page.click("input[type=submit]")
    assert "Please enter the correct username and password" in page.locator(".errornote").inner_text()
    assert page.locator("#my-role").count() == 0
