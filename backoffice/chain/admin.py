from django.contrib import admin

from backoffice.multisig.admin import ReadOnlyAdmin

from .models import Deployment


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ("chain_id", "token", "issuance_multisig", "compliance_multisig", "block_number", "deployed_at")
