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
    list_display = ("chain_id", "progress", "block_hash", "updated_at")

    @admin.display(description="Indexed")
    def progress(self, cursor: IndexCursor) -> str:
        """"block N of M (P %)": how far a long catch-up has come, from the deployment block on."""
        deployment = Deployment.objects.filter(chain_id=cursor.chain_id).first()
        start = deployment.block_number if deployment else 0
        span, done = max(cursor.head - start + 1, 1), max(cursor.block_number - start + 1, 0)
        return f"block {cursor.block_number} of {cursor.head} ({min(100, done * 100 // span)} %)"


@admin.register(ChainEvent)
class ChainEventAdmin(ReadOnlyAdmin):
    list_display = ("block_number", "log_index", "name", "role", "address", "tx_hash", "chain_id")
    list_filter = ("role", "name", "chain_id")
    search_fields = ("tx_hash", "address", "name")
    readonly_fields = ("chain_id", "block_number", "block_hash", "tx_hash", "log_index", "address", "role", "name",
                       "args", "created_at")
