"""Tag tables of the streamed OSM reader: missing tags as one shared NaN object."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from geoplan.sources.osm_read import NETWORK_WAY_TAGS, NODE_TAGS, read_osm
from tests.osmxml import write_osm


def test_missing_tags_are_one_shared_nan(tmp_path: Path) -> None:
    nodes = {1: (0, 0), 2: (100, 0), 3: (200, 0), 4: (200, 100)}
    ways = [(10, [1, 2, 3], {"highway": "residential", "name": "A路"}),
            (11, [3, 4], {"highway": "footway", "footway": "sidewalk"})]
    path = write_osm(tmp_path / "t.osm", nodes, ways,
                     node_tags={2: {"highway": "crossing"}, 4: {"crossing": "zebra"}})
    t = read_osm([path])
    wt = t.way_tags
    assert list(wt.columns) == list(NETWORK_WAY_TAGS)
    assert all(dt.kind == "O" for dt in wt.dtypes)
    assert wt["highway"].tolist() == ["residential", "footway"]
    assert wt["name"].tolist()[0] == "A路" and pd.isna(wt["name"].tolist()[1])
    assert wt["footway"].tolist()[1] == "sidewalk"
    missing = [x for col in wt for x in wt[col].tolist() if not isinstance(x, str)]
    # 2 ways x 17 keys, 4 present: every missing cell is NaN, and one object, not a float
    # per cell (45 MB per 100,000 walk nodes in a city)
    assert len(missing) == 2 * len(NETWORK_WAY_TAGS) - 4
    assert all(isinstance(x, float) and np.isnan(x) for x in missing)
    assert len({id(x) for x in missing}) == 1
    nt = t.node_tags
    assert list(nt.columns) == list(NODE_TAGS)
    assert t.tag_node_id.tolist() == [2, 4]
    assert nt["highway"].tolist()[0] == "crossing" and pd.isna(nt["highway"].tolist()[1])
    assert nt["crossing"].tolist()[1] == "zebra" and pd.isna(nt["crossing"].tolist()[0])


def test_no_tagged_nodes_gives_empty_table(tmp_path: Path) -> None:
    path = write_osm(tmp_path / "t.osm", {1: (0, 0), 2: (100, 0)},
                     [(10, [1, 2], {"highway": "residential"})])
    t = read_osm([path])
    assert len(t.node_tags) == 0 and list(t.node_tags.columns) == list(NODE_TAGS)
    assert len(t.way_tags) == 1 and t.way_tags["highway"].tolist() == ["residential"]
