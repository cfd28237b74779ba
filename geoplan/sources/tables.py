"""Read the tables planners hand over: CSV/TXT, Excel and GIS files.

Plain tables are read with every column as text, so codes such as ``310110001001`` or
``0021`` keep their digits; empty cells (after trimming spaces) become missing values.
Blank lines inside the data are kept as all-missing rows so that row numbers stay true:
:func:`source_rows` gives the row number of each record as seen in Excel (the header is
row 1, or lower when title rows sit above it; they are detected and skipped). GIS files
(GeoJSON, GeoPackage, Shapefile) come back as GeoDataFrames in their own coordinate
system, indexed by feature number (the GeoPackage fid, else 1, 2, ... in file order).
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geoplan.errors import InputDataError

__all__ = ["CSV_EXTENSIONS", "EXCEL_EXTENSIONS", "GEO_EXTENSIONS", "read_table",
           "require_columns", "row_word", "source_rows"]

log = logging.getLogger(__name__)

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
    if path.is_dir():
        raise InputDataError(f"{path} is a folder, not a file; give the path of the table "
                             "inside it")
    if not path.is_file():
        raise InputDataError(f"{path}: file not found; check the path in the config")
    suffix = path.suffix.lower()
    formulas: dict[str, tuple[int, str, str]] = {}
    if suffix in CSV_EXTENSIONS:
        rows = _read_text(path, encoding)
    elif suffix in EXCEL_EXTENSIONS:
        rows, formulas = _read_excel(path, sheet)
    elif suffix in GEO_EXTENSIONS:
        return _read_geo(path, sheet)
    else:
        kinds = ", ".join(CSV_EXTENSIONS + EXCEL_EXTENSIONS + GEO_EXTENSIONS)
        raise InputDataError(f"{path}: unknown file type '{path.suffix}'; save it as one of "
                             f"{kinds}")
    head = _header_row(rows)
    if head:
        title = next((str(v).strip() for r in rows[:head] for v in r
                      if v is not None and str(v).strip()), "")
        log.warning("%s: row%s %s above the column names %s; the header is row %d and "
                    "row numbers below count as in the file", path, "" if head == 1 else "s",
                    "1" if head == 1 else f"1-{head}",
                    f"holds a title ('{title}')" if title else "is blank", head + 1)
    header = ["" if v is None else str(v) for v in rows[head]]
    if not any(h.strip() for h in header):
        raise InputDataError(f"{path}: no column names found in row {head + 1}; row 1 must "
                             "hold the column names")
    # as wide as the header or the filled cells of the first rows (a short title row
    # must not cut the table); trailing blank columns Excel keeps are dropped
    width = 1 + max(max((i for i, v in enumerate(r) if v is not None and str(v).strip()),
                        default=0) for r in rows[head:head + 50])
    header = (header + [""] * width)[:width]
    header = [h if h.strip() else f"Unnamed: {i}" for i, h in enumerate(header)]
    seen: dict[str, int] = {}
    for i, h in enumerate(header):  # repeated names: name, name.1, ... as pandas does
        key = h.strip()
        if key in seen:
            seen[key] += 1
            header[i] = f"{key}.{seen[key]}"
        else:
            seen[key] = 0
    data = [(list(r) + [None] * width)[:width] for r in rows[head + 1:]]
    df = _clean(pd.DataFrame(data, columns=header, dtype=object), path)
    df.attrs["first_row"] = head + 2
    df.attrs["formulas"] = formulas
    if formulas:
        col, (_n, ref, f) = next(iter(formulas.items()))
        log.warning("%s: %d formula cells have no saved result (e.g. %s '%s' in column "
                    "'%s') and read as empty; open the file in Excel or LibreOffice and "
                    "save it", path, sum(v[0] for v in formulas.values()), ref, f, col)
    return df


def _header_row(rows: Sequence[Sequence[object]]) -> int:
    """Index of the header row: 0 unless title rows sit above it.

    Title rows are rows with at most one filled cell (a title, often a merged cell, or a
    blank row) above the first row with two or more filled cells, in a table whose rows
    have several columns. A single-column table is never treated as having a title.
    """
    def filled(r: Sequence[object]) -> int:
        return sum(1 for v in r if v is not None and str(v).strip())

    counts = [filled(r) for r in rows[:30]]
    if not counts or counts[0] >= 2 or max(counts) < 2:
        return 0
    return next(i for i, c in enumerate(counts) if c >= 2)


def source_rows(table: pd.DataFrame) -> np.ndarray:
    """Row number of each record of a :func:`read_table` result, as the user sees it.

    Text and Excel tables: the spreadsheet row (the header is row 1, or the row below any
    title rows). GIS files: the feature number (GeoPackage fid, else 1, 2, ...).
    """
    if isinstance(table, gpd.GeoDataFrame):
        return table.index.to_numpy(dtype=np.int64)
    return np.arange(len(table), dtype=np.int64) + int(table.attrs.get("first_row", 2))


def row_word(table: pd.DataFrame) -> str:
    """``"feature"`` for GIS tables, ``"row"`` for text and Excel tables."""
    return "feature" if isinstance(table, gpd.GeoDataFrame) else "row"


def _utf8_cut_short(raw: bytes, exc: UnicodeDecodeError) -> bool:
    """Whether ``raw`` is UTF-8 whose only fault is an incomplete character at the very end
    (a copy or download cut short), rather than text in another encoding.

    The decoder's only error is "unexpected end of data" in the last three bytes, and the
    text before it holds multi-byte UTF-8 characters or does not read as GB18030 either;
    a GBK file almost never decodes as UTF-8 up to its last bytes.
    """
    if exc.reason != "unexpected end of data" or exc.end != len(raw) or exc.start < len(raw) - 3:
        return False
    head = raw[:exc.start]
    if any(b >= 0x80 for b in head):
        return True  # valid multi-byte UTF-8 up to the cut
    try:
        raw.decode("gb18030")
    except UnicodeDecodeError:
        return True
    return False


def _cut_short(path: Path, raw: bytes, exc: UnicodeDecodeError) -> str:
    return (f"{path}: ends in the middle of a character (UTF-8 text up to byte {exc.start} "
            f"of {len(raw)}): the file looks cut short; copy it again")


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
            if codecs.lookup(encoding).name.startswith("utf-8") and _utf8_cut_short(raw, exc):
                raise InputDataError(_cut_short(path, raw, exc)) from None
            raise InputDataError(f"{path}: cannot be read as {encoding} (byte {exc.start}); "
                                 "remove the encoding setting to detect it, or save the "
                                 "file as UTF-8") from None
    for enc in _ENCODINGS:
        if enc == "utf-8-sig" and not raw.startswith(codecs.BOM_UTF8):
            continue
        try:
            return raw.decode(enc)
        except UnicodeDecodeError as exc:
            if enc.startswith("utf-8") and _utf8_cut_short(raw, exc):
                raise InputDataError(_cut_short(path, raw, exc)) from None
            continue
    raise InputDataError(f"{path}: text is neither UTF-8 nor GBK/GB18030; save it as UTF-8 "
                         "(in Excel: 'CSV UTF-8') or set the encoding")


def _separator(path: Path, text: str) -> str:
    """The field separator of a text table: ``,`` ``;`` tab or ``|``.

    Own code rather than :class:`csv.Sniffer`, which guesses from character frequencies
    and is easily misled by Chinese text, decimal points and short files: here each
    separator splits the first 50 non-blank lines (quotes respected) and the one giving
    the same field count (at least 2) on most lines wins; ties go to the usual separator
    for the extension (``,`` for .csv, tab for .tsv/.txt).
    """
    lines = [ln for ln in text.splitlines() if ln.strip()][:50]
    order = (",", ";", "\t", "|") if path.suffix.lower() == ".csv" else ("\t", ",", ";", "|")
    best, best_score = order[0], (0.0, 0)
    for sep in order:
        counts = [len(r) for r in csv.reader(lines, delimiter=sep)]
        if not counts:
            continue
        values, freq = np.unique(counts, return_counts=True)
        mode = int(values[np.argmax(freq)])
        share = float(freq.max()) / len(counts)
        if mode >= 2 and share >= 0.6 and (share, mode) > best_score:
            best, best_score = sep, (share, mode)
    return best


def _read_text(path: Path, encoding: str | None) -> pd.DataFrame:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputDataError(f"{path}: cannot be read ({exc.strerror})") from None
    text = _decode(path, raw, encoding)
    if not text.strip():
        raise InputDataError(f"{path}: file is empty; it needs a header row and data rows")
    sep = _separator(path, text)
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=sep))
    except csv.Error as exc:
        raise InputDataError(f"{path}: not a valid table ({exc}); check for unquoted "
                             "separators or stray quotes") from None
    rows = [[None if c == "" else c for c in r] for r in rows]
    while rows and not any(v is not None and v.strip() for v in rows[-1]):
        rows.pop()  # trailing blank lines
    head = _header_row(rows)
    if rows:
        width = len([v for v in rows[head]])
        long = next((i for i, r in enumerate(rows[head + 1:], start=head + 2)
                     if len(r) > width and any(v is not None and v.strip()
                                               for v in r[width:])), None)
        if long is not None:
            n = len(rows[long - 1])
            raise InputDataError(f"{path}: not a valid table (row {long} has {n} fields, the "
                                 f"header {width}); check for unquoted '{sep}' separators or "
                                 "stray quotes in that row")
    return rows


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 310110001001.0 -> "310110001001"
    return str(value)


def _has_formulas(path: Path) -> bool:
    """Whether any worksheet of an .xlsx holds a formula (an ``<f>`` element).

    A byte scan of the zipped sheet XML: much cheaper than a second openpyxl pass, which
    is only needed when there are formulas.
    """
    pat = re.compile(rb"<(?:\w+:)?f[ >/]")
    try:
        with zipfile.ZipFile(path) as z:
            return any(pat.search(z.read(n)) for n in z.namelist()
                       if n.startswith("xl/worksheets/") and n.endswith(".xml"))
    except (OSError, zipfile.BadZipFile):
        return True  # let openpyxl decide


def _read_excel(path: Path, sheet: str | None
                ) -> tuple[list[list[str | None]], dict[str, tuple[int, str, str]]]:
    """Rows of cell texts, and the columns holding formulas without a saved result.

    A formula cell keeps its last calculated value only when a spreadsheet program saved
    the file; files written by scripts (openpyxl, some exports) have none, and the cell
    reads as empty. Those cells are found by reading the formulas too, so the message can
    say what to do instead of "empty".
    """
    if path.suffix.lower() == ".xls":
        raise InputDataError(f"{path}: old Excel 97-2003 format (.xls) is not supported; open "
                             "it in Excel or WPS and save as .xlsx or CSV UTF-8")
    import openpyxl  # local: only Excel inputs need it

    def load(data_only: bool) -> openpyxl.Workbook:
        try:
            return openpyxl.load_workbook(path, read_only=True, data_only=data_only)
        except Exception as exc:  # openpyxl raises many types for broken files
            raise InputDataError(f"{path}: cannot be opened as an Excel file ({exc}); save "
                                 "it again from Excel as .xlsx") from None

    def sheet_of(book: openpyxl.Workbook) -> object:
        if sheet is None:
            return book.worksheets[0]
        if sheet in book.sheetnames:
            return book[sheet]
        raise InputDataError(f"{path}: sheet '{sheet}' not found (sheets are: "
                             f"{', '.join(book.sheetnames)}); fix the sheet setting")

    book = load(True)
    try:
        ws = sheet_of(book)
        title = ws.title
        rows = [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    finally:
        book.close()
    while rows and all(v is None or not str(v).strip() for v in rows[-1]):
        rows.pop()  # trailing blank rows Excel keeps for formatted cells
    if not rows:
        raise InputDataError(f"{path}: sheet '{title}' is empty; it needs a header row "
                             "and data rows")
    formulas: dict[str, tuple[int, str, str]] = {}
    if any(v is None for r in rows for v in r) and _has_formulas(path):
        from openpyxl.utils import get_column_letter

        head = _header_row(rows)
        header = rows[head]
        book = load(False)
        try:
            ws = sheet_of(book)
            for r, row in enumerate(ws.iter_rows(values_only=True)):
                if r <= head or r >= len(rows):
                    continue
                for c, v in enumerate(row):
                    if (isinstance(v, str) and v.startswith("=") and c < len(rows[r])
                            and rows[r][c] is None and c < len(header)
                            and header[c] is not None):
                        n, ref, f = formulas.get(str(header[c]).strip(), (0, "", ""))
                        formulas[str(header[c]).strip()] = (
                            n + 1, ref or f"{get_column_letter(c + 1)}{r + 1}", f or v)
        finally:
            book.close()
    return rows, formulas


def _read_geo(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    gpkg = path.suffix.lower() == ".gpkg"
    try:
        kw = {"layer": layer} if layer else {}
        gdf = gpd.read_file(path, fid_as_index=gpkg, **kw)
    except Exception as exc:  # pyogrio/GDAL errors have several types
        msg = " ".join(str(exc).split())
        raise InputDataError(f"{path}: cannot be read as a GIS file ({msg})") from None
    if gdf.crs is None:
        raise InputDataError(f"{path}: the file has no coordinate system; set one in QGIS "
                             "(Layer > Set CRS, e.g. EPSG:4326) and save it again")
    if len(gdf) == 0:
        raise InputDataError(f"{path}: the file has no features")
    gdf.columns = [c.strip() if isinstance(c, str) else c for c in gdf.columns]
    if not gpkg:  # GeoJSON/Shapefile fids start at 0: number features 1, 2, ... instead
        gdf.index = pd.RangeIndex(1, len(gdf) + 1)
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


def _header_further_down(df: pd.DataFrame, wanted: set[str]) -> int | None:
    """Row number (as in the file) of a data row that holds all ``wanted`` column names."""
    if not wanted or isinstance(df, gpd.GeoDataFrame):
        return None
    first = int(df.attrs.get("first_row", 2))
    for i, row in enumerate(df.head(20).itertuples(index=False)):
        cells = {str(v).strip() for v in row if isinstance(v, str)}
        if wanted <= cells:
            return first + i
    return None


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
    formulas = df.attrs.get("formulas", {})
    for setting, column in columns.items():
        if column is not None and column in formulas:
            n, ref, f = formulas[column]
            raise InputDataError(
                f"file {path}: column '{column}' ({setting}) holds {n} formula cell"
                f"{'s' if n > 1 else ''} without a saved result (e.g. cell {ref}: '{f}'), "
                "so they read as empty; open the file in Excel or LibreOffice, let it "
                "recalculate and save it (or paste the values instead of the formulas)")
        if column is None or column in df.columns:
            continue
        wanted = {c for c in columns.values() if c is not None}
        found = _header_further_down(df, wanted)
        if found is not None:
            head = int(df.attrs.get("first_row", 2)) - 1
            raise InputDataError(
                f"file {path}: the column names ({', '.join(sorted(wanted))}) are in row "
                f"{found}, not in row {head} (which holds: "
                f"{', '.join(c for c in available if not c.startswith('Unnamed:'))}); "
                f"delete the rows above row {found} so that it becomes row 1, and save the "
                "file")
        hint = ""
        near = [c for c in available if c.strip().lower() == column.strip().lower()]
        if near:
            hint = f" (did you mean '{near[0]}'?)"
        raise InputDataError(f"file {path}: column '{column}' not found{hint} (columns are: "
                             f"{', '.join(available) or 'none'}); set {setting} to one of them")
