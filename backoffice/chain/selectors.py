from __future__ import annotations

from django.conf import settings

from .client import ChainError
from .models import Deployment


def deployment_get() -> Deployment:
    """The deployment on the configured chain; a clear error if `deploy_chain` has not run."""
    deployment = Deployment.objects.filter(chain_id=settings.CHAIN_ID).first()
    if deployment is None:
        raise ChainError(f"nothing is deployed on chain id {settings.CHAIN_ID}: run `manage.py deploy_chain`")
    return deployment
