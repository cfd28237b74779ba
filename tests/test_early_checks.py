"""Setting mistakes found before any work: output.map_score, facility and areas columns."""

from __future__ import annotations

from pathlib import Path

import pytest

import geoplan.workflows.coverage as coverage
from geoplan.cli import main
from geoplan.config import load_config
from geoplan.workflows.mapscore import SCORE_NAMES_SHOWN, score_columns
from tests.smallcase import write_case


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records any network build (none must happen for a setting mistake)."""
    calls: list[int] = []

    def record(*args: object, **kwargs: object) -> None:
        calls.append(1)
        raise RuntimeError("the network was built")

    monkeypatch.setattr(coverage, "prepare_network", record)
    return calls


def _case(tmp_path: Path, old: str, new: str) -> Path:
    cfg = write_case(tmp_path)
    text = cfg.read_text(encoding="utf-8")
    assert old in text
    cfg.write_text(text.replace(old, new, 1), encoding="utf-8")
    return cfg


def _one_line_error(capsys: pytest.CaptureFixture[str], rc: int) -> str:
    assert rc == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    return err.strip()


@pytest.mark.parametrize("score", ["nonexistent_col", "circle_shre", "canteen_share_15x"])
def test_bad_map_score_is_one_short_line_in_config_and_before_the_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], no_network: list[int],
        score: str) -> None:
    cfg = _case(tmp_path, "static_map = false", f'static_map = false\nmap_score = "{score}"')
    for cmd in ("config", "run", "report"):
        err = _one_line_error(capsys, main([cmd, str(cfg)]))
        assert f"output.map_score = '{score}'" in err and len(err) < 600
        names = err.split("use one of: ", 1)[1].split(", ")
        assert "circle_share" in names and "gap_rank" in names
        assert names[-1].startswith("...") and len(names) == SCORE_NAMES_SHOWN + 1
        lengths = [len(n) for n in names[:-1]]
        assert lengths == sorted(lengths)  # shortest first
    assert no_network == []
    assert not (tmp_path / "out" / "data").exists()


@pytest.mark.parametrize("score", ["canteen_share_10", "canteen_p90_min", "gap_rank",
                                   "uncovered_60"])
def test_valid_map_scores_pass_config(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      score: str) -> None:
    cfg = _case(tmp_path, "static_map = false", f'static_map = false\nmap_score = "{score}"')
    assert main(["config", str(cfg)]) == 0
    assert "valid" in capsys.readouterr().out
    assert score in score_columns(load_config(cfg))


def test_score_columns_follow_the_config(tmp_path: Path) -> None:
    cfg = _case(tmp_path, "static_map = false",
                'static_map = false\n[analysis]\nthresholds_min = [7.5, 20]\n'
                '[accessibility]\nmethods = ["2sfca", "e2sfca_step"]')
    cols = score_columns(load_config(cfg))
    assert {"canteen_share_7.5", "canteen_share_20", "canteen_share_15",
            "acc_canteen_2sfca", "acc_canteen_count_2sfca"} <= set(cols)
    assert "canteen_share_10" not in cols


def test_produced_columns_are_all_predicted(tmp_path: Path) -> None:
    """Every numeric area column of a real run is accepted by the early check, so no valid
    setting is refused before the run."""
    import pandas as pd

    from geoplan.workflows.mapscore import check_map_score

    cfg = _case(tmp_path, "[[facilities]]", '[accessibility]\nmethods = ["2sfca", "e2sfca_step"]\n'
                '[[facilities]]')
    c = load_config(cfg)
    res = coverage.analyse(c)
    numeric = [col for col in res.areas.columns if col != "geometry"
               and pd.api.types.is_numeric_dtype(res.areas[col])]
    assert len(numeric) > 15
    from geoplan.config import replace
    for col in numeric:
        check_map_score(replace(c, output=replace(c.output, "output", map_score=col)))


def test_wrong_facility_column_before_the_network(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], no_network: list[int]) -> None:
    cfg = _case(tmp_path, 'x = "lon"', 'x = "lng"')
    err = _one_line_error(capsys, main(["run", str(cfg)]))
    assert "fac.csv" in err and "'lng'" in err and "lon" in err and "lat" in err
    assert "facilities[0].x" in err
    assert no_network == []


@pytest.mark.parametrize("key", ["elderly60_column", "code_column"])
def test_wrong_areas_column_before_the_network(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], no_network: list[int],
        key: str) -> None:
    old = 'elderly60_column = "e60"'
    new = 'elderly60_column = "e_60"' if key == "elderly60_column" else \
        old + '\ncode_column = "adcode"'
    cfg = _case(tmp_path, old, new)
    err = _one_line_error(capsys, main(["run", str(cfg)]))
    wrong = "e_60" if key == "elderly60_column" else "adcode"
    assert "areas.geojson" in err and f"'{wrong}'" in err and f"areas.{key}" in err
    assert "columns are: code, name, e60, e80" in err
    assert no_network == []
