"""Join lists that share no id by facility name (and street): ``[[joins]]``.

Chinese facility lists name the same institution in several ways: "上海市杨浦区社会福利院"
in one, "上海杨浦区社会福利院" in another; "上海欣益养老院有限公司" and "欣益养老院";
full-width and half-width brackets and digits. :func:`normalise_name` reduces a name to a
comparable key, :func:`match_names` pairs two lists one to one in three rounds, and
:func:`apply_joins` attaches the columns of a second file to a facility layer and
returns a match table that says for every row what matched, how and what did not:

============ =================================================================
match        meaning
============ =================================================================
exact        names equal as written (spaces trimmed)
normalised   keys of :func:`normalise_name` equal
fuzzy        keys similar: ``score`` (0-100, rapidfuzz ``fuzz.ratio``, the
             normalised Indel similarity of the two keys) >= ``min_score``
unmatched    no partner (a right row is also listed in the issues table with
             its best candidate and score)
============ =================================================================

In every round a pair needs compatible streets when both rows have one (same street
after dropping 街道/镇/乡/路/新村 endings, or one a prefix of the other: "定海" and
"定海路街道"), and the same branch suffix (第一分院, 二部 ...): "社会福利院第一分院" is
a different institution from "社会福利院", however similar the names. A name with two
equally good partners is left unmatched (reported as ambiguous) rather than guessed.

Fuzzy scores use rapidfuzz (a maintained C++ library, MIT): difflib's ratio is slower
by two orders of magnitude on the city-wide lists (thousands x thousands pairs) and
differs from the standard Indel similarity on repeated characters (its junk heuristic).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from rapidfuzz import fuzz, process

from geoplan.config import Join
from geoplan.errors import InputDataError
from geoplan.sources.tables import read_table, require_columns

__all__ = ["MATCH_COLUMNS", "apply_joins", "match_names", "normalise_name",
           "normalise_street"]

log = logging.getLogger(__name__)

#: Columns of the match table, in order.
MATCH_COLUMNS = ("join", "layer", "fid", "left_row", "left_name", "left_street",
                 "right_row", "right_name", "right_street", "match", "match_score",
                 "match_note")

_LEGAL_FORMS = ("股份有限公司", "有限责任公司", "有限公司")
#: Bracketed notes that only say what legal form a body has; other bracketed text
#: ("（顺平）", the compound a small care home serves) is part of the name.
_LEGAL_NOTE = re.compile(
    r"\((?:[^()]*?(?:有限|合伙|公司|民办非企业|民非|个体|集团|普通|特殊|筹|试运营|试营业|"
    r"法人|事业单位|社会服务机构|非营利)[^()]*)\)")
_BRANCH = re.compile(r"(第?[一二三四五六七八九十0-9]+(?:分院|分部|分中心|院区|部|号院)|分院|分部)$")
_DIGITS = str.maketrans("0123456789", "〇一二三四五六七八九")
_STREET_ENDINGS = ("街道办事处", "街道", "镇", "乡", "社区", "新村", "路")


def _nfkc(text: str) -> str:
    """Full-width to half-width, lower case, without spaces."""
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def _prefix_forms(prefixes: Sequence[str]) -> list[str]:
    """The prefixes and their short forms (上海市 -> 上海, 杨浦区 -> 杨浦), longest first."""
    out: set[str] = set()
    for p in prefixes:
        p = _nfkc(p)
        if not p:
            continue
        out.add(p)
        if len(p) >= 3 and p[-1] in "省市区县":
            out.add(p[:-1])
    return sorted(out, key=len, reverse=True)


def normalise_name(name: str, strip_prefixes: Sequence[str] = ()) -> tuple[str, str]:
    """Comparable key and branch suffix of a Chinese facility name.

    Steps: full-width to half-width and no spaces; bracketed legal-form notes removed
    ("(有限合伙)"), other brackets dropped but their text kept ("（顺平）" -> "顺平"); for
    "X有限公司Y分公司" the branch name Y, otherwise a trailing legal form (有限公司 ...)
    removed; the given place prefixes (and their short forms without 市/区/县/省) removed
    from the start, repeatedly; Arabic digits of a branch suffix written in Chinese
    ("第1分院" -> "第一分院").

    Parameters
    ----------
    name : str
        The name as written.
    strip_prefixes : sequence of str
        Place names to remove from the start, e.g. ``("上海市", "杨浦区")``.

    Returns
    -------
    key : str
        The normalised name (branch suffix included).
    branch : str
        The branch suffix (``""`` when none), which fuzzy matches must share.
    """
    s = _nfkc(str(name))
    s = _LEGAL_NOTE.sub("", s).replace("(", "").replace(")", "")
    for form in _LEGAL_FORMS:
        head, sep, tail = s.partition(form)
        if sep:
            tail = tail.removesuffix("分公司")
            s = tail if tail else head
            break
    forms = _prefix_forms(strip_prefixes)
    changed = True
    while changed:  # longest prefix first, then start again
        changed = False
        for p in forms:
            if s.startswith(p) and len(s) > len(p) + 1:
                s = s[len(p):]
                changed = True
                break
    m = _BRANCH.search(s)
    branch = m.group(1).translate(_DIGITS) if m else ""
    if m:
        s = s[:m.start()] + branch
    return s, branch


def normalise_street(street: object) -> str:
    """Street name without its 街道/镇/乡/路/新村 endings (``""`` when blank)."""
    if street is None or (isinstance(street, float) and np.isnan(street)):
        return ""
    s = _nfkc(str(street))
    changed = True
    while changed:
        changed = False
        for end in _STREET_ENDINGS:
            if s.endswith(end) and len(s) > len(end) + 1:
                s = s[:-len(end)]
                changed = True
                break
    return s


def _street_ok(left: Sequence[str], right: Sequence[str]) -> NDArray[np.bool_]:
    """Pairwise: True unless both streets are known and neither is a prefix of the other.

    Compared once per pair of distinct streets (a district has a dozen), then spread.
    """
    ul, li = np.unique(np.asarray(left, dtype=object).astype(str), return_inverse=True)
    ur, ri = np.unique(np.asarray(right, dtype=object).astype(str), return_inverse=True)
    small = np.array([[not a or not b or a.startswith(b) or b.startswith(a) for b in ur]
                      for a in ul], dtype=bool).reshape(len(ul), len(ur))
    return small[np.ix_(li.ravel(), ri.ravel())]


def match_names(left_names: Sequence[object], right_names: Sequence[object],
                left_streets: Sequence[object] | None = None,
                right_streets: Sequence[object] | None = None, *, min_score: float = 90.0,
                strip_prefixes: Sequence[str] = ()) -> pd.DataFrame:
    """Pair two name lists one to one: exact, then normalised, then fuzzy.

    Parameters
    ----------
    left_names, right_names : sequence
        Names (blank entries never match).
    left_streets, right_streets : sequence, optional
        Streets; a pair needs compatible streets when both have one.
    min_score : float, default 90
        Lowest fuzzy score (0-100) accepted.
    strip_prefixes : sequence of str
        Place prefixes for :func:`normalise_name`.

    Returns
    -------
    pandas.DataFrame
        One row per left name (matched or not) and one per unmatched right name, columns
        ``left_pos``, ``right_pos`` (-1 when none), ``method`` (exact, normalised, fuzzy,
        unmatched), ``score`` (100 for exact and normalised, NaN when unmatched) and
        ``note`` (for unmatched rows: the best candidate and its score, or "ambiguous").
    """
    def clean(values: Sequence[object] | None, n: int) -> list[str]:
        if values is None:
            return [""] * n
        return ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
                for v in values]

    ln, rn = clean(left_names, len(left_names)), clean(right_names, len(right_names))
    ls = [normalise_street(s) for s in clean(left_streets, len(ln))]
    rs = [normalise_street(s) for s in clean(right_streets, len(rn))]
    lkey = [normalise_name(n, strip_prefixes) if n else ("", "") for n in ln]
    rkey = [normalise_name(n, strip_prefixes) if n else ("", "") for n in rn]
    street_ok = _street_ok(ls, rs)
    right_of = np.full(len(ln), -1, dtype=np.int64)
    method = np.full(len(ln), "unmatched", dtype=object)
    score = np.full(len(ln), np.nan)
    note = np.full(len(ln), "", dtype=object)
    used = np.zeros(len(rn), dtype=bool)

    def exact_round(lk: list[str], rk: list[str], how: str) -> None:
        index: dict[str, list[int]] = {}
        for j, k in enumerate(rk):
            if k:
                index.setdefault(k, []).append(j)
        for i, k in enumerate(lk):
            if right_of[i] >= 0 or not k:
                continue
            cand = [j for j in index.get(k, []) if not used[j] and street_ok[i, j]]
            if len(cand) > 1:  # the street may decide between namesakes
                both = [j for j in cand if ls[i] and rs[j]]
                cand = both if len(both) == 1 else cand
            if len(cand) == 1:
                right_of[i], method[i], score[i] = cand[0], how, 100.0
                used[cand[0]] = True
            elif len(cand) > 1:
                note[i] = f"ambiguous: {len(cand)} rows named '{rn[cand[0]]}'"

    exact_round(ln, rn, "exact")
    exact_round([k for k, _ in lkey], [k for k, _ in rkey], "normalised")

    li = np.flatnonzero((right_of < 0) & np.array([bool(k) for k, _ in lkey], dtype=bool))
    rj = np.flatnonzero(~used & np.array([bool(k) for k, _ in rkey], dtype=bool))
    best_for_right = np.full(len(rn), -1, dtype=np.int64)
    best_score_right = np.full(len(rn), np.nan)
    if len(li) and len(rj):
        sc = process.cdist([lkey[i][0] for i in li], [rkey[j][0] for j in rj],
                           scorer=fuzz.ratio, dtype=np.float64)
        allowed = street_ok[np.ix_(li, rj)] & (
            np.array([lkey[i][1] for i in li], dtype=object)[:, None]
            == np.array([rkey[j][1] for j in rj], dtype=object)[None, :])
        sc = np.where(allowed, sc, 0.0)
        bi = sc.argmax(axis=0)
        best_for_right[rj] = li[bi]
        best_score_right[rj] = sc[bi, np.arange(len(rj))]
        # one to one, best pairs first; a row whose best score is shared is ambiguous
        order = np.argsort(-sc, axis=None, kind="stable")
        taken_l = np.zeros(len(li), dtype=bool)
        taken_r = np.zeros(len(rj), dtype=bool)
        for flat in order:
            a, b = divmod(int(flat), len(rj))
            s = sc[a, b]
            if s < min_score:
                break
            if taken_l[a] or taken_r[b]:
                continue
            rival_l = (np.sum(sc[a, ~taken_r] == s) > 1)
            rival_r = (np.sum(sc[~taken_l, b] == s) > 1)
            if rival_l or rival_r:
                note[li[a]] = f"ambiguous: several names score {s:.0f}"
                taken_l[a] = True
                continue
            taken_l[a] = taken_r[b] = True
            right_of[li[a]], method[li[a]], score[li[a]] = rj[b], "fuzzy", float(s)
            used[rj[b]] = True
        for a, i in enumerate(li):
            b = int(sc[a].argmax())
            if right_of[i] < 0 and not note[i] and sc[a, b] > 0:
                note[i] = f"best candidate '{rn[rj[b]]}' (score {sc[a, b]:.0f})"
    out = pd.DataFrame({"left_pos": np.arange(len(ln), dtype=np.int64), "right_pos": right_of,
                        "method": method, "score": score, "note": note})
    lone = np.flatnonzero(~used)
    rnote = [(f"best candidate '{ln[best_for_right[j]]}' (score {best_score_right[j]:.0f} < "
              f"{min_score:g})" if best_for_right[j] >= 0 and best_score_right[j] > 0
              else "no candidate with a compatible street and branch")
             if rn[j] else "blank name" for j in lone]
    right_only = pd.DataFrame({"left_pos": np.full(len(lone), -1, dtype=np.int64),
                               "right_pos": lone.astype(np.int64),
                               "method": "unmatched", "score": np.nan,
                               "note": np.asarray(rnote, dtype=object)})
    return pd.concat([out, right_only], ignore_index=True)


def _take(values: NDArray[np.generic], pos: NDArray[np.int64], fill: object
          ) -> NDArray[np.object_]:
    """``values[pos]`` with ``fill`` where ``pos`` is -1."""
    out = np.full(len(pos), fill, dtype=object)
    ok = pos >= 0
    out[ok] = values[pos[ok]]
    return out


def _attach_value(values: pd.Series) -> pd.Series:
    """Numbers where every filled cell is a number (full-width digits allowed), else text."""
    txt = values.astype(object).where(values.notna())
    norm = txt.dropna().astype(str).str.normalize("NFKC").str.replace(",", "", regex=False)
    num = pd.to_numeric(norm, errors="coerce")
    if len(norm) and num.notna().all():
        return pd.to_numeric(txt.astype(str).str.normalize("NFKC").str.replace(
            ",", "", regex=False).where(txt.notna()), errors="coerce").astype(np.float64)
    return txt


def apply_joins(points: gpd.GeoDataFrame, inventory: pd.DataFrame,
                joins: Sequence[Join]
                ) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame, list[pd.DataFrame]]:
    """Attach the columns of each join's file to its facility layer.

    Parameters
    ----------
    points : GeoDataFrame
        Located facilities (``fid``, ``layer``, ``name``, ``street`` ...).
    inventory : DataFrame
        All facility rows, located or not; the join matches these, so a facility
        without coordinates still gets its attributes.
    joins : sequence of Join
        The configured joins.

    Returns
    -------
    points, inventory : the inputs with the attached columns
    matches : DataFrame
        The match table, columns :data:`MATCH_COLUMNS`.
    issues : list of DataFrame
        Unmatched and ambiguous right rows, in the issues table's columns.

    Raises
    ------
    InputDataError
        If a key or attached column is missing from the file, or an attached column
        would overwrite a facility column.
    """
    points, inventory = points.copy(), inventory.copy()
    tables, issues = [], []
    for k, jn in enumerate(joins):
        where = f"joins[{k}]"
        label = jn.name or jn.path.stem
        right = read_table(jn.path, sheet=jn.sheet, encoding=jn.encoding)
        numeric_targets = {"capacity": jn.capacity_column, "beds": jn.beds_column,
                           "nursing_beds": jn.nursing_beds_column,
                           "floor_area_m2": jn.floor_area_column}
        require_columns(right, {f"{where}.name_column": jn.name_column,
                                f"{where}.street_column": jn.street_column,
                                **{f"{where}.columns[{i}]": c
                                   for i, c in enumerate(jn.columns)},
                                **{f"{where}.{key}_column": c for key, c in
                                   zip(("capacity", "beds", "nursing_beds", "floor_area"),
                                       numeric_targets.values(), strict=True)}},
                        jn.path)
        clash = [c for c in jn.columns if c in inventory.columns or c in points.columns]
        if clash:
            raise InputDataError(f"{where}.columns: '{clash[0]}' is already a facility column; "
                                 "attach it through beds_column/capacity_column/... or rename "
                                 "it in the file")
        rows = right.dropna(how="all")
        file_rows = rows.index.to_numpy(dtype=np.int64) + 2
        left_sel = np.flatnonzero(inventory["layer"].to_numpy() == jn.layer)
        left = inventory.iloc[left_sel]
        m = match_names(left["name"].tolist(), rows[jn.name_column].tolist(),
                        left["street"].tolist(),
                        rows[jn.street_column].tolist() if jn.street_column else None,
                        min_score=jn.min_score, strip_prefixes=jn.strip_prefixes)
        has_l, has_r = (m["left_pos"] >= 0).to_numpy(), (m["right_pos"] >= 0).to_numpy()
        lp, rp = m["left_pos"].to_numpy(), m["right_pos"].to_numpy()
        rnames = rows[jn.name_column].to_numpy(dtype=object)
        rstreets = (rows[jn.street_column].to_numpy(dtype=object) if jn.street_column
                    else np.full(len(rows), np.nan, dtype=object))
        table = pd.DataFrame({
            "join": label, "layer": jn.layer,
            "fid": _take(left["fid"].to_numpy(dtype=object), lp, ""),
            "left_row": _take(left["source_row"].to_numpy(), lp, -1).astype(np.int64),
            "left_name": _take(left["name"].to_numpy(dtype=object), lp, np.nan),
            "left_street": _take(left["street"].to_numpy(dtype=object), lp, np.nan),
            "right_row": _take(file_rows, rp, -1).astype(np.int64),
            "right_name": _take(rnames, rp, np.nan),
            "right_street": _take(rstreets, rp, np.nan),
            "match": m["method"].to_numpy(dtype=object), "match_score": m["score"].to_numpy(),
            "match_note": m["note"].to_numpy(dtype=object)})
        tables.append(table[list(MATCH_COLUMNS)])
        # attach: matched left rows get the right row's values
        pair = m[has_l & has_r]
        fids = left["fid"].to_numpy(dtype=object)[pair["left_pos"].to_numpy()]
        src = rows.iloc[pair["right_pos"].to_numpy()]
        attach = {c: _attach_value(src[c]).to_numpy() for c in jn.columns}
        for attr, col in numeric_targets.items():
            if col is not None:
                attach[f"__{attr}"] = _attach_value(src[col]).to_numpy()
        for frame_name in ("inventory", "points"):
            frame = inventory if frame_name == "inventory" else points
            pos = pd.Series(np.arange(len(frame)), index=frame["fid"].to_numpy())
            ok = np.isin(fids, pos.index)
            at = pos[fids[ok]].to_numpy()
            for col, vals in attach.items():
                if col.startswith("__"):
                    attr = col[2:]
                    cur = frame[attr].to_numpy(dtype=np.float64, copy=True)
                    new = pd.to_numeric(pd.Series(vals[ok]), errors="coerce").to_numpy(
                        np.float64)
                    fill = np.isnan(cur[at]) & ~np.isnan(new)
                    cur[at[fill]] = new[fill]
                    frame[attr] = cur
                else:
                    dtype = np.float64 if np.asarray(vals).dtype.kind == "f" else object
                    col_vals = np.full(len(frame), np.nan, dtype=dtype)
                    col_vals[at] = vals[ok]
                    if col in frame.columns:  # a second join filling the same column
                        old = frame[col].to_numpy(dtype=dtype, copy=True)
                        keep = ~pd.isna(old)
                        col_vals[keep] = old[keep]
                    frame[col] = col_vals
        n_match = int((has_l & has_r).sum())
        by = m.loc[has_l & has_r, "method"].value_counts().to_dict()
        lone = table[(table["left_row"] < 0)]
        log.info("join '%s' -> layer '%s': %d of %d rows of %s matched (%s); %d not matched",
                 label, jn.layer, n_match, len(rows), jn.path.name,
                 ", ".join(f"{v} {k}" for k, v in by.items()) or "none", len(lone))
        if len(lone):
            log.warning("join '%s' (%s): %d rows match no facility of layer '%s' (e.g. row %d "
                        "'%s': %s); see the joins table", label, jn.path, len(lone), jn.layer,
                        int(lone["right_row"].iloc[0]), lone["right_name"].iloc[0],
                        lone["match_note"].iloc[0])
            issues.append(pd.DataFrame({
                "layer": label, "file": str(jn.path),
                "row": lone["right_row"].to_numpy(dtype=np.int64),
                "name": lone["right_name"].to_numpy(dtype=object),
                "problem": "join_unmatched",
                "detail": (f"no facility of layer '{jn.layer}' matches by name"
                           + (" and street" if jn.street_column else "") + "; "
                           + lone["match_note"].astype(str)).to_numpy(dtype=object),
                "action": "not attached"}))
    matches = (pd.concat(tables, ignore_index=True) if tables
               else pd.DataFrame({c: pd.Series([], dtype=object) for c in MATCH_COLUMNS}))
    points = gpd.GeoDataFrame(points, geometry="geometry", crs=points.crs)
    return points, inventory, matches, issues
