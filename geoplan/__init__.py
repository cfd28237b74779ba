"""geoplan: plan the 15-minute elder-care service circle (15分钟养老服务圈).

The package reads as the data flow: ``sources`` (OSM, facilities, areas, population)
→ ``network`` (walk graph, speeds, snapping) → ``reach`` (bounded shortest paths,
isochrones) → ``analysis`` (coverage, gaps) → ``outputs`` (maps, tables, manifest),
with a typed config (:mod:`geoplan.config`) and a thin CLI (:mod:`geoplan.cli`) on top.
"""

__version__ = "0.1.0"
