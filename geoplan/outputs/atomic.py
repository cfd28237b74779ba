"""Atomic file writing and all-or-nothing output folders.

A run writes many files (tables, GeoPackage, maps, manifest). A planner must never find a
half-written workbook or a map from one run next to tables from another, so:

* :func:`atomic_write` writes one file through a temporary file in the same folder,
  flushed and fsynced, then moved into place with :func:`os.replace`.
* :class:`StagedOutputs` collects a whole set of outputs in hidden staging folders and
  moves them into place only when the ``with`` block finishes without an exception.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

log = logging.getLogger(__name__)

#: Name prefix of staging folders; files starting with it are never outputs.
STAGING_PREFIX = ".staging-"


def _fsync_dir(folder: Path) -> None:
    """Flush a directory entry to disk where the platform allows it (POSIX only)."""
    if os.name != "posix":  # pragma: no cover - Windows cannot open directories
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - unusual file systems
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w",
                 encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` when the block succeeds.

    Parameters
    ----------
    path : str or PathLike
        Final file path. Its folder is created if missing.
    mode : {"w", "wb"}
        Text or binary mode.
    encoding : str or None
        Text encoding (ignored in binary mode). Default UTF-8.
    newline : str or None
        Passed to :func:`open` in text mode (use ``""`` for the :mod:`csv` module).

    Yields
    ------
    file object
        Write to it; do not close it yourself.

    Notes
    -----
    The temporary file lives in the same folder, so :func:`os.replace` is atomic. It is
    removed if the block raises, and ``path`` is left as it was.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    tmp = Path(tmp_name)
    try:
        if mode == "wb":
            fh: IO[Any] = os.fdopen(fd, "wb")
        else:
            fh = os.fdopen(fd, "w", encoding=encoding, newline=newline)
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; outputs are ordinary shared files
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _umask_mode()


class StagedOutputs:
    """Stage a set of output files and publish them together, or not at all.

    Parameters
    ----------
    roots : str, PathLike or mapping of name to folder
        One output folder, or several named ones, e.g.
        ``{"data": "data/processed/yangpu", "maps": "maps"}``.

    Examples
    --------
    >>> with StagedOutputs({"data": out_dir, "maps": maps_dir}) as staged:  # doctest: +SKIP
    ...     df.to_csv(staged.path("data", "areas.csv"))
    ...     m.save(str(staged.path("maps", "coverage.html")))

    With a single folder, ``staged.path("tables", "areas.csv")`` is relative to it.
    With named folders, the first argument names the folder.

    Notes
    -----
    A staging folder ``.staging-<pid>-<random>`` is created inside every root (so the final
    :func:`os.replace` never crosses a file system). On a clean exit every staged file is
    moved to the same relative place in its root (sub-folders created, existing files
    replaced) and the staging folders are removed; :attr:`published` then lists the final
    paths. On an exception the staging folders are deleted and the roots are unchanged
    (a root folder created for the run is removed again if it is still empty).
    """

    def __init__(self, roots: str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]]):
        if isinstance(roots, Mapping):
            if not roots:
                raise ValueError("StagedOutputs needs at least one output folder")
            self._named = True
            self.roots: dict[str, Path] = {str(k): Path(v) for k, v in roots.items()}
        else:
            self._named = False
            self.roots = {"": Path(roots)}
        self._staging: dict[str, Path] = {}
        self._created_roots: list[Path] = []
        self.published: list[Path] = []
        self._active = False

    # -- context protocol -------------------------------------------------------------
    def __enter__(self) -> StagedOutputs:
        if self._active:
            raise RuntimeError("StagedOutputs is already in use")
        tag = f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        self._created_roots = []
        try:
            for name, root in self.roots.items():
                if not root.exists():
                    root.mkdir(parents=True)
                    self._created_roots.append(root)
                stage = root / tag
                stage.mkdir()
                self._staging[name] = stage
        except BaseException:
            self._discard()
            raise
        self._active = True
        self.published = []
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._active = False
        if exc_type is not None:
            log.debug("discarding staged outputs after %s", exc_type.__name__)
            self._discard()
            return
        try:
            self._publish()
        finally:
            self._remove_staging()

    # -- public API -------------------------------------------------------------------
    @property
    def named(self) -> bool:
        """True when the roots were given as a mapping (``path(root, relpath)`` form)."""
        return self._named

    def path(self, *parts: str | os.PathLike[str]) -> Path:
        """Return the staging path to write an output to.

        Parameters
        ----------
        *parts : str
            With named roots: the root name, then the path inside it. With a single root:
            the path inside it (one or more parts).

        Returns
        -------
        Path
            A path inside the staging folder; its parent folder exists.
        """
        if not self._active:
            raise RuntimeError("StagedOutputs.path() is only valid inside the 'with' block")
        if self._named:
            if len(parts) < 2:
                raise ValueError("with named output folders call path(root, relpath), e.g. "
                                 f"path('{next(iter(self.roots))}', 'file.csv')")
            root, rel_parts = str(parts[0]), parts[1:]
            if root not in self.roots:
                raise KeyError(f"unknown output folder {root!r}; known: {', '.join(self.roots)}")
        else:
            if not parts:
                raise ValueError("path() needs a file name")
            root, rel_parts = "", parts
        rel = Path(*rel_parts)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise ValueError(f"output path must be relative and inside the folder: {rel}")
        p = self._staging[root] / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def final_path(self, *parts: str | os.PathLike[str]) -> Path:
        """Where a staged file given by ``parts`` will end up (same rules as :meth:`path`)."""
        staged = self.path(*parts)
        for name, stage in self._staging.items():
            if staged.is_relative_to(stage):
                return self.roots[name] / staged.relative_to(stage)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- internals --------------------------------------------------------------------
    def _publish(self) -> None:
        published: list[Path] = []
        for name, stage in self._staging.items():
            root = self.roots[name]
            files = sorted(p for p in stage.rglob("*") if p.is_file() or p.is_symlink())
            for src in files:
                dst = root / src.relative_to(stage)
                dst.parent.mkdir(parents=True, exist_ok=True)
                if dst.is_dir():
                    raise IsADirectoryError(f"cannot replace folder {dst} with a file")
                os.replace(src, dst)
                published.append(dst)
            _fsync_dir(root)
        self.published = published
        log.debug("published %d output files", len(published))

    def _remove_staging(self) -> None:
        for stage in self._staging.values():
            shutil.rmtree(stage, ignore_errors=True)
        self._staging = {}

    def _discard(self) -> None:
        self._remove_staging()
        for root in reversed(self._created_roots):
            with contextlib.suppress(OSError):
                root.rmdir()  # only if still empty
        self._created_roots = []
