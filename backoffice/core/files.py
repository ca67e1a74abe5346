"""Uploaded documents: checked, stored under their SHA-256, kept with the name the user gave them.

Every route that takes a file (admin forms, API serializers, services) refuses through
`upload_refusal`, so a file too large or with too long a name gets the same clear message
everywhere, before anything is stored. The services call `file_store` last of all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import models
from django.http import FileResponse, Http404
from rest_framework import serializers

from .errors import InvalidInput

FILE_NAME_MAX = 255  # what the person's own file name may be, as most file systems allow
# The stored name is "<folder>/<sha256>/<safe name>": room for the longest folder and a cut safe name.
STORED_NAME_MAX = 400
SAFE_NAME_MAX = 120


@dataclass(frozen=True)
class FileKind:
    """A kind of document; its size limit is `settings.UPLOAD_MAX_BYTES[key]` (one per kind)."""

    key: str
    folder: str
    label: str

    @property
    def max_bytes(self) -> int:
        return int(settings.UPLOAD_MAX_BYTES[self.key])


@dataclass(frozen=True)
class StoredFile:
    name: str  # in storage
    sha256: str
    original_name: str
    size: int


def _size_text(size: int) -> str:
    if size >= 2**20:
        return f"{size / 2**20:.1f} MiB"
    if size >= 2**10:
        return f"{size / 2**10:.1f} KiB"
    return f"{size} bytes"


def upload_original_name(upload: File) -> str:
    """The name as the client sent it (see core/uploads.py: Django would have cut a long one)."""
    name = getattr(upload, "sent_name", "") or upload.name or ""
    return name.replace("\\", "/").rsplit("/", 1)[-1].strip()


def upload_refusal(upload: File | None, kind: FileKind) -> str | None:
    """Why this upload cannot be taken as a `kind`, or None. Reads nothing but its name and size."""
    if upload is None or not getattr(upload, "size", 0):
        return f"the {kind.label} file is missing or empty"
    name = upload_original_name(upload)
    if not name:
        return f"the {kind.label} file has no name"
    if "\x00" in name:
        return f"the {kind.label} file name contains a NUL character"
    if len(name) > FILE_NAME_MAX:
        return (f"the {kind.label} file name is {len(name)} characters long; at most {FILE_NAME_MAX} are kept: "
                f"rename the file and upload it again")
    if upload.size > kind.max_bytes:
        return (f"the {kind.label} file is {_size_text(int(upload.size or 0))}; "
                f"at most {_size_text(kind.max_bytes)} is accepted")
    return None


def upload_require(upload: File | None, kind: FileKind) -> File:
    """The upload itself, or InvalidInput (nothing stored) saying what is wrong with it."""
    refusal = upload_refusal(upload, kind)
    if refusal is not None:
        raise InvalidInput(refusal)
    assert upload is not None  # noqa: S101 - upload_refusal refuses None
    return upload


def file_store(*, upload: File, kind: FileKind) -> StoredFile:
    """Check the upload, then store it under a name derived from its SHA-256.

    Content-addressed names mean a stored file is never overwritten by another. The name the user
    gave is returned unchanged (for display and downloads); the stored name is a safe, cut form of it.
    Refuses (InvalidInput, nothing stored) what `upload_refusal` refuses.
    """
    upload_require(upload, kind)
    original = upload_original_name(upload)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    sha256 = digest.hexdigest()
    upload.seek(0)
    safe = default_storage.get_valid_name(original) or "file"
    if len(safe) > SAFE_NAME_MAX:  # keep the extension, which tells what the file is
        stem, dot, extension = safe.rpartition(".")
        extension = extension[:20] if dot else ""
        safe = (stem if dot else safe)[: SAFE_NAME_MAX - len(extension) - 1] + (f".{extension}" if extension else "")
    name = f"{kind.folder}/{sha256}/{safe}"
    if not default_storage.exists(name):
        name = default_storage.save(name, upload)
    return StoredFile(name=name, sha256=sha256, original_name=original, size=int(upload.size or 0))


def file_response(field_file: Any, original_name: str) -> FileResponse:
    """A stored file as a download under the name it was uploaded with."""
    if not field_file or not default_storage.exists(field_file.name):
        raise Http404("no file is stored here")
    filename = original_name or field_file.name.rsplit("/", 1)[-1]
    return FileResponse(field_file.open("rb"), as_attachment=True, filename=filename)


class StoredFileField(models.FileField):
    """A FileField with room for "<folder>/<sha256>/<name>" (Django's default of 100 is not enough)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", STORED_NAME_MAX)
        super().__init__(*args, **kwargs)


def original_name_field() -> models.CharField:
    """The column that keeps the name the file was uploaded with, beside its StoredFileField."""
    return models.CharField(max_length=FILE_NAME_MAX, blank=True)


class UploadField(forms.FileField):
    """An admin form's file field that refuses, as a field error, what the service would refuse."""

    def __init__(self, *args: Any, kind: FileKind, **kwargs: Any) -> None:
        self.kind = kind
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        upload = super().clean(data, initial)
        refusal = upload_refusal(upload, self.kind)
        if refusal is not None:
            raise forms.ValidationError(refusal)
        return upload


class UploadSerializerField(serializers.FileField):
    """An API serializer's file field that refuses, as a field error, what the service would refuse."""

    def __init__(self, *args: Any, kind: FileKind, **kwargs: Any) -> None:
        self.kind = kind
        super().__init__(*args, **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        upload = super().to_internal_value(data)
        refusal = upload_refusal(upload, self.kind)
        if refusal is not None:
            raise serializers.ValidationError(refusal)
        return upload
