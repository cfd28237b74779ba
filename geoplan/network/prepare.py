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
from geoplan.hashing import sha256_file
from geoplan.network.arraygraph import build_walk_network_arrays
from geoplan.network.walkgraph import WalkNetwork, build_walk_network
from geoplan.sources import osm

log = logging.getLogger(__name__)

#: Bump when the prepared-network format or preparation logic changes.
CACHE_FORMAT = 3


def network_cache_key(cfg: Config) -> str:
    """Hash of everything that determines the prepared network."""
    net, walk = cfg.network, cfg.walking
    payload = {
        "format": CACHE_FORMAT,
        "geoplan": __version__,
        # large extracts: size + mtime + head/tail hash instead of hashing 1 GB every run
        "files": [osm.file_fingerprint(p) for p in net.osm_files],
        "boundary": sha256_file(net.boundary) if net.boundary else None,
        "boundary_crs": net.boundary_crs,
        "osm_relation": net.osm_relation,
        "buffer_m": net.buffer_m,
        "place": net.place,
        "polygon": sha256_file(net.polygon) if net.polygon else None,
        "bbox": list(net.bbox) if net.bbox else None,
        "speed_kmh": walk.speed_kmh,
        "steps_factor": walk.steps_factor,
        "walkable": sorted(walk.walkable_highways),
    }
    text = json.dumps(payload, sort_keys=True)
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
    if cfg.network.osm_files:
        # streamed once with pyosmium, cut to the boundary, built from arrays
        tables = osm.read_tables(cfg.network)
        where = (" inside the study boundary plus its buffer"
                 if cfg.network.boundary or cfg.network.osm_relation else "")
        net = build_walk_network_arrays(tables, cfg.walking.speed_mps,
                                        cfg.walking.steps_factor,
                                        cfg.walking.walkable_highways, where=where)
    else:
        raw = osm.graph_from_download(cfg.network, cfg.walking.walkable_highways, cache_dir)
        net = build_walk_network(raw, cfg.walking.speed_mps, cfg.walking.steps_factor,
                                 cfg.walking.walkable_highways)
    net.report["cache_key"] = key
    if use_cache:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(net, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    return net, False
