"""Sending a task after commit never raises: the change is committed whatever the broker does."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from celery import shared_task
from django.db import transaction

from backoffice.core.tasks import task_enqueue_on_commit

pytestmark = pytest.mark.django_db


@shared_task
def _never_run(value: object) -> None:
    raise AssertionError("never sent")


def test_a_message_that_cannot_be_sent_is_logged_and_the_other_on_commit_work_still_runs(
    django_capture_on_commit_callbacks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []
    with caplog.at_level(logging.WARNING, logger="backoffice.core.tasks"), \
            django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            task_enqueue_on_commit(_never_run, object())  # not JSON: the message cannot even be encoded
            transaction.on_commit(lambda: ran.append("the next side effect"))

    assert ran == ["the next side effect"]
    [record] = [r for r in caplog.records if r.name == "backoffice.core.tasks"]
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert record.getMessage().startswith(f"task={_never_run.name} args=[<object object at ")
    assert record.getMessage().endswith("queued=false reason=unexpected-error")
