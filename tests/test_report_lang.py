"""The Chinese report is Chinese: method notes and ledger labels have no English sentences.

The small synthetic case (tests/smallcase.py) with accessibility and standards sections is
run and reported in zh and en; every note of the method section (HTML and Word) and every
cell of the ledger table is searched for runs of English words (tests/langcheck.py). The
same check on the English report must find them, so it cannot pass vacuously.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from docx import Document

from geoplan.cli import main
from geoplan.notes import Note, note_text
from tests.langcheck import english_runs
from tests.smallcase import write_case

EXTRA = """[standards]
profile = "shanghai-yangpu-2016"
elderly_total = 1700
[accessibility]
methods = ["2sfca", "e2sfca_step", "e2sfca_gaussian"]

[[facilities]]"""


def _html_method(page: str, heading: str) -> list[str]:
    m = re.search(rf"<h2>[^<]*{heading}</h2><ul>(.*?)</ul>", page, re.S)
    assert m, heading
    return [html.unescape(re.sub(r"<[^>]+>", "", li))
            for li in re.findall(r"<li>(.*?)</li>", m.group(1), re.S)]


def _html_ledger(page: str, stage: str) -> list[str]:
    tables = [t for t in re.findall(r"<table>.*?</table>", page, re.S) if f">{stage}<" in t]
    assert len(tables) == 1
    return [html.unescape(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tables[0], re.S)]


def _docx_method(path: Path, heading: str) -> list[str]:
    doc = Document(str(path))
    out: list[str] = []
    inside = False
    for p in doc.paragraphs:
        if p.style.name.startswith("Heading"):
            inside = heading in p.text
            continue
        if inside and p.text.strip():
            out.append(p.text)
    return out


def _docx_ledger(path: Path, stage: str) -> list[str]:
    doc = Document(str(path))
    tables = [t for t in doc.tables if stage in [c.text for c in t.rows[0].cells]]
    assert len(tables) == 1
    return [c.text for row in tables[0].rows for c in row.cells]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[str]]]:
    folder = tmp_path_factory.mktemp("lang")
    cfg = write_case(folder)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("[[facilities]]", EXTRA, 1),
                   encoding="utf-8")
    assert main(["run", str(cfg), "-q"]) == 0
    data = folder / "out" / "data"
    out: dict[str, dict[str, list[str]]] = {}
    for lang, heading, stage in (("zh", "方法与数据来源", "环节"),
                                 ("en", "Method and data sources", "Stage")):
        assert main(["report", str(cfg), "-q", "--lang", lang]) == 0
        page = (data / "small-report.html").read_text(encoding="utf-8")
        docx = data / "small-report.docx"
        out[lang] = {"html_method": _html_method(page, heading),
                     "html_ledger": _html_ledger(page, stage),
                     "docx_method": _docx_method(docx, heading),
                     "docx_ledger": _docx_ledger(docx, stage)}
    return out


@pytest.mark.parametrize("part", ["html_method", "html_ledger", "docx_method", "docx_ledger"])
def test_zh_report_has_no_english_sentences(reports: dict[str, dict[str, list[str]]],
                                            part: str) -> None:
    texts = reports["zh"][part]
    joined = "\n".join(texts)
    if part.endswith("method"):
        # the notes of this case are all there (sensitivity, accessibility, supply,
        # standards, estimate source), so the check below has something to check
        assert len(texts) >= 10
        for key in ("步行速度敏感性", "可达性", "配建标准", "老年人口基数", "老年人口估算来源",
                    "所有设施均缺少容量"):
            assert key in joined, key
    else:
        for key in ("分析区域", "覆盖计算", "设施", "读取记录", "纳入覆盖计算"):
            assert key in texts or key in joined, key
        assert not {"demand", "coverage", "facilities", "areas"} & set(texts)
    bad = [run for t in texts for run in english_runs(t)]
    assert not bad, bad


@pytest.mark.parametrize("part", ["html_method", "docx_method"])
def test_en_report_is_caught_by_the_same_check(reports: dict[str, dict[str, list[str]]],
                                               part: str) -> None:
    """The English report fails the check: it finds English sentences where there are."""
    texts = reports["en"][part]
    assert len(texts) == len(reports["zh"][part])
    assert sum(bool(english_runs(t)) for t in texts) >= len(texts) - 2
    assert any("Walking-speed sensitivity" in t for t in texts)


def test_english_runs() -> None:
    assert english_runs("Walking-speed sensitivity: 1.2 %–12.6 % of older residents reach")
    assert english_runs("步行速度：of older residents reach every required service")
    for ok in ('设置 areas.source = "compounds+grid" 可将其计入', "e2sfca_step：分段",
               "地图 © OpenStreetMap contributors（ODbL 1.0）", "yangpu_canteens_2024.csv",
               "C:/data/my big file.csv", "shanghai-yangpu-2016 — 上海"):
        assert not english_runs(ok), ok


def test_note_keeps_english_for_logs_and_pickles() -> None:
    import pickle

    n = Note("3 rows left out", "3行未纳入")
    assert n == "3 rows left out" and f"{n}" == "3 rows left out"
    assert note_text(n, "zh") == "3行未纳入" and note_text(n, "en") == "3 rows left out"
    assert note_text("plain", "zh") == "plain"
    back = pickle.loads(pickle.dumps([n]))[0]
    assert isinstance(back, Note) and back.zh == "3行未纳入"


@pytest.mark.parametrize("missing,values", [("median", [5.0, None, 7.0]),
                                            ("count", [5.0, None, 7.0]),
                                            ("count", [None, None, None])])
def test_supply_notes_have_both_languages(missing: str, values: list) -> None:
    import pandas as pd

    from geoplan.analysis.accessibility import supply_vector

    fac = pd.DataFrame({"name": ["a", "b", "c"], "capacity": values})
    _, note, _ = supply_vector(fac, "capacity", missing, "canteen")
    assert isinstance(note, Note)
    assert "canteen" in note and "长者食堂" in note.text("zh")
    assert english_runs(note.text("zh")) == [] and english_runs(note.text("en")) != []


def test_issue_details_are_shown_in_the_table_language() -> None:
    import geopandas as gpd
    import shapely

    from geoplan.outputs.labels import label_frame
    from geoplan.sources.facilities import FacilityLoad, move_to_issues

    pts = gpd.GeoDataFrame({"source_row": [2, 3], "name": ["a", "b"], "layer": ["L", "L"],
                            "fid": ["f1", "f2"]},
                           geometry=[shapely.Point(121.5, 31.3)] * 2, crs=4326)
    load = FacilityLoad(pts, gpd.pd.DataFrame(), {"L": "x.csv"}, gpd.pd.DataFrame())
    far = Note("900 m from the nearest walkable way (limit 250 m); check the location",
               "距最近的可步行道路900米（上限250米）；请核对位置")
    out = move_to_issues(load, [True, False], "far_from_network", [far], action="kept")
    zh = label_frame(out.issues, "zh")
    en = label_frame(out.issues, "en")
    assert zh["详情"].tolist() == [far.zh] and en["Detail"].tolist() == [str(far)]


@pytest.mark.parametrize("kwargs,en", [({"share_60": 0.2}, "60+: config share; 80+: 16 % of 60+"),
                                       ({"share_60": 0.2, "share_80": 0.05}, "config")])
def test_estimate_source_has_both_languages(kwargs: dict, en: str) -> None:
    from geoplan.config import Population
    from geoplan.sources.population import elderly_shares

    src = elderly_shares(Population(**kwargs)).source
    assert src == en and note_text(src, "en") == en
    assert "配置文件" in note_text(src, "zh") and english_runs(note_text(src, "zh")) == []
