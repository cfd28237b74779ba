"""Self-contained HTML maps: inline the JavaScript and CSS that folium links from CDNs.

A folium page loads Leaflet, jQuery, Bootstrap, Font Awesome, awesome-markers and (for
the legend) d3 from public CDNs, so it shows a blank page where there is no internet
(many district offices in China, or a CDN blocked from the mainland). :func:`inline_assets`
replaces every ``<script src=…>`` and ``<link rel=stylesheet href=…>`` of the rendered page:

* assets in :data:`VENDORED` are inlined from ``geoplan/outputs/vendor/`` (fetched from
  the npm registry by ``scripts/vendor_js.sh``; MIT/BSD, licence files kept beside them);
  images a stylesheet refers to become ``data:`` URIs;
* folium defaults the geoplan maps do not use (:data:`UNUSED_DEFAULTS`: Bootstrap,
  Font Awesome, glyphicons, awesome-markers) are dropped — unless the page uses them, which
  raises an error rather than leaving a broken map;
* any other external asset raises :class:`~geoplan.errors.GeoplanError`: an offline map
  never silently keeps a CDN link.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from geoplan.errors import GeoplanError

VENDOR_DIR = Path(__file__).with_name("vendor")

#: CDN URL used by folium/branca -> vendored file (relative to :data:`VENDOR_DIR`).
VENDORED: dict[str, str] = {
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": "leaflet/leaflet.js",
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": "leaflet/leaflet.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",  # popups use $()
    "https://cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js": "d3/d3.min.js",  # legend
}

# "fa-" not preceded by a word character (= \bfa-, but a leading \b makes the regex try
# every position: a second per search on a whole-city map instead of 0.1 s).
_AWESOME = r"L\.AwesomeMarkers|awesome-marker|glyphicon|fa-(?<!\wfa-)"
#: folium defaults dropped from offline pages -> pattern showing the page would need them.
UNUSED_DEFAULTS: dict[str, str] = {
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js":
        r"data-bs-|bootstrap\.",
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css":
        r"class=\"[^\"]*\b(?:btn|container|row|col-\w+|navbar|card)\b",
    "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css": _AWESOME,
    "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css":
        _AWESOME,
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/"
    "leaflet.awesome-markers.js": _AWESOME,
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/"
    "leaflet.awesome-markers.css": _AWESOME,
    "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/"
    "leaflet.awesome.rotate.min.css": _AWESOME,
}

_SCRIPT = re.compile(r"<script\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"'][^>]*>\s*</script>",
                     re.IGNORECASE)
_LINK = re.compile(r"<link\b[^>]*?\bhref\s*=\s*[\"']([^\"']+)[\"'][^>]*>", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*([\"']?)([^\"')]+)\1\s*\)")
_SOURCE_MAP = re.compile(r"^\s*//# sourceMappingURL=\S+\s*$", re.MULTILINE)


def _is_external(url: str) -> bool:
    return bool(re.match(r"^(?:https?:)?//", url.strip(), re.IGNORECASE))


def external_references(page: str) -> list[str]:
    """URLs of external scripts and stylesheets a page loads (``http(s)://`` or ``//``).

    Parameters
    ----------
    page : str
        An HTML document.

    Returns
    -------
    list of str
        The URLs of ``<script src>`` and ``<link href>`` tags that point off the page
        (empty for a self-contained page).
    """
    urls = [m.group(1) for m in _SCRIPT.finditer(page)]
    urls += [m.group(1) for m in _LINK.finditer(page)]
    return [u for u in urls if _is_external(u)]


@cache
def _vendored_text(rel: str) -> str:
    path = VENDOR_DIR / rel
    if not path.is_file():
        raise GeoplanError(f"offline map: vendored file {path} is missing; run "
                           "scripts/vendor_js.sh (or reinstall geoplan)")
    text = _SOURCE_MAP.sub("", path.read_text(encoding="utf-8"))
    if rel.endswith(".css"):
        text = _CSS_URL.sub(lambda m: f"url({_data_uri(path.parent, m.group(2))})", text)
    return text


def _data_uri(folder: Path, ref: str) -> str:
    if ref.startswith(("data:", "#")):  # inline data, or IE's url(#default#VML)
        return ref
    if _is_external(ref):
        raise GeoplanError(f"offline map: stylesheet in {folder} refers to {ref}; vendor it "
                           "with scripts/vendor_js.sh")
    file = (folder / ref.split("?")[0].split("#")[0]).resolve()
    if not file.is_file():
        raise GeoplanError(f"offline map: {folder.name} stylesheet refers to {ref}, which is "
                           "not vendored; rerun scripts/vendor_js.sh")
    mime = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(file.read_bytes()).decode('ascii')}"


def _check_unused(url: str, page: str, seen: dict[str, bool] | None = None) -> None:
    pattern = UNUSED_DEFAULTS[url]
    seen = {} if seen is None else seen  # pattern -> found, one search per pattern
    if pattern not in seen:
        seen[pattern] = re.search(pattern, page) is not None
    if seen[pattern]:
        raise GeoplanError(f"offline map: the map uses {url.rsplit('/', 1)[-1]} "
                           f"({url}), which is not vendored; vendor it in "
                           "scripts/vendor_js.sh and geoplan/outputs/offline.py, or build "
                           "the map with --cdn (output.offline = false)")


def inline_assets(page: str) -> str:
    """Return ``page`` with every external script and stylesheet inlined or dropped.

    Parameters
    ----------
    page : str
        A rendered folium page (``m.get_root().render()``).

    Returns
    -------
    str
        A self-contained page: :func:`external_references` of it is empty.

    Raises
    ------
    GeoplanError
        If the page links an asset that is neither vendored nor a droppable folium
        default, or uses a dropped default (e.g. awesome-markers icons).
    """
    body = _LINK.sub("", _SCRIPT.sub("", page))  # what the page itself contains
    seen: dict[str, bool] = {}

    def inline(tag: str, kind: str) -> Callable[[re.Match[str]], str]:
        """Replacement for a ``<script src>`` (tag ``script``) or stylesheet ``<link>``
        (tag ``style``): the vendored text inline, or nothing for an unused default."""

        def sub(m: re.Match[str]) -> str:
            url = m.group(1)
            if not _is_external(url):
                return m.group(0)
            if url in VENDORED:
                text = _vendored_text(VENDORED[url]).replace(f"</{tag}", f"<\\/{tag}")
                return f"<{tag}>/* {VENDORED[url]} (inlined) */\n{text}\n</{tag}>"
            if url in UNUSED_DEFAULTS:
                _check_unused(url, body, seen)
                return ""
            raise GeoplanError(f"offline map: {kind} {url} is not vendored; add it to "
                               "scripts/vendor_js.sh and geoplan/outputs/offline.py")

        return sub

    out = _LINK.sub(inline("style", "stylesheet"), _SCRIPT.sub(inline("script", "script"), page))
    left = external_references(out)
    if left:  # pragma: no cover - guarded by the substitutions above
        raise GeoplanError(f"offline map still links {left[0]}")
    return out


def self_contained(m: Any) -> Any:
    """Make ``m`` (a :class:`folium.Map`) display and save without CDN requests.

    The map is moved into a :class:`branca.element.Figure` whose ``render()`` runs
    :func:`inline_assets`, so Jupyter's inline display (``_repr_html_``, an ``<iframe
    srcdoc>`` of the rendered page) and ``m.save(path)`` both carry the vendored Leaflet
    instead of linking public CDNs: a notebook on an intranet shows the map, not a blank
    frame. Base-map tiles, if any, remain the only network use.

    Parameters
    ----------
    m : folium.Map
        A map not yet rendered (folium adds its CDN links to the figure at render time).

    Returns
    -------
    folium.Map
        ``m`` itself, now the child of a self-contained figure.
    """
    from branca.element import Figure

    class SelfContainedFigure(Figure):
        """A figure whose rendered page has its scripts and stylesheets inlined."""

        def render(self, **kwargs: Any) -> str:
            return inline_assets(super().render(**kwargs))

    old = m._parent
    fig = SelfContainedFigure(width=getattr(old, "width", "100%"),
                              height=getattr(old, "height", None),
                              ratio=getattr(old, "ratio", "60%"))
    fig.add_child(m)
    return m
