"""District figures from the national county-level table of the 2020 census.

The table (``census_county_2020_v1.xlsx``: one row per province, prefecture and
county/district of China, 3,358 rows, 153 columns) gives residents and 5-year age bands
by sex (``男_60到64岁``, ``女_85岁以上`` ...). :func:`district_census` reads a district's row
by its 6-digit code and sums the bands from 60 and from 80 years.

The small CSV form (``adcode, pop_total, pop_60plus, pop_80plus`` [, ``district``]) that
earlier versions used is read too, so both can be named by ``[population] census_file``.

Excel files are read with python-calamine (a Rust reader, about 1.4 s for the national
table) rather than openpyxl, which needs about 14 s for it even in read-only mode and
even for one column, because it parses every cell of the sheet XML in Python. Each file
is read once per process (cached by path, size and modification time), so the check at
config load and the population step share one read.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geoplan.errors import InputDataError
from geoplan.sources.tables import EXCEL_EXTENSIONS, read_table

__all__ = ["CensusFigures", "census_codes", "district_census"]

#: Header of an age band column of the national table: sex, lower age, upper or "以上".
_BAND = re.compile(r"^(男|女)_(\d+)(?:到(\d+))?岁(以上)?$")
_CODE_COLUMN = "区划代码"
_TOTAL_COLUMN = "人口数_合计"
_NAME_COLUMNS = ("省", "市", "区县")
_CSV_NEED = ("adcode", "pop_total", "pop_60plus", "pop_80plus")


@dataclass(frozen=True)
class CensusFigures:
    """Residents and elderly of one district.

    Attributes
    ----------
    code : str
        6-digit division code.
    name : str
        District name (e.g. ``杨浦区``), empty when the table has none.
    residents, elderly_60, elderly_80 : float
        Resident population, residents aged 60+ and 80+.
    source : str
        The file it came from.
    """

    code: str
    name: str
    residents: float
    elderly_60: float
    elderly_80: float
    source: str

    @property
    def share_60(self) -> float:
        """Share of residents aged 60+."""
        return self.elderly_60 / self.residents

    @property
    def share_80(self) -> float:
        """Share of residents aged 80+."""
        return self.elderly_80 / self.residents


def _code_text(values: pd.Series) -> pd.Series:
    """Division codes as digit strings ("310110"; 310110.0 -> "310110"); others NaN."""
    txt = values.astype(object).where(values.notna())
    txt = txt.map(lambda v: v if pd.isna(v) else (str(int(v)) if isinstance(v, float)
                                                  and float(v).is_integer() else str(v).strip()))
    return txt.where(txt.astype(str).str.fullmatch(r"\d{6}(\d{3}|\d{6})?"))


def _national(path: Path) -> pd.DataFrame:
    try:
        head = pd.read_excel(path, engine="calamine", nrows=0)
    except Exception as exc:  # calamine raises several types for broken files
        raise InputDataError(f"{path}: cannot be opened as an Excel file ({exc}); save it "
                             "again as .xlsx") from None
    cols = [str(c).strip() for c in head.columns]
    bands = [c for c in cols if _BAND.match(c)]
    missing = [c for c in (_CODE_COLUMN, _TOTAL_COLUMN) if c not in cols]
    if missing or not bands:
        raise InputDataError(
            f"{path}: not the national county census table: it needs the columns "
            f"'{_CODE_COLUMN}', '{_TOTAL_COLUMN}' and age bands such as '男_60到64岁' "
            f"(missing: {', '.join(missing) or 'age bands'}); use census_county_2020_v1.xlsx "
            "or a CSV with adcode, pop_total, pop_60plus, pop_80plus")
    names = [c for c in _NAME_COLUMNS if c in cols]
    want = [_CODE_COLUMN, *names, _TOTAL_COLUMN, *bands]
    df = pd.read_excel(path, engine="calamine", usecols=want, dtype=object)
    df.columns = [str(c).strip() for c in df.columns]
    lower = np.array([int(_BAND.match(c).group(2)) for c in bands])  # type: ignore[union-attr]
    num = df[bands].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    out = pd.DataFrame({
        "code": _code_text(df[_CODE_COLUMN]),
        "name": df[names[-1]].astype(str).str.strip() if names else "",
        "residents": pd.to_numeric(df[_TOTAL_COLUMN], errors="coerce"),
        "elderly_60": np.where(np.isnan(num[:, lower >= 60]).any(axis=1), np.nan,
                               np.nansum(num[:, lower >= 60], axis=1)),
        "elderly_80": np.where(np.isnan(num[:, lower >= 80]).any(axis=1), np.nan,
                               np.nansum(num[:, lower >= 80], axis=1)),
    })
    return out[out["code"].notna()].reset_index(drop=True)


def _small_csv(path: Path) -> pd.DataFrame:
    df = read_table(path)
    missing = [c for c in _CSV_NEED if c not in df.columns]
    if missing:
        raise InputDataError(f"{path}: census table needs columns {', '.join(_CSV_NEED)} "
                             f"(missing: {', '.join(missing)}), or use the national table "
                             "census_county_2020_v1.xlsx")
    return pd.DataFrame({
        "code": _code_text(df["adcode"]),
        "name": df["district"].astype(str) if "district" in df else "",
        "residents": pd.to_numeric(df["pop_total"], errors="coerce"),
        "elderly_60": pd.to_numeric(df["pop_60plus"], errors="coerce"),
        "elderly_80": pd.to_numeric(df["pop_80plus"], errors="coerce"),
    })


@functools.lru_cache(maxsize=8)
def _read(path: str, size: int, mtime_ns: int) -> pd.DataFrame:
    p = Path(path)
    if p.suffix.lower() in EXCEL_EXTENSIONS:
        if p.suffix.lower() == ".xls":
            raise InputDataError(f"{p}: old Excel format (.xls); save it as .xlsx or CSV")
        return _national(p)
    return _small_csv(p)


def _table(path: Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"{path}: file not found; check population.census_file")
    st = path.stat()
    return _read(str(path.resolve()), st.st_size, st.st_mtime_ns)


def census_codes(path: Path) -> frozenset[str]:
    """The division codes a census file has rows for.

    Raises
    ------
    InputDataError
        If the file cannot be read or lacks the needed columns.
    """
    return frozenset(_table(path)["code"].dropna())


def district_census(path: Path, code: str) -> CensusFigures:
    """Residents and 60+/80+ residents of district ``code`` from a census file.

    Parameters
    ----------
    path : Path
        The national table (``.xlsx`` with age bands) or the small CSV form.
    code : str
        6-digit division code, e.g. ``"310110"`` (Yangpu).

    Returns
    -------
    CensusFigures

    Raises
    ------
    InputDataError
        If the file is unreadable, has no row for ``code``, or the row's figures are blank.
    """
    df = _table(path)
    code = str(code).strip()
    row = df[df["code"] == code]
    if row.empty:
        raise InputDataError(f"{path}: no row for district code {code}; check "
                             "population.district_code (6-digit division code, e.g. 310110)")
    r = row.iloc[0]
    vals = [float(r[c]) for c in ("residents", "elderly_60", "elderly_80")]
    if not all(np.isfinite(vals)) or vals[0] <= 0:
        raise InputDataError(f"{path}: the row of district {code} has blank or zero "
                             "population figures; give population.share_60/share_80 instead")
    total, p60, p80 = vals
    if not 0 <= p80 <= p60 <= total:
        raise InputDataError(
            f"{path}: the row of district {code} has residents={total:g}, 60+={p60:g}, "
            f"80+={p80:g}; they must satisfy 0 <= 80+ <= 60+ <= residents (the 80+ are part "
            "of the 60+): check the table")
    return CensusFigures(code, str(r["name"]) if pd.notna(r["name"]) else "", *vals,
                         source=str(path))
