"""Bad numbers and bad shapes in the config and on the command line (issue 12 kind 1).

Every numeric field of every config model is walked: NaN, infinity, a value below its
range and one above it must each raise a one-line ConfigError naming the setting, before
any work starts. A new numeric field without a range makes these tests fail. Inputs are
built in ``tmp_path``; no demo data is needed.
"""

from __future__ import annotations

import copy
import inspect
import math
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import geoplan.config as config_module
from geoplan.cli import build_parser, main
from geoplan.config import (
    NUMERIC_RANGES,
    Config,
    config_from_dict,
    numeric_fields,
    range_of,
)
from geoplan.errors import ConfigError

# Where each config model sits in the TOML document: a path of keys; an int is a
# position in an array of tables.
SECTIONS: dict[str, tuple[Any, ...]] = {
    "StudyArea": ("study_area",),
    "NetworkSource": ("network",),
    "WalkingProfile": ("walking",),
    "Analysis": ("analysis",),
    "Areas": ("areas",),
    "Population": ("population",),
    "Standards": ("standards",),
    "ReportedStock": ("standards", "reported"),
    "Accessibility": ("accessibility",),
    "GapIndex": ("gap_index",),
    "Scenario": ("scenarios", 0),
    "Candidates": ("scenarios", 0, "candidates"),
    "TypeCount": ("scenarios", 1, "plans", 0),
    "Link1N": ("scenarios", 1, "link"),
    "FacilityLayer": ("facilities", 0),
    "Join": ("joins", 0),
    "Output": ("output",),
}
# The setting name printed in messages for each path.
WHERE = {"Scenario": "scenarios[0]", "Candidates": "scenarios[0].candidates",
         "TypeCount": "scenarios[1].plans[0]", "Link1N": "scenarios[1].link",
         "ReportedStock": "standards.reported", "FacilityLayer": "facilities[0]",
         "Join": "joins[0]"}
# Tuple fields need a list of this length.
TUPLE_LEN = {("NetworkSource", "bbox"): 4}


def _config_classes() -> list[type]:
    return [c for _, c in inspect.getmembers(config_module, inspect.isclass)
            if issubclass(c, BaseModel) and c.__module__ == config_module.__name__
            and c not in (Config, config_module.ConfigFile) and c.model_fields]


def _raw(tmp_path: Path) -> dict[str, Any]:
    """A valid config touching every section, with placeholder input files."""
    (tmp_path / "net.osm").write_text("<osm/>", encoding="utf-8")
    (tmp_path / "fac.csv").write_text("name,lon,lat\nA,121.5,31.28\n", encoding="utf-8")
    out = tmp_path / "out"
    return {
        "study_area": {"name": "t"},
        "paths": {"data_root": str(tmp_path)},
        "network": {"osm_files": ["net.osm"]},
        "walking": {}, "analysis": {}, "areas": {}, "population": {"share_60": 0.2},
        "facilities": [{"type": "canteen", "path": "fac.csv"},
                       {"type": "day_care", "path": "fac.csv", "label": "dc"}],
        "joins": [{"layer": "dc", "path": "fac.csv", "name_column": "name",
                   "columns": ["lon"]}],
        "output": {"dir": str(out / "d"), "maps_dir": str(out / "m"),
                   "cache_dir": str(out / "c")},
        "standards": {"reported": {}},
        "accessibility": {},
        "gap_index": {},
        "scenarios": [
            {"name": "a", "model": "mclp", "type": "canteen", "new": 2,
             "candidates": {"grid_m": 200.0}},
            {"name": "b", "model": "multi", "candidates": {"clusters": 5},
             "plans": [{"type": "day_care", "new": 1}, {"type": "canteen", "new": 2}],
             "link": {"station": "canteen", "centre": "day_care"}},
        ],
    }


def _set(raw: dict[str, Any], cls: str, name: str, value: Any) -> dict[str, Any]:
    raw = copy.deepcopy(raw)
    node: Any = raw
    for key in SECTIONS[cls]:
        node = node[key]
    n = TUPLE_LEN.get((cls, name), 1 if name in _tuple_fields(cls) else 0)
    if n:
        good = {"NetworkSource": [121.49, 31.28, 121.50, 31.29]}.get(cls, [1.0] * n)
        node[name] = [value, *good[1:n]]
        if cls == "NetworkSource":
            raw["network"].pop("osm_files")
    else:
        node[name] = value
    return raw


def _tuple_fields(cls_name: str) -> set[str]:
    cls = getattr(config_module, cls_name)
    return {name for name, f in cls.model_fields.items()
            if "tuple" in str(f.annotation)}


def _load(raw: dict[str, Any], tmp_path: Path) -> Config:
    return config_from_dict(raw, base_dir=tmp_path)


def _cases() -> list[tuple[str, str, str]]:
    out = []
    for cls in _config_classes():
        for name in numeric_fields(cls):
            for kind in ("nan", "inf", "-inf", "below", "above"):
                out.append((cls.__name__, name, kind))
    return out


def test_every_numeric_field_has_a_range_and_a_place() -> None:
    classes = _config_classes()
    assert len(classes) >= 15
    fields = [(c.__name__, n) for c in classes for n in numeric_fields(c)]
    assert len(fields) >= 49
    for cls_name, name in fields:
        assert (cls_name, name) in NUMERIC_RANGES, f"{cls_name}.{name} has no range"
        assert cls_name in SECTIONS, f"{cls_name} is not placed in the test config"
        r = NUMERIC_RANGES[(cls_name, name)]
        assert math.isfinite(r.lo) and math.isfinite(r.hi) and r.lo < r.hi
    assert set(NUMERIC_RANGES) == set(fields)  # no stale entries


def test_baseline_config_loads(tmp_path: Path) -> None:
    cfg = _load(_raw(tmp_path), tmp_path)
    assert [s.name for s in cfg.scenarios] == ["a", "b"]
    assert cfg.standards is not None and cfg.accessibility is not None


@pytest.mark.parametrize(("cls_name", "name", "kind"), _cases())
def test_bad_number_names_the_setting(tmp_path: Path, cls_name: str, name: str,
                                      kind: str) -> None:
    cls = getattr(config_module, cls_name)
    rng = range_of(cls, name)
    integer = int in (typing_args := _hint_args(cls, name)) and float not in typing_args
    value: Any = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf,
                  "below": rng.lo - 1, "above": rng.hi + 1}[kind]
    if integer and kind in ("below", "above"):
        value = int(value)
    raw = _set(_raw(tmp_path), cls_name, name, value)
    with pytest.raises(ConfigError) as info:
        _load(raw, tmp_path)
    msg = str(info.value)
    where = WHERE.get(cls_name, SECTIONS[cls_name][0])
    key = f"{where}.{name}"
    assert "\n" not in msg
    assert key in msg, msg
    if integer and kind in ("nan", "inf", "-inf"):
        assert "expected a whole number" in msg
    else:
        assert rng.text() in msg, msg  # says what to give


def _hint_args(cls: type, name: str) -> set[Any]:
    import typing

    def flat(tp: Any) -> set[Any]:
        args = typing.get_args(tp)
        return {tp} if not args else set().union(*(flat(a) for a in args))

    return flat(typing.get_type_hints(cls)[name])


@pytest.mark.parametrize(("section", "key", "literal", "expect"), [
    ("population", "m2_per_resident", "nan", "population.m2_per_resident = nan"),
    ("walking", "steps_factor", "nan", "walking.steps_factor = nan"),
    ("population", "default_levels", "inf", "population.default_levels = inf"),
    ("analysis", "walk_in_m", "-40", "analysis.walk_in_m = -40 must not be negative"),
    ("walking", "snap_max_m", "nan", "walking.snap_max_m = nan"),
    ("areas", "grid_size_m", "inf", "areas.grid_size_m = inf"),
    ("accessibility", "per", "nan", "accessibility.per = nan"),
    ("gap_index", "access", "nan", "gap_index.access = nan"),
    ("analysis", "thresholds_min", "[5, nan, 15]", "analysis.thresholds_min[1] = nan"),
])
def test_toml_nan_inf_literals(tmp_path: Path, section: str, key: str, literal: str,
                               expect: str, capsys: pytest.CaptureFixture[str]) -> None:
    # The examples of the issue, written as TOML (which accepts nan and inf) and run
    # through the CLI: one line, exit 2, nothing written.
    (tmp_path / "net.osm").write_text("<osm/>", encoding="utf-8")
    (tmp_path / "fac.csv").write_text("name,lon,lat\nA,121.5,31.28\n", encoding="utf-8")
    out = tmp_path / "out"
    sections = {"population": "share_60 = 0.2\n",
                "output": f'dir = "{out}"\nmaps_dir = "{out}/m"\ncache_dir = "{out}/c"\n'}
    sections[section] = sections.get(section, "") + f"{key} = {literal}\n"
    text = (f'[study_area]\nname = "t"\n[paths]\ndata_root = "{tmp_path}"\n'
            '[network]\nosm_files = ["net.osm"]\n'
            '[[facilities]]\ntype = "canteen"\npath = "fac.csv"\n'
            + "".join(f"[{k}]\n{v}" for k, v in sections.items()))
    cfg = tmp_path / "c.toml"
    cfg.write_text(text, encoding="utf-8")
    code = main(["run", str(cfg)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert expect in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("edit", "expect"), [
    ({"output": "out"}, "output = 'out' is a value, but [output] is a section"),
    ({"walking": 3.6}, "[walking] is a section"),
    ({"study_area": "t"}, "[study_area] is a section"),
    ({"standards": True}, "[standards] is a section"),
    ({"facilities": {"type": "canteen", "path": "fac.csv"}},
     "facilities must be an array of tables: write [[facilities]]"),
    ({"facilities": ["fac.csv"]}, "write [[facilities]]"),
    ({"scenarios": "a"}, "write [[scenarios]]"),
])
def test_value_where_a_table_is_expected(tmp_path: Path, edit: dict[str, Any],
                                         expect: str) -> None:
    raw = _raw(tmp_path)
    raw.update(edit)
    with pytest.raises(ConfigError) as info:
        _load(raw, tmp_path)
    assert expect in str(info.value)


@pytest.mark.parametrize(("path", "value", "expect"), [
    (("scenarios", 0, "candidates"), 200, "[scenarios[0].candidates] must be a table"),
    (("standards", "reported"), 100, "[standards.reported] must be a table"),
    (("scenarios", 1, "link"), "canteen", "[scenarios[1].link] must be a table"),
    (("walking", "speed_kmh"), {"value": 3.6}, "walking.speed_kmh: expected a number"),
    (("facilities", 0, "path"), {"file": "x"}, "facilities[0].path: expected a file path"),
])
def test_table_value_mixups_inside_sections(tmp_path: Path, path: tuple[Any, ...],
                                            value: Any, expect: str) -> None:
    raw = _raw(tmp_path)
    node: Any = raw
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    with pytest.raises(ConfigError) as info:
        _load(raw, tmp_path)
    assert expect in str(info.value)


def test_unknown_epsg_code_caught_at_load_naming_the_layer(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    raw["facilities"][1]["crs"] = "EPSG:99999"
    with pytest.raises(ConfigError, match=r"facilities\[1\]\.crs = 'EPSG:99999' is not a "
                                          "known EPSG code"):
        _load(raw, tmp_path)
    raw = _raw(tmp_path)
    raw["scenarios"][0]["candidates"]["crs"] = "epsg:123456"
    with pytest.raises(ConfigError, match=r"candidates\.crs = 'epsg:123456' is not a known"):
        _load(raw, tmp_path)
    raw["scenarios"][0]["candidates"]["crs"] = "EPSG:32651"  # a real one passes
    assert _load(raw, tmp_path).scenarios[0].candidates.crs == "EPSG:32651"


def test_folder_given_as_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "facilities").mkdir()
    raw = _raw(tmp_path)
    raw["facilities"][0]["path"] = "facilities"
    with pytest.raises(ConfigError, match=r"facilities\[0\]\.path: .*facilities is a folder, "
                                          "not a file; give the path of the file inside it"):
        _load(raw, tmp_path)
    raw = _raw(tmp_path)
    raw["paths"]["data_root"] = str(tmp_path / "fac.csv")  # a file where a folder is meant
    with pytest.raises(ConfigError, match=r"paths\.data_root: .*fac\.csv is a file, not a "
                                          "folder"):
        _load(raw, tmp_path)
    # the config itself given as a folder
    assert main(["run", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a folder, not a config file" in err


# ------------------------------------------------------------------ command line

def _numeric_options() -> list[tuple[str, str]]:
    """(subcommand, option) for every option parsed as a number, found in the parser."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.choices and "run" in a.choices)
    out = []
    for cmd, p in sub.choices.items():
        for action in p._actions:
            if action.type is not None and getattr(action.type, "__name__", "") in (
                    "number", "whole number", "float", "int"):
                out.append((cmd, action.option_strings[-1]))
    return out


def test_every_numeric_option_has_a_checked_type() -> None:
    opts = _numeric_options()
    assert ("site", "--time-limit") in opts and ("standards", "--elderly") in opts
    parser = build_parser()
    sub = next(a for a in parser._actions if a.choices and "run" in a.choices)
    for cmd, p in sub.choices.items():
        for action in p._actions:
            assert action.type not in (float, int), (
                f"geoplan {cmd} {action.option_strings}: a bare float/int type lets nan and "
                "inf through; use cli._number")


@pytest.mark.parametrize(("cmd", "option"), _numeric_options())
@pytest.mark.parametrize("value", ["nan", "inf", "-5", "1e12", "abc"])
def test_bad_numeric_option(tmp_path: Path, cmd: str, option: str, value: str,
                            capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("", encoding="utf-8")
    argv = [cmd, str(cfg), f"{option}={value}"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("geoplan: error:")
    assert f"argument {option}" in lines[0]
    assert "give a value in" in lines[0]


@pytest.mark.parametrize(("argv", "expect"), [
    (["--time-limit", "0"], "--time-limit: 0 must be positive: give a value in (0, "),
    (["--cutoff", "1e9"], "more than 120 min is not a walking catchment"),
    (["--target", "1.5"], "--target: 1.5 is too large: give a value in (0, 1]"),
    (["--new", "2.5"], "'2.5' is not a whole number"),
])
def test_site_option_examples(tmp_path: Path, argv: list[str], expect: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["site", str(tmp_path / "c.toml"), *argv]) == 2
    assert expect in capsys.readouterr().err


def test_mip_gap_outside_0_1(tmp_path: Path) -> None:
    for gap in (1.0, -0.1, math.nan):
        raw = _raw(tmp_path)
        raw["scenarios"][0]["mip_gap"] = gap
        with pytest.raises(ConfigError, match=r"scenarios\[0\]\.mip_gap = .* \[0, 1\)"):
            _load(raw, tmp_path)


def test_overrides_checked_before_the_network_build(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # --target on an mclp scenario is accepted by the option's range but the scenario
    # check (and an unknown --scenario) must stop the run before analyse() is called.
    import geoplan.workflows.coverage

    def boom(*a: Any, **k: Any) -> None:
        raise AssertionError("analyse() called before the options were checked")

    monkeypatch.setattr(geoplan.workflows.coverage, "analyse", boom)
    raw = _raw(tmp_path)
    cfg_text = _to_toml(raw)
    cfg = tmp_path / "c.toml"
    cfg.write_text(cfg_text, encoding="utf-8")
    assert main(["site", str(cfg), "--scenario", "nope"]) == 2
    err = capsys.readouterr().err
    assert "--scenario nope: no scenario of that name" in err and err.count("\n") == 1
    assert main(["site", str(cfg), "--scenario", "a", "--model", "cmclp"]) == 2
    assert "needs capacity" in capsys.readouterr().err


def _to_toml(raw: dict[str, Any]) -> str:
    """A tiny TOML writer for the nested dicts of these tests (no tomli_w dependency)."""
    def val(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + "}"
        return repr(v)

    return "\n".join(f"{k} = {val(v)}" for k, v in raw.items()) + "\n"


# ------------------------------------------------------------------ standards profiles

PROFILE = """
[profile]
id = "mine"
name_zh = "自定义"
name_en = "Custom"
[[standards]]
id = "seats"
kind = "@KIND@"
name_zh = "助餐座位"
name_en = "Canteen seats"
metric = "capacity"
types = ["canteen"]
unit_zh = "个"
unit_en = "seats"
source = "test"
@EXTRA@
"""


def test_every_numeric_profile_key_has_a_range() -> None:
    from geoplan.analysis.standards import PROFILE_RANGES, Standard

    assert set(numeric_fields(Standard)) == set(PROFILE_RANGES)


@pytest.mark.parametrize(("kind", "extra", "key"), [
    ("per_elderly", "rate = nan\nper = 100", "rate"),
    ("per_elderly", "rate = inf\nper = 100", "rate"),
    ("per_elderly", "rate = -2\nper = 100", "rate"),
    ("per_elderly", "rate = 2\nper = nan", "per"),
    ("per_elderly", "rate = 2\nper = inf", "per"),
    ("per_elderly", "rate = 2\nper = 100\nfilter_min_floor_area_m2 = nan",
     "filter_min_floor_area_m2"),
    ("per_elderly", "rate = 2\nper = 100\nfilter_min_floor_area_m2 = -1",
     "filter_min_floor_area_m2"),
    ("min_count", "count = 0", "count"),
    ("min_count", "count = 1e400", "count"),
    ("per_committees", "committees_per_facility = [4, 100000]", "committees_per_facility"),
])
def test_profile_numbers_checked(tmp_path: Path, kind: str, extra: str, key: str) -> None:
    from geoplan.analysis.standards import load_profile

    p = tmp_path / "mine.toml"
    p.write_text(PROFILE.replace("@KIND@", kind).replace("@EXTRA@", extra), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_profile(p)
    msg = str(info.value)
    assert "\n" not in msg and f"standards[0].{key}" in msg and "mine.toml" in msg


def test_profile_folder_given_as_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    assert main(["standards", "--profile", str(tmp_path), "--elderly", "1000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a folder, not a file" in err


def test_pipe_and_dangling_link_given_as_input_file(tmp_path: Path) -> None:
    """A named pipe or a broken link where a data file is expected: said as such, not
    'file not found' (the path exists)."""
    raw = _raw(tmp_path)
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    raw["facilities"][0]["path"] = "pipe.csv"
    with pytest.raises(ConfigError, match="is not a regular file"):
        _load(raw, tmp_path)
    link = tmp_path / "gone.csv"
    link.symlink_to(tmp_path / "nowhere.csv")
    raw["facilities"][0]["path"] = "gone.csv"
    with pytest.raises(ConfigError, match="is a link to a file that does not exist"):
        _load(raw, tmp_path)


def test_whole_float_is_a_whole_number(tmp_path: Path) -> None:
    """TOML writes 1e4 as a float: a whole value counts as a whole number, and the range
    check then speaks (not 'expected a whole number, got 1000000000.0')."""
    raw = _set(_raw(tmp_path), "Candidates", "clusters", 1e9)
    with pytest.raises(ConfigError) as info:
        _load(raw, tmp_path)
    assert "whole number" not in str(info.value) and "clusters" in str(info.value)
