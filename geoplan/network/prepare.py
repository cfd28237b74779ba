"""Build or load the walking network of a study area, with an on-disk cache.

The prepared network is cached in ``output.cache_dir`` under a key hashed from the
network source (file contents or download request) and the walking profile, so a second
run with the same inputs skips OSM parsing, simplification and projection.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle

from geoplan import __version__
from geoplan.config import Config
from geoplan.hashing import file_digest
from geoplan.network.arraygraph import build_walk_network_arrays
from geoplan.network.walkgraph import WalkNetwork, build_walk_network
from geoplan.sources import osm

log = logging.getLogger(__name__)

#: Bump when the prepared-network format or preparation logic changes (3: merged
#: highway/name sorted and joined; 4: walking policy and factors; 5: every connected part
#: kept, labelled in ``edges.part``; 6: crossing delay (``nodes.crossing``,
#: ``edges.cross_u_s``/``cross_v_s``); 7: local files read with pyosmium, cut to the
#: study area plus the walking buffer, built from arrays; 8: crossing delay on the
#: array path, node tags read with pyosmium; 9: node locations from libosmium's index,
#: ``raw_nodes`` counts the nodes of the kept ways).
CACHE_FORMAT = 9


def network_cache_key(cfg: Config) -> str:
    """Hash of everything that determines the prepared network."""
    net, walk = cfg.network, cfg.walking
    payload = {
        "format": CACHE_FORMAT,
        "geoplan": __version__,
        # large extracts: size + mtime + head/tail hash instead of hashing 1 GB every run
        "files": [file_digest(p)[0] for p in net.osm_files],
        # the study area and walking buffer the files are cut to
        "cut": osm.StudyCut.of(cfg).cache_key() if net.osm_files else {},
        "place": net.place,
        "polygon": file_digest(net.polygon)[0] if net.polygon else None,
        "bbox": list(net.bbox) if net.bbox else None,
        "speed_kmh": walk.speed_kmh,
        "steps_factor": walk.steps_factor,
        "walkable": sorted(walk.walkable_highways),
        "exclude_motorroad": walk.exclude_motorroad,
        "exclude_elevated": walk.exclude_elevated,
        "elevated": sorted(walk.elevated_highways),
        "elevated_min_length_m": walk.elevated_min_length_m,
        "crossing_delay_s": walk.crossing_delay_s,
        "crossing_roads": sorted(walk.crossing_roads),
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def prepare_network(cfg: Config, *, use_cache: bool = True) -> tuple[WalkNetwork, bool]:
    """Return the study area's walking network and whether it came from the cache.

    Parameters
    ----------
    cfg : Config
        The study-area configuration.
    use_cache : bool, default True
        Read and write the on-disk cache.
    """
    cache_dir = cfg.output.cache_dir
    key = network_cache_key(cfg)
    path = cache_dir / f"walknet-{cfg.study_area.name}-{key}.pkl"
    if use_cache and path.is_file():
        try:
            with open(path, "rb") as fh:
                net = pickle.load(fh)
            if isinstance(net, WalkNetwork):
                log.info("walking network loaded from cache %s", path)
                return net, True
        except Exception as exc:  # a corrupt cache is rebuilt, never fatal
            log.warning("ignoring unreadable network cache %s (%s)", path, exc)
    wk = cfg.walking
    policy = {"exclude_motorroad": wk.exclude_motorroad,
              "exclude_elevated": wk.exclude_elevated,
              "elevated_highways": wk.elevated_highways,
              "elevated_min_length_m": wk.elevated_min_length_m}
    crossing = {"crossing_delay_s": wk.crossing_delay_s, "crossing_roads": wk.crossing_roads}
    if cfg.network.osm_files:
        # streamed once with pyosmium, cut to the boundary, built from arrays
        cut = osm.StudyCut.of(cfg)
        tables = osm.read_tables(cfg.network, cut)
        where = " inside the study boundary plus its walking buffer" if cut.is_set else ""
        net = build_walk_network_arrays(tables, wk.speed_mps, wk.steps_factor,
                                        wk.walkable_highways, where=where, **policy,
                                        **crossing)
    else:
        raw = osm.graph_from_download(cfg.network, wk.walkable_highways, cache_dir)
        net = build_walk_network(raw, wk.speed_mps, wk.steps_factor, wk.walkable_highways,
                                 **policy, **crossing)
    net.report["cache_key"] = key
    if use_cache:
        from geoplan.outputs.atomic import atomic_write  # names the file on a full disk

        with atomic_write(path, "wb") as fh:
            pickle.dump(net, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return net, False
