from django.apps import AppConfig


class ChainConfig(AppConfig):
    name = "backoffice.chain"
    label = "chain"
    verbose_name = "Chain"
