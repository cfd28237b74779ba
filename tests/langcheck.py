"""Find English sentences in Chinese output (reports, tables).

A run of four or more consecutive English words is taken as an English sentence. Tokens
that are not plain words break a run: numbers, file names and paths, setting names and
codes (anything with a digit, ``_``, ``.``, ``/``, ``=`` or quotes inside), and Chinese
characters. So ``areas.source = "compounds+grid"`` or ``e2sfca_step`` pass, while
"Walking-speed sensitivity: 1 % of older residents reach every" does not.
"""

from __future__ import annotations

import re

#: A plain English word, optionally wrapped in brackets or followed by punctuation.
_WORD = re.compile(r"^[(\[“\"']?[A-Za-z][A-Za-z'’-]*[)\]”\"',;:.!?]*$")
#: Splits on white space and on every CJK character or CJK punctuation mark.
_SPLIT = re.compile(r"[\s\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+")


def english_runs(text: str, min_words: int = 4) -> list[str]:
    """Runs of ``min_words`` or more consecutive English words in ``text``."""
    runs: list[str] = []
    cur: list[str] = []
    for tok in [*_SPLIT.split(text), ""]:
        if tok and _WORD.match(tok):
            cur.append(tok)
            continue
        if len(cur) >= min_words:
            runs.append(" ".join(cur))
        cur = []
    return runs
