"""Upload handlers: what a multipart request carries, kept as the client sent it, within bounds.

Django cuts a file name over 255 characters without a word, so the name the client sent is kept on
the upload (`sent_name`) for `upload_refusal` to judge. A file larger than the largest limit of any
kind is counted but not kept: its size is still known, so it is refused by size with a clear
message, and the disk never holds more than that limit.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, MemoryFileUploadHandler, TemporaryFileUploadHandler


def upload_cap() -> int:
    return max(settings.UPLOAD_MAX_BYTES.values())


class _SentName(FileUploadHandler):
    sent_name = ""

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        self.sent_name = file_name
        super().new_file(field_name, file_name, *args, **kwargs)

    def file_complete(self, file_size: int) -> UploadedFile | None:
        upload = super().file_complete(file_size)
        if upload is not None:
            upload.sent_name = self.sent_name  # type: ignore[attr-defined]
        return upload


class MemoryUploadHandler(_SentName, MemoryFileUploadHandler):
    """Small files in memory (Django's own limit), with the name as sent."""


class TemporaryUploadHandler(_SentName, TemporaryFileUploadHandler):
    """Larger files on disk, never more of one than the largest upload limit."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > upload_cap():
            return None  # counted in the size, not kept: the upload is refused for its size
        return super().receive_data_chunk(raw_data, start)
