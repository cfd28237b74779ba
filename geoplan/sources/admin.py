"""Administrative tables without geometry: streets, committees, and elderly counts by unit.

Statistical division codes nest: a 12-digit committee code (``310110012001``) starts with
its 9-digit street code (``310110012``), which starts with the 6-digit district code
(``310110``). Street names are matched loosely: ``定海路街道``, ``定海路`` and ``定海`` are the
same street.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from geoplan.errors import InputDataError
from geoplan.sources.areas import _numeric, _text
from geoplan.sources.tables import read_table, row_word, source_rows

__all__ = ["committee_counts", "match_streets", "read_elderly", "read_streets", "street_key"]

_SUFFIX = re.compile(r"(街道办事处|街道|地区办事处|镇|乡|路)$")


def street_key(name: str) -> str:
    """Normalised street name for matching (suffixes 街道/镇/乡 and a final 路 removed).

    >>> street_key("定海路街道"), street_key("定海路"), street_key(" 五角场镇 ")
    ('定海', '定海', '五角场')
    """
    text = re.sub(r"\s+", "", str(name))
    for _ in range(2):
        text = _SUFFIX.sub("", text) or text
    return text


def _column(df: pd.DataFrame, names: tuple[str, ...], path: Path, what: str) -> str:
    for n in names:
        if n in df.columns:
            return n
    raise InputDataError(f"{path}: no {what} column (looked for {', '.join(names)}; found "
                         f"{', '.join(map(str, df.columns))})")


def read_streets(path: Path, district_code: str | None = None) -> pd.DataFrame:
    """Streets of an admin table (columns ``code``, ``name``), optionally of one district.

    Returns
    -------
    pandas.DataFrame
        ``street_code``, ``street_name``, sorted by code.
    """
    df = read_table(path)
    code = _text(df[_column(df, ("code", "street_code"), path, "street code")])
    name = _text(df[_column(df, ("name", "street_name"), path, "street name")])
    out = pd.DataFrame({"street_code": code, "street_name": name})
    if district_code:
        out = out[out["street_code"].str.startswith(str(district_code))]
        if out.empty:
            raise InputDataError(f"{path}: no street with a code starting {district_code}; "
                                 "check standards.district_code (or study_area.district_code)")
    return out.sort_values("street_code", ignore_index=True)


def committee_counts(path: Path, district_code: str | None = None) -> pd.Series:
    """Residents' committees per street code, from an admin table of committees.

    The street of a committee is its ``streetCode``/``street_code`` column, else the first
    nine digits of its 12-digit ``code``.
    """
    df = read_table(path)
    code = _text(df[_column(df, ("code", "committee_code"), path, "committee code")])
    scol = next((c for c in ("streetCode", "street_code") if c in df.columns), None)
    street = _text(df[scol]) if scol else code.str[:9]
    if district_code:
        keep = code.str.startswith(str(district_code))
        street = street[keep]
    return street[street != ""].value_counts().sort_index()


def match_streets(texts: pd.Series, streets: pd.DataFrame,
                  fallback: pd.Series | None = None) -> np.ndarray:
    """Street code of each text (a street name or code), '' where none matches.

    Parameters
    ----------
    texts : pandas.Series
        Street names or codes as given (blank allowed).
    streets : pandas.DataFrame
        ``street_code``, ``street_name``.
    fallback : pandas.Series, optional
        Other text (e.g. facility names such as ``长白新村街道228街坊长者食堂``) searched for
        a full street name where ``texts`` is blank or unmatched.
    """
    t = texts.astype(object).where(texts.notna(), "").astype(str).str.strip()
    by_code = dict(zip(streets["street_code"], streets["street_code"], strict=True))
    by_key = {street_key(n): c for n, c in zip(streets["street_name"], streets["street_code"],
                                              strict=True)}
    out = t.map(by_code).fillna(t.map(lambda s: by_key.get(street_key(s), "") if s else ""))
    out = out.fillna("").astype(str).to_numpy(dtype=object)
    if fallback is not None:
        fb = fallback.astype(object).where(fallback.notna(), "").astype(str)
        # one vectorised search per street (a district has about a dozen)
        for name, code in zip(streets["street_name"], streets["street_code"], strict=True):
            hit = fb.str.contains(name, regex=False).to_numpy() & (out == "")
            out[hit] = code
    return out


def read_elderly(path: Path, *, level: str, code_column: str | None,
                 name_column: str | None, elderly_column: str,
                 streets: pd.DataFrame) -> pd.DataFrame:
    """Elderly counts per street from a street- or committee-level table.

    Parameters
    ----------
    path : Path
        CSV/XLSX table.
    level : {"street", "committee"}
        What a row is. Committee rows are summed per street (first nine digits of the
        committee code, or the street name column when there is no code).
    code_column, name_column : str or None
        Columns identifying the unit (either is enough).
    elderly_column : str
        Column with the elderly count.
    streets : pandas.DataFrame
        Known streets (``street_code``, ``street_name``); may be empty.

    Returns
    -------
    pandas.DataFrame
        ``street_code``, ``street_name``, ``elderly`` per street found in the file.

    Raises
    ------
    InputDataError
        If a column is missing, a count is not a number or negative, or a row matches no
        street (the message gives the row).
    """
    df = read_table(path)
    for col in (code_column, name_column, elderly_column):
        if col and col not in df.columns:
            raise InputDataError(f"{path}: column '{col}' not found (columns: "
                                 f"{', '.join(map(str, df.columns))}); fix standards."
                                 "elderly_*_column")
    rows, word = source_rows(df), row_word(df)
    values = _numeric(df[elderly_column], path, elderly_column, rows, word)
    blank = np.isnan(values)
    if blank.any():
        row = rows[int(np.flatnonzero(blank)[0])]
        raise InputDataError(f"{path}: {word} {row} has no '{elderly_column}' value; give a "
                             "count (0 if none) or remove the row")
    code = _text(df[code_column]) if code_column else pd.Series([""] * len(df))
    name = _text(df[name_column]) if name_column else pd.Series([""] * len(df))
    if level == "committee":
        street_code = code.str[:9].where(code.str.len() >= 9, "")
    else:
        street_code = code
    known = set(streets["street_code"]) if len(streets) else set()
    if len(streets):
        text = street_code.where(street_code.isin(known), name)
        matched = pd.Series(match_streets(text, streets))
        bad = matched == ""
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputDataError(f"{path}: {word} {rows[i]} ('{code.iloc[i] or name.iloc[i]}"
                                 "') matches no street of the district; check the code/name")
        street_code = matched
        names = dict(zip(streets["street_code"], streets["street_name"], strict=True))
        street_name = street_code.map(names)
    else:
        if (street_code == "").any() and (name == "").any():
            raise InputDataError(f"{path}: rows need a street code or name")
        street_code = street_code.where(street_code != "", name)
        street_name = name.where(name != "", street_code)
    out = pd.DataFrame({"street_code": street_code, "street_name": street_name,
                        "elderly": values})
    return out.groupby(["street_code", "street_name"], as_index=False, sort=True)[
        "elderly"].sum()
