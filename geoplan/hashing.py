"""File hashing shared by the network cache key and the run manifest."""

from __future__ import annotations

import hashlib
import os

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file as hex, read in 1 MiB chunks (large files are fine)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
