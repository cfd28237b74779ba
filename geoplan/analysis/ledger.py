"""The population ledger: every older resident that entered a run, accounted for.

A run reads older residents (60+ and 80+) from its inputs: committee counts in the areas
file, or the census shares spread over residential floor area. Some of them cannot be
scored: their area lies outside the study area, their homes are farther than the snap
limit from any walkable way, they fall in no analysis area ... Each such step records an
exclusion here, with its reason, the persons concerned and the areas they live in, so
that

    entered = scored + sum of exclusions

holds for both age groups. :meth:`Ledger.check` raises :class:`LedgerError` when it does
not: that is a bug in geoplan (an internal error), never an input problem, and it must
never pass silently.

The same bookkeeping is kept for facility rows (:class:`FacilityLedger`): rows read =
placed + each reason a row was not placed (no coordinates, outside the study area,
duplicate ...).

Both are plain containers filled with totals computed by vectorised code at each step;
recording costs a few additions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from geoplan.notes import Note

__all__ = ["LEDGER_COLUMNS", "FacilityLedger", "Ledger", "LedgerEntry", "LedgerError"]

#: Columns of :meth:`Ledger.to_frame` (and of the ``ledger`` table of the outputs).
LEDGER_COLUMNS = ("ledger", "entry", "stage", "reason", "elderly_60", "elderly_80",
                  "facility_rows", "n_areas", "area_codes", "detail")
#: Relative tolerance of the balance (sums of float persons).
_RTOL = 1e-6
#: At most this many area codes are listed per entry in the tables (all are counted).
MAX_CODES = 50


class LedgerError(RuntimeError):
    """The ledger does not balance: an internal error of geoplan (please report it)."""


@dataclass(frozen=True)
class LedgerEntry:
    """One line of the ledger.

    Attributes
    ----------
    stage : str
        Pipeline step that recorded it (``areas``, ``demand``, ``network`` ...).
    reason : str
        Machine key of the reason (``outside_study_area``, ``far_from_network`` ...).
    persons60, persons80 : float
        Older residents concerned.
    area_codes : tuple of str
        Codes (``area_id``) of the areas concerned, sorted.
    detail : str
        One sentence for people.
    """

    stage: str
    reason: str
    persons60: float
    persons80: float
    area_codes: tuple[str, ...] = ()
    detail: str = ""

    @property
    def n_areas(self) -> int:
        """Number of areas concerned."""
        return len(self.area_codes)


def _codes(codes: Iterable[Any] | None) -> tuple[str, ...]:
    if codes is None:
        return ()
    return tuple(sorted({str(c) for c in codes}))


@dataclass
class Ledger:
    """Older residents entering a run, scored, and excluded by reason.

    Attributes
    ----------
    entered : list of LedgerEntry
        Where the residents come from (areas file counts, census spreading ...).
    excluded : list of LedgerEntry
        Residents not scored, one entry per reason.
    notes : list of LedgerEntry
        Parts of the scored residents worth stating (e.g. those on a network part that is
        analysed on its own); not part of the balance.
    scored60, scored80 : float
        Residents carried by the scored demand points (set by :meth:`set_scored`).
    """

    entered: list[LedgerEntry] = field(default_factory=list)
    excluded: list[LedgerEntry] = field(default_factory=list)
    notes: list[LedgerEntry] = field(default_factory=list)
    scored60: float | None = None
    scored80: float | None = None
    scored_areas: int = 0

    # -- recording ------------------------------------------------------------------------
    def enter(self, stage: str, reason: str, persons60: float, persons80: float,
              area_codes: Iterable[Any] | None = None, detail: str = "") -> None:
        """Record residents entering the run (an input total)."""
        self.entered.append(LedgerEntry(stage, reason, float(persons60), float(persons80),
                                        _codes(area_codes), detail))

    def exclude(self, stage: str, reason: str, persons60: float, persons80: float,
                area_codes: Iterable[Any] | None = None, detail: str = "") -> None:
        """Record residents left out of the scores (nothing is recorded for zero persons
        in zero areas)."""
        codes = _codes(area_codes)
        if persons60 == 0 and persons80 == 0 and not codes:
            return
        self.excluded.append(LedgerEntry(stage, reason, float(persons60), float(persons80),
                                         codes, detail))

    def note(self, stage: str, reason: str, persons60: float, persons80: float,
             area_codes: Iterable[Any] | None = None, detail: str = "") -> None:
        """Record a part of the scored residents worth stating (not in the balance)."""
        self.notes.append(LedgerEntry(stage, reason, float(persons60), float(persons80),
                                      _codes(area_codes), detail))

    def set_scored(self, w60: np.ndarray, w80: np.ndarray, n_areas: int) -> None:
        """Record the residents carried by the scored demand points."""
        self.scored60 = float(np.sum(w60))
        self.scored80 = float(np.sum(w80))
        self.scored_areas = int(n_areas)

    # -- totals -----------------------------------------------------------------------------
    @property
    def entered60(self) -> float:
        """60+ residents that entered the run."""
        return float(sum(e.persons60 for e in self.entered))

    @property
    def entered80(self) -> float:
        """80+ residents that entered the run."""
        return float(sum(e.persons80 for e in self.entered))

    @property
    def excluded60(self) -> float:
        """60+ residents left out, all reasons."""
        return float(sum(e.persons60 for e in self.excluded))

    @property
    def excluded80(self) -> float:
        """80+ residents left out, all reasons."""
        return float(sum(e.persons80 for e in self.excluded))

    def check(self) -> None:
        """Raise :class:`LedgerError` unless entered = scored + excluded (60+ and 80+).

        Raises
        ------
        LedgerError
            When the sums differ by more than a relative 1e-6 (an internal error).
        """
        if self.scored60 is None or self.scored80 is None:
            raise LedgerError("population ledger: the scored residents were never recorded")
        for age, ent, sc, ex in (("60+", self.entered60, self.scored60, self.excluded60),
                                 ("80+", self.entered80, self.scored80, self.excluded80)):
            if not np.isfinite(ent) or abs(ent - sc - ex) > _RTOL * max(ent, 1.0):
                raise LedgerError(
                    f"population ledger does not balance for {age}: {ent:.3f} entered, "
                    f"{sc:.3f} scored + {ex:.3f} excluded; this is a bug in geoplan, please "
                    "report it with the config")

    # -- output -------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """The ledger as a table (columns :data:`LEDGER_COLUMNS`): the input totals, the
        scored residents, each exclusion, and the notes."""
        rows: list[dict[str, Any]] = []

        def add(kind: str, e: LedgerEntry) -> None:
            # the areas concerned by an exclusion are listed; those entering are counted
            codes = "" if kind == "entered" else ", ".join(e.area_codes[:MAX_CODES]) + (
                f" … (+{e.n_areas - MAX_CODES})" if e.n_areas > MAX_CODES else "")
            rows.append({"ledger": "people", "entry": kind, "stage": e.stage,
                         "reason": e.reason, "elderly_60": e.persons60,
                         "elderly_80": e.persons80, "facility_rows": np.nan,
                         "n_areas": self.scored_areas if kind == "scored" else e.n_areas,
                         "area_codes": codes, "detail": e.detail})

        for e in self.entered:
            add("entered", e)
        add("scored", LedgerEntry("coverage", "scored", self.scored60 or 0.0,
                                  self.scored80 or 0.0, (),
                                  Note(f"scored in {self.scored_areas} areas",
                                       f"在{self.scored_areas}个区域中计算")))
        for e in self.excluded:
            add("excluded", e)
        for e in self.notes:
            add("of_which", e)
        return pd.DataFrame(rows, columns=list(LEDGER_COLUMNS))

    def to_dict(self) -> dict[str, Any]:
        """The ledger for the manifest (rounded to 0.1 person)."""
        def one(e: LedgerEntry, codes: bool = True) -> dict[str, Any]:
            out = {"stage": e.stage, "reason": e.reason,
                   "elderly_60": round(e.persons60, 1), "elderly_80": round(e.persons80, 1),
                   "n_areas": e.n_areas, "areas": list(e.area_codes), "detail": e.detail}
            if not codes:  # the areas entering are counted, not listed
                del out["areas"]
            return out

        return {"entered_60": round(self.entered60, 1), "entered_80": round(self.entered80, 1),
                "scored_60": round(self.scored60 or 0.0, 1),
                "scored_80": round(self.scored80 or 0.0, 1),
                "scored_areas": self.scored_areas,
                "excluded_60": round(self.excluded60, 1),
                "excluded_80": round(self.excluded80, 1),
                "entered": [one(e, codes=False) for e in self.entered],
                "excluded": [one(e) for e in self.excluded],
                "of_which": [one(e) for e in self.notes]}

    def lines(self) -> list[str]:
        """Short lines for the CLI: the balance, then one line per exclusion and note."""
        out = [f"older residents: {self.entered60:,.0f} aged 60+ ({self.entered80:,.0f} aged "
               f"80+) entered = {self.scored60 or 0:,.0f} ({self.scored80 or 0:,.0f}) scored"
               + "".join(f" + {e.persons60:,.0f} ({e.persons80:,.0f}) {e.reason}"
                         for e in self.excluded)]
        def where(e: LedgerEntry) -> str:
            if not e.n_areas:
                return ""
            return (f" in {e.n_areas} areas ({', '.join(e.area_codes[:8])}"
                    + (" …)" if e.n_areas > 8 else ")"))

        for e in self.excluded:
            out.append(f"  excluded, {e.reason}: {e.persons60:,.1f} aged 60+, "
                       f"{e.persons80:,.1f} aged 80+{where(e)}"
                       + (f": {e.detail}" if e.detail else ""))
        for e in self.notes:
            out.append(f"  of those scored, {e.reason}: {e.persons60:,.1f} aged 60+, "
                       f"{e.persons80:,.1f} aged 80+{where(e)}"
                       + (f": {e.detail}" if e.detail else ""))
        return out


@dataclass
class FacilityLedger:
    """Facility rows read = placed + each reason a row was not placed.

    Attributes
    ----------
    read : dict of str to int
        Data rows read per layer label (blank rows included).
    placed : int
        Facilities placed in the analysis.
    not_placed : dict of str to int
        Rows not placed, per reason (``blank_row``, ``missing_coordinates``,
        ``outside_study_area``, ``duplicate`` ...).
    kept_flagged : dict of str to int
        Placed facilities flagged but kept (e.g. ``far_from_network``); not in the balance.
    """

    read: dict[str, int] = field(default_factory=dict)
    placed: int = 0
    not_placed: dict[str, int] = field(default_factory=dict)
    kept_flagged: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_issues(cls, read: Mapping[str, int], blank: Mapping[str, int], placed: int,
                    issues: pd.DataFrame,
                    left_out: Mapping[str, int] | None = None) -> FacilityLedger:
        """Build the ledger from the rows read, the placed count and the issues table.

        Parameters
        ----------
        read : mapping of str to int
            Data rows per layer (blank rows included).
        blank : mapping of str to int
            Blank rows per layer (skipped).
        placed : int
            Facilities in the analysis.
        issues : pandas.DataFrame
            The issues table (columns ``problem``, ``action``).
        left_out : mapping of str to int, optional
            Rows left out on purpose, per reason (``category_left_out``, ``filtered_out``;
            :attr:`~geoplan.sources.facilities.FacilityLoad.left_out`).
        """
        dropped = issues[issues["action"] == "dropped"]["problem"].value_counts()
        kept = issues[(issues["action"] == "kept")
                      & ~issues["problem"].astype(str).str.startswith("unparseable_")]
        not_placed = {str(k): int(v) for k, v in dropped.sort_index().items()}
        n_blank = int(sum(blank.values()))
        if n_blank:
            not_placed["blank_row"] = n_blank
        for reason, n in (left_out or {}).items():
            if n:
                not_placed[str(reason)] = not_placed.get(str(reason), 0) + int(n)
        return cls(read=dict(read), placed=int(placed), not_placed=not_placed,
                   kept_flagged={str(k): int(v) for k, v in
                                 kept["problem"].value_counts().sort_index().items()})

    @property
    def total_read(self) -> int:
        """Rows read in all layers."""
        return int(sum(self.read.values()))

    def check(self) -> None:
        """Raise :class:`LedgerError` unless rows read = placed + not placed."""
        if self.total_read != self.placed + sum(self.not_placed.values()):
            raise LedgerError(
                f"facility ledger does not balance: {self.total_read} rows read, "
                f"{self.placed} placed + {sum(self.not_placed.values())} not placed "
                f"({self.not_placed}); this is a bug in geoplan, please report it")

    def to_frame(self) -> pd.DataFrame:
        """The facility ledger as rows of the ``ledger`` table (:data:`LEDGER_COLUMNS`)."""
        rows: list[dict[str, Any]] = []

        def add(entry: str, reason: str, n: int, detail: str = "") -> None:
            rows.append({"ledger": "facilities", "entry": entry, "stage": "facilities",
                         "reason": reason, "elderly_60": np.nan, "elderly_80": np.nan,
                         "facility_rows": n, "n_areas": np.nan, "area_codes": "",
                         "detail": detail})

        for layer, n in self.read.items():
            add("entered", "rows_read", n, Note(f"layer '{layer}'", f"图层“{layer}”"))
        add("scored", "placed", self.placed)
        for reason, n in self.not_placed.items():
            add("excluded", reason, n)
        for reason, n in self.kept_flagged.items():
            add("of_which", reason, n, Note("placed and kept, see the issues table",
                                            "已定位并保留，见问题记录表"))
        return pd.DataFrame(rows, columns=list(LEDGER_COLUMNS))

    def to_dict(self) -> dict[str, Any]:
        """The facility ledger for the manifest."""
        return {"rows_read": self.total_read, "rows_read_by_layer": dict(self.read),
                "placed": self.placed, "not_placed": dict(self.not_placed),
                "placed_but_flagged": dict(self.kept_flagged)}

    def line(self) -> str:
        """One line for the CLI."""
        parts = "".join(f" + {n} {r}" for r, n in self.not_placed.items())
        return f"facility rows: {self.total_read} read = {self.placed} placed{parts}"


def ledger_table(people: Ledger, facilities: FacilityLedger | None) -> pd.DataFrame:
    """Both ledgers as one table (people first)."""
    frames = [people.to_frame()]
    if facilities is not None:
        frames.append(facilities.to_frame())
    out = pd.concat(frames, ignore_index=True)
    out["facility_rows"] = out["facility_rows"].astype("Int64")
    out["n_areas"] = out["n_areas"].astype("Int64")
    return out
