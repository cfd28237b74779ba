"""Warm-run start-up: heavy modules imported only where they are used, same results."""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from geoplan.outputs.classbreaks import score_at_percentile

REPO = Path(__file__).resolve().parents[1]


def _python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout.strip().splitlines()[-1]


def test_score_at_percentile_is_scipys_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    for t in range(400):
        n = int(rng.integers(1, 80))
        a = rng.gamma(2.0, 3.0, n) if t % 3 else rng.integers(0, 4, n).astype(float)
        if t % 5 == 0:
            a = a.astype(np.float32)
        if t % 7 == 0:
            a = rng.integers(-5, 50, n)
        k = int(rng.integers(2, 10))
        w = 100.0 / k
        pcts = np.arange(w, 100 + w, w)
        pcts[-1] = min(pcts[-1], 100.0)
        for p in [*pcts.tolist(), 0, 100, float(rng.uniform(0, 100))]:
            ours, theirs = score_at_percentile(a, p), scipy.stats.scoreatpercentile(a, p)
            assert type(ours) is type(theirs) and np.array_equal(ours, theirs), (a, p)
    assert np.isnan(score_at_percentile([], 50))
    # anything but a flat array at one percentile is SciPy's own
    assert np.allclose(score_at_percentile([1.0, 2.0, 3.0], [10, 50]), [1.2, 2.0])
    assert score_at_percentile([1.0, 2.0, 9.0], 50, limit=(0, 5)) == 1.5
    with pytest.raises(ValueError, match="range"):
        score_at_percentile([1.0], 101)


_BINS = """
import json, sys
import numpy as np
{imp}
rng = np.random.default_rng(11)
out = []
for t in range(60):
    v = rng.gamma(1.5, 2.0, int(rng.integers(8, 300)))
    if t % 4 == 0:
        v = np.round(v)  # many ties: mapclassify lowers k itself
    for k in (3, 5, 7):
        out.append(mc.Quantiles(v, k=k).bins.tolist())
        if np.unique(v).size >= k:
            out.append(mc.FisherJenks(v, k=k).bins.tolist())
heavy = [m for m in ("sklearn", "scipy.stats", "matplotlib") if m in sys.modules]
print(json.dumps([[[float(x).hex() for x in b] for b in out], heavy]))
"""


def test_mapclassify_imports_light_and_classifies_as_the_plain_package() -> None:
    light = json.loads(_python(_BINS.format(
        imp="from geoplan.outputs.classbreaks import mapclassify\nmc = mapclassify()")))
    plain = json.loads(_python(_BINS.format(imp="import mapclassify as mc")))
    assert light[0] == plain[0]
    assert light[1] == [], light[1]  # neither scikit-learn nor SciPy's stats nor matplotlib
    assert set(plain[1]) == {"sklearn", "scipy.stats", "matplotlib"}


def test_mapclassify_natural_breaks_still_gets_scikit_learn() -> None:
    out = _python("""
        import sys
        import numpy as np
        from geoplan.outputs.classbreaks import mapclassify
        mc = mapclassify()
        assert "sklearn" not in sys.modules
        nb = mc.NaturalBreaks(np.arange(40, dtype=float) ** 2, k=4, initial=2)
        print(nb.k, "sklearn" in sys.modules)
    """)
    assert out == "4 True"


def test_geopackage_synced_once_before_it_is_moved_into_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import geopandas as gpd
    import pandas as pd
    import pyogrio
    from shapely.geometry import Point

    from geoplan.outputs import gpkg

    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(gpkg.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(gpkg.os, "replace",
                        lambda a, b: (events.append("replace"), real_replace(a, b)))
    pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": "NORMAL"})
    try:
        pts = gpd.GeoDataFrame({"name": ["甲", "乙"]}, geometry=[Point(0, 0), Point(1, 1)],
                               crs=4326)
        out = tmp_path / "x.gpkg"
        gpkg.write_geopackage(out, {"points": pts, "table": pd.DataFrame({"n": [1, 2]}),
                                    "also": pts})
        # SQLite skips its per-transaction syncs while writing; the finished file is
        # synced once, then moved into place
        assert events == ["fsync", "replace"]
        assert pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS") == "NORMAL"
        assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") is None
    finally:
        pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": None})
    assert sorted(pyogrio.list_layers(out)[:, 0]) == ["also", "points", "table"]
    assert gpd.read_file(out, layer="points")["name"].tolist() == ["甲", "乙"]


def test_pdf_font_subsets_cached_and_the_pdf_unchanged(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.backends import _backend_pdf_ps

    from geoplan.outputs.staticmap import build_static_map, save_static_map
    from tests.test_outputs import _areas, _facilities, _iso_by_type

    fig = build_static_map(_areas(), _facilities(), _iso_by_type(), lang="zh",
                           title="杨浦区 15分钟养老服务圈（测试）")
    cuts = []
    real = _backend_pdf_ps.get_glyphs_subset
    monkeypatch.setattr(_backend_pdf_ps, "get_glyphs_subset",
                        lambda f, g: (cuts.append(f), real(f, g))[1])
    cache = tmp_path / "cache" / "pdf-fonts"
    plain, cold, warm = (tmp_path / f"{n}.pdf" for n in ("plain", "cold", "warm"))
    save_static_map(fig, [plain])
    n_fonts = len(cuts)
    assert n_fonts >= 1  # the CJK font (and DejaVu for Latin text)
    save_static_map(fig, [cold], font_cache=cache)
    assert len(cuts) == 2 * n_fonts and len(list(cache.glob("pdffont-*.json"))) == n_fonts
    save_static_map(fig, [warm], font_cache=cache)
    assert len(cuts) == 2 * n_fonts  # every subset came from the cache
    assert plain.read_bytes() == cold.read_bytes() == warm.read_bytes()
    assert _backend_pdf_ps.get_glyphs_subset.__name__ == "<lambda>"  # put back after saving
    # an unreadable cache entry is cut again and rewritten
    for f in cache.glob("pdffont-*.json"):
        f.write_text("{", encoding="ascii")
    save_static_map(fig, [warm], font_cache=cache)
    assert len(cuts) == 3 * n_fonts and plain.read_bytes() == warm.read_bytes()


@pytest.mark.parametrize("source", [
    "", "\n", "plain", "line\n", "two\n\n", "a\r\nb\rc\n", "var x = {a: {b: 1}};\n",
    "}} and %} and #} alone", "中文 ‘quotes’ \\u4e2d\n  \n", "{ {x} }", "tail\r\n"])
def test_plain_element_text_renders_as_jinja2_does(source: str) -> None:
    import jinja2

    from geoplan.outputs.htmlrender import PlainText, element_template

    assert isinstance(element_template(source), PlainText)
    assert element_template(source).render(this=None, kwargs={}) == \
        jinja2.Template(source).render(this=None, kwargs={})


def test_text_with_jinja2_syntax_is_still_a_template() -> None:
    import jinja2

    from geoplan.outputs.htmlrender import element_template

    for source in ("{{ 1 + 1 }}", "{% if true %}y{% endif %}", "a{# note #}b"):
        t = element_template(source)
        assert isinstance(t, jinja2.Template)
        assert t.render() == jinja2.Template(source).render()


def test_map_page_the_same_with_plain_element_text(monkeypatch: pytest.MonkeyPatch) -> None:
    from geoplan.outputs import htmlrender
    from geoplan.outputs.webmap import map_html
    from tests.test_offline import _map

    fast = map_html(_map(), offline=False)

    @contextlib.contextmanager
    def unchanged() -> Iterator[None]:
        yield

    monkeypatch.setattr(htmlrender, "plain_element_text", unchanged)
    assert map_html(_map(), offline=False) == fast
    import branca.element
    import jinja2

    assert branca.element.Template is jinja2.Template  # put back after rendering


def test_workflow_modules_import_no_solver_learner_or_map_library() -> None:
    out = _python("""
        import sys
        import geoplan.workflows.coverage, geoplan.workflows.siting, geoplan.siting.equity
        import geoplan.siting.pmedian, geoplan.siting.capacitated, geoplan.siting.multitype
        from geoplan.siting.highs import INF
        heavy = ("highspy", "sklearn", "scipy.stats", "folium", "branca", "matplotlib",
                 "mapclassify", "osmnx", "networkx", "docx", "dask", "openpyxl")
        print(INF == float("inf"), [m for m in heavy if m in sys.modules])
    """)
    assert out == "True []"


def test_highs_infinity_is_highspys() -> None:
    import highspy

    from geoplan.siting.highs import INF

    assert INF == highspy.kHighsInf


def test_warm_run_imports_only_what_it_uses(tmp_path: Path) -> None:
    from tests.smallcase import write_case

    cfg = write_case(tmp_path)
    code = textwrap.dedent("""
        import sys
        from geoplan.cli import main
        rc = main(["run", "-q", sys.argv[1]])
        unused = ("osmnx", "networkx", "highspy", "sklearn", "scipy.stats", "docx", "dask",
                  "distributed")
        print("UNUSED:" + " ".join(m for m in unused if m in sys.modules))
        sys.exit(rc)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO), "GEOPLAN_PROGRESS": "0"}
    runs = [subprocess.run([sys.executable, "-c", code, str(cfg)], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=600, check=False)
            for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr[-3000:]
    # the first run builds the network with osmnx; the warm one reads it from the cache, and
    # neither siting's solver and clustering nor the Word report or Dask are loaded
    assert runs[1].stdout.splitlines()[-1] == "UNUSED:", runs[1].stdout[-500:]


def test_bench_startup_sums_top_level_imports_and_ranks_packages() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_startup",
                                                  REPO / "scripts" / "bench_startup.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    err = "\n".join([
        "import time: self [us] | cumulative | imported package",
        "import time:       100 |        100 |     numpy.core",
        "import time:       400 |        500 |   numpy",
        "import time:      2000 |       2500 | pandas",
        "import time:       300 |        300 |   matplotlib.figure",
        "import time:      1000 |       1300 | matplotlib",
        "some other line",
    ])
    total, top = bench.import_costs(err)
    assert total == pytest.approx(0.0038)  # pandas 2.5 ms + matplotlib 1.3 ms (top level)
    assert top == [(pytest.approx(0.002), "pandas"), (pytest.approx(0.0013), "matplotlib"),
                   (pytest.approx(0.0005), "numpy")]
    assert bench.load_average() >= 0 or math.isnan(bench.load_average())
