"""Read the tables planners hand over: CSV/TXT, Excel and GIS files.

Plain tables are read with every column as text, so codes such as ``310110001001`` or
``0021`` keep their digits; empty cells (after trimming spaces) become missing values.
Row ``i`` of the returned frame is row ``i + 2`` of the file as seen in Excel (the
header is row 1): blank lines inside the data are kept as all-missing rows so that the
numbering stays true. GIS files (GeoJSON, GeoPackage, Shapefile) come back as
GeoDataFrames in their own coordinate system.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geoplan.errors import InputDataError

__all__ = ["CSV_EXTENSIONS", "EXCEL_EXTENSIONS", "GEO_EXTENSIONS", "read_table",
           "require_columns"]

CSV_EXTENSIONS = (".csv", ".txt", ".tsv")
EXCEL_EXTENSIONS = (".xlsx", ".xlsm", ".xls")
GEO_EXTENSIONS = (".geojson", ".json", ".gpkg", ".shp")

#: Encodings tried in order when none is given: UTF-8 with BOM (Excel's "CSV UTF-8"),
#: UTF-8, then GB18030 (a superset of GBK/GB2312, what Chinese Excel saves by default).
_ENCODINGS = ("utf-8-sig", "utf-8", "gb18030")


def read_table(path: Path, *, sheet: str | None = None,
               encoding: str | None = None) -> pd.DataFrame | gpd.GeoDataFrame:
    """Read a CSV/TXT, Excel or GIS file.

    Parameters
    ----------
    path : Path
        The file. The extension decides the reader: ``.csv``, ``.txt``, ``.tsv`` (text;
        ``.txt`` and ``.tsv`` may be tab, comma, semicolon or ``|`` separated),
        ``.xlsx``/``.xlsm`` (Excel), ``.geojson``/``.json``, ``.gpkg``, ``.shp``.
    sheet : str, optional
        Excel sheet name (default: the first sheet) or GeoPackage layer name.
    encoding : str, optional
        Text encoding of a CSV/TXT file. By default UTF-8 (with or without BOM) is tried,
        then GB18030 (covers GBK).

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        Text tables: all columns as strings, blank cells missing, column names trimmed.
        GIS files: a GeoDataFrame with the file's CRS.

    Raises
    ------
    InputDataError
        If the file is missing, empty, unreadable, of an unknown type, or (GIS files)
        has no coordinate system.
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"{path}: file not found; check the path in the config")
    suffix = path.suffix.lower()
    if suffix in CSV_EXTENSIONS:
        df = _read_text(path, encoding)
    elif suffix in EXCEL_EXTENSIONS:
        df = _read_excel(path, sheet)
    elif suffix in GEO_EXTENSIONS:
        return _read_geo(path, sheet)
    else:
        kinds = ", ".join(CSV_EXTENSIONS + EXCEL_EXTENSIONS + GEO_EXTENSIONS)
        raise InputDataError(f"{path}: unknown file type '{path.suffix}'; save it as one of "
                             f"{kinds}")
    return _clean(df, path)


def _decode(path: Path, raw: bytes, encoding: str | None) -> str:
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputDataError(f"{path}: unknown encoding '{encoding}'; use e.g. 'utf-8' "
                                 "or 'gbk'") from None
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise InputDataError(f"{path}: cannot be read as {encoding} (byte {exc.start}); "
                                 "remove the encoding setting to detect it, or save the "
                                 "file as UTF-8") from None
    for enc in _ENCODINGS:
        if enc == "utf-8-sig" and not raw.startswith(codecs.BOM_UTF8):
            continue
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise InputDataError(f"{path}: text is neither UTF-8 nor GBK/GB18030; save it as UTF-8 "
                         "(in Excel: 'CSV UTF-8') or set the encoding")


def _separator(path: Path, text: str) -> str:
    if path.suffix.lower() == ".csv":
        return ","
    header = text.split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in ("\t", ",", ";", "|")}
    best = max(counts, key=lambda s: counts[s])  # first listed wins ties
    return best if counts[best] else ","


def _read_text(path: Path, encoding: str | None) -> pd.DataFrame:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputDataError(f"{path}: cannot be read ({exc.strerror})") from None
    text = _decode(path, raw, encoding)
    if not text.strip():
        raise InputDataError(f"{path}: file is empty; it needs a header row and data rows")
    try:
        return pd.read_csv(io.StringIO(text), sep=_separator(path, text), dtype=str,
                           keep_default_na=False, skip_blank_lines=False)
    except pd.errors.ParserError as exc:
        msg = " ".join(str(exc).split())
        raise InputDataError(f"{path}: not a valid table ({msg}); check for unquoted "
                             "separators or stray quotes in that line") from None
    except pd.errors.EmptyDataError:
        raise InputDataError(f"{path}: file is empty; it needs a header row and data "
                             "rows") from None


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 310110001001.0 -> "310110001001"
    return str(value)


def _read_excel(path: Path, sheet: str | None) -> pd.DataFrame:
    if path.suffix.lower() == ".xls":
        raise InputDataError(f"{path}: old Excel 97-2003 format (.xls) is not supported; open "
                             "it in Excel or WPS and save as .xlsx or CSV UTF-8")
    import openpyxl  # local: only Excel inputs need it

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise InputDataError(f"{path}: cannot be opened as an Excel file ({exc}); save it "
                             "again from Excel as .xlsx") from None
    try:
        if sheet is None:
            ws = book.worksheets[0]
        elif sheet in book.sheetnames:
            ws = book[sheet]
        else:
            raise InputDataError(f"{path}: sheet '{sheet}' not found (sheets are: "
                                 f"{', '.join(book.sheetnames)}); fix the sheet setting")
        rows = [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    finally:
        book.close()
    while rows and all(v is None or not str(v).strip() for v in rows[-1]):
        rows.pop()  # trailing blank rows Excel keeps for formatted cells
    if not rows:
        raise InputDataError(f"{path}: sheet '{ws.title}' is empty; it needs a header row "
                             "and data rows")
    header = ["" if v is None else v for v in rows[0]]
    while header and not header[-1].strip():
        header.pop()
    if not header:
        raise InputDataError(f"{path}: sheet '{ws.title}' has no header in row 1")
    width = len(header)
    header = [h if h.strip() else f"Unnamed: {i}" for i, h in enumerate(header)]
    data = [(r + [None] * width)[:width] for r in rows[1:]]
    return pd.DataFrame(data, columns=header, dtype=str)


def _read_geo(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    try:
        gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as exc:  # pyogrio/GDAL errors have several types
        msg = " ".join(str(exc).split())
        raise InputDataError(f"{path}: cannot be read as a GIS file ({msg})") from None
    if gdf.crs is None:
        raise InputDataError(f"{path}: the file has no coordinate system; set one in QGIS "
                             "(Layer > Set CRS, e.g. EPSG:4326) and save it again")
    if len(gdf) == 0:
        raise InputDataError(f"{path}: the file has no features")
    gdf.columns = [c.strip() if isinstance(c, str) else c for c in gdf.columns]
    return gdf


def _clean(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Trim names and cells, turn blank cells into missing values."""
    if df.shape[1] == 0:
        raise InputDataError(f"{path}: no columns found; row 1 must hold the column names")
    df = df.copy()
    df.columns = [str(c).strip() for c in df.columns]
    df = df.astype(str).where(df.notna())  # keep missing values missing
    df = df.apply(lambda s: s.str.strip())
    return df.mask(df == "")


def require_columns(df: pd.DataFrame, columns: Mapping[str, str | None],
                    path: Path | str) -> None:
    """Check that configured columns exist in a table.

    Parameters
    ----------
    df : pandas.DataFrame
        The table as read by :func:`read_table`.
    columns : mapping of str to str or None
        Config setting -> column name, e.g. ``{"facilities[0].x": "lon"}``. Settings whose
        column is None are not configured and are skipped.
    path : Path or str
        The file, for the message.

    Raises
    ------
    InputDataError
        For the first configured column that is missing, naming the file, the column,
        the columns available and the setting to change.
    """
    available = [str(c) for c in df.columns if str(c) != "geometry"]
    for setting, column in columns.items():
        if column is None or column in df.columns:
            continue
        hint = ""
        near = [c for c in available if c.strip().lower() == column.strip().lower()]
        if near:
            hint = f" (did you mean '{near[0]}'?)"
        raise InputDataError(f"file {path}: column '{column}' not found{hint} (columns are: "
                             f"{', '.join(available) or 'none'}); set {setting} to one of them")
