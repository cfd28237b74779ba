"""Study area by name: ``[study_area] osm_name`` + ``osm_admin_level`` picks the boundary
relation of the OSM extract itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import osmium
import pytest
import shapely

from geoplan.config import config_from_dict
from geoplan.errors import ConfigError, InputDataError
from geoplan.sources import osm
from geoplan.sources.osm_read import relation_by_name, relation_polygon
from tests.test_osm_pbf import _with_relation

# relation 77 (测试街道, admin_level 8, ways 901+902) comes from _with_relation
EXTRA = [
    (78, "8", {"name": "控江路街道", "name:en": "Kongjiang Road Subdistrict"}),
    (79, "8", {"name": "Ｓｉｐｉｎｇ 街道", "official_name": "四平路街道"}),
    (80, "6", {"name": "杨浦区", "name:zh": "杨浦区", "name:en": "Yangpu District"}),
    (81, "8", {"name": "殷行街道"}),
    (82, "8", {"name": "五角场街道"}),
    (83, "8", {"name": "长白新村街道"}),
]


def _extract(tmp_path: Path, extra: list[tuple[int, str, dict[str, str]]] = EXTRA,
             name: str = "names.osm.pbf") -> Path:
    """The test street with relation 77 and the ``extra`` administrative relations (all
    on the same two member ways, so each assembles)."""
    from osmium.osm.mutable import Relation

    src = _with_relation(tmp_path)
    out = tmp_path / name
    with osmium.SimpleWriter(osmium.io.File(str(out), "pbf")) as w:
        for o in osmium.FileProcessor(str(src)):
            w.add(o)
        for rid, level, tags in extra:
            w.add_relation(Relation(id=rid, members=[("w", 901, "outer"), ("w", 902, "outer")],
                                    tags={"type": "boundary", "boundary": "administrative",
                                          "admin_level": level, **tags}))
    return out


def test_name_matches_any_name_tag_after_nfkc(tmp_path: Path) -> None:
    pbf = _extract(tmp_path)
    assert relation_by_name((pbf,), "测试街道", 8) == 77
    assert relation_by_name((pbf,), "  Kongjiang Road Subdistrict ", 8) == 78  # name:en
    assert relation_by_name((pbf,), "四平路街道", 8) == 79  # official_name
    assert relation_by_name((pbf,), "Siping 街道", 8) == 79  # full-width letters, NFKC
    assert relation_by_name((pbf,), "Yangpu District", 6) == 80
    # the level counts: 杨浦区 is not a street
    with pytest.raises(InputDataError, match="no boundary of that name at that level"):
        relation_by_name((pbf,), "杨浦区", 8)


def test_name_not_found_lists_names_at_that_level(tmp_path: Path) -> None:
    pbf = _extract(tmp_path)
    with pytest.raises(InputDataError) as ei:
        relation_by_name((pbf,), "大桥街道", 8)
    msg = str(ei.value)
    assert msg.startswith('study_area.osm_name = "大桥街道" (osm_admin_level = 8)')
    assert "\n" not in msg and "check the spelling or osm_admin_level" in msg
    # six relations at level 8: five names listed, the sixth counted
    listed = msg.split("names found there: ")[1].split(";")[0]
    assert len(listed.split(", ")) == 5 and listed.endswith("and 1 more")
    assert "杨浦区" not in msg  # another level
    with pytest.raises(InputDataError, match=r"hold no boundary=administrative relation at "
                                             r"admin_level 4; check osm_admin_level"):
        relation_by_name((pbf,), "上海市", 4)


def test_same_name_twice_asks_for_the_relation_id(tmp_path: Path) -> None:
    pbf = _extract(tmp_path, [*EXTRA, (84, "8", {"name": "殷行街道"})], "dup.osm.pbf")
    with pytest.raises(InputDataError) as ei:
        relation_by_name((pbf,), "殷行街道", 8)
    msg = str(ei.value)
    assert "2 boundary relations have that name (81, 84)" in msg
    assert "set study_area.osm_relation" in msg and "\n" not in msg
    # the same relation in two merged files is one relation
    (tmp_path / "b").mkdir()
    assert relation_by_name((pbf, _extract(tmp_path / "b")), "五角场街道", 8) == 82


def _raw(tmp_path: Path, **study: Any) -> dict[str, Any]:
    (tmp_path / "f.csv").write_text("name,lon,lat\nA,121.6,31.3\n", encoding="utf-8")
    return {"study_area": {"name": "byname", **study},
            "paths": {"data_root": str(tmp_path)},
            "network": {"osm_files": ["names.osm.pbf"]},
            "walking": {"speed_kmh": 3.6, "snap_max_m": 30},
            "analysis": {"thresholds_min": [2], "circle_minutes": 2},
            "facilities": [{"type": "canteen", "path": "f.csv"}]}


def test_study_area_from_osm_name(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pbf = _extract(tmp_path)
    cfg = config_from_dict(_raw(tmp_path, osm_name="测试街道", osm_admin_level=8),
                           base_dir=tmp_path)
    cut = osm.StudyCut.of(cfg)
    assert cut.is_set and cut.osm_name == "测试街道" and cut.osm_admin_level == 8
    assert cut.setting == 'study_area.osm_name = "测试街道"'
    with caplog.at_level("INFO", logger="geoplan"):
        assert osm.configured_boundary(cfg.network, cut).equals(relation_polygon((pbf,), 77))
    # the log says which relation the name picked
    assert "study area: relation 77 测试街道 (admin_level 8)" in caplog.text
    by_id = config_from_dict(_raw(tmp_path, osm_relation=77), base_dir=tmp_path)
    a = osm.read_tables(cfg.network, cut)
    b = osm.read_tables(by_id.network, osm.StudyCut.of(by_id))
    assert a.node_id.tolist() == b.node_id.tolist() and 13 not in set(a.node_id.tolist())
    assert osm.StudyCut.of(by_id).cache_key() != cut.cache_key()
    assert shapely.equals(osm.clip_area(cfg.network, cut),
                          osm.clip_area(by_id.network, osm.StudyCut.of(by_id)))


@pytest.mark.parametrize(("study", "network", "match"), [
    ({"osm_name": "测试街道", "osm_admin_level": 8, "osm_relation": 77}, None,
     "set only one of study_area.boundary, osm_relation or osm_name (found osm_name and "
     "osm_relation)"),
    ({"osm_name": "测试街道", "osm_admin_level": 8, "boundary": "b.geojson"}, None,
     "(found osm_name and boundary)"),
    ({"osm_name": "测试街道"}, None, "study_area.osm_name needs study_area.osm_admin_level"),
    ({"osm_admin_level": 8}, None, "study_area.osm_admin_level goes with study_area.osm_name"),
    ({"osm_name": "  ", "osm_admin_level": 8}, None, "study_area.osm_name is empty"),
    ({"osm_name": "测试街道", "osm_admin_level": 8}, {"place": "杨浦区"},
     "study_area.osm_name takes the study boundary from local osm_files"),
    ({"osm_name": "测试街道", "osm_admin_level": 0}, None,
     "study_area.osm_admin_level = 0"),
    ({"osm_name": "测试街道", "osm_admin_level": 12}, None,
     "study_area.osm_admin_level = 12"),
])
def test_osm_name_settings_checked(tmp_path: Path, study: dict[str, Any],
                                   network: dict[str, Any] | None, match: str) -> None:
    _extract(tmp_path)
    (tmp_path / "b.geojson").write_text("{}", encoding="utf-8")
    raw = _raw(tmp_path, **study)
    if network is not None:
        raw["network"] = network
    with pytest.raises(ConfigError) as ei:
        config_from_dict(raw, base_dir=tmp_path)
    assert match in str(ei.value) and "\n" not in str(ei.value)


def test_cli_unknown_name_is_one_line(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from geoplan.cli import main

    _extract(tmp_path)
    (tmp_path / "f.csv").write_text("name,lon,lat\nA,121.6,31.3\n", encoding="utf-8")
    out = tmp_path / "out"
    (tmp_path / "c.toml").write_text(f"""
[study_area]
name = "byname"
osm_name = "大桥街道"
osm_admin_level = 8

[paths]
data_root = "{tmp_path.as_posix()}"

[network]
osm_files = ["names.osm.pbf"]

[analysis]
thresholds_min = [2]
circle_minutes = 2

[[facilities]]
type = "canteen"
path = "f.csv"

[output]
dir = "{(out / 'd').as_posix()}"
maps_dir = "{(out / 'm').as_posix()}"
cache_dir = "{(out / 'c').as_posix()}"
""", encoding="utf-8")
    code = main(["run", str(tmp_path / "c.toml")])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "geoplan: error:" in ln]
    assert code != 0 and len(lines) == 1 and "Traceback" not in err, err
    assert 'study_area.osm_name = "大桥街道"' in lines[0] and "测试街道" in lines[0]
    written = [p for p in out.rglob("*") if p.is_file() and "c" not in p.parts] \
        if out.exists() else []
    assert written == []
