"""Write tiny OpenStreetMap XML files for tests (hand-checkable networks)."""

from __future__ import annotations

from pathlib import Path

# ~1 m in degrees near Shanghai (31.3 N)
DLAT = 1 / 110_900.0
DLON = 1 / 95_000.0
LAT0, LON0 = 31.30, 121.50


def write_osm(path: Path, nodes: dict[int, tuple[float, float]],
              ways: list[tuple[int, list[int], dict[str, str]]], bounds: bool = True,
              node_tags: dict[int, dict[str, str]] | None = None) -> Path:
    """Write nodes given as (east m, north m) offsets, with optional tags, and ways with tags."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    if bounds:
        lats = [LAT0 + n * DLAT for _, n in nodes.values()]
        lons = [LON0 + e * DLON for e, _ in nodes.values()]
        lines.append(f' <bounds minlat="{min(lats) - 0.001:.7f}" minlon="{min(lons) - 0.001:.7f}"'
                     f' maxlat="{max(lats) + 0.001:.7f}" maxlon="{max(lons) + 0.001:.7f}"/>')
    for nid, (e, n) in nodes.items():
        tags = (node_tags or {}).get(nid, {})
        head = (f' <node id="{nid}" visible="true" version="1" '
                f'lat="{LAT0 + n * DLAT:.8f}" lon="{LON0 + e * DLON:.8f}"')
        if not tags:
            lines.append(head + "/>")
            continue
        lines.append(head + ">")
        lines += [f'  <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append(" </node>")
    for wid, refs, tags in ways:
        lines.append(f' <way id="{wid}" visible="true" version="1">')
        lines += [f'  <nd ref="{r}"/>' for r in refs]
        lines += [f'  <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append(" </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
