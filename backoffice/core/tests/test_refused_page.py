"""A refused page (403) says why and links back, inside the admin for staff, with DEBUG on or off."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied

from backoffice.accounts.roles import Role
from backoffice.core.views_errors import permission_denied
from issuance.models import DepositState
from issuance.tests.factories import VaultFactory, bar_csv, deposit_make, user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def deposit(roles):
    return deposit_make(operator=user_with_role(Role.OPERATOR), vault=VaultFactory(name="Zurich"),
                        csv=bar_csv([("A1", "400.000", "999.9", "")]),
                        reference="REF-1")


@pytest.mark.parametrize("debug", [False, True])
def test_a_refused_step_says_why_and_links_back_to_where_the_user_was(client, settings, deposit, debug):
    settings.DEBUG = debug
    client.force_login(user_with_role(Role.MANAGER))
    came_from = f"http://testserver/admin/issuance/deposit/{deposit.pk}/change/"
    response = client.post(f"/admin/issuance/deposit/{deposit.pk}/transition/reject/", {"reason": "no"},
                           HTTP_REFERER=came_from)
    page = response.content.decode()
    assert response.status_code == 403
    assert "Your role may not take the step &#x27;Reject deposit&#x27; on Deposit REF-1; nothing was changed." in page
    assert f'id="refused-back" href="{came_from}"' in page
    assert 'id="site-name"' in page  # the admin's own layout, for staff
    deposit.refresh_from_db()
    assert deposit.state == DepositState.DRAFT


def test_a_refusal_without_words_still_says_what_happened_and_a_foreign_referer_is_not_offered(client, deposit):
    client.force_login(user_with_role(Role.MANAGER))
    response = client.post(f"/admin/issuance/deposit/{deposit.pk}/change/", {"_fsm_transition_to": "verify"},
                           HTTP_REFERER="https://evil.example/phish")
    page = response.content.decode()
    assert response.status_code == 403
    assert "Your role does not allow this page or this action." in page
    assert 'id="refused-back" href="/admin/"' in page and "evil.example" not in page


def test_someone_outside_the_admin_gets_the_plain_refused_page(rf):
    request = rf.get("/somewhere/")
    request.user = get_user_model().objects.create_user("visitor", password="x")
    response = permission_denied(request, PermissionDenied("closed to visitors"))
    page = response.content.decode()
    assert response.status_code == 403
    assert "closed to visitors" in page and 'id="refused-back" href="/"' in page and 'id="site-name"' not in page
