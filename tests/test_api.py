"""The public Python API: Study from a TOML file or a dict, Results as GeoDataFrames, a map."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import folium
import pytest

import geoplan
from geoplan import Results, Study
from geoplan.config import replace
from geoplan.errors import ConfigError
from tests.smallcase import write_case


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Study, Results, Path]:
    folder = tmp_path_factory.mktemp("api")
    study = Study.from_toml(write_case(folder))
    return study, study.run(), folder


def test_run_results_are_frames_and_the_ledger_balances(small) -> None:
    study, res, _ = small
    assert "Study small" in repr(study) and "Results small" in repr(res)
    assert len(res.areas) == 2 and res.summary["elderly_60"].iloc[0] > 0
    assert len(res.facilities) == 2 and len(res.isochrones) > 0
    led = res.ledger
    assert len(led) > 0
    assert "<table>" in res._repr_html_()


def test_map_is_a_folium_map_and_a_bad_score_is_one_line(small) -> None:
    _, res, _ = small
    m = res.map()
    assert isinstance(m, folium.Map)
    assert isinstance(res.map("circle_share"), folium.Map)
    with pytest.raises(ConfigError) as info:
        res.map("no_such_column")
    msg = str(info.value)
    assert "\n" not in msg and "score = 'no_such_column'" in msg and "circle_share" in msg


def test_write_gives_the_cli_outputs(small) -> None:
    _, res, _ = small
    paths = res.write()
    assert Path(paths["gpkg"]).is_file() and Path(paths["manifest"]).is_file()


def test_from_dict_errors_are_the_toml_errors(tmp_path: Path) -> None:
    base = {"study_area": {"name": "x"}, "paths": {"data_root": str(tmp_path)}}
    with pytest.raises(ConfigError, match="unknown section \\[nope\\]"):
        Study.from_dict({**base, "nope": {}}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"walking\.speed_kmh"):
        Study.from_dict({**base, "walking": {"speed_kmh": "fast"}}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="config mapping"):
        Study.from_dict(["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Study needs a geoplan Config"):
        Study({"study_area": {}})  # type: ignore[arg-type]


def test_public_names_and_a_light_import() -> None:
    assert set(geoplan.__all__) >= {"Study", "Results", "load_config", "config_from_dict"}
    code = ("import sys, geoplan; geoplan.__version__; "
            "print(any(m in sys.modules for m in ('geopandas', 'osmnx', 'folium')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
    with pytest.raises(AttributeError):
        geoplan.nothing_here  # noqa: B018


def test_inline_map_needs_no_cdn(small) -> None:
    """Jupyter shows ``_repr_html_`` (an iframe of the rendered page): no CDN links in it,
    as in the saved map; ``offline = false`` keeps folium's CDN links."""
    import dataclasses
    import html

    from geoplan.outputs.offline import external_references

    def shown_page(res: Results) -> str:
        shown = res.map()._repr_html_()
        assert "<iframe" in shown
        return html.unescape(shown.split('srcdoc="', 1)[1].split('" style=', 1)[0])

    _, res, folder = small
    page = shown_page(res)
    assert "L.map(" in page and external_references(page) == []
    saved = folder / "inline.html"
    res.map().save(str(saved))
    assert external_references(saved.read_text(encoding="utf-8")) == []
    cfg = res.run.config
    cdn = dataclasses.replace(res.run, config=replace(
        cfg, output=replace(cfg.output, "output", offline=False)))
    assert external_references(shown_page(Results(cdn))) != []


SCENARIO = """
[[scenarios]]
name = "c2"
model = "mclp"
type = "canteen"
new = 2
cutoff_min = 15
[scenarios.candidates]
clusters = 5
grid_m = 300
"""


def _study_with_scenario(folder: Path) -> Study:
    cfg = write_case(folder)
    cfg.write_text(cfg.read_text(encoding="utf-8") + SCENARIO, encoding="utf-8")
    return Study.from_toml(cfg)


@pytest.mark.parametrize("bad", [{"bogus": 1}, {"nwe": 5}, {"new": 3, "cutof_min": 10}])
def test_site_unknown_keyword_is_one_line_before_any_work(tmp_path: Path, bad: dict) -> None:
    study = _study_with_scenario(tmp_path)
    with pytest.raises(ConfigError) as info:
        study.site("c2", **bad)
    msg = str(info.value)
    wrong = next(k for k in bad if k not in ("new",))
    assert "\n" not in msg and f"'{wrong}'" in msg
    assert "allowed:" in msg and "new" in msg and "cutoff_min" in msg
    assert "keyword arguments of site()" in msg and "command-line" not in msg
    assert study._results is None  # nothing was run
    with pytest.raises(ConfigError) as info:  # all scenarios when none is named
        study.site(**bad)
    assert f"'{wrong}'" in str(info.value)


def test_site_bad_keyword_value_names_the_keywords_not_the_command_line(
        tmp_path: Path) -> None:
    study = _study_with_scenario(tmp_path)
    with pytest.raises(ConfigError) as info:
        study.site("c2", new=-1)
    msg = str(info.value)
    assert "\n" not in msg and "keyword arguments of site()" in msg
    assert "command-line" not in msg
    assert study._results is None


def test_cli_site_overrides_still_say_command_line() -> None:
    from geoplan.config import Candidates, Scenario
    from geoplan.workflows.siting import apply_overrides

    sc = Scenario(name="s", model="mclp", type="canteen", new=2,
                  candidates=Candidates(clusters=5))
    with pytest.raises(ConfigError, match="with command-line overrides"):
        apply_overrides(sc, new=-1)
    with pytest.raises(ConfigError, match="unknown setting 'bogus'"):
        apply_overrides(sc, bogus=1)
    assert apply_overrides(sc, new=None, model=None) is sc
    assert apply_overrides(sc, new=4).new == 4


@pytest.mark.parametrize("setting", ["dir", "maps_dir"])
def test_write_into_a_file_is_the_cli_one_line_error(small, tmp_path: Path,
                                                    setting: str) -> None:
    import dataclasses

    from geoplan.errors import GeoplanError

    _, res, _ = small
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    for target in (afile, afile / "sub"):  # the folder, or a parent of it, is a file
        cfg = res.run.config
        bad = Results(dataclasses.replace(res.run, config=replace(
            cfg, output=replace(cfg.output, "output", **{setting: target}))))
        with pytest.raises(GeoplanError) as info:
            bad.write()
        msg = str(info.value)
        assert "\n" not in msg and f"output.{setting}" in msg and "not a folder" in msg
        assert not isinstance(info.value, OSError)
    assert afile.read_text(encoding="utf-8") == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]  # nothing left behind


def test_run_and_report_check_the_output_folders_before_work(tmp_path: Path) -> None:
    from geoplan.errors import GeoplanError

    cfg = write_case(tmp_path / "case")
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    text = cfg.read_text(encoding="utf-8")
    out = (tmp_path / "case" / "out" / "data").as_posix()
    cfg.write_text(text.replace(f'dir = "{out}"', f'dir = "{afile.as_posix()}"'),
                   encoding="utf-8")
    study = Study.from_toml(cfg)
    with pytest.raises(GeoplanError, match=r"output\.dir = .*is a file, not a folder"):
        study.run(write=True)
    with pytest.raises(GeoplanError, match=r"output\.dir = .*is a file, not a folder"):
        study.report()
    assert study._results is None


def test_from_dict_takes_numpy_numbers_and_paths(tmp_path: Path) -> None:
    import numpy as np
    import tomllib

    cfg_path = write_case(tmp_path)
    raw = tomllib.loads(cfg_path.read_text(encoding="utf-8") + SCENARIO)
    raw["paths"] = {"data_root": tmp_path}  # pathlib.Path
    raw["network"]["osm_files"] = [tmp_path / "net.osm"]
    raw["areas"]["path"] = Path("areas.geojson")
    raw["output"]["dir"] = tmp_path / "o"
    raw["walking"] = {"speed_kmh": np.float64(4.0), "snap_max_m": np.int64(250)}
    raw["analysis"] = {"circle_minutes": np.int32(12)}
    raw["scenarios"][0]["new"] = np.int64(3)
    raw["output"]["static_map"] = np.bool_(False)
    study = Study.from_dict(raw, base_dir=tmp_path)
    c = study.config
    assert c.walking.speed_kmh == 4.0 and type(c.walking.speed_kmh) is float
    assert c.walking.snap_max_m == 250 and c.analysis.circle_minutes == 12
    assert c.scenarios[0].new == 3 and type(c.scenarios[0].new) is int
    assert c.network.osm_files[0] == tmp_path / "net.osm"
    assert c.areas.path == tmp_path / "areas.geojson" and c.output.dir == tmp_path / "o"
    assert c.output.static_map is False
    # still strict: text for a number, a fractional numpy number for a whole number
    for section, key, value in (("walking", "speed_kmh", np.str_("4.0")),
                                ("walking", "speed_kmh", "4.0"),
                                ("scenarios", "new", np.float64(2.5)),
                                ("walking", "speed_kmh", np.float64("nan"))):
        bad = {**raw, section: ([{**raw["scenarios"][0], key: value}] if section == "scenarios"
                                else {**raw[section], key: value})}
        with pytest.raises(ConfigError) as info:
            Study.from_dict(bad, base_dir=tmp_path)
        assert key in str(info.value) and "\n" not in str(info.value)
