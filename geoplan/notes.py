"""User-facing notes in Chinese (default) and English.

Notes that reach the reports and tables (method notes, ledger details) are made as
:class:`Note`: a ``str`` whose value is the English text, so logs, the manifest and code
that joins or compares notes keep working unchanged, carrying its Chinese text alongside.
Renderers call :func:`note_text` with the output language. Plain strings pass through
unchanged (data such as file names, or notes that have no translation yet).
"""

from __future__ import annotations

__all__ = ["Note", "note_text"]


class Note(str):
    """A note with an English text (the string value) and a Chinese text (:attr:`zh`).

    Parameters
    ----------
    en : str
        English text; the value of the string (logs, manifest).
    zh : str
        Chinese text for reports and tables in ``lang = "zh"``.

    Examples
    --------
    >>> n = Note("3 rows left out", "3行未纳入")
    >>> str(n), n.text("zh")
    ('3 rows left out', '3行未纳入')
    """

    zh: str

    def __new__(cls, en: str, zh: str) -> Note:
        obj = super().__new__(cls, en)
        obj.zh = zh
        return obj

    def __reduce__(self) -> tuple[type[Note], tuple[str, str]]:  # pickles (result cache)
        return (Note, (str(self), self.zh))

    def text(self, lang: str = "zh") -> str:
        """The text in ``lang`` ("zh" or "en")."""
        return self.zh if lang == "zh" else str(self)

    def __add__(self, other: object) -> str:
        if isinstance(other, Note):
            return Note(str(self) + str(other), self.zh + other.zh)
        return str.__add__(self, other)  # type: ignore[operator]


def note_text(note: object, lang: str = "zh") -> str:
    """``note`` in ``lang`` if it is a :class:`Note`, else ``str(note)`` unchanged."""
    return note.text(lang) if isinstance(note, Note) else str(note)
