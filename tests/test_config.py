"""Config loading and validation: each bad setting gives a one-line ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from geoplan.config import load_config
from geoplan.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "yangpu-wujiaochang.toml"


def _write(tmp_path: Path, text: str, data_root: Path) -> Path:
    p = tmp_path / "c.toml"
    p.write_text(text.replace("@ROOT@", str(data_root)), encoding="utf-8")
    return p


BASE = """
[study_area]
name = "t"
[paths]
data_root = "@ROOT@"
[network]
osm_files = ["osm/tongji-siping.osm"]
[[facilities]]
type = "canteen"
path = "facilities/yangpu_elder_canteens_2024_gcj02.csv"
x = "lon_gcj02"
y = "lat_gcj02"
crs = "gcj02"
[population]
census_file = "census/district_elderly_2020.csv"
district_code = "310110"
"""


def test_example_config_loads(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOPLAN_DATA", str(demo_dir))
    cfg = load_config(EXAMPLE)
    assert cfg.walking.speed_kmh == 3.6
    assert cfg.analysis.thresholds_min == (5.0, 10.0, 15.0)
    assert cfg.facility_types == ("canteen", "care_home", "day_care", "community_org",
                                  "care_centre", "nursing_station", "nursing_hospital")
    assert cfg.analysis.required_types == ("canteen", "day_care", "care_centre",
                                           "community_org")
    assert [layer.district_column for layer in cfg.facilities] == [None, None, None,
                                                                   "district"]
    assert cfg.joins[0].layer == cfg.facilities[2].label
    assert all(p.is_file() for p in cfg.network.osm_files)
    assert cfg.facilities[1].has_coordinates is False
    assert cfg.output.dir == Path.cwd() / "data/processed/yangpu-wujiaochang"


def test_defaults(demo_dir: Path, tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, BASE, demo_dir))
    assert cfg.walking.speed_mps == pytest.approx(1.0)
    assert cfg.analysis.circle_minutes == 15
    assert "steps" in cfg.walking.walkable_highways
    assert "motorway" not in cfg.walking.walkable_highways


@pytest.mark.parametrize(("edit", "message"), [
    (("[study_area]", "[study_area]\ncolour = 1"), "unknown key 'colour'"),
    (("[network]", "[netwrok]\n[network]"), "unknown section [netwrok]"),
    (('type = "canteen"', 'type = "cantine"'), "not a known facility type"),
    (('type = "canteen"', 'type = "canteen"\ncrs = "mars"'), None),  # duplicate key: TOML error
    (('crs = "gcj02"', 'crs = "mars"'), "use wgs84, gcj02, bd09"),
    (("osm/tongji-siping.osm", "osm/missing.osm"), "file not found"),
    (("[population]", "[walking]\nspeed_kmh = \"slow\"\n[population]"), "expected a number"),
    (("[population]", "[walking]\nspeed_kmh = 40\n[population]"), "implausible"),
    (("[population]", "[analysis]\nthresholds_min = 15\n[population]"), "expected a list"),
    (("[population]", "[analysis]\nrequired_types = [\"day_care\"]\n[population]"),
     "no [[facilities]] layer has that type"),
    (('name = "t"', 'name = "t t"'), "use letters, digits"),
    (('[network]\nosm_files = ["osm/tongji-siping.osm"]', '[network]\nosm_files = []'),
     "set exactly one of"),
])
def test_bad_settings(demo_dir: Path, tmp_path: Path, edit: tuple[str, str],
                      message: str | None) -> None:
    text = BASE.replace(edit[0], edit[1], 1)
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text, demo_dir))
    msg = str(info.value)
    assert "\n" not in msg
    if message:
        assert message in msg


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_env_default_and_override(demo_dir: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    text = BASE.replace('"@ROOT@"', '"${GEOPLAN_TEST_ROOT:-@ROOT@}"')
    monkeypatch.delenv("GEOPLAN_TEST_ROOT", raising=False)
    cfg = load_config(_write(tmp_path, text, demo_dir))
    assert cfg.data_root == demo_dir.resolve()
    monkeypatch.setenv("GEOPLAN_TEST_ROOT", str(tmp_path / "elsewhere"))
    with pytest.raises(ConfigError, match="folder not found"):
        load_config(_write(tmp_path, text, demo_dir))


def test_symlinked_data_folder_compares_resolved(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A data folder reached through a symbolic link (e.g. ``../shared`` linked elsewhere):
    data_root and every input path under it are the resolved paths, however written."""
    real = tmp_path / "disk" / "shared" / "data"
    inputs = ("osm/tongji-siping.osm", "facilities/yangpu_elder_canteens_2024_gcj02.csv",
              "census/district_elderly_2020.csv")
    for rel in inputs:
        (real / rel).parent.mkdir(parents=True, exist_ok=True)
        (real / rel).write_text("x", encoding="utf-8")
    # the census table is read when the config loads (its district must exist)
    (real / inputs[2]).write_text("adcode,district,pop_total,pop_60plus,pop_80plus\n"
                                  "310110,杨浦区,1242548,394927,62574\n", encoding="utf-8")
    (tmp_path / "shared").symlink_to(tmp_path / "disk" / "shared", target_is_directory=True)
    examples = tmp_path / "geoplan" / "examples"
    examples.mkdir(parents=True)
    linked = tmp_path / "shared" / "data"
    assert linked.is_dir() and linked != linked.resolve()
    monkeypatch.delenv("GEOPLAN_TEST_ROOT", raising=False)
    for root in (str(linked), "../../shared/data", "${GEOPLAN_TEST_ROOT:-../../shared/data}"):
        cfg = load_config(_write(examples, BASE.replace("@ROOT@", root), linked))
        assert cfg.data_root == real.resolve(), root
        assert cfg.network.osm_files[0] == real.resolve() / inputs[0]
        assert cfg.facilities[0].path == real.resolve() / inputs[1]
        assert cfg.facilities[0].path.is_relative_to(cfg.data_root)
    monkeypatch.setenv("GEOPLAN_TEST_ROOT", str(linked))
    cfg = load_config(_write(examples, BASE.replace('"@ROOT@"', '"${GEOPLAN_TEST_ROOT}"'),
                             linked))
    assert cfg.data_root == real.resolve()
