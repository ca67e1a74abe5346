"""Who reaches what: every endpoint of backoffice.urls x every role (and anonymous) x GET and POST -> the status
expected, in ONE table (EXPECTED). The endpoints are read from the URL resolver, so a new endpoint that is not
in the table fails the test until someone classifies it; a changed answer fails it until the table (or the
code) is put right.

One object of each kind the URLs need is made through the services, on the session's anvil (the `chain`
fixture); each request runs in a savepoint rolled back after it, so a POST that acts changes nothing the
next request sees. POSTs are empty: they prove who gets past the permission check, not what the form says.

To print the table as observed (to classify a new endpoint, then read every changed line before pasting it):
    ACCESS_MATRIX_PRINT=1 pytest backoffice/tests/test_access_matrix.py -q -s
"""

# ruff: noqa: E501 - the table reads one endpoint a line

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from backoffice.accounts.roles import Role
from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import dev_account
from compliance.services import case_evidence_add, case_open, compliance_proposal_create
from issuance import services
from issuance.models import ImportKind, Vault
from issuance.services.proposals import proposal_draft, proposal_propose
from issuance.tests.factories import bar_csv, upload

pytestmark = pytest.mark.django_db

ANONYMOUS, SUPERUSER = "anonymous", "superuser"
# The columns of every row of EXPECTED, in this order.
WHO = (ANONYMOUS, Role.OWNER, Role.COMPLIANCE_OFFICER, Role.OPERATOR, Role.CUSTODIAN, Role.AUDITOR, Role.MANAGER,
       SUPERUSER)
MISSING = 999_999  # the id of an object of a kind no row exists of (proposals and transactions need the chain)
ADDRESS = dev_account(20).address

# Status per column of WHO: "GET" and "POST" (empty form). 302 from the admin to anonymous is its login page.
EXPECTED: dict[str, dict[str, tuple[int, ...]]] = {
    "admin:index": {"GET": (302, 200, 200, 200, 200, 200, 200, 200), "POST": (302, 200, 200, 200, 200, 200, 200, 200)},
    "admin:login": {"GET": (200, 302, 302, 302, 302, 302, 302, 302), "POST": (200, 200, 200, 200, 200, 200, 200, 200)},
    "admin:logout": {"GET": (302, 405, 405, 405, 405, 405, 405, 405), "POST": (302, 200, 200, 200, 200, 200, 200, 200)},
    "admin:password_change": {"GET": (302, 200, 200, 200, 200, 200, 200, 200), "POST": (302, 200, 200, 200, 200, 200, 200, 200)},
    "admin:password_change_done": {"GET": (302, 200, 200, 200, 200, 200, 200, 200), "POST": (302, 405, 405, 405, 405, 405, 405, 405)},
    "admin:autocomplete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 405, 405, 405, 405, 405, 405, 405)},
    "admin:jsi18n": {"GET": (302, 200, 200, 200, 200, 200, 200, 200), "POST": (302, 405, 405, 405, 405, 405, 405, 405)},
    "admin:view_on_site": {"GET": (302, 404, 404, 404, 404, 404, 404, 404), "POST": (302, 404, 404, 404, 404, 404, 404, 404)},
    "admin:auth_group_changelist": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "admin:auth_group_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 200)},
    "admin:auth_group_history": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "admin:auth_group_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 200)},
    "admin:auth_group_change": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 200)},
    "admin/auth/group/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:auth_user_password_change": {"GET": (302, 403, 403, 403, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 200)},
    "admin:auth_user_changelist": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "admin:auth_user_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 200)},
    "admin:auth_user_history": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "admin:auth_user_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 200)},
    "admin:auth_user_change": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 200)},
    "admin/auth/user/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:journal_journalentry_changelist": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "admin:journal_journalentry_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:journal_journalentry_history": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "admin:journal_journalentry_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:journal_journalentry_change": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/journal/journalentry/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:journal_journalanchor_changelist": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "admin:journal_journalanchor_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:journal_journalanchor_history": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:journal_journalanchor_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:journal_journalanchor_change": {"GET": (302, 403, 403, 403, 403, 403, 302, 302), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/journal/journalanchor/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:multisig_signer_changelist": {"GET": (302, 200, 200, 200, 403, 403, 200, 200), "POST": (302, 200, 200, 200, 403, 403, 200, 200)},
    "admin:multisig_signer_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:multisig_signer_history": {"GET": (302, 200, 302, 200, 302, 302, 200, 200), "POST": (302, 200, 302, 200, 302, 302, 200, 200)},
    "admin:multisig_signer_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:multisig_signer_change": {"GET": (302, 200, 302, 200, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/multisig/signer/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:multisig_multisigtransaction_changelist": {"GET": (302, 200, 200, 200, 403, 403, 200, 200), "POST": (302, 200, 200, 200, 403, 403, 200, 200)},
    "admin:multisig_multisigtransaction_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:multisig_multisigtransaction_history": {"GET": (302, 302, 200, 302, 302, 302, 200, 200), "POST": (302, 302, 200, 302, 302, 302, 200, 200)},
    "admin:multisig_multisigtransaction_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:multisig_multisigtransaction_change": {"GET": (302, 302, 200, 302, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/multisig/multisigtransaction/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:chain_deployment_changelist": {"GET": (302, 200, 200, 200, 200, 200, 200, 200), "POST": (302, 200, 200, 200, 200, 200, 200, 200)},
    "admin:chain_deployment_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:chain_deployment_history": {"GET": (302, 200, 200, 200, 200, 200, 200, 200), "POST": (302, 200, 200, 200, 200, 200, 200, 200)},
    "admin:chain_deployment_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:chain_deployment_change": {"GET": (302, 200, 200, 200, 200, 200, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/chain/deployment/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:chain_multisig_changelist": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "admin:chain_multisig_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:chain_multisig_history": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "admin:chain_multisig_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:chain_multisig_change": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/chain/multisig/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:chain_indexcursor_changelist": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "admin:chain_indexcursor_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:chain_indexcursor_history": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:chain_indexcursor_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:chain_indexcursor_change": {"GET": (302, 403, 403, 403, 403, 403, 302, 302), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/chain/indexcursor/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:chain_chainevent_changelist": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "admin:chain_chainevent_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:chain_chainevent_history": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:chain_chainevent_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:chain_chainevent_change": {"GET": (302, 403, 403, 403, 403, 403, 302, 302), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/chain/chainevent/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:issuance_vault_changelist": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 200, 403, 200, 200, 200, 200, 200)},
    "admin:issuance_vault_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 200)},
    "admin:issuance_vault_history": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 200, 403, 200, 200, 200, 200, 200)},
    "admin:issuance_vault_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:issuance_vault_change": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 200)},
    "admin/issuance/vault/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:issuance_bar_list_template": {"GET": (302, 200, 200, 200, 200, 200, 200, 200), "POST": (302, 200, 200, 200, 200, 200, 200, 200)},
    "admin:issuance_deposit_upload": {"GET": (302, 403, 403, 200, 403, 403, 403, 200), "POST": (302, 403, 403, 200, 403, 403, 403, 200)},
    "admin:issuance_deposit_file": {"GET": (302, 200, 404, 200, 200, 200, 200, 200), "POST": (302, 200, 404, 200, 200, 200, 200, 200)},
    "admin:issuance_deposit_transition": {"GET": (302, 403, 403, 403, 200, 403, 403, 200), "POST": (302, 403, 403, 403, 200, 403, 403, 200)},
    "admin:issuance_deposit_changelist": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 200, 403, 200, 200, 200, 200, 200)},
    "admin:issuance_deposit_add": {"GET": (302, 403, 403, 200, 403, 403, 403, 200), "POST": (302, 403, 403, 200, 403, 403, 403, 200)},
    "admin:issuance_deposit_history": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 200, 403, 200, 200, 200, 200, 200)},
    "admin:issuance_deposit_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:issuance_deposit_change": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 403, 403, 403, 302, 403, 403, 302)},
    "admin/issuance/deposit/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:issuance_audit_upload": {"GET": (302, 403, 403, 403, 403, 200, 403, 403), "POST": (302, 403, 403, 403, 403, 200, 403, 403)},
    "admin:issuance_audit_submit": {"GET": (302, 403, 403, 403, 403, 200, 403, 403), "POST": (302, 403, 403, 403, 403, 200, 403, 403)},
    "admin:issuance_audit_file": {"GET": (302, 404, 404, 404, 404, 404, 404, 404), "POST": (302, 404, 404, 404, 404, 404, 404, 404)},
    "admin:issuance_audit_transition": {"GET": (302, 403, 403, 403, 403, 200, 403, 200), "POST": (302, 403, 403, 403, 403, 200, 403, 200)},
    "admin:issuance_audit_changelist": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 200, 403, 200, 200, 200, 200, 200)},
    "admin:issuance_audit_add": {"GET": (302, 403, 403, 200, 403, 403, 403, 200), "POST": (302, 403, 403, 200, 403, 403, 403, 200)},
    "admin:issuance_audit_history": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 200, 403, 200, 200, 200, 200, 200)},
    "admin:issuance_audit_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:issuance_audit_change": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 403, 403, 403, 403, 302, 403, 403)},
    "admin/issuance/audit/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:issuance_barlistimport_file": {"GET": (302, 200, 404, 200, 200, 200, 200, 200), "POST": (302, 200, 404, 200, 200, 200, 200, 200)},
    "admin:issuance_barlistimport_changelist": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 200, 403, 200, 200, 200, 200, 200)},
    "admin:issuance_barlistimport_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:issuance_barlistimport_history": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 200, 403, 200, 200, 200, 200, 200)},
    "admin:issuance_barlistimport_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:issuance_barlistimport_change": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/issuance/barlistimport/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:issuance_bar_changelist": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 200, 403, 200, 200, 200, 200, 200)},
    "admin:issuance_bar_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:issuance_bar_history": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 200, 403, 200, 200, 200, 200, 200)},
    "admin:issuance_bar_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:issuance_bar_change": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/issuance/bar/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:issuance_discrepancy_changelist": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 200, 403, 200, 200, 200, 200, 200)},
    "admin:issuance_discrepancy_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:issuance_discrepancy_history": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:issuance_discrepancy_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:issuance_discrepancy_change": {"GET": (302, 302, 403, 302, 302, 302, 302, 302), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/issuance/discrepancy/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:issuance_goldprice_changelist": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 200, 403, 200, 200, 200, 200, 200)},
    "admin:issuance_goldprice_add": {"GET": (302, 403, 403, 200, 403, 403, 403, 200), "POST": (302, 403, 403, 200, 403, 403, 403, 200)},
    "admin:issuance_goldprice_history": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 200, 403, 200, 200, 200, 200, 200)},
    "admin:issuance_goldprice_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:issuance_goldprice_change": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:issuance_goldprice_transition": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "admin/issuance/goldprice/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:issuance_reservesnapshot_changelist": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 200, 403, 200, 200, 200, 200, 200)},
    "admin:issuance_reservesnapshot_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:issuance_reservesnapshot_history": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:issuance_reservesnapshot_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:issuance_reservesnapshot_change": {"GET": (302, 302, 403, 302, 302, 302, 302, 302), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/issuance/reservesnapshot/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:issuance_ownerproposal_withdraw": {"GET": (302, 403, 403, 200, 403, 403, 403, 200), "POST": (302, 403, 403, 200, 403, 403, 403, 200)},
    "admin:issuance_ownerproposal_export": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 200, 403, 200, 200, 200, 200, 200)},
    "admin:issuance_ownerproposal_transition": {"GET": (302, 403, 403, 200, 403, 403, 403, 200), "POST": (302, 403, 403, 200, 403, 403, 403, 200)},
    "admin:issuance_ownerproposal_changelist": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 200, 403, 200, 200, 200, 200, 200)},
    "admin:issuance_ownerproposal_add": {"GET": (302, 403, 403, 200, 403, 403, 403, 200), "POST": (302, 403, 403, 200, 403, 403, 403, 200)},
    "admin:issuance_ownerproposal_history": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 200, 403, 200, 200, 200, 200, 200)},
    "admin:issuance_ownerproposal_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:issuance_ownerproposal_change": {"GET": (302, 200, 403, 200, 200, 200, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/issuance/ownerproposal/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:compliance_case_evidence": {"GET": (302, 403, 200, 403, 403, 403, 403, 200), "POST": (302, 403, 200, 403, 403, 403, 403, 200)},
    "admin:compliance_case_propose": {"GET": (302, 403, 200, 403, 403, 403, 403, 200), "POST": (302, 403, 200, 403, 403, 403, 403, 200)},
    "admin:compliance_case_transition": {"GET": (302, 403, 200, 403, 403, 403, 403, 200), "POST": (302, 403, 200, 403, 403, 403, 403, 200)},
    "admin:compliance_case_changelist": {"GET": (302, 403, 200, 403, 403, 403, 200, 200), "POST": (302, 403, 200, 403, 403, 403, 200, 200)},
    "admin:compliance_case_add": {"GET": (302, 403, 200, 403, 403, 403, 403, 200), "POST": (302, 403, 200, 403, 403, 403, 403, 200)},
    "admin:compliance_case_history": {"GET": (302, 403, 200, 403, 403, 403, 200, 200), "POST": (302, 403, 200, 403, 403, 403, 200, 200)},
    "admin:compliance_case_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:compliance_case_change": {"GET": (302, 403, 200, 403, 403, 403, 200, 200), "POST": (302, 403, 302, 403, 403, 403, 403, 302)},
    "admin/compliance/case/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:compliance_complianceproposal_export": {"GET": (302, 403, 200, 403, 403, 403, 200, 200), "POST": (302, 403, 200, 403, 403, 403, 200, 200)},
    "admin:compliance_complianceproposal_changelist": {"GET": (302, 403, 200, 403, 403, 403, 200, 200), "POST": (302, 403, 200, 403, 403, 403, 200, 200)},
    "admin:compliance_complianceproposal_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:compliance_complianceproposal_history": {"GET": (302, 403, 200, 403, 403, 403, 200, 200), "POST": (302, 403, 200, 403, 403, 403, 200, 200)},
    "admin:compliance_complianceproposal_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:compliance_complianceproposal_change": {"GET": (302, 403, 200, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/compliance/complianceproposal/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:compliance_frozenaddress_changelist": {"GET": (302, 403, 200, 403, 403, 403, 200, 200), "POST": (302, 403, 200, 403, 403, 403, 200, 200)},
    "admin:compliance_frozenaddress_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:compliance_frozenaddress_history": {"GET": (302, 403, 200, 403, 403, 403, 200, 200), "POST": (302, 403, 200, 403, 403, 403, 200, 200)},
    "admin:compliance_frozenaddress_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:compliance_frozenaddress_change": {"GET": (302, 403, 200, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/compliance/frozenaddress/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:compliance_screeningimport_changelist": {"GET": (302, 403, 200, 403, 403, 403, 200, 200), "POST": (302, 403, 200, 403, 403, 403, 200, 200)},
    "admin:compliance_screeningimport_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:compliance_screeningimport_history": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:compliance_screeningimport_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:compliance_screeningimport_change": {"GET": (302, 403, 302, 403, 403, 403, 302, 302), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/compliance/screeningimport/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:compliance_screeningentry_changelist": {"GET": (302, 403, 200, 403, 403, 403, 200, 200), "POST": (302, 403, 200, 403, 403, 403, 200, 200)},
    "admin:compliance_screeningentry_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:compliance_screeningentry_history": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:compliance_screeningentry_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:compliance_screeningentry_change": {"GET": (302, 403, 302, 403, 403, 403, 302, 302), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/compliance/screeningentry/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:accounts_loginlock_lift": {"GET": (302, 405, 405, 405, 405, 405, 405, 405), "POST": (302, 403, 403, 403, 403, 403, 403, 302)},
    "admin:accounts_loginlock_changelist": {"GET": (302, 403, 403, 403, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 200)},
    "admin:accounts_loginlock_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:accounts_loginlock_history": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:accounts_loginlock_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:accounts_loginlock_change": {"GET": (302, 403, 403, 403, 403, 403, 403, 302), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/accounts/loginlock/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:accounts_apitoken_changelist": {"GET": (302, 200, 200, 200, 200, 200, 200, 200), "POST": (302, 200, 200, 200, 200, 200, 200, 200)},
    "admin:accounts_apitoken_add": {"GET": (302, 200, 200, 200, 200, 200, 200, 200), "POST": (302, 200, 200, 200, 200, 200, 200, 200)},
    "admin:accounts_apitoken_history": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:accounts_apitoken_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 403), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin:accounts_apitoken_change": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 403, 403, 403, 403, 403, 403, 403)},
    "admin/accounts/apitoken/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:app_list": {"GET": (302, 200, 404, 200, 200, 200, 200, 200), "POST": (302, 200, 404, 200, 200, 200, 200, 200)},
    "admin/(?P<url>.*)$": {"GET": (302, 404, 404, 404, 404, 404, 404, 404), "POST": (302, 404, 404, 404, 404, 404, 404, 404)},
    "multisig-api:transaction-list": {"GET": (403, 200, 200, 200, 200, 200, 200, 200), "POST": (403, 405, 405, 405, 405, 405, 405, 405)},
    "multisig-api:transaction-detail": {"GET": (403, 404, 200, 404, 404, 404, 200, 200), "POST": (403, 405, 405, 405, 405, 405, 405, 405)},
    "multisig-api:transaction-approve-call": {"GET": (403, 404, 409, 404, 404, 404, 409, 409), "POST": (403, 405, 405, 405, 405, 405, 405, 405)},
    "multisig-api:transaction-cancel": {"GET": (403, 405, 405, 405, 405, 405, 405, 405), "POST": (403, 404, 400, 404, 404, 404, 400, 400)},
    "multisig-api:transaction-execute-call": {"GET": (403, 404, 409, 404, 404, 404, 409, 409), "POST": (403, 405, 405, 405, 405, 405, 405, 405)},
    "multisig-api:transaction-raw": {"GET": (403, 405, 405, 405, 405, 405, 405, 405), "POST": (403, 404, 400, 404, 404, 404, 400, 400)},
    "multisig-api:transaction-reject": {"GET": (403, 405, 405, 405, 405, 405, 405, 405), "POST": (403, 404, 400, 404, 404, 404, 400, 400)},
    "multisig-api:transaction-sent": {"GET": (403, 405, 405, 405, 405, 405, 405, 405), "POST": (403, 404, 400, 404, 404, 404, 400, 400)},
    "multisig-api:transaction-signatures": {"GET": (403, 405, 405, 405, 405, 405, 405, 405), "POST": (403, 404, 400, 404, 404, 404, 400, 400)},
    "multisig-api:transaction-typed-data": {"GET": (403, 404, 200, 404, 404, 404, 200, 200), "POST": (403, 405, 405, 405, 405, 405, 405, 405)},
    "api-reconciliation": {"GET": (403, 403, 403, 403, 403, 403, 503, 503), "POST": (403, 403, 403, 403, 403, 403, 405, 405)},
    "reconciliation": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "reconciliation-alert-acknowledge": {"GET": (302, 405, 405, 405, 405, 405, 405, 405), "POST": (302, 403, 403, 403, 403, 403, 302, 302)},
    "api-address-timeline": {"GET": (403, 403, 403, 403, 403, 403, 200, 200), "POST": (403, 403, 403, 403, 403, 403, 405, 405)},
    "api-object-timeline": {"GET": (403, 403, 403, 403, 403, 403, 200, 200), "POST": (403, 403, 403, 403, 403, 403, 405, 405)},
    "timeline-address-search": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "timeline-address": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "timeline-address-export": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "timeline-object": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "timeline-object-export": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "charts:manager": {"GET": (302, 403, 403, 403, 403, 403, 200, 200), "POST": (302, 403, 403, 403, 403, 403, 200, 200)},
    "api-journal": {"GET": (403, 403, 403, 403, 403, 403, 200, 200), "POST": (403, 403, 403, 403, 403, 403, 405, 405)},
    "api-journal-export": {"GET": (403, 403, 403, 403, 403, 403, 200, 200), "POST": (403, 403, 403, 403, 403, 403, 405, 405)},
    "api-inbox": {"GET": (403, 200, 200, 200, 200, 200, 200, 200), "POST": (403, 405, 405, 405, 405, 405, 405, 405)},
    "accounts:notification-preferences": {"GET": (302, 200, 200, 200, 200, 200, 200, 200), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "accounts:notifications-read": {"GET": (302, 405, 405, 405, 405, 405, 405, 405), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "compliance-case-list": {"GET": (403, 403, 200, 403, 403, 403, 200, 200), "POST": (403, 403, 400, 403, 403, 403, 403, 400)},
    "compliance-case-detail": {"GET": (403, 403, 200, 403, 403, 403, 200, 200), "POST": (403, 403, 405, 403, 403, 403, 405, 405)},
    "compliance-case-close": {"GET": (403, 403, 405, 403, 403, 403, 405, 405), "POST": (403, 403, 400, 403, 403, 403, 403, 400)},
    "compliance-case-evidence": {"GET": (403, 403, 405, 403, 403, 403, 405, 405), "POST": (403, 403, 400, 403, 403, 403, 403, 400)},
    "compliance-proposal-list": {"GET": (403, 403, 200, 403, 403, 403, 200, 200), "POST": (403, 403, 400, 403, 403, 403, 403, 400)},
    "compliance-proposal-detail": {"GET": (403, 403, 200, 403, 403, 403, 200, 200), "POST": (403, 403, 405, 403, 403, 403, 405, 405)},
    "compliance-register-list": {"GET": (403, 403, 200, 403, 403, 403, 200, 200), "POST": (403, 403, 405, 403, 403, 403, 405, 405)},
    "compliance-register-refresh": {"GET": (403, 403, 405, 403, 403, 403, 405, 405), "POST": (403, 403, 200, 403, 403, 403, 403, 200)},
    "compliance:register": {"GET": (302, 403, 200, 403, 403, 403, 200, 200), "POST": (302, 403, 200, 403, 403, 403, 200, 200)},
    "compliance:register-refresh": {"GET": (405, 405, 405, 405, 405, 405, 405, 405), "POST": (302, 403, 302, 403, 403, 403, 403, 302)},
    "compliance:screening": {"GET": (302, 403, 200, 403, 403, 403, 200, 200), "POST": (302, 403, 200, 403, 403, 403, 403, 200)},
    "compliance:screening-open-case": {"GET": (405, 405, 405, 405, 405, 405, 405, 405), "POST": (302, 403, 302, 403, 403, 403, 403, 302)},
    "compliance:evidence": {"GET": (302, 403, 200, 403, 403, 403, 200, 200), "POST": (302, 403, 200, 403, 403, 403, 200, 200)},
    "deposit-list": {"GET": (403, 200, 403, 200, 200, 200, 200, 200), "POST": (403, 403, 403, 400, 403, 403, 403, 400)},
    "deposit-detail": {"GET": (403, 200, 403, 200, 200, 200, 200, 200), "POST": (403, 405, 403, 405, 405, 405, 405, 405)},
    "deposit-bars": {"GET": (403, 200, 403, 200, 200, 200, 200, 200), "POST": (403, 403, 403, 400, 403, 403, 403, 400)},
    "deposit-receive": {"GET": (403, 405, 403, 405, 405, 405, 405, 405), "POST": (403, 403, 403, 403, 400, 403, 403, 400)},
    "deposit-reject": {"GET": (403, 405, 403, 405, 405, 405, 405, 405), "POST": (403, 403, 403, 403, 400, 403, 403, 400)},
    "deposit-release": {"GET": (403, 405, 403, 405, 405, 405, 405, 405), "POST": (403, 403, 403, 403, 400, 403, 403, 400)},
    "deposit-verify": {"GET": (403, 405, 403, 405, 405, 405, 405, 405), "POST": (403, 403, 403, 403, 200, 403, 403, 200)},
    "audit-list": {"GET": (403, 200, 403, 200, 200, 200, 200, 200), "POST": (403, 403, 403, 400, 403, 403, 403, 400)},
    "audit-detail": {"GET": (403, 200, 403, 200, 200, 200, 200, 200), "POST": (403, 405, 403, 405, 405, 405, 405, 405)},
    "audit-accept": {"GET": (403, 405, 403, 405, 405, 405, 405, 405), "POST": (403, 403, 403, 403, 403, 409, 403, 403)},
    "audit-counts": {"GET": (403, 405, 403, 405, 405, 405, 405, 405), "POST": (403, 403, 403, 403, 403, 400, 403, 403)},
    "audit-dispute": {"GET": (403, 405, 403, 405, 405, 405, 405, 405), "POST": (403, 403, 403, 403, 403, 400, 403, 403)},
    "audit-start-fieldwork": {"GET": (403, 405, 403, 405, 405, 405, 405, 405), "POST": (403, 403, 403, 403, 403, 409, 403, 403)},
    "audit-submit": {"GET": (403, 405, 403, 405, 405, 405, 405, 405), "POST": (403, 403, 403, 403, 403, 400, 403, 403)},
    "goldprice-list": {"GET": (403, 200, 403, 200, 200, 200, 200, 200), "POST": (403, 403, 403, 400, 403, 403, 403, 400)},
    "goldprice-detail": {"GET": (403, 200, 403, 200, 200, 200, 200, 200), "POST": (403, 405, 403, 405, 405, 405, 405, 405)},
    "ownerproposal-list": {"GET": (403, 200, 403, 200, 200, 200, 200, 200), "POST": (403, 403, 403, 400, 403, 403, 403, 400)},
    "ownerproposal-queue": {"GET": (403, 200, 403, 200, 200, 200, 200, 200), "POST": (403, 405, 403, 405, 405, 405, 405, 405)},
    "ownerproposal-detail": {"GET": (403, 200, 403, 200, 200, 200, 200, 200), "POST": (403, 405, 403, 405, 405, 405, 405, 405)},
    "ownerproposal-cancel": {"GET": (403, 405, 403, 405, 405, 405, 405, 405), "POST": (403, 403, 403, 400, 403, 403, 403, 400)},
    "ownerproposal-propose": {"GET": (403, 405, 403, 405, 405, 405, 405, 405), "POST": (403, 403, 403, 409, 403, 403, 403, 409)},
    "multisig:dev-wallet-js": {"GET": (404, 404, 404, 404, 404, 404, 404, 404), "POST": (405, 405, 405, 405, 405, 405, 405, 405)},
    "multisig:dev-wallet-rpc": {"GET": (405, 405, 405, 405, 405, 405, 405, 405), "POST": (404, 404, 404, 404, 404, 404, 404, 404)},
    "multisig:sign": {"GET": (302, 403, 200, 403, 403, 403, 200, 200), "POST": (302, 403, 200, 403, 403, 403, 200, 200)},
    "multisig:queue": {"GET": (302, 403, 200, 403, 403, 403, 200, 200), "POST": (302, 405, 405, 405, 405, 405, 405, 405)},
    "multisig:wait": {"GET": (302, 403, 200, 403, 403, 403, 200, 200), "POST": (302, 405, 405, 405, 405, 405, 405, 405)},
    "schema": {"GET": (403, 200, 200, 200, 200, 200, 200, 200), "POST": (403, 405, 405, 405, 405, 405, 405, 405)},
    "api-docs": {"GET": (403, 200, 200, 200, 200, 200, 200, 200), "POST": (403, 405, 405, 405, 405, 405, 405, 405)},
    "reserve:proof": {"GET": (200, 200, 200, 200, 200, 200, 200, 200), "POST": (405, 405, 405, 405, 405, 405, 405, 405)},
    "reserve:bars-csv": {"GET": (200, 200, 200, 200, 200, 200, 200, 200), "POST": (405, 405, 405, 405, 405, 405, 405, 405)},
    "reserve:api": {"GET": (200, 200, 200, 200, 200, 200, 200, 200), "POST": (405, 405, 405, 405, 405, 405, 405, 405)},
    # The second factor (django-otp, its WebAuthn plugin): enrolment and challenge for anyone signed in;
    # device admin for superusers only (reset a lost device by deleting it).
    "admin:otp_totp_totpdevice_config": {"GET": (302, 403, 403, 403, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 200)},
    "admin:otp_totp_totpdevice_qrcode": {"GET": (302, 403, 403, 403, 403, 403, 403, 503), "POST": (302, 403, 403, 403, 403, 403, 403, 503)},
    "admin:otp_totp_totpdevice_changelist": {"GET": (302, 403, 403, 403, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 200)},
    "admin:otp_totp_totpdevice_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 200)},
    "admin:otp_totp_totpdevice_history": {"GET": (302, 403, 403, 403, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 200)},
    "admin:otp_totp_totpdevice_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 200)},
    "admin:otp_totp_totpdevice_change": {"GET": (302, 403, 403, 403, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 200)},
    "admin/otp_totp/totpdevice/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:otp_static_staticdevice_changelist": {"GET": (302, 403, 403, 403, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 200)},
    "admin:otp_static_staticdevice_add": {"GET": (302, 403, 403, 403, 403, 403, 403, 200), "POST": (302, 403, 403, 403, 403, 403, 403, 200)},
    "admin:otp_static_staticdevice_history": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "admin:otp_static_staticdevice_delete": {"GET": (302, 403, 403, 403, 403, 403, 403, 302), "POST": (302, 403, 403, 403, 403, 403, 403, 302)},
    "admin:otp_static_staticdevice_change": {"GET": (302, 403, 403, 403, 403, 403, 403, 302), "POST": (302, 403, 403, 403, 403, 403, 403, 302)},
    "admin/otp_static/staticdevice/<path:object_id>/": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "accounts:mfa-enrol": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "accounts:mfa-challenge": {"GET": (302, 200, 200, 200, 200, 200, 200, 200), "POST": (302, 400, 400, 400, 400, 400, 400, 400)},
    "accounts:mfa-recovery-codes": {"GET": (302, 302, 302, 302, 302, 302, 302, 302), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "accounts:mfa-recovery-codes-renew": {"GET": (405, 405, 405, 405, 405, 405, 405, 405), "POST": (302, 302, 302, 302, 302, 302, 302, 302)},
    "accounts:mfa-devices": {"GET": (302, 200, 200, 200, 200, 200, 200, 200), "POST": (302, 200, 200, 200, 200, 200, 200, 200)},
    "otp_webauthn:credential-registration-begin": {"GET": (403, 405, 405, 405, 405, 405, 405, 405), "POST": (403, 200, 200, 200, 200, 200, 200, 200)},
    "otp_webauthn:credential-registration-complete": {"GET": (403, 405, 405, 405, 405, 405, 405, 405), "POST": (403, 400, 400, 400, 400, 400, 400, 400)},
    "otp_webauthn:credential-authentication-begin": {"GET": (403, 405, 405, 405, 405, 405, 405, 405), "POST": (403, 200, 200, 200, 200, 200, 200, 200)},
    "otp_webauthn:credential-authentication-complete": {"GET": (403, 405, 405, 405, 405, 405, 405, 405), "POST": (403, 400, 400, 400, 400, 400, 400, 400)},
    "otp_webauthn:js-i18n-catalog": {"GET": (200, 200, 200, 200, 200, 200, 200, 200), "POST": (405, 405, 405, 405, 405, 405, 405, 405)},
}


def _routes(resolver: URLResolver | None = None, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    """(key, route) for every URL pattern: the key is the URL name (with its namespace), or the route when unnamed."""
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _routes(pattern, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            yield (f"{namespace}{pattern.name}" if pattern.name else route), route


def _model_of(route: str) -> Any:
    """The model an admin route is about (admin/<app>/<model>/...), or None."""
    match = re.match(r"admin/(\w+)/(\w+)/", route)
    if not match:
        return None
    try:
        return apps.get_model(match[1], match[2])
    except LookupError:
        return None


class Sample:
    """One object of each kind, and the value each URL parameter takes."""

    def __init__(self, people: dict[str, User]) -> None:
        operator, custodian, auditor = people[Role.OPERATOR], people[Role.CUSTODIAN], people[Role.AUDITOR]
        officer = people[Role.COMPLIANCE_OFFICER]
        client = chain_client()
        vault = Vault.objects.create(name="Vault M", location="Zurich")
        self.deposit = services.deposit_create(reference="DEP-M1", depositor="Refinery SA", vault=vault,
                                               actor=operator)
        services.deposit_bars_import(deposit_id=self.deposit.pk, content=bar_csv([("M1", "400", "999.9", "")]),
                                     actor=operator)
        services.deposit_receive(deposit_id=self.deposit.pk, receipt=upload("r.pdf", b"%PDF r"), actor=custodian)
        audit = services.audit_plan(vault=vault, as_of=timezone.localdate(), auditor=auditor, firm="Assay LLP",
                                    actor=operator)
        self.audit = services.audit_start_fieldwork(audit_id=audit.pk, actor=auditor)
        services.bar_list_import_start(kind=ImportKind.AUDIT_COUNTS, target_id=audit.pk, actor=auditor,
                                       upload=SimpleUploadedFile("counts.csv", bar_csv([("M1", "400", "999.9", "")])
                                                                 .encode()))
        self.price = services.gold_price_record(usd_per_oz="2400.00", source="LBMA PM",
                                                as_of=timezone.now() - timedelta(minutes=1), actor=operator)
        self.case = case_open(address=ADDRESS, category="court_order", reference="CO-1", description="Order",
                              actor=officer)
        self.evidence = case_evidence_add(case_id=self.case.pk, upload=upload("e.pdf", b"%PDF e"),
                                          description="Order", actor=officer)
        # A compliance proposal (its transaction on the compliance multisig) and an owner proposal proposed
        # to the issuance multisig: the transaction URLs are checked on one of each kind.
        self.compliance = compliance_proposal_create(client=client, case_id=self.case.pk, action="blacklist",
                                                     actor=officer)
        draft = proposal_draft(client=client, kind="pause", actor=operator, memo="matrix")
        self.proposal = proposal_propose(client=client, proposal_id=draft.pk, actor=operator)
        self.user = operator

    def first_pk(self, model: Any) -> Any:
        if model is User:
            return self.user.pk
        row = model._default_manager.order_by("pk").first() if model is not None else None
        return row.pk if row is not None else MISSING

    def pk_for(self, key: str) -> Any:
        """`pk` of a non-admin route, from its name."""
        for fragment, obj in (("deposit", self.deposit), ("audit", self.audit), ("goldprice", self.price),
                              ("compliance-case", self.case), ("compliance:evidence", self.evidence),
                              ("compliance-proposal", self.compliance), ("ownerproposal", self.proposal),
                              ("transaction", self.compliance.transaction)):
            if fragment in key:
                return obj.pk
        return MISSING

    def url(self, key: str, route: str) -> str:
        model = _model_of(route)
        model_name = getattr(getattr(model, "_meta", None), "model_name", "")
        values = {
            "object_id": self.first_pk(model),
            "id": self.user.pk, "user_id": self.user.pk, "alert_id": MISSING,
            "tx_id": self.compliance.transaction_id,
            "pk": self.first_pk(model) if model is not None else self.pk_for(key),
            "field": {"deposit": "receipt_document", "audit": "report"}.get(model_name, "file"),
            "transition_name": {"deposit": "reject", "audit": "dispute", "case": "close", "goldprice": "reject"}.get(model_name, "cancel"),
            "action": "blacklist", "address": ADDRESS, "label": "issuance.deposit",
            "content_type_id": ContentType.objects.get_for_model(self.deposit).pk, "app_label": "issuance",
            "url": "no-such-page/",
        }
        if "timeline" in key and "<int:pk>" in route:
            values["pk"] = self.deposit.pk
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(values[m[1]]), route)  # regex groups first
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m[1]]), path)
        return "/" + path.replace("^", "").replace("$", "")


@pytest.fixture
def people(chain: Any) -> dict[str, User]:
    """The demo users (one per role, signers bound) of the chain fixture, and a superuser."""
    names = {Role.OWNER: "owner1", Role.COMPLIANCE_OFFICER: "officer1", Role.OPERATOR: "operator",
             Role.CUSTODIAN: "custodian", Role.AUDITOR: "auditor", Role.MANAGER: "manager"}
    users = {role: User.objects.get(username=name) for role, name in names.items()}
    users[SUPERUSER] = User.objects.create_superuser("m-root", password="x" * 12)
    return users


def _status(client: Client, method: str, url: str) -> int:
    cookies = copy.deepcopy(client.cookies)  # the session cookie, which a POST to logout would drop
    with transaction.atomic():
        response = client.get(url) if method == "GET" else client.post(url, {})
        transaction.set_rollback(True)
    client.cookies = cookies
    return int(response.status_code)


def test_every_endpoint_answers_every_role_as_the_table_says(people: dict[str, User]) -> None:
    sample = Sample(people)
    clients = {ANONYMOUS: Client()}
    for who in WHO[1:]:
        clients[who] = Client()
        clients[who].force_login(people[who])
    routes = dict(_routes())
    observed: dict[str, dict[str, tuple[int, ...]]] = {}
    for key, route in routes.items():
        url = sample.url(key, route)
        observed[key] = {method: tuple(_status(clients[who], method, url) for who in WHO)
                         for method in ("GET", "POST")}
    if os.environ.get("ACCESS_MATRIX_PRINT"):
        print("\nEXPECTED = {")  # noqa: T201 - the table to review and paste
        for key, statuses in observed.items():
            print(f'    "{key}": {{"GET": {statuses["GET"]}, "POST": {statuses["POST"]}}},')  # noqa: T201
        print("}")  # noqa: T201
    unclassified = sorted(set(routes) - set(EXPECTED))
    assert not unclassified, f"new endpoints: classify them in EXPECTED (who may GET and POST): {unclassified}"
    assert not sorted(set(EXPECTED) - set(routes)), "endpoints gone: remove them from EXPECTED"
    wrong = [f"{key} {method}: expected {EXPECTED[key][method]}, got {got}"
             for key, answers in observed.items() for method, got in answers.items()
             if EXPECTED[key][method] != got]
    assert not wrong, "columns: " + ", ".join(WHO) + "\n" + "\n".join(wrong)
