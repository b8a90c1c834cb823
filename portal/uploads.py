"""Images people upload (customers' fault photos, engineers' job photos): one check."""

from __future__ import annotations

from fastapi import HTTPException, UploadFile

MAX_IMAGE_BYTES = 8 * 1024 * 1024
IMAGE_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}


async def read_image(upload: UploadFile, field: str) -> tuple[bytes, str]:
    """(bytes, file suffix) of an uploaded JPEG, PNG or WebP image of at most 8 MB;
    415 or 413 naming `field` otherwise. Never reads more than the limit plus one byte."""
    suffix = IMAGE_TYPES.get(upload.content_type or "")
    if suffix is None:
        raise HTTPException(415, f"{field}: a JPEG, PNG or WebP image, not "
                                 f"'{upload.content_type}'")
    data = await upload.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise HTTPException(413, f"{field}: at most {MAX_IMAGE_BYTES // (1024 * 1024)} MB "
                                 "per image")
    return data, suffix
