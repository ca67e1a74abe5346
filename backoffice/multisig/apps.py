from django.apps import AppConfig


class MultisigConfig(AppConfig):
    name = "backoffice.multisig"
    label = "multisig"
    verbose_name = "Multisig"
