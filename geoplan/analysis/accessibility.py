"""Supply and decay settings for the capacity-aware accessibility of a facility type.

The kernel is :func:`geoplan.analysis.fca.floating_catchment`; this module turns facility
attributes and ``[accessibility]`` settings into its inputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geoplan.analysis.fca import Decay
from geoplan.config import Accessibility
from geoplan.errors import InputDataError
from geoplan.notes import Note
from geoplan.outputs.labels import column_label
from geoplan.sources.facility_types import FACILITY_TYPES

__all__ = ["decays", "supply_vector"]


def supply_vector(facilities: pd.DataFrame, attribute: str, missing: str,
                  type_key: str) -> tuple[np.ndarray, str, str]:
    """Supply per facility from ``attribute``, with unknown values handled per ``missing``.

    Parameters
    ----------
    facilities : pandas.DataFrame
        Facilities of one type (columns ``capacity``, ``beds`` …, ``name``).
    attribute : str
        ``capacity``, ``beds``, ``nursing_beds``, ``floor_area_m2`` or ``count``.
    missing : {"median", "count", "error"}
        Unknown supply: the median of the known values (each counts as 1 when none is
        known), 1 per facility, or an error naming the first facility.
    type_key : str
        For messages.

    Returns
    -------
    supply : numpy.ndarray
    note : str
        How unknown values were filled ('' if none were).
    unit : str
        What the supply counts: ``attribute``, or ``"count"`` when no facility has it and
        each counts as 1 (the scores are then facilities per N elderly).
    """
    n = len(facilities)
    if attribute == "count":
        return np.ones(n), "", "count"
    vals = facilities[attribute].to_numpy(np.float64)
    unknown = ~np.isfinite(vals)
    if not unknown.any():
        return vals, "", attribute
    if missing == "error":
        name = facilities["name"].astype(str).to_numpy()[np.flatnonzero(unknown)[0]]
        raise InputDataError(f"accessibility: {int(unknown.sum())} {type_key} facilities have "
                             f"no {attribute} (first: {name}); fill the column, or set "
                             "accessibility.missing_supply = 'median' or 'count'")
    tzh = FACILITY_TYPES[type_key].name_zh if type_key in FACILITY_TYPES else type_key
    azh = column_label(attribute, "zh")
    k = int(unknown.sum())
    if missing == "median" and (~unknown).any():
        fill = float(np.median(vals[~unknown]))
        note = Note(f"{type_key}: {k} of {n} facilities have no {attribute}; "
                    f"the median of the others ({fill:g}) is used for them",
                    f"{tzh}：{n}处设施中有{k}处缺少{azh}，按其余设施的中位数（{fill:g}）计")
    else:
        fill = 1.0
        note = (Note(f"{type_key}: no facility has {attribute}; each counts as 1, so the scores "
                     "are facilities per 1,000 elderly",
                     f"{tzh}：所有设施均缺少{azh}，每处按1计，得分即每千名老人的设施数")
                if unknown.all() else
                Note(f"{type_key}: {k} of {n} facilities have no {attribute}; "
                     "each of them counts as 1",
                     f"{tzh}：{n}处设施中有{k}处缺少{azh}，每处按1计"))
    out = np.where(unknown, fill, vals)
    return out, note, "count" if unknown.all() else attribute


def decays(acc: Accessibility, catchment_min: float) -> dict[str, Decay]:
    """The decay of each configured method (``2sfca``, ``e2sfca_step``, ``e2sfca_gaussian``)."""
    out: dict[str, Decay] = {}
    for m in acc.methods:
        if m == "2sfca":
            out[m] = Decay()
        elif m == "e2sfca_step":
            if acc.step_minutes:
                out[m] = Decay("step", tuple(acc.step_minutes), tuple(acc.step_weights))
            else:
                c = catchment_min
                out[m] = Decay("step", (c / 3, 2 * c / 3, c), tuple(acc.step_weights))
        else:
            out[m] = Decay("gaussian", sigma=acc.gaussian_sigma_min or catchment_min / 2)
    return out
