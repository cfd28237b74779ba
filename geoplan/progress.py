"""Progress bars on a terminal, nothing extra elsewhere.

Bars come from :mod:`tqdm` (a well-kept library: it handles terminal width, rates and
redrawing). They are drawn on standard error only when it is attached to a terminal, and
only once the work has taken more than :data:`DELAY_S` seconds, so quick steps stay
quiet. In a pipe, a log file or CI nothing is drawn: the ``[i/n] step ...`` log lines of
:mod:`geoplan.workflows.coverage` are the progress report there. ``GEOPLAN_PROGRESS=0`` turns the
bars off on a terminal too; ``TERM=dumb`` and ``geoplan -q`` do as well.

The bar of a run's steps appears at the first step boundary after :data:`DELAY_S`
seconds. While it is shown, log lines of the ``geoplan`` logger are
written above it (``tqdm.contrib.logging.logging_redirect_tqdm``) instead of through it.

tqdm is imported only when a bar is drawn, so that ``geoplan --help`` stays quick.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

#: A bar appears only after this many seconds of work (tqdm's ``delay``).
DELAY_S = 1.0

_state: dict[str, Any] = {"bar": None, "stack": None, "t0": None, "off": False}


def disable() -> None:
    """Draw no bars in this process (``geoplan -q``: warnings only)."""
    _state["off"] = True


def enabled() -> bool:
    """Whether progress bars are drawn: standard error is a terminal and not turned off.

    Returns
    -------
    bool
        ``True`` on an interactive terminal, ``False`` in pipes, files, CI logs, when
        ``GEOPLAN_PROGRESS`` is ``0``/``false``/``no``/``off``, ``TERM`` is ``dumb`` or
        after :func:`disable`.
    """
    if _state["off"]:
        return False
    if os.environ.get("GEOPLAN_PROGRESS", "").strip().lower() in {"0", "false", "no", "off"}:
        return False
    if os.environ.get("TERM", "") == "dumb":
        return False
    stream = sys.stderr
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def _new_bar(**kwargs: Any) -> Any:
    from tqdm import tqdm

    kwargs.setdefault("delay", DELAY_S)
    return tqdm(file=sys.stderr, leave=False, dynamic_ncols=True, **kwargs)


def track(items: Iterable[T], desc: str, *, total: int | None = None,
          unit: str = "it") -> Iterator[T]:
    """Iterate over ``items`` with a progress bar when :func:`enabled`.

    Parameters
    ----------
    items : iterable
        What to iterate over; yielded unchanged.
    desc : str
        Short label in front of the bar, e.g. ``"isochrones"``.
    total : int, optional
        Number of items, when ``items`` has no ``len``.
    unit : str, default "it"
        Unit shown in the rate (``"scenario"``, ``"threshold"`` ...).

    Yields
    ------
    object
        The items of ``items``.
    """
    if not enabled():
        yield from items
        return
    bar = _new_bar(total=total if total is not None else _len(items), desc=desc, unit=unit)
    try:
        for item in items:
            yield item
            bar.update(1)
    finally:
        bar.close()


def _len(items: Iterable[Any]) -> int | None:
    try:
        return len(items)  # type: ignore[arg-type]
    except TypeError:
        return None


def _close_steps() -> None:
    bar, stack = _state["bar"], _state["stack"]
    _state["bar"] = _state["stack"] = _state["t0"] = None
    if bar is not None:
        bar.close()
    if stack is not None:
        stack.close()


def _open_steps(done: int, total: int, name: str) -> Any:
    """The steps' bar, opened once the run has taken :data:`DELAY_S` seconds.

    The delay is kept here rather than with tqdm's ``delay``: tqdm draws a delayed bar at
    once when a log line is written through it (``tqdm.write`` redraws every bar).
    """
    if _state["bar"] is None and time.monotonic() - _state["t0"] >= DELAY_S:
        from tqdm.contrib.logging import logging_redirect_tqdm

        stack = contextlib.ExitStack()
        stack.enter_context(logging_redirect_tqdm(loggers=[logging.getLogger("geoplan")]))
        _state["stack"] = stack
        # Steps differ too much in length for a rate or an estimate of the time left.
        _state["bar"] = _new_bar(total=total, unit="step", initial=done, delay=0, desc=name,
                                 bar_format="{desc}: {percentage:3.0f}%|{bar}| "
                                            "{n_fmt}/{total_fmt} steps [{elapsed}]")
    elif _state["bar"] is not None:
        _state["bar"].set_description_str(name, refresh=False)
    return _state["bar"]


@contextlib.contextmanager
def step(index: int, total: int, name: str) -> Iterator[None]:
    """Advance the bar of a run's numbered steps (``index`` of ``total``, from 1).

    The bar opens at a step boundary once the run has taken more than :data:`DELAY_S`
    seconds, shows the running step's name and closes after the last step or when a step
    fails. Nothing is drawn when :func:`enabled` is false.

    Parameters
    ----------
    index, total : int
        Position of the step (1-based) and number of steps of the run.
    name : str
        Name of the step, e.g. ``"isochrones"``.
    """
    if not enabled():
        yield
        return
    if index == 1 or _state["t0"] is None:
        _close_steps()
        _state["t0"] = time.monotonic()
    _open_steps(index - 1, total, name)
    try:
        yield
    except BaseException:
        _close_steps()
        raise
    bar = _open_steps(index - 1, total, name)
    if bar is not None:
        bar.update(1)
    if index >= total:
        _close_steps()
