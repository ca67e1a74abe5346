from django.contrib import admin

from backoffice.multisig.admin import ReadOnlyAdmin

from .models import ChainEvent, Deployment, IndexCursor, Multisig


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ("chain_id", "token", "block_number", "deployed_at")


@admin.register(Multisig)
class MultisigAdmin(ReadOnlyAdmin):
    list_display = ("role", "address", "kind", "threshold", "execution", "chain_id", "recorded_at")
    list_filter = ("kind", "role", "chain_id")


@admin.register(IndexCursor)
class IndexCursorAdmin(ReadOnlyAdmin):
    list_display = ("chain_id", "block_number", "head", "block_hash", "updated_at")


@admin.register(ChainEvent)
class ChainEventAdmin(ReadOnlyAdmin):
    list_display = ("block_number", "log_index", "name", "role", "address", "tx_hash", "chain_id")
    list_filter = ("role", "name", "chain_id")
    search_fields = ("tx_hash", "address", "name")
    readonly_fields = ("chain_id", "block_number", "block_hash", "tx_hash", "log_index", "address", "role", "name",
                       "args", "created_at")
