"""Interrupted runs: SIGINT/SIGTERM become exceptions, and nothing is published after one.

A run may be stopped with Ctrl-C (SIGINT) or by a scheduler or ``kill`` (SIGTERM). Either
way it must exit with 130 / 143, leave no staging folder behind and publish nothing.
Python turns SIGINT into :class:`KeyboardInterrupt` but leaves SIGTERM fatal (no
``finally`` runs, so staging folders stay); and an interrupt that lands inside a
callback called from compiled code (numba, HiGHS) can be printed and swallowed, after
which the run would carry on and publish.

So the CLI installs :func:`handle_signals`: each signal is *recorded* (see
:func:`pending`) and raised as :class:`KeyboardInterrupt` (SIGINT) or :class:`Terminated`
(SIGTERM). Publishing (:class:`geoplan.outputs.atomic.StagedOutputs`) and each pipeline
step (:meth:`geoplan.outputs.manifest.RunManifest.step`) call :func:`check`, which raises
again when a signal was recorded, even if the first exception was swallowed. Inside
:func:`deferred` (moving files into place, cleaning up) a signal is only recorded and
raised when the block ends, so cleanup cannot be cut short.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["Terminated", "batch_progress", "check", "deferred", "exit_code", "handle_signals",
           "mark_published", "note_batch", "pending", "published", "reset"]


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM (or SIGHUP).

    A :class:`BaseException` like :class:`KeyboardInterrupt`, so ``except Exception``
    blocks do not swallow it.
    """

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


#: SIGINT (Ctrl-C), SIGTERM (kill, schedulers) and, where it exists, SIGHUP (the terminal
#: was closed).
_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None))
                 if s is not None)

_state: dict[str, Any] = {"signum": None, "defer": 0, "published": 0, "batch": None}
_lock = threading.Lock()


def pending() -> int | None:
    """The number of the first signal received since :func:`reset`, or None."""
    return _state["signum"]


def reset() -> None:
    """Forget a recorded signal (at the start of a CLI command)."""
    _state.update(signum=None, defer=0, published=0, batch=None)


def mark_published() -> None:
    """Note that a set of outputs was published (for the CLI's closing message)."""
    _state["published"] += 1


def published() -> int:
    """How many sets of outputs were published since :func:`reset`."""
    return int(_state["published"])


def note_batch(published: int, total: int) -> None:
    """Note that a batch has published ``published`` of its ``total`` areas so far (each
    area's outputs are published on their own; the CLI's closing message counts them)."""
    _state["batch"] = (int(published), int(total))


def batch_progress() -> tuple[int, int] | None:
    """``(published, total)`` areas of the batch running since :func:`reset`, or None."""
    return _state["batch"]


def exit_code(signum: int) -> int:
    """Shell convention for a process ended by a signal: 128 + signal number."""
    return 128 + int(signum)


def _exception(signum: int) -> BaseException:
    if signum == signal.SIGINT:
        return KeyboardInterrupt()
    return Terminated(signum)


def check() -> None:
    """Raise the recorded interrupt again, if any (a checkpoint in long work).

    Raises
    ------
    KeyboardInterrupt or Terminated
        When SIGINT or SIGTERM was received since :func:`reset`.
    """
    signum = _state["signum"]
    if signum is not None:
        raise _exception(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Record but do not raise signals inside the block (file moves, cleanup).

    A signal received inside is raised when the outermost deferred block ends (unless an
    exception is already on its way out). Callers that must not finish their work after a
    signal call :func:`check` or :func:`pending` inside the block.
    """
    with _lock:
        _state["defer"] += 1
    ok = False
    try:
        yield
        ok = True
    finally:
        with _lock:
            _state["defer"] -= 1
            outermost = _state["defer"] == 0
        if ok and outermost:
            check()


def _handler(signum: int, frame: FrameType | None) -> None:
    if _state["signum"] is None:  # the first signal decides the exit code
        _state["signum"] = signum
    if _state["defer"] > 0:
        return
    raise _exception(signum)


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into recorded exceptions inside the block.

    The previous handlers are restored afterwards. Outside the main thread (where Python
    cannot install handlers) the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    reset()
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    previous_hook = sys.unraisablehook

    def unraisable(args: Any) -> None:
        # An interrupt raised inside a callback from compiled code (llvmlite/numba, ctypes)
        # cannot propagate; Python would print it as a traceback. It is recorded and
        # raised again at the next checkpoint, so a debug line is enough.
        if _state["signum"] is not None and isinstance(args.exc_value,
                                                       KeyboardInterrupt | Terminated):
            log.debug("interrupt inside a callback (%s); stopping at the next checkpoint",
                      getattr(args, "err_msg", None) or "unraisable")
            return
        if _state["signum"] is not None:
            _after_interrupt(previous_hook)(args)
            return
        previous_hook(args)

    for s in previous:
        signal.signal(s, _handler)
    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        interrupted = _state["signum"] is not None
        sys.unraisablehook = (_after_interrupt(previous_hook) if interrupted
                              else previous_hook)
        reset()


def _after_interrupt(previous_hook: Callable[[Any], None]) -> Callable[[Any], None]:
    """An unraisable hook for the rest of a process whose work a signal stopped.

    A signal that lands inside llvmlite's (numba's compiler) object destructor leaves
    that object half closed; when it is collected later (often at exit) its destructor
    fails again (``AttributeError: ... _as_parameter_``) and Python would print a
    traceback under the one-line interrupt message. Those errors, and only those, are
    logged at debug level; every other unraisable error is printed as usual.
    """

    def hook(args: Any) -> None:
        owner = getattr(args.object, "__module__", None) or type(args.object).__module__
        if str(owner).startswith("llvmlite"):
            log.debug("after the interrupt: llvmlite destructor error ignored (%s)",
                      args.exc_value)
            return
        previous_hook(args)

    return hook
