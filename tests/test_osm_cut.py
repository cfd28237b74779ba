"""Cutting OSM files to a study area keeps buildings and landuse whole (osmium extract's
complete_ways): a boundary through a multipolygon relation or a building never leaves
ways with one node (osmnx then failed with EmptyPartError)."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import numpy as np
import osmium
import pytest
import shapely

from geoplan.sources import osm
from geoplan.sources.osm_read import read_osm
from tests.osmxml import DLAT, DLON, LAT0, LON0


def _ll(e: float, n: float) -> tuple[float, float]:
    return LON0 + e * DLON, LAT0 + n * DLAT


def _ring_ways(rng: np.random.Generator, x0: float, y0: float, x1: float, y1: float,
               nid: list[int]) -> tuple[list[tuple[int, float, float]], list[list[int]]]:
    """A rectangle ring with intermediate nodes, split into 2-4 open ways at random nodes."""
    pts: list[tuple[float, float]] = []
    for (ax, ay), (bx, by) in zip([(x0, y0), (x1, y0), (x1, y1), (x0, y1)],
                                  [(x1, y0), (x1, y1), (x0, y1), (x0, y0)], strict=True):
        k = int(rng.integers(2, 6))
        pts += [(ax + (bx - ax) * i / k, ay + (by - ay) * i / k) for i in range(k)]
    nodes = []
    for x, y in pts:
        nid[0] += 1
        nodes.append((nid[0], x, y))
    ids = [n[0] for n in nodes]
    cuts = sorted(rng.choice(np.arange(1, len(ids)), size=int(rng.integers(1, 4)),
                             replace=False).tolist())
    bounds = [0, *cuts, len(ids)]
    ways = [ids[a:b + 1] if b < len(ids) else [*ids[a:], ids[0]]
            for a, b in pairwise(bounds)]
    return nodes, ways


def small_city(path: Path, seed: int) -> Path:
    """A 600 m x 600 m city: a street grid, closed-way buildings and multipolygon
    relations (residential landuse and buildings with a courtyard) whose outer and inner
    rings are split into several member ways."""
    rng = np.random.default_rng(seed)
    nid = [0]
    nodes: list[tuple[int, float, float]] = []
    ways: list[tuple[int, list[int], dict[str, str]]] = []
    rels: list[tuple[int, list[tuple[int, str]], dict[str, str]]] = []
    wid = 1000
    grid: dict[tuple[int, int], int] = {}
    for i in range(7):
        for j in range(7):
            nid[0] += 1
            grid[i, j] = nid[0]
            nodes.append((nid[0], i * 100.0, j * 100.0))
    for i in range(7):
        wid += 1
        ways.append((wid, [grid[i, j] for j in range(7)], {"highway": "residential"}))
        wid += 1
        ways.append((wid, [grid[j, i] for j in range(7)], {"highway": "residential"}))
    rid = 5000
    for bi in range(6):
        for bj in range(6):
            x0, y0 = bi * 100 + 10, bj * 100 + 10
            kind = rng.integers(0, 3)
            if kind == 0:  # a closed-way building
                ring = []
                for x, y in [(x0, y0), (x0 + 40, y0), (x0 + 40, y0 + 30), (x0, y0 + 30)]:
                    nid[0] += 1
                    nodes.append((nid[0], x, y))
                    ring.append(nid[0])
                wid += 1
                ways.append((wid, [*ring, ring[0]], {"building": "yes"}))
                continue
            tags = ({"type": "multipolygon", "landuse": "residential"} if kind == 1
                    else {"type": "multipolygon", "building": "apartments"})
            nd, outer = _ring_ways(rng, x0, y0, x0 + 80, y0 + 80, nid)
            nodes += nd
            nd, inner = _ring_ways(rng, x0 + 25, y0 + 25, x0 + 55, y0 + 55, nid)
            nodes += nd
            members = []
            for refs, role in [*((r, "outer") for r in outer), *((r, "inner") for r in inner)]:
                wid += 1
                ways.append((wid, refs, {}))
                members.append((wid, role))
            rid += 1
            rels.append((rid, members, tags))
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for i, x, y in nodes:
        lon, lat = _ll(x, y)
        lines.append(f' <node id="{i}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    for w, refs, tags in ways:
        lines.append(f' <way id="{w}" version="1">')
        lines += [f'  <nd ref="{r}"/>' for r in refs]
        lines += [f'  <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append(" </way>")
    for r, members, tags in rels:
        lines.append(f' <relation id="{r}" version="1">')
        lines += [f'  <member type="way" ref="{m}" role="{role}"/>' for m, role in members]
        lines += [f'  <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append(" </relation>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def to_pbf(src: Path, dst: Path) -> Path:
    with osmium.SimpleWriter(osmium.io.File(str(dst), "pbf")) as w:
        for obj in osmium.FileProcessor(str(src)):
            w.add(obj)
    return dst


def _random_box(rng: np.random.Generator) -> shapely.Polygon:
    x0, y0 = rng.uniform(-50, 450, size=2)
    w, h = rng.uniform(30, 300, size=2)
    return shapely.box(*_ll(x0, y0), *_ll(x0 + w, y0 + h))


@pytest.mark.parametrize("fmt", ["osm", "pbf"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cut_keeps_whole_features(tmp_path: Path, seed: int, fmt: str) -> None:
    src = small_city(tmp_path / "city.osm", seed)
    path = src if fmt == "osm" else to_pbf(src, tmp_path / "city.osm.pbf")
    full = osm.features_from_tables(read_osm((path,)))
    assert len(full) > 30
    full_area = dict(zip(full["osm_id"], shapely.area(full.geometry.to_numpy()), strict=True))
    rng = np.random.default_rng(100 + seed)
    for _ in range(12):
        clip = _random_box(rng)
        got = osm.features_from_tables(read_osm((path,), clip))  # used to raise EmptyPartError
        geoms = got.geometry.to_numpy()
        assert not shapely.is_empty(geoms).any()
        assert shapely.is_valid(geoms).all()
        # every feature touching the clip is there, whole (its full area)
        want = set(full["osm_id"][shapely.intersects(full.geometry.to_numpy(), clip)])
        touching = set(got["osm_id"])
        assert want <= touching, (clip.bounds, want - touching)
        for oid, a in zip(got["osm_id"], shapely.area(geoms), strict=True):
            assert a == pytest.approx(full_area[oid], rel=1e-9)


@pytest.mark.parametrize("fmt", ["osm", "pbf"])
def test_member_missing_from_file_drops_relation(tmp_path: Path, fmt: str) -> None:
    """A relation whose member way is missing from the extract (or has a node missing) is
    dropped, never built from an empty part."""
    src = small_city(tmp_path / "city.osm", 4)
    text = src.read_text(encoding="utf-8")
    # drop the first member way of every other relation
    rels = re.findall(r'<relation id="(\d+)".*?</relation>', text, flags=re.S)
    assert rels
    first_members = re.findall(r'<relation id="\d+" version="1">\n  <member type="way" '
                               r'ref="(\d+)"', text)
    for m in first_members[::2]:
        text = re.sub(rf' <way id="{m}" version="1">.*?</way>\n', "", text, flags=re.S)
    bad = tmp_path / "cut.osm"
    bad.write_text(text, encoding="utf-8")
    path = bad if fmt == "osm" else to_pbf(bad, tmp_path / "cut.osm.pbf")
    clip = shapely.box(*_ll(-20, -20), *_ll(620, 620))
    got = osm.features_from_tables(read_osm((path,), clip))
    assert not shapely.is_empty(got.geometry.to_numpy()).any()
    dropped = {f"relation/{r}" for r in rels[::2]}
    kept = {f"relation/{r}" for r in rels[1::2]}
    assert kept <= set(got["osm_id"])
    assert not dropped & set(got["osm_id"])
