"""The documented config: models with a description on every setting, docs/config.md
generated from them and current, `geoplan config --schema` (JSON Schema for TOML editors),
`geoplan config CONFIG`, and the same one-line errors from a TOML file and from an API dict.
Inputs are built in ``tmp_path``; no demo data is needed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

import geoplan.config as config_module
from geoplan import Study
from geoplan.cli import main
from geoplan.config import NUMERIC_RANGES, ConfigFile, load_config, replace
from geoplan.configdocs import reference_markdown, tables, undocumented
from geoplan.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]


def test_every_setting_has_a_description() -> None:
    missing = undocumented()
    assert not missing, f"settings without a description: {', '.join(missing)}"
    assert len(tables()) >= 16


def test_a_setting_without_a_description_is_named() -> None:
    # the check itself: a model with an undocumented key is caught, naming table and key
    class Inner(config_module._Section):
        told: int = Field(1, description="documented")
        bare: str = ""

    class Top(config_module._Section):
        inner: Inner = Field(default_factory=Inner, description="a table")
        rows: tuple[Inner, ...] = ()

    assert undocumented(Top) == ["Top.rows", "inner.bare", "rows.bare"]


def test_docs_config_md_is_current() -> None:
    path = REPO / "docs" / "config.md"
    assert path.is_file(), "docs/config.md is missing: run python scripts/gen_config_docs.py"
    assert path.read_text(encoding="utf-8") == reference_markdown(), (
        "docs/config.md is stale: run python scripts/gen_config_docs.py")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "(docs/config.md)" in readme


def test_docs_schema_file_is_current_and_named_by_the_example(
        capsys: pytest.CaptureFixture[str]) -> None:
    path = REPO / "docs" / "config.schema.json"
    assert path.is_file(), "run python scripts/gen_config_docs.py"
    assert json.loads(path.read_text(encoding="utf-8")) == _schema(capsys), (
        "docs/config.schema.json is stale: run python scripts/gen_config_docs.py")
    first = (REPO / "examples" / "yangpu-wujiaochang.toml").read_text("utf-8").splitlines()[0]
    assert first == "#:schema ../docs/config.schema.json"


def test_reference_lists_every_key_with_unit_and_range() -> None:
    text = reference_markdown()
    for header, model in tables():
        assert f"## `{header}`" in text
        for name in model.model_fields:
            assert f"| `{name}` |" in text, f"{header} {name}"
    assert "| `speed_kmh` | number | 3.6 | km/h | [0.5, 10] |" in text
    assert "| `thresholds_min` | list of numbers | [5, 10, 15] | min | each (0, 120] |" in text
    assert '| `lang` | text | "zh" |  | one of "zh", "en" |' in text
    assert '`dir` | path | "data/processed/&lt;study_area.name&gt;"' in text


def _schema(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["config", "--schema"]) == 0
    out = capsys.readouterr().out
    return json.loads(out)


def test_schema_has_descriptions_ranges_and_units(capsys: pytest.CaptureFixture[str]) -> None:
    schema = _schema(capsys)
    assert schema["required"] == ["study_area", "facilities"]
    assert set(schema["properties"]) == set(ConfigFile.model_fields)
    for name, model in schema["$defs"].items():
        assert model.get("additionalProperties") is False, name  # unknown keys flagged
        for key, prop in model["properties"].items():
            assert prop.get("description"), f"{name}.{key}"
            assert prop["title"] == key
            assert not any(o == {"type": "null"} for o in prop.get("anyOf", [])), key
    speed = schema["$defs"]["WalkingProfile"]["properties"]["speed_kmh"]
    assert (speed["minimum"], speed["maximum"], speed["default"]) == (0.5, 10, 3.6)
    assert speed["unit"] == "km/h" and "Unit: km/h" in speed["description"]
    target = schema["$defs"]["Scenario"]["properties"]["target"]
    assert target["exclusiveMinimum"] == 0 and target["maximum"] == 1
    model = schema["$defs"]["Scenario"]["properties"]["model"]
    assert "mclp" in model["enum"]
    assert "dir" not in schema["$defs"]["Output"].get("required", [])
    # every numeric setting carries its range into the schema
    for cls, key in NUMERIC_RANGES:
        prop = schema["$defs"][cls]["properties"][key]
        text = json.dumps(prop)
        assert "inimum" in text and "aximum" in text, (cls, key)


def test_schema_knows_every_key_of_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    schema = _schema(capsys)
    raw = tomllib.loads((REPO / "examples" / "yangpu-wujiaochang.toml").read_text("utf-8"))

    def walk(data: Any, node: dict[str, Any], where: str) -> None:
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].split("/")[-1]]
        if isinstance(data, list):
            for i, item in enumerate(data):
                walk(item, node["items"], f"{where}[{i}]")
            return
        if isinstance(data, dict) and "properties" in node:
            for key, value in data.items():
                assert key in node["properties"], f"{where}.{key} not in the schema"
                walk(value, node["properties"][key], f"{where}.{key}")

    walk(raw, schema, "")


def test_config_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _write(tmp_path, BASE)
    assert main(["config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "study area t" in out and "canteen" in out
    bad = _write(tmp_path, BASE.replace("speed_kmh = 3.6", "speed_kmh = 36"))
    assert main(["config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "walking.speed_kmh = 36 is too large" in err
    assert main(["config"]) == 2
    assert "--schema" in capsys.readouterr().err
    assert main(["config", "--reference"]) == 0
    assert capsys.readouterr().out == reference_markdown()


def test_help_does_not_import_pydantic() -> None:
    code = ("import sys; from geoplan.cli import build_parser; build_parser(); "
            "print(any(m.startswith('pydantic') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


# ------------------------------------------------------------------ TOML and API: one rule

BASE = """
[study_area]
name = "t"
[paths]
data_root = "@ROOT@"
[network]
osm_files = ["net.osm"]
[walking]
speed_kmh = 3.6
[[facilities]]
type = "canteen"
path = "fac.csv"
[population]
share_60 = 0.2
[output]
dir = "@OUT@/d"
maps_dir = "@OUT@/m"
cache_dir = "@OUT@/c"
[[scenarios]]
name = "a"
model = "mclp"
type = "canteen"
new = 2
[scenarios.candidates]
grid_m = 200.0
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "net.osm").write_text("<osm/>", encoding="utf-8")
    (tmp_path / "fac.csv").write_text("name,lon,lat\nA,121.5,31.28\n", encoding="utf-8")
    p = tmp_path / "c.toml"
    p.write_text(text.replace("@ROOT@", tmp_path.as_posix())
                 .replace("@OUT@", (tmp_path / "out").as_posix()), encoding="utf-8")
    return p


@pytest.mark.parametrize(("old", "new", "expect"), [
    ("speed_kmh = 3.6", "speedkmh = 3.6", "[walking] unknown key 'speedkmh'; allowed keys: "
                                          "speed_kmh, speed_80_kmh"),
    ("speed_kmh = 3.6", 'speed_kmh = "fast"', "walking.speed_kmh: expected a number, got "
                                              "'fast'"),
    ("speed_kmh = 3.6", "speed_kmh = true", "walking.speed_kmh: expected a number, got True"),
    ("speed_kmh = 3.6", "speed_kmh = nan", "walking.speed_kmh = nan is not a number: give a "
                                           "value in [0.5, 10]"),
    ("new = 2", "new = 2.5", "scenarios[0].new: expected a whole number, got 2.5"),
    ("new = 2", "new = -3", "scenarios[0].new = -3 must not be negative: give a value in "
                            "[0, 10000]"),
    ("grid_m = 200.0", "grid_m = 200.0\nsize = 3",
     "[scenarios[0].candidates] unknown key 'size'; allowed keys: file, x, y"),
    ("grid_m = 200.0", 'grid_m = "200"', "scenarios[0].candidates.grid_m: expected a number"),
    ("[scenarios.candidates]\ngrid_m = 200.0", 'candidates = "grid"',
     "[scenarios[0].candidates] must be a table of settings, got str 'grid'"),
    ('new = 2', 'new = 2\nplans = "x"',
     "scenarios[0].plans must be an array of tables: [[scenarios.plans]]"),
    ('type = "canteen"\npath', 'type = ["canteen"]\npath',
     "facilities[0].type: expected text, got ['canteen']"),
    ('path = "fac.csv"', "path = 3", "facilities[0].path: expected a file path (text), got 3"),
    ("share_60 = 0.2", "share_60 = 0.2\nm2_per_resident = 0", "population.m2_per_resident = 0 "
                                                              "is too small"),
    ('osm_files = ["net.osm"]', 'osm_files = "net.osm"', "network.osm_files: expected a list, "
                                                         "got str 'net.osm'"),
    ("[output]", "[output]\nembed = 1", "output.embed: expected true or false, got 1"),
    ('[study_area]\nname = "t"', "[study_area]\nname = \"t\"\nosm_relation = 1.5",
     "study_area.osm_relation: expected a whole number, got 1.5"),
])
def test_api_dict_and_toml_give_the_same_line(tmp_path: Path, old: str, new: str,
                                              expect: str) -> None:
    assert old in BASE
    path = _write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(ConfigError) as from_toml:
        load_config(path)
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    with pytest.raises(ConfigError) as from_api:
        Study.from_dict(raw, base_dir=tmp_path)
    msg = str(from_toml.value)
    assert "\n" not in msg
    assert msg.startswith(expect), msg
    assert str(from_api.value) == msg


def test_api_dict_takes_python_values(tmp_path: Path) -> None:
    # tuples for lists and Path objects for paths work as in TOML (paths under data_root)
    raw = tomllib.loads(_write(tmp_path, BASE).read_text(encoding="utf-8"))
    raw["network"]["osm_files"] = (Path("net.osm"),)
    raw["facilities"] = ({"type": "canteen", "path": Path("fac.csv")},)
    raw["analysis"] = {"thresholds_min": (5, 10.0, 15)}
    cfg = Study.from_dict(raw, base_dir=tmp_path).config
    assert cfg.network.osm_files == (tmp_path.resolve() / "net.osm",)
    assert cfg.facilities[0].path == tmp_path.resolve() / "fac.csv"
    assert cfg.facilities[0].label == "fac"
    assert cfg.analysis.thresholds_min == (5, 10.0, 15)


def test_replace_validates_like_loading(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, BASE))
    assert replace(cfg.walking, "walking", speed_kmh=4.0).speed_kmh == 4.0
    with pytest.raises(ConfigError, match=r"^walking\.speed_kmh = 40 is too large"):
        replace(cfg.walking, "walking", speed_kmh=40)
    with pytest.raises(ConfigError, match=r"output\.basemap = 'google': use one of"):
        replace(cfg.output, "output", basemap="google")
    with pytest.raises(ConfigError, match=r"^\[walking\] unknown key 'pace'"):
        replace(cfg.walking, "walking", pace=3)
    with pytest.raises(Exception, match="frozen"):
        cfg.walking.speed_kmh = 5  # type: ignore[misc]
