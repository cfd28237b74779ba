"""Identical inputs give byte-identical tables, workbooks and GeoPackage attributes.

Each build runs in its own process with a different ``PYTHONHASHSEED`` and a fresh
network cache, the way two planners (or two days) would run it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from openpyxl import Workbook

from geoplan.network.walkgraph import merge_tag_values
from geoplan.outputs.tables import FIXED_TIME, reproducible_time, workbook_bytes
from tests.smallcase import output_files, write_case, write_network

REPO = Path(__file__).resolve().parents[1]

_BUILD = """
import json, sys
from geoplan.config import DEFAULT_WALKABLE_HIGHWAYS
from geoplan.network.walkgraph import build_walk_network
from geoplan.sources.osm import graph_from_osm_files
net = build_walk_network(graph_from_osm_files([sys.argv[1]]), 1.0, 2.0,
                         DEFAULT_WALKABLE_HIGHWAYS)
e = net.edges
print(json.dumps(sorted(zip(e["osm_u"].astype(int).tolist(), e["osm_v"].astype(int).tolist(),
                            e["highway"].tolist(), e["name"].tolist()))))
"""


def _env(seed: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env["PYTHONHASHSEED"] = str(seed)
    env["PYTHONPATH"] = str(REPO)
    return env


def test_merge_tag_values_is_order_free() -> None:
    assert merge_tag_values(["residential", "footway", "residential"]) == \
        "footway;residential"
    assert merge_tag_values([["b", "a"], "c"]) == merge_tag_values(["c", ["a", "b"]]) == "a;b;c"
    assert merge_tag_values(["甲路", float("nan"), None, ""]) == "甲路"
    assert merge_tag_values([float("nan")]) == ""
    assert merge_tag_values(["a;b", "b"]) == "a;b"


def test_merged_edges_same_tags_under_any_hash_seed(tmp_path: Path) -> None:
    osm = write_network(tmp_path / "net.osm")
    builds = []
    for seed in (1, 2, 3, 4):
        r = subprocess.run([sys.executable, "-c", _BUILD, str(osm)], env=_env(seed),
                           capture_output=True, text=True, timeout=300, check=False)
        assert r.returncode == 0, r.stderr
        builds.append(json.loads(r.stdout))
    assert all(b == builds[0] for b in builds[1:])
    merged = {(hw, name) for _, _, hw, name in builds[0] if ";" in hw}
    # the test network's tails are merged from ways with different tags
    assert ("footway;path;residential;service", "丁路;丙路;乙路;甲路") in merged, merged
    assert ("footway;living_street;residential", "东路;北路;南路;西路") in merged, merged


def test_workbook_bytes_do_not_depend_on_the_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)

    def book() -> Workbook:
        wb = Workbook()
        wb.active.append(["区域", 1.5])
        return wb

    first = workbook_bytes(book())
    import time

    time.sleep(2.1)  # zip times have a 2 s resolution
    assert workbook_bytes(book()) == first
    with zipfile.ZipFile(io.BytesIO(first)) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode()
    assert "1980-01-01T00:00:00Z" in core
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert reproducible_time() > FIXED_TIME
    with zipfile.ZipFile(io.BytesIO(workbook_bytes(book()))) as z:
        assert "2023-11-14T22:13:20Z" in z.read("docProps/core.xml").decode()


def _gpkg_attributes(path: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for layer, _ in pyogrio.list_layers(path):
        df = pyogrio.read_dataframe(path, layer=layer)
        if "geometry" in df:
            df = pd.DataFrame(df).assign(geometry=df.geometry.to_wkb())
        out[str(layer)] = df
    return out


def test_two_runs_give_identical_outputs(tmp_path: Path) -> None:
    outs = []
    for seed in (11, 12):
        case = tmp_path / f"run{seed}"
        cfg = write_case(case)
        r = subprocess.run([sys.executable, "-m", "geoplan", "run", str(cfg)], env=_env(seed),
                           capture_output=True, text=True, timeout=600, check=False,
                           cwd=case)
        assert r.returncode == 0, r.stderr[-3000:]
        outs.append(case / "out")
    a, b = outs
    data = [p.relative_to(a) for p in output_files(a)]
    assert data == [p.relative_to(b) for p in output_files(b)]
    for rel in data:
        if rel.suffix in (".csv", ".xlsx"):
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
        elif rel.suffix == ".gpkg":
            ta, tb = _gpkg_attributes(a / rel), _gpkg_attributes(b / rel)
            assert list(ta) == list(tb)
            for layer in ta:
                pd.testing.assert_frame_equal(ta[layer], tb[layer], obj=f"{rel}:{layer}")
            # and the files themselves (gpkg_contents.last_change is fixed too)
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    net = _gpkg_attributes(a / "data" / "small-coverage.gpkg")["walk_network"]
    assert net["highway"].str.contains(";").any()  # merged edges are written as such
