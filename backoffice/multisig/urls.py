"""The signing pages of multisig transactions and the development wallet; their JSON is the one
transactions API (api_transactions.py, under /api/multisig/)."""

from django.urls import path

from . import devwallet, views

app_name = "multisig"

urlpatterns = [
    path("dev-wallet.js", devwallet.dev_wallet_script, name="dev-wallet-js"),
    path("dev-wallet/rpc", devwallet.dev_wallet_rpc, name="dev-wallet-rpc"),
    path("<int:tx_id>/", views.transaction_sign_page, name="sign"),
    path("<int:tx_id>/queue/", views.transaction_queue_rows, name="queue"),
    path("<int:tx_id>/wait/", views.transaction_wait, name="wait"),
]
