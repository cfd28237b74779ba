"""Render folium maps without compiling their already-rendered pieces as templates again.

When a folium map is rendered, every ``MacroElement`` renders its ``header``, ``html`` and
``script`` macros and hands the resulting text to branca as a new ``Element(text)``, which
compiles that text as a jinja2 template (branca's ``Element.__init__``) only to render it
once more. On the demo's coverage map that is about 300 compilations of large GeoJSON and
script text: a third of the map's rendering time. Text holding no jinja2 syntax renders to
itself, up to what jinja2's lexer does to any source with its default settings (``\\r\\n``
and ``\\r`` become ``\\n``; one trailing newline is dropped), so :func:`plain_element_text`
hands branca an object that returns exactly that; text with ``{{``, ``{%`` or ``{#`` is
still compiled by jinja2. The page is byte for byte the same (tested).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_NEWLINE = re.compile(r"(\r\n|\r|\n)")  # jinja2.lexer.newline_re
_SYNTAX = ("{{", "{%", "{#")  # jinja2's default block, variable and comment starts


class PlainText:
    """What a jinja2 template without tags renders to, without compiling it."""

    def __init__(self, source: str) -> None:
        lines = _NEWLINE.split(source)[::2]
        if lines[-1] == "":  # keep_trailing_newline=False
            del lines[-1]
        self.text = "\n".join(lines)

    def render(self, *args: Any, **kwargs: Any) -> str:
        """The text (arguments are ignored, as a template without tags ignores them)."""
        return self.text


def element_template(source: str) -> Any:
    """A jinja2 ``Template`` of ``source``, or :class:`PlainText` when it has no tags."""
    if any(s in source for s in _SYNTAX):
        import jinja2

        return jinja2.Template(source)
    return PlainText(source)


@contextmanager
def plain_element_text() -> Iterator[None]:
    """While the block runs, branca builds ``Element(text)`` with :func:`element_template`."""
    import branca.element

    real = branca.element.Template
    branca.element.Template = element_template  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        branca.element.Template = real  # type: ignore[misc]
