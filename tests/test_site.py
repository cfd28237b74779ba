"""`geoplan site` end to end on the real demo data, and its bad-input messages."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pyogrio
import pytest

from geoplan.cli import main
from tests.test_cli_errors import make_config

REPO = Path(__file__).resolve().parents[1]


def demo_config(demo_dir: Path, out: Path) -> Path:
    """The example config with the demo data and outputs under ``out``."""
    text = (REPO / "examples" / "yangpu-wujiaochang.toml").read_text(encoding="utf-8")
    text = text.replace("${GEOPLAN_DATA:-../../shared/data/yangpu-demo}", str(demo_dir))
    text = text.replace('[output]\nlang = "zh"',
                        f'[output]\nlang = "zh"\ndir = "{out}/data"\nmaps_dir = "{out}/maps"\n'
                        f'cache_dir = "{out}/cache"')
    cfg = out / "demo.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


@pytest.fixture(scope="module")
def site_run(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    cfg = demo_config(demo_dir, out)
    assert main(["site", str(cfg), "--scenario", "canteens-7", "--scenario", "stations-95",
                 "-q"]) == 0
    return out


def test_mclp_outputs(site_run: Path) -> None:
    gpkg = site_run / "data" / "siting" / "yangpu-wujiaochang-site-canteens-7.gpkg"
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert {"proposed_sites", "catchments", "areas", "coverage_curve", "candidates",
            "scenario"} <= layers
    sites = gpd.read_file(gpkg, layer="proposed_sites")
    assert list(sites["rank"]) == list(range(1, 8))
    assert np.all(np.diff(sites["marginal"].to_numpy()) <= 1e-6)
    areas = gpd.read_file(gpkg, layer="areas")
    scen = gpd.read_file(gpkg, layer="scenario")
    gained = areas["covered_after"].sum() - areas["covered_before"].sum()
    assert gained == pytest.approx(scen["objective"].iloc[0], rel=1e-6)
    assert gained == pytest.approx(sites["marginal"].sum(), rel=1e-6)
    assert (areas["covered_after"] >= areas["covered_before"] - 1e-9).all()
    assert scen["status"].iloc[0] == "optimal"
    # new canteens are never proposed at an existing one
    fac = gpd.read_file(site_run / "data" / "siting" /
                        "yangpu-wujiaochang-site-canteens-7.gpkg", layer="candidates")
    assert len(fac) >= 7
    curve = gpd.read_file(gpkg, layer="coverage_curve")
    assert np.all(np.diff(curve["share"].to_numpy()) >= -1e-12)
    wb = openpyxl.load_workbook(gpkg.with_suffix(".xlsx"), read_only=True)
    assert {"建议选址", "覆盖曲线", "区域前后对比", "候选点", "说明"} <= set(wb.sheetnames)
    html = (site_run / "maps" / "yangpu-wujiaochang-site-canteens-7.html").read_text("utf-8")
    esc = [json.dumps(t)[1:-1] for t in ("建议新增", "规划后")]  # layer names are JSON-escaped
    assert "建议顺序" in html and all(e in html for e in esc)
    assert html.count("L.divIcon") >= 7
    for ext in ("png", "pdf"):  # print map with the proposed sites
        assert (site_run / "maps" / f"yangpu-wujiaochang-site-canteens-7.{ext}").stat().st_size


def test_lscp_reaches_target(site_run: Path) -> None:
    gpkg = site_run / "data" / "siting" / "yangpu-wujiaochang-site-stations-95.gpkg"
    scen = gpd.read_file(gpkg, layer="scenario")
    assert scen["share"].iloc[0] >= 0.95 - 1e-9
    sites = gpd.read_file(gpkg, layer="proposed_sites")
    assert len(sites) == scen["objective"].iloc[0]
    assert scen["status"].iloc[0] == "optimal"


def test_command_line_override(demo_dir: Path, tmp_path: Path) -> None:
    cfg = demo_config(demo_dir, tmp_path)
    assert main(["site", str(cfg), "--scenario", "canteens-7", "--new", "3", "-q"]) == 0
    sites = gpd.read_file(tmp_path / "data" / "siting" /
                          "yangpu-wujiaochang-site-canteens-7.gpkg", layer="proposed_sites")
    assert len(sites) == 3


SCEN = """
[[scenarios]]
name = "s"
model = "@MODEL@"
type = "canteen"
new = @NEW@
@EXTRA@
[scenarios.candidates]
@CAND@
"""


def _site_config(tmp_path: Path, demo_dir: Path, model: str = "mclp", new: int = 2,
                 extra: str = "", cand: str = "grid_m = 300") -> Path:
    cfg = make_config(tmp_path, demo_dir)
    text = SCEN.replace("@MODEL@", model).replace("@NEW@", str(new)).replace(
        "@EXTRA@", extra).replace("@CAND@", cand)
    cfg.write_text(cfg.read_text(encoding="utf-8") + text, encoding="utf-8")
    return cfg


def _bad(cfg: Path, capsys: pytest.CaptureFixture[str], match: str) -> None:
    code = main(["site", str(cfg), "-q"])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "geoplan: error:" in ln]
    assert code != 0 and len(lines) == 1, err
    assert "Traceback" not in err
    assert match in lines[0], lines[0]
    out = cfg.parent / "out"
    written = [p for p in out.rglob("*") if p.is_file() and "cache" not in p.parts] \
        if out.exists() else []
    assert written == [], written


def _cands(tmp_path: Path, rows: list[tuple[float, float]]) -> Path:
    p = tmp_path / "cands.csv"
    p.write_text("name,lon,lat\n" + "".join(f"c{i},{x},{y}\n" for i, (x, y) in
                                            enumerate(rows)), encoding="utf-8")
    return p


def test_more_sites_than_candidates(tmp_path, demo_dir, capsys):
    f = _cands(tmp_path, [(121.4950, 31.2850), (121.5000, 31.2830)])
    cfg = _site_config(tmp_path, demo_dir, new=5, cand=f'file = "{f}"')
    _bad(cfg, capsys, "only 2 candidate sites")


def test_candidate_file_outside_study_area(tmp_path, demo_dir, capsys):
    f = _cands(tmp_path, [(120.1, 30.2), (120.2, 30.3)])
    cfg = _site_config(tmp_path, demo_dir, cand=f'file = "{f}"')
    _bad(cfg, capsys, "none of the 2 candidate sites lies in the study area")


def test_capacity_below_one_person(tmp_path, demo_dir, capsys):
    cfg = _site_config(tmp_path, demo_dir, model="cmclp", extra="capacity = 0.5")
    _bad(cfg, capsys, "below one person")


def test_no_candidate_reaches_uncovered_demand(tmp_path, demo_dir, capsys):
    cfg = _site_config(tmp_path, demo_dir, extra="cutoff_min = 0.05")
    _bad(cfg, capsys, "no candidate site reaches any older resident")


def test_unknown_model(tmp_path, demo_dir, capsys):
    cfg = _site_config(tmp_path, demo_dir, model="mlcp")
    _bad(cfg, capsys, "model = 'mlcp'")


def test_unreachable_target_says_best_share(tmp_path, demo_dir, capsys):
    f = _cands(tmp_path, [(121.4950, 31.2850)])
    cfg = _site_config(tmp_path, demo_dir, model="lscp", extra="target = 1.0\ncutoff_min = 5",
                       cand=f'file = "{f}"')
    assert main(["site", str(cfg), "-q"]) == 0
    out = capsys.readouterr().out
    assert "cannot be reached: the best achievable share is" in out


def test_spacing_that_makes_the_target_unreachable_is_infeasible(tmp_path, demo_dir, capsys):
    """A spacing rule no two candidates satisfy: the status says infeasible and names the
    rule and the best share, instead of 'time limit reached'."""
    cfg = _site_config(tmp_path, demo_dir, model="lscp",
                       extra="target = 0.95\nmin_spacing_m = 20000")
    assert main(["site", str(cfg), "-q"]) == 0
    out = capsys.readouterr().out
    assert "status infeasible" in out, out
    assert "min_spacing_m" in out and "best achievable share" in out
    assert "time limit" not in out
    gpkg = next((tmp_path / "out").rglob("*-site-*.gpkg"))
    scen = gpd.read_file(gpkg, layer="scenario")
    assert scen["status"].iloc[0] == "infeasible"
    assert "min_spacing_m" in scen["limited_by"].iloc[0]
    assert 0 < scen["best_share"].iloc[0] < 0.95
    assert len(gpd.read_file(gpkg, layer="proposed_sites")) == 1
    # the coverage curve obeys the spacing rule too: never above the best achievable share
    curve = gpd.read_file(gpkg, layer="coverage_curve")
    assert curve["share"].max() <= scen["best_share"].iloc[0] + 1e-9


def test_bad_solver_time_limit_is_one_line_error(tmp_path, demo_dir, capsys):
    cfg = _site_config(tmp_path, demo_dir)
    for bad in ("0", "-3", "nan"):
        code = main(["site", str(cfg), "--time-limit", bad, "-q"])
        err = capsys.readouterr().err
        assert code != 0 and "Traceback" not in err
        assert "time" in err.lower()


def test_equity_scenarios_end_to_end(tmp_path, demo_dir, capsys):
    """MCLP, weighted MCLP and maximin with the same p, and area floors, on the demo: each
    reports the smallest area share, the share below the floor and the Gini before/after."""
    out = tmp_path
    cfg = demo_config(demo_dir, out)
    extra = ""
    for name, body in (("eq-mclp", 'model = "mclp"\nnew = 3'),
                       ("eq-wmclp", 'model = "wmclp"\nnew = 3\nequity_weight = 2.0'),
                       ("eq-maximin", 'model = "maximin"\nnew = 3'),
                       ("eq-floors", 'model = "floors"\nfloor = 0.3')):
        extra += (f'\n[[scenarios]]\nname = "{name}"\ntype = "canteen"\ncutoff_min = 15\n'
                  f'{body}\n[scenarios.candidates]\ngrid_m = 400\n')
    cfg.write_text(cfg.read_text(encoding="utf-8") + extra, encoding="utf-8")
    args = ["site", str(cfg), "-q"]
    for name in ("eq-mclp", "eq-wmclp", "eq-maximin", "eq-floors"):
        args += ["--scenario", name]
    assert main(args) == 0
    rows = {}
    for name in ("eq-mclp", "eq-wmclp", "eq-maximin", "eq-floors"):
        gpkg = out / "data" / "siting" / f"yangpu-wujiaochang-site-{name}.gpkg"
        scen = gpd.read_file(gpkg, layer="scenario").iloc[0]
        rows[name] = scen
        assert scen["status"] in ("optimal", "time_limit", "heuristic")
        assert bool(scen["verified"])
        for k in ("min_area_share", "areas_below_floor", "gini"):
            assert np.isfinite(scen[f"{k}_before"]) and np.isfinite(scen[f"{k}_after"])
        assert scen["min_area_share_after"] >= scen["min_area_share_before"] - 1e-12
    page = (out / "maps" / "yangpu-wujiaochang-site-eq-maximin.html").read_text(
        encoding="utf-8")
    assert "公平性（规划前→后）" in page and "基尼系数" in page
    # maximin maximises the smallest share; MCLP the total
    assert rows["eq-maximin"]["min_area_share_after"] >= \
        rows["eq-mclp"]["min_area_share_after"] - 1e-9
    assert rows["eq-mclp"]["share_after"] >= rows["eq-wmclp"]["share_after"] - 1e-9
    assert rows["eq-floors"]["areas_below_floor_after"] <= \
        rows["eq-floors"]["areas_below_floor_before"]
    print("\n" + "\n".join(
        f"{n}: covered {r['share_before']:.3f}->{r['share_after']:.3f}; min area "
        f"{r['min_area_share_before']:.3f}->{r['min_area_share_after']:.3f}; gini "
        f"{r['gini_before']:.3f}->{r['gini_after']:.3f}; sites {r['new_sites']}"
        for n, r in rows.items()), file=__import__("sys").stderr)
