"""A minimal Chrome DevTools Protocol client for the browser tests (headless chromium).

The browser runs with every network fetch pointed at a dead proxy (``127.0.0.1:9``, with
loopback not bypassed), so a page that needs the internet shows it: failed requests,
JavaScript errors, an empty layer control, a blank screenshot.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import websocket

from tests.conftest import missing_data

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str:
    """Path of a chromium binary; fail under CI=true, skip elsewhere, when missing."""
    for name in ("/usr/bin/chromium", *CHROMIUM_NAMES):
        path = shutil.which(name)
        if path:
            return path
    missing_data("chromium not found: apt-get install -y --no-install-recommends chromium "
                 "fonts-noto-cjk")
    raise AssertionError  # pragma: no cover (missing_data fails or skips)


class Browser:
    """Headless chromium with one page, driven over the DevTools websocket."""

    def __init__(self, binary: str, width: int = 1280, height: int = 900) -> None:
        self.width, self.height = width, height
        self._profile = tempfile.mkdtemp(prefix="geoplan-chromium-")
        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-extensions", "--disable-default-apps",
             "--no-first-run", "--no-default-browser-check", "--mute-audio",
             "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
             f"--user-data-dir={self._profile}", f"--window-size={width},{height}",
             "--remote-debugging-port=0", "--allow-file-access-from-files", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.events: list[dict[str, Any]] = []
        self._next = 0
        try:
            self.ws = websocket.create_connection(self._page_ws_url(), timeout=30,
                                                  suppress_origin=True)
        except BaseException:
            self.close()
            raise

    def _page_ws_url(self) -> str:
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.is_file() or len(port_file.read_text().splitlines()) < 2:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not start (no DevToolsActivePort)")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        browser = websocket.create_connection(
            f"ws://127.0.0.1:{port}{port_file.read_text().splitlines()[1]}", timeout=30,
            suppress_origin=True)
        try:
            browser.send(json.dumps({"id": 1, "method": "Target.getTargets"}))
            while True:
                msg = json.loads(browser.recv())
                if msg.get("id") == 1:
                    break
        finally:
            browser.close()
        pages = [t for t in msg["result"]["targetInfos"] if t["type"] == "page"]
        return f"ws://127.0.0.1:{port}/devtools/page/{pages[0]['targetId']}"

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a DevTools method and return its result (events are kept in ``events``)."""
        self._next += 1
        mid = self._next
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, event: str, timeout: float = 30) -> dict[str, Any]:
        """Wait until ``event`` arrives (or was already received)."""
        for e in self.events:
            if e["method"] == event:
                return e
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == event:
                    self.ws.settimeout(30)
                    return msg
        raise TimeoutError(event)

    def drain(self, seconds: float) -> None:
        """Collect events for ``seconds`` (lets the page settle)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.ws.settimeout(max(0.05, end - time.monotonic()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                break
            if "method" in msg:
                self.events.append(msg)
        self.ws.settimeout(30)

    def open(self, url: str, settle: float = 2.0) -> None:
        """Enable the event domains, load ``url`` and wait for it to settle."""
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired", timeout=60)
        self.drain(settle)

    def evaluate(self, expression: str) -> Any:
        """Value of a JavaScript expression in the page."""
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"JS error in {expression!r}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def screenshot(self) -> bytes:
        """PNG of the viewport."""
        return base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"])

    def js_errors(self) -> list[str]:
        """Uncaught exceptions, console.error calls and JavaScript log errors so far."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(d.get("exception", {}).get("description") or d.get("text", ""))
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") == "error":
                out.append(" ".join(str(a.get("value", a.get("description", "")))
                                    for a in p.get("args", [])))
            elif (e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error"
                  and p["entry"].get("source") != "network"):
                out.append(p["entry"]["text"])
        return out

    def requests(self) -> list[str]:
        """URLs the page requested."""
        return [e["params"]["request"]["url"] for e in self.events
                if e["method"] == "Network.requestWillBeSent"]

    def failed_requests(self) -> list[str]:
        """Error texts of requests that failed (the dead proxy makes any fetch fail)."""
        return [e["params"].get("errorText", "") for e in self.events
                if e["method"] == "Network.loadingFailed"]

    def close(self) -> None:
        """Stop chromium and remove its profile."""
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: Resolves once the folium map exists, its overlay pane has drawn something (canvas or SVG
#: paths), every tile layer has finished (loaded or failed) and two frames were painted.
_RENDERED = """new Promise(resolve => {
  function check() {
    const el = document.querySelector('.folium-map');
    const map = el && window[el.id];
    const drawn = document.querySelectorAll(
      '.leaflet-overlay-pane canvas, .leaflet-overlay-pane svg path').length > 0;
    const tiles = map ? Object.values(map._layers).filter(l => l instanceof L.TileLayer)
                            .every(l => !l._loading) : false;
    if (map && drawn && tiles) {
      requestAnimationFrame(() => requestAnimationFrame(() => resolve(true)));
    } else {
      setTimeout(check, 10);
    }
  }
  check();
})"""


#: "ok" when the loaded page holds a folium map element and Leaflet, else what is missing.
_IS_MAP = ("!document.querySelector('.folium-map') ? 'no-map' : "
           "!(window.L && window.L.Map) ? 'no-leaflet' : 'ok'")


class NotAMapError(ValueError):
    """The page opened is not a geoplan (folium/Leaflet) map."""


@dataclass(frozen=True)
class MapTiming:
    """Size and opening time of an HTML map (see :func:`measure_map`).

    Attributes
    ----------
    mb : float
        File size in MB (10^6 bytes).
    load_s : float
        Seconds from navigation to the page's load event.
    open_s : float
        Seconds from navigation until the map's layers (and tiles, if any) are drawn.
    js_errors : list of str
        JavaScript errors raised while opening.
    """

    mb: float
    load_s: float
    open_s: float
    js_errors: list[str]


def measure_map(path: str | Path, binary: str, timeout: float = 120) -> MapTiming:
    """Open an HTML map in a fresh headless chromium (no network) and time it.

    Parameters
    ----------
    path : str or Path
        The map file.
    binary : str
        The chromium binary (:func:`find_chromium`).
    timeout : float
        Seconds to wait for the load event and for the layers.

    Returns
    -------
    MapTiming
        Times exclude the browser's start-up: the clock starts at navigation.
    """
    page = Path(path).resolve()
    with Browser(binary) as b:
        for domain in ("Page", "Runtime", "Log"):
            b.send(f"{domain}.enable")
        b.send("Emulation.setDeviceMetricsOverride", width=b.width, height=b.height,
               deviceScaleFactor=1, mobile=False)
        b.ws.settimeout(timeout)
        t0 = time.monotonic()
        b.send("Page.navigate", url=page.as_uri())
        b.wait_for("Page.loadEventFired", timeout=timeout)
        load_s = time.monotonic() - t0
        # folium writes its map <div> and loads Leaflet before the load event; without
        # them the page would never "render" and the wait below would run to the timeout
        probe = b.send("Runtime.evaluate", expression=_IS_MAP, returnByValue=True)
        kind = probe.get("result", {}).get("value")
        if kind == "no-map":
            raise NotAMapError(f"{path}: not a geoplan/Leaflet map (the page has no folium "
                               "map element)")
        if kind == "no-leaflet":
            raise NotAMapError(f"{path}: Leaflet did not load in the page (no network here: "
                               "write the map with output.offline = true)")
        res = b.send("Runtime.evaluate", expression=_RENDERED, awaitPromise=True,
                     returnByValue=True, timeout=int(timeout * 1000))
        open_s = time.monotonic() - t0
        if "exceptionDetails" in res:
            det = res["exceptionDetails"]
            why = (det.get("exception", {}).get("description") or det.get("text") or "")
            raise NotAMapError(f"{path}: the map did not render "
                               f"({' '.join(str(why).split())[:160]}); the file may be cut "
                               "short or damaged: write it again")
        b.drain(0.2)
        errors = b.js_errors()
    return MapTiming(page.stat().st_size / 1e6, load_s, open_s, errors)
