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
