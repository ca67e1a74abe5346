"""The signing pages of multisig transactions, their JSON, and the development wallet."""

from django.urls import path

from . import api, devwallet, views

app_name = "multisig"

urlpatterns = [
    path("dev-wallet.js", devwallet.dev_wallet_script, name="dev-wallet-js"),
    path("dev-wallet/rpc", devwallet.dev_wallet_rpc, name="dev-wallet-rpc"),
    path("<int:tx_id>/", views.transaction_sign_page, name="sign"),
    path("<int:tx_id>/typed-data/", api.TransactionTypedDataView.as_view(), name="typed-data"),
    path("<int:tx_id>/signatures/", api.TransactionSignaturesView.as_view(), name="signatures"),
    path("<int:tx_id>/status/", api.TransactionStatusView.as_view(), name="status"),
]
