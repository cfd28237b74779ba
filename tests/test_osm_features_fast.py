"""The vectorised building polygons of osm._features_gdf against osmnx's own feature code."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import shapely

from geoplan.sources import osm


def _square(rng: np.random.Generator, nid: int, wid: int, tags: dict[str, str],
            nodes: list[dict[str, Any]], closed: bool = True, n: int = 4
            ) -> dict[str, Any]:
    x, y = 121.5 + rng.uniform(0, 0.05), 31.2 + rng.uniform(0, 0.05)
    ids = []
    for k in range(n):
        a = 2 * np.pi * k / n
        nodes.append({"type": "node", "id": nid + k, "lon": float(x + 1e-4 * np.cos(a)),
                      "lat": float(y + 1e-4 * np.sin(a))})
        ids.append(nid + k)
    return {"type": "way", "id": wid, "nodes": ids + ids[:1] if closed else ids,
            "tags": tags}


def _elements(seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    nodes: list[dict[str, Any]] = []
    ways: list[dict[str, Any]] = []
    kinds = [{"building": "yes"}, {"building": "residential", "building:levels": "6"},
             {"landuse": "residential", "name": "小区"}, {"building": "yes", "area": "no"},
             {"highway": "pedestrian", "area": "yes"}, {"building": "yes", "id": "7"},
             {"building": "apartments", "geometry": "x"}, {"building": "no"},
             {"building": "roof", "name": "棚"}, {}]
    nid, wid = 1000, 1
    for _ in range(300):
        tags = dict(kinds[int(rng.integers(len(kinds)))])
        closed = bool(rng.random() > 0.1)
        ways.append(_square(rng, nid, wid, tags, nodes, closed, int(rng.integers(3, 9))))
        nid += 20
        wid += 1
    # a multipolygon with a hole: members may be tagged or not
    x, y = 121.6, 31.3
    for k, (dx, dy) in enumerate([(0, 0), (1, 0), (1, 1), (0, 1)]):
        nodes.append({"type": "node", "id": nid + k, "lon": x + 1e-3 * dx,
                      "lat": y + 1e-3 * dy})
        nodes.append({"type": "node", "id": nid + 10 + k, "lon": x + 4e-4 + 2e-4 * dx,
                      "lat": y + 4e-4 + 2e-4 * dy})
    outer = {"type": "way", "id": wid, "nodes": [nid + k for k in (0, 1, 2, 3, 0)],
             "tags": {}}
    inner = {"type": "way", "id": wid + 1, "nodes": [nid + 10 + k for k in (0, 1, 2, 3, 0)],
             "tags": {"building": "yes"}}
    rel = {"type": "relation", "id": 5,
           "members": [{"type": "way", "ref": outer["id"], "role": "outer"},
                       {"type": "way", "ref": inner["id"], "role": "inner"}],
           "tags": {"type": "multipolygon", "building": "yes", "name": "楼"}}
    order = rng.permutation(len(ways))
    return [*nodes, *(ways[i] for i in order), outer, inner, rel]


def _reference(els: list[dict[str, Any]]) -> Any:
    ox = osm._configure_osmnx()
    return osm._features_frame([ox.features._create_gdf([{"elements": els}],
                                                        shapely.Polygon(), osm._FEATURE_TAGS)])


def _assert_same(els: list[dict[str, Any]]) -> None:
    ref = _reference(copy.deepcopy(els))
    got = osm._features_frame([osm._features_gdf(copy.deepcopy(els))])
    assert list(got.columns) == list(ref.columns)
    assert len(got) == len(ref) > 0
    for c in ref.columns:
        if c != "geometry":
            assert got[c].tolist() == ref[c].tolist(), c
    assert (shapely.to_wkb(got.geometry.to_numpy())
            == shapely.to_wkb(ref.geometry.to_numpy())).all()
    assert got.crs == ref.crs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_polygons_same_as_osmnx(seed: int) -> None:
    _assert_same(_elements(seed))


def test_fast_polygons_only_plain_ways() -> None:
    els = [e for e in _elements(3) if e["type"] != "relation"]
    _assert_same(els)
    # every feature of a buildings-only extract takes the vectorised path
    rng = np.random.default_rng(4)
    nodes: list[dict[str, Any]] = []
    ways = [_square(rng, 1000 + 20 * i, i + 1, {"building": "yes"}, nodes) for i in range(50)]
    _assert_same([*nodes, *ways])


def test_fast_polygons_nothing_matches() -> None:
    rng = np.random.default_rng(5)
    nodes: list[dict[str, Any]] = []
    ways = [_square(rng, 1000, 1, {"highway": "footway"}, nodes, closed=False)]
    ox = osm._configure_osmnx()
    with pytest.raises(ox._errors.InsufficientResponseError):
        osm._features_gdf([*nodes, *ways])
