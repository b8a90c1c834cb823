"""Images people upload (customers' fault photos, engineers' job photos): one check,
and the one way files are written (uploads and QR codes: readable by the owner only).

An image's type is what its bytes are (JPEG, PNG or WebP by their signatures), not
what the client declared: an HTML page sent as `image/png` is refused, and a file
is stored and served under the suffix of what it really is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from fastapi import HTTPException, UploadFile

MAX_IMAGE_BYTES = 8 * 1024 * 1024
IMAGE_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
FILE_MODE = 0o600
DIR_MODE = 0o700


def image_type(data: bytes) -> str | None:
    """The image type the bytes are, by their signature; None if no JPEG, PNG or WebP."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class Image(NamedTuple):
    data: bytes
    content_type: str  # what the bytes are
    suffix: str  # its file name's


async def read_image(upload: UploadFile, field: str) -> Image:
    """An uploaded JPEG, PNG or WebP image of at most 8 MB;
    413, 415 or 422 naming `field` otherwise. Never reads more than the limit plus one byte."""
    data = await upload.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise HTTPException(413, f"{field}: at most {MAX_IMAGE_BYTES // (1024 * 1024)} MB "
                                 "per image")
    if not data:
        raise HTTPException(422, f"{field}: the file is empty")
    kind = image_type(data)
    if kind is None:
        raise HTTPException(415, f"{field}: a JPEG, PNG or WebP image, and this file is none "
                                 f"(it was sent as '{upload.content_type}')")
    return Image(data, kind, IMAGE_TYPES[kind])


def private_dir(root: Path, *parts: str) -> Path:
    """`root/parts...`, each of them a directory only its owner may enter (0700),
    made if missing; returns the last."""
    root.parent.mkdir(parents=True, exist_ok=True)
    path = root
    for path in (root, *(root.joinpath(*parts[:i + 1]) for i in range(len(parts)))):
        path.mkdir(mode=DIR_MODE, exist_ok=True)
        path.chmod(DIR_MODE)
    return path


def write_private(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Write a file readable by its owner only (0600). Without `replace`, a file of that
    name already there is an error (FileExistsError), never overwritten."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(fd, FILE_MODE)  # a file written before may have had wider rights
        out.write(data)
