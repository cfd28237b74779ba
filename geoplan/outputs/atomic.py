"""Atomic file writing and all-or-nothing output folders.

A run writes many files (tables, GeoPackage, maps, manifest). A planner must never find a
half-written workbook or a map from one run next to tables from another, so:

* :func:`atomic_write` writes one file through a temporary file in the same folder,
  flushed and fsynced, then moved into place with :func:`os.replace`.
* :class:`StagedOutputs` collects a whole set of outputs in hidden staging folders and
  moves them into place only when the ``with`` block finishes without an exception and
  without an interrupt (see :mod:`geoplan.interrupts`); if moving fails half-way, the
  files already moved are put back.
* Staging folders and temporary files carry the process id; those of processes that no
  longer run (killed with SIGKILL, power cut) are removed when the next run starts
  (:func:`remove_stale_staging`). Those of a live process are left alone.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from geoplan import interrupts

log = logging.getLogger(__name__)

#: Name prefix of staging folders; files starting with it are never outputs.
STAGING_PREFIX = ".staging-"

#: ``.staging-<pid>-<host>-<hex>`` folders and ``.<name>.tmp-<pid>-<host>-<random>``
#: files (``<host>``: 8 hex digits of this machine's name; older names lack it).
_STAGING_RE = re.compile(r"^\.staging-(\d+)-(?:([0-9a-f]{8})-)?[0-9a-f]+$")
_TMP_RE = re.compile(r"^\..+\.tmp-(\d+)-(?:([0-9a-f]{8})-)?[^/]*$")


def _host_tag() -> str:
    """Short tag of this machine, so a shared (network) folder's staging of a run on
    another machine is never taken for that of a dead local process."""
    return hashlib.sha1(socket.gethostname().encode("utf-8")).hexdigest()[:8]


def _owner_tag() -> str:
    return f"{os.getpid()}-{_host_tag()}"


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine; unsure counts as alive."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if os.name == "nt":  # pragma: no cover - os.kill(pid, 0) would terminate it there
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # QUERY_LIMITED_INFORMATION
        if not handle:
            return kernel32.GetLastError() == 5  # access denied: it exists
        try:
            code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists but belongs to another user
        return True
    return True


def remove_stale_staging(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove staging folders and temporary files left by processes that no longer run.

    A run killed with SIGKILL (or by a power cut) cannot clean up after itself; its
    ``.staging-<pid>-*`` folders and ``.<file>.tmp-<pid>-*`` files stay in the output
    folder. Those whose process id no longer runs on this machine are removed; those of a
    running process (another geoplan run writing to the same folder) and those made on
    another machine (the name carries a tag of the host) are left alone.

    Parameters
    ----------
    folder : str or PathLike
        An output folder; nothing happens if it does not exist.

    Returns
    -------
    list of Path
        What was removed.
    """
    root = Path(folder)
    removed: list[Path] = []
    host = _host_tag()
    try:
        entries = list(os.scandir(root))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        m = _STAGING_RE.match(entry.name) or _TMP_RE.match(entry.name)
        if m is None or (m.group(2) is not None and m.group(2) != host):
            continue  # not staging, or made on another machine (a shared folder)
        if _pid_alive(int(m.group(1))):
            continue
        path = Path(entry.path)
        with interrupts.deferred():
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()
        if not os.path.lexists(path):
            removed.append(path)
            log.info("removed %s left by an interrupted run (process %s)", path, m.group(1))
    return removed


def check_output_folder(folder: str | os.PathLike[str], setting: str) -> None:
    """Check, before any work starts, that an output folder can be created and written.

    Nothing is created. The folder, or its nearest existing parent, must be a folder the
    user may write to.

    Parameters
    ----------
    folder : str or PathLike
        The configured output folder.
    setting : str
        Its setting name for the message, e.g. ``"output.dir"``.

    Raises
    ------
    GeoplanError
        If the folder or a parent is a file, or the nearest existing folder is not
        writable; the message names the setting, the path and what to do.
    """
    from geoplan.errors import GeoplanError

    target = Path(folder)
    p = target
    while not os.path.lexists(p) and p.parent != p:
        p = p.parent
    if os.path.lexists(p) and not p.is_dir():
        what = "is a file" if p == target else f"cannot be created: {p} is a file"
        raise GeoplanError(f"{setting} = {target}: {what}, not a folder; rename or remove "
                           f"that file, or set {setting} to another folder")
    if not os.access(p, os.W_OK | os.X_OK):
        what = "is not writable" if p == target else f"cannot be created in {p}, which is not " \
            "writable"
        raise GeoplanError(f"{setting} = {target}: {what} for you; make it writable or set "
                           f"{setting} to another folder")


def shown_path(path: str | os.PathLike[str]) -> Path:
    """A staging path as the user will know it: without the ``.staging-*`` component."""
    p = Path(path)
    parts = [x for x in p.parts if not _STAGING_RE.match(x)]
    return Path(*parts) if parts else p


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
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.tmp-{_owner_tag()}-",
                                    dir=final.parent)
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
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if exc.filename is None:  # write()/fsync() errors (disk full) name no file
            raise OSError(exc.errno, exc.strerror or str(exc), str(shown_path(final))) from exc
        raise
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
    A staging folder ``.staging-<pid>-<host>-<random>`` is created inside every root (so the final
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
        interrupts.check()
        tag = f"{STAGING_PREFIX}{_owner_tag()}-{secrets.token_hex(4)}"
        self._created_roots = []
        try:
            for name, root in self.roots.items():
                remove_stale_staging(root)
                if not root.exists():
                    # every folder made here (parents too) goes again if nothing is published
                    self._created_roots.extend(_mkdirs(root))
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
        with interrupts.deferred():
            if exc_type is not None:
                log.debug("discarding staged outputs after %s", exc_type.__name__)
                self._discard()
                return
            try:
                # an interrupt swallowed by a callback still stops the run here
                interrupts.check()
                self._publish()
            except BaseException:
                self._discard()
                raise
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
        """Move every staged file into place, all or nothing.

        Every destination is checked first; files being replaced are moved aside into the
        staging folder, so if a move fails (or a signal arrives) half-way, the new files
        are taken back and the old ones restored.
        """
        moves: list[tuple[Path, Path, Path]] = []  # (staged, final, backup of the old one)
        for name, stage in self._staging.items():
            root = self.roots[name]
            backups = stage / ".previous"
            files = sorted(p for p in stage.rglob("*") if (p.is_file() or p.is_symlink())
                           and not p.is_relative_to(backups))
            for src in files:
                rel = src.relative_to(stage)
                dst = root / rel
                if dst.is_dir():
                    raise IsADirectoryError(errno.EISDIR, "a folder is in the way of an "
                                            "output file", str(dst))
                moves.append((src, dst, backups / rel))
        done: list[tuple[Path, Path, Path, bool]] = []
        made: list[Path] = []
        try:
            for src, dst, backup in moves:
                interrupts.check()
                made += _mkdirs(dst.parent)
                had_old = os.path.lexists(dst)
                if had_old:
                    backup.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(dst, backup)
                done.append((src, dst, backup, had_old))
                os.replace(src, dst)
            interrupts.check()
        except BaseException:
            for src, dst, backup, had_old in reversed(done):
                with contextlib.suppress(OSError):
                    if os.path.lexists(dst) and not os.path.lexists(src):
                        os.replace(dst, src)
                    if had_old:
                        os.replace(backup, dst)
            for d in reversed(made):
                with contextlib.suppress(OSError):
                    d.rmdir()
            log.debug("publishing rolled back (%d of %d files had been moved)", len(done),
                      len(moves))
            raise
        for root in self.roots.values():
            _fsync_dir(root)
        self.published = [dst for _, dst, _ in moves]
        interrupts.mark_published()
        log.debug("published %d output files", len(self.published))

    def _remove_staging(self) -> None:
        for stage in self._staging.values():
            shutil.rmtree(stage, ignore_errors=True)
        self._staging = {}

    def _discard(self) -> None:
        self.published = []
        self._remove_staging()
        for root in sorted(set(self._created_roots), key=lambda p: len(p.parts),
                           reverse=True):  # deepest first
            with contextlib.suppress(OSError):
                root.rmdir()  # only if still empty
        self._created_roots = []


def _mkdirs(folder: Path) -> list[Path]:
    """Create ``folder`` and missing parents; return the ones created (outermost first)."""
    missing: list[Path] = []
    p = folder
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
    return list(reversed(missing))
