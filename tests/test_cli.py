"""CLI surface: help texts, fetch, and the language switch."""

from __future__ import annotations

from pathlib import Path

import pytest

from geoplan.cli import main
from tests.test_cli_errors import make_config


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["fetch", "--help"]])
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: geoplan" in out


def test_fetch_caches_network(tmp_path: Path, demo_dir: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    cfg = make_config(tmp_path, demo_dir)
    assert main(["fetch", str(cfg), "-q"]) == 0
    assert "prepared and cached" in capsys.readouterr().out
    assert list((tmp_path / "out" / "cache").glob("walknet-*.pkl"))
    assert main(["fetch", str(cfg), "-q"]) == 0
    assert "already cached" in capsys.readouterr().out


def test_run_in_english(tmp_path: Path, demo_dir: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    # Tongji-Siping extract with the canteens of the whole district: none lies inside,
    # so use the larger Wujiaochang extract here.
    cfg = make_config(tmp_path, demo_dir, OSM='"osm/wujiaochang-fudan.osm"')
    assert main(["run", str(cfg), "--lang", "en", "-q"]) == 0
    out = capsys.readouterr().out
    assert "reach every required service within 15 min" in out
    csv = next((tmp_path / "out" / "data").glob("*-areas.csv"))
    cols = pd.read_csv(csv, encoding="utf-8-sig", nrows=1).columns
    assert any("within 15 min" in c for c in cols)
    assert not any("分钟" in c for c in cols)
