"""The generated city of scripts/bench_city.py is what the benchmark says it is."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geoplan.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_city", ROOT / "scripts" /
                                                  "bench_city.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_city_inputs(tmp_path: Path) -> None:
    import osmium

    bench = _bench()
    counts = bench.write_city(tmp_path, 2000, seed=3)
    cfg = load_config(tmp_path / "city.toml")
    assert cfg.scenarios[0].new == bench.P_NEW and cfg.scenarios[0].mip_gap == 0.01
    fac = pd.read_csv(tmp_path / "facilities.csv")
    assert set(fac["category_code"]) == set(range(1, 9)) and (fac["capacity"] > 0).all()
    com = gpd.read_file(tmp_path / "committees.geojson")
    assert com["code"].astype(str).str.len().eq(12).all()
    assert (com["code"].astype(str).str[:9] == com["street_code"].astype(str)).all()
    assert len(com) == counts["committees"] and com["e80"].lt(com["e60"]).all()
    assert counts["candidates"] == min(bench.CANDIDATES, counts["buildings"])
    street_nodes, elevated_nodes, kinds = set(), set(), set()
    for w in osmium.FileProcessor(str(tmp_path / "city.osm.pbf")).with_filter(
            osmium.filter.KeyFilter("highway")):
        hw = w.tags.get("highway") if w.is_way() else None
        if hw is None:
            continue
        kinds.add(hw)
        refs = {n.ref for n in w.nodes}
        if w.tags.get("bridge") == "yes":
            assert w.tags.get("layer") == "1" and hw in ("motorway", "trunk")
            elevated_nodes |= refs
        else:
            street_nodes |= refs
    assert {"footway", "steps", "service", "residential", "motorway"} <= kinds
    assert elevated_nodes and not elevated_nodes & street_nodes  # crossed only beneath


def test_growth_exponent() -> None:
    bench = _bench()
    n = np.array([1e4, 3e4, 1e5, 1e6])
    assert abs(bench.fit_exponent(n, 2e-4 * n) - 1.0) < 1e-9
    assert abs(bench.fit_exponent(n, 1e-9 * n**2) - 2.0) < 1e-9
    assert np.isnan(bench.fit_exponent([1e4], [1.0]))
