from django.apps import AppConfig


class MultisigConfig(AppConfig):
    name = "backoffice.multisig"
    label = "multisig"
    verbose_name = "Multisig"

    def ready(self) -> None:
        from celery.signals import worker_init
        from django.core import checks

        from .checks import executor_key_check, worker_refuse_bad_executor

        checks.register(executor_key_check, "multisig", deploy=False)
        worker_init.connect(worker_refuse_bad_executor, weak=False)
