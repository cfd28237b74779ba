"""geoplan: plan the 15-minute elder-care service circle (15分钟养老服务圈).

The package reads as the data flow: ``sources`` (OSM, facilities, areas, population)
→ ``network`` (walk graph, speeds, snapping) → ``reach`` (bounded shortest paths,
isochrones) → ``analysis`` (coverage, gaps) → ``outputs`` (maps, tables, manifest),
with a typed config (:mod:`geoplan.config`) and a thin CLI (:mod:`geoplan.cli`) on top.
"""

__version__ = "0.1.0"

#: The public API (imported on first use, so ``geoplan --help`` stays light).
__all__ = ["Results", "Study", "__version__", "config_from_dict", "load_config"]


def __getattr__(name: str) -> object:
    if name in ("Study", "Results"):
        from geoplan import api

        return getattr(api, name)
    if name in ("load_config", "config_from_dict"):
        from geoplan import config

        return getattr(config, name)
    raise AttributeError(f"module 'geoplan' has no attribute {name!r}")
