"""File hashing shared by the network cache key and the run manifest."""

from __future__ import annotations

import hashlib
import os

_CHUNK = 1 << 20

#: Input files of at least this size are fingerprinted, not hashed whole: SHA-256 runs at
#: a few hundred MB/s here, so a 1 GB province or country extract would cost seconds on
#: every run just to look up the network cache, while files below it (every table, most
#: city extracts) hash in a fraction of a second and keep a content-only hash.
QUICK_HASH_MIN_BYTES = 64 << 20

#: Bytes read from each end of a large file for its fingerprint (an OSM PBF's header and
#: last blocks; a re-download or an edit changes the size, the mtime or these).
QUICK_HASH_EDGE_BYTES = 1 << 20

#: :func:`file_digest` methods, as recorded in the run manifest.
METHOD_SHA256 = "sha256"
METHOD_QUICK = "size-mtime-head-tail"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file as hex, read in 1 MiB chunks (large files are fine)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def file_digest(path: str | os.PathLike[str]) -> tuple[str, str]:
    """A hash of a file for cache keys and the manifest, and the method that made it.

    Files smaller than :data:`QUICK_HASH_MIN_BYTES` are hashed whole (SHA-256 of the
    content). Larger ones get the SHA-256 of their size, modification time (ns) and first
    and last :data:`QUICK_HASH_EDGE_BYTES`: reading 2 MiB instead of the whole file, at the
    price that a copy with a new modification time hashes differently.

    Parameters
    ----------
    path : str or PathLike
        The file.

    Returns
    -------
    tuple of str
        ``(hex digest, method)`` with method :data:`METHOD_SHA256` or :data:`METHOD_QUICK`.
    """
    st = os.stat(path)
    if st.st_size < QUICK_HASH_MIN_BYTES:
        return sha256_file(path), METHOD_SHA256
    h = hashlib.sha256()
    h.update(f"{METHOD_QUICK}:{st.st_size}:{st.st_mtime_ns}:".encode())
    with open(path, "rb") as fh:
        h.update(fh.read(QUICK_HASH_EDGE_BYTES))
        fh.seek(max(0, st.st_size - QUICK_HASH_EDGE_BYTES))
        h.update(fh.read(QUICK_HASH_EDGE_BYTES))
    return h.hexdigest(), METHOD_QUICK
